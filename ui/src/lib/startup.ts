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
  | "first-frame";

export function markStartup(step: StartupStep): void {
  const name = `casebook:${step}`;
  if (typeof performance === "undefined" || performance.getEntriesByName(name).length > 0) return;
  performance.mark(name);
}
