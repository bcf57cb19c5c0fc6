// Escalation packages (issue 6): one typed wrapper per app command, plus the window's file-drop
// events (paths of files dropped on the window, for log analysis).
import { Channel } from "@tauri-apps/api/core";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import type { Analysis } from "../bindings/Analysis";
import type { EscalationCheck } from "../bindings/EscalationCheck";
import type { EscalationJiraSettings } from "../bindings/EscalationJiraSettings";
import type { EscalationJiraSettingsInput } from "../bindings/EscalationJiraSettingsInput";
import type { EscalationPushView } from "../bindings/EscalationPushView";
import type { EscalationSummary } from "../bindings/EscalationSummary";
import type { EscalationView } from "../bindings/EscalationView";
import type { ExportInput } from "../bindings/ExportInput";
import type { ExportResult } from "../bindings/ExportResult";
import type { Extract } from "../bindings/Extract";
import type { ExtractInput } from "../bindings/ExtractInput";
import type { LogInput } from "../bindings/LogInput";
import type { MergeLogTimelineInput } from "../bindings/MergeLogTimelineInput";
import type { PackageContent } from "../bindings/PackageContent";
import type { Preview } from "../bindings/Preview";
import type { Progress } from "../bindings/Progress";
import type { SaveEscalationInput } from "../bindings/SaveEscalationInput";
import { call } from "./client";

export const escalationCreate = (ticketId: number) =>
  call<EscalationView>("escalation_create", { ticketId });

export const escalationGet = (id: number) => call<EscalationView>("escalation_get", { id });

export const escalationList = (ticketId: number | null) =>
  call<EscalationSummary[]>("escalation_list", { ticketId });

export const escalationSave = (input: SaveEscalationInput) =>
  call<EscalationView>("escalation_save", { input });

export const escalationDelete = (id: number) => call<null>("escalation_delete", { id });

/** Analyses pasted text or a file, streamed in Rust; `onProgress` gets the bytes read. */
export function escalationAnalyzeLogs(
  input: LogInput,
  onProgress: (p: Progress) => void,
): Promise<Analysis> {
  const channel = new Channel<Progress>();
  channel.onmessage = onProgress;
  return call<Analysis>("escalation_analyze_logs", { input, onProgress: channel });
}

export const escalationExtracts = (input: ExtractInput) =>
  call<Extract[]>("escalation_extracts", { input });

export const escalationRedactPreview = (content: PackageContent) =>
  call<Preview>("escalation_redact_preview", { content });

export const escalationPreviewHtml = (content: PackageContent) =>
  call<string>("escalation_preview_html", { content });

export const escalationMergeLogTimeline = (input: MergeLogTimelineInput) =>
  call<EscalationView>("escalation_merge_log_timeline", { input });

export const escalationCheck = (id: number) => call<EscalationCheck>("escalation_check", { id });

export const escalationExport = (input: ExportInput) =>
  call<ExportResult>("escalation_export", { input });

/** Queues the redacted package for the Jira engineering project (outbox: works offline). */
export const escalationPush = (id: number, connection: string | null = null) =>
  call<EscalationPushView>("escalation_push", { id, connection });

export const escalationPushStatus = (id: number) =>
  call<EscalationPushView>("escalation_push_status", { id });

export const escalationJiraSettings = (connection: string | null = null) =>
  call<EscalationJiraSettings>("escalation_jira_settings", { connection });

export const escalationSetJiraSettings = (input: EscalationJiraSettingsInput) =>
  call<EscalationJiraSettings>("escalation_set_jira_settings", { input });

/** Calls `onDrop` with the paths of files dropped on the window; resolves to an unsubscribe. */
export async function onFilesDropped(onDrop: (paths: string[]) => void): Promise<() => void> {
  return getCurrentWebview().onDragDropEvent((e) => {
    if (e.payload.type === "drop" && e.payload.paths.length > 0) onDrop(e.payload.paths);
  });
}
