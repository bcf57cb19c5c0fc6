import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import type { TicketSla } from "../../bindings/TicketSla";
import * as ipc from "../../ipc";
import TicketSlaPanel from "./TicketSlaPanel.svelte";

vi.mock("../../ipc");

const HOUR = 3_600_000;

function sla(over: Partial<TicketSla>): TicketSla {
  return {
    ticketId: 4,
    key: "INC0010004",
    priority: "high",
    policy: "servicenow/high",
    calendar: "Europe/Berlin business hours",
    targets: [
      {
        kind: "first_response",
        state: "met",
        targetMs: HOUR,
        startedAt: 0,
        stoppedAt: 20 * 60_000,
        elapsedMs: 20 * 60_000,
        remainingMs: 40 * 60_000,
        dueAt: null,
        breachedAt: null,
        missed: 0,
        explanation: "answered after 20 min of business time",
      },
      {
        kind: "resolution",
        state: "breached",
        targetMs: 8 * HOUR,
        startedAt: 0,
        stoppedAt: null,
        elapsedMs: 10 * HOUR,
        remainingMs: -2 * HOUR,
        dueAt: null,
        breachedAt: 9 * HOUR,
        missed: 0,
        explanation: "paused 3 h 10 min while waiting on customer; 2 h over",
      },
    ],
    paused: [{ from: HOUR, to: 4 * HOUR, state: "pending" }],
    pausedMs: 3 * HOUR + 10 * 60_000,
    pausedNow: false,
    nextDueAt: null,
    breached: true,
    upstream: null,
    summary: "Resolution breached 2 h 00 min ago",
    computedAt: 10 * HOUR,
    ...over,
  };
}

describe("ticket SLA panel", () => {
  it("shows each target with its state, timing and the engine's explanation", async () => {
    vi.mocked(ipc.ticketSla).mockResolvedValue(sla({}));
    render(TicketSlaPanel, { props: { ticketId: 4, revision: 1 } });
    // One line until opened: the summary.
    expect((await screen.findByTestId("ticket-sla-line")).textContent).toBe(
      "Resolution breached 2 h 00 min ago",
    );
    expect(screen.queryByTestId("ticket-sla-target")).toBeNull();
    await fireEvent.click(screen.getByRole("button", { name: /SLA/ }));
    const targets = await screen.findAllByTestId("ticket-sla-target");
    expect(targets.map((t) => [t.dataset.kind, t.dataset.state])).toEqual([
      ["first_response", "met"],
      ["resolution", "breached"],
    ]);
    expect(targets[1]!.textContent).toContain("2 h 00 min over");
    expect(targets[1]!.textContent).toContain("paused 3 h 10 min while waiting on customer");
    expect(screen.getByTestId("ticket-sla-summary").textContent).toBe(
      "Resolution breached 2 h 00 min ago",
    );
    expect(screen.queryByTestId("ticket-sla-upstream")).toBeNull();
    expect(ipc.ticketSla).toHaveBeenCalledWith(4);
  });

  it("puts the upstream verdict beside the local one and flags a disagreement", async () => {
    vi.mocked(ipc.ticketSla).mockResolvedValue(
      sla({
        upstream: {
          field: "servicenow: task_sla",
          madeSla: true,
          localMadeSla: false,
          agrees: false,
        },
      }),
    );
    render(TicketSlaPanel, { props: { ticketId: 4, revision: 1 } });
    expect(await screen.findByTestId("ticket-sla-disagree")).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: /SLA/ }));
    const up = await screen.findByTestId("ticket-sla-upstream");
    expect(up.dataset.agrees).toBe("false");
    expect(up.textContent).toContain("servicenow: task_sla");
    expect(up.textContent).toContain("they disagree");
    expect(screen.getByTestId("ticket-sla-disagree")).toBeTruthy();
  });

  it("says when no policy applies, and reads again after an edit", async () => {
    vi.mocked(ipc.ticketSla).mockResolvedValue(sla({ policy: null, targets: [] }));
    const view = render(TicketSlaPanel, { props: { ticketId: 4, revision: 1 } });
    await fireEvent.click(screen.getByRole("button", { name: /SLA/ }));
    await screen.findByTestId("ticket-sla-none");
    vi.mocked(ipc.ticketSla).mockResolvedValue(sla({}));
    await view.rerender({ ticketId: 4, revision: 2 });
    await waitFor(() => expect(screen.getAllByTestId("ticket-sla-target")).toHaveLength(2));
    expect(ipc.ticketSla).toHaveBeenCalledTimes(2);
  });
});
