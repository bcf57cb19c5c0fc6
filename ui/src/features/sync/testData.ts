// Sample sync DTOs for the sync tests.
import type { ConflictView } from "../../bindings/ConflictView";
import type { OutboxOpView } from "../../bindings/OutboxOpView";
import type { SyncStatusView } from "../../bindings/SyncStatusView";

export function status(over: Partial<SyncStatusView> = {}): SyncStatusView {
  return {
    connectionId: 1,
    connectionName: "ServiceNow prod",
    vendor: "servicenow",
    lastStartedAt: null,
    lastSuccessAt: null,
    lastError: null,
    lastErrorKind: null,
    kbStatus: null,
    pendingOps: 0,
    unknownOps: 0,
    failedOps: 0,
    conflicts: 0,
    deletedUpstream: 0,
    tickets: 0,
    supported: true,
    ...over,
  };
}

export function op(over: Partial<OutboxOpView> = {}): OutboxOpView {
  return {
    id: 1,
    ticketId: 10,
    ticketKey: "INC0010",
    target: "1",
    op: "update",
    status: "pending",
    summary: 'priority → "high"',
    attempts: 0,
    lastError: null,
    errorKind: null,
    nextAttemptAt: null,
    createdAt: 1_700_000_000_000,
    deletedUpstream: false,
    ...over,
  };
}

export function conflict(over: Partial<ConflictView> = {}): ConflictView {
  return {
    id: 7,
    ticketId: 10,
    ticketKey: "INC0010",
    ticketTitle: "VPN drops every hour",
    field: "priority",
    base: "normal",
    mine: "high",
    theirs: "urgent",
    createdAt: 1_700_000_000_000,
    ...over,
  };
}
