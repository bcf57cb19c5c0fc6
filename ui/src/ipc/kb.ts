// The knowledge base (issue 3): one typed wrapper per app command.
import { Channel } from "@tauri-apps/api/core";
import type { KbDocumentView } from "../bindings/KbDocumentView";
import type { KbLinkInput } from "../bindings/KbLinkInput";
import type { KbScanReport } from "../bindings/KbScanReport";
import type { KbSearchInput } from "../bindings/KbSearchInput";
import type { KbSearchResult } from "../bindings/KbSearchResult";
import type { KbSource } from "../bindings/KbSource";
import type { KbStatus } from "../bindings/KbStatus";
import type { Progress } from "../bindings/Progress";
import type { TicketView } from "../bindings/TicketView";
import { call } from "./client";

export const kbSearch = (input: KbSearchInput) => call<KbSearchResult>("kb_search", { input });

export const kbSimilar = (ticketId: number) => call<KbSearchResult>("kb_similar", { ticketId });

export const kbGetDocument = (docId: string) => call<KbDocumentView>("kb_get_document", { docId });

export const kbLink = (input: KbLinkInput) => call<TicketView>("kb_link", { input });

export const kbStatus = () => call<KbStatus>("kb_status");

export const kbListSources = () => call<KbSource[]>("kb_list_sources");

export const kbRemoveFolder = (id: number) => call<null>("kb_remove_folder", { id });

/** Adds a runbook folder by path and indexes it; `onProgress` follows the scan. */
export function kbAddFolder(
  path: string,
  onProgress: (p: Progress) => void,
): Promise<KbScanReport> {
  const channel = new Channel<Progress>();
  channel.onmessage = onProgress;
  return call<KbScanReport>("kb_add_folder", { path, onProgress: channel });
}

/** Rescans every folder and the past cases (`full`: from an empty index). */
export function kbReindex(full: boolean, onProgress: (p: Progress) => void): Promise<KbScanReport> {
  const channel = new Channel<Progress>();
  channel.onmessage = onProgress;
  return call<KbScanReport>("kb_reindex", { full, onProgress: channel });
}
