import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SlaBadge } from "../../bindings/SlaBadge";
import type { ChangeBatch } from "../../bindings/ChangeBatch";
import * as ipc from "../../ipc";
import { QueueBadges } from "./queueBadges.svelte";

vi.mock("../../ipc");

function badge(ticketId: number, dueAt: number): SlaBadge {
  return {
    ticketId,
    key: `CB-${ticketId}`,
    priority: "high",
    kind: "resolution",
    state: "running",
    dueAt,
    breachedAt: null,
    remainingMs: 0,
    paused: false,
    summary: "",
  };
}

describe("queue SLA badges", () => {
  let changes: ((b: ChangeBatch) => void) | undefined;
  beforeEach(() => {
    vi.useFakeTimers();
    vi.mocked(ipc.onChanges).mockImplementation(async (h) => {
      changes = h;
      return () => undefined;
    });
  });
  afterEach(() => vi.useRealTimers());

  it("batches the rows on screen into one call and refetches them after a change", async () => {
    let due = 1_000;
    const load = vi.fn(async (ids: number[]) => ids.map((id) => badge(id, due + id)));
    const store = new QueueBadges(load, 30);
    const stop1 = store.want(1);
    store.want(2);
    store.want(2);
    await vi.advanceTimersByTimeAsync(30);
    expect(load).toHaveBeenCalledTimes(1);
    expect(load).toHaveBeenCalledWith([1, 2]);
    expect(store.get(2)?.dueAt).toBe(1_002);
    // Already fresh: no new call for a row that scrolls back in.
    const again = store.want(1);
    await vi.advanceTimersByTimeAsync(30);
    expect(load).toHaveBeenCalledTimes(1);
    again();
    stop1();
    // A change: only what is still on screen (2) is asked again; the old badge stays meanwhile.
    due = 5_000;
    changes?.({ kind: "tickets", ids: [2], origin: "local" });
    expect(store.get(2)?.dueAt).toBe(1_002);
    await vi.advanceTimersByTimeAsync(30);
    expect(load).toHaveBeenLastCalledWith([2]);
    expect(store.get(2)?.dueAt).toBe(5_002);
  });

  it("asks again after a failed call", async () => {
    const load = vi
      .fn<(ids: number[]) => Promise<SlaBadge[]>>()
      .mockRejectedValueOnce(new Error("down"))
      .mockResolvedValue([badge(3, 9)]);
    const store = new QueueBadges(load, 10);
    store.want(3);
    await vi.advanceTimersByTimeAsync(10);
    expect(store.get(3)).toBeUndefined();
    store.invalidate();
    await vi.advanceTimersByTimeAsync(10);
    expect(store.get(3)?.dueAt).toBe(9);
  });
});
