import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import * as ipc from "../../ipc";
import AlertSettings from "./AlertSettings.svelte";

vi.mock("../../ipc");

describe("breach warning settings", () => {
  it("shows the warning time, saves a new one and says when notifications are unavailable", async () => {
    vi.mocked(ipc.slaNotifySettings).mockResolvedValue({ beforeMinutes: 15 });
    vi.mocked(ipc.slaNotificationStatus).mockResolvedValue({
      available: false,
      reason: "no desktop notification service is running",
    });
    vi.mocked(ipc.setSlaNotifySettings).mockImplementation(async (s) => s);
    render(AlertSettings);
    const input = (await screen.findByTestId("sla-notify-minutes")) as HTMLInputElement;
    await vi.waitFor(() => expect(input.value).toBe("15"));
    expect((await screen.findByTestId("sla-notify-unavailable")).textContent).toContain(
      "Desktop notifications are unavailable: no desktop notification service is running",
    );
    await userEvent.clear(input);
    await userEvent.type(input, "30{Enter}");
    expect(ipc.setSlaNotifySettings).toHaveBeenCalledWith({ beforeMinutes: 30 });
    expect(await screen.findByText("Saved")).toBeTruthy();
  });

  it("says nothing about notifications when they work, and shows a refused value's reason", async () => {
    vi.mocked(ipc.slaNotifySettings).mockResolvedValue({ beforeMinutes: 15 });
    vi.mocked(ipc.slaNotificationStatus).mockResolvedValue({ available: true, reason: null });
    vi.mocked(ipc.setSlaNotifySettings).mockRejectedValue({
      code: "invalid_input",
      message: "cannot save the setting",
    });
    render(AlertSettings);
    const input = (await screen.findByTestId("sla-notify-minutes")) as HTMLInputElement;
    await vi.waitFor(() => expect(input.value).toBe("15"));
    expect(screen.queryByTestId("sla-notify-unavailable")).toBeNull();
    await userEvent.clear(input);
    await userEvent.type(input, "60{Enter}");
    expect((await screen.findByRole("alert")).textContent).toBe("cannot save the setting");
    expect(screen.queryByText("Saved")).toBeNull();
  });
});
