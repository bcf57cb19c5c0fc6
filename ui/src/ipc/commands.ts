// One typed wrapper per app command. Argument keys are camelCase; Tauri maps them to the Rust
// parameter names. Every wrapper rejects with an `ApiError`.
import { Channel } from "@tauri-apps/api/core";
import type { AddCommentInput } from "../bindings/AddCommentInput";
import type { Facets } from "../bindings/Facets";
import type { HistoryEntry } from "../bindings/HistoryEntry";
import type { ImportReport } from "../bindings/ImportReport";
import type { NewTicketInput } from "../bindings/NewTicketInput";
import type { Progress } from "../bindings/Progress";
import type { SavedView } from "../bindings/SavedView";
import type { SaveViewInput } from "../bindings/SaveViewInput";
import type { SettingsInput } from "../bindings/SettingsInput";
import type { TicketFilter } from "../bindings/TicketFilter";
import type { TicketPage } from "../bindings/TicketPage";
import type { TicketQuery } from "../bindings/TicketQuery";
import type { TicketView } from "../bindings/TicketView";
import type { UpdateTicketInput } from "../bindings/UpdateTicketInput";
import type { WorkspaceInfo } from "../bindings/WorkspaceInfo";
import { call } from "./client";

export const workspaceInfo = () => call<WorkspaceInfo>("workspace_info");

export const updateSettings = (input: SettingsInput) =>
  call<WorkspaceInfo>("update_settings", { input });

export const listTickets = (query: TicketQuery) => call<TicketPage>("list_tickets", { query });

export const countTickets = (filters: TicketFilter[]) =>
  call<number[]>("count_tickets", { filters });

export const ticketFacets = () => call<Facets>("ticket_facets");

export const getTicket = (id: number) => call<TicketView>("get_ticket", { id });
export const findTicket = (key: string) => call<TicketView>("find_ticket", { key });

export const ticketHistory = (id: number) => call<HistoryEntry[]>("ticket_history", { id });

export const createTicket = (input: NewTicketInput) => call<TicketView>("create_ticket", { input });

export const updateTicket = (input: UpdateTicketInput) =>
  call<TicketView>("update_ticket", { input });

export const addComment = (input: AddCommentInput) => call<TicketView>("add_comment", { input });

export const renderMarkdown = (text: string) => call<string>("render_markdown", { text });

export const listViews = () => call<SavedView[]>("list_views");

export const saveView = (input: SaveViewInput) => call<SavedView>("save_view", { input });

export const deleteView = (id: number) => call<null>("delete_view", { id });

/** Fills the workspace with the sample data; `onProgress` is called as rows are imported. */
export function openSampleWorkspace(onProgress: (p: Progress) => void): Promise<ImportReport> {
  const channel = new Channel<Progress>();
  channel.onmessage = onProgress;
  return call<ImportReport>("open_sample_workspace", { onProgress: channel });
}
