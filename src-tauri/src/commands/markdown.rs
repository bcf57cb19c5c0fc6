use crate::state::AppState;
use casebook_api::ApiError;
use tauri::State;

/// Markdown to sanitized HTML, for the compose box preview.
#[tauri::command]
pub async fn render_markdown(text: String, state: State<'_, AppState>) -> Result<String, ApiError> {
    state.api().await?.render_markdown(text).await
}
