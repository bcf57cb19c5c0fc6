import { listen } from "@tauri-apps/api/event";
import type { ChangeBatch } from "../bindings/ChangeBatch";

export const CHANGES_EVENT = "casebook://changes";

/** Subscribes to change batches; resolves to the function that unsubscribes. */
export async function onChanges(handler: (batch: ChangeBatch) => void): Promise<() => void> {
  return listen<ChangeBatch>(CHANGES_EVENT, (e) => handler(e.payload));
}
