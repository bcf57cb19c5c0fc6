// What the runbook view does to the sanitized HTML it shows: it never adds markup from the
// document, only its own elements (copy buttons) and listeners, and decides what a click on a
// link does — the webview never navigates away from the app.
import type { KbDocLink } from "../../bindings/KbDocLink";
import type { Step } from "./text";

export type LinkAction =
  | { kind: "doc"; docId: string; anchor: string | null }
  | { kind: "missing"; path: string }
  | { kind: "anchor"; id: string }
  | { kind: "external"; url: string }
  | { kind: "none" };

/** What a click on a link with this `href` (as written in the document's HTML) does. */
export function linkAction(href: string | null, links: readonly KbDocLink[]): LinkAction {
  if (!href) return { kind: "none" };
  const link = links.find((l) => l.href === href);
  if (link) {
    return link.docId
      ? { kind: "doc", docId: link.docId, anchor: link.anchor }
      : { kind: "missing", path: link.path };
  }
  if (href.startsWith("#")) {
    const id = decodeURIComponent(href.slice(1));
    return id ? { kind: "anchor", id } : { kind: "none" };
  }
  // The sanitizer kept only http, https and mailto URLs (and relative ones).
  if (/^(https?|mailto):/i.test(href)) return { kind: "external", url: href };
  return { kind: "none" };
}

/** The checklist items of the document, in order, with their current state. */
export function readSteps(root: HTMLElement): Step[] {
  return [...root.querySelectorAll<HTMLInputElement>("input[type=checkbox]")].map((box) => ({
    text: (box.closest("li")?.textContent ?? "").trim(),
    done: box.checked,
  }));
}

/**
 * Makes the checklists tickable (the sanitized HTML has them disabled) and gives every code block
 * a copy button. `onchange` is called when a step is ticked; `copy` receives a block's text.
 */
export function enhance(
  root: HTMLElement,
  onchange: () => void,
  copy: (text: string) => void,
): void {
  root.querySelectorAll<HTMLInputElement>("input[type=checkbox]").forEach((box, i) => {
    box.disabled = false;
    box.dataset.testid = "runbook-step";
    const label = (box.closest("li")?.textContent ?? "").trim();
    box.setAttribute("aria-label", label || `Step ${i + 1}`);
    box.addEventListener("change", onchange);
  });
  root.querySelectorAll<HTMLPreElement>("pre").forEach((pre) => {
    if (pre.querySelector(":scope > .copy")) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy btn small";
    button.textContent = "Copy";
    button.dataset.testid = "runbook-copy";
    button.setAttribute("aria-label", "Copy this code block");
    button.addEventListener("click", () => {
      const code = pre.querySelector("code") ?? pre;
      copy(code.textContent ?? "");
    });
    pre.prepend(button);
  });
}
