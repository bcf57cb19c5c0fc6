import type { SortKey } from "../bindings/SortKey";
import type { TicketFilter } from "../bindings/TicketFilter";

export function emptyFilter(): TicketFilter {
  return {
    states: [],
    priorities: [],
    assignees: [],
    unassigned: false,
    groups: [],
    tags: [],
    sources: [],
    text: null,
  };
}

export interface BuiltInView {
  slug: string;
  name: string;
  filter: TicketFilter;
}

export const BUILT_IN_VIEWS: readonly BuiltInView[] = [
  { slug: "all", name: "All tickets", filter: emptyFilter() },
  {
    slug: "open",
    name: "Open work",
    filter: { ...emptyFilter(), states: ["new", "open", "pending", "on_hold"] },
  },
  { slug: "unassigned", name: "Unassigned", filter: { ...emptyFilter(), unassigned: true } },
  {
    slug: "urgent",
    name: "Critical & high",
    filter: { ...emptyFilter(), priorities: ["critical", "high"] },
  },
  {
    slug: "done",
    name: "Resolved / closed",
    filter: { ...emptyFilter(), states: ["resolved", "closed"] },
  },
];

/** A filter in canonical form: sorted lists, trimmed text (`null` when blank). */
export function normalizeFilter(f: TicketFilter): TicketFilter {
  const sorted = <T extends string>(xs: readonly T[]) => [...new Set(xs)].sort();
  const text = f.text?.trim() ?? "";
  return {
    states: sorted(f.states),
    priorities: sorted(f.priorities),
    assignees: sorted(f.assignees),
    unassigned: f.unassigned,
    groups: sorted(f.groups),
    tags: sorted(f.tags),
    sources: sorted(f.sources),
    text: text === "" ? null : text,
  };
}

export function filtersEqual(a: TicketFilter, b: TicketFilter): boolean {
  return JSON.stringify(normalizeFilter(a)) === JSON.stringify(normalizeFilter(b));
}

/** A stable string for a query (filter + order), used to key the page cache. */
export function queryKey(filter: TicketFilter, sort: SortKey, reverse: boolean): string {
  return JSON.stringify([normalizeFilter(filter), sort, reverse]);
}

/** How many filter facets are in use (text not counted). */
export function activeFacetCount(f: TicketFilter): number {
  return (
    f.states.length +
    f.priorities.length +
    f.assignees.length +
    (f.unassigned ? 1 : 0) +
    f.groups.length +
    f.tags.length +
    f.sources.length
  );
}

/** Turns a view name into the slug used in test ids and ids. */
export function slugify(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "") || "view"
  );
}
