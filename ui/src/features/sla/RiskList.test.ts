import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { SlaBadge } from "../../bindings/SlaBadge";
import * as ipc from "../../ipc";
import RiskList from "./RiskList.svelte";

vi.mock("../../ipc");

function badge(id: number, over: Partial<SlaBadge>): SlaBadge {
  return {
    ticketId: id,
    key: `CB-${id}`,
    priority: "high",
    kind: "first_response",
    state: "running",
    dueAt: Date.now() + 30 * 60_000,
    breachedAt: null,
    remainingMs: 30 * 60_000,
    paused: false,
    summary: `summary ${id}`,
    ...over,
  };
}

describe("queue by risk", () => {
  it("lists tickets in the order the backend ranks them, with countdowns", async () => {
    vi.mocked(ipc.slaRisk).mockResolvedValue([
      badge(3, { state: "breached", dueAt: null, breachedAt: Date.now() - 5 * 60_000 }),
      badge(1, {}),
      badge(2, { state: "paused", dueAt: null, kind: "resolution" }),
    ]);
    const onopen = vi.fn();
    render(RiskList, { props: { onopen } });
    const list = await screen.findByTestId("risk-list");
    await screen.findByText("CB-3");
    const keys = [...list.querySelectorAll(".key")].map((k) => k.textContent);
    expect(keys).toEqual(["CB-3", "CB-1", "CB-2"]);
    const tones = screen.getAllByTestId("sla-badge").map((b) => b.dataset.tone);
    expect(tones).toEqual(["breached", "soon", "paused"]);
    expect(vi.mocked(ipc.slaRisk)).toHaveBeenCalledWith(200);
    await userEvent.click(screen.getByText("CB-1"));
    expect(onopen).toHaveBeenCalledWith(1);
  });
});
