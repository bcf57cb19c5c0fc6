// The escalation editor's state: the draft, autosave (debounced; flushed on close), the quality
// check and the operations that replace the content (timeline from a log). Every save goes
// through one queue so revisions never race.
import type { EscalationCheck } from "../../bindings/EscalationCheck";
import type { EscalationView } from "../../bindings/EscalationView";
import type { MergeLogTimelineInput } from "../../bindings/MergeLogTimelineInput";
import type { PackageContent } from "../../bindings/PackageContent";
import type { SaveEscalationInput } from "../../bindings/SaveEscalationInput";
import type { EscalationSummary } from "../../bindings/EscalationSummary";
import * as ipc from "../../ipc";
import { toApiError, type ApiError } from "../../lib/errors";

/** The commands the model needs (the real ones by default; tests pass fakes). */
export interface EscalationApi {
  escalationList(ticketId: number | null): Promise<EscalationSummary[]>;
  escalationCreate(ticketId: number): Promise<EscalationView>;
  escalationGet(id: number): Promise<EscalationView>;
  escalationSave(input: SaveEscalationInput): Promise<EscalationView>;
  escalationMergeLogTimeline(input: MergeLogTimelineInput): Promise<EscalationView>;
  escalationCheck(id: number): Promise<EscalationCheck>;
}

export type SaveState = "saved" | "pending" | "saving" | "error";

export class EscalationModel {
  view = $state.raw<EscalationView | null>(null);
  /** What the agent edits (deeply reactive). */
  content = $state<PackageContent | null>(null);
  saveState = $state<SaveState>("saved");
  error = $state<ApiError | null>(null);
  loading = $state(false);
  check = $state.raw<EscalationCheck | null>(null);
  checking = $state(false);

  private timer: ReturnType<typeof setTimeout> | null = null;
  private queue: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(
    private readonly api: EscalationApi = ipc,
    private readonly delayMs = 600,
  ) {}

  /** Opens the ticket's most recent draft, or drafts a new one from the ticket. */
  async open(ticketId: number, fresh = false): Promise<void> {
    this.loading = true;
    this.error = null;
    try {
      const existing = fresh ? [] : await this.api.escalationList(ticketId);
      const latest = existing[0];
      const v = latest
        ? await this.api.escalationGet(latest.id)
        : await this.api.escalationCreate(ticketId);
      this.show(v);
      void this.runCheck();
    } catch (e) {
      this.error = toApiError(e);
    } finally {
      this.loading = false;
    }
  }

  private show(v: EscalationView) {
    this.view = v;
    this.content = structuredClone(v.content);
    this.dirty = false;
    this.saveState = "saved";
  }

  /** Call after every edit: saves once typing pauses. */
  changed(): void {
    if (!this.content) return;
    this.dirty = true;
    this.saveState = "pending";
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), this.delayMs);
  }

  /** Saves now if anything is unsaved; resolves when every queued save is done. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    return this.enqueue(() => this.saveNow());
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(op, op);
    return this.queue;
  }

  private async saveNow(): Promise<void> {
    if (!this.dirty || !this.view || !this.content) return;
    const content = $state.snapshot(this.content) as PackageContent;
    this.dirty = false;
    this.saveState = "saving";
    try {
      let v: EscalationView;
      try {
        v = await this.api.escalationSave({
          id: this.view.id,
          expectedRevision: this.view.revision,
          content,
        });
      } catch (e) {
        // The draft moved on elsewhere (another window): these edits are the agent's latest.
        if (toApiError(e).code !== "stale_revision") throw e;
        const latest = await this.api.escalationGet(this.view.id);
        v = await this.api.escalationSave({
          id: latest.id,
          expectedRevision: latest.revision,
          content,
        });
      }
      // Keep what was typed meanwhile: only the revision and the score come back.
      this.view = v;
      this.error = null;
      this.saveState = this.dirty ? "pending" : "saved";
    } catch (e) {
      this.dirty = true;
      this.error = toApiError(e);
      this.saveState = "error";
    }
  }

  /** Adds a log's first/last error times to the timeline (after saving pending edits). */
  mergeLogTimeline(source: string, analysis: MergeLogTimelineInput["analysis"]): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    return this.enqueue(async () => {
      await this.saveNow();
      if (!this.view) return;
      try {
        const v = await this.api.escalationMergeLogTimeline({
          id: this.view.id,
          expectedRevision: this.view.revision,
          source,
          analysis,
        });
        // Edits typed while the merge ran are lost only for the timeline; keep the rest.
        const typed =
          this.dirty && this.content ? ($state.snapshot(this.content) as PackageContent) : null;
        this.show(v);
        if (typed && this.content) {
          this.content = { ...typed, timeline: v.content.timeline };
          this.changed();
        }
      } catch (e) {
        this.error = toApiError(e);
        throw this.error;
      }
    });
  }

  /** The similar-escalation / known-issue check (knowledge base). */
  async runCheck(): Promise<void> {
    if (!this.view) return;
    this.checking = true;
    try {
      this.check = await this.api.escalationCheck(this.view.id);
    } catch (e) {
      this.check = { warnings: [], suggestions: [], kbError: toApiError(e).message };
    } finally {
      this.checking = false;
    }
  }

  /** Stops the autosave timer after saving what is pending (the editor closes). */
  async close(): Promise<void> {
    await this.flush();
  }
}
