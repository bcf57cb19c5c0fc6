// PLACEHOLDER written by hand from the Rust DTOs until ts-rs generates this file
// (`cargo test -p casebook-api`). Delete it once the generated file exists.
import type { AttachmentView } from "./AttachmentView";
import type { CommentView } from "./CommentView";
import type { LinkView } from "./LinkView";
import type { Priority } from "./Priority";
import type { TicketState } from "./TicketState";

export type TicketView = { id: number, key: string, source: string, upstreamId: string | null, title: string, description: string, descriptionHtml: string, state: TicketState, stateRaw: string | null, priority: Priority, priorityRaw: string | null, assignee: string | null, assignmentGroup: string | null, requester: string | null, organization: string | null, tags: Array<string>, createdAt: number, updatedAt: number, firstResponseAt: number | null, resolvedAt: number | null, extra: Record<string, unknown>, revision: number, pendingOps: number, comments: Array<CommentView>, links: Array<LinkView>, attachments: Array<AttachmentView>, };
