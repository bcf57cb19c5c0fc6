// PLACEHOLDER written by hand from the Rust DTOs until ts-rs generates this file
// (`cargo test -p casebook-api`). Delete it once the generated file exists.
import type { EventKind } from "./EventKind";
import type { FieldChange } from "./FieldChange";
import type { Origin } from "./Origin";
import type { Visibility } from "./Visibility";

export type HistoryEntry = { id: number, kind: EventKind, actor: string, at: number, origin: Origin, changes: Array<FieldChange>, visibility: Visibility | null, };
