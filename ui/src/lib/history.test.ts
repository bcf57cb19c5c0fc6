import { describe, expect, it } from "vitest";
import type { HistoryEntry } from "../bindings/HistoryEntry";
import { describeHistory } from "./history";

const entry = (over: Partial<HistoryEntry>): HistoryEntry => ({
  id: 1,
  kind: "updated",
  actor: "ana",
  at: 0,
  origin: "app",
  changes: [],
  visibility: null,
  ...over,
});

describe("describeHistory", () => {
  it("spells out field changes", () => {
    expect(
      describeHistory(
        entry({
          changes: [
            { field: "state", from: "open", to: "on_hold" },
            { field: "assignment_group", from: null, to: "Network" },
          ],
        }),
      ),
    ).toBe("ana changed state from open to on hold, group from none to Network");
  });

  it("tells public replies from internal notes", () => {
    expect(describeHistory(entry({ kind: "commented", visibility: "internal" }))).toBe(
      "ana added an internal note",
    );
    expect(describeHistory(entry({ kind: "commented", visibility: "public" }))).toBe(
      "ana added a public reply",
    );
    expect(describeHistory(entry({ kind: "created" }))).toBe("ana created the ticket");
  });

  it("lists tag changes", () => {
    expect(
      describeHistory(entry({ changes: [{ field: "tags", from: [], to: ["vpn", "wifi"] }] })),
    ).toBe("ana changed tags from none to vpn, wifi");
  });
});
