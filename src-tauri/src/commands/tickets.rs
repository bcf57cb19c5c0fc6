use crate::state::AppState;
use casebook_api::ApiError;
use casebook_api::dto::{
    AddCommentInput, Facets, HistoryEntry, NewTicketInput, TicketFilter, TicketPage, TicketQuery,
    TicketView, UpdateTicketInput,
};
use tauri::State;

#[tauri::command]
pub async fn list_tickets(
    query: TicketQuery,
    state: State<'_, AppState>,
) -> Result<TicketPage, ApiError> {
    state.api().await?.list_tickets(query).await
}

/// One count per filter (the view counts in the sidebar), in the order given.
#[tauri::command]
pub async fn count_tickets(
    filters: Vec<TicketFilter>,
    state: State<'_, AppState>,
) -> Result<Vec<u64>, ApiError> {
    state.api().await?.count_tickets(filters).await
}

#[tauri::command]
pub async fn ticket_facets(state: State<'_, AppState>) -> Result<Facets, ApiError> {
    state.api().await?.facets().await
}

#[tauri::command]
pub async fn get_ticket(id: i64, state: State<'_, AppState>) -> Result<TicketView, ApiError> {
    state.api().await?.get_ticket(id).await
}

/// A ticket by its key (`CB-12`, `INC0010001`, case-insensitive) or numeric id.
#[tauri::command]
pub async fn find_ticket(key: String, state: State<'_, AppState>) -> Result<TicketView, ApiError> {
    state.api().await?.find_ticket(key).await
}

#[tauri::command]
pub async fn ticket_history(
    id: i64,
    state: State<'_, AppState>,
) -> Result<Vec<HistoryEntry>, ApiError> {
    state.api().await?.ticket_history(id).await
}

#[tauri::command]
pub async fn create_ticket(
    input: NewTicketInput,
    state: State<'_, AppState>,
) -> Result<TicketView, ApiError> {
    state.api().await?.create_ticket(input).await
}

#[tauri::command]
pub async fn update_ticket(
    input: UpdateTicketInput,
    state: State<'_, AppState>,
) -> Result<TicketView, ApiError> {
    state.api().await?.update_ticket(input).await
}

#[tauri::command]
pub async fn add_comment(
    input: AddCommentInput,
    state: State<'_, AppState>,
) -> Result<TicketView, ApiError> {
    state.api().await?.add_comment(input).await
}
