// Sync (issue 5): one typed wrapper per app command.
import { Channel } from "@tauri-apps/api/core";
import type { ConflictResolutionInput } from "../bindings/ConflictResolutionInput";
import type { ConflictView } from "../bindings/ConflictView";
import type { OutboxOpView } from "../bindings/OutboxOpView";
import type { SyncProgress } from "../bindings/SyncProgress";
import type { SyncRunView } from "../bindings/SyncRunView";
import type { SyncStatusView } from "../bindings/SyncStatusView";
import { call } from "./client";

/** Syncs one connection (its id or name) now; `onProgress` follows the run. */
export function syncNow(
  connection: string,
  onProgress: (p: SyncProgress) => void,
): Promise<SyncRunView> {
  const channel = new Channel<SyncProgress>();
  channel.onmessage = onProgress;
  return call<SyncRunView>("sync_now", { connection, onProgress: channel });
}

export const syncStatus = () => call<SyncStatusView[]>("sync_status");

export const outboxList = (connection: string | null = null) =>
  call<OutboxOpView[]>("outbox_list", { connection });

export const outboxRetry = (id: number) => call<OutboxOpView>("outbox_retry", { id });

/** Discards an operation the agent confirmed; a copy stays in the event log. */
export const outboxDiscard = (id: number) => call<null>("outbox_discard", { id, confirmed: true });

export const conflictsList = (connection: string | null = null) =>
  call<ConflictView[]>("conflicts_list", { connection });

export const conflictsResolve = (id: number, resolution: ConflictResolutionInput) =>
  call<null>("conflicts_resolve", { id, resolution });
