import { describe, expect, it } from "vitest";
import { waitsForSync } from "./pending";

describe("waitsForSync", () => {
  it("is true for a mirrored ticket with operations waiting", () => {
    expect(waitsForSync({ source: "3", pendingOps: 2 })).toBe(true);
  });

  it("is false once nothing waits", () => {
    expect(waitsForSync({ source: "3", pendingOps: 0 })).toBe(false);
  });

  it("is false for a local-only ticket, whatever its outbox holds", () => {
    expect(waitsForSync({ source: "local", pendingOps: 4 })).toBe(false);
  });
});
