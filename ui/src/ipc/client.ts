import { invoke, type InvokeArgs } from "@tauri-apps/api/core";
import { toApiError } from "../lib/errors";

/** Calls a Tauri command; a rejection always arrives as a typed `ApiError`. */
export async function call<T>(command: string, args?: InvokeArgs): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw toApiError(e);
  }
}
