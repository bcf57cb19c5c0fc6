//! Connections (issue 4): add, list, rename, remove, test, sign in. Secrets go in (set) and never
//! come out: no command returns one.

use crate::state::AppState;
use casebook_api::ApiError;
use casebook_api::connections::{
    ConnectionTestReport, ConnectionView, NewConnectionInput, SignInStart,
};
use tauri::State;

#[tauri::command]
pub async fn list_connections(state: State<'_, AppState>) -> Result<Vec<ConnectionView>, ApiError> {
    state.api().await?.list_connections().await
}

#[tauri::command]
pub async fn add_connection(
    input: NewConnectionInput,
    state: State<'_, AppState>,
) -> Result<ConnectionView, ApiError> {
    state.api().await?.add_connection(input).await
}

#[tauri::command]
pub async fn rename_connection(
    id: i64,
    name: String,
    state: State<'_, AppState>,
) -> Result<ConnectionView, ApiError> {
    state.api().await?.rename_connection(id, name).await
}

/// Jira Service Management: the Confluence space keys behind its knowledge base (empty: none).
#[tauri::command]
pub async fn set_connection_kb_spaces(
    id: i64,
    spaces: Vec<String>,
    state: State<'_, AppState>,
) -> Result<ConnectionView, ApiError> {
    state
        .api()
        .await?
        .set_connection_kb_spaces(id, spaces)
        .await
}

#[tauri::command]
pub async fn remove_connection(id: i64, state: State<'_, AppState>) -> Result<(), ApiError> {
    state.api().await?.remove_connection(id).await
}

#[tauri::command]
pub async fn test_connection(
    id: i64,
    state: State<'_, AppState>,
) -> Result<ConnectionTestReport, ApiError> {
    state.api().await?.test_connection(id).await
}

/// Write-only: stores the password or API token, then tests the connection with it.
#[tauri::command]
pub async fn set_connection_secret(
    id: i64,
    secret: String,
    state: State<'_, AppState>,
) -> Result<ConnectionTestReport, ApiError> {
    state.api().await?.set_connection_secret(id, secret).await
}

#[tauri::command]
pub async fn delete_connection_secret(
    id: i64,
    state: State<'_, AppState>,
) -> Result<ConnectionView, ApiError> {
    state.api().await?.delete_connection_secret(id).await
}

/// Starts an OAuth sign-in and opens the authorization page in the system browser (the UI also
/// shows the address, for when no browser opens).
#[tauri::command]
pub async fn begin_sign_in(id: i64, state: State<'_, AppState>) -> Result<SignInStart, ApiError> {
    let start = state.api().await?.begin_sign_in(id).await?;
    crate::browser::open(&start.url);
    Ok(start)
}

/// Waits for the browser to come back (up to the sign-in timeout) and completes the sign-in.
#[tauri::command]
pub async fn finish_sign_in(
    attempt_id: String,
    state: State<'_, AppState>,
) -> Result<ConnectionTestReport, ApiError> {
    state.api().await?.finish_sign_in(attempt_id).await
}

#[tauri::command]
pub async fn cancel_sign_in(
    attempt_id: String,
    state: State<'_, AppState>,
) -> Result<(), ApiError> {
    state.api().await?.cancel_sign_in(&attempt_id);
    Ok(())
}
