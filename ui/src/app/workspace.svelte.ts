import type { SettingsInput } from "../bindings/SettingsInput";
import type { WorkspaceInfo } from "../bindings/WorkspaceInfo";
import * as ipc from "../ipc";
import { toApiError, type ApiError } from "../lib/errors";
import { markStartup } from "../lib/startup";

/** What `workspace_info` says, kept fresh by change events. */
export class WorkspaceModel {
  info = $state.raw<WorkspaceInfo | null>(null);
  error = $state<ApiError | null>(null);
  loading = $state(false);

  /** The first-run screen shows while nothing was chosen and the workspace is empty. */
  get needsWelcome(): boolean {
    return this.info !== null && !this.info.onboarded && this.info.ticketCount === 0;
  }

  async load(): Promise<void> {
    this.loading = true;
    try {
      markStartup("workspace-asked");
      this.info = await ipc.workspaceInfo();
      markStartup("workspace-info");
      this.error = null;
    } catch (e) {
      this.error = toApiError(e);
    } finally {
      this.loading = false;
    }
  }

  /** Saves settings; rejects with the `ApiError` so the caller can show it where it belongs. */
  async update(input: Partial<SettingsInput>): Promise<WorkspaceInfo> {
    const info = await ipc.updateSettings({
      agentName: input.agentName ?? null,
      onboarded: input.onboarded ?? null,
    });
    this.info = info;
    return info;
  }
}
