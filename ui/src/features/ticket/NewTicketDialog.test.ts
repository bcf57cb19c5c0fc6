import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import * as ipc from "../../ipc";
import { mockIpcDefaults, ticketView } from "../../test/fixtures";
import NewTicketDialog from "./NewTicketDialog.svelte";

vi.mock("../../ipc");

const facets = { assignees: [], groups: [], tags: [], sources: [] };

describe("new ticket dialog", () => {
  beforeEach(() => mockIpcDefaults());

  it("requires a title and creates the ticket with Enter in the title", async () => {
    const created = ticketView({ id: 7, key: "CB-7" });
    vi.mocked(ipc.createTicket).mockResolvedValue(created);
    const oncreated = vi.fn();
    const user = userEvent.setup();
    render(NewTicketDialog, { props: { facets, oncreated, onclose: vi.fn() } });

    const title = screen.getByTestId("new-ticket-title");
    expect(document.activeElement).toBe(title);
    expect((screen.getByTestId("new-ticket-submit") as HTMLButtonElement).disabled).toBe(true);

    await user.type(title, "Printer on fire");
    await user.type(screen.getByPlaceholderText("vpn, access-request"), "Hardware, urgent fix");
    await user.click(title);
    await user.keyboard("{Enter}");

    await waitFor(() => expect(oncreated).toHaveBeenCalledWith(created));
    expect(ipc.createTicket).toHaveBeenCalledWith({
      title: "Printer on fire",
      description: "",
      priority: "medium",
      state: null,
      assignee: null,
      assignmentGroup: null,
      requester: null,
      tags: ["hardware", "urgent-fix"],
    });
  });

  it("shows why the backend refused it", async () => {
    vi.mocked(ipc.createTicket).mockRejectedValue({
      code: "invalid_input",
      message: "the title must have 1 to 500 characters",
    });
    const user = userEvent.setup();
    render(NewTicketDialog, { props: { facets, oncreated: vi.fn(), onclose: vi.fn() } });
    await user.type(screen.getByTestId("new-ticket-title"), "x{Control>}{Enter}{/Control}");
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "the title must have 1 to 500 characters",
    );
  });
});
