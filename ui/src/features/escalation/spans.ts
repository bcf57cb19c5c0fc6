// Redaction spans arrive from Rust as UTF-8 byte offsets into a field's text; JavaScript strings
// are indexed in UTF-16 code units. These helpers convert between the two and cut a text into
// plain and redacted segments for the preview.
import type { Span } from "../../bindings/Span";

/** UTF-8 length of one code point. */
function utf8Len(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/**
 * Converts UTF-8 byte offsets into `text` to UTF-16 indices. An offset inside a code point (never
 * produced by the Rust side) rounds up to the next code point; offsets past the end map to
 * `text.length`.
 */
export function byteOffsetsToIndices(text: string, offsets: readonly number[]): number[] {
  const order = offsets.map((o, i) => [o, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(offsets.length);
  let byte = 0;
  let idx = 0;
  let k = 0;
  while (k < order.length) {
    const [target, slot] = order[k] ?? [0, 0];
    if (byte >= target || idx >= text.length) {
      out[slot] = idx;
      k++;
      continue;
    }
    const cp = text.codePointAt(idx) ?? 0;
    byte += utf8Len(cp);
    idx += cp > 0xffff ? 2 : 1;
  }
  return out;
}

/** UTF-8 byte length of a string (what the Rust side counts). */
export function utf8ByteLength(text: string): number {
  let n = 0;
  for (const ch of text) n += utf8Len(ch.codePointAt(0) ?? 0);
  return n;
}

export type Segment =
  { kind: "text"; text: string } | { kind: "redacted"; text: string; span: Span; index: number };

/**
 * Cuts `text` into plain and redacted segments, in order. Spans are byte ranges; overlapping or
 * out-of-order spans are clipped so every character appears exactly once.
 */
export function segments(text: string, spans: readonly Span[]): Segment[] {
  const bounds = byteOffsetsToIndices(
    text,
    spans.flatMap((s) => [s.start, s.end]),
  );
  const ranges = spans
    .map((span, index) => ({
      span,
      index,
      from: bounds[2 * index] ?? 0,
      to: bounds[2 * index + 1] ?? 0,
    }))
    .sort((a, b) => a.from - b.from);
  const out: Segment[] = [];
  let at = 0;
  for (const r of ranges) {
    const from = Math.max(r.from, at);
    if (r.to <= from) continue;
    if (from > at) out.push({ kind: "text", text: text.slice(at, from) });
    out.push({ kind: "redacted", text: text.slice(from, r.to), span: r.span, index: r.index });
    at = r.to;
  }
  if (at < text.length) out.push({ kind: "text", text: text.slice(at) });
  return out;
}

/** The original value a span covers (for "undo": the value is allowed from then on). */
export function spanValue(text: string, span: Span): string {
  const [from = 0, to = 0] = byteOffsetsToIndices(text, [span.start, span.end]);
  return text.slice(from, to);
}
