import { describe, expect, it } from "vitest";
import {
  BUILT_IN_VIEWS,
  emptyFilter,
  filtersEqual,
  normalizeFilter,
  queryKey,
  slugify,
} from "./filters";

describe("filters", () => {
  it("has the built-in views the sidebar and the e2e test expect", () => {
    expect(BUILT_IN_VIEWS.map((v) => v.slug)).toEqual([
      "all",
      "open",
      "unassigned",
      "urgent",
      "done",
    ]);
    const open = BUILT_IN_VIEWS.find((v) => v.slug === "open")!;
    expect(open.filter.states).toEqual(["new", "open", "pending", "on_hold"]);
  });

  it("compares filters regardless of list order and blank text", () => {
    const a = { ...emptyFilter(), states: ["open", "new"] as const, text: "  " };
    const b = { ...emptyFilter(), states: ["new", "open"] as const, text: null };
    expect(filtersEqual({ ...a, states: [...a.states] }, { ...b, states: [...b.states] })).toBe(
      true,
    );
    expect(filtersEqual(emptyFilter(), { ...emptyFilter(), unassigned: true })).toBe(false);
  });

  it("normalizes text and makes query keys that differ by order and direction", () => {
    expect(normalizeFilter({ ...emptyFilter(), text: " vpn " }).text).toBe("vpn");
    const f = emptyFilter();
    expect(queryKey(f, "updated", false)).not.toBe(queryKey(f, "updated", true));
    expect(queryKey(f, "updated", false)).not.toBe(queryKey(f, "priority", false));
    expect(queryKey(f, "updated", false)).toBe(queryKey(emptyFilter(), "updated", false));
  });

  it("slugifies view names", () => {
    expect(slugify("My VPN tickets!")).toBe("my-vpn-tickets");
    expect(slugify("***")).toBe("view");
  });
});
