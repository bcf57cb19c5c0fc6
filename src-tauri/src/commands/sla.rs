//! SLA badges and risk order, macros, KPI reports (issue 7): thin calls into the façade.

use crate::state::AppState;
use casebook_api::ApiError;
use casebook_api::dto::TicketView;
use casebook_api::sla::{
    KpiReport as Report, KpiReportFilter as ReportFilter, MacroDef as Macro, MacroInput,
    MacroPreview, SlaBadge, TicketSlaView as TicketSla,
};
use tauri::State;

#[tauri::command]
pub async fn ticket_sla(id: i64, state: State<'_, AppState>) -> Result<TicketSla, ApiError> {
    state.api().await?.ticket_sla(id).await
}

#[tauri::command]
pub async fn sla_badges(
    ids: Vec<i64>,
    state: State<'_, AppState>,
) -> Result<Vec<SlaBadge>, ApiError> {
    state.api().await?.sla_badges(ids).await
}

#[tauri::command]
pub async fn sla_risk(
    limit: Option<u32>,
    state: State<'_, AppState>,
) -> Result<Vec<SlaBadge>, ApiError> {
    state.api().await?.sla_risk(limit).await
}

#[tauri::command]
pub async fn list_macros(state: State<'_, AppState>) -> Result<Vec<Macro>, ApiError> {
    state.api().await?.list_macros().await
}

#[tauri::command]
pub async fn preview_macro(
    input: MacroInput,
    state: State<'_, AppState>,
) -> Result<MacroPreview, ApiError> {
    state.api().await?.preview_macro(input).await
}

#[tauri::command]
pub async fn apply_macro(
    input: MacroInput,
    state: State<'_, AppState>,
) -> Result<TicketView, ApiError> {
    state.api().await?.apply_macro(input).await
}

#[tauri::command]
pub async fn kpi_report(
    filter: ReportFilter,
    state: State<'_, AppState>,
) -> Result<Report, ApiError> {
    state.api().await?.report(filter).await
}

#[tauri::command]
pub async fn kpi_report_csv(
    filter: ReportFilter,
    state: State<'_, AppState>,
) -> Result<String, ApiError> {
    state.api().await?.report_csv(filter).await
}
