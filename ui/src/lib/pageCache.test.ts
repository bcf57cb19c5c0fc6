import { describe, expect, it } from "vitest";
import { PageCache } from "./pageCache";

describe("PageCache", () => {
  it("evicts the least recently used page beyond its capacity", () => {
    const c = new PageCache<string>(2);
    c.set("a", "A", 0);
    c.set("b", "B", 0);
    c.get("a"); // a is now the most recent
    c.set("c", "C", 0);
    expect(c.peek("b")).toBeUndefined();
    expect(c.peek("a")?.value).toBe("A");
    expect(c.peek("c")?.value).toBe("C");
    expect(c.size).toBe(2);
  });

  it("keys pages by query and offset and remembers their generation", () => {
    const c = new PageCache<number[]>(10);
    c.set(PageCache.key("q1", 100), [1], 4);
    expect(c.peek(PageCache.key("q1", 100))).toEqual({ value: [1], generation: 4 });
    expect(c.peek(PageCache.key("q2", 100))).toBeUndefined();
    c.clear();
    expect(c.size).toBe(0);
  });
});
