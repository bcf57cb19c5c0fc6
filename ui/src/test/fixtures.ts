// Test data shaped like the Rust DTOs, and a helper that gives every mocked ipc command a default.
import { vi } from "vitest";
import type { CommentView } from "../bindings/CommentView";
import type { TicketSummary } from "../bindings/TicketSummary";
import type { TicketView } from "../bindings/TicketView";
import type { WorkspaceInfo } from "../bindings/WorkspaceInfo";
import * as ipc from "../ipc";

export const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

export function summary(i: number, over: Partial<TicketSummary> = {}): TicketSummary {
  return {
    id: i + 1,
    key: `CB-${i + 1}`,
    source: "local",
    title: `Ticket number ${i + 1}`,
    state: "open",
    priority: "medium",
    assignee: i % 2 === 0 ? "ana" : null,
    assignmentGroup: "Service Desk",
    requester: "pat",
    tags: ["vpn"],
    createdAt: NOW - 86_400_000,
    updatedAt: NOW - 60_000 * (i + 1),
    pendingOps: 0,
    ...over,
  };
}

export function comment(id: number, over: Partial<CommentView> = {}): CommentView {
  return {
    id,
    visibility: "public",
    author: "ana",
    body: "Hello",
    bodyHtml: "<p>Hello</p>",
    createdAt: NOW - 3_600_000,
    ...over,
  };
}

export function ticketView(over: Partial<TicketView> = {}): TicketView {
  return {
    id: 1,
    key: "CB-1",
    source: "local",
    upstreamId: null,
    title: "VPN drops every hour",
    description: "It drops.",
    descriptionHtml: "<p>It drops.</p>",
    state: "open",
    stateRaw: null,
    priority: "high",
    priorityRaw: null,
    assignee: "ana",
    assignmentGroup: "Network",
    requester: "pat",
    organization: null,
    tags: ["vpn"],
    tagsLocal: false,
    createdAt: NOW - 86_400_000,
    updatedAt: NOW - 60_000,
    firstResponseAt: null,
    resolvedAt: null,
    extra: {},
    revision: 3,
    pendingOps: 0,
    comments: [],
    links: [],
    attachments: [],
    ...over,
  };
}

export function workspace(over: Partial<WorkspaceInfo> = {}): WorkspaceInfo {
  return {
    home: "/tmp/casebook",
    databasePath: "/tmp/casebook/casebook.db",
    ticketCount: 3,
    pendingOps: 0,
    agentName: "ana",
    onboarded: true,
    sampleLoaded: false,
    schemaVersion: 1,
    ...over,
  };
}

/** A queue of `total` generated tickets served page by page, like `list_tickets`. */
export function serveQueue(total: number, make: (i: number) => TicketSummary = (i) => summary(i)) {
  vi.mocked(ipc.listTickets).mockImplementation(async (q) => {
    const end = Math.min(total, q.offset + q.limit);
    const rows: TicketSummary[] = [];
    for (let i = q.offset; i < end; i++) rows.push(make(i));
    return { total, offset: q.offset, rows };
  });
}

/** Sensible answers for every command; tests override what they look at. */
export function mockIpcDefaults(): void {
  vi.mocked(ipc.workspaceInfo).mockResolvedValue(workspace());
  vi.mocked(ipc.updateSettings).mockImplementation(async (i) =>
    workspace({ agentName: i.agentName ?? "ana", onboarded: i.onboarded ?? true }),
  );
  serveQueue(3);
  vi.mocked(ipc.countTickets).mockImplementation(async (fs) => fs.map(() => 3));
  vi.mocked(ipc.ticketFacets).mockResolvedValue({
    assignees: [{ value: "ana", count: 2 }],
    groups: [{ value: "Network", count: 1 }],
    tags: [{ value: "vpn", count: 3 }],
    sources: [{ value: "local", count: 3 }],
  });
  vi.mocked(ipc.getTicket).mockResolvedValue(ticketView());
  vi.mocked(ipc.ticketHistory).mockResolvedValue([]);
  vi.mocked(ipc.listViews).mockResolvedValue([]);
  vi.mocked(ipc.renderMarkdown).mockImplementation(async (t) => `<p>${t}</p>`);
  vi.mocked(ipc.onChanges).mockResolvedValue(() => undefined);
}
