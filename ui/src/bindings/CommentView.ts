// PLACEHOLDER written by hand from the Rust DTOs until ts-rs generates this file
// (`cargo test -p casebook-api`). Delete it once the generated file exists.
import type { Visibility } from "./Visibility";

export type CommentView = { id: number, visibility: Visibility, author: string, body: string, bodyHtml: string, createdAt: number, };
