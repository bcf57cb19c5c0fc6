import { isEditableTarget, isPlainKey } from "../../lib/keys";

export type QueueAction =
  | { kind: "move"; delta: number }
  | { kind: "jump"; to: "first" | "last" }
  | { kind: "open" }
  | { kind: "focusFilter" }
  | { kind: "clearText" };

/**
 * What a key press means on the queue screen, or `null` when it is not the queue's to handle
 * (typing in a field, a modifier held, an unknown key). `page` is how many rows fit on screen.
 */
export function queueKeyAction(e: KeyboardEvent, page: number): QueueAction | null {
  if (!isPlainKey(e) || isEditableTarget(e.target)) return null;
  switch (e.key) {
    case "j":
    case "ArrowDown":
      return { kind: "move", delta: 1 };
    case "k":
    case "ArrowUp":
      return { kind: "move", delta: -1 };
    case "PageDown":
      return { kind: "move", delta: Math.max(1, page) };
    case "PageUp":
      return { kind: "move", delta: -Math.max(1, page) };
    case "Home":
      return { kind: "jump", to: "first" };
    case "End":
      return { kind: "jump", to: "last" };
    case "Enter":
      // Enter on a button (the sidebar, the filter bar) activates that button instead.
      if (e.target instanceof HTMLButtonElement) return null;
      return { kind: "open" };
    case "/":
      return { kind: "focusFilter" };
    case "Escape":
      return { kind: "clearText" };
    default:
      return null;
  }
}
