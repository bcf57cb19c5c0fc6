import { toApiError } from "../lib/errors";

export type ToastKind = "error" | "success" | "info" | "warning";

export interface Toast {
  id: number;
  kind: ToastKind;
  message: string;
}

const DEFAULT_TIMEOUT: Record<ToastKind, number> = {
  error: 8000,
  warning: 8000,
  success: 3000,
  info: 4000,
};

/** Small, non-blocking messages in a corner of the window. */
export class Toasts {
  items = $state<Toast[]>([]);
  private nextId = 1;
  private timers = new Map<number, ReturnType<typeof setTimeout>>();

  push(kind: ToastKind, message: string, timeoutMs = DEFAULT_TIMEOUT[kind]): number {
    const id = this.nextId++;
    // The same message twice in a row (a burst of failing calls) shows once.
    const last = this.items.at(-1);
    if (last && last.kind === kind && last.message === message) {
      this.dismiss(last.id);
    }
    this.items = [...this.items.slice(-4), { id, kind, message }];
    if (timeoutMs > 0) {
      this.timers.set(
        id,
        setTimeout(() => this.dismiss(id), timeoutMs),
      );
    }
    return id;
  }

  /** Shows the message of an error from a command (an `ApiError`, or anything else). */
  error(e: unknown): number {
    return this.push("error", capitalize(toApiError(e).message));
  }

  success(message: string): number {
    return this.push("success", message);
  }

  info(message: string): number {
    return this.push("info", message);
  }

  warning(message: string): number {
    return this.push("warning", message);
  }

  dismiss(id: number): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
    this.items = this.items.filter((x) => x.id !== id);
  }
}

/** Messages from Rust are lower-case without a final period; start them with a capital. */
export function capitalize(s: string): string {
  return s.length === 0 ? s : s[0]!.toUpperCase() + s.slice(1);
}
