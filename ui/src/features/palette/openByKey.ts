import type { TicketView } from "../../bindings/TicketView";
import * as ipc from "../../ipc";
import { hasCode } from "../../lib/errors";

/** Finds a ticket by its exact key (case-insensitive); `null` when there is none. */
export async function findTicketByKey(key: string): Promise<TicketView | null> {
  try {
    return await ipc.findTicket(key);
  } catch (e) {
    if (hasCode(e, "not_found")) return null;
    throw e;
  }
}
