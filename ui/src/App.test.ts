import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import App from "./App.svelte";
import { AppState } from "./app/appState.svelte";
import type { ChangeBatch } from "./bindings/ChangeBatch";
import * as ipc from "./ipc";
import { mockIpcDefaults, serveQueue, summary, ticketView, workspace } from "./test/fixtures";

vi.mock("./ipc");

describe("app shell", () => {
  beforeEach(() => mockIpcDefaults());

  it("shows the welcome screen on first run of an empty workspace", async () => {
    vi.mocked(ipc.workspaceInfo).mockResolvedValue(workspace({ onboarded: false, ticketCount: 0 }));
    render(App);
    expect(await screen.findByTestId("welcome")).toBeInTheDocument();
    expect(screen.queryByTestId("queue")).toBeNull();
  });

  it("offers New ticket on the empty state of an onboarded empty workspace", async () => {
    vi.mocked(ipc.workspaceInfo).mockResolvedValue(workspace({ onboarded: true, ticketCount: 0 }));
    serveQueue(0);
    render(App);
    expect(await screen.findByText("No tickets yet")).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId("empty-new-ticket"));
    expect(await screen.findByTestId("new-ticket-title")).toBeInTheDocument();
  });

  it("shows view counts from one count_tickets call", async () => {
    vi.mocked(ipc.countTickets).mockResolvedValue([10, 7, 2, 3, 3, 4]);
    vi.mocked(ipc.listViews).mockResolvedValue([
      {
        id: 5,
        name: "My VPN",
        filter: {
          states: [],
          priorities: [],
          assignees: ["ana"],
          unassigned: false,
          groups: [],
          tags: ["vpn"],
          sources: [],
          text: null,
        },
        sort: "priority",
      },
    ]);
    render(App);
    await waitFor(() => expect(screen.getByTestId("view-open").textContent).toContain("7"));
    expect(ipc.countTickets).toHaveBeenCalledOnce();
    expect(vi.mocked(ipc.countTickets).mock.calls[0]![0]).toHaveLength(6);
    expect(screen.getByTestId("view-saved-5").textContent).toContain("4");
    expect(screen.getByTestId("view-all").getAttribute("aria-current")).toBe("true");

    await fireEvent.click(screen.getByTestId("view-unassigned"));
    await waitFor(() =>
      expect(vi.mocked(ipc.listTickets).mock.lastCall![0].filter.unassigned).toBe(true),
    );
    expect(screen.getByTestId("view-unassigned").getAttribute("aria-current")).toBe("true");
  });

  it("opens the palette with Ctrl+K and the new-ticket dialog with n", async () => {
    render(App);
    await screen.findAllByTestId("queue-row");
    await fireEvent.keyDown(window, { key: "k", ctrlKey: true });
    expect(await screen.findByTestId("palette")).toBeInTheDocument();
    await fireEvent.keyDown(screen.getByTestId("palette-input"), { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("palette")).toBeNull());

    await fireEvent.keyDown(window, { key: "n" });
    expect(await screen.findByTestId("new-ticket-title")).toBeInTheDocument();
  });

  it("opens a ticket from the queue and comes back with the selection kept", async () => {
    serveQueue(5);
    vi.mocked(ipc.getTicket).mockImplementation(async (id) => ticketView({ id, key: `CB-${id}` }));
    render(App);
    await screen.findAllByTestId("queue-row");
    await fireEvent.keyDown(window, { key: "j" });
    await fireEvent.keyDown(window, { key: "j" });
    await fireEvent.keyDown(window, { key: "Enter" });
    expect((await screen.findByTestId("ticket-key")).textContent).toBe("CB-3");
    await fireEvent.keyDown(window, { key: "Escape" });
    await screen.findAllByTestId("queue-row");
    const selected = screen
      .getAllByTestId("queue-row")
      .find((r) => r.getAttribute("aria-selected") === "true");
    expect(selected?.dataset.key).toBe("CB-3");
  });

  it("/ on a ticket goes to the queue filter; coming back later does not steal focus", async () => {
    serveQueue(5);
    const app = new AppState();
    render(App, { props: { app } });
    await screen.findAllByTestId("queue-row");
    app.openTicket(1);
    await screen.findByTestId("ticket-key");
    await fireEvent.keyDown(window, { key: "/" });
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId("filter-text")));

    (document.activeElement as HTMLElement).blur();
    app.openTicket(2);
    await screen.findByTestId("ticket-key");
    await fireEvent.keyDown(window, { key: "Escape" });
    await screen.findAllByTestId("queue-row");
    expect(document.activeElement).toBe(screen.getByTestId("queue"));
  });

  it("shows the ticket beside the list; j/k there open the next ticket", async () => {
    serveQueue(5);
    vi.mocked(ipc.getTicket).mockImplementation(async (id) => ticketView({ id, key: `CB-${id}` }));
    render(App);
    const [first] = await screen.findAllByTestId("queue-row");
    await fireEvent.click(first!);
    expect((await screen.findByTestId("ticket-key")).textContent).toBe("CB-1");
    // The queue stays usable: filter box, total and rows are still on screen.
    expect(screen.getByTestId("filter-text")).toBeInTheDocument();
    expect(screen.getByTestId("queue-total").textContent).toBe("5");
    expect(screen.getAllByTestId("queue-row").length).toBe(5);

    await fireEvent.keyDown(screen.getByTestId("ticket-view"), { key: "j" });
    await waitFor(() => expect(screen.getByTestId("ticket-key").textContent).toBe("CB-2"));
    // Arrows inside the ticket pane scroll the pane; they do not move the queue.
    await fireEvent.keyDown(screen.getByTestId("ticket-view"), { key: "ArrowDown" });
    await new Promise((r) => setTimeout(r, 200));
    expect(screen.getByTestId("ticket-key").textContent).toBe("CB-2");

    await fireEvent.keyDown(screen.getByTestId("ticket-view"), { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("ticket-view")).toBeNull());
    expect(document.activeElement).toBe(screen.getByTestId("queue"));
  });

  it("refetches the queue, counts and the open ticket on a change event", async () => {
    let emit: (b: ChangeBatch) => void = () => undefined;
    vi.mocked(ipc.onChanges).mockImplementation(async (h) => {
      emit = h;
      return () => undefined;
    });
    const app = new AppState();
    render(App, { props: { app } });
    await screen.findAllByTestId("queue-row");
    app.openTicket(1);
    await screen.findByTestId("ticket-key");
    const before = {
      list: vi.mocked(ipc.listTickets).mock.calls.length,
      counts: vi.mocked(ipc.countTickets).mock.calls.length,
      ticket: vi.mocked(ipc.getTicket).mock.calls.length,
    };
    serveQueue(4, (i) => summary(i));
    emit({ kind: "tickets", ids: [1], origin: "external" });
    await waitFor(() => expect(vi.mocked(ipc.getTicket).mock.calls.length).toBe(before.ticket + 1));
    expect(vi.mocked(ipc.countTickets).mock.calls.length).toBe(before.counts + 1);
    await fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(screen.getByTestId("queue-total").textContent).toBe("4"));
    expect(vi.mocked(ipc.listTickets).mock.calls.length).toBeGreaterThan(before.list);
  });

  it("saves the current filter as a view and deletes a saved view", async () => {
    const user = userEvent.setup();
    const saved = {
      id: 9,
      name: "Urgent unassigned",
      filter: {
        states: [],
        priorities: [],
        assignees: [],
        unassigned: true,
        groups: [],
        tags: [],
        sources: [],
        text: null,
      },
      sort: "updated" as const,
    };
    vi.mocked(ipc.saveView).mockResolvedValue(saved);
    render(App);
    await screen.findAllByTestId("queue-row");
    await user.click(screen.getByTestId("view-unassigned"));
    vi.mocked(ipc.listViews).mockResolvedValue([saved]);

    await user.click(screen.getByTestId("save-view"));
    await user.type(screen.getByTestId("save-view-name"), "Urgent unassigned{Enter}");
    await waitFor(() => expect(ipc.saveView).toHaveBeenCalledOnce());
    expect(vi.mocked(ipc.saveView).mock.calls[0]![0]).toEqual({
      name: "Urgent unassigned",
      filter: saved.filter,
      sort: "updated",
    });
    const view = await screen.findByTestId("view-saved-9");
    expect(view.getAttribute("aria-current")).toBe("true");

    vi.mocked(ipc.deleteView).mockResolvedValue(null);
    await user.click(screen.getByRole("button", { name: "Delete view Urgent unassigned" }));
    await user.click(screen.getByRole("button", { name: "Delete" }));
    await waitFor(() => expect(ipc.deleteView).toHaveBeenCalledWith(9));
    await waitFor(() => expect(screen.queryByTestId("view-saved-9")).toBeNull());
  });

  it("explains a locked workspace", async () => {
    vi.mocked(ipc.workspaceInfo).mockRejectedValue({
      code: "workspace_locked",
      message: "the workspace is open in another program",
    });
    render(App);
    expect(await screen.findByText("The workspace is in use")).toBeInTheDocument();
    expect(screen.getByText("the workspace is open in another program")).toBeInTheDocument();
  });
});
