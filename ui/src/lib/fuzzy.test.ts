import { describe, expect, it } from "vitest";
import { fuzzyFilter, fuzzyScore } from "./fuzzy";

describe("fuzzy", () => {
  it("matches characters in order and rejects the rest", () => {
    expect(fuzzyScore("nt", "New ticket")).not.toBeNull();
    expect(fuzzyScore("tn", "New ticket")).toBeNull(); // no "n" after the "t"
    expect(fuzzyScore("xyz", "New ticket")).toBeNull();
    expect(fuzzyScore("", "anything")).toBe(0);
  });

  it("ranks substrings and word starts first", () => {
    const items = ["Toggle theme", "Open settings", "New ticket", "Go to view: Unassigned"];
    expect(fuzzyFilter(items, "set", (s) => s)[0]).toBe("Open settings");
    expect(fuzzyFilter(items, "theme", (s) => s)).toEqual(["Toggle theme"]);
    expect(fuzzyFilter(items, "nt", (s) => s)[0]).toBe("New ticket");
  });
});
