import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AppState, appContext } from "../../app/appState.svelte";
import { Toasts } from "../../app/toasts.svelte";
import type { SyncProgress } from "../../bindings/SyncProgress";
import type { SyncRunView } from "../../bindings/SyncRunView";
import * as ipc from "../../ipc";
import SyncIndicator from "./SyncIndicator.svelte";
import { POLL_MS, SyncModel } from "./syncModel.svelte";
import SyncScreen from "./SyncScreen.svelte";
import { conflict, op, status } from "./testData";

vi.mock("../../ipc");

function renderScreen() {
  const app = new AppState();
  render(SyncScreen, { context: appContext(app) });
  return app;
}

function at(rows: HTMLElement[], i: number): HTMLElement {
  const r = rows[i];
  if (!r) throw new Error(`no row ${i}`);
  return r;
}

const toastTexts = (app: AppState) => app.toasts.items.map((t) => t.message);

describe("conflict inbox", () => {
  beforeEach(() => {
    vi.resetAllMocks();
    vi.mocked(ipc.syncStatus).mockResolvedValue([status({ conflicts: 1 })]);
    vi.mocked(ipc.outboxList).mockResolvedValue([op({ status: "conflict" })]);
    // The inbox holds one conflict until it is settled.
    let open = [conflict()];
    vi.mocked(ipc.conflictsList).mockImplementation(async () => open);
    vi.mocked(ipc.conflictsResolve).mockImplementation(async () => {
      open = [];
      return null;
    });
  });

  it("shows base, mine and theirs and takes theirs with the 2 key", async () => {
    const app = renderScreen();
    const card = await screen.findByTestId("conflict");
    expect(within(card).getByTestId("conflict-base").textContent).toBe("normal");
    expect(within(card).getByTestId("conflict-mine").textContent).toBe("high");
    expect(within(card).getByTestId("conflict-theirs").textContent).toBe("urgent");
    card.focus();
    await userEvent.keyboard("2");
    expect(ipc.conflictsResolve).toHaveBeenCalledWith(7, { kind: "takeTheirs" });
    await waitFor(() => expect(screen.queryByTestId("conflict")).toBeNull());
    expect(toastTexts(app)).toContain("INC0010 priority: took theirs");
  });

  it("keeps mine with the 1 key on a focused button", async () => {
    renderScreen();
    const card = await screen.findByTestId("conflict");
    within(card)
      .getByRole("button", { name: /Keep mine/ })
      .focus();
    await userEvent.keyboard("1");
    expect(ipc.conflictsResolve).toHaveBeenCalledWith(7, { kind: "keepMine" });
  });

  it("edits a value (3), refusing one of the wrong kind", async () => {
    vi.mocked(ipc.conflictsList).mockResolvedValue([
      conflict({ field: "impact", base: 3, mine: 2, theirs: 1 }),
    ]);
    renderScreen();
    const card = await screen.findByTestId("conflict");
    card.focus();
    await userEvent.keyboard("3");
    const input = within(card).getByLabelText("Value for impact") as HTMLInputElement;
    expect(input.value).toBe("2");
    expect(document.activeElement).toBe(input);
    // Typing digits into the box does not trigger the 1/2/3 actions.
    await userEvent.clear(input);
    await userEvent.type(input, "two{Enter}");
    expect(ipc.conflictsResolve).not.toHaveBeenCalled();
    expect(within(card).getByRole("alert").textContent).toBe("enter a number");
    await userEvent.clear(input);
    await userEvent.type(input, "3{Enter}");
    expect(ipc.conflictsResolve).toHaveBeenCalledWith(7, { kind: "edited", value: 3 });
  });

  it("shows a failed resolution as a toast and keeps the conflict", async () => {
    vi.mocked(ipc.conflictsResolve).mockRejectedValue({
      code: "not_found",
      message: "no open conflict 7",
    });
    const app = renderScreen();
    const card = await screen.findByTestId("conflict");
    await userEvent.click(within(card).getByRole("button", { name: /Take theirs/ }));
    await waitFor(() => expect(toastTexts(app)).toContain("No open conflict 7"));
    expect(screen.getByTestId("conflict")).toBeInTheDocument();
  });
});

