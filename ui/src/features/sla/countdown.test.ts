import { describe, expect, it } from "vitest";
import type { SlaBadge } from "../../bindings/SlaBadge";
import { countdown, formatSpan, formatSpanShort } from "./countdown";

const MIN = 60_000;
const NOW = Date.UTC(2026, 2, 2, 12, 0);

function badge(over: Partial<SlaBadge>): SlaBadge {
  return {
    ticketId: 1,
    key: "CB-1",
    priority: "high",
    kind: "first_response",
    state: "running",
    dueAt: NOW + 90 * MIN,
    breachedAt: null,
    remainingMs: 90 * MIN,
    paused: false,
    summary: "",
    ...over,
  };
}

describe("SLA countdown", () => {
  it("formats spans like the backend does", () => {
    expect(formatSpan(40_000)).toBe("40 s");
    expect(formatSpan(12 * MIN)).toBe("12 min");
    expect(formatSpan(125 * MIN)).toBe("2 h 05 min");
    expect(formatSpan((24 * 60 + 4 * 60 + 10) * MIN)).toBe("1 d 4 h");
  });

  it("formats spans compactly for the narrow queue beside a ticket", () => {
    expect(formatSpanShort(40_000)).toBe("40s");
    expect(formatSpanShort(12 * MIN)).toBe("12m");
    expect(formatSpanShort(125 * MIN)).toBe("2h 05m");
    expect(formatSpanShort((24 * 60 + 4 * 60 + 10) * MIN)).toBe("1d 4h");
  });

  it("counts down, turns urgent, then overdue, as time passes", () => {
    const b = badge({});
    expect(countdown(b, NOW)).toEqual({
      text: "response in 1 h 30 min",
      short: "1h 30m",
      label: "First response due in 1 h 30 min",
      tone: "ok",
      left: 90 * MIN,
    });
    expect(countdown(b, NOW + 40 * MIN).tone).toBe("soon");
    expect(countdown(b, NOW + 80 * MIN)).toMatchObject({
      text: "response in 10 min",
      tone: "urgent",
    });
    // The badge was loaded before the due time: it turns overdue by itself.
    expect(countdown(b, NOW + 95 * MIN)).toMatchObject({
      text: "response overdue 5 min",
      short: "−5m",
      label: "First response overdue by 5 min",
      tone: "breached",
      left: -5 * MIN,
    });
  });

  it("shows breaches, pauses and stopped clocks", () => {
    expect(
      countdown(badge({ state: "breached", dueAt: null, breachedAt: NOW - 75 * MIN }), NOW),
    ).toMatchObject({
      text: "response overdue 1 h 15 min",
      short: "−1h 15m",
      label: "First response overdue by 1 h 15 min",
      tone: "breached",
    });
    expect(
      countdown(
        badge({ state: "paused", dueAt: null, remainingMs: 40 * MIN, kind: "resolution" }),
        NOW,
      ),
    ).toEqual({
      text: "paused · 40 min left",
      short: "paused",
      label: "Resolution clock paused, 40 min of business time left",
      tone: "paused",
      left: null,
    });
    expect(countdown(badge({ state: "met", kind: "resolution" }), NOW).text).toBe("resolve met");
    expect(countdown(badge({ kind: null, state: null }), NOW).tone).toBe("none");
  });
});
