import { describe, expect, it } from "vitest";
import { parseTicketKey, sameKey } from "./ticketKey";

describe("parseTicketKey", () => {
  it("recognizes local, Jira, ServiceNow and Zendesk keys", () => {
    expect(parseTicketKey("CB-12")).toBe("CB-12");
    expect(parseTicketKey(" cb-12 ")).toBe("CB-12");
    expect(parseTicketKey("SUP-42")).toBe("SUP-42");
    expect(parseTicketKey("INC0000045")).toBe("INC0000045");
    expect(parseTicketKey("#1234")).toBe("#1234");
  });

  it("ignores words that are not keys", () => {
    expect(parseTicketKey("theme")).toBeNull();
    expect(parseTicketKey("new ticket")).toBeNull();
    expect(parseTicketKey("CB-")).toBeNull();
    expect(parseTicketKey("12")).toBeNull();
  });

  it("compares keys without case", () => {
    expect(sameKey("cb-1", "CB-1")).toBe(true);
  });
});
