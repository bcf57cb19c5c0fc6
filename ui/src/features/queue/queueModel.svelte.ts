import type { SortKey } from "../../bindings/SortKey";
import type { TicketFilter } from "../../bindings/TicketFilter";
import type { TicketSummary } from "../../bindings/TicketSummary";
import * as ipc from "../../ipc";
import { toApiError, type ApiError } from "../../lib/errors";
import { emptyFilter, normalizeFilter, queryKey } from "../../lib/filters";
import { PageCache } from "../../lib/pageCache";
import { markStartup } from "../../lib/startup";
import { clampIndex, pageOffsets } from "../../lib/virtual";

export const PAGE_SIZE = 100;
const CACHE_PAGES = 60;

/**
 * The queue: the current filter and order, a page cache keyed by query + offset, the total and the
 * selection. Rows are fetched on demand as the list scrolls; change events mark pages stale, which
 * keeps the old rows on screen until fresh ones arrive.
 */
export class QueueModel {
  filter = $state.raw<TicketFilter>(emptyFilter());
  sort = $state<SortKey>("updated");
  reverse = $state(false);
  /** Index of the selected row in the current query. */
  selected = $state(0);
  /** Bumped whenever the cache changes, so readers of `rowAt` re-run. */
  version = $state(0);
  error = $state<ApiError | null>(null);
  /** Remembered across leaving and re-entering the queue. */
  scrollTop = 0;

  readonly key = $derived(queryKey(this.filter, this.sort, this.reverse));

  private cache = new PageCache<TicketSummary[]>(CACHE_PAGES);
  private totals = new Map<string, number>();
  private inflight = new Set<string>();
  private failed = new Set<string>();
  private generation = 0;
  private lastTotal = $state<number | null>(null);
  private selectedId: number | null = null;
  private lastRange: [number, number] = [0, PAGE_SIZE];

  /** Tickets matching the current filter (`null` before the first answer). */
  get total(): number | null {
    void this.version;
    return this.totals.get(this.key) ?? this.lastTotal;
  }

  /** True while the current query has no answer yet. */
  get loading(): boolean {
    void this.version;
    return !this.totals.has(this.key) && this.error === null;
  }

  rowAt(index: number): TicketSummary | undefined {
    void this.version;
    const offset = Math.floor(index / PAGE_SIZE) * PAGE_SIZE;
    return this.cache.peek(PageCache.key(this.key, offset))?.value[index - offset];
  }

  get selectedRow(): TicketSummary | undefined {
    return this.rowAt(this.selected);
  }

  /** Fetches the pages covering rows `[start, end)` that are missing or stale. */
  ensureRange(start: number, end: number): void {
    this.lastRange = [start, end];
    const key = this.key;
    const stop = Math.max(end, start + 1);
    for (const offset of pageOffsets(start, stop, PAGE_SIZE)) {
      const total = this.totals.get(key);
      if (total !== undefined && offset > 0 && offset >= total) break;
      const ck = PageCache.key(key, offset);
      const entry = this.cache.get(ck);
      if (entry && entry.generation === this.generation) continue;
      if (this.inflight.has(ck) || this.failed.has(ck)) continue;
      void this.fetchPage(key, offset);
    }
  }

  /**
   * Asks for the first page while the window is still starting (the workspace opening, the shell
   * mounting), so the queue can paint its rows as soon as it mounts. A failure is not recorded:
   * the workspace's own problem screen explains it, and the list asks again when it mounts.
   */
  prefetch(): void {
    const ck = PageCache.key(this.key, 0);
    if (this.inflight.has(ck) || this.cache.get(ck)) return;
    void this.fetchPage(this.key, 0, true);
  }

  private async fetchPage(key: string, offset: number, quiet = false): Promise<void> {
    const ck = PageCache.key(key, offset);
    const generation = this.generation;
    const query = {
      filter: normalizeFilter(this.filter),
      sort: this.sort,
      reverse: this.reverse,
      offset,
      limit: PAGE_SIZE,
    };
    this.inflight.add(ck);
    try {
      markStartup("queue-asked");
      const page = await ipc.listTickets(query);
      markStartup("first-page");
      if (generation !== this.generation) return;
      this.cache.set(ck, page.rows, generation);
      this.totals.set(key, page.total);
      if (key === this.key) {
        this.lastTotal = page.total;
        this.error = null;
        this.followSelection();
      }
      this.version++;
    } catch (e) {
      if (generation !== this.generation || quiet) return;
      this.failed.add(ck);
      if (key === this.key) this.error = toApiError(e);
      this.version++;
    } finally {
      this.inflight.delete(ck);
      // A page that finished after an invalidation may be stale already: fetch again.
      if (generation !== this.generation && key === this.key) {
        this.ensureRange(...this.lastRange);
      }
    }
  }

  /** Everything shown may be out of date (a change event): refetch what is visible. */
  invalidate(): void {
    this.generation++;
    this.failed.clear();
    this.version++;
    this.ensureRange(...this.lastRange);
  }

  /** Forgets failures and tries the visible pages again. */
  retry(): void {
    this.failed.clear();
    this.error = null;
    this.version++;
    this.ensureRange(...this.lastRange);
  }

  // ---- filter and order ------------------------------------------------------------------------

  setFilter(filter: TicketFilter): void {
    this.filter = filter;
    this.resetPosition();
  }

  patchFilter(patch: Partial<TicketFilter>): void {
    this.setFilter({ ...this.filter, ...patch });
  }

  setText(text: string): void {
    const t = text.trim() === "" ? null : text;
    if (t === this.filter.text) return;
    this.patchFilter({ text: t });
  }

  setSort(sort: SortKey): void {
    this.sort = sort;
    this.resetPosition();
  }

  setReverse(reverse: boolean): void {
    this.reverse = reverse;
    this.resetPosition();
  }

  private resetPosition(): void {
    this.error = null;
    this.selected = 0;
    this.selectedId = null;
    this.scrollTop = 0;
    this.lastRange = [0, PAGE_SIZE];
  }

  // ---- selection -------------------------------------------------------------------------------

  select(index: number): void {
    this.selected = clampIndex(index, this.total ?? 0);
    this.selectedId = this.rowAt(this.selected)?.id ?? null;
  }

  move(delta: number): void {
    this.select(this.selected + delta);
  }

  /**
   * Keeps the selection on the same ticket when a refresh moved it (editing a ticket while the
   * queue is sorted by last update moves it to the top).
   */
  private followSelection(): void {
    if (this.selectedId === null) {
      this.selectedId = this.rowAt(this.selected)?.id ?? null;
      return;
    }
    if (this.rowAt(this.selected)?.id === this.selectedId) return;
    const prefix = `${this.key}@`;
    for (const ck of this.cache.keys()) {
      if (!ck.startsWith(prefix)) continue;
      const offset = Number(ck.slice(prefix.length));
      const rows = this.cache.peek(ck)?.value ?? [];
      const i = rows.findIndex((r) => r.id === this.selectedId);
      if (i >= 0) {
        this.selected = offset + i;
        return;
      }
    }
  }
}
