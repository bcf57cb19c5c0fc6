import type { ReportFilter } from "../../bindings/ReportFilter";
import type { GroupBy } from "../../bindings/GroupBy";

const DAY = 86_400_000;

/** `YYYY-MM-DD` → UTC midnight (ms); null when not a date. */
export function dayStart(s: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return null;
  const t = Date.parse(`${s}T00:00:00Z`);
  return Number.isNaN(t) ? null : t;
}

/** The filter for a period of whole UTC days, `to` included. */
export function periodFilter(from: string, to: string, by: GroupBy): ReportFilter | string {
  const a = dayStart(from);
  const b = dayStart(to);
  if (a === null || b === null) return "Enter both dates as YYYY-MM-DD";
  if (b < a) return "The period must end after it starts";
  return { from: a, to: b + DAY, sources: [], groups: [], assignees: [], by };
}

export function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function minutes(ms: number | null): string {
  if (ms === null) return "—";
  const m = Math.round(ms / 60_000);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h} h ${m % 60} min` : `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function percent(v: number | null): string {
  return v === null ? "—" : `${Math.round(v)}%`;
}
