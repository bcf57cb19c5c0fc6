import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Report } from "../../bindings/Report";
import * as ipc from "../../ipc";
import { periodFilter } from "./period";
import ReportsScreen from "./ReportsScreen.svelte";
import * as chart from "./trendChart";

vi.mock("../../ipc");
vi.mock("./trendChart", () => ({
  drawTrend: vi.fn(() => ({ update: vi.fn(), destroy: vi.fn() })),
}));

const NOW = Date.UTC(2026, 2, 10, 12, 0);
const DAY = 86_400_000;

function report(): Report {
  return {
    filter: { from: 0, to: 1, sources: [], groups: [], assignees: [], by: "none" },
    asOf: NOW,
    rows: [
      {
        key: "all",
        created: 3,
        resolved: 3,
        firstResponse: { count: 2, meanMs: 185 * 60_000, medianMs: 185 * 60_000 },
        unanswered: 1,
        timeToResolve: { count: 3, meanMs: (341 * 3_600_000) / 3, medianMs: 75 * 3_600_000 },
        sla: [
          {
            priority: "medium",
            firstResponseMet: 0,
            firstResponseBreached: 2,
            resolutionMet: 1,
            resolutionBreached: 1,
            resolutionPct: 50,
            firstResponsePct: 0,
          },
        ],
        backlog: 3,
        backlogOver7d: 2,
        backlogOver14d: 1,
        backlogOver30d: 1,
        reopened: 1,
        reopenRate: 1 / 3,
        touches: 6,
        touchesPerTicket: 2,
      },
    ],
    bucket: "day",
    trend: [
      { start: NOW - DAY, created: 2, resolved: 1 },
      { start: NOW, created: 1, resolved: 2 },
    ],
  };
}

describe("reports page", () => {
  beforeEach(() => {
    vi.mocked(ipc.kpiReport).mockResolvedValue(report());
    vi.mocked(ipc.kpiReportCsv).mockResolvedValue("group,metric,dimension,value\nall,created,,3\n");
  });

  it("loads the last 30 days, shows the KPIs and draws the trend", async () => {
    render(ReportsScreen, { props: { now: NOW } });
    const table = await screen.findByTestId("report-table");
    expect(vi.mocked(ipc.kpiReport).mock.calls[0]![0]).toEqual({
      from: Date.UTC(2026, 1, 9),
      to: Date.UTC(2026, 2, 11),
      sources: [],
      groups: [],
      assignees: [],
      by: "none",
    });
    const cells = [...table.querySelectorAll("tbody td")].map((c) => c.textContent?.trim());
    expect(cells).toEqual(["3", "3", "3 h 5 min", "4 d 17 h", "3", "2", "1", "1", "33%", "2.0"]);
    expect(screen.getByTestId("report-sla").textContent).toContain("50% (1/2)");
    await waitFor(() => expect(chart.drawTrend).toHaveBeenCalled());
  });

  it("groups on request and exports CSV", async () => {
    const created: Blob[] = [];
    URL.createObjectURL = vi.fn((b: Blob) => {
      created.push(b);
      return "blob:report";
    });
    URL.revokeObjectURL = vi.fn();
    const clicked: string[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (
      this: HTMLAnchorElement,
    ) {
      clicked.push(this.download);
    });
    render(ReportsScreen, { props: { now: NOW } });
    await screen.findByTestId("report-table");
    await fireEvent.change(screen.getByTestId("report-by"), { target: { value: "group" } });
    await waitFor(() => expect(vi.mocked(ipc.kpiReport).mock.calls.at(-1)?.[0].by).toBe("group"));
    await fireEvent.click(screen.getByTestId("report-csv"));
    await waitFor(() => expect(created).toHaveLength(1));
    const csv = "group,metric,dimension,value\nall,created,,3\n";
    expect(created[0]!.size).toBe(csv.length);
    expect(created[0]!.type).toBe("text/csv");
    expect(clicked).toEqual(["casebook-report-2026-02-09-2026-03-10.csv"]);
  });

  it("refuses a period that ends before it starts", () => {
    expect(periodFilter("2026-03-10", "2026-03-01", "none")).toBe(
      "The period must end after it starts",
    );
    expect(periodFilter("03/01/2026", "2026-03-01", "none")).toBe("Enter both dates as YYYY-MM-DD");
  });
});
