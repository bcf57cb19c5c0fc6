//! Where the key that encrypts the workspace database comes from.
//!
//! By default the key is generated when the workspace is created and kept in the OS keyring
//! (`database-key/<workspace id>` under the app identifier). A headless machine without a keyring
//! can keep it in a file instead (`CASEBOOK_KEY_FILE`), outside the data directory.
//! There is no silent fallback: a workspace is opened unencrypted only when the caller says
//! [`KeySource::Unencrypted`] (tests and benchmarks of other features).

use crate::error::{ApiError, ErrorCode};
use casebook_core::StoreError;
use casebook_core::secrets::{SecretError, SecretStore, SecretValue};
use casebook_core::store::DatabaseKey;
use std::path::{Path, PathBuf};

/// Environment variable naming a key file to use instead of the keyring.
pub const KEY_FILE_ENV: &str = "CASEBOOK_KEY_FILE";
/// A workspace's id (not a secret): names its key in the keyring.
pub const WORKSPACE_ID_FILE: &str = "workspace-id";

#[derive(Debug, Clone)]
pub enum KeySource {
    /// The key lives in [`crate::OpenOptions::secrets`] (the OS keyring unless a test says
    /// otherwise); generated when the workspace is created.
    SecretStore,
    /// The key lives in this file (64 hex digits), created with mode 0600 for a new workspace.
    File(PathBuf),
    /// A key the caller holds.
    Provided(DatabaseKey),
    /// No encryption. Only for tests and benchmarks that are not about encryption.
    Unencrypted,
}

impl KeySource {
    /// `File($CASEBOOK_KEY_FILE)` when that is set, else the keyring.
    pub fn from_env() -> KeySource {
        match std::env::var_os(KEY_FILE_ENV).filter(|v| !v.is_empty()) {
            Some(p) => KeySource::File(PathBuf::from(p)),
            None => KeySource::SecretStore,
        }
    }
}

pub(crate) fn keyring_error(e: SecretError) -> ApiError {
    match e {
        SecretError::Unavailable { .. } => {
            ApiError::new(ErrorCode::KeyringUnavailable, e.to_string())
        }
        other => ApiError::new(ErrorCode::KeyringUnavailable, other.to_string()),
    }
}

fn key_name(id: &str) -> String {
    format!("database-key/{id}")
}

/// Finds (or, for a new database, creates) the key. `None`: open unencrypted.
pub(crate) fn resolve(
    source: &KeySource,
    secrets: &dyn SecretStore,
    home: &Path,
    db: &Path,
    create: bool,
) -> Result<Option<DatabaseKey>, ApiError> {
    let db_exists = db.exists();
    if !db_exists && !create {
        // Nothing to find a key for, and nothing may be created.
        return Err(StoreError::Missing {
            path: db.to_owned(),
        }
        .into());
    }
    if db_exists && !matches!(source, KeySource::Unencrypted) && is_plain_sqlite(db) {
        // A workspace written before encryption: give it a key and encrypt it in place (a foreign
        // SQLite file is refused by the store and left alone).
        let key = match source {
            KeySource::Provided(k) => k.clone(),
            KeySource::File(path) => from_file(path, home, db, false)?,
            KeySource::SecretStore | KeySource::Unencrypted => {
                from_secrets(secrets, home, db, false)?
            }
        };
        casebook_core::Store::encrypt_in_place(db, &key)?;
        return Ok(Some(key));
    }
    match source {
        KeySource::Unencrypted => Ok(None),
        KeySource::Provided(k) => Ok(Some(k.clone())),
        KeySource::File(path) => from_file(path, home, db, db_exists).map(Some),
        KeySource::SecretStore => from_secrets(secrets, home, db, db_exists).map(Some),
    }
}

/// The workspace's id (not a secret), from its `workspace-id` file; a workspace that has none yet
/// (its key is in a file, or it is not encrypted) gets one. Call after [`resolve`], which decides
/// what a missing file means for a keyring-keyed database.
pub(crate) fn workspace_id(home: &Path) -> Result<String, ApiError> {
    let id_path = home.join(WORKSPACE_ID_FILE);
    if let Some(id) = read_workspace_id(home)? {
        return Ok(id);
    }
    let id = casebook_core::secrets::random_hex(16).map_err(keyring_error)?;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    match o.open(&id_path) {
        Ok(mut f) => {
            std::io::Write::write_all(&mut f, format!("{id}\n").as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| {
                    ApiError::invalid(format!("cannot write {}: {e}", id_path.display()))
                })?;
            Ok(id)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_workspace_id(home)?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::WorkspaceUnreadable,
                    format!("{} is empty", id_path.display()),
                )
            }),
        Err(e) => Err(ApiError::invalid(format!(
            "cannot write {}: {e}",
            id_path.display()
        ))),
    }
}

/// The id in a workspace's `workspace-id` file, if it has one (for tools and tests that name
/// keyring entries, e.g. [`casebook_core::connection::workspace_secret_name`]).
pub fn read_workspace_id(home: &Path) -> Result<Option<String>, ApiError> {
    let id_path = home.join(WORKSPACE_ID_FILE);
    let id = match std::fs::read_to_string(&id_path) {
        Ok(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(ApiError::invalid(format!(
                "cannot read {}: {e}",
                id_path.display()
            )));
        }
    };
    if let Some(id) = &id
        && !id.chars().all(|c| c.is_ascii_hexdigit())
    {
        return Err(ApiError::new(
            ErrorCode::WorkspaceUnreadable,
            format!("{} is damaged (not a workspace id)", id_path.display()),
        ));
    }
    Ok(id)
}

