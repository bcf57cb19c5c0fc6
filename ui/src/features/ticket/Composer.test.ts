import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { AppState, appContext } from "../../app/appState.svelte";
import Toasts from "../../components/Toasts.svelte";
import * as ipc from "../../ipc";
import { comment, mockIpcDefaults, ticketView } from "../../test/fixtures";
import TicketView from "./TicketView.svelte";

vi.mock("../../ipc");

async function openTicket() {
  const app = new AppState();
  app.openTicket(1);
  render(TicketView, { props: { model: app.ticket! }, context: appContext(app) });
  render(Toasts, { props: { toasts: app.toasts } });
  await screen.findByTestId("comment-body");
  return app;
}

describe("compose box", () => {
  beforeEach(() => mockIpcDefaults());

  it("makes the audience explicit and sends an internal note with Ctrl+Enter", async () => {
    vi.mocked(ipc.addComment).mockResolvedValue(
      ticketView({ comments: [comment(9, { visibility: "internal", body: "note" })] }),
    );
    const user = userEvent.setup();
    await openTicket();
    const pub = screen.getByTestId("comment-visibility-public");
    const internal = screen.getByTestId("comment-visibility-internal");
    const submit = screen.getByTestId("comment-submit") as HTMLButtonElement;

    expect(pub.getAttribute("aria-checked")).toBe("true");
    expect(submit.textContent).toContain("Send public reply");
    expect(submit.disabled).toBe(true);

    await user.click(internal);
    expect(internal.getAttribute("aria-checked")).toBe("true");
    expect(pub.getAttribute("aria-checked")).toBe("false");
    expect(submit.textContent).toContain("Add internal note");
    expect(screen.getByText("Only agents will see this note")).toBeInTheDocument();

    const body = screen.getByTestId("comment-body");
    await user.type(body, "   ");
    expect(submit.disabled).toBe(true);
    await user.type(body, "checked the logs");
    expect(submit.disabled).toBe(false);
    await user.keyboard("{Control>}{Enter}{/Control}");

    await waitFor(() => expect(ipc.addComment).toHaveBeenCalledOnce());
    expect(vi.mocked(ipc.addComment).mock.calls[0]![0]).toEqual({
      ticketId: 1,
      body: "   checked the logs",
      visibility: "internal",
    });
    await waitFor(() => expect((body as HTMLTextAreaElement).value).toBe(""));
    expect(screen.getAllByTestId("comment")[0]!.dataset.visibility).toBe("internal");
  });

  it("shows an error toast with the message and keeps the text when sending fails", async () => {
    vi.mocked(ipc.addComment).mockRejectedValue({
      code: "internal",
      message: "saving the comment failed; see the log for details",
    });
    const user = userEvent.setup();
    await openTicket();
    await user.type(screen.getByTestId("comment-body"), "hello");
    await user.click(screen.getByTestId("comment-submit"));
    const toast = await screen.findByTestId("toast");
    expect(toast.textContent).toContain("Saving the comment failed; see the log for details");
    expect(toast.getAttribute("role")).toBe("alert");
    expect((screen.getByTestId("comment-body") as HTMLTextAreaElement).value).toBe("hello");
  });

  it("previews Markdown through render_markdown", async () => {
    vi.mocked(ipc.renderMarkdown).mockResolvedValue("<p><em>hi</em></p>");
    const user = userEvent.setup();
    await openTicket();
    await user.type(screen.getByTestId("comment-body"), "*hi*");
    await fireEvent.click(screen.getByTestId("comment-preview-tab"));
    await waitFor(() =>
      expect(screen.getByTestId("comment-preview").querySelector("em")?.textContent).toBe("hi"),
    );
    expect(ipc.renderMarkdown).toHaveBeenCalledWith("*hi*");
  });

  it("r and i start a public reply or an internal note from anywhere on the ticket", async () => {
    await openTicket();
    await fireEvent.keyDown(window, { key: "i" });
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId("comment-body")));
    expect(screen.getByTestId("comment-visibility-internal").getAttribute("aria-checked")).toBe(
      "true",
    );
    // Typing "r" in the box is text, not a shortcut.
    await fireEvent.keyDown(screen.getByTestId("comment-body"), { key: "r" });
    expect(screen.getByTestId("comment-visibility-internal").getAttribute("aria-checked")).toBe(
      "true",
    );
    (document.activeElement as HTMLElement).blur();
    await fireEvent.keyDown(window, { key: "r" });
    await waitFor(() =>
      expect(screen.getByTestId("comment-visibility-public").getAttribute("aria-checked")).toBe(
        "true",
      ),
    );
  });
});
