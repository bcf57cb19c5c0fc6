import { render, screen } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SlaBadge } from "../../bindings/SlaBadge";
import * as ipc from "../../ipc";
import QueueSlaBadge from "./QueueSlaBadge.svelte";

vi.mock("../../ipc");

const NOW = Date.UTC(2026, 2, 2, 12, 0);

function badge(ticketId: number, dueAt: number): SlaBadge {
  return {
    ticketId,
    key: `CB-${ticketId}`,
    priority: "critical",
    kind: "first_response",
    state: "running",
    dueAt,
    breachedAt: null,
    remainingMs: dueAt - NOW,
    paused: false,
    summary: "",
  };
}

describe("queue row countdowns", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(() => vi.useRealTimers());

  it("tick together on one shared clock and turn overdue without asking the backend", async () => {
    vi.mocked(ipc.slaBadges).mockImplementation(async (ids) =>
      ids.map((id) => badge(id, NOW + id * 60_000 + 30_000)),
    );
    const timers = vi.spyOn(globalThis, "setInterval");
    render(QueueSlaBadge, { props: { id: 1 } });
    render(QueueSlaBadge, { props: { id: 2 } });
    await vi.advanceTimersByTimeAsync(100);
    // What the eye sees in the full queue, then the screen reader's sentence (the short text is
    // for the queue beside an open ticket).
    const text = (b: HTMLElement) =>
      `${b.querySelector(".sla-long")!.textContent}${b.querySelector(".sr-only")!.textContent}`;
    const shown = () => screen.getAllByTestId("sla-badge").map(text);
    expect(shown()).toEqual([
      "response in 1 minFirst response due in 1 min",
      "response in 2 minFirst response due in 2 min",
    ]);
    expect(
      screen.getAllByTestId("sla-badge").map((b) => b.querySelector(".sla-short")!.textContent),
    ).toEqual(["1m", "2m"]);
    expect(ipc.slaBadges).toHaveBeenCalledTimes(1);
    // One interval for both rows.
    expect(timers.mock.calls.filter(([, ms]) => ms === 1_000)).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(shown()[0]).toMatch(/^response in (29|30) sFirst response due in (29|30) s$/);
    await vi.advanceTimersByTimeAsync(45_000);
    const first = screen.getAllByTestId("sla-badge")[0]!;
    expect(first.dataset.tone).toBe("breached");
    expect(text(first)).toMatch(/^response overdue 1[45] sFirst response overdue by 1[45] s$/);
    expect(ipc.slaBadges).toHaveBeenCalledTimes(1);
  });
});
