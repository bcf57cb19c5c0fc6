import { fuzzyFilter } from "../../lib/fuzzy";
import { parseTicketKey } from "../../lib/ticketKey";

export interface PaletteAction {
  id: string;
  label: string;
  /** Shown at the right: a shortcut or a count. */
  hint?: string;
  /** Extra words to match on. */
  keywords?: string;
  run: () => void | Promise<void>;
}

/**
 * The actions matching `query`, best first. A query that looks like a ticket key puts
 * "Open <KEY>" on top.
 */
export function filterActions(
  actions: readonly PaletteAction[],
  query: string,
  openKey: (key: string) => void | Promise<void>,
): PaletteAction[] {
  const matched = fuzzyFilter(actions, query, (a) => `${a.label} ${a.keywords ?? ""}`);
  const key = parseTicketKey(query);
  if (!key) return matched;
  return [
    { id: `open:${key}`, label: `Open ${key}`, hint: "Ticket", run: () => openKey(key) },
    ...matched,
  ];
}
