import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { AppState, appContext } from "../../app/appState.svelte";
import * as ipc from "../../ipc";
import { mockIpcDefaults, serveQueue, summary } from "../../test/fixtures";
import QueueScreen from "./QueueScreen.svelte";

vi.mock("../../ipc");

function setup() {
  const app = new AppState();
  render(QueueScreen, { context: appContext(app) });
  return app;
}

const selectedKey = () =>
  screen
    .getAllByRole("option")
    .find((o) => o.getAttribute("aria-selected") === "true")
    ?.getAttribute("data-key");

describe("queue", () => {
  beforeEach(() => {
    mockIpcDefaults();
  });

  it("virtualizes a 100,000-ticket queue: renders a window and fetches one page", async () => {
    serveQueue(100_000);
    setup();
    await waitFor(() => expect(screen.getByTestId("queue-total").textContent).toBe("100000"));
    const rows = await screen.findAllByTestId("queue-row");
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.length).toBeLessThan(60);
    expect(rows[0]!.getAttribute("data-key")).toBe("CB-1");
    const calls = vi.mocked(ipc.listTickets).mock.calls.map((c) => c[0]);
    expect(calls.every((q) => q.limit === 100 && q.limit <= 1000)).toBe(true);
    expect(calls.map((q) => q.offset)).toEqual([0]);
  });

  it("paints a prefetched first page without asking for it again", async () => {
    serveQueue(500);
    const app = new AppState();
    app.queue.prefetch();
    app.queue.prefetch();
    await waitFor(() => expect(app.queue.total).toBe(500));
    render(QueueScreen, { context: appContext(app) });
    const rows = await screen.findAllByTestId("queue-row");
    expect(rows[0]!.getAttribute("data-key")).toBe("CB-1");
    expect(vi.mocked(ipc.listTickets).mock.calls.map((c) => c[0].offset)).toEqual([0]);
  });

  it("does not record a failed prefetch: the list asks again when it mounts", async () => {
    vi.mocked(ipc.listTickets).mockRejectedValueOnce({ code: "unavailable", message: "locked" });
    const app = new AppState();
    app.queue.prefetch();
    await waitFor(() => expect(ipc.listTickets).toHaveBeenCalledTimes(1));
    await Promise.resolve();
    expect(app.queue.error).toBeNull();
    render(QueueScreen, { context: appContext(app) });
    const rows = await screen.findAllByTestId("queue-row");
    expect(rows).toHaveLength(3);
    expect(ipc.listTickets).toHaveBeenCalledTimes(2);
  });

  it("moves the selection with j/k and arrows and opens the ticket with Enter", async () => {
    serveQueue(50);
    const app = setup();
    await screen.findAllByTestId("queue-row");
    expect(selectedKey()).toBe("CB-1");

    await fireEvent.keyDown(window, { key: "j" });
    expect(selectedKey()).toBe("CB-2");
    await fireEvent.keyDown(window, { key: "ArrowDown" });
    await fireEvent.keyDown(window, { key: "ArrowDown" });
    expect(selectedKey()).toBe("CB-4");
    await fireEvent.keyDown(window, { key: "k" });
    expect(selectedKey()).toBe("CB-3");
    await fireEvent.keyDown(window, { key: "ArrowUp" });
    await fireEvent.keyDown(window, { key: "ArrowUp" });
    await fireEvent.keyDown(window, { key: "ArrowUp" });
    expect(selectedKey()).toBe("CB-1"); // stops at the top

    await fireEvent.keyDown(window, { key: "End" });
    expect(app.queue.selected).toBe(49);
    await fireEvent.keyDown(window, { key: "Home" });
    await fireEvent.keyDown(window, { key: "j" });

    const list = screen.getByTestId("queue");
    expect(list.getAttribute("role")).toBe("listbox");
    expect(list.getAttribute("aria-activedescendant")).toBe("qrow-1");

    await fireEvent.keyDown(window, { key: "Enter" });
    expect(app.route).toEqual({ name: "ticket", id: 2 });
  });

  it("ignores j/k while typing in the filter, and / focuses the filter", async () => {
    serveQueue(20);
    setup();
    await screen.findAllByTestId("queue-row");
    const filter = screen.getByTestId("filter-text");

    await fireEvent.keyDown(window, { key: "/" });
    expect(document.activeElement).toBe(filter);
    await fireEvent.keyDown(filter, { key: "j" });
    expect(selectedKey()).toBe("CB-1");
  });

  it("sends the typed text as a debounced filter and shows the new total", async () => {
    const user = userEvent.setup();
    vi.mocked(ipc.listTickets).mockImplementation(async (q) =>
      q.filter.text === "vpn"
        ? { total: 1, offset: 0, rows: [summary(6, { title: "VPN down" })] }
        : { total: 3, offset: 0, rows: [summary(0), summary(1), summary(2)] },
    );
    setup();
    await screen.findAllByTestId("queue-row");
    await user.type(screen.getByTestId("filter-text"), "vpn");
    await waitFor(() => expect(screen.getByTestId("queue-total").textContent).toBe("1"));
    const texts = vi.mocked(ipc.listTickets).mock.calls.map((c) => c[0].filter.text);
    // One request for the whole word, not one per key stroke.
    expect(texts).toEqual([null, "vpn"]);
    expect(screen.getAllByTestId("queue-row").map((r) => r.dataset.key)).toEqual(["CB-7"]);

    // Escape clears the filter.
    await user.keyboard("{Escape}");
    await waitFor(() => expect(screen.getByTestId("queue-total").textContent).toBe("3"));
  });

  it("shows the pending-sync badge on mirrored rows with local changes, never on local-only ones", async () => {
    serveQueue(3, (i) =>
      summary(i, { source: i === 2 ? "local" : "3", pendingOps: i === 0 ? 0 : 2 }),
    );
    setup();
    const rows = await screen.findAllByTestId("queue-row");
    const badge = (i: number) => rows[i]!.querySelector("[data-testid=pending-badge]");
    expect(badge(1)).not.toBeNull();
    expect(badge(0)).toBeNull();
    // A local-only ticket's edits have no upstream to wait for.
    expect(badge(2)).toBeNull();
  });

  it("refetches what is shown after invalidation, keeping old rows meanwhile", async () => {
    serveQueue(3);
    const app = setup();
    await screen.findAllByTestId("queue-row");
    serveQueue(4, (i) => summary(i, { title: `Fresh ${i}` }));
    app.queue.invalidate();
    // Old rows stay on screen until the fresh page arrives.
    expect(screen.getAllByTestId("queue-row")).toHaveLength(3);
    await waitFor(() => expect(screen.getByTestId("queue-total").textContent).toBe("4"));
    expect(screen.getAllByTestId("queue-row")[0]!.textContent).toContain("Fresh 0");
  });

  it("renders ticket text as text: a title with markup stays a string", async () => {
    const evil = `<img src=x onerror="window.__pwned=1">`;
    serveQueue(1, (i) => summary(i, { title: evil, assignee: evil, tags: ["<b>x</b>"] }));
    setup();
    const [row] = await screen.findAllByTestId("queue-row");
    expect(row!.querySelector("img, b")).toBeNull();
    expect(row!.textContent).toContain(evil);
  });
});
