//! The knowledge base (issue 3): runbook folders, search, similar cases, documents and links.
//! Thin calls into the façade; progress of long scans goes to the caller's channel.

use crate::state::AppState;
use casebook_api::ApiError;
use casebook_api::dto::{Progress, TicketView};
use casebook_api::kb::dto::{
    KbDocumentView, KbLinkInput, KbScanReport, KbSearchInput, KbSearchResult, KbSource, KbStatus,
};
use tauri::State;
use tauri::ipc::Channel;

#[tauri::command]
pub async fn kb_search(
    input: KbSearchInput,
    state: State<'_, AppState>,
) -> Result<KbSearchResult, ApiError> {
    state.api().await?.kb_search(input).await
}

#[tauri::command]
pub async fn kb_similar(
    ticket_id: i64,
    state: State<'_, AppState>,
) -> Result<KbSearchResult, ApiError> {
    state.api().await?.kb_similar(ticket_id).await
}

#[tauri::command]
pub async fn kb_get_document(
    doc_id: String,
    state: State<'_, AppState>,
) -> Result<KbDocumentView, ApiError> {
    state.api().await?.kb_get_document(doc_id).await
}

#[tauri::command]
pub async fn kb_link(
    input: KbLinkInput,
    state: State<'_, AppState>,
) -> Result<TicketView, ApiError> {
    state.api().await?.kb_link(input).await
}

#[tauri::command]
pub async fn kb_status(state: State<'_, AppState>) -> Result<KbStatus, ApiError> {
    state.api().await?.kb_status().await
}

#[tauri::command]
pub async fn kb_list_sources(state: State<'_, AppState>) -> Result<Vec<KbSource>, ApiError> {
    state.api().await?.kb_list_sources().await
}

/// Adds a runbook folder (a path the user typed) and indexes it.
#[tauri::command]
pub async fn kb_add_folder(
    path: String,
    on_progress: Channel<Progress>,
    state: State<'_, AppState>,
) -> Result<KbScanReport, ApiError> {
    let api = state.api().await?;
    api.kb_add_folder(path, move |p| {
        // The window may have gone away: the scan carries on regardless.
        let _ = on_progress.send(p);
    })
    .await
}

#[tauri::command]
pub async fn kb_remove_folder(id: i64, state: State<'_, AppState>) -> Result<(), ApiError> {
    state.api().await?.kb_remove_folder(id).await
}

#[tauri::command]
pub async fn kb_reindex(
    full: bool,
    on_progress: Channel<Progress>,
    state: State<'_, AppState>,
) -> Result<KbScanReport, ApiError> {
    let api = state.api().await?;
    api.kb_reindex(full, move |p| {
        let _ = on_progress.send(p);
    })
    .await
}
