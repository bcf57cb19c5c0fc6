// Pure text for the sync screen and the sync indicator (issue 5): labels of the outbox states,
// progress lines, the indicator's words, and the conflict inbox's values.
import type { OutboxOpView } from "../../bindings/OutboxOpView";
import type { OutboxStatus } from "../../bindings/OutboxStatus";
import type { SyncProgress } from "../../bindings/SyncProgress";
import type { SyncRunView } from "../../bindings/SyncRunView";
import type { SyncStatusView } from "../../bindings/SyncStatusView";

/** Error kinds that mean the upstream could not be reached (rather than refused or broke). */
const NETWORK_KINDS = new Set(["offline", "timeout"]);

export function isNetworkKind(kind: string | null | undefined): boolean {
  return kind !== null && kind !== undefined && NETWORK_KINDS.has(kind);
}

const STATE_LABELS: Record<OutboxStatus, string> = {
  pending: "Pending",
  in_flight: "In flight",
  unknown: "Unknown outcome",
  conflict: "Conflict",
  failed: "Failed",
  done: "Done",
};

export function stateLabel(status: OutboxStatus): string {
  return STATE_LABELS[status];
}

/** The words under an operation's state: why it failed, when it is tried again, what happens next. */
export function stateDetail(op: OutboxOpView, now: number): string {
  switch (op.status) {
    case "failed":
      return op.lastError ? `Failed: ${op.lastError}` : "Failed";
    case "unknown":
      return "The answer was lost; the next sync checks upstream before writing again";
    case "conflict":
      return "Changed upstream too: settle it in the conflict inbox";
    case "in_flight":
      return "Being sent now";
    case "pending": {
      const parts: string[] = [];
      if (op.attempts > 0 && op.lastError) parts.push(`Last try: ${op.lastError}`);
      if (op.nextAttemptAt !== null && op.nextAttemptAt > now) {
        parts.push(`next try in ${waitText(op.nextAttemptAt - now)}`);
      }
      return parts.length ? parts.join("; ") : "Waits for the next sync";
    }
    case "done":
      return "Applied upstream";
  }
}

/** Which actions make sense for an operation in this state. */
export function opActions(op: OutboxOpView): { retry: boolean; discard: boolean } {
  return {
    retry: op.status === "failed" || op.status === "unknown" || op.status === "pending",
    discard: op.status !== "in_flight" && op.status !== "done",
  };
}

