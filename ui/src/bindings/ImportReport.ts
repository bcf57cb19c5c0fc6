// PLACEHOLDER written by hand from the Rust DTOs until ts-rs generates this file
// (`cargo test -p casebook-api`). Delete it once the generated file exists.
import type { RowProblem } from "./RowProblem";

export type ImportReport = { rowsRead: number, ticketsImported: number, duplicates: number, problems: Array<RowProblem>, problemsNotListed: number, elapsedMs: number, };
