import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { KbHit } from "../../bindings/KbHit";
import type { KbSearchInput } from "../../bindings/KbSearchInput";
import type { PaletteAction } from "../palette/actions";
import Palette from "../palette/Palette.svelte";
import { KbSearchModel } from "./kbSearch.svelte";

vi.mock("../../ipc");

function hit(title: string, over: Partial<KbHit> = {}): KbHit {
  return {
    docId: `rb:1:${title}.md`,
    kind: "runbook",
    title,
    titleRanges: [],
    path: `kube/${title}.md`,
    section: { title: "Diagnosis", anchor: "diagnosis", level: 2 },
    snippet: {
      text: "pods in CrashLoopBackOff <b>",
      ranges: [],
      // What Rust sends: the text escaped, matches in <mark>.
      html: "pods in <mark>CrashLoopBackOff</mark> &lt;b&gt;",
    },
    tags: [],
    service: null,
    ticketId: null,
    ticketKey: null,
    ticketState: null,
    url: null,
    score: 1,
    matchedTerms: ["crashloopbackoff"],
    ...over,
  };
}

const actions: PaletteAction[] = [
  { id: "theme", label: "Toggle theme", run: vi.fn() },
  { id: "settings", label: "Open settings", run: vi.fn() },
];

describe("palette with the knowledge base", () => {
  it("searches as you type, previews the selected result and opens it with Enter", async () => {
    const search = vi.fn(async (input: KbSearchInput) => ({
      hits: input.query.startsWith("crash")
        ? [hit("PodCrashLooping"), hit("NodeDown", { section: null })]
        : [],
      state: "ready" as const,
      emptyQuery: false,
      tookUs: 1,
    }));
    const kb = new KbSearchModel(search, 0);
    const onopenhit = vi.fn();
    const onclose = vi.fn();
    const user = userEvent.setup();
    render(Palette, { props: { actions, openKey: vi.fn(), onclose, kb, onopenhit } });

    await user.type(screen.getByTestId("palette-input"), "crash");
    await waitFor(() => expect(screen.getAllByTestId("kb-hit")).toHaveLength(2));
    // The first result is active: its preview shows the section and the highlighted snippet,
    // with the escaped text staying text.
    const preview = screen.getByTestId("kb-preview");
    expect(screen.getByTestId("kb-preview-section").textContent).toContain("Diagnosis");
    const snippet = screen.getByTestId("kb-preview-snippet");
    expect(snippet.querySelector("mark")?.textContent).toBe("CrashLoopBackOff");
    expect(snippet.querySelector("b")).toBeNull();
    expect(snippet.textContent).toContain("<b>");
    expect(preview.textContent).toContain("kube/PodCrashLooping.md");

    await user.keyboard("{ArrowDown}");
    expect(screen.getByTestId("kb-preview").textContent).toContain("NodeDown");
    await user.keyboard("{Enter}");
    expect(onclose).toHaveBeenCalled();
    expect(onopenhit).toHaveBeenCalledWith(expect.objectContaining({ title: "NodeDown" }));
  });

  it("keeps matching commands first and toggles kind filters with Alt+digit", async () => {
    const search = vi.fn(async () => ({
      hits: [hit("Settings drift")],
      state: "ready" as const,
      emptyQuery: false,
      tookUs: 1,
    }));
    const kb = new KbSearchModel(search, 0);
    const user = userEvent.setup();
    render(Palette, { props: { actions, openKey: vi.fn(), onclose: vi.fn(), kb } });
    await user.type(screen.getByTestId("palette-input"), "settings");
    await waitFor(() => expect(screen.getAllByTestId("kb-hit")).toHaveLength(1));
    expect(screen.getAllByTestId("palette-item")[0]!.getAttribute("aria-selected")).toBe("true");
    await user.keyboard("{Alt>}2{/Alt}");
    await waitFor(() =>
      expect(search).toHaveBeenLastCalledWith(
        expect.objectContaining({ filters: expect.objectContaining({ kinds: ["past_case"] }) }),
      ),
    );
    expect(screen.getByTestId("kb-filter-past_case").getAttribute("aria-pressed")).toBe("true");
  });

  it("says when nothing was found", async () => {
    const search = vi.fn(async () => ({
      hits: [],
      state: "ready" as const,
      emptyQuery: false,
      tookUs: 1,
    }));
    const kb = new KbSearchModel(search, 0);
    const user = userEvent.setup();
    render(Palette, { props: { actions, openKey: vi.fn(), onclose: vi.fn(), kb } });
    await user.type(screen.getByTestId("palette-input"), "qqqqzz");
    await waitFor(() => expect(screen.getByText(/Nothing found for/)).toBeInTheDocument());
  });
});