describe("outbox and connections", () => {
  beforeEach(() => {
    vi.resetAllMocks();
    vi.mocked(ipc.conflictsList).mockResolvedValue([]);
    vi.mocked(ipc.syncStatus).mockResolvedValue([
      status({
        pendingOps: 1,
        failedOps: 1,
        lastSuccessAt: Date.now() - 5 * 60_000,
        lastError: "connection refused",
        lastErrorKind: "offline",
      }),
    ]);
    vi.mocked(ipc.outboxList).mockResolvedValue([
      op({ id: 1, status: "failed", lastError: "http 400: invalid state" }),
      op({ id: 2, ticketKey: "INC0011", status: "unknown", summary: "comment: done" }),
      op({ id: 3, ticketKey: "INC0012", status: "in_flight" }),
    ]);
  });

  it("shows each operation's state with its reason, retries, and discards after confirming", async () => {
    vi.mocked(ipc.outboxRetry).mockResolvedValue(op({ id: 1 }));
    vi.mocked(ipc.outboxDiscard).mockResolvedValue(null);
    const app = renderScreen();
    const rows = await screen.findAllByTestId("outbox-op");
    expect(rows.map((r) => within(r).getByTestId("outbox-state").textContent)).toEqual([
      "Failed",
      "Unknown outcome",
      "In flight",
    ]);
    expect(within(at(rows, 0)).getByTestId("outbox-detail").textContent).toBe(
      "Failed: http 400: invalid state",
    );
    expect(within(at(rows, 0)).getByText("ServiceNow prod")).toBeInTheDocument();
    // Nothing to do with an operation on its way.
    expect(within(at(rows, 2)).queryByRole("button")).toBeNull();

    await userEvent.click(within(at(rows, 0)).getByRole("button", { name: /^Retry/ }));
    expect(ipc.outboxRetry).toHaveBeenCalledWith(1);

    await userEvent.click(within(at(rows, 1)).getByRole("button", { name: /^Discard/ }));
    const confirm = within(at(rows, 1)).getByRole("alertdialog");
    expect(confirm.textContent?.replace(/\s+/g, " ")).toContain("a copy stays in the event log");
    expect(ipc.outboxDiscard).not.toHaveBeenCalled();
    // The confirm button takes the focus: Enter confirms.
    expect(document.activeElement).toBe(within(confirm).getByRole("button", { name: "Discard" }));
    await userEvent.keyboard("{Enter}");
    expect(ipc.outboxDiscard).toHaveBeenCalledWith(2);
    await waitFor(() => expect(toastTexts(app).join(" ")).toContain("copy stays in the event log"));
  });

  it("counts a local-only ticket's changes apart: they have no upstream to wait for", async () => {
    vi.mocked(ipc.outboxList).mockResolvedValue([
      op({ id: 1, status: "pending" }),
      op({ id: 2, ticketKey: "CB-7", target: "local", status: "pending" }),
      op({ id: 3, ticketKey: "CB-7", target: "local", status: "pending" }),
    ]);
    renderScreen();
    const rows = await screen.findAllByTestId("outbox-op");
    expect(rows).toHaveLength(1);
    expect(screen.getByTestId("outbox-local").textContent?.replace(/\s+/g, " ").trim()).toMatch(
      /^2 changes to local-only tickets are kept in the outbox/,
    );
    expect(screen.getByRole("heading", { name: /Outbox/ }).textContent).toContain("1");
  });

  it("cancels a discard", async () => {
    renderScreen();
    const rows = await screen.findAllByTestId("outbox-op");
    await userEvent.click(within(at(rows, 0)).getByRole("button", { name: /^Discard/ }));
    await userEvent.click(within(at(rows, 0)).getByRole("button", { name: "Keep it" }));
    expect(within(at(rows, 0)).queryByRole("alertdialog")).toBeNull();
    expect(ipc.outboxDiscard).not.toHaveBeenCalled();
  });

  it("shows what the last sync said about the connection's knowledge base", async () => {
    vi.mocked(ipc.syncStatus).mockResolvedValue([
      status({ kbStatus: "space OPS cannot be read (403): no permission; other spaces synced" }),
    ]);
    renderScreen();
    const conn = await screen.findByTestId("sync-connection");
    expect(within(conn).getByTestId("sync-kb").textContent).toBe(
      "space OPS cannot be read (403): no permission; other spaces synced",
    );
  });

  it("shows a connection's last sync, error and the progress of a sync it runs", async () => {
    let progress!: (p: SyncProgress) => void;
    let finish!: (r: SyncRunView) => void;
    vi.mocked(ipc.syncNow).mockImplementation((_c, onProgress) => {
      progress = onProgress;
      return new Promise((r) => (finish = r));
    });
    const app = renderScreen();
    const conn = await screen.findByTestId("sync-connection");
    expect(within(conn).getByTestId("sync-last").textContent?.trim()).toBe("5 min ago");
    expect(within(conn).getByTestId("sync-error").textContent).toContain("Offline:");
    expect(within(conn).getByTestId("sync-error").textContent).toContain("connection refused");

    await fireEvent.click(within(conn).getByRole("button", { name: "Sync ServiceNow prod now" }));
    expect(ipc.syncNow).toHaveBeenCalledWith("1", expect.any(Function));
    expect(within(conn).getByTestId("sync-progress").textContent).toContain("Starting…");
    progress({ phase: "pushing", done: 1, total: 4 });
    await waitFor(() =>
      expect(within(conn).getByTestId("sync-progress").textContent).toContain("Pushing 1 of 4"),
    );
    expect(within(conn).getByRole("button", { name: "Sync ServiceNow prod now" })).toBeDisabled();
    const calls = vi.mocked(ipc.syncStatus).mock.calls.length;
    finish({
      connectionId: 1,
      ticketsCreated: 0,
      ticketsUpdated: 2,
      commentsAdded: 0,
      pushed: 1,
      conflicts: 0,
      failed: 0,
      unknown: 0,
      markedDeleted: 0,
      articles: 0,
      articlesRemoved: 0,
      kbStatus: null,
      notes: [],
      errors: [],
      stopped: null,
      stoppedKind: null,
    });
    await waitFor(() => expect(screen.queryByTestId("sync-progress")).toBeNull());
    expect(toastTexts(app)).toContain("ServiceNow prod synced: 2 tickets pulled, 1 change pushed");
    // The status is read again after the sync.
    expect(vi.mocked(ipc.syncStatus).mock.calls.length).toBeGreaterThan(calls);
  });
});

