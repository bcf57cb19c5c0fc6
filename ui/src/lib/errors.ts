import type { ApiError } from "../bindings/ApiError";
import type { ErrorCode } from "../bindings/ErrorCode";

export type { ApiError, ErrorCode };

const CODES: ReadonlySet<string> = new Set<ErrorCode>([
  "not_found",
  "invalid_input",
  "stale_revision",
  "workspace_locked",
  "workspace_newer",
  "workspace_unreadable",
  "workspace_key_missing",
  "keyring_unavailable",
  "sign_in_failed",
  "internal",
]);

export function isApiError(e: unknown): e is ApiError {
  if (typeof e !== "object" || e === null) return false;
  const r = e as Record<string, unknown>;
  return typeof r.code === "string" && CODES.has(r.code) && typeof r.message === "string";
}

/** Turns whatever a rejected call produced into an `ApiError` (unknown shapes become `internal`). */
export function toApiError(e: unknown): ApiError {
  if (isApiError(e)) return { code: e.code, message: e.message };
  if (e instanceof Error) return { code: "internal", message: e.message };
  if (typeof e === "string") return { code: "internal", message: e };
  return { code: "internal", message: "something went wrong" };
}

export function hasCode(e: unknown, code: ErrorCode): boolean {
  return isApiError(e) && e.code === code;
}
