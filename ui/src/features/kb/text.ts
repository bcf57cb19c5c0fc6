import type { KbRange } from "../../bindings/KbRange";

export interface Segment {
  text: string;
  mark: boolean;
}

/**
 * Splits `text` into plain and highlighted parts by UTF-16 ranges (as the search returns them);
 * ranges out of order, overlapping or out of bounds are clamped, never thrown on.
 */
export function segments(text: string, ranges: readonly KbRange[]): Segment[] {
  const out: Segment[] = [];
  let at = 0;
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  for (const r of sorted) {
    const start = Math.max(at, Math.min(r.start, text.length));
    const end = Math.max(start, Math.min(r.end, text.length));
    if (start > at) out.push({ text: text.slice(at, start), mark: false });
    if (end > start) out.push({ text: text.slice(start, end), mark: true });
    at = end;
  }
  if (at < text.length) out.push({ text: text.slice(at), mark: false });
  return out;
}

/** Backslash-escapes the characters Markdown would read as formatting. */
export function escapeMarkdown(s: string): string {
  return s.replace(/[\\`*_[\]<>#|~]/g, (c) => `\\${c}`);
}

export interface Step {
  text: string;
  done: boolean;
}

/**
 * The internal work note "use on this ticket" records: which runbook (title and path) and which
 * of its checklist steps were done.
 */
export function runbookWorkNote(
  doc: { title: string; path: string; section?: string | null },
  steps: readonly Step[],
): string {
  const where = doc.section ? ` › ${escapeMarkdown(doc.section)}` : "";
  const lines = [
    `Used runbook **${escapeMarkdown(doc.title)}**${where} (${escapeMarkdown(doc.path)}).`,
  ];
  if (steps.length > 0) {
    const done = steps.filter((s) => s.done).length;
    lines.push("", `Steps done: ${done} of ${steps.length}`);
    for (const s of steps) {
      const text = escapeMarkdown(s.text.replace(/\s+/g, " ").trim()) || "(empty step)";
      lines.push(`- [${s.done ? "x" : " "}] ${text}`);
    }
  }
  return lines.join("\n");
}

/** "1.2 MB", "340 KB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

export const KIND_LABEL: Record<string, string> = {
  runbook: "Runbook",
  runbook_section: "Runbook",
  past_case: "Past case",
  kb_article: "Article",
};
