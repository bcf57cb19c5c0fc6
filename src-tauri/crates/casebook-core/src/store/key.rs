//! The key that encrypts a workspace database (SQLCipher).
//!
//! 32 random bytes, kept hex-encoded in the OS keyring by the façade. The key is passed as a raw
//! key (`PRAGMA key = "x'…'"`), so opening a connection costs no key derivation: readers are
//! opened often.

use crate::secrets::{SecretError, SecretValue, random_hex};
use std::fmt;

const KEY_BYTES: usize = 32;

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

    /// The `PRAGMA key` statement. Safe to format: the key is only hex digits.
    pub(super) fn pragma(&self) -> SecretValue {
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

#[derive(Debug, thiserror::Error)]
#[error("the stored database key is malformed (expected 64 hex digits)")]
pub struct InvalidKey;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{OpenMode, Store, StoreError};

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
    fn a_plain_database_is_not_opened_as_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("casebook.db");
        drop(Store::open(&path, OpenMode::CreateIfMissing).unwrap());
        let key = DatabaseKey::generate().unwrap();
        let err = Store::open_encrypted(&path, OpenMode::MustExist, &key).unwrap_err();
        assert!(matches!(err, StoreError::NotEncrypted { .. }), "{err:?}");
    }
}
