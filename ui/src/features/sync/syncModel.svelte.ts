// The sync state the screen and the indicator share (issue 5): every connection's status, the
// outbox, the conflict inbox and the progress of running syncs. Refreshed after a sync, on change
// events and at most every 30 s while something shows it.
import type { Toasts } from "../../app/toasts.svelte";
import type { ConflictResolutionInput } from "../../bindings/ConflictResolutionInput";
import type { ConflictView } from "../../bindings/ConflictView";
import type { OutboxOpView } from "../../bindings/OutboxOpView";
import type { SyncProgress } from "../../bindings/SyncProgress";
import type { SyncStatusView } from "../../bindings/SyncStatusView";
import * as ipc from "../../ipc";
import { LOCAL_SOURCE } from "../../lib/pending";
import { indicator, runSummary } from "./syncText";

export const POLL_MS = 30_000;

export class SyncModel {
  statuses = $state.raw<SyncStatusView[]>([]);
  /** Operations waiting for an upstream (a local-only ticket's are left out: see `localOps`). */
  ops = $state.raw<OutboxOpView[]>([]);
  /**
   * Operations of local-only tickets: recorded in the outbox like every local edit, but with no
   * upstream to reach, so the outbox list only counts them.
   */
  localOps = $state(0);
  conflicts = $state.raw<ConflictView[]>([]);
  /** Running syncs by connection id: the last progress (null until the first arrives). */
  running = $state.raw<ReadonlyMap<number, SyncProgress | null>>(new Map());
  /** Whether the lists (outbox, conflicts) are wanted: only the sync screen needs them. */
  detailed = $state(false);
  loaded = $state(false);

  readonly indicator = $derived(indicator(this.statuses, this.running.size > 0));

  private timer: ReturnType<typeof setInterval> | undefined;
  private watchers = 0;

  constructor(private readonly toasts: Toasts) {}

  /** Reloads the statuses (and the lists when the screen shows). Quiet unless `loud`. */
  async refresh(loud = false): Promise<void> {
    try {
      const [statuses, ops, conflicts] = await Promise.all([
        ipc.syncStatus(),
        this.detailed ? ipc.outboxList(null) : Promise.resolve(this.ops),
        this.detailed ? ipc.conflictsList(null) : Promise.resolve(this.conflicts),
      ]);
      this.statuses = statuses ?? [];
      if (this.detailed) {
        const all = ops ?? [];
        this.ops = all.filter((o) => o.target !== LOCAL_SOURCE);
        this.localOps = all.length - this.ops.length;
      }
      this.conflicts = conflicts ?? [];
      this.loaded = true;
    } catch (e) {
      // The background refresh stays quiet; the screen reports what the agent asked for.
      if (loud) this.toasts.error(e);
    }
  }

  /** Starts the 30-second refresh while at least one watcher shows sync state. */
  watch(): () => void {
    this.watchers += 1;
    if (this.watchers === 1) {
      void this.refresh();
      this.timer = setInterval(() => void this.refresh(), POLL_MS);
    }
    return () => {
      this.watchers -= 1;
      if (this.watchers === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  isRunning(connectionId: number): boolean {
    return this.running.has(connectionId);
  }

  private setRunning(id: number, p: SyncProgress | null | undefined): void {
    const next = new Map(this.running);
    if (p === undefined) next.delete(id);
    else next.set(id, p);
    this.running = next;
  }

  /** Syncs one connection now; the result or the error arrives as a toast. */
  async syncNow(connectionId: number): Promise<void> {
    if (this.isRunning(connectionId)) return;
    const name =
      this.statuses.find((s) => s.connectionId === connectionId)?.connectionName ??
      `connection ${connectionId}`;
    this.setRunning(connectionId, null);
    try {
      const run = await ipc.syncNow(String(connectionId), (p) => {
        if (this.running.has(connectionId)) this.setRunning(connectionId, p);
      });
      const s = runSummary(name, run);
      if (s.kind === "success") this.toasts.success(s.text);
      else this.toasts.warning(s.text);
    } catch (e) {
      this.toasts.error(e);
    } finally {
      this.setRunning(connectionId, undefined);
      await this.refresh();
    }
  }

  /** Syncs every connection this build can sync, one after the other. */
  async syncAll(): Promise<void> {
    if (!this.loaded) await this.refresh(true);
    const ids = this.statuses.filter((s) => s.supported).map((s) => s.connectionId);
    if (ids.length === 0) {
      this.toasts.info("No connection to sync: add one in Settings");
      return;
    }
    for (const id of ids) await this.syncNow(id);
  }

  async retry(op: OutboxOpView): Promise<void> {
    try {
      await ipc.outboxRetry(op.id);
      this.toasts.success(`${op.ticketKey}: tried again at the next sync`);
    } catch (e) {
      this.toasts.error(e);
    }
    await this.refresh();
  }

  async discard(op: OutboxOpView): Promise<void> {
    try {
      await ipc.outboxDiscard(op.id);
      this.toasts.success(`${op.ticketKey}: change discarded (a copy stays in the event log)`);
    } catch (e) {
      this.toasts.error(e);
    }
    await this.refresh();
  }

  /** Settles a conflict; true when it was settled (the inbox then drops it). */
  async resolve(c: ConflictView, resolution: ConflictResolutionInput): Promise<boolean> {
    try {
      await ipc.conflictsResolve(c.id, resolution);
    } catch (e) {
      this.toasts.error(e);
      return false;
    }
    this.conflicts = this.conflicts.filter((x) => x.id !== c.id);
    const how =
      resolution.kind === "keepMine"
        ? "kept yours"
        : resolution.kind === "takeTheirs"
          ? "took theirs"
          : "kept your edit";
    this.toasts.success(`${c.ticketKey} ${c.field}: ${how}`);
    await this.refresh();
    return true;
  }

  connectionName(target: string): string {
    if (target === LOCAL_SOURCE) return "Local";
    const id = Number(target);
    return this.statuses.find((s) => s.connectionId === id)?.connectionName ?? target;
  }
}
