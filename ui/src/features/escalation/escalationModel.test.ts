import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { EscalationView } from "../../bindings/EscalationView";
import type { SaveEscalationInput } from "../../bindings/SaveEscalationInput";
import { EscalationModel, type EscalationApi } from "./escalationModel.svelte";
import { content } from "./testContent";

function view(revision: number, score = 50): EscalationView {
  return {
    id: 7,
    ticketId: 1,
    ticketKey: "CB-1",
    status: "draft",
    content: content(),
    revision,
    createdAt: 0,
    updatedAt: 0,
    completeness: { score, missing: [], missingLabels: [], warnings: [] },
  };
}

function fakeApi(existing: boolean) {
  let revision = 1;
  const saves: SaveEscalationInput[] = [];
  const api: EscalationApi = {
    escalationList: vi.fn(async () =>
      existing
        ? [{ id: 7, ticketId: 1, title: "t", status: "draft" as const, score: 50, updatedAt: 0 }]
        : [],
    ),
    escalationCreate: vi.fn(async () => view(1)),
    escalationGet: vi.fn(async () => view(revision)),
    escalationSave: vi.fn(async (input: SaveEscalationInput) => {
      if (input.expectedRevision !== revision) {
        throw { code: "stale_revision", message: "escalation 7 changed" };
      }
      saves.push(structuredClone(input));
      revision += 1;
      return { ...view(revision, 83), content: input.content };
    }),
    escalationMergeLogTimeline: vi.fn(async () => {
      revision += 1;
      const v = view(revision);
      v.content.timeline.push({ at: 5, text: "app.log: first error", source: "log" });
      return v;
    }),
    escalationCheck: vi.fn(async () => ({
      warnings: ["similar open escalation CB-2"],
      suggestions: [],
      kbError: null,
    })),
  };
  return { api, saves, bump: () => (revision += 1) };
}

describe("EscalationModel", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("drafts from the ticket when there is no draft, reopens the latest otherwise", async () => {
    const a = fakeApi(false);
    const m = new EscalationModel(a.api, 500);
    await m.open(1);
    expect(a.api.escalationCreate).toHaveBeenCalledWith(1);
    const b = fakeApi(true);
    const n = new EscalationModel(b.api, 500);
    await n.open(1);
    expect(b.api.escalationCreate).not.toHaveBeenCalled();
    expect(b.api.escalationGet).toHaveBeenCalledWith(7);
    await vi.runAllTimersAsync();
    expect(n.check?.warnings).toEqual(["similar open escalation CB-2"]);
  });

  it("saves once typing pauses, with the latest text, and keeps the score it gets back", async () => {
    const a = fakeApi(false);
    const m = new EscalationModel(a.api, 500);
    await m.open(1);
    m.content!.summary = "a";
    m.changed();
    await vi.advanceTimersByTimeAsync(300);
    m.content!.summary = "ab";
    m.changed();
    expect(m.saveState).toBe("pending");
    await vi.advanceTimersByTimeAsync(300);
    expect(a.saves).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(300);
    expect(a.saves.map((s) => s.content.summary)).toEqual(["ab"]);
    expect(m.saveState).toBe("saved");
    expect(m.view?.revision).toBe(2);
    expect(m.view?.completeness.score).toBe(83);
  });

  it("loses nothing on close: pending edits are saved before it resolves", async () => {
    const a = fakeApi(false);
    const m = new EscalationModel(a.api, 10_000);
    await m.open(1);
    m.content!.expected = "a PDF file";
    m.changed();
    await m.close();
    expect(a.saves.map((s) => s.content.expected)).toEqual(["a PDF file"]);
    // Nothing pending: closing again saves nothing.
    await m.close();
    expect(a.saves).toHaveLength(1);
  });

  it("re-bases on the latest revision when the draft moved on elsewhere", async () => {
    const a = fakeApi(false);
    const m = new EscalationModel(a.api, 100);
    await m.open(1);
    a.bump();
    m.content!.actual = "503";
    m.changed();
    await vi.advanceTimersByTimeAsync(150);
    expect(a.saves.map((s) => [s.expectedRevision, s.content.actual])).toEqual([[2, "503"]]);
    expect(m.saveState).toBe("saved");
    expect(m.error).toBeNull();
  });

  it("keeps the edits and says so when a save fails", async () => {
    const a = fakeApi(false);
    vi.mocked(a.api.escalationSave).mockRejectedValueOnce({
      code: "invalid_input",
      message: "the title is empty",
    });
    const m = new EscalationModel(a.api, 100);
    await m.open(1);
    m.content!.title = "";
    m.changed();
    await vi.advanceTimersByTimeAsync(150);
    expect(m.saveState).toBe("error");
    expect(m.error?.message).toBe("the title is empty");
    expect(m.content!.title).toBe("");
    m.content!.title = "fixed";
    await m.flush();
    expect(a.saves.map((s) => s.content.title)).toEqual(["fixed"]);
    expect(m.saveState).toBe("saved");
  });

  it("merges a log's times after saving pending edits", async () => {
    const a = fakeApi(false);
    const m = new EscalationModel(a.api, 10_000);
    await m.open(1);
    m.content!.summary = "typed first";
    m.changed();
    await m.mergeLogTimeline("app.log", {} as never);
    expect(a.saves.map((s) => s.content.summary)).toEqual(["typed first"]);
    expect(a.api.escalationMergeLogTimeline).toHaveBeenCalledWith(
      expect.objectContaining({ expectedRevision: 2, source: "app.log" }),
    );
    expect(m.content!.timeline.at(-1)?.text).toBe("app.log: first error");
    expect(m.view?.revision).toBe(3);
  });
});
