import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { AppState, appContext } from "../../app/appState.svelte";
import type { ImportReport } from "../../bindings/ImportReport";
import type { Progress } from "../../bindings/Progress";
import * as ipc from "../../ipc";
import { mockIpcDefaults, workspace } from "../../test/fixtures";
import Welcome from "./Welcome.svelte";

vi.mock("../../ipc");

describe("welcome", () => {
  beforeEach(() => mockIpcDefaults());

  it("opens the sample workspace with a progress bar", async () => {
    let report: (r: ImportReport) => void = () => undefined;
    let progress: (p: Progress) => void = () => undefined;
    vi.mocked(ipc.openSampleWorkspace).mockImplementation((onProgress) => {
      progress = onProgress;
      return new Promise((resolve) => (report = resolve));
    });
    const app = new AppState();
    app.workspace.info = workspace({ onboarded: false, ticketCount: 0 });
    render(Welcome, { context: appContext(app) });

    await fireEvent.click(screen.getByTestId("welcome-open-sample"));
    const bar = await screen.findByTestId("sample-progress");
    expect(bar.hasAttribute("value")).toBe(false); // total unknown: indeterminate

    progress({ stage: "Importing ServiceNow incidents", done: 250, total: 1000 });
    await waitFor(() =>
      expect(screen.getByTestId("sample-progress").getAttribute("value")).toBe("250"),
    );
    expect(screen.getByText(/Importing ServiceNow incidents/)).toBeInTheDocument();
    expect(screen.getByText("25%")).toBeInTheDocument();

    vi.mocked(ipc.workspaceInfo).mockResolvedValue(
      workspace({ onboarded: true, ticketCount: 1000, sampleLoaded: true }),
    );
    report({
      rowsRead: 1000,
      ticketsImported: 1000,
      duplicates: 0,
      problems: [],
      problemsNotListed: 0,
      elapsedMs: 900,
    });
    await waitFor(() => expect(app.workspace.needsWelcome).toBe(false));
    expect(app.toasts.items[0]?.message).toContain("1,000 tickets imported");
  });

  it("starts with an empty workspace by marking the first run done", async () => {
    const app = new AppState();
    app.workspace.info = workspace({ onboarded: false, ticketCount: 0 });
    render(Welcome, { context: appContext(app) });
    await fireEvent.click(screen.getByTestId("welcome-start-empty"));
    await waitFor(() =>
      expect(ipc.updateSettings).toHaveBeenCalledWith({ agentName: null, onboarded: true }),
    );
    await waitFor(() => expect(app.workspace.needsWelcome).toBe(false));
  });
});
