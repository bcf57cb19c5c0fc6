import { getContext, setContext } from "svelte";
import type { ChangeBatch } from "../bindings/ChangeBatch";
import { QueueModel } from "../features/queue/queueModel.svelte";
import { ViewsModel } from "../features/queue/viewsModel.svelte";
import { SyncModel } from "../features/sync/syncModel.svelte";
import { TicketModel } from "../features/ticket/ticketModel.svelte";
import { applyTheme, loadTheme, nextTheme, saveTheme, type Theme } from "../lib/theme";
import { Toasts } from "./toasts.svelte";
import { WorkspaceModel } from "./workspace.svelte";

export type Route =
  | { name: "queue" }
  | { name: "ticket"; id: number }
  | { name: "settings" }
  | { name: "risk" }
  | { name: "reports" }
  // Sync status, outbox and conflict inbox (issue 5).
  | { name: "sync" }
  // A knowledge-base document (issue 3); `ticketId`: the ticket it was opened from.
  | { name: "doc"; docId: string; anchor: string | null; ticketId: number | null };

/** Everything the screens share. One instance per window; tests make their own. */
export class AppState {
  route = $state<Route>({ name: "queue" });
  paletteOpen = $state(false);
  newTicketOpen = $state(false);
  theme = $state<Theme>(loadTheme());
  /** Set to ask the queue's filter box to take focus; the filter box clears it. */
  filterFocusRequested = $state(false);
  /** The ticket on screen, if any. */
  ticket = $state.raw<TicketModel | null>(null);

  readonly toasts = new Toasts();
  readonly workspace = new WorkspaceModel();
  readonly queue = new QueueModel();
  readonly views = new ViewsModel();
  readonly sync = new SyncModel(this.toasts);
  /** Unsent compose drafts per ticket, so leaving a ticket does not lose a half-written reply. */
  readonly drafts = new Map<number, { body: string; visibility: "public" | "internal" }>();

  private pendingChanges: ChangeBatch[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;

  // ---- navigation ------------------------------------------------------------------------------

  openTicket(id: number): void {
    if (this.ticket?.id !== id) {
      this.ticket = new TicketModel(id, this.toasts);
      void this.ticket.load();
    }
    this.route = { name: "ticket", id };
  }

  /** Opens a runbook, past case or article of the knowledge base, remembering the open ticket. */
  openDocument(docId: string, anchor: string | null = null): void {
    const r = this.route;
    const ticketId = r.name === "ticket" ? r.id : r.name === "doc" ? r.ticketId : null;
    this.route = { name: "doc", docId, anchor, ticketId };
  }

  showQueue(): void {
    this.route = { name: "queue" };
    this.ticket = null;
  }

  showSettings(): void {
    this.route = { name: "settings" };
    this.ticket = null;
  }

  /** The queue ordered by SLA risk (issue 7). */
  showRisk(): void {
    this.route = { name: "risk" };
    this.ticket = null;
  }

  showReports(): void {
    this.route = { name: "reports" };
    this.ticket = null;
  }

  showSync(): void {
    this.route = { name: "sync" };
    this.ticket = null;
  }

  focusFilter(): void {
    // The filter bar is on screen beside an open ticket too; only settings hide it.
    if (["settings", "risk", "reports", "doc", "sync"].includes(this.route.name)) this.showQueue();
    this.filterFocusRequested = true;
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    saveTheme(theme);
    applyTheme(theme);
  }

  toggleTheme(): void {
    this.setTheme(nextTheme(this.theme));
  }

  // ---- data ------------------------------------------------------------------------------------

  /** Loads the sidebar data; failures show as a toast. */
  async loadSidebar(): Promise<void> {
    try {
      await this.views.loadAll();
    } catch (e) {
      this.toasts.error(e);
    }
  }

  async refreshCounts(): Promise<void> {
    try {
      await this.views.loadCounts();
    } catch (e) {
      this.toasts.error(e);
    }
  }

  /** A change batch from the backend: coalesced over a short moment, then applied. */
  onChanges(batch: ChangeBatch): void {
    this.pendingChanges.push(batch);
    clearTimeout(this.flushTimer);
    this.flushTimer = setTimeout(() => this.flushChanges(), 60);
  }

  flushChanges(): void {
    const batches = this.pendingChanges;
    this.pendingChanges = [];
    if (batches.length === 0) return;
    const everything = batches.some((b) => b.kind === "workspace");
    const tickets = everything || batches.some((b) => b.kind === "tickets");
    const views = everything || batches.some((b) => b.kind === "views");
    const ids = new Set(batches.flatMap((b) => (b.kind === "tickets" ? b.ids : [])));
    const allTickets =
      everything || batches.some((b) => b.kind === "tickets" && b.ids.length === 0);

    if (everything) void this.workspace.load();
    if (tickets) {
      this.queue.invalidate();
      if (!everything) void this.workspace.load(); // the pending-sync count
      void this.sync.refresh();
      void this.views.loadFacets().catch(() => undefined);
    }
    if (views) void this.loadSidebar();
    else if (tickets) void this.refreshCounts();
    const t = this.ticket;
    if (t && (allTickets || ids.has(t.id))) void t.load();
  }
}

const KEY = Symbol("casebook-app");

export function setApp(app: AppState): AppState {
  return setContext(KEY, app);
}

export function getApp(): AppState {
  const app = getContext<AppState | undefined>(KEY);
  if (!app) throw new Error("AppState missing: render inside <App> or pass it as context");
  return app;
}

export function appContext(app: AppState): Map<symbol, AppState> {
  return new Map([[KEY, app]]);
}
