import type { SaveOutcome } from "./ticketModel.svelte";

export type FieldStatus = "idle" | "saving" | "saved" | "error" | "conflict";

/**
 * The draft of one ticket field and its save state. The draft follows the server value unless the
 * user changed it; after a failed save (for example a stale revision) the user's input stays.
 */
export class FieldState<T> {
  draft = $state() as T;
  status = $state<FieldStatus>("idle");
  message = $state("");
  private base = $state() as T;
  private savedTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    initial: T,
    private readonly saveFn: (value: T) => Promise<SaveOutcome>,
    private readonly equal: (a: T, b: T) => boolean = Object.is,
  ) {
    this.draft = initial;
    this.base = initial;
  }

  get dirty(): boolean {
    return !this.equal(this.draft, this.base);
  }

  /** The server value changed (reload, change event): follow it unless the user has edits. */
  syncFromServer(value: T): void {
    const wasDirty = this.dirty;
    this.base = value;
    if (!wasDirty) {
      this.draft = value;
      if (this.status === "conflict" || this.status === "error") this.status = "idle";
    } else if (!this.dirty && this.status !== "saving") {
      this.status = "idle";
    }
  }

  /** Saves the draft when it differs from the server value. */
  async commit(): Promise<void> {
    if (!this.dirty || this.status === "saving") return;
    const value = this.draft;
    this.status = "saving";
    this.message = "";
    const r = await this.saveFn(value);
    if (r.ok) {
      this.base = value;
      this.status = "saved";
      clearTimeout(this.savedTimer);
      this.savedTimer = setTimeout(() => {
        if (this.status === "saved") this.status = "idle";
      }, 2000);
    } else {
      this.status = r.stale ? "conflict" : "error";
      this.message = r.error.message;
    }
  }

  /** Drops the user's input and shows the server value again. */
  revert(): void {
    this.draft = this.base;
    this.status = "idle";
    this.message = "";
  }
}
