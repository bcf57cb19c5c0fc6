import { describe, expect, it } from "vitest";
import {
  fieldText,
  formatBytes,
  formatUtc,
  logSource,
  parseUtc,
  ruleLabel,
  sectionLabel,
} from "./helpers";
import { content } from "./testContent";

describe("fieldText", () => {
  it("finds every field the preview names", () => {
    const c = content();
    const cases: [string, string | null][] = [
      ["title", "[CB-1] Invoices fail"],
      ["summary", "sum"],
      ["impact.howMany", "40 users"],
      ["environment.productVersion", "4.2"],
      ["steps[1]", "click export"],
      ["expected", "a PDF"],
      ["evidence.extracts[0]", "line"],
      ["evidence.extracts[0].note", "see"],
      ["evidence.extracts[0].source", "app.log"],
      ["evidence.ids[0]", "req-1"],
      ["evidence.attachments[0]", "shot.png"],
      ["timeline[0]", "created"],
      ["workaround.result", "no"],
      ["related[0].target", "CB-9"],
      ["communication", "told them"],
      ["steps[5]", null],
      ["nonsense", null],
      ["summary[0]", null],
      ["environment.constructor", null],
    ];
    for (const [section, want] of cases) expect(fieldText(c, section), section).toBe(want);
  });

  it("labels sections for people", () => {
    expect(sectionLabel("steps[1]")).toBe("Step 2");
    expect(sectionLabel("evidence.extracts[0].note")).toBe("Log extract 1 (note)");
    expect(sectionLabel("environment.region")).toBe("Environment: region");
  });
});

describe("times", () => {
  it("formats and reads UTC times both ways", () => {
    const ms = Date.UTC(2024, 9, 10, 20, 55, 39);
    expect(formatUtc(ms)).toBe("2024-10-10 20:55:39Z");
    expect(parseUtc(formatUtc(ms))).toBe(ms);
    expect(formatUtc(ms + 250)).toBe("2024-10-10 20:55:39.250Z");
    expect(parseUtc("2024-10-10 20:55:39.250Z")).toBe(ms + 250);
    expect(parseUtc("2024-10-10T22:55:39+02:00")).toBe(ms);
    expect(parseUtc("2024-10-10 22:55:39 +0200")).toBe(ms);
    expect(parseUtc("2024-10-10")).toBe(Date.UTC(2024, 9, 10));
    expect(parseUtc("2024-02-31 10:00")).toBeNull();
    expect(parseUtc("yesterday")).toBeNull();
    expect(formatUtc(null)).toBe("");
  });
});

describe("small helpers", () => {
  it("names logs, sizes and rule labels", () => {
    expect(logSource("/var/log/app/server.log")).toBe("server.log");
    expect(logSource("C:\\logs\\a.har")).toBe("a.har");
    expect(logSource(null)).toBe("pasted");
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.0 MiB");
    expect(formatBytes(300 * 1024 * 1024)).toBe("300 MiB");
    expect(ruleLabel("Customer ID!")).toBe("customer-id");
    expect(ruleLabel("***")).toBe("custom");
  });
});
