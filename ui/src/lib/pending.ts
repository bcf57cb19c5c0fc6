/** The source of a ticket that lives only in this workspace (Rust `LOCAL_SOURCE`). */
export const LOCAL_SOURCE = "local";

/**
 * Whether a ticket has local changes waiting to reach an upstream. A local-only ticket's edits are
 * recorded in the outbox too (the event log's durable copy), but there is nothing to sync them
 * to, so it never shows as "Pending sync".
 */
export function waitsForSync(t: { source: string; pendingOps: number }): boolean {
  return t.source !== LOCAL_SOURCE && t.pendingOps > 0;
}