export function waitText(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.ceil(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.ceil(m / 60)} h`;
}

/** One line for a running sync. */
export function progressText(p: SyncProgress | null): string {
  if (p === null) return "Starting…";
  switch (p.phase) {
    case "pulling":
      return `Pulling ${p.scope}: ${p.tickets.toLocaleString()} ticket${p.tickets === 1 ? "" : "s"}, ${p.pages} page${p.pages === 1 ? "" : "s"}`;
    case "pushing":
      return `Pushing ${p.done} of ${p.total}`;
    case "sweeping":
      return `Checking ${p.scope} for deleted tickets`;
    case "articles":
      return `Knowledge base: ${p.articles.toLocaleString()} article${p.articles === 1 ? "" : "s"}`;
    case "waiting":
      return `Waiting ${waitText(p.waitMs)}: ${p.reason}`;
    case "finished":
      return "Finished";
  }
}

/** A fraction 0..1 when the phase has one (pushing), else null (an indeterminate bar). */
export function progressFraction(p: SyncProgress | null): number | null {
  if (p?.phase === "pushing" && p.total > 0) return Math.min(1, p.done / p.total);
  if (p?.phase === "finished") return 1;
  return null;
}

/** The toast after a sync: what it did, or why it stopped. */
export function runSummary(
  name: string,
  r: SyncRunView,
): { kind: "success" | "warning"; text: string } {
  const pulled = r.ticketsCreated + r.ticketsUpdated;
  const parts = [
    `${pulled.toLocaleString()} ticket${pulled === 1 ? "" : "s"} pulled`,
    `${r.pushed} change${r.pushed === 1 ? "" : "s"} pushed`,
  ];
  if (r.conflicts > 0) parts.push(`${r.conflicts} conflict${r.conflicts === 1 ? "" : "s"}`);
  if (r.failed > 0) parts.push(`${r.failed} failed`);
  if (r.unknown > 0) parts.push(`${r.unknown} unknown outcome`);
  if (r.articles > 0 || r.articlesRemoved > 0) {
    const kb = [`${r.articles.toLocaleString()} article${r.articles === 1 ? "" : "s"}`];
    if (r.articlesRemoved > 0) kb.push(`${r.articlesRemoved} removed`);
    parts.push(`knowledge base: ${kb.join(", ")}`);
  }
  if (r.stopped) {
    return { kind: "warning", text: `${name}: sync stopped (${r.stopped}); ${parts.join(", ")}` };
  }
  const warn = r.conflicts > 0 || r.failed > 0 || r.unknown > 0 || r.errors.length > 0;
  const errs =
    r.errors.length > 0
      ? `; ${r.errors.length} problem${r.errors.length === 1 ? "" : "s"}: ${r.errors[0]}`
      : "";
  // A note (e.g. "no Confluence space set") is information, not a problem.
  const notes = r.notes.length > 0 ? `; ${r.notes.join("; ")}` : "";
  return {
    kind: warn ? "warning" : "success",
    text: `${name} synced: ${parts.join(", ")}${errs}${notes}`,
  };
}

export interface IndicatorState {
  pending: number;
  conflicts: number;
  failed: number;
  offline: boolean;
  /** The short text in the sidebar; empty when there is nothing to say. */
  text: string;
  /** The longer explanation (tooltip / accessible name). */
  title: string;
}

/** The app-wide indicator from every connection's status. */
export function indicator(statuses: readonly SyncStatusView[], syncing: boolean): IndicatorState {
  let pending = 0;
  let conflicts = 0;
  let failed = 0;
  const offlineNames: string[] = [];
  for (const s of statuses) {
    // Every operation not yet done upstream (unknown outcomes, failures and conflicts included:
    // the store counts them all in pendingOps).
    pending += s.pendingOps;
    conflicts += s.conflicts;
    failed += s.failedOps;
    if (isNetworkKind(s.lastErrorKind) && s.lastError !== null) offlineNames.push(s.connectionName);
  }
  const offline = statuses.length > 0 && offlineNames.length > 0;
  const parts: string[] = [];
  if (syncing) parts.push("Syncing…");
  else if (offline) parts.push("Offline");
  if (pending > 0) parts.push(`${pending.toLocaleString()} pending`);
  if (conflicts > 0) parts.push(`${conflicts} conflict${conflicts === 1 ? "" : "s"}`);
  if (failed > 0) parts.push(`${failed} failed`);
  const titles: string[] = [];
  if (offline) titles.push(`Last sync could not reach ${offlineNames.join(", ")}`);
  if (pending > 0)
    titles.push(`${pending} local change${pending === 1 ? "" : "s"} not yet synced upstream`);
  if (conflicts > 0) titles.push(`${conflicts} conflict${conflicts === 1 ? "" : "s"} to settle`);
  if (failed > 0) titles.push(`${failed} operation${failed === 1 ? "" : "s"} failed`);
  if (titles.length === 0) titles.push(statuses.length ? "Everything is synced" : "No connections");
  return { pending, conflicts, failed, offline, text: parts.join(" · "), title: titles.join("; ") };
}

/** A conflict value as text: strings as they are, nothing as "(empty)", the rest as JSON. */
export function valueText(v: unknown): string {
  if (v === null || v === undefined || v === "") return "(empty)";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

/** The edit box's starting text for a value. */
export function editText(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

/**
 * Reads the edited text as a value of the same kind as `like` (mine or theirs): text stays
 * text, numbers must be numbers, anything else is JSON. Empty text clears a text field.
 */
export function parseEdited(
  text: string,
  like: unknown,
): { ok: true; value: unknown } | { ok: false; error: string } {
  if (typeof like === "string" || like === null || like === undefined) {
    return { ok: true, value: text.trim() === "" && like === null ? null : text };
  }
  if (typeof like === "number") {
    const n = Number(text.trim());
    if (text.trim() === "" || !Number.isFinite(n)) return { ok: false, error: "enter a number" };
    return { ok: true, value: n };
  }
  if (typeof like === "boolean") {
    const t = text.trim().toLowerCase();
    if (t === "true" || t === "false") return { ok: true, value: t === "true" };
    return { ok: false, error: "enter true or false" };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, error: 'enter a JSON value (e.g. ["a", "b"])' };
  }
}
