//! The Casebook desktop shell: opens the workspace, serves the UI, routes IPC commands to the
//! `casebook_api` façade and forwards its change events. Everything else lives in the crates.

mod browser;
mod commands;
mod events;
mod sla_alerts;
mod state;

use state::AppState;
use std::io::IsTerminal;
use tauri::Manager;

/// Runs the app until its last window closes.
pub fn run() {
    init_logging();
    tracing::debug!("starting");
    let result = tauri::Builder::default()
        // Breach warnings (sla_alerts.rs), sent from Rust: the webview is granted nothing of it.
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(tauri::generate_handler![
            commands::workspace::workspace_info,
            commands::workspace::update_settings,
            commands::workspace::open_sample_workspace,
            commands::tickets::list_tickets,
            commands::tickets::count_tickets,
            commands::tickets::ticket_facets,
            commands::tickets::get_ticket,
            commands::tickets::find_ticket,
            commands::tickets::ticket_history,
            commands::tickets::create_ticket,
            commands::tickets::update_ticket,
            commands::tickets::add_comment,
            commands::markdown::render_markdown,
            commands::views::list_views,
            commands::views::save_view,
            commands::views::delete_view,
            commands::sla::ticket_sla,
            commands::sla::sla_badges,
            commands::sla::sla_risk,
            commands::sla::list_macros,
            commands::sla::preview_macro,
            commands::sla::apply_macro,
            commands::sla::kpi_report,
            commands::sla::kpi_report_csv,
            commands::sla::sla_notify_settings,
            commands::sla::set_sla_notify_settings,
            commands::sla::sla_notification_status,
            commands::sla::set_focused_ticket,
            commands::connections::list_connections,
            commands::connections::add_connection,
            commands::connections::rename_connection,
            commands::connections::set_connection_kb_spaces,
            commands::connections::remove_connection,
            commands::connections::test_connection,
            commands::connections::set_connection_secret,
            commands::connections::delete_connection_secret,
            commands::connections::begin_sign_in,
            commands::connections::finish_sign_in,
            commands::connections::cancel_sign_in,
            commands::escalation::escalation_create,
            commands::escalation::escalation_get,
            commands::escalation::escalation_list,
            commands::escalation::escalation_save,
            commands::escalation::escalation_delete,
            commands::escalation::escalation_analyze_logs,
            commands::escalation::escalation_extracts,
            commands::escalation::escalation_redact_preview,
            commands::escalation::escalation_preview_html,
            commands::escalation::escalation_merge_log_timeline,
            commands::escalation::escalation_check,
            commands::escalation::escalation_export,
            commands::escalation::escalation_push,
            commands::escalation::escalation_push_status,
            commands::escalation::escalation_jira_settings,
            commands::escalation::escalation_set_jira_settings,
            commands::kb::kb_search,
            commands::kb::kb_similar,
            commands::kb::kb_get_document,
            commands::kb::kb_link,
            commands::kb::kb_status,
            commands::kb::kb_list_sources,
            commands::kb::kb_add_folder,
            commands::kb::kb_remove_folder,
            commands::kb::kb_reindex,
            commands::sync::sync_now,
            commands::sync::sync_status,
            commands::sync::outbox_list,
            commands::sync::outbox_retry,
            commands::sync::outbox_discard,
            commands::sync::conflicts_list,
            commands::sync::conflicts_resolve,
        ])
        .setup(|app| {
            tracing::debug!("setting up");
            // Setup runs before the webview's first IPC request is handled: no command can
            // arrive before the state is managed.
            app.manage(sla_alerts::Alerts::new());
            app.manage(AppState::new(app.handle().clone()));
            // Open the workspace while the webview loads; commands that arrive first wait for it.
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                // A failure is logged and returned to the UI by the commands themselves.
                let _ = handle.state::<AppState>().api().await;
            });
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(error) = result {
        tracing::error!(%error, "casebook stopped with an error");
        std::process::exit(1);
    }
}

/// Logs to stderr; `CASEBOOK_LOG` takes a `tracing` filter (default `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CASEBOOK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Fails only when a subscriber is already set (an embedding test): keep that one.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
