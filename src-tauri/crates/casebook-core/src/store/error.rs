use rusqlite::ErrorCode;
use std::path::{Path, PathBuf};

/// What went wrong in the store. Each variant that a user can act on names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no workspace database at {path}")]
    Missing { path: PathBuf },

    #[error(
        "{path} was written by a newer version of Casebook (schema {found}, this build knows {supported}); \
         update Casebook to open it — the file was not changed"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error(
        "{path} is locked by another program (another Casebook or an sqlite3 shell); close it and try again"
    )]
    Locked { path: PathBuf },

    #[error(
        "{path} is not a readable Casebook database (damaged or not a database); it was not changed — \
         restore it from a backup or move it aside to start a new workspace"
    )]
    Corrupt { path: PathBuf },

    #[error(
        "{path} cannot be decrypted with the database key from the OS keyring (the keyring was \
         reset, or the file comes from another account or machine); it was not changed — see \
         docs/security.md for what can be recovered"
    )]
    WrongKey { path: PathBuf },

    #[error(
        "{path} is an unencrypted database but this workspace must be encrypted; it was not changed — \
         export what you need (`casebook export-outbox`) and move it aside to start an encrypted workspace"
    )]
    NotEncrypted { path: PathBuf },

    #[error("{path} is an SQLite database but not a Casebook workspace; it was not changed")]
    NotAWorkspace { path: PathBuf },

    #[error("could not upgrade {path}: {reason}")]
    Migration { path: PathBuf, reason: String },

    #[error("cannot open {path}: {reason}")]
    Io { path: PathBuf, reason: String },

    #[error("ticket {0} not found")]
    TicketNotFound(String),

    #[error("saved view {0} not found")]
    ViewNotFound(String),

    #[error("no connection {0:?} (see `casebook connections list`)")]
    ConnectionNotFound(String),

    #[error(
        "ticket {key} changed since you loaded it (revision {current}, you edited {expected}); reload and reapply"
    )]
    StaleRevision {
        key: String,
        expected: i64,
        current: i64,
    },

    #[error("{0}")]
    Invalid(String),

    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),

    #[error("stored data is invalid: {0}")]
    Data(String),
}

impl StoreError {
    pub(crate) fn from_open(path: &Path, e: rusqlite::Error) -> StoreError {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked {
                path: path.to_owned(),
            },
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                path: path.to_owned(),
            },
            Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied | ErrorCode::ReadOnly) => {
                StoreError::Io {
                    path: path.to_owned(),
                    reason: e.to_string(),
                }
            }
            _ => StoreError::Sql(e),
        }
    }

    /// Like [`StoreError::from_open`] for a connection given a key: "not a database" then means
    /// the key does not fit (or the file is plain SQLite).
    pub(crate) fn from_keyed_open(path: &Path, e: rusqlite::Error) -> StoreError {
        if e.sqlite_error_code() != Some(ErrorCode::NotADatabase) {
            return StoreError::from_open(path, e);
        }
        let mut header = [0u8; 16];
        let plain = std::fs::File::open(path)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
            .is_ok()
            && &header == b"SQLite format 3\0";
        if plain {
            StoreError::NotEncrypted {
                path: path.to_owned(),
            }
        } else {
            StoreError::WrongKey {
                path: path.to_owned(),
            }
        }
    }

    pub(crate) fn from_sql(path: &Path, e: rusqlite::Error) -> StoreError {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked {
                path: path.to_owned(),
            },
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                path: path.to_owned(),
            },
            _ => StoreError::Sql(e),
        }
    }
}
