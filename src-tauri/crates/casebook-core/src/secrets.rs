//! Secrets (passwords, API tokens, OAuth refresh tokens, the database key) live only in the OS
//! keyring, behind [`SecretStore`]. Nothing here ever writes a secret to a file, a log or the
//! database, and there is no plaintext fallback: without a keyring backend every call fails with
//! [`SecretError::Unavailable`], which says what is missing and how to fix it.
//!
//! Entries are namespaced by the app identifier (the keyring "service"), so a development build and
//! a release build never see each other's credentials.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

/// A secret value. `Debug` and `Display` redact it; it cannot be serialized (it has no `Serialize`
/// impl, and [`serde::Serialize`] on a containing type fails to compile); the bytes are wiped when
/// it is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> SecretValue {
        SecretValue(value.into())
    }

    /// The secret itself, for the one place that must send it (an HTTP header, a key pragma).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl serde::Serialize for SecretValue {
    /// Always fails: a secret never leaves the process through serde (IPC, JSON, logs).
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "a secret value cannot be serialized",
        ))
    }
}

impl Drop for SecretValue {
    fn drop(&mut self) {
        // Best effort: overwrite the heap bytes before they are freed.
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        for b in bytes.iter_mut() {
            // A volatile-free overwrite could be optimised out; `black_box` keeps it.
            *b = 0;
        }
        std::hint::black_box(&bytes);
    }
}

/// Generates `bytes` random bytes from the OS, hex-encoded (a database key, a PKCE-independent
/// nonce, a workspace id).
pub fn random_hex(bytes: usize) -> Result<String, SecretError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| SecretError::Backend {
        reason: format!("the operating system's random source failed: {e}"),
    })?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "the OS keyring is unavailable ({reason}); Casebook keeps credentials and the database key only \
         there. {hint}"
    )]
    Unavailable { reason: String, hint: &'static str },

    #[error("the OS keyring refused the operation: {reason}")]
    Backend { reason: String },

    #[error("invalid secret name {0:?}: use letters, digits, '.', '-', '_' and '/' (at most 200)")]
    InvalidName(String),
}

const UNAVAILABLE_HINT: &str = if cfg!(target_os = "linux") {
    "On Linux start a Secret Service provider (gnome-keyring or KeePassXC) in your desktop session \
     and unlock it; on a headless machine run Casebook inside `dbus-run-session` with \
     `gnome-keyring-daemon --unlock` (see docs/security.md)"
} else if cfg!(target_os = "macos") {
    "Unlock the login keychain (Keychain Access) and try again"
} else if cfg!(target_os = "windows") {
    "Make sure the Windows Credential Manager service is running"
} else {
    "This platform has no supported keyring backend"
};

/// Where secrets are kept. Names are relative to the store's namespace (`connection/3/token`).
pub trait SecretStore: Send + Sync + fmt::Debug {
    /// The secret, or `None` when there is none under that name.
    fn get(&self, name: &str) -> Result<Option<SecretValue>, SecretError>;
    /// Stores (or overwrites) a secret.
    fn set(&self, name: &str, value: &SecretValue) -> Result<(), SecretError>;
    /// Deletes a secret; deleting one that does not exist is not an error.
    fn delete(&self, name: &str) -> Result<(), SecretError>;
}

fn check_name(name: &str) -> Result<(), SecretError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'));
    if ok {
        Ok(())
    } else {
        Err(SecretError::InvalidName(name.to_owned()))
    }
}

/// Secrets in memory only: for tests, and for nothing else.
#[derive(Debug, Default)]
pub struct MemorySecretStore {
    entries: Mutex<HashMap<String, SecretValue>>,
}

impl MemorySecretStore {
    pub fn new() -> MemorySecretStore {
        MemorySecretStore::default()
    }

    /// How many secrets are stored (for tests that check clean-up).
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every stored value (for tests that scan outputs for leaked secrets).
    pub fn values(&self) -> Vec<SecretValue> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }
}

impl SecretStore for MemorySecretStore {
    fn get(&self, name: &str) -> Result<Option<SecretValue>, SecretError> {
        check_name(name)?;
        Ok(self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned())
    }

    fn set(&self, name: &str, value: &SecretValue) -> Result<(), SecretError> {
        check_name(name)?;
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), value.clone());
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<(), SecretError> {
        check_name(name)?;
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        Ok(())
    }
}

/// The OS keyring: Secret Service (Linux), Keychain (macOS), Credential Manager (Windows).
///
/// Every entry uses the app identifier as its service and `name` as its user, so entries of
/// `dev.casebook.desktop` and `app.casebook.desktop` never mix. Calls block (D-Bus round trips):
/// run them off async runtime threads.
#[derive(Debug, Clone)]
pub struct KeyringSecretStore {
    service: String,
}

