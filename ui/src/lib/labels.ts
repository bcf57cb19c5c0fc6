import type { Priority } from "../bindings/Priority";
import type { SortKey } from "../bindings/SortKey";
import type { TicketState } from "../bindings/TicketState";
import type { Visibility } from "../bindings/Visibility";

export const STATES: readonly TicketState[] = [
  "new",
  "open",
  "pending",
  "on_hold",
  "resolved",
  "closed",
];

export const PRIORITIES: readonly Priority[] = ["critical", "high", "medium", "low"];

export const SORT_KEYS: readonly SortKey[] = ["priority", "updated", "created", "risk"];

export const STATE_LABEL: Record<TicketState, string> = {
  new: "New",
  open: "Open",
  pending: "Pending",
  on_hold: "On hold",
  resolved: "Resolved",
  closed: "Closed",
};

export const PRIORITY_LABEL: Record<Priority, string> = {
  critical: "Critical",
  high: "High",
  medium: "Medium",
  low: "Low",
};

export const SORT_LABEL: Record<SortKey, string> = {
  priority: "Priority",
  updated: "Last updated",
  created: "Created",
  risk: "Time to breach",
};

export const VISIBILITY_LABEL: Record<Visibility, string> = {
  public: "Public reply",
  internal: "Internal note",
};

const FIELD_LABEL: Record<string, string> = {
  title: "title",
  description: "description",
  state: "state",
  priority: "priority",
  assignee: "assignee",
  assignment_group: "group",
  assignmentGroup: "group",
  tags: "tags",
};

export function fieldLabel(field: string): string {
  return FIELD_LABEL[field] ?? field.replace(/_/g, " ");
}

export function isState(v: unknown): v is TicketState {
  return typeof v === "string" && (STATES as readonly string[]).includes(v);
}

export function isPriority(v: unknown): v is Priority {
  return typeof v === "string" && (PRIORITIES as readonly string[]).includes(v);
}
