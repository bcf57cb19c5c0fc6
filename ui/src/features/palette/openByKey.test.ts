import { describe, expect, it, vi } from "vitest";
import * as ipc from "../../ipc";
import { findTicketByKey } from "./openByKey";

vi.mock("../../ipc");

describe("findTicketByKey", () => {
  it("asks for the exact key", async () => {
    vi.mocked(ipc.findTicket).mockResolvedValue({ id: 7, key: "CB-1" } as never);
    const hit = await findTicketByKey("cb-1");
    expect(hit?.id).toBe(7);
    expect(ipc.findTicket).toHaveBeenCalledWith("cb-1");
  });

  it("returns null when no ticket has that key, and passes other errors on", async () => {
    vi.mocked(ipc.findTicket).mockRejectedValueOnce({
      code: "not_found",
      message: "ticket CB-99 not found",
    });
    expect(await findTicketByKey("CB-99")).toBeNull();
    vi.mocked(ipc.findTicket).mockRejectedValueOnce({ code: "internal", message: "boom" });
    await expect(findTicketByKey("CB-1")).rejects.toMatchObject({ code: "internal" });
  });
});
