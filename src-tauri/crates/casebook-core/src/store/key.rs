//! The key that encrypts a workspace database (SQLCipher).
//!
//! 32 random bytes, kept hex-encoded in the OS keyring by the façade. The key is passed as a raw
//! key (`PRAGMA key = "x'…'"`), so opening a connection costs no key derivation: readers are
//! opened often.

use super::{Result, Store, StoreError};
use crate::secrets::{SecretError, SecretValue, random_hex};
use rusqlite::{Connection, OpenFlags};
use std::fmt;
use std::path::Path;

const KEY_BYTES: usize = 32;

/// Copies the database open on `conn` into a new file at `target`, encrypted with `key` in
/// [`cipher_format`], with the same schema version.
pub(super) fn export_to(
    conn: &Connection,
    target: &Path,
    key: &DatabaseKey,
) -> rusqlite::Result<()> {
    // The connection may lack SQLITE_OPEN_CREATE: make the (empty) file first. Like VACUUM INTO,
    // this refuses to overwrite an existing file.
    std::fs::File::create_new(target).map_err(|e| {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(format!("cannot create {}: {e}", target.display())),
        )
    })?;
    let raw = SecretValue::new(format!("x'{}'", key.0.expose()));
    conn.execute(
        "ATTACH DATABASE ?1 AS export KEY ?2",
        rusqlite::params![target.to_string_lossy(), raw.expose()],
    )?;
    let copied = conn
        .execute_batch(&cipher_format("export"))
        .and_then(|()| conn.query_row("SELECT sqlcipher_export('export')", [], |_| Ok(())))
        .and_then(|()| conn.query_row("PRAGMA main.user_version", [], |r| r.get::<_, i64>(0)))
        .and_then(|v| conn.execute_batch(&format!("PRAGMA export.user_version = {v};")));
    let detached = conn.execute_batch("DETACH DATABASE export");
    copied.and(detached)
}

/// How Casebook's pages are encrypted: AES-256-CBC (SQLCipher's cipher) with an HMAC-SHA256 per
/// page, on 8 KiB pages. SQLCipher 4's defaults are HMAC-SHA512 on 4 KiB pages; an import spends
/// a fifth of its time encrypting pages, and this format halves that (`casebook bench`: 47k → 58k
/// tickets/s over 100,000 tickets, the plain file at 57k). SHA-256 runs on the CPU's SHA
/// extensions and still authenticates every page; half as many pages means half as many HMACs
/// and IVs. Every connection must state the same format, so it follows the key in
/// [`DatabaseKey::pragma`]. These are the statements for the database `schema` (`main` or an
/// attached one).
fn cipher_format(schema: &str) -> String {
    format!(
        "PRAGMA {schema}.cipher_page_size = 8192; PRAGMA {schema}.cipher_hmac_algorithm = HMAC_SHA256;"
    )
}

#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseKey(SecretValue);

impl DatabaseKey {
    /// A new random key.
    pub fn generate() -> Result<DatabaseKey, SecretError> {
        Ok(DatabaseKey(SecretValue::new(random_hex(KEY_BYTES)?)))
    }

    /// A key as stored (64 hex digits). Anything else is refused: it would not be a key this
    /// program made.
    pub fn from_secret(value: SecretValue) -> Result<DatabaseKey, InvalidKey> {
        let v = value.expose();
        if v.len() == KEY_BYTES * 2 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(DatabaseKey(value))
        } else {
            Err(InvalidKey)
        }
    }

    /// The value to keep in the keyring.
    pub fn as_secret(&self) -> &SecretValue {
        &self.0
    }

    /// The `PRAGMA key` statement followed by Casebook's page format ([`cipher_format`]). Safe to
    /// format: the key is only hex digits.
    pub(super) fn pragma(&self) -> SecretValue {
        SecretValue::new(format!(
            "{} {}",
            self.legacy_pragma().expose(),
            cipher_format("main")
        ))
    }

    /// The `PRAGMA key` statement alone: SQLCipher 4's default page format, which workspaces
    /// encrypted before [`cipher_format`] use.
    fn legacy_pragma(&self) -> SecretValue {
        // SQLCipher logs a failed HMAC check (a wrong key) to stderr itself; the caller reports it.
        SecretValue::new(format!(
            "PRAGMA cipher_log_level = NONE; PRAGMA key = \"x'{}'\";",
            self.0.expose()
        ))
    }
}

impl fmt::Debug for DatabaseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DatabaseKey(<redacted>)")
    }
}

