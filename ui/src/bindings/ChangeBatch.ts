// PLACEHOLDER written by hand from the Rust DTOs until ts-rs generates this file
// (`cargo test -p casebook-api`). Delete it once the generated file exists.
import type { ChangeKind } from "./ChangeKind";
import type { ChangeOrigin } from "./ChangeOrigin";

export type ChangeBatch = { kind: ChangeKind, ids: number[], origin: ChangeOrigin, };
