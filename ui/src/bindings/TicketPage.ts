// PLACEHOLDER written by hand from the Rust DTOs until ts-rs generates this file
// (`cargo test -p casebook-api`). Delete it once the generated file exists.
import type { TicketSummary } from "./TicketSummary";

export type TicketPage = { total: number, offset: number, rows: Array<TicketSummary>, };
