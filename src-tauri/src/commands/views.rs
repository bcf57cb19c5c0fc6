use crate::state::AppState;
use casebook_api::ApiError;
use casebook_api::dto::{SaveViewInput, SavedView};
use tauri::State;

#[tauri::command]
pub async fn list_views(state: State<'_, AppState>) -> Result<Vec<SavedView>, ApiError> {
    state.api().await?.list_views().await
}

#[tauri::command]
pub async fn save_view(
    input: SaveViewInput,
    state: State<'_, AppState>,
) -> Result<SavedView, ApiError> {
    state.api().await?.save_view(input).await
}

#[tauri::command]
pub async fn delete_view(id: i64, state: State<'_, AppState>) -> Result<(), ApiError> {
    state.api().await?.delete_view(id).await
}
