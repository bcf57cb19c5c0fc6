import type { KbFilters } from "../../bindings/KbFilters";
import type { KbHit } from "../../bindings/KbHit";
import type { KbSearchInput } from "../../bindings/KbSearchInput";
import type { KbSearchResult } from "../../bindings/KbSearchResult";
import type { KbSourceKind } from "../../bindings/KbSourceKind";
import * as ipc from "../../ipc";
import { toApiError, type ApiError } from "../../lib/errors";

/** How long typing must pause before a search is sent (ms). */
export const SEARCH_DEBOUNCE_MS = 90;

/** The kind filters, in the order Alt+1, Alt+2, Alt+3 toggle them. */
export const KINDS: { kind: KbSourceKind; label: string }[] = [
  { kind: "runbook", label: "Runbooks" },
  { kind: "past_case", label: "Past cases" },
  { kind: "kb_article", label: "Articles" },
];

export function emptyFilters(): KbFilters {
  return { kinds: [], tags: [], services: [], ticketStates: [] };
}

/** "network, VPN ,, dns" → ["network", "VPN", "dns"]. */
export function parseList(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** How many filters are set (for the "filters (2)" label). */
export function countFilters(f: KbFilters): number {
  return f.kinds.length + f.tags.length + f.services.length + f.ticketStates.length;
}

/**
 * The knowledge-base search behind the palette: results as you type, debounced; a response that
 * arrives after a newer query was sent is dropped, so the list never jumps back to older results.
 */
export class KbSearchModel {
  query = $state("");
  filters = $state<KbFilters>(emptyFilters());
  hits = $state.raw<KbHit[]>([]);
  loading = $state(false);
  rebuilding = $state(false);
  /** The last query answered had nothing to search for (stop words, punctuation). */
  emptyQuery = $state(false);
  error = $state.raw<ApiError | null>(null);
  /** The query the shown hits answer. */
  answered = $state("");

  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly search: (input: KbSearchInput) => Promise<KbSearchResult> = ipc.kbSearch,
    private readonly delayMs = SEARCH_DEBOUNCE_MS,
    private readonly limit = 20,
  ) {}

  setQuery(query: string): void {
    if (query === this.query) return;
    this.query = query;
    this.schedule();
  }

  setFilters(filters: KbFilters): void {
    this.filters = filters;
    this.schedule();
  }

  toggleKind(kind: KbFilters["kinds"][number]): void {
    const kinds = this.filters.kinds.includes(kind)
      ? this.filters.kinds.filter((k) => k !== kind)
      : [...this.filters.kinds, kind];
    this.setFilters({ ...this.filters, kinds });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.seq++;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.query.trim() === "") {
      // Nothing to search: forget any answer still on its way.
      this.seq++;
      this.hits = [];
      this.loading = false;
      this.error = null;
      this.emptyQuery = false;
      this.answered = "";
      return;
    }
    this.loading = true;
    this.timer = setTimeout(() => void this.run(), this.delayMs);
  }

  /** Sends the current query now (also what the debounce timer calls). */
  async run(): Promise<void> {
    clearTimeout(this.timer);
    const mine = ++this.seq;
    const query = this.query;
    const filters = $state.snapshot(this.filters) as KbFilters;
    try {
      const r = await this.search({ query, filters, limit: this.limit });
      if (mine !== this.seq) return; // a newer query was sent meanwhile
      this.hits = r.hits;
      this.rebuilding = r.state === "rebuilding";
      this.emptyQuery = r.emptyQuery;
      this.error = null;
      this.answered = query;
    } catch (e) {
      if (mine !== this.seq) return;
      this.error = toApiError(e);
      this.hits = [];
    } finally {
      if (mine === this.seq) this.loading = false;
    }
  }
}
