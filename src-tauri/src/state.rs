//! What every command reaches through `State<'_, AppState>`.

use casebook_api::{ApiError, Casebook};

/// The open workspace, or why it could not be opened (locked by another program, written by a
/// newer Casebook, damaged). The app starts either way so that the UI can show the error: every
/// command then returns it.
pub struct AppState {
    workspace: Result<Casebook, ApiError>,
}

impl AppState {
    pub fn new(workspace: Result<Casebook, ApiError>) -> AppState {
        AppState { workspace }
    }

    /// The façade handle, or the error that kept the workspace closed.
    pub fn api(&self) -> Result<&Casebook, ApiError> {
        self.workspace.as_ref().map_err(Clone::clone)
    }
}
