import { SvelteMap } from "svelte/reactivity";
import type { SlaBadge } from "../../bindings/SlaBadge";
import * as ipc from "../../ipc";

/** Most ids asked for at once (the command's limit is 1000). */
const BATCH = 200;

/**
 * SLA badges for the queue rows on screen. Rows ask for their ticket's badge; requests made in the
 * same moment go out as one call. A change event marks every badge stale: the rows still shown
 * ask again, and keep their old badge until the new one arrives. The countdown itself moves on
 * the shared clock, not by refetching.
 */
export class QueueBadges {
  readonly badges = new SvelteMap<number, SlaBadge>();
  private fresh = new Set<number>();
  private wanted = new Map<number, number>();
  private queued = new Set<number>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private listening = false;

  constructor(
    private load: (ids: number[]) => Promise<SlaBadge[]> = ipc.slaBadges,
    private delay = 30,
  ) {}

  get(id: number): SlaBadge | undefined {
    return this.badges.get(id);
  }

  /** A row shows `id`; returns the function to call when it stops showing it. */
  want(id: number): () => void {
    this.listen();
    this.wanted.set(id, (this.wanted.get(id) ?? 0) + 1);
    if (!this.fresh.has(id)) this.enqueue(id);
    return () => {
      const n = (this.wanted.get(id) ?? 1) - 1;
      if (n <= 0) this.wanted.delete(id);
      else this.wanted.set(id, n);
    };
  }

  /** Everything may have changed: refetch what is on screen. */
  invalidate(): void {
    this.fresh.clear();
    for (const id of this.wanted.keys()) this.enqueue(id);
  }

  private enqueue(id: number): void {
    this.queued.add(id);
    if (this.timer === undefined) this.timer = setTimeout(() => void this.flush(), this.delay);
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    const ids = [...this.queued].filter((id) => this.wanted.has(id));
    this.queued.clear();
    for (let i = 0; i < ids.length; i += BATCH) {
      const chunk = ids.slice(i, i + BATCH);
      chunk.forEach((id) => this.fresh.add(id));
      try {
        for (const b of await this.load(chunk)) this.badges.set(b.ticketId, b);
      } catch {
        // No badge is better than a wrong one; the next change event asks again.
        chunk.forEach((id) => this.fresh.delete(id));
      }
    }
  }

  private listen(): void {
    if (this.listening) return;
    this.listening = true;
    Promise.resolve()
      .then(() =>
        ipc.onChanges((b) => {
          if (b.kind === "tickets" || b.kind === "workspace") this.invalidate();
        }),
      )
      .catch(() => undefined);
  }
}

/** The queue's badges (one store for the app). */
export const queueBadges = new QueueBadges();
