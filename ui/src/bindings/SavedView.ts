// PLACEHOLDER written by hand from the Rust DTOs until ts-rs generates this file
// (`cargo test -p casebook-api`). Delete it once the generated file exists.
import type { SortKey } from "./SortKey";
import type { TicketFilter } from "./TicketFilter";

export type SavedView = { id: number, name: string, filter: TicketFilter, sort: SortKey, };
