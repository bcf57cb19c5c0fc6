import type { TicketSummary } from "../../bindings/TicketSummary";
import * as ipc from "../../ipc";
import { emptyFilter } from "../../lib/filters";
import { sameKey } from "../../lib/ticketKey";

const PAGE = 1000;
/** How far to look: "CB-1" also matches CB-10…CB-19, CB-100… (the text filter is a prefix match). */
const MAX_PAGES = 10;

/** Finds a ticket by its key through the queue's text filter (which matches keys). */
export async function findTicketByKey(key: string): Promise<TicketSummary | null> {
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await ipc.listTickets({
      filter: { ...emptyFilter(), text: key },
      // Oldest first: a short key like CB-1 belongs to an early ticket.
      sort: "created",
      reverse: true,
      offset: page * PAGE,
      limit: PAGE,
    });
    const hit = res.rows.find((r) => sameKey(r.key, key));
    if (hit) return hit;
    if ((page + 1) * PAGE >= res.total) break;
  }
  return null;
}
