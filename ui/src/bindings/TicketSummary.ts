// PLACEHOLDER written by hand from the Rust DTOs until ts-rs generates this file
// (`cargo test -p casebook-api`). Delete it once the generated file exists.
import type { Priority } from "./Priority";
import type { TicketState } from "./TicketState";

export type TicketSummary = { id: number, key: string, source: string, title: string, state: TicketState, priority: Priority, assignee: string | null, assignmentGroup: string | null, requester: string | null, tags: Array<string>, createdAt: number, updatedAt: number, pendingOps: number, };
