/**
 * Start-up marks on the Performance timeline (`casebook:*`), read by the real-webview test that
 * measures app start to first queue paint, so a regression can be traced to the step that grew.
 * Each mark is set once; later calls are ignored.
 */
export type StartupStep =
  | "script"
  | "workspace-asked"
  | "workspace-info"
  | "shell-mounted"
  | "queue-asked"
  | "first-page"
  | "rows-painted";

const marked = new Set<StartupStep>();

/** Whether `step` was marked already (callers skip work that only serves the mark). */
export function startupMarked(step: StartupStep): boolean {
  return marked.has(step);
}

export function markStartup(step: StartupStep): void {
  if (marked.has(step) || typeof performance === "undefined") return;
  marked.add(step);
  performance.mark(`casebook:${step}`);
}
