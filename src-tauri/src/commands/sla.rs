//! SLA badges and risk order, macros, KPI reports (issue 7): thin calls into the façade.

use crate::sla_alerts::Alerts;
use crate::state::AppState;
use casebook_api::ApiError;
use casebook_api::dto::TicketView;
use casebook_api::sla::{
    KpiReport as Report, KpiReportFilter as ReportFilter, MacroDef as Macro, MacroInput,
    MacroPreview, NotificationStatus, SlaBadge, SlaNotifySettings, TicketSlaView as TicketSla,
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

#[tauri::command]
pub async fn sla_notify_settings(
    state: State<'_, AppState>,
) -> Result<SlaNotifySettings, ApiError> {
    state.api().await?.sla_notify_settings().await
}

#[tauri::command]
pub async fn set_sla_notify_settings(
    settings: SlaNotifySettings,
    state: State<'_, AppState>,
) -> Result<SlaNotifySettings, ApiError> {
    state.api().await?.set_sla_notify_settings(settings).await
}

/// Whether breach warnings can be shown as desktop notifications (and why not).
#[tauri::command]
pub async fn sla_notification_status(
    alerts: State<'_, Alerts>,
) -> Result<NotificationStatus, ApiError> {
    Ok(alerts.status())
}

/// The ticket the UI shows (`None`: none): no breach warning is shown for it while the window
/// has focus.
#[tauri::command]
pub async fn set_focused_ticket(
    id: Option<i64>,
    alerts: State<'_, Alerts>,
) -> Result<(), ApiError> {
    alerts.set_focused_ticket(id);
    Ok(())
}
