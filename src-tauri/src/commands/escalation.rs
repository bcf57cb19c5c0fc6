//! Escalation packages (issue 6): drafts, log analysis with progress, extracts, the redaction
//! preview, the similar-escalation check and the exports — thin calls into the façade.

use crate::state::AppState;
use casebook_api::ApiError;
use casebook_api::dto::Progress;
use casebook_api::escalation::{
    EscalationCheck, EscalationContent, EscalationSummary, EscalationView, ExportInput,
    ExportResult, ExtractInput, LogAnalysis, LogExtract, LogInput, MergeLogTimelineInput,
    RedactionPreview, SaveEscalationInput,
};
use casebook_api::escalation_push::{
    EscalationJiraSettings, EscalationJiraSettingsInput, EscalationPushView,
};
use tauri::State;
use tauri::ipc::Channel;

#[tauri::command]
pub async fn escalation_create(
    ticket_id: i64,
    state: State<'_, AppState>,
) -> Result<EscalationView, ApiError> {
    state.api().await?.escalation_create(ticket_id).await
}

#[tauri::command]
pub async fn escalation_get(
    id: i64,
    state: State<'_, AppState>,
) -> Result<EscalationView, ApiError> {
    state.api().await?.escalation_get(id).await
}

#[tauri::command]
pub async fn escalation_list(
    ticket_id: Option<i64>,
    state: State<'_, AppState>,
) -> Result<Vec<EscalationSummary>, ApiError> {
    state.api().await?.escalation_list(ticket_id).await
}

#[tauri::command]
pub async fn escalation_save(
    input: SaveEscalationInput,
    state: State<'_, AppState>,
) -> Result<EscalationView, ApiError> {
    state.api().await?.escalation_save(input).await
}

#[tauri::command]
pub async fn escalation_delete(id: i64, state: State<'_, AppState>) -> Result<(), ApiError> {
    state.api().await?.escalation_delete(id).await
}

/// Streams the log; progress (bytes read of the total) goes to the caller's channel. The analysis
/// stops when the webview is gone (the channel cannot deliver).
#[tauri::command]
pub async fn escalation_analyze_logs(
    input: LogInput,
    on_progress: Channel<Progress>,
    state: State<'_, AppState>,
) -> Result<LogAnalysis, ApiError> {
    state
        .api()
        .await?
        .escalation_analyze_logs(input, move |p| on_progress.send(p).is_ok())
        .await
}

#[tauri::command]
pub async fn escalation_extracts(
    input: ExtractInput,
    state: State<'_, AppState>,
) -> Result<Vec<LogExtract>, ApiError> {
    state.api().await?.escalation_extracts(input).await
}

#[tauri::command]
pub async fn escalation_redact_preview(
    content: EscalationContent,
    state: State<'_, AppState>,
) -> Result<RedactionPreview, ApiError> {
    state.api().await?.escalation_redact_preview(content).await
}

#[tauri::command]
pub async fn escalation_preview_html(
    content: EscalationContent,
    state: State<'_, AppState>,
) -> Result<String, ApiError> {
    state.api().await?.escalation_preview_html(content).await
}

#[tauri::command]
pub async fn escalation_merge_log_timeline(
    input: MergeLogTimelineInput,
    state: State<'_, AppState>,
) -> Result<EscalationView, ApiError> {
    state
        .api()
        .await?
        .escalation_merge_log_timeline(input)
        .await
}

#[tauri::command]
pub async fn escalation_check(
    id: i64,
    state: State<'_, AppState>,
) -> Result<EscalationCheck, ApiError> {
    state.api().await?.escalation_check(id).await
}

/// Writes the export to the path the agent chose; nothing is written if redaction fails.
#[tauri::command]
pub async fn escalation_export(
    input: ExportInput,
    state: State<'_, AppState>,
) -> Result<ExportResult, ApiError> {
    state.api().await?.escalation_export(input).await
}

/// Queues the push of the package to the Jira engineering project (redacted, through the
/// outbox: works offline; the connection's next sync creates the issue).
#[tauri::command]
pub async fn escalation_push(
    id: i64,
    connection: Option<String>,
    state: State<'_, AppState>,
) -> Result<EscalationPushView, ApiError> {
    state.api().await?.escalation_push(id, connection).await
}

#[tauri::command]
pub async fn escalation_push_status(
    id: i64,
    state: State<'_, AppState>,
) -> Result<EscalationPushView, ApiError> {
    state.api().await?.escalation_push_status(id).await
}

#[tauri::command]
pub async fn escalation_jira_settings(
    connection: Option<String>,
    state: State<'_, AppState>,
) -> Result<EscalationJiraSettings, ApiError> {
    state
        .api()
        .await?
        .escalation_jira_settings(connection)
        .await
}

#[tauri::command]
pub async fn escalation_set_jira_settings(
    input: EscalationJiraSettingsInput,
    state: State<'_, AppState>,
) -> Result<EscalationJiraSettings, ApiError> {
    state.api().await?.escalation_set_jira_settings(input).await
}
