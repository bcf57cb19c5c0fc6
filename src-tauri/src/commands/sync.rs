//! Sync (issue 5): sync a connection now with progress over the caller's channel, the status of
//! every connection, the outbox (list, retry, discard) and the conflict inbox (list, resolve).
//! Thin calls into the façade.

use crate::state::AppState;
use casebook_api::ApiError;
use casebook_api::sync::{
    ConflictResolutionInput, ConflictView, OutboxOpView, SyncProgress, SyncRunView, SyncStatusView,
};
use std::sync::Arc;
use tauri::State;
use tauri::ipc::Channel;

/// Syncs one connection (its name or id) now; progress goes to `on_progress`.
#[tauri::command]
pub async fn sync_now(
    connection: String,
    on_progress: Channel<SyncProgress>,
    state: State<'_, AppState>,
) -> Result<SyncRunView, ApiError> {
    let api = state.api().await?;
    let progress = Arc::new(move |p: SyncProgress| {
        // The window may have gone away: the sync carries on regardless.
        let _ = on_progress.send(p);
    });
    api.sync_now(connection, Some(progress)).await
}

#[tauri::command]
pub async fn sync_status(state: State<'_, AppState>) -> Result<Vec<SyncStatusView>, ApiError> {
    state.api().await?.sync_status().await
}

#[tauri::command]
pub async fn outbox_list(
    connection: Option<String>,
    state: State<'_, AppState>,
) -> Result<Vec<OutboxOpView>, ApiError> {
    state.api().await?.outbox_list(connection).await
}

#[tauri::command]
pub async fn outbox_retry(id: i64, state: State<'_, AppState>) -> Result<OutboxOpView, ApiError> {
    state.api().await?.outbox_retry(id).await
}

/// Discards an operation the agent confirmed; a copy stays in the event log.
#[tauri::command]
pub async fn outbox_discard(
    id: i64,
    confirmed: bool,
    state: State<'_, AppState>,
) -> Result<(), ApiError> {
    state.api().await?.outbox_discard(id, confirmed).await
}

#[tauri::command]
pub async fn conflicts_list(
    connection: Option<String>,
    state: State<'_, AppState>,
) -> Result<Vec<ConflictView>, ApiError> {
    state.api().await?.conflicts_list(connection).await
}

#[tauri::command]
pub async fn conflicts_resolve(
    id: i64,
    resolution: ConflictResolutionInput,
    state: State<'_, AppState>,
) -> Result<(), ApiError> {
    state.api().await?.conflicts_resolve(id, resolution).await
}
