import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
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
  await screen.findByTestId("ticket-key");
  return app;
}

describe("ticket view", () => {
  beforeEach(() => {
    mockIpcDefaults();
  });

  it("shows the ticket with its key, title, fields and description", async () => {
    await openTicket();
    expect(screen.getByTestId("ticket-key").textContent).toBe("CB-1");
    expect(screen.getByTestId("ticket-title").textContent).toBe("VPN drops every hour");
    expect((screen.getByTestId("ticket-state") as HTMLSelectElement).value).toBe("open");
    expect((screen.getByTestId("ticket-priority") as HTMLSelectElement).value).toBe("high");
    expect((screen.getByTestId("ticket-assignee") as HTMLInputElement).value).toBe("ana");
    const states = [...(screen.getByTestId("ticket-state") as HTMLSelectElement).options].map(
      (o) => o.value,
    );
    expect(states).toEqual(["new", "open", "pending", "on_hold", "resolved", "closed"]);
  });

  it("saves a field change against the revision on screen", async () => {
    vi.mocked(ipc.updateTicket).mockResolvedValue(ticketView({ state: "pending", revision: 4 }));
    await openTicket();
    await fireEvent.change(screen.getByTestId("ticket-state"), { target: { value: "pending" } });
    await waitFor(() => expect(ipc.updateTicket).toHaveBeenCalledOnce());
    expect(vi.mocked(ipc.updateTicket).mock.calls[0]![0]).toEqual({
      id: 1,
      expectedRevision: 3,
      title: null,
      description: null,
      state: "pending",
      priority: null,
      assignee: null,
      assignmentGroup: null,
      tags: null,
    });
    expect(await screen.findByText("Saved")).toBeInTheDocument();
  });

  it("on stale_revision: tells the user, reloads, keeps their input and saves it again", async () => {
    vi.mocked(ipc.getTicket)
      .mockResolvedValueOnce(ticketView({ revision: 3 }))
      .mockResolvedValue(ticketView({ revision: 4, title: "Renamed in the CLI" }));
    vi.mocked(ipc.updateTicket)
      .mockRejectedValueOnce({
        code: "stale_revision",
        message: "ticket CB-1 changed since it was loaded (revision 4, not 3)",
      })
      .mockResolvedValue(
        ticketView({ revision: 5, state: "pending", title: "Renamed in the CLI" }),
      );
    await openTicket();

    const state = screen.getByTestId("ticket-state") as HTMLSelectElement;
    await fireEvent.change(state, { target: { value: "pending" } });

    // The user is told, in a toast, that the ticket changed elsewhere.
    const toast = await screen.findByTestId("toast");
    expect(toast.textContent).toMatch(/CB-1 was changed elsewhere/);
    // The ticket was reloaded (the other change shows)…
    await waitFor(() =>
      expect(screen.getByTestId("ticket-title").textContent).toBe("Renamed in the CLI"),
    );
    expect(ipc.getTicket).toHaveBeenCalledTimes(2);
    // …and the unsaved input is still there, marked as not saved.
    expect(state.value).toBe("pending");
    expect(screen.getByText(/your state is not saved/)).toBeInTheDocument();

    await fireEvent.click(screen.getByRole("button", { name: "Save again" }));
    await waitFor(() => expect(ipc.updateTicket).toHaveBeenCalledTimes(2));
    expect(vi.mocked(ipc.updateTicket).mock.calls[1]![0]).toMatchObject({
      expectedRevision: 4,
      state: "pending",
    });
    expect(await screen.findByText("Saved")).toBeInTheDocument();
  });

  it("saves the assignee on Enter and clears it with an empty value", async () => {
    vi.mocked(ipc.updateTicket).mockResolvedValue(ticketView({ assignee: null, revision: 4 }));
    const user = userEvent.setup();
    await openTicket();
    const input = screen.getByTestId("ticket-assignee");
    await user.clear(input);
    await user.type(input, "{Enter}");
    await waitFor(() => expect(ipc.updateTicket).toHaveBeenCalledOnce());
    expect(vi.mocked(ipc.updateTicket).mock.calls[0]![0]).toMatchObject({ assignee: "" });
  });

  it("renders public replies and internal notes distinctly", async () => {
    vi.mocked(ipc.getTicket).mockResolvedValue(
      ticketView({
        comments: [
          comment(1, {
            visibility: "public",
            body: "We are on it",
            bodyHtml: "<p>We are on it</p>",
          }),
          comment(2, {
            visibility: "internal",
            author: "sam",
            body: "Looks like the RADIUS server",
            bodyHtml: "<p>Looks like the <strong>RADIUS</strong> server</p>",
          }),
        ],
      }),
    );
    await openTicket();
    const [pub, internal] = screen.getAllByTestId("comment");
    expect(pub!.dataset.visibility).toBe("public");
    expect(internal!.dataset.visibility).toBe("internal");
    expect(within(pub!).getByText("Public reply")).toBeInTheDocument();
    expect(within(internal!).getByText("Internal note")).toBeInTheDocument();
    expect(internal!.classList.contains("internal")).toBe(true);
    expect(pub!.classList.contains("internal")).toBe(false);
    // The internal note carries a lock icon; sanitized HTML from Rust is rendered as HTML.
    expect(internal!.querySelector("svg path")).not.toBeNull();
    expect(internal!.querySelector("strong")?.textContent).toBe("RADIUS");
  });

  it("marks tags that stay in the workspace (ServiceNow) as local only", async () => {
    vi.mocked(ipc.getTicket).mockResolvedValue(ticketView({ tags: ["vpn"], tagsLocal: true }));
    await openTicket();
    const tags = screen.getByTestId("ticket-tags");
    expect(within(tags).getByTestId("tags-local").textContent).toBe("Local only");
    expect(within(tags).getByTestId("tags-local").getAttribute("title")).toContain("not sent");
  });

  it("shows no local-only mark for tags the upstream stores", async () => {
    await openTicket();
    expect(within(screen.getByTestId("ticket-tags")).queryByTestId("tags-local")).toBeNull();
  });

  it("renders plain-text fields as text, never as HTML", async () => {
    const evil = `<img src=x onerror="window.__pwned=1">`;
    vi.mocked(ipc.getTicket).mockResolvedValue(
      ticketView({
        title: evil,
        requester: evil,
        assignmentGroup: evil,
        tags: ["<b>bold</b>"],
        extra: { u_note: evil },
        // What Rust sends: the body as written, and its sanitized rendering.
        description: evil,
        descriptionHtml: '<p>&lt;img src=x onerror="window.__pwned=1"&gt;</p>',
        comments: [
          comment(1, {
            author: evil,
            body: evil,
            bodyHtml: '<p>&lt;img src=x onerror="window.__pwned=1"&gt;</p>',
          }),
        ],
      }),
    );
    await openTicket();
    const view = screen.getByTestId("ticket-view");
    expect(view.querySelector("img")).toBeNull();
    expect(view.querySelector("b")).toBeNull();
    expect(screen.getByTestId("ticket-title").textContent).toBe(evil);
    expect(screen.getByTestId("comment").textContent).toContain(evil);
    expect(view.textContent).toContain("<b>bold</b>");
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it("shows the history with who changed what", async () => {
    vi.mocked(ipc.ticketHistory).mockResolvedValue([
      {
        id: 1,
        kind: "created",
        actor: "ana",
        at: Date.now() - 3_600_000,
        origin: "app",
        changes: [],
        visibility: null,
      },
      {
        id: 2,
        kind: "updated",
        actor: "ana",
        at: Date.now() - 300_000,
        origin: "app",
        changes: [{ field: "state", from: "open", to: "pending" }],
        visibility: null,
      },
    ]);
    await openTicket();
    await fireEvent.click(screen.getByTestId("history-tab"));
    const entries = await screen.findAllByTestId("history-entry");
    // Newest first.
    expect(entries[0]!.textContent).toContain("ana changed state from open to pending");
    expect(entries[0]!.textContent).toContain("5 min ago");
    expect(entries[1]!.textContent).toContain("ana created the ticket");
  });

  it("Escape returns to the queue", async () => {
    const app = await openTicket();
    await fireEvent.keyDown(window, { key: "Escape" });
    expect(app.route).toEqual({ name: "queue" });
  });

  it("E opens the escalation editor; Escape closes it and stays on the ticket", async () => {
    vi.mocked(ipc.escalationList).mockResolvedValue([]);
    vi.mocked(ipc.escalationCreate).mockRejectedValue({ code: "internal", message: "offline" });
    const app = await openTicket();
    await fireEvent.keyDown(window, { key: "e" });
    // The editor loads on first use (a separate chunk): the first import can take a moment.
    const editor = await screen.findByTestId("escalation-editor", {}, { timeout: 5000 });
    expect(editor.getAttribute("aria-label")).toBe("Escalation for CB-1");
    expect(ipc.escalationCreate).toHaveBeenCalledWith(1);
    await fireEvent.keyDown(editor, { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("escalation-editor")).toBeNull());
    expect(app.route).toEqual({ name: "ticket", id: 1 });
  });
});
