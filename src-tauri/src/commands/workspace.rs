use crate::state::AppState;
use casebook_api::ApiError;
use casebook_api::dto::{ImportReport, Progress, SettingsInput, WorkspaceInfo};
use tauri::State;
use tauri::ipc::Channel;

/// The open workspace, or the error that kept it closed (the UI shows it on start).
#[tauri::command]
pub async fn workspace_info(state: State<'_, AppState>) -> Result<WorkspaceInfo, ApiError> {
    state.api().await?.workspace_info().await
}

#[tauri::command]
pub async fn update_settings(
    input: SettingsInput,
    state: State<'_, AppState>,
) -> Result<WorkspaceInfo, ApiError> {
    state.api().await?.update_settings(input).await
}

/// Loads the sample data; progress goes to the caller's channel as it happens.
#[tauri::command]
pub async fn open_sample_workspace(
    on_progress: Channel<Progress>,
    state: State<'_, AppState>,
) -> Result<ImportReport, ApiError> {
    let report = state.api().await?.open_sample(move |p| {
        // The webview may have gone away (window closed): the import carries on regardless.
        let _ = on_progress.send(p);
    });
    report.await
}
