// PLACEHOLDER written by hand from the Rust DTOs until ts-rs generates this file
// (`cargo test -p casebook-api`). Delete it once the generated file exists.
export type ErrorCode = "not_found" | "invalid_input" | "stale_revision" | "workspace_locked" | "workspace_newer" | "workspace_unreadable" | "internal";
