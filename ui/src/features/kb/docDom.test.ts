import { describe, expect, it, vi } from "vitest";
import type { KbDocLink } from "../../bindings/KbDocLink";
import { enhance, linkAction, readSteps } from "./docDom";

const links: KbDocLink[] = [
  { href: "#runbook-link-0", path: "node/Disk.md", docId: "rb:1:node/Disk.md", anchor: "fix" },
  { href: "#runbook-link-1", path: "node/Gone.md", docId: null, anchor: null },
];

describe("runbook links", () => {
  it("follows runbook links inside the app, scrolls to anchors, never navigates", () => {
    expect(linkAction("#runbook-link-0", links)).toEqual({
      kind: "doc",
      docId: "rb:1:node/Disk.md",
      anchor: "fix",
    });
    expect(linkAction("#runbook-link-1", links)).toEqual({ kind: "missing", path: "node/Gone.md" });
    expect(linkAction("#section-fix", links)).toEqual({ kind: "anchor", id: "section-fix" });
    expect(linkAction("https://example.com/x", links)).toEqual({
      kind: "external",
      url: "https://example.com/x",
    });
    for (const href of [null, "", "#", "javascript:alert(1)", "x.png", "data:text/html,hi"]) {
      expect(linkAction(href, links)).toEqual({ kind: "none" });
    }
  });
});

describe("runbook enhancements", () => {
  function doc() {
    const root = document.createElement("div");
    root.innerHTML =
      "<ul><li><input type=checkbox disabled> Check the disk</li>" +
      "<li><input type=checkbox checked disabled> Rotate logs</li></ul>" +
      "<pre><code>df -h /var\n</code></pre>";
    document.body.replaceChildren(root);
    return root;
  }

  it("makes steps tickable and reads their state", () => {
    const root = doc();
    const onchange = vi.fn();
    enhance(root, onchange, vi.fn());
    const boxes = root.querySelectorAll<HTMLInputElement>("input");
    expect([...boxes].every((b) => !b.disabled)).toBe(true);
    expect(boxes[0]!.getAttribute("aria-label")).toBe("Check the disk");
    boxes[0]!.click();
    expect(onchange).toHaveBeenCalledTimes(1);
    expect(readSteps(root)).toEqual([
      { text: "Check the disk", done: true },
      { text: "Rotate logs", done: true },
    ]);
  });

  it("adds one copy button per code block that copies the code", () => {
    const root = doc();
    const copy = vi.fn();
    enhance(root, vi.fn(), copy);
    enhance(root, vi.fn(), copy); // idempotent
    const buttons = root.querySelectorAll<HTMLButtonElement>("button.copy");
    expect(buttons).toHaveLength(1);
    buttons[0]!.click();
    expect(copy).toHaveBeenCalledWith("df -h /var\n");
  });
});
