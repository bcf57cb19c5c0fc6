import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Macro } from "../../bindings/Macro";
import type { MacroPreview } from "../../bindings/MacroPreview";
import * as ipc from "../../ipc";
import { ticketView } from "../../test/fixtures";
import { highlight } from "./highlight";
import MacroPicker from "./MacroPicker.svelte";

vi.mock("../../ipc");

const update: Macro = {
  name: "Customer update",
  description: "",
  body: "Hello {{requester.name}}",
  visibility: "public",
  setState: null,
  setPriority: null,
  addTags: [],
  removeTags: [],
};

function preview(over: Partial<MacroPreview> = {}): MacroPreview {
  return {
    text: "Hello Carl,\n**When we will update again:** by Tue 3 Mar 2026, 11:00 CET",
    html: "",
    cursor: 6,
    problems: [],
    changes: ["public reply"],
    slaAfter: null,
    ...over,
  };
}

describe("macro picker", () => {
  beforeEach(() => {
    vi.mocked(ipc.listMacros).mockResolvedValue([update]);
  });

  it("previews a macro and applies the agent's text", async () => {
    vi.mocked(ipc.previewMacro).mockResolvedValue(preview());
    vi.mocked(ipc.applyMacro).mockResolvedValue(ticketView());
    const onapplied = vi.fn();
    render(MacroPicker, { props: { ticketId: 7, revision: 3, onapplied } });
    const select = (await screen.findByTestId("macro-select")) as HTMLSelectElement;
    await screen.findByRole("option", { name: "Customer update" });
    await fireEvent.change(select, { target: { value: "Customer update" } });
    const text = (await screen.findByTestId("macro-text")) as HTMLTextAreaElement;
    expect(text.value).toContain("by Tue 3 Mar 2026, 11:00 CET");
    expect(vi.mocked(ipc.previewMacro).mock.calls[0]![0]).toMatchObject({
      ticketId: 7,
      name: "Customer update",
      text: null,
      expectedRevision: 3,
    });
    expect(screen.getByTestId("macro-changes").textContent).toBe("public reply");
    await userEvent.click(screen.getByTestId("macro-send"));
    await waitFor(() => expect(onapplied).toHaveBeenCalled());
    expect(vi.mocked(ipc.applyMacro).mock.calls[0]![0]).toMatchObject({
      ticketId: 7,
      name: "Customer update",
      text: preview().text,
      expectedRevision: 3,
    });
  });

  it("highlights unknown placeholders and will not send", async () => {
    const bad = preview({
      text: "Hello {{requester.nmae}},",
      problems: [
        {
          kind: "unknown",
          text: "{{requester.nmae}}",
          start: 6,
          end: 24,
          line: 1,
          column: 7,
          message: "unknown placeholder 'requester.nmae'",
        },
      ],
    });
    vi.mocked(ipc.previewMacro).mockResolvedValue(bad);
    render(MacroPicker, { props: { ticketId: 7, revision: 3 } });
    await screen.findByRole("option", { name: "Customer update" });
    await fireEvent.change(screen.getByTestId("macro-select"), {
      target: { value: "Customer update" },
    });
    const problems = await screen.findByTestId("macro-problems");
    expect(problems.textContent).toContain(
      "line 1, column 7: unknown placeholder 'requester.nmae'",
    );
    const marks = problems.querySelectorAll("mark");
    expect(marks).toHaveLength(1);
    expect(marks[0]!.textContent).toBe("{{requester.nmae}}");
    const send = screen.getByTestId("macro-send") as HTMLButtonElement;
    expect(send.disabled).toBe(true);
    await userEvent.click(send);
    expect(ipc.applyMacro).not.toHaveBeenCalled();
  });

  it("splits text around every problem placeholder", () => {
    const p = {
      kind: "unknown" as const,
      text: "{{x}}",
      start: 0,
      end: 5,
      line: 1,
      column: 1,
      message: "unknown placeholder 'x'",
    };
    const pieces = highlight("a {{x}} b {{x}}", [p]);
    expect(pieces.map((q) => [q.text, q.problem !== null])).toEqual([
      ["a ", false],
      ["{{x}}", true],
      [" b ", false],
      ["{{x}}", true],
    ]);
    expect(highlight("plain", [])).toEqual([{ text: "plain", problem: null }]);
  });
});
