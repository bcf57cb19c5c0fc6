import { describe, expect, it } from "vitest";
import type { Span } from "../../bindings/Span";
import { byteOffsetsToIndices, segments, spanValue, utf8ByteLength } from "./spans";

function span(start: number, end: number, label = "email"): Span {
  return { kind: "email", label, start, end, placeholder: `<${label}-1>` };
}

/** Byte offsets of `needle` in `text`, computed the way Rust does (UTF-8). */
function byteRange(text: string, needle: string): [number, number] {
  const i = text.indexOf(needle);
  const start = utf8ByteLength(text.slice(0, i));
  return [start, start + utf8ByteLength(needle)];
}

describe("byte offsets to string indices", () => {
  it("is the identity on ASCII", () => {
    expect(byteOffsetsToIndices("hello", [0, 2, 5, 9])).toEqual([0, 2, 5, 5]);
  });

  it("handles 2-, 3- and 4-byte characters and surrogate pairs", () => {
    // é = 2 bytes, 中 = 3 bytes, 😀 = 4 bytes and 2 UTF-16 units.
    const text = "é中😀x";
    expect(utf8ByteLength(text)).toBe(10);
    expect(byteOffsetsToIndices(text, [0, 2, 5, 9, 10])).toEqual([0, 1, 2, 4, 5]);
    // Unsorted input keeps its order.
    expect(byteOffsetsToIndices(text, [9, 0, 5])).toEqual([4, 0, 2]);
  });

  it("cuts the right characters out of non-ASCII text", () => {
    const text = "Über 😀 Kunde: jürgen.müller@exämple.de schrieb — ok";
    const email = "jürgen.müller@exämple.de";
    const [s, e] = byteRange(text, email);
    // A naive slice by byte offsets would be off by several characters.
    expect(text.slice(s, e)).not.toBe(email);
    expect(spanValue(text, span(s, e))).toBe(email);
    const segs = segments(text, [span(s, e)]);
    expect(segs.map((x) => x.kind)).toEqual(["text", "redacted", "text"]);
    expect(segs[1]?.text).toBe(email);
    expect(segs.map((x) => x.text).join("")).toBe(text);
  });
});

describe("segments", () => {
  it("orders spans, clips overlaps and keeps every character once", () => {
    const text = "a@b.c and d@e.f and g";
    const segs = segments(text, [span(10, 15), span(0, 5), span(3, 7)]);
    expect(segs.map((s) => s.text).join("")).toBe(text);
    expect(segs.filter((s) => s.kind === "redacted").map((s) => s.text)).toEqual([
      "a@b.c",
      " a",
      "d@e.f",
    ]);
    const idx = segs.flatMap((s) => (s.kind === "redacted" ? [s.index] : []));
    expect(idx).toEqual([1, 2, 0]);
  });

  it("returns the text alone when nothing is redacted", () => {
    expect(segments("plain", [])).toEqual([{ kind: "text", text: "plain" }]);
    expect(segments("", [])).toEqual([]);
  });
});
