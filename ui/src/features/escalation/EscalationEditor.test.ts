import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { AppState, appContext } from "../../app/appState.svelte";
import type { EscalationView } from "../../bindings/EscalationView";
import * as ipc from "../../ipc";
import { utf8ByteLength } from "./spans";
import EscalationEditor from "./EscalationEditor.svelte";
import { content } from "./testContent";

vi.mock("../../ipc");

const SUMMARY = "Kundin Jürgen 😀 schreibt von jürgen@exämple.de aus";
const EMAIL = "jürgen@exämple.de";

function view(): EscalationView {
  const c = content();
  c.summary = SUMMARY;
  return {
    id: 7,
    ticketId: 1,
    ticketKey: "CB-1",
    status: "draft",
    content: c,
    revision: 1,
    createdAt: 0,
    updatedAt: 0,
    completeness: {
      score: 67,
      missing: ["evidence", "workaround"],
      missingLabels: [
        "evidence (log extracts, ids or attachments)",
        "workaround tried and its result",
      ],
      warnings: [],
    },
  };
}

function open() {
  const onclose = vi.fn();
  render(EscalationEditor, {
    props: { ticketId: 1, ticketKey: "CB-1", onclose },
    context: appContext(new AppState()),
  });
  return onclose;
}

describe("escalation editor", () => {
  beforeEach(() => {
    vi.mocked(ipc.escalationList).mockResolvedValue([]);
    vi.mocked(ipc.escalationCreate).mockResolvedValue(view());
    vi.mocked(ipc.escalationCheck).mockResolvedValue({
      warnings: ["similar open escalation CB-2 (Invoices): shares invoice, export, tenants"],
      suggestions: [
        { kind: "kb_article", target: "kb/invoices.md", title: "Invoices", open: null },
      ],
      kbError: null,
    });
    vi.mocked(ipc.escalationSave).mockImplementation(async (input) => ({
      ...view(),
      revision: input.expectedRevision + 1,
      content: input.content,
    }));
    const start = utf8ByteLength(SUMMARY.slice(0, SUMMARY.indexOf(EMAIL)));
    vi.mocked(ipc.escalationRedactPreview).mockResolvedValue({
      sections: [
        {
          section: "summary",
          spans: [
            {
              kind: "email",
              label: "email",
              start,
              end: start + utf8ByteLength(EMAIL),
              placeholder: "<email-1>",
            },
          ],
          redacted: "…",
        },
      ],
      audit: { counts: { email: 1 }, distinct: { email: 1 }, total: 1 },
    });
  });

  it("drafts from the ticket and shows the score, the missing parts and the KB warning", async () => {
    open();
    expect((await screen.findByTestId("escalation-score")).textContent).toContain("67%");
    expect(screen.getByTestId("escalation-missing").textContent).toContain(
      "workaround tried and its result",
    );
    expect((await screen.findByTestId("escalation-warnings")).textContent).toContain(
      "similar open escalation CB-2",
    );
    expect(ipc.escalationCreate).toHaveBeenCalledWith(1);
  });

  it("saves what was typed when it closes", async () => {
    const onclose = open();
    const summary = (await screen.findByTestId("esc-summary")) as HTMLTextAreaElement;
    await userEvent.clear(summary);
    await userEvent.type(summary, "Invoices fail");
    await fireEvent.click(screen.getByTestId("escalation-close"));
    await waitFor(() => expect(onclose).toHaveBeenCalled());
    const saves = vi.mocked(ipc.escalationSave).mock.calls.map((c) => c[0].content.summary);
    expect(saves.at(-1)).toBe("Invoices fail");
  });

  it("switches sections with Alt+number and highlights the redaction on non-ASCII text", async () => {
    open();
    await screen.findByTestId("esc-summary");
    await fireEvent.keyDown(screen.getByTestId("esc-summary"), { key: "4", altKey: true });
    const mark = await screen.findByTestId("redaction-mark");
    expect(mark.textContent).toContain(EMAIL);
    expect(mark.textContent).toContain("<email-1>");
    expect(screen.getByTestId("escalation-tab-redaction").getAttribute("aria-selected")).toBe(
      "true",
    );
    // Undo: the value is allowed from then on (and saved with the draft).
    await fireEvent.click(screen.getByTestId("redaction-undo"));
    expect(await screen.findByTestId("redaction-redo")).toBeTruthy();
    await fireEvent.click(screen.getByTestId("escalation-close"));
    await waitFor(() => {
      const last = vi.mocked(ipc.escalationSave).mock.calls.at(-1)?.[0];
      expect(last?.content.redaction.allow).toEqual([EMAIL]);
    });
  });

  it("shows why nothing was exported when redaction fails", async () => {
    vi.mocked(ipc.escalationExport).mockRejectedValue({
      code: "invalid_input",
      message: "custom rule 'x': unclosed group",
    });
    open();
    await screen.findByTestId("esc-summary");
    await fireEvent.click(screen.getByTestId("escalation-tab-export"));
    await fireEvent.click(await screen.findByTestId("export-run"));
    expect((await screen.findByTestId("export-error")).textContent).toContain(
      "Nothing was exported: custom rule 'x': unclosed group",
    );
  });
});
