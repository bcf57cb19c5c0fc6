// PLACEHOLDER written by hand from the Rust DTOs until ts-rs generates this file
// (`cargo test -p casebook-api`). Delete it once the generated file exists.
import type { LinkKind } from "./LinkKind";

export type LinkView = { id: number, kind: LinkKind, target: string, title: string | null, };
