// PLACEHOLDER written by hand from the Rust DTOs until ts-rs generates this file
// (`cargo test -p casebook-api`). Delete it once the generated file exists.
import type { Priority } from "./Priority";
import type { TicketState } from "./TicketState";

export type UpdateTicketInput = { id: number, expectedRevision: number | null, title: string | null, description: string | null, state: TicketState | null, priority: Priority | null, assignee: string | null, assignmentGroup: string | null, tags: Array<string> | null, };
