import { describe, expect, it } from "vitest";
import { escapeMarkdown, formatBytes, runbookWorkNote, segments } from "./text";

describe("highlight segments", () => {
  it("splits text by ranges", () => {
    expect(
      segments("disk full on node", [
        { start: 0, end: 4 },
        { start: 5, end: 9 },
      ]),
    ).toEqual([
      { text: "disk", mark: true },
      { text: " ", mark: false },
      { text: "full", mark: true },
      { text: " on node", mark: false },
    ]);
  });

  it("clamps overlapping, unordered and out-of-range ranges", () => {
    const s = segments("abcdef", [
      { start: 4, end: 99 },
      { start: 1, end: 3 },
      { start: 2, end: 5 },
    ]);
    expect(s.map((x) => x.text).join("")).toBe("abcdef");
    expect(s.filter((x) => x.mark).map((x) => x.text)).toEqual(["bc", "de", "f"]);
    expect(segments("", [{ start: 0, end: 3 }])).toEqual([]);
  });
});

describe("runbook work note", () => {
  it("records the runbook and each step with its state", () => {
    const note = runbookWorkNote({ title: "Disk *full*", path: "node/Disk.md" }, [
      { text: "Check   df -h", done: true },
      { text: "Rotate logs", done: false },
    ]);
    expect(note).toBe(
      [
        "Used runbook **Disk \\*full\\*** (node/Disk.md).",
        "",
        "Steps done: 1 of 2",
        "- [x] Check df -h",
        "- [ ] Rotate logs",
      ].join("\n"),
    );
  });

  it("without a checklist it names the runbook and section only", () => {
    expect(runbookWorkNote({ title: "VPN", path: "vpn.md", section: "Fix" }, [])).toBe(
      "Used runbook **VPN** › Fix (vpn.md).",
    );
  });

  it("escapes Markdown in titles and steps", () => {
    expect(escapeMarkdown("<img> [x](y) `z`")).toBe("\\<img\\> \\[x\\](y) \\`z\\`");
  });

  it("formats sizes", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(2048)).toBe("2 KB");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.0 MB");
  });
});
