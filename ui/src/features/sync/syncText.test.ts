import { describe, expect, it } from "vitest";
import type { SyncRunView } from "../../bindings/SyncRunView";
import {
  indicator,
  opActions,
  parseEdited,
  progressFraction,
  progressText,
  runSummary,
  stateDetail,
  stateLabel,
  valueText,
} from "./syncText";
import { op, status } from "./testData";

function run(over: Partial<SyncRunView> = {}): SyncRunView {
  return {
    connectionId: 1,
    ticketsCreated: 0,
    ticketsUpdated: 0,
    commentsAdded: 0,
    pushed: 0,
    conflicts: 0,
    failed: 0,
    unknown: 0,
    markedDeleted: 0,
    articles: 0,
    articlesRemoved: 0,
    kbStatus: null,
    notes: [],
    errors: [],
    stopped: null,
    stoppedKind: null,
    ...over,
  };
}

describe("outbox states", () => {
  it("labels every state and explains failures, unknown outcomes and backoff", () => {
    expect(
      (["pending", "in_flight", "unknown", "conflict", "failed", "done"] as const).map(stateLabel),
    ).toEqual(["Pending", "In flight", "Unknown outcome", "Conflict", "Failed", "Done"]);
    const now = 1_000_000;
    expect(stateDetail(op({ status: "failed", lastError: "http 400: bad state" }), now)).toBe(
      "Failed: http 400: bad state",
    );
    expect(stateDetail(op({ status: "unknown" }), now)).toContain("checks upstream");
    expect(stateDetail(op({ status: "pending" }), now)).toBe("Waits for the next sync");
    expect(
      stateDetail(
        op({ status: "pending", attempts: 2, lastError: "offline", nextAttemptAt: now + 90_000 }),
        now,
      ),
    ).toBe("Last try: offline; next try in 2 min");
    // A backoff already over says nothing about waiting.
    expect(stateDetail(op({ status: "pending", nextAttemptAt: now - 5 }), now)).toBe(
      "Waits for the next sync",
    );
  });

  it("offers retry and discard only where they make sense", () => {
    expect(opActions(op({ status: "failed" }))).toEqual({ retry: true, discard: true });
    expect(opActions(op({ status: "unknown" }))).toEqual({ retry: true, discard: true });
    expect(opActions(op({ status: "in_flight" }))).toEqual({ retry: false, discard: false });
    expect(opActions(op({ status: "conflict" }))).toEqual({ retry: false, discard: true });
    expect(opActions(op({ status: "done" }))).toEqual({ retry: false, discard: false });
  });
});

describe("progress", () => {
  it("says what a running sync does", () => {
    expect(progressText(null)).toBe("Starting…");
    expect(progressText({ phase: "pulling", scope: "incident", pages: 3, tickets: 1500 })).toBe(
      `Pulling incident: ${(1500).toLocaleString()} tickets, 3 pages`,
    );
    expect(progressText({ phase: "pushing", done: 2, total: 5 })).toBe("Pushing 2 of 5");
    expect(progressText({ phase: "waiting", reason: "rate limited", waitMs: 30_000 })).toBe(
      "Waiting 30 s: rate limited",
    );
    expect(progressFraction({ phase: "pushing", done: 2, total: 5 })).toBe(0.4);
    expect(progressFraction({ phase: "pushing", done: 0, total: 0 })).toBeNull();
    expect(progressFraction({ phase: "sweeping", scope: "incident" })).toBeNull();
  });

  it("summarizes a finished run, warning on conflicts and stops", () => {
    expect(runSummary("SN", run({ ticketsCreated: 2, ticketsUpdated: 1, pushed: 1 }))).toEqual({
      kind: "success",
      text: "SN synced: 3 tickets pulled, 1 change pushed",
    });
    expect(runSummary("SN", run({ conflicts: 2 })).kind).toBe("warning");
    const stopped = runSummary("SN", run({ stopped: "offline: connection refused" }));
    expect(stopped.kind).toBe("warning");
    expect(stopped.text).toContain("sync stopped (offline: connection refused)");
  });

  it("tells what the knowledge base step did and passes notes on without making them warnings", () => {
    const r = runSummary(
      "JSM",
      run({
        articles: 12,
        articlesRemoved: 2,
        notes: ["knowledge base: no Confluence space is set for this connection"],
      }),
    );
    expect(r.kind).toBe("success");
    expect(r.text).toBe(
      "JSM synced: 0 tickets pulled, 0 changes pushed, knowledge base: 12 articles, 2 removed; knowledge base: no Confluence space is set for this connection",
    );
  });
});

describe("indicator", () => {
  it("adds up pending, conflicts and failures across connections, unknown outcomes once", () => {
    // pendingOps already counts the unknown-outcome and failed operations.
    const ind = indicator(
      [
        status({ pendingOps: 2, unknownOps: 1, conflicts: 1 }),
        status({ connectionId: 2, connectionName: "Zendesk", pendingOps: 4, failedOps: 1 }),
      ],
      false,
    );
    expect(ind).toMatchObject({ pending: 6, conflicts: 1, failed: 1, offline: false });
    expect(ind.text).toBe("6 pending · 1 conflict · 1 failed");
  });

  it("says offline only when the last sync failed for a network reason", () => {
    const offline = indicator(
      [status({ pendingOps: 3, lastError: "connection refused", lastErrorKind: "offline" })],
      false,
    );
    expect(offline.offline).toBe(true);
    expect(offline.text).toBe("Offline · 3 pending");
    expect(offline.title).toContain("could not reach ServiceNow prod");
    const auth = indicator(
      [status({ lastError: "token expired", lastErrorKind: "auth_expired" })],
      false,
    );
    expect(auth.offline).toBe(false);
    expect(
      indicator([status({ lastError: "timed out", lastErrorKind: "timeout" })], false).offline,
    ).toBe(true);
  });

  it("shows syncing while a sync runs and nothing when all is synced", () => {
    expect(indicator([status({ pendingOps: 1 })], true).text).toBe("Syncing… · 1 pending");
    const idle = indicator([status({})], false);
    expect(idle.text).toBe("");
    expect(idle.title).toBe("Everything is synced");
  });
});

describe("conflict values", () => {
  it("shows values as text", () => {
    expect(valueText(null)).toBe("(empty)");
    expect(valueText("high")).toBe("high");
    expect(valueText(["a", "b"])).toBe('["a","b"]');
  });

  it("reads an edited value as the same kind as the original", () => {
    expect(parseEdited("urgent", "high")).toEqual({ ok: true, value: "urgent" });
    expect(parseEdited("3", 2)).toEqual({ ok: true, value: 3 });
    expect(parseEdited("three", 2)).toEqual({ ok: false, error: "enter a number" });
    expect(parseEdited("", 2).ok).toBe(false);
    expect(parseEdited('["vpn","mfa"]', ["vpn"])).toEqual({ ok: true, value: ["vpn", "mfa"] });
    expect(parseEdited("[vpn", ["vpn"]).ok).toBe(false);
    expect(parseEdited("true", false)).toEqual({ ok: true, value: true });
  });
});
