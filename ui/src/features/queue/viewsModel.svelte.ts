import type { Facets } from "../../bindings/Facets";
import type { SavedView } from "../../bindings/SavedView";
import type { SaveViewInput } from "../../bindings/SaveViewInput";
import type { TicketFilter } from "../../bindings/TicketFilter";
import * as ipc from "../../ipc";
import { BUILT_IN_VIEWS, normalizeFilter } from "../../lib/filters";

const EMPTY_FACETS: Facets = { assignees: [], groups: [], tags: [], sources: [] };

/** The sidebar: built-in and saved views with their counts, and the values for the pickers. */
export class ViewsModel {
  saved = $state.raw<SavedView[]>([]);
  /** Counts for built-in views then saved views, in sidebar order (`null` until known). */
  counts = $state.raw<(number | null)[]>([]);
  facets = $state.raw<Facets>(EMPTY_FACETS);
  private countSeq = 0;

  builtInCount(i: number): number | null {
    return this.counts[i] ?? null;
  }

  savedCount(i: number): number | null {
    return this.counts[BUILT_IN_VIEWS.length + i] ?? null;
  }

  /** Loads views, counts and facets. Failures reject so the caller can show them. */
  async loadAll(): Promise<void> {
    await Promise.all([this.loadViews(), this.loadFacets()]);
  }

  async loadViews(): Promise<void> {
    this.saved = await ipc.listViews();
    await this.loadCounts();
  }

  async loadCounts(): Promise<void> {
    const filters: TicketFilter[] = [
      ...BUILT_IN_VIEWS.map((v) => v.filter),
      ...this.saved.map((v) => normalizeFilter(v.filter)),
    ].slice(0, 100);
    const seq = ++this.countSeq;
    const counts = await ipc.countTickets(filters);
    // An older answer arriving late must not overwrite a newer one.
    if (seq === this.countSeq) this.counts = counts;
  }

  async loadFacets(): Promise<void> {
    this.facets = await ipc.ticketFacets();
  }

  async save(input: SaveViewInput): Promise<SavedView> {
    const view = await ipc.saveView({ ...input, filter: normalizeFilter(input.filter) });
    await this.loadViews();
    return view;
  }

  async remove(id: number): Promise<void> {
    await ipc.deleteView(id);
    this.saved = this.saved.filter((v) => v.id !== id);
    await this.loadCounts();
  }
}
