//! What every command reaches through `State<'_, AppState>`.

use casebook_api::Origin;
use casebook_api::{ApiError, Casebook, OpenOptions};
use tauri::AppHandle;
use tokio::sync::OnceCell;

/// The workspace, opened once. The app starts even when it cannot be opened (locked by another
/// program, written by a newer Casebook, damaged): every command then returns that error, which
/// the UI shows, and the next command (the UI's "try again") tries to open it again.
pub struct AppState {
    app: AppHandle,
    workspace: OnceCell<Casebook>,
}

impl AppState {
    pub fn new(app: AppHandle) -> AppState {
        AppState {
            app,
            workspace: OnceCell::new(),
        }
    }

    /// The façade handle, opening the workspace first if it is not open yet. Concurrent callers
    /// wait for the same attempt; a failed attempt is not cached.
    pub async fn api(&self) -> Result<&Casebook, ApiError> {
        self.workspace
            .get_or_try_init(|| async {
                let api = open_workspace().await?;
                crate::events::start(self.app.clone(), api.clone());
                crate::sla_alerts::start(self.app.clone(), api.clone());
                Ok(api)
            })
            .await
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
