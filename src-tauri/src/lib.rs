//! The Casebook desktop shell: opens the workspace, serves the UI, routes IPC commands to the
//! `casebook_api` façade and forwards its change events. Everything else lives in the crates.

mod commands;
mod events;
mod state;

use casebook_api::{ApiError, Casebook, OpenOptions};
use casebook_core::store::Origin;
use state::AppState;
use std::io::IsTerminal;
use tauri::Manager;

/// Runs the app until its last window closes.
pub fn run() {
    init_logging();
    // Opened before the window exists, so that no command can run before the state is managed.
    // On failure (locked, newer, damaged) the app still starts and every command returns the error.
    let workspace = tauri::async_runtime::block_on(open_workspace());
    let result = tauri::Builder::default()
        .manage(AppState::new(workspace))
        .invoke_handler(tauri::generate_handler![
            commands::workspace::workspace_info,
            commands::workspace::update_settings,
            commands::workspace::open_sample_workspace,
            commands::tickets::list_tickets,
            commands::tickets::count_tickets,
            commands::tickets::ticket_facets,
            commands::tickets::get_ticket,
            commands::tickets::ticket_history,
            commands::tickets::create_ticket,
            commands::tickets::update_ticket,
            commands::tickets::add_comment,
            commands::markdown::render_markdown,
            commands::views::list_views,
            commands::views::save_view,
            commands::views::delete_view,
        ])
        .setup(|app| {
            if let Ok(api) = app.state::<AppState>().api() {
                events::start(app.handle().clone(), api.clone());
            }
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(error) = result {
        tracing::error!(%error, "casebook stopped with an error");
        std::process::exit(1);
    }
}

async fn open_workspace() -> Result<Casebook, ApiError> {
    let home = casebook_api::default_home()?;
    tracing::info!(home = %home.display(), "opening the workspace");
    let opened = Casebook::open(OpenOptions::new(home, Origin::App)).await;
    if let Err(error) = &opened {
        tracing::error!(code = ?error.code, %error, "cannot open the workspace");
    }
    opened
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
