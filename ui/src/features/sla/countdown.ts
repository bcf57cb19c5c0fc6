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

export type Tone = "breached" | "urgent" | "soon" | "ok" | "paused" | "done" | "none";

export interface Countdown {
  text: string;
  tone: Tone;
  /** Milliseconds to the due time (negative once breached); null when the clock is stopped. */
  left: number | null;
}

const LABEL: Record<string, string> = {
  first_response: "response",
  next_update: "update",
  resolution: "resolve",
};

/**
 * What a badge shows at `now`: time left to the due time (counting down live), time since the
 * breach, or why the clock is stopped. `urgent` under 15 minutes, `soon` under an hour.
 */
export function countdown(b: SlaBadge, now: number): Countdown {
  const what = b.kind ? LABEL[b.kind] : "";
  if (!b.kind || !b.state) return { text: "no SLA", tone: "none", left: null };
  if (b.state === "met") return { text: `${what} met`, tone: "done", left: null };
  if (b.state === "breached") {
    const since = b.breachedAt !== null ? now - b.breachedAt : null;
    return {
      text: since !== null && since >= 0 ? `${what} late ${formatSpan(since)}` : `${what} late`,
      tone: "breached",
      left: since !== null ? -since : null,
    };
  }
  if (b.state === "paused" || b.dueAt === null) {
    const left = b.remainingMs ?? 0;
    return { text: `paused · ${formatSpan(left)} left`, tone: "paused", left: null };
  }
  const left = b.dueAt - now;
  if (left <= 0) return { text: `${what} late ${formatSpan(-left)}`, tone: "breached", left };
  const tone: Tone = left < 15 * MINUTE ? "urgent" : left < HOUR ? "soon" : "ok";
  return { text: `${what} in ${formatSpan(left)}`, tone, left };
}
