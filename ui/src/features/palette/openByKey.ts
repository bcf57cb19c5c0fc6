import type { TicketSummary } from "../../bindings/TicketSummary";
import * as ipc from "../../ipc";
import { emptyFilter } from "../../lib/filters";
import { sameKey } from "../../lib/ticketKey";

/** Finds a ticket by its key through the queue's text filter (which matches keys). */
export async function findTicketByKey(key: string): Promise<TicketSummary | null> {
  const page = await ipc.listTickets({
    filter: { ...emptyFilter(), text: key },
    sort: "updated",
    reverse: false,
    offset: 0,
    limit: 50,
  });
  return page.rows.find((r) => sameKey(r.key, key)) ?? null;
}