impl KeyringSecretStore {
    /// A store namespaced by `app_identifier` (e.g. `dev.casebook.desktop`).
    pub fn new(app_identifier: &str) -> KeyringSecretStore {
        KeyringSecretStore {
            service: app_identifier.to_owned(),
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// Checks that a backend is reachable and unlocked (reads an entry that need not exist).
    pub fn probe(&self) -> Result<(), SecretError> {
        self.get("probe").map(|_| ())
    }
}

#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
mod os {
    use super::*;

    fn entry(service: &str, name: &str) -> Result<keyring::Entry, SecretError> {
        check_name(name)?;
        keyring::Entry::new(service, name).map_err(map_error)
    }

    /// Maps keyring errors without ever carrying a secret: `BadEncoding` holds the stored bytes,
    /// so only its kind is kept.
    fn map_error(e: keyring::Error) -> SecretError {
        match e {
            keyring::Error::PlatformFailure(inner) => SecretError::Unavailable {
                reason: short(&inner.to_string()),
                hint: UNAVAILABLE_HINT,
            },
            keyring::Error::NoStorageAccess(inner) => SecretError::Unavailable {
                reason: format!(
                    "the keyring is locked or access was denied: {}",
                    short(&inner.to_string())
                ),
                hint: UNAVAILABLE_HINT,
            },
            keyring::Error::BadEncoding(_) => SecretError::Backend {
                reason: "a stored secret is not valid UTF-8".into(),
            },
            keyring::Error::TooLong(what, max) => SecretError::Backend {
                reason: format!("{what} is longer than the keyring allows ({max})"),
            },
            keyring::Error::Invalid(what, why) => SecretError::Backend {
                reason: format!("{what}: {why}"),
            },
            keyring::Error::Ambiguous(_) => SecretError::Backend {
                reason: "several keyring entries match one name; remove the duplicates".into(),
            },
            other => SecretError::Backend {
                reason: short(&other.to_string()),
            },
        }
    }

    /// D-Bus errors can be long; keep the first line, bounded.
    fn short(s: &str) -> String {
        let line = s.lines().next().unwrap_or_default();
        line.chars().take(200).collect()
    }

    impl SecretStore for KeyringSecretStore {
        fn get(&self, name: &str) -> Result<Option<SecretValue>, SecretError> {
            match entry(&self.service, name)?.get_password() {
                Ok(v) => Ok(Some(SecretValue::new(v))),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(map_error(e)),
            }
        }

        fn set(&self, name: &str, value: &SecretValue) -> Result<(), SecretError> {
            entry(&self.service, name)?
                .set_password(value.expose())
                .map_err(map_error)
        }

        fn delete(&self, name: &str) -> Result<(), SecretError> {
            match entry(&self.service, name)?.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(map_error(e)),
            }
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
impl SecretStore for KeyringSecretStore {
    fn get(&self, _: &str) -> Result<Option<SecretValue>, SecretError> {
        Err(unsupported())
    }
    fn set(&self, _: &str, _: &SecretValue) -> Result<(), SecretError> {
        Err(unsupported())
    }
    fn delete(&self, _: &str) -> Result<(), SecretError> {
        Err(unsupported())
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn unsupported() -> SecretError {
    SecretError::Unavailable {
        reason: "no keyring backend is built for this platform".into(),
        hint: UNAVAILABLE_HINT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact_and_serialize_refuses() {
        let s = SecretValue::new("hunter2-very-secret");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s}").contains("hunter2"));
        #[derive(serde::Serialize)]
        struct Holder {
            token: SecretValue,
        }
        let err = serde_json::to_string(&Holder { token: s.clone() }).unwrap_err();
        assert!(err.to_string().contains("cannot be serialized"), "{err}");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn memory_store_sets_overwrites_and_deletes() {
        let m = MemorySecretStore::new();
        assert_eq!(m.get("connection/1/token").unwrap(), None);
        m.set("connection/1/token", &SecretValue::new("a")).unwrap();
        m.set("connection/1/token", &SecretValue::new("b")).unwrap();
        assert_eq!(m.get("connection/1/token").unwrap().unwrap().expose(), "b");
        m.delete("connection/1/token").unwrap();
        m.delete("connection/1/token").unwrap();
        assert_eq!(m.get("connection/1/token").unwrap(), None);
        assert!(m.is_empty());
    }

    #[test]
    fn names_are_checked() {
        let m = MemorySecretStore::new();
        for bad in ["", "a b", "x\ny", &"a".repeat(201)] {
            assert!(
                matches!(
                    m.set(bad, &SecretValue::new("v")),
                    Err(SecretError::InvalidName(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn random_hex_has_the_length_asked_and_varies() {
        let a = random_hex(32).unwrap();
        let b = random_hex(32).unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn unavailable_error_says_what_to_do() {
        let e = SecretError::Unavailable {
            reason: "no session bus".into(),
            hint: UNAVAILABLE_HINT,
        };
        let msg = e.to_string();
        assert!(msg.contains("keyring is unavailable") && msg.contains("no session bus"));
        assert!(msg.len() > 80, "{msg}");
    }

    /// The real OS keyring (Secret Service inside `dbus-run-session` in scripts/test.sh). Runs
    /// when `CASEBOOK_KEYRING_IT=1`; otherwise it says why it did nothing.
    #[test]
    fn real_keyring_stores_reads_overwrites_and_deletes() {
        if std::env::var("CASEBOOK_KEYRING_IT").as_deref() != Ok("1") {
            eprintln!(
                "skipped: set CASEBOOK_KEYRING_IT=1 inside a session with an unlocked Secret Service \
                 (scripts/test.sh does) to test the real keyring"
            );
            return;
        }
        let store = KeyringSecretStore::new("test.casebook.keyring-it");
        let other = KeyringSecretStore::new("test.casebook.keyring-it.other");
        let name = format!("it/{}", random_hex(8).unwrap());
        store.probe().unwrap();
        assert_eq!(store.get(&name).unwrap(), None);
        store.set(&name, &SecretValue::new("first value")).unwrap();
        assert_eq!(store.get(&name).unwrap().unwrap().expose(), "first value");
        // Another app identifier does not see it.
        assert_eq!(other.get(&name).unwrap(), None);
        store.set(&name, &SecretValue::new("second välue")).unwrap();
        assert_eq!(store.get(&name).unwrap().unwrap().expose(), "second välue");
        // A fresh handle reads what was stored (it is in the keyring, not in this object).
        let again = KeyringSecretStore::new("test.casebook.keyring-it");
        assert_eq!(again.get(&name).unwrap().unwrap().expose(), "second välue");
        store.delete(&name).unwrap();
        assert_eq!(store.get(&name).unwrap(), None);
        store.delete(&name).unwrap();
    }
}
