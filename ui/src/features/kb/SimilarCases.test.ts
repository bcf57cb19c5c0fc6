import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { AppState, appContext } from "../../app/appState.svelte";
import type { KbHit } from "../../bindings/KbHit";
import * as ipc from "../../ipc";
import { ticketView } from "../../test/fixtures";
import SimilarCases from "./SimilarCases.svelte";

vi.mock("../../ipc");

const pastCase: KbHit = {
  docId: "case:7",
  kind: "past_case",
  title: "VPN drops every hour",
  titleRanges: [],
  path: "",
  section: null,
  snippet: { text: "", ranges: [], html: "" },
  tags: [],
  service: null,
  ticketId: 7,
  ticketKey: "CB-7",
  ticketState: "resolved",
  url: null,
  score: 3,
  matchedTerms: ["vpn", "tunnel", "hour"],
};

const runbook: KbHit = {
  ...pastCase,
  docId: "rb:1:vpn/Tunnel.md",
  kind: "runbook",
  title: "Tunnel down",
  ticketId: null,
  ticketKey: null,
  ticketState: null,
  section: { title: "Fix", anchor: "fix", level: 2 },
  matchedTerms: ["tunnel"],
};

describe("similar cases panel", () => {
  beforeEach(() => {
    vi.mocked(ipc.kbSimilar).mockResolvedValue({
      hits: [pastCase, runbook],
      state: "ready",
      emptyQuery: false,
      tookUs: 1,
    });
    vi.mocked(ipc.kbLink).mockResolvedValue(ticketView());
  });

  function show(links = ticketView().links) {
    const app = new AppState();
    render(SimilarCases, {
      props: { ticketId: 1, revision: 1, links },
      context: appContext(app),
    });
    return app;
  }

  it("explains each result by the shared terms and links with one key", async () => {
    show();
    await waitFor(() => expect(screen.getAllByTestId("similar-item")).toHaveLength(2));
    expect(ipc.kbSimilar).toHaveBeenCalledWith(1);
    const terms = screen.getAllByTestId("similar-terms").map((t) => t.textContent);
    expect(terms[0]).toContain("vpn, tunnel, hour");
    const [first, second] = screen.getAllByTestId("similar-item");
    await fireEvent.keyDown(first!, { key: "l" });
    expect(ipc.kbLink).toHaveBeenCalledWith({ ticketId: 1, docId: "case:7", kind: "related" });
    await fireEvent.keyDown(second!, { key: "k" });
    expect(ipc.kbLink).toHaveBeenLastCalledWith({
      ticketId: 1,
      docId: "rb:1:vpn/Tunnel.md",
      kind: "known_issue",
    });
  });

  it("opens a past case as a ticket and a runbook at its section", async () => {
    const app = show();
    await waitFor(() => expect(screen.getAllByTestId("similar-item")).toHaveLength(2));
    const [first, second] = screen.getAllByTestId("similar-item");
    await fireEvent.keyDown(second!, { key: "Enter" });
    expect(app.route).toEqual({
      name: "doc",
      docId: "rb:1:vpn/Tunnel.md",
      anchor: "fix",
      ticketId: null,
    });
    await fireEvent.keyDown(first!, { key: "Enter" });
    expect(app.route).toEqual({ name: "ticket", id: 7 });
  });

  it("shows what is already linked instead of the link buttons", async () => {
    show([{ id: 1, kind: "known_issue", target: "CB-7", title: null }]);
    await waitFor(() => expect(screen.getByText("Linked as known issue")).toBeInTheDocument());
  });
});
