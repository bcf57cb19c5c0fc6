import type { Problem } from "../../bindings/Problem";

export interface Piece {
  text: string;
  problem: Problem | null;
}

/**
 * Splits `text` so that every placeholder a problem names (left as written in the preview) is
 * its own piece: the macro picker marks those pieces so the agent sees what blocks sending.
 */
export function highlight(text: string, problems: Problem[]): Piece[] {
  const marks: { start: number; end: number; problem: Problem }[] = [];
  for (const p of problems) {
    if (!p.text) continue;
    let from = 0;
    for (;;) {
      const at = text.indexOf(p.text, from);
      if (at < 0) break;
      if (!marks.some((m) => at < m.end && at + p.text.length > m.start)) {
        marks.push({ start: at, end: at + p.text.length, problem: p });
      }
      from = at + p.text.length;
    }
  }
  marks.sort((a, b) => a.start - b.start);
  const out: Piece[] = [];
  let pos = 0;
  for (const m of marks) {
    if (m.start > pos) out.push({ text: text.slice(pos, m.start), problem: null });
    out.push({ text: text.slice(m.start, m.end), problem: m.problem });
    pos = m.end;
  }
  if (pos < text.length) out.push({ text: text.slice(pos), problem: null });
  return out;
}
