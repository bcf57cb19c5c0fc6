// PLACEHOLDER written by hand from the Rust DTOs until ts-rs generates this file
// (`cargo test -p casebook-api`). Delete it once the generated file exists.
import type { Priority } from "./Priority";
import type { TicketState } from "./TicketState";

export type TicketFilter = { states: Array<TicketState>, priorities: Array<Priority>, assignees: Array<string>, unassigned: boolean, groups: Array<string>, tags: Array<string>, sources: Array<string>, text: string | null, };
