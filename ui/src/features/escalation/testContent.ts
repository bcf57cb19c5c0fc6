// A filled package for the escalation tests.
import type { PackageContent } from "../../bindings/PackageContent";

export function content(): PackageContent {
  return {
    title: "[CB-1] Invoices fail",
    summary: "sum",
    severity: "sev2",
    impact: { who: "Acme", howMany: "40 users", since: null, business: "no invoices" },
    environment: {
      productVersion: "4.2",
      region: "eu-west",
      tenant: "",
      os: "",
      browser: "",
      integration: "",
    },
    stepsToReproduce: ["open", "click export"],
    expected: "a PDF",
    actual: "503",
    evidence: {
      extracts: [{ source: "app.log", firstLine: 1, lastLine: 2, text: "line", note: "see" }],
      ids: [{ kind: "request", value: "req-1" }],
      attachments: ["shot.png"],
    },
    timeline: [{ at: 0, text: "created", source: "ticket" }],
    workaround: { tried: "retry", result: "no" },
    related: [{ kind: "known_issue", target: "CB-9", title: "old", open: null }],
    communication: "told them",
    redaction: { ipv4: true, ipv6: true, keepLoopback: true, customRules: [], allow: [] },
  };
}
