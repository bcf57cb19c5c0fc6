import { describe, expect, it } from "vitest";
import { clampIndex, computeWindow, pageOffsets, scrollToReveal } from "./virtual";

const base = { rowHeight: 36, viewportHeight: 360, overscan: 5 };

describe("computeWindow", () => {
  it("renders only the visible rows plus overscan at the top of a huge list", () => {
    const w = computeWindow({ ...base, scrollTop: 0, total: 100_000 });
    expect(w.start).toBe(0);
    // 10 visible rows + 1 partial + 5 overscan below.
    expect(w.end).toBe(16);
    expect(w.offsetTop).toBe(0);
    expect(w.totalHeight).toBe(3_600_000);
  });

  it("windows around the scroll position in the middle", () => {
    const w = computeWindow({ ...base, scrollTop: 36 * 50_000, total: 100_000 });
    expect(w.start).toBe(50_000 - 5);
    expect(w.end).toBe(50_000 + 11 + 5);
    expect(w.offsetTop).toBe((50_000 - 5) * 36);
    expect(w.end - w.start).toBeLessThan(30);
  });

  it("stops at the end of the list and clamps an overscrolled position", () => {
    const w = computeWindow({ ...base, scrollTop: 10_000_000, total: 100 });
    expect(w.end).toBe(100);
    expect(w.start).toBe(100 - 10 - 5);
  });

  it("handles a partial row offset and an empty list", () => {
    expect(computeWindow({ ...base, scrollTop: 50, total: 3 })).toEqual({
      start: 0,
      end: 3,
      offsetTop: 0,
      totalHeight: 108,
    });
    expect(computeWindow({ ...base, scrollTop: 0, total: 0 })).toEqual({
      start: 0,
      end: 0,
      offsetTop: 0,
      totalHeight: 0,
    });
  });

  it("never returns a negative start for a negative scroll (rubber-banding)", () => {
    const w = computeWindow({ ...base, scrollTop: -200, total: 1000 });
    expect(w.start).toBe(0);
    expect(w.offsetTop).toBe(0);
  });
});

describe("pageOffsets", () => {
  it("lists the pages that cover a row range", () => {
    expect(pageOffsets(0, 16, 100)).toEqual([0]);
    expect(pageOffsets(95, 120, 100)).toEqual([0, 100]);
    expect(pageOffsets(49_995, 50_016, 100)).toEqual([49_900, 50_000]);
    expect(pageOffsets(10, 10, 100)).toEqual([]);
  });
});

describe("scrollToReveal", () => {
  it("moves as little as possible to show a row", () => {
    // Already visible: unchanged.
    expect(scrollToReveal(3, 0, 360, 36)).toBe(0);
    // Below the viewport: its bottom edge aligns with the viewport's bottom.
    expect(scrollToReveal(10, 0, 360, 36)).toBe(36);
    // Above: its top edge aligns with the viewport's top.
    expect(scrollToReveal(2, 720, 360, 36)).toBe(72);
  });
});

describe("clampIndex", () => {
  it("keeps a selection inside the list", () => {
    expect(clampIndex(-1, 10)).toBe(0);
    expect(clampIndex(12, 10)).toBe(9);
    expect(clampIndex(5, 0)).toBe(0);
  });
});
