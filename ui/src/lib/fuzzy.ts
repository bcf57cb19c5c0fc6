// Fuzzy matching for the command palette: the query's characters must appear in order; matches at
// word starts and runs of consecutive characters score higher.

export function fuzzyScore(query: string, text: string): number | null {
  const q = query.trim().toLowerCase();
  if (q === "") return 0;
  const t = text.toLowerCase();
  // A plain substring beats any scattered match.
  const sub = t.indexOf(q);
  if (sub >= 0) return 1000 - sub + (sub === 0 || /\W/.test(t[sub - 1] ?? "") ? 100 : 0);
  let score = 0;
  let ti = 0;
  let prev = -2;
  for (const ch of q) {
    if (ch === " ") continue;
    const found = t.indexOf(ch, ti);
    if (found < 0) return null;
    const atWordStart = found === 0 || /[\s\-_/&]/.test(t[found - 1] ?? "");
    score += 10;
    if (found === prev + 1) score += 15;
    if (atWordStart) score += 20;
    score -= Math.min(found - ti, 10);
    prev = found;
    ti = found + 1;
  }
  return score;
}

/** The items matching `query`, best first (ties keep their original order). */
export function fuzzyFilter<T>(items: readonly T[], query: string, text: (item: T) => string): T[] {
  const scored: { item: T; score: number; i: number }[] = [];
  items.forEach((item, i) => {
    const score = fuzzyScore(query, text(item));
    if (score !== null) scored.push({ item, score, i });
  });
  scored.sort((a, b) => b.score - a.score || a.i - b.i);
  return scored.map((s) => s.item);
}
