//! Generates the Tauri context and one `allow-<command>` permission per app command, so that every
//! app command must be granted by a capability (`capabilities/main.json`) before the webview can
//! call it. The same list appears in `generate_handler!` (src/lib.rs) and in the capability;
//! `tests/commands_agree.rs` fails when the three disagree.

const COMMANDS: &[&str] = &[
    "workspace_info",
    "update_settings",
    "open_sample_workspace",
    "list_tickets",
    "count_tickets",
    "ticket_facets",
    "get_ticket",
    "find_ticket",
    "ticket_history",
    "create_ticket",
    "update_ticket",
    "add_comment",
    "render_markdown",
    "list_views",
    "save_view",
    "delete_view",
    "ticket_sla",
    "sla_badges",
    "sla_risk",
    "list_macros",
    "preview_macro",
    "apply_macro",
    "kpi_report",
    "kpi_report_csv",
    "sla_notify_settings",
    "set_sla_notify_settings",
    "sla_notification_status",
    "set_focused_ticket",
    "list_connections",
    "add_connection",
    "rename_connection",
    "set_connection_kb_spaces",
    "remove_connection",
    "test_connection",
    "set_connection_secret",
    "delete_connection_secret",
    "begin_sign_in",
    "finish_sign_in",
    "cancel_sign_in",
    "escalation_create",
    "escalation_get",
    "escalation_list",
    "escalation_save",
    "escalation_delete",
    "escalation_analyze_logs",
    "escalation_extracts",
    "escalation_redact_preview",
    "escalation_preview_html",
    "escalation_merge_log_timeline",
    "escalation_check",
    "escalation_export",
    "escalation_push",
    "escalation_push_status",
    "escalation_jira_settings",
    "escalation_set_jira_settings",
    "kb_search",
    "kb_similar",
    "kb_get_document",
    "kb_link",
    "kb_status",
    "kb_list_sources",
    "kb_add_folder",
    "kb_remove_folder",
    "kb_reindex",
    "sync_now",
    "sync_status",
    "outbox_list",
    "outbox_retry",
    "outbox_discard",
    "conflicts_list",
    "conflicts_resolve",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        // Build scripts report errors by panicking; print the whole chain first.
        eprintln!("tauri-build failed: {error:#}");
        std::process::exit(1);
    }
}
