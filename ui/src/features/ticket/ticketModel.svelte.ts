import type { HistoryEntry } from "../../bindings/HistoryEntry";
import type { TicketView } from "../../bindings/TicketView";
import type { UpdateTicketInput } from "../../bindings/UpdateTicketInput";
import type { Visibility } from "../../bindings/Visibility";
import * as ipc from "../../ipc";
import { toApiError, type ApiError } from "../../lib/errors";

/** The editable fields of a ticket, as `update_ticket` takes them. */
export type TicketPatch = Partial<
  Pick<
    UpdateTicketInput,
    "title" | "description" | "state" | "priority" | "assignee" | "assignmentGroup" | "tags"
  >
>;

export type SaveOutcome =
  | { ok: true }
  | {
      ok: false;
      error: ApiError;
      /** The ticket changed elsewhere and was reloaded. */ stale: boolean;
    };

export interface TicketNotifier {
  error(e: unknown): void;
  warning(message: string): void;
}

/** One open ticket: its view, its history (loaded on demand) and the edits made to it. */
export class TicketModel {
  ticket = $state.raw<TicketView | null>(null);
  error = $state<ApiError | null>(null);
  loading = $state(false);
  history = $state.raw<HistoryEntry[] | null>(null);
  historyLoading = $state(false);
  /** Whether the history is on screen (then change events refresh it too). */
  historyWanted = false;
  private loadSeq = 0;

  constructor(
    readonly id: number,
    private readonly notify: TicketNotifier,
  ) {}

  async load(): Promise<void> {
    const seq = ++this.loadSeq;
    this.loading = this.ticket === null;
    try {
      const t = await ipc.getTicket(this.id);
      if (seq !== this.loadSeq) return;
      // Revisions only grow: an answer older than what a save returned meanwhile is dropped.
      if (!this.ticket || t.revision >= this.ticket.revision) this.ticket = t;
      this.error = null;
    } catch (e) {
      if (seq !== this.loadSeq) return;
      this.error = toApiError(e);
    } finally {
      if (seq === this.loadSeq) this.loading = false;
    }
    if (this.historyWanted) await this.loadHistory();
  }

  async loadHistory(): Promise<void> {
    this.historyWanted = true;
    this.historyLoading = this.history === null;
    try {
      this.history = await ipc.ticketHistory(this.id);
    } catch (e) {
      this.notify.error(e);
    } finally {
      this.historyLoading = false;
    }
  }

  /**
   * Saves a change against the revision on screen. When the ticket changed elsewhere it is
   * reloaded and the caller keeps the user's input so they can apply it again.
   */
  async save(patch: TicketPatch): Promise<SaveOutcome> {
    const t = this.ticket;
    if (!t) return { ok: false, stale: false, error: { code: "not_found", message: "no ticket" } };
    const input: UpdateTicketInput = {
      id: t.id,
      expectedRevision: t.revision,
      title: null,
      description: null,
      state: null,
      priority: null,
      assignee: null,
      assignmentGroup: null,
      tags: null,
      ...patch,
    };
    try {
      this.ticket = await ipc.updateTicket(input);
      if (this.historyWanted) void this.loadHistory();
      return { ok: true };
    } catch (e) {
      const error = toApiError(e);
      if (error.code === "stale_revision") {
        this.notify.warning(
          `${t.key} was changed elsewhere, so your edit was not saved. The ticket has been ` +
            `reloaded; your input is kept so you can save it again.`,
        );
        await this.load();
        return { ok: false, stale: true, error };
      }
      this.notify.error(error);
      return { ok: false, stale: false, error };
    }
  }

  async comment(body: string, visibility: Visibility): Promise<SaveOutcome> {
    try {
      this.ticket = await ipc.addComment({ ticketId: this.id, body, visibility });
      if (this.historyWanted) void this.loadHistory();
      return { ok: true };
    } catch (e) {
      const error = toApiError(e);
      this.notify.error(error);
      return { ok: false, stale: false, error };
    }
  }
}