describe("sync indicator", () => {
  beforeEach(() => vi.resetAllMocks());
  afterEach(() => vi.useRealTimers());

  it("says offline with the pending and conflict counts and opens the sync screen", async () => {
    vi.mocked(ipc.syncStatus).mockResolvedValue([
      status({
        pendingOps: 3,
        conflicts: 2,
        lastError: "connection refused",
        lastErrorKind: "offline",
      }),
    ]);
    const app = new AppState();
    render(SyncIndicator, { context: appContext(app) });
    const ind = await screen.findByTestId("sync-indicator");
    await waitFor(() => expect(ind.textContent?.trim()).toBe("Offline · 3 pending · 2 conflicts"));
    await userEvent.click(ind);
    expect(app.route.name).toBe("sync");
  });

  it("reads the status every 30 s while watched, and not after", async () => {
    vi.useFakeTimers();
    vi.mocked(ipc.syncStatus).mockResolvedValue([]);
    const model = new SyncModel(new Toasts());
    const stop = model.watch();
    const stop2 = model.watch();
    expect(ipc.syncStatus).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(POLL_MS - 1);
    expect(ipc.syncStatus).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(ipc.syncStatus).toHaveBeenCalledTimes(2);
    stop();
    await vi.advanceTimersByTimeAsync(POLL_MS);
    expect(ipc.syncStatus).toHaveBeenCalledTimes(3);
    stop2();
    await vi.advanceTimersByTimeAsync(3 * POLL_MS);
    expect(ipc.syncStatus).toHaveBeenCalledTimes(3);
    // The lists are read only for the sync screen.
    expect(ipc.outboxList).not.toHaveBeenCalled();
  });
});
