/** Same rule as the Rust store: trimmed, lower-case, inner whitespace turned into `-`. */
export function normalizeTag(tag: string): string | null {
  const t = tag.trim().split(/\s+/).filter(Boolean).join("-").toLowerCase();
  return t === "" ? null : t;
}

/** Normalizes, deduplicates and sorts tags. */
export function normalizeTags(tags: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const t of tags) {
    const n = normalizeTag(t);
    if (n) out.add(n);
  }
  return [...out].sort();
}

/** Splits "vpn, access request" into tags. */
export function parseTagList(text: string): string[] {
  return normalizeTags(text.split(","));
}
