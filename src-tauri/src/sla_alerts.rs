//! Delivers SLA breach warnings as desktop notifications. What to warn about, when, and the
//! "once per target" record are the façade's (`Casebook::take_sla_notices`, with its clock); this
//! only asks every [`CHECK_EVERY`], tells it which ticket the focused window shows, and shows
//! what comes back. Notifications are sent from Rust: the webview needs no notification
//! permission.

use casebook_api::sla::NotificationStatus;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_notification::NotificationExt;

/// How often due warnings are looked for.
const CHECK_EVERY: Duration = Duration::from_secs(30);
/// Test-only: a shorter check interval in milliseconds (the real-webview notification test
/// sets it so that it does not wait 30 s per round). Values under 100 ms are ignored.
const CHECK_EVERY_ENV: &str = "CASEBOOK_SLA_CHECK_EVERY_MS";

fn check_every() -> Duration {
    std::env::var(CHECK_EVERY_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms >= 100)
        .map_or(CHECK_EVERY, Duration::from_millis)
}
/// How often an unavailable notification service is probed again.
const REPROBE_EVERY: u32 = 10;

/// What the shell knows about warnings: the ticket the UI shows, and whether notifications work.
pub struct Alerts {
    focused_ticket: Mutex<Option<i64>>,
    status: Mutex<NotificationStatus>,
}

impl Alerts {
    pub fn new() -> Alerts {
        Alerts {
            focused_ticket: Mutex::new(None),
            status: Mutex::new(NotificationStatus {
                available: false,
                reason: Some("not checked yet".into()),
            }),
        }
    }

    pub fn set_focused_ticket(&self, id: Option<i64>) {
        *self
            .focused_ticket
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = id;
    }

    pub fn status(&self) -> NotificationStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_status(&self, s: NotificationStatus) {
        *self.status.lock().unwrap_or_else(PoisonError::into_inner) = s;
    }
}

/// Whether a notification server is there to show notifications (Linux: the freedesktop
/// notification service on the session bus).
#[cfg(target_os = "linux")]
fn probe() -> NotificationStatus {
    match notify_rust::get_server_information() {
        Ok(_) => NotificationStatus {
            available: true,
            reason: None,
        },
        Err(error) => {
            tracing::warn!(%error, "no desktop notification service");
            NotificationStatus {
                available: false,
                reason: Some("no desktop notification service is running".into()),
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn probe() -> NotificationStatus {
    NotificationStatus {
        available: true,
        reason: None,
    }
}

/// The ticket the agent is looking at: the one the UI shows, while the window has focus.
fn focused<R: Runtime>(app: &AppHandle<R>, alerts: &Alerts) -> Option<i64> {
    let window_focused = app
        .webview_windows()
        .values()
        .any(|w| w.is_focused().unwrap_or(false));
    if window_focused {
        *alerts
            .focused_ticket
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    } else {
        None
    }
}

/// Starts the warning loop on Tauri's async runtime (after the workspace opened).
pub fn start<R: Runtime>(app: AppHandle<R>, api: casebook_api::Casebook) {
    tauri::async_runtime::spawn(async move {
        let alerts = app.state::<Alerts>();
        let every = check_every();
        let mut round = 0u32;
        loop {
            if round.is_multiple_of(REPROBE_EVERY) && !alerts.status().available {
                let status = tauri::async_runtime::spawn_blocking(probe)
                    .await
                    .unwrap_or_else(|_| NotificationStatus {
                        available: false,
                        reason: Some("the notification check failed".into()),
                    });
                alerts.set_status(status);
            }
            round = round.wrapping_add(1);
            // Warnings are taken (and recorded as sent) only when they can be shown.
            if alerts.status().available {
                match api.take_sla_notices(focused(&app, &alerts)).await {
                    Ok(notices) => {
                        for n in notices {
                            let shown = app
                                .notification()
                                .builder()
                                .title(&n.title)
                                .body(&n.body)
                                .show();
                            if let Err(error) = shown {
                                tracing::warn!(%error, "cannot show a breach warning");
                                alerts.set_status(NotificationStatus {
                                    available: false,
                                    reason: Some(format!("cannot show notifications: {error}")),
                                });
                            }
                        }
                    }
                    Err(error) => tracing::warn!(%error, "cannot choose breach warnings"),
                }
            }
            tokio::time::sleep(every).await;
        }
    });
}
