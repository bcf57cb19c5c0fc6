import type { HistoryEntry } from "../bindings/HistoryEntry";
import { fieldLabel, isPriority, isState, PRIORITY_LABEL, STATE_LABEL } from "./labels";

/** A field value from the event log, as words. */
export function formatValue(field: string, v: unknown): string {
  if (v === null || v === undefined || v === "") return "none";
  if (Array.isArray(v)) return v.length === 0 ? "none" : v.map((x) => String(x)).join(", ");
  if (field === "state" && isState(v)) return STATE_LABEL[v].toLowerCase();
  if (field === "priority" && isPriority(v)) return PRIORITY_LABEL[v].toLowerCase();
  if (typeof v === "string") return v.length > 80 ? `${v.slice(0, 77)}…` : v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

/** "ana changed state from open to pending, priority from high to critical". */
export function describeHistory(e: HistoryEntry): string {
  switch (e.kind) {
    case "created":
      return `${e.actor} created the ticket`;
    case "commented":
      return e.visibility === "internal"
        ? `${e.actor} added an internal note`
        : e.visibility === "public"
          ? `${e.actor} added a public reply`
          : `${e.actor} commented`;
    case "updated": {
      if (e.changes.length === 0) return `${e.actor} updated the ticket`;
      const parts = e.changes.map((c) => {
        if (c.field === "description") return "the description";
        return `${fieldLabel(c.field)} from ${formatValue(c.field, c.from)} to ${formatValue(c.field, c.to)}`;
      });
      return `${e.actor} changed ${parts.join(", ")}`;
    }
  }
}
