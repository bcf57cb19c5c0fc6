import { fireEvent, render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { filterActions, type PaletteAction } from "./actions";
import Palette from "./Palette.svelte";

function actions() {
  const run = vi.fn();
  const list: PaletteAction[] = [
    { id: "new", label: "New ticket", hint: "N", run: () => run("new") },
    { id: "filter", label: "Focus filter", run: () => run("filter") },
    { id: "view:open", label: "Go to view: Open work", run: () => run("open") },
    { id: "view:unassigned", label: "Go to view: Unassigned", run: () => run("unassigned") },
    { id: "theme", label: "Toggle theme", keywords: "dark light", run: () => run("theme") },
    { id: "settings", label: "Open settings", run: () => run("settings") },
  ];
  return { list, run };
}

const labels = () => screen.getAllByTestId("palette-item").map((li) => li.textContent?.trim());

describe("palette filtering", () => {
  it("ranks fuzzy matches and offers to open a ticket by key", () => {
    const { list } = actions();
    const open = vi.fn();
    expect(filterActions(list, "theme", open).map((a) => a.id)).toEqual(["theme"]);
    expect(filterActions(list, "dark", open).map((a) => a.id)).toEqual(["theme"]);
    expect(filterActions(list, "gvo", open).map((a) => a.id)).toEqual(["view:open"]);
    expect(filterActions(list, "gvun", open).map((a) => a.id)).toEqual(["view:unassigned"]);
    const byKey = filterActions(list, "inc0000045", open);
    expect(byKey[0]!.label).toBe("Open INC0000045");
    void byKey[0]!.run();
    expect(open).toHaveBeenCalledWith("INC0000045");
  });

  it("filters as you type, moves with arrows and runs with Enter", async () => {
    const { list, run } = actions();
    const onclose = vi.fn();
    const user = userEvent.setup();
    render(Palette, { props: { actions: list, openKey: vi.fn(), onclose } });
    const input = screen.getByTestId("palette-input");
    expect(document.activeElement).toBe(input);
    expect(labels()).toHaveLength(6);

    await user.type(input, "view");
    expect(labels()).toEqual(["Go to view: Open work", "Go to view: Unassigned"]);
    const items = screen.getAllByTestId("palette-item");
    expect(items[0]!.getAttribute("aria-selected")).toBe("true");

    await user.keyboard("{ArrowDown}");
    expect(screen.getAllByTestId("palette-item")[1]!.getAttribute("aria-selected")).toBe("true");
    await user.keyboard("{Enter}");
    expect(run).toHaveBeenCalledWith("unassigned");
    expect(onclose).toHaveBeenCalled();
  });

  it("offers Open CB-12 for a typed key and closes on Escape", async () => {
    const { list } = actions();
    const openKey = vi.fn();
    const onclose = vi.fn();
    const user = userEvent.setup();
    render(Palette, { props: { actions: list, openKey, onclose } });
    await user.type(screen.getByTestId("palette-input"), "cb-12");
    expect(labels()[0]).toContain("Open CB-12");
    await user.keyboard("{Enter}");
    expect(openKey).toHaveBeenCalledWith("CB-12");

    await fireEvent.keyDown(screen.getByTestId("palette-input"), { key: "Escape" });
    expect(onclose).toHaveBeenCalledTimes(2);
  });

  it("says so when nothing matches", async () => {
    const { list } = actions();
    const user = userEvent.setup();
    render(Palette, { props: { actions: list, openKey: vi.fn(), onclose: vi.fn() } });
    await user.type(screen.getByTestId("palette-input"), "zzzz");
    expect(screen.queryAllByTestId("palette-item")).toHaveLength(0);
    expect(screen.getByText("No matching command")).toBeInTheDocument();
  });
});
