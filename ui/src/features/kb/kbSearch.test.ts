import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { KbHit } from "../../bindings/KbHit";
import type { KbSearchInput } from "../../bindings/KbSearchInput";
import type { KbSearchResult } from "../../bindings/KbSearchResult";
import { countFilters, KbSearchModel, parseList } from "./kbSearch.svelte";

vi.mock("../../ipc");

function hit(title: string): KbHit {
  return {
    docId: `rb:1:${title}.md`,
    kind: "runbook",
    title,
    titleRanges: [],
    path: `${title}.md`,
    section: null,
    snippet: { text: title, ranges: [], html: title },
    tags: [],
    service: null,
    ticketId: null,
    ticketKey: null,
    ticketState: null,
    url: null,
    score: 1,
    matchedTerms: [],
  };
}

function result(...titles: string[]): KbSearchResult {
  return { hits: titles.map(hit), state: "ready", emptyQuery: false, tookUs: 100 };
}

/** A search whose answers the test releases by hand, in any order. */
function manualSearch() {
  const calls: { input: KbSearchInput; resolve: (r: KbSearchResult) => void }[] = [];
  const search = vi.fn(
    (input: KbSearchInput) =>
      new Promise<KbSearchResult>((resolve) => calls.push({ input, resolve })),
  );
  return { search, calls };
}

describe("knowledge-base search as you type", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("waits for a pause in typing before searching", async () => {
    const { search, calls } = manualSearch();
    const m = new KbSearchModel(search, 100);
    for (const q of ["d", "di", "dis", "disk"]) {
      m.setQuery(q);
      await vi.advanceTimersByTimeAsync(50);
    }
    expect(search).not.toHaveBeenCalled();
    expect(m.loading).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    expect(search).toHaveBeenCalledTimes(1);
    expect(calls[0]!.input.query).toBe("disk");
    calls[0]!.resolve(result("DiskFull"));
    await vi.runAllTimersAsync();
    expect(m.hits.map((h) => h.title)).toEqual(["DiskFull"]);
    expect(m.loading).toBe(false);
    expect(m.answered).toBe("disk");
  });

  it("drops a response that arrives after a newer query was sent", async () => {
    const { search, calls } = manualSearch();
    const m = new KbSearchModel(search, 10);
    m.setQuery("vpn");
    await vi.advanceTimersByTimeAsync(10);
    m.setQuery("vpn tunnel");
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toHaveLength(2);
    calls[1]!.resolve(result("Tunnel down"));
    await vi.runAllTimersAsync();
    // The older, slower answer arrives last: ignored.
    calls[0]!.resolve(result("VPN general"));
    await vi.runAllTimersAsync();
    expect(m.hits.map((h) => h.title)).toEqual(["Tunnel down"]);
    expect(m.answered).toBe("vpn tunnel");
  });

  it("clearing the query clears results and forgets answers in flight", async () => {
    const { search, calls } = manualSearch();
    const m = new KbSearchModel(search, 10);
    m.setQuery("printer");
    await vi.advanceTimersByTimeAsync(10);
    m.setQuery("  ");
    calls[0]!.resolve(result("Printer"));
    await vi.runAllTimersAsync();
    expect(m.hits).toEqual([]);
    expect(m.loading).toBe(false);
    expect(search).toHaveBeenCalledTimes(1);
  });

  it("sends the filters and searches again when they change", async () => {
    const { search, calls } = manualSearch();
    const m = new KbSearchModel(search, 10);
    m.setQuery("disk");
    await vi.advanceTimersByTimeAsync(10);
    m.toggleKind("past_case");
    await vi.advanceTimersByTimeAsync(10);
    expect(calls[1]!.input.filters.kinds).toEqual(["past_case"]);
    m.toggleKind("past_case");
    await vi.advanceTimersByTimeAsync(10);
    expect(calls[2]!.input.filters.kinds).toEqual([]);
  });

  it("shows an error from the backend and recovers on the next query", async () => {
    const search = vi
      .fn<(i: KbSearchInput) => Promise<KbSearchResult>>()
      .mockRejectedValueOnce({ code: "workspace_locked", message: "the index is busy" })
      .mockResolvedValueOnce(result("Ok"));
    const m = new KbSearchModel(search, 10);
    m.setQuery("a b");
    await vi.runAllTimersAsync();
    expect(m.error?.message).toBe("the index is busy");
    m.setQuery("a bc");
    await vi.runAllTimersAsync();
    expect(m.error).toBeNull();
    expect(m.hits).toHaveLength(1);
  });
});

describe("filter helpers", () => {
  it("parses comma lists and counts filters", () => {
    expect(parseList(" network, VPN ,, dns ")).toEqual(["network", "VPN", "dns"]);
    expect(parseList("")).toEqual([]);
    expect(
      countFilters({ kinds: ["runbook"], tags: ["a", "b"], services: [], ticketStates: [] }),
    ).toBe(3);
  });
});