fn is_plain_sqlite(db: &Path) -> bool {
    let mut header = [0u8; 16];
    std::fs::File::open(db)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
        .is_ok()
        && &header == b"SQLite format 3\0"
}

fn from_secrets(
    secrets: &dyn SecretStore,
    home: &Path,
    db: &Path,
    db_exists: bool,
) -> Result<DatabaseKey, ApiError> {
    let id_path = home.join(WORKSPACE_ID_FILE);
    let id = match std::fs::read_to_string(&id_path) {
        Ok(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(ApiError::invalid(format!(
                "cannot read {}: {e}",
                id_path.display()
            )));
        }
    };
    if let Some(id) = &id
        && !id.chars().all(|c| c.is_ascii_hexdigit())
    {
        return Err(ApiError::new(
            ErrorCode::WorkspaceUnreadable,
            format!("{} is damaged (not a workspace id)", id_path.display()),
        ));
    }
    match (id, db_exists) {
        (Some(id), true) => match secrets.get(&key_name(&id)).map_err(keyring_error)? {
            Some(v) => DatabaseKey::from_secret(v).map_err(|e| {
                ApiError::new(
                    ErrorCode::WorkspaceUnreadable,
                    format!("{e} (keyring entry {})", key_name(&id)),
                )
            }),
            None => Err(ApiError::new(
                ErrorCode::WorkspaceKeyMissing,
                format!(
                    "the key of the workspace in {} is not in the OS keyring (the keyring was reset, or \
                     the workspace was copied from another account or machine); the database cannot be \
                     read without it — see docs/security.md",
                    home.display()
                ),
            )),
        },
        (None, true) => Err(ApiError::new(
            ErrorCode::WorkspaceUnreadable,
            format!(
                "{} is not a readable Casebook database (damaged, not a database, or encrypted for a \
                 workspace whose {WORKSPACE_ID_FILE} file is gone); it was not changed — restore it from \
                 a backup or move it aside to start a new workspace",
                db.display()
            ),
        )),
        (id, false) => {
            // A new database: a new key, stored (and read back) before the file exists.
            let id = match id {
                Some(id) => id,
                None => {
                    let id = casebook_core::secrets::random_hex(16).map_err(keyring_error)?;
                    std::fs::write(&id_path, format!("{id}\n")).map_err(|e| {
                        ApiError::invalid(format!("cannot write {}: {e}", id_path.display()))
                    })?;
                    id
                }
            };
            let key = DatabaseKey::generate().map_err(keyring_error)?;
            secrets
                .set(&key_name(&id), key.as_secret())
                .map_err(keyring_error)?;
            let back = secrets.get(&key_name(&id)).map_err(keyring_error)?;
            if back.as_ref() != Some(key.as_secret()) {
                return Err(ApiError::new(
                    ErrorCode::KeyringUnavailable,
                    "the OS keyring did not keep the new database key; nothing was created",
                ));
            }
            Ok(key)
        }
    }
}

fn from_file(
    path: &Path,
    home: &Path,
    db: &Path,
    db_exists: bool,
) -> Result<DatabaseKey, ApiError> {
    // The file may not exist yet: compare its (resolved) folder.
    let resolved = match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            dir.canonicalize().ok().map(|d| d.join(name))
        }
        _ => None,
    };
    if let (Some(p), Ok(h)) = (resolved, home.canonicalize())
        && p.starts_with(&h)
    {
        return Err(ApiError::invalid(format!(
            "the key file {} is inside the data directory; keep it elsewhere (a key next to the \
             database protects nothing)",
            path.display()
        )));
    }
    match std::fs::read_to_string(path) {
        Ok(text) => DatabaseKey::from_secret(SecretValue::new(text.trim()))
            .map_err(|e| ApiError::invalid(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !db_exists => {
            let key = DatabaseKey::generate().map_err(keyring_error)?;
            write_private(path, key.as_secret().expose()).map_err(|e| {
                ApiError::invalid(format!(
                    "cannot create the key file {}: {e}",
                    path.display()
                ))
            })?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ApiError::new(
            ErrorCode::WorkspaceKeyMissing,
            format!(
                "the key file {} does not exist, so {} is not a readable Casebook database; it was \
                 not changed — point CASEBOOK_KEY_FILE at the workspace's key file",
                path.display(),
                db.display()
            ),
        )),
        Err(e) => Err(ApiError::invalid(format!(
            "cannot read the key file {}: {e}",
            path.display()
        ))),
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

/// Reads a key file written by [`KeySource::File`] (for tools and tests that open the store
/// directly).
pub fn read_key_file(path: &Path) -> Result<DatabaseKey, ApiError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ApiError::invalid(format!("cannot read the key file {}: {e}", path.display()))
    })?;
    DatabaseKey::from_secret(SecretValue::new(text.trim()))
        .map_err(|e| ApiError::invalid(format!("{}: {e}", path.display())))
}
