import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { ChangeBatch } from "../../bindings/ChangeBatch";
import type { EscalationPushView } from "../../bindings/EscalationPushView";
import * as ipc from "../../ipc";
import type { EscalationModel } from "./escalationModel.svelte";
import JiraPushPanel from "./JiraPushPanel.svelte";

vi.mock("../../ipc");

function pushView(over: Partial<EscalationPushView>): EscalationPushView {
  return {
    escalationId: 7,
    state: "not_pushed",
    opId: null,
    opStatus: null,
    lastError: null,
    key: null,
    url: null,
    pushedAt: null,
    ...over,
  };
}

function model() {
  const flush = vi.fn(async () => {});
  const m = { view: { id: 7, ticketId: 4 }, flush, saveState: "saved", error: null };
  return { model: m as unknown as EscalationModel, flush };
}

describe("push to jira", () => {
  beforeEach(() => {
    vi.mocked(ipc.escalationJiraSettings).mockResolvedValue({
      connectionId: 3,
      connectionName: "Acme Jira",
      project: "ENG",
      issueType: "Bug",
    });
    vi.mocked(ipc.escalationPushStatus).mockResolvedValue(pushView({}));
  });

  it("saves the draft, queues the push and shows it queued", async () => {
    const { model: m, flush } = model();
    vi.mocked(ipc.escalationPush).mockResolvedValue(
      pushView({ state: "queued", opId: 12, opStatus: "pending" }),
    );
    render(JiraPushPanel, { props: { model: m } });
    const button = await screen.findByTestId("jira-push-run");
    await waitFor(() => expect(button.textContent).toContain("(ENG)"));
    await userEvent.click(button);
    expect(flush).toHaveBeenCalled();
    expect(ipc.escalationPush).toHaveBeenCalledWith(7, "3");
    const status = await screen.findByTestId("jira-push-status");
    expect(status.textContent).toContain("Queued");
    expect(status.textContent).toContain("Acme Jira");
    // Queued: pushing again is not offered.
    expect((button as HTMLButtonElement).disabled).toBe(true);
  });

  it("keeps a project typed and saved before the settings were read", async () => {
    let answer: ((v: Awaited<ReturnType<typeof ipc.escalationJiraSettings>>) => void) | undefined;
    vi.mocked(ipc.escalationJiraSettings).mockImplementation(
      () => new Promise((resolve) => (answer = resolve)),
    );
    vi.mocked(ipc.escalationSetJiraSettings).mockImplementation(async (input) => ({
      connectionId: 3,
      connectionName: "Acme Jira",
      project: input.project ?? "",
      issueType: input.issueType ?? "Bug",
    }));
    render(JiraPushPanel, { props: { model: model().model } });
    const field = await screen.findByTestId("jira-project");
    await userEvent.type(field, "OPS{Enter}");
    await waitFor(() => expect(screen.getByTestId("jira-push-run").textContent).toContain("(OPS)"));
    // The read started when the panel opened answers late, with the old (empty) project.
    answer?.({ connectionId: 3, connectionName: "Acme Jira", project: "", issueType: "Bug" });
    await new Promise((r) => setTimeout(r, 20));
    expect((field as HTMLInputElement).value).toBe("OPS");
    expect(screen.getByTestId("jira-push-run").textContent).toContain("(OPS)");
  });

  it("shows the issue key once pushed", async () => {
    vi.mocked(ipc.escalationPushStatus).mockResolvedValue(
      pushView({ state: "pushed", key: "ENG-42", url: "https://acme.atlassian.net/browse/ENG-42" }),
    );
    render(JiraPushPanel, { props: { model: model().model } });
    expect((await screen.findByTestId("jira-push-key")).textContent).toBe("ENG-42");
    expect((screen.getByTestId("jira-push-run") as HTMLButtonElement).disabled).toBe(true);
  });

  it("reads the state again when a sync changes the ticket", async () => {
    let changes: ((b: ChangeBatch) => void) | undefined;
    const unlisten = vi.fn();
    vi.mocked(ipc.onChanges).mockImplementation(async (h) => {
      changes = h;
      return unlisten;
    });
    vi.mocked(ipc.escalationPushStatus).mockResolvedValue(
      pushView({ state: "queued", opId: 12, opStatus: "pending" }),
    );
    const view = render(JiraPushPanel, { props: { model: model().model } });
    const section = await screen.findByTestId("jira-push");
    await waitFor(() => expect(section.dataset.state).toBe("queued"));
    await waitFor(() => expect(changes).toBeDefined());
    vi.mocked(ipc.escalationPushStatus).mockResolvedValue(
      pushView({ state: "pushed", key: "ENG-7", url: "https://acme.atlassian.net/browse/ENG-7" }),
    );
    // Another ticket's change is not ours.
    changes!({ kind: "tickets", ids: [99], origin: "external" });
    expect(ipc.escalationPushStatus).toHaveBeenCalledTimes(1);
    changes!({ kind: "tickets", ids: [4], origin: "external" });
    expect((await screen.findByTestId("jira-push-key")).textContent).toBe("ENG-7");
    expect(section.dataset.state).toBe("pushed");
    view.unmount();
    expect(unlisten).toHaveBeenCalled();
  });

  it("says why when there is no jira connection, and shows a refused push", async () => {
    vi.mocked(ipc.escalationJiraSettings).mockRejectedValue({
      code: "invalid_input",
      message: "no jira connection is configured; add one to push escalations to jira",
    });
    const first = render(JiraPushPanel, { props: { model: model().model } });
    expect((await screen.findByTestId("jira-push-unavailable")).textContent).toContain(
      "no jira connection",
    );
    expect(screen.queryByTestId("jira-push-run")).toBeNull();
    first.unmount();

    vi.mocked(ipc.escalationJiraSettings).mockResolvedValue({
      connectionId: 3,
      connectionName: "Acme Jira",
      project: "",
      issueType: "Bug",
    });
    vi.mocked(ipc.escalationSetJiraSettings).mockResolvedValue({
      connectionId: 3,
      connectionName: "Acme Jira",
      project: "ENG",
      issueType: "Bug",
    });
    vi.mocked(ipc.escalationPush).mockRejectedValue({
      code: "invalid_input",
      message: "redaction failed: bad custom rule; nothing was exported",
    });
    render(JiraPushPanel, { props: { model: model().model } });
    const run = (await screen.findByTestId("jira-push-run")) as HTMLButtonElement;
    expect(run.disabled).toBe(true);
    await userEvent.type(screen.getByTestId("jira-project"), "ENG");
    await userEvent.click(screen.getByTestId("jira-project-save"));
    expect(ipc.escalationSetJiraSettings).toHaveBeenCalledWith({
      connection: "3",
      project: "ENG",
      issueType: "Bug",
    });
    await waitFor(() => expect(run.disabled).toBe(false));
    await userEvent.click(run);
    expect((await screen.findByTestId("jira-push-error")).textContent).toContain(
      "redaction failed",
    );
  });
});