impl Store {
    /// Encrypts a plain Casebook database (one written before encryption) in place with `key`.
    ///
    /// The content is exported into a new encrypted file next to it, which is checked (opens with
    /// the key, passes `integrity_check`, same schema version) and then renamed over the original.
    /// Until that rename the original is untouched; a foreign SQLite file is refused.
    pub fn encrypt_in_place(path: &Path, key: &DatabaseKey) -> Result<()> {
        Store::export_in_place(path, None, key)?;
        tracing::info!(path = %path.display(), "encrypted the workspace database");
        Ok(())
    }

    /// Whether `path` is a workspace encrypted with `key` in SQLCipher's default page format
    /// (written before [`cipher_format`]).
    pub(super) fn has_legacy_format(path: &Path, key: &DatabaseKey) -> bool {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let Ok(conn) = Connection::open_with_flags(path, flags) else {
            return false;
        };
        conn.execute_batch(key.legacy_pragma().expose()).is_ok()
            && conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
                .is_ok()
    }

    /// Rewrites a workspace encrypted in SQLCipher's default page format into [`cipher_format`],
    /// with the same key, the same way as [`Store::encrypt_in_place`]: checked copy, then rename.
    pub(super) fn upgrade_cipher_format(path: &Path, key: &DatabaseKey) -> Result<()> {
        Store::export_in_place(path, Some(key), key)?;
        tracing::info!(path = %path.display(), "rewrote the workspace database in the current page format");
        Ok(())
    }

    /// Exports the database at `path` (plain, or encrypted in the legacy format with `from`) into
    /// a new file in [`cipher_format`] under `key`, checks the copy, and renames it over `path`.
    fn export_in_place(path: &Path, from: Option<&DatabaseKey>, key: &DatabaseKey) -> Result<()> {
        let sql = |e: rusqlite::Error| StoreError::from_open(path, e);
        let tmp = path.with_extension("db-encrypting");
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&tmp, &e)),
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let version: i64 = {
            if !path.exists() {
                return Err(StoreError::Missing {
                    path: path.to_owned(),
                });
            }
            // CREATE: the attached copy is a new file (the original exists, checked above).
            let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_CREATE)
                .map_err(sql)?;
            if let Some(from) = from {
                conn.execute_batch(from.legacy_pragma().expose())
                    .map_err(sql)?;
            }
            conn.busy_timeout(std::time::Duration::from_secs(5))
                .map_err(sql)?;
            let ours: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'tickets'",
                    [],
                    |r| r.get(0),
                )
                .map_err(sql)?;
            if ours == 0 {
                return Err(StoreError::NotAWorkspace {
                    path: path.to_owned(),
                });
            }
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(sql)?;
            let version: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(sql)?;
            let raw = SecretValue::new(format!("x'{}'", key.0.expose()));
            conn.execute(
                "ATTACH DATABASE ?1 AS enc KEY ?2",
                rusqlite::params![tmp.to_string_lossy(), raw.expose()],
            )
            .map_err(sql)?;
            conn.execute_batch(&cipher_format("enc")).map_err(sql)?;
            conn.query_row("SELECT sqlcipher_export('enc')", [], |_| Ok(()))
                .map_err(sql)?;
            conn.execute_batch(&format!(
                "PRAGMA enc.user_version = {version}; DETACH DATABASE enc;"
            ))
            .map_err(sql)?;
            version
        };
        {
            let check = Connection::open_with_flags(&tmp, flags).map_err(sql)?;
            check.execute_batch(key.pragma().expose()).map_err(sql)?;
            let ok: String = check
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .map_err(sql)?;
            let v: i64 = check
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(sql)?;
            if ok != "ok" || v != version {
                return Err(StoreError::Migration {
                    path: path.to_owned(),
                    reason: format!("the encrypted copy did not check out ({ok}, schema {v})"),
                });
            }
        }
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| io(&tmp, &e))?;
        // The old WAL and shared-memory files belong to the plain file: never let SQLite apply
        // them to the new one.
        for ext in ["db-wal", "db-shm"] {
            match std::fs::remove_file(path.with_extension(ext)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(path, &e)),
            }
        }
        std::fs::rename(&tmp, path).map_err(|e| io(path, &e))?;
        Ok(())
    }
}

