//! Errors as they cross IPC: `{ "code": ErrorCode, "message": String }`.
//!
//! A new code is added only when the UI needs to branch on it; everything else is `internal` with
//! a message fit for a person. Internal details (SQL, paths of temp files, chains) go to the log.

use casebook_core::StoreError;
use casebook_core::import::ImportError;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ErrorCode {
    /// The ticket, view or file asked for does not exist.
    NotFound,
    /// The input was refused; the message says why.
    InvalidInput,
    /// The ticket changed since it was loaded: reload, then reapply the edit.
    StaleRevision,
    /// Another program holds the workspace database.
    WorkspaceLocked,
    /// The workspace was written by a newer Casebook.
    WorkspaceNewer,
    /// The workspace database is damaged or not a Casebook database.
    WorkspaceUnreadable,
    /// The workspace's database key is not where it should be (keyring reset, copied workspace).
    WorkspaceKeyMissing,
    /// The OS keyring is unavailable or locked; the message says how to fix it.
    KeyringUnavailable,
    /// A sign-in did not complete (declined, timed out, refused, expired): start it again.
    SignInFailed,
    /// Anything else; the message is for a person, the details are in the log.
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message}")]
#[ts(export)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidInput, message)
    }

    pub fn internal(context: &str, err: &dyn std::error::Error) -> ApiError {
        tracing::error!(error = %DisplayChain(err), "{context}");
        ApiError::new(
            ErrorCode::Internal,
            format!("{context} failed; see the log for details"),
        )
    }
}

/// Formats an error with its whole `source()` chain, for the log.
pub struct DisplayChain<'a>(pub &'a dyn std::error::Error);

impl std::fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cur = self.0.source();
        while let Some(e) = cur {
            write!(f, ": {e}")?;
            cur = e.source();
        }
        Ok(())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        use ErrorCode::*;
        let code = match &e {
            StoreError::Missing { .. }
            | StoreError::TicketNotFound(_)
            | StoreError::ViewNotFound(_)
            | StoreError::ConnectionNotFound(_) => NotFound,
            StoreError::Invalid(_) => InvalidInput,
            StoreError::StaleRevision { .. } => StaleRevision,
            StoreError::Locked { .. } => WorkspaceLocked,
            StoreError::NewerSchema { .. } => WorkspaceNewer,
            StoreError::Corrupt { .. }
            | StoreError::NotAWorkspace { .. }
            | StoreError::WrongKey { .. }
            | StoreError::NotEncrypted { .. } => WorkspaceUnreadable,
            StoreError::Migration { .. } | StoreError::Io { .. } => Internal,
            StoreError::Sql(_) | StoreError::Data(_) => {
                return ApiError::internal("the database operation", &e);
            }
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Store(s) => s.into(),
            ImportError::NotFound(_) => ApiError::new(ErrorCode::NotFound, e.to_string()),
            other => ApiError::invalid(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn errors_serialize_as_code_and_message() {
        let e: ApiError = StoreError::StaleRevision {
            key: "CB-1".into(),
            expected: 1,
            current: 2,
        }
        .into();
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["code"], "stale_revision");
        assert!(json["message"].as_str().unwrap().contains("CB-1"));
        assert_eq!(json.as_object().unwrap().len(), 2);
    }

    #[test]
    fn sql_errors_do_not_leak_details() {
        let raw = rusqlite_error();
        let e: ApiError = StoreError::Sql(raw).into();
        assert_eq!(e.code, ErrorCode::Internal);
        assert!(!e.message.contains("SELECT"), "{}", e.message);
    }

    #[test]
    fn workspace_problems_have_their_own_codes() {
        let p = PathBuf::from("/tmp/x/casebook.db");
        let locked: ApiError = StoreError::Locked { path: p.clone() }.into();
        let newer: ApiError = StoreError::NewerSchema {
            path: p.clone(),
            found: 9,
            supported: 1,
        }
        .into();
        let bad: ApiError = StoreError::Corrupt { path: p }.into();
        assert_eq!(
            [locked.code, newer.code, bad.code],
            [
                ErrorCode::WorkspaceLocked,
                ErrorCode::WorkspaceNewer,
                ErrorCode::WorkspaceUnreadable
            ]
        );
    }

    fn rusqlite_error() -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(1),
            Some("near SELECT * FROM secrets: syntax error".into()),
        )
    }
}
