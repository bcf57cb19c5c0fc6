// The single door from the UI to Tauri. Features import commands and events from here, and tests
// mock this module. Error helpers are pure and live in lib/errors.
export * from "./commands";
export * from "./sla";
export * from "./connections";
export { onChanges, CHANGES_EVENT } from "./events";
export type { ApiError, ErrorCode } from "../lib/errors";
export * from "./escalation";
export * from "./kb";
export * from "./sync";
