import type { SlaBadge } from "../../bindings/SlaBadge";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** `2 h 05 min`, `12 min`, `40 s`, `3 d 4 h`. */
export function formatSpan(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < MINUTE) return `${Math.floor(abs / 1000)} s`;
  const m = Math.floor(abs / MINUTE);
  const d = Math.floor(m / 1440);
  const h = Math.floor((m % 1440) / 60);
  const min = m % 60;
  if (d > 0) return h > 0 ? `${d} d ${h} h` : `${d} d`;
  if (h > 0) return `${h} h ${String(min).padStart(2, "0")} min`;
  return `${min} min`;
}

/** The same span, compact for a narrow column: `2h 05m`, `12m`, `40s`, `3d 4h`. */
export function formatSpanShort(ms: number): string {
  return formatSpan(ms)
    .replace(/ (min|s|h|d)\b/g, (_, unit: string) => (unit === "min" ? "m" : unit))
    .trim();
}

export type Tone = "breached" | "urgent" | "soon" | "ok" | "paused" | "done" | "none";

export interface Countdown {
  text: string;
  /** The text for a narrow column (beside an open ticket): the time alone, or the state. */
  short: string;
  /** The same for a screen reader, in a full sentence. */
  label: string;
  tone: Tone;
  /** Milliseconds to the due time (negative once breached); null when the clock is stopped. */
  left: number | null;
}

const LABEL: Record<string, string> = {
  first_response: "response",
  next_update: "update",
  resolution: "resolve",
};

const SPOKEN: Record<string, string> = {
  first_response: "First response",
  next_update: "Next update",
  resolution: "Resolution",
};

/**
 * What a badge shows at `now`: time left to the due time (counting down live), time since the
 * breach, or why the clock is stopped. `urgent` under 15 minutes, `soon` under an hour.
 */
export function countdown(b: SlaBadge, now: number): Countdown {
  const what = b.kind ? LABEL[b.kind] : "";
  const spoken = b.kind ? SPOKEN[b.kind] : "SLA";
  if (!b.kind || !b.state) {
    return { text: "no SLA", short: "–", label: "No SLA applies", tone: "none", left: null };
  }
  if (b.state === "met") {
    return {
      text: `${what} met`,
      short: "met",
      label: `${spoken} met`,
      tone: "done",
      left: null,
    };
  }
  if (b.state === "breached") {
    const since = b.breachedAt !== null ? now - b.breachedAt : null;
    const known = since !== null && since >= 0;
    return {
      text: known ? `${what} overdue ${formatSpan(since)}` : `${what} overdue`,
      short: known ? `−${formatSpanShort(since)}` : "overdue",
      label: known ? `${spoken} overdue by ${formatSpan(since)}` : `${spoken} overdue`,
      tone: "breached",
      left: since !== null ? -since : null,
    };
  }
  if (b.state === "paused" || b.dueAt === null) {
    const left = formatSpan(b.remainingMs ?? 0);
    return {
      text: `paused · ${left} left`,
      short: "paused",
      label: `${spoken} clock paused, ${left} of business time left`,
      tone: "paused",
      left: null,
    };
  }
  const left = b.dueAt - now;
  if (left <= 0) {
    return {
      text: `${what} overdue ${formatSpan(-left)}`,
      short: `−${formatSpanShort(-left)}`,
      label: `${spoken} overdue by ${formatSpan(-left)}`,
      tone: "breached",
      left,
    };
  }
  const tone: Tone = left < 15 * MINUTE ? "urgent" : left < HOUR ? "soon" : "ok";
  return {
    text: `${what} in ${formatSpan(left)}`,
    short: formatSpanShort(left),
    label: `${spoken} due in ${formatSpan(left)}`,
    tone,
    left,
  };
}
