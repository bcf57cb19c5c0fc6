import { describe, expect, it, vi } from "vitest";
import * as ipc from "../../ipc";
import { serveQueue, summary } from "../../test/fixtures";
import { findTicketByKey } from "./openByKey";

vi.mock("../../ipc");

describe("findTicketByKey", () => {
  it("finds the exact key among prefix matches, page by page", async () => {
    // CB-1 is not on the first page of what "CB-1" matches.
    serveQueue(1500, (i) => summary(i, { key: i === 1200 ? "CB-1" : `CB-1${i}` }));
    const hit = await findTicketByKey("cb-1");
    expect(hit?.key).toBe("CB-1");
    const calls = vi.mocked(ipc.listTickets).mock.calls.map((c) => c[0]);
    expect(calls.map((q) => q.offset)).toEqual([0, 1000]);
    expect(calls.every((q) => q.filter.text === "cb-1" && q.limit <= 1000)).toBe(true);
  });

  it("returns null when no ticket has that key", async () => {
    serveQueue(3);
    expect(await findTicketByKey("CB-99")).toBeNull();
    expect(ipc.listTickets).toHaveBeenCalledOnce();
  });
});
