//! Forwards the façade's change batches to the webview, where the UI refreshes what it shows.

use casebook_api::Casebook;
use casebook_api::dto::{ChangeBatch, ChangeKind, ChangeOrigin};
use std::time::Duration;
use tauri::{AppHandle, Emitter};
use tokio::sync::broadcast::error::RecvError;

/// The event the UI listens to; the payload is a `ChangeBatch`.
pub const CHANGES_EVENT: &str = "casebook://changes";

/// How often to look for writes by other processes (the CLI).
const EXTERNAL_CHECK_EVERY: Duration = Duration::from_secs(2);

/// Starts the forwarder (and the watcher for external writes) on Tauri's async runtime.
pub fn start(app: AppHandle, api: Casebook) {
    tauri::async_runtime::spawn(async move {
        let mut changes = api.subscribe();
        // Lives as long as the forwarder, that is as long as the app.
        let _watcher = api.watch_external_changes(EXTERNAL_CHECK_EVERY);
        loop {
            let batch = match changes.recv().await {
                Ok(batch) => batch,
                // Batches were dropped: tell the UI that anything may have changed.
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "change events lagged; asking the UI to refresh all");
                    ChangeBatch {
                        kind: ChangeKind::Workspace,
                        ids: Vec::new(),
                        origin: ChangeOrigin::Local,
                    }
                }
                Err(RecvError::Closed) => break,
            };
            if let Err(error) = app.emit(CHANGES_EVENT, &batch) {
                tracing::warn!(%error, "cannot forward a change event to the webview");
            }
        }
    });
}