fn io(path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the stored database key is malformed (expected 64 hex digits)")]
pub struct InvalidKey;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::OpenMode;

    #[test]
    fn keys_are_random_hex_and_checked() {
        let k = DatabaseKey::generate().unwrap();
        assert_eq!(k.as_secret().expose().len(), 64);
        assert_ne!(k, DatabaseKey::generate().unwrap());
        assert!(!format!("{k:?}").contains(k.as_secret().expose()));
        let again = DatabaseKey::from_secret(k.as_secret().clone()).unwrap();
        assert_eq!(again, k);
        for bad in [
            "",
            "abc",
            &"g".repeat(64),
            &"a".repeat(63),
            "x'00'; DROP TABLE t",
        ] {
            assert!(
                DatabaseKey::from_secret(SecretValue::new(bad)).is_err(),
                "{bad}"
            );
        }
    }

    const MARKER: &str = "very-recognizable-plaintext-marker";

    fn encrypted_store() -> (tempfile::TempDir, std::path::PathBuf, DatabaseKey) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("casebook.db");
        let key = DatabaseKey::generate().unwrap();
        let store = Store::open_encrypted(&path, OpenMode::CreateIfMissing, &key).unwrap();
        store.set_setting("marker", MARKER).unwrap();
        // Full-text search still works on the SQLCipher build (the schema has FTS5 tables).
        let fts5: i64 = store
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM pragma_compile_options WHERE compile_options = 'ENABLE_FTS5'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        assert_eq!(fts5, 1);
        assert_eq!(store.integrity_check().unwrap(), "ok");
        drop(store);
        (dir, path, key)
    }

    #[test]
    fn an_encrypted_store_reopens_with_its_key_and_holds_no_plaintext() {
        let (_dir, path, key) = encrypted_store();
        let store = Store::open_encrypted(&path, OpenMode::MustExist, &key).unwrap();
        assert_eq!(store.setting("marker").unwrap().as_deref(), Some(MARKER));
        // Readers get the key too (a fresh reader beyond the pooled one).
        let v: Vec<Option<String>> = (0..6).map(|_| store.setting("marker").unwrap()).collect();
        assert!(v.iter().all(|x| x.as_deref() == Some(MARKER)));
        drop(store);
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.starts_with(b"SQLite format 3"));
        let hay = String::from_utf8_lossy(&bytes);
        assert!(!hay.contains(MARKER) && !hay.contains("CREATE TABLE"));
    }

    #[test]
    fn a_backup_of_an_encrypted_store_is_encrypted_with_the_same_key() {
        let (dir, path, key) = encrypted_store();
        let store = Store::open_encrypted(&path, OpenMode::MustExist, &key).unwrap();
        let backup = dir.path().join("backup.db");
        store.vacuum_into(&backup).unwrap();
        let bytes = std::fs::read(&backup).unwrap();
        assert!(
            !bytes.starts_with(b"SQLite format 3"),
            "VACUUM INTO wrote plaintext"
        );
        assert!(!String::from_utf8_lossy(&bytes).contains(MARKER));
        assert!(!Store::has_legacy_format(&backup, &key));
        let copy = Store::open_encrypted(&backup, OpenMode::MustExist, &key).unwrap();
        assert_eq!(copy.setting("marker").unwrap().as_deref(), Some(MARKER));
        assert_eq!(cipher_setting(&copy, "cipher_page_size"), "8192");
        // Like VACUUM INTO, a backup never overwrites a file.
        assert!(store.vacuum_into(&backup).is_err());
        assert_eq!(copy.setting("marker").unwrap().as_deref(), Some(MARKER));
    }

    #[test]
    fn a_wrong_key_is_reported_and_nothing_changes() {
        let (_dir, path, _key) = encrypted_store();
        let before = std::fs::read(&path).unwrap();
        let other = DatabaseKey::generate().unwrap();
        let err = Store::open_encrypted(&path, OpenMode::MustExist, &other).unwrap_err();
        assert!(matches!(err, StoreError::WrongKey { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("cannot be decrypted") && msg.contains("casebook.db"),
            "{msg}"
        );
        // Without any key the file is just unreadable.
        let err = Store::open(&path, OpenMode::MustExist).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn the_sqlite3_shell_cannot_read_it() {
        let (_dir, path, _key) = encrypted_store();
        let out = match std::process::Command::new("sqlite3")
            .arg(&path)
            .arg("SELECT value FROM settings;")
            .output()
        {
            Ok(o) => o,
            Err(e) => {
                // scripts/setup.sh installs sqlite3; CI fails here if it is missing.
                assert!(
                    std::env::var_os("CI").is_none(),
                    "sqlite3 is not installed: {e}"
                );
                eprintln!("skipped: no sqlite3 shell ({e})");
                return;
            }
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "sqlite3 read it: {stdout}");
        assert!(!stdout.contains(MARKER));
        assert!(stderr.contains("not a database"), "{stderr}");
    }

    #[test]
    fn a_plain_workspace_is_encrypted_in_place_with_its_content_and_search() {
        use crate::model::NewTicket;
        use crate::store::{Actor, Origin, TicketFilter, TicketQuery};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("casebook.db");
        {
            let plain = Store::open(&path, OpenMode::CreateIfMissing).unwrap();
            let actor = Actor {
                name: "ana",
                origin: Origin::App,
                now: 1_000,
            };
            plain
                .create_ticket(NewTicket::local("VPN drops every ten minutes"), &actor)
                .unwrap();
            plain.set_setting("marker", MARKER).unwrap();
        }
        let key = DatabaseKey::generate().unwrap();
        Store::encrypt_in_place(&path, &key).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.starts_with(b"SQLite format 3"));
        assert!(!String::from_utf8_lossy(&bytes).contains(MARKER));
        assert!(!path.with_extension("db-encrypting").exists());
        let store = Store::open_encrypted(&path, OpenMode::MustExist, &key).unwrap();
        assert_eq!(store.setting("marker").unwrap().as_deref(), Some(MARKER));
        let page = store
            .query_tickets(&TicketQuery {
                filter: TicketFilter {
                    text: Some("vpn".into()),
                    ..Default::default()
                },
                ..Default::default()
            })
            .unwrap();
        assert_eq!(page.total, 1, "full-text search survives the export");
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn a_foreign_plain_database_is_not_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        {
            #[allow(clippy::disallowed_methods)] // a foreign file on purpose
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE songs (id INTEGER PRIMARY KEY)")
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let err = Store::encrypt_in_place(&path, &DatabaseKey::generate().unwrap()).unwrap_err();
        assert!(matches!(err, StoreError::NotAWorkspace { .. }), "{err:?}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    fn cipher_setting(store: &Store, pragma: &str) -> String {
        store
            .read(|c| Ok(c.query_row(&format!("PRAGMA {pragma}"), [], |r| r.get::<_, String>(0))?))
            .unwrap()
    }

    #[test]
    fn every_connection_uses_the_casebook_page_format() {
        let (_dir, path, key) = encrypted_store();
        let store = Store::open_encrypted(&path, OpenMode::MustExist, &key).unwrap();
        assert_eq!(cipher_setting(&store, "cipher_page_size"), "8192");
        assert_eq!(
            cipher_setting(&store, "cipher_hmac_algorithm"),
            "HMAC_SHA256"
        );
        drop(store);
        // The file really is in that format: SQLCipher's defaults cannot read it with the key.
        assert!(!Store::has_legacy_format(&path, &key));
    }

    #[test]
    fn a_workspace_in_the_default_sqlcipher_format_is_rewritten_once_and_keeps_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("casebook.db");
        let key = DatabaseKey::generate().unwrap();
        {
            // What an earlier Casebook wrote: SQLCipher 4's default format (HMAC-SHA512, 4 KiB).
            let plain = dir.path().join("plain.db");
            let store = Store::open(&plain, OpenMode::CreateIfMissing).unwrap();
            store.set_setting("marker", MARKER).unwrap();
            drop(store);
            #[allow(clippy::disallowed_methods)] // building a legacy file by hand
            let c = Connection::open(&plain).unwrap();
            c.execute(
                "ATTACH DATABASE ?1 AS enc KEY ?2",
                rusqlite::params![
                    path.to_string_lossy(),
                    format!("x'{}'", key.as_secret().expose())
                ],
            )
            .unwrap();
            let v: i64 = c
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            c.query_row("SELECT sqlcipher_export('enc')", [], |_| Ok(()))
                .unwrap();
            c.execute_batch(&format!(
                "PRAGMA enc.user_version = {v}; DETACH DATABASE enc;"
            ))
            .unwrap();
        }
        assert!(Store::has_legacy_format(&path, &key));
        let store = Store::open_encrypted(&path, OpenMode::MustExist, &key).unwrap();
        assert_eq!(store.setting("marker").unwrap().as_deref(), Some(MARKER));
        assert_eq!(
            cipher_setting(&store, "cipher_hmac_algorithm"),
            "HMAC_SHA256"
        );
        assert_eq!(store.integrity_check().unwrap(), "ok");
        drop(store);
        assert!(
            !Store::has_legacy_format(&path, &key),
            "rewritten, not reopened as legacy"
        );
        assert!(!path.with_extension("db-encrypting").exists());
        // A wrong key is still a wrong key, whatever the format.
        let other = DatabaseKey::generate().unwrap();
        let err = Store::open_encrypted(&path, OpenMode::MustExist, &other).unwrap_err();
        assert!(matches!(err, StoreError::WrongKey { .. }), "{err:?}");
    }

    #[test]
    fn a_plain_database_is_not_opened_as_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("casebook.db");
        drop(Store::open(&path, OpenMode::CreateIfMissing).unwrap());
        let key = DatabaseKey::generate().unwrap();
        let err = Store::open_encrypted(&path, OpenMode::MustExist, &key).unwrap_err();
        assert!(matches!(err, StoreError::NotEncrypted { .. }), "{err:?}");
    }
}
