// Pure helpers of the escalation editor (tested in helpers.test.ts).
import type { PackageContent } from "../../bindings/PackageContent";

/**
 * The text of a field named the way the redaction preview names it (`summary`, `steps[2]`,
 * `evidence.extracts[0]`, `evidence.extracts[0].note`, `impact.howMany`, …); `null` when there is
 * no such field.
 */
export function fieldText(c: PackageContent, section: string): string | null {
  const m = /^([a-zA-Z.]+?)(?:\[(\d+)\](?:\.([a-zA-Z]+))?)?$/.exec(section);
  if (!m) return null;
  const [, path = "", index, sub] = m;
  const i = index === undefined ? -1 : Number(index);
  const at = <T>(list: T[]): T | undefined => (i >= 0 && i < list.length ? list[i] : undefined);
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  switch (path) {
    case "title":
    case "summary":
    case "expected":
    case "actual":
    case "communication":
      return index === undefined && !sub ? c[path] : null;
    case "steps":
      return str(at(c.stepsToReproduce));
    case "evidence.extracts": {
      const x = at(c.evidence.extracts);
      if (!x) return null;
      return sub === undefined
        ? x.text
        : sub === "source"
          ? x.source
          : sub === "note"
            ? x.note
            : null;
    }
    case "evidence.ids":
      return at(c.evidence.ids)?.value ?? null;
    case "evidence.attachments":
      return str(at(c.evidence.attachments));
    case "timeline":
      return at(c.timeline)?.text ?? null;
    case "related": {
      const r = at(c.related);
      return !r ? null : sub === "target" ? r.target : sub === "title" ? r.title : null;
    }
    default: {
      if (index !== undefined) return null;
      const [group, key = ""] = path.split(".");
      if (group === "impact" && (key === "who" || key === "howMany" || key === "business")) {
        return c.impact[key];
      }
      if (group === "workaround" && (key === "tried" || key === "result")) return c.workaround[key];
      if (group === "environment" && key in c.environment) {
        return str(c.environment[key as keyof PackageContent["environment"]]);
      }
      return null;
    }
  }
}

/** A readable name for a preview section. */
export function sectionLabel(section: string): string {
  const m = /^([a-zA-Z.]+?)(?:\[(\d+)\](?:\.([a-zA-Z]+))?)?$/.exec(section);
  if (!m) return section;
  const [, path = "", index, sub] = m;
  const names: Record<string, string> = {
    title: "Title",
    summary: "Summary",
    expected: "Expected",
    actual: "Actual",
    communication: "Customer communication",
    steps: "Step",
    "evidence.extracts": "Log extract",
    "evidence.ids": "Evidence id",
    "evidence.attachments": "Attachment",
    timeline: "Timeline entry",
    related: "Related",
    "impact.who": "Impact: who",
    "impact.howMany": "Impact: how many",
    "impact.business": "Impact: business",
    "workaround.tried": "Workaround tried",
    "workaround.result": "Workaround result",
  };
  const base = names[path] ?? path.replace(/^environment\./, "Environment: ");
  const n = index === undefined ? "" : ` ${Number(index) + 1}`;
  return sub ? `${base}${n} (${sub})` : `${base}${n}`;
}

/** UTC milliseconds as `2024-10-10 20:55:39Z` (what the timeline editor shows and reads). */
export function formatUtc(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "";
  const iso = new Date(ms).toISOString(); // 2024-10-10T20:55:39.000Z
  const frac = iso.slice(19, 23) === ".000" ? "" : iso.slice(19, 23);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac}Z`;
}

/**
 * Reads a time the agent typed: `YYYY-MM-DD HH:MM[:SS[.mmm]]` with `Z` or an offset (no zone:
 * UTC), or a date alone (midnight UTC). `null` when it is not such a time.
 */
export function parseUtc(text: string): number | null {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(
      text.trim(),
    );
  if (!m) return null;
  const [, y, mo, d, h = "00", mi = "00", s = "00", frac = "", zone = "Z"] = m;
  const z =
    zone.toUpperCase() === "Z"
      ? "Z"
      : zone.length === 5
        ? `${zone.slice(0, 3)}:${zone.slice(3)}`
        : zone;
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${frac.padEnd(frac ? 4 : 0, "0")}${z}`);
  if (Number.isNaN(ms)) return null;
  // Reject dates that roll over (2024-02-31 would become March 2).
  if (z === "Z" && new Date(ms).getUTCDate() !== Number(d)) return null;
  return ms;
}

/** A log's name for evidence and the timeline: the file name of a path, or "pasted". */
export function logSource(path: string | null): string {
  if (!path) return "pasted";
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

/** Bytes as a short human figure (progress of a large log). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** A label for a custom redaction rule: lower-case letters, digits and `-`, never empty. */
export function ruleLabel(text: string): string {
  const l = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 32);
  return l || "custom";
}
