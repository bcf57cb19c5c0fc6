import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { ConnectionTestReport } from "../../bindings/ConnectionTestReport";
import type { ConnectionView } from "../../bindings/ConnectionView";
import * as ipc from "../../ipc";
import ConnectionsPanel from "./ConnectionsPanel.svelte";

vi.mock("../../ipc");

function conn(over: Partial<ConnectionView>): ConnectionView {
  return {
    id: 1,
    vendor: "zendesk",
    name: "Zendesk EU",
    baseUrl: "https://acme.zendesk.com",
    authMethod: "oauth",
    username: null,
    oauthClientId: "cb",
    mirrorScope: ["tickets"],
    kbSpaces: [],
    status: "needs_sign_in",
    statusDetail: null,
    accountName: null,
    capabilities: [],
    accessExpiresAt: null,
    ...over,
  };
}

function signedIn(c: ConnectionView): ConnectionTestReport {
  return {
    connection: { ...c, status: "signed_in", accountName: "Ana Agent" },
    summary: `signed in to ${c.name} as Ana Agent`,
    checks: [{ name: "sign-in", ok: true, detail: "ok" }],
  };
}

describe("connections", () => {
  beforeEach(() => vi.resetAllMocks());

  it("shows each connection's state and signs in through the browser", async () => {
    const z = conn({});
    vi.mocked(ipc.listConnections).mockResolvedValue([z]);
    let finish!: (r: ConnectionTestReport) => void;
    vi.mocked(ipc.beginSignIn).mockResolvedValue({
      attemptId: "a1",
      connectionId: 1,
      url: "https://acme.zendesk.com/oauth/authorizations/new?x=1",
      timeoutSeconds: 300,
    });
    vi.mocked(ipc.finishSignIn).mockReturnValue(new Promise((r) => (finish = r)));
    render(ConnectionsPanel);
    const row = await screen.findByTestId("connection");
    expect(within(row).getByTestId("connection-status").textContent).toBe("Needs sign-in");
    await userEvent.click(within(row).getByRole("button", { name: "Sign in" }));
    // While the browser is out, the address is shown for when no browser opened.
    const waiting = await screen.findByTestId("sign-in-waiting");
    expect(waiting.textContent).toContain("https://acme.zendesk.com/oauth/authorizations/new");
    expect(ipc.finishSignIn).toHaveBeenCalledWith("a1");
    finish(signedIn(z));
    expect(await within(row).findByText("Signed in")).toBeTruthy();
    expect(within(row).getByTestId("connection-account").textContent).toBe("Ana Agent");
    expect(screen.queryByTestId("sign-in-waiting")).toBeNull();
  });

  it("sends an API token once and clears the field (write-only)", async () => {
    const j = conn({ id: 2, vendor: "jira", name: "Jira", authMethod: "basic", username: "a@b.c" });
    vi.mocked(ipc.listConnections).mockResolvedValue([j]);
    vi.mocked(ipc.setConnectionSecret).mockResolvedValue(signedIn(j));
    render(ConnectionsPanel);
    const input = await screen.findByLabelText("API token");
    await userEvent.type(input, "tok-123");
    await userEvent.click(screen.getByRole("button", { name: "Save and test" }));
    expect(ipc.setConnectionSecret).toHaveBeenCalledWith(2, "tok-123");
    expect((input as HTMLInputElement).value).toBe("");
    expect(await screen.findByTestId("connection-report")).toBeTruthy();
  });

  it("shows the backend's reason when adding fails, and warns before removing", async () => {
    vi.mocked(ipc.listConnections).mockResolvedValue([conn({})]);
    vi.mocked(ipc.addConnection).mockRejectedValue({
      code: "invalid_input",
      message:
        '"http://acme.zendesk.com" uses http://, which would send your credentials unencrypted: use https://',
    });
    vi.mocked(ipc.removeConnection).mockResolvedValue(undefined);
    render(ConnectionsPanel);
    await screen.findByTestId("connection");
    await userEvent.type(screen.getByPlaceholderText("e.g. Zendesk EU"), "Z2");
    await userEvent.type(
      screen.getByPlaceholderText("acme or https://…"),
      "http://acme.zendesk.com",
    );
    await userEvent.click(screen.getByRole("button", { name: "Add" }));
    expect(
      (await screen.findByText(/would send your credentials unencrypted/)).textContent,
    ).toBeTruthy();

    await userEvent.click(screen.getByRole("button", { name: "Remove…" }));
    expect(screen.getByText(/export them first/)).toBeTruthy();
    expect(ipc.removeConnection).not.toHaveBeenCalled();
    await userEvent.click(screen.getByRole("button", { name: "Remove" }));
    expect(ipc.removeConnection).toHaveBeenCalledWith(1);
    expect(await screen.findByText("No connections yet.")).toBeTruthy();
  });

  it("edits a Jira connection's Confluence spaces and shows a refused key's reason", async () => {
    const j = conn({ vendor: "jira", name: "Acme JSM", authMethod: "basic", kbSpaces: [] });
    vi.mocked(ipc.listConnections).mockResolvedValue([j]);
    vi.mocked(ipc.setConnectionKbSpaces)
      .mockRejectedValueOnce({ code: "invalid_input", message: "'K B' is not a space key" })
      .mockResolvedValueOnce({ ...j, kbSpaces: ["KB", "OPS"] });
    render(ConnectionsPanel);
    const spaces = await screen.findByTestId("connection-kb-spaces");
    expect(spaces.textContent).toContain("no Confluence space");
    await userEvent.click(within(spaces).getByRole("button", { name: "Edit spaces" }));
    const input = within(spaces).getByLabelText("Confluence space keys");
    await userEvent.type(input, "K B");
    await userEvent.click(within(spaces).getByRole("button", { name: "Save spaces" }));
    expect(ipc.setConnectionKbSpaces).toHaveBeenLastCalledWith(1, ["K", "B"]);
    expect((await screen.findByRole("alert")).textContent).toContain("is not a space key");
    // The draft stays for correcting.
    await userEvent.clear(input);
    await userEvent.type(input, "kb, ops{Enter}");
    expect(ipc.setConnectionKbSpaces).toHaveBeenLastCalledWith(1, ["KB", "OPS"]);
    expect((await screen.findByTestId("connection-kb-spaces")).textContent).toContain(
      "Confluence spaces KB, OPS",
    );
  });

  it("offers no Confluence spaces for ServiceNow or Zendesk connections", async () => {
    vi.mocked(ipc.listConnections).mockResolvedValue([conn({})]);
    render(ConnectionsPanel);
    await screen.findByTestId("connection");
    expect(screen.queryByTestId("connection-kb-spaces")).toBeNull();
  });
});
