//! The credentials of each connection: read from the keyring, OAuth access tokens refreshed
//! before they expire — one refresh at a time per connection, so a rotating refresh token is never
//! sent twice — and a revoked or expired refresh token turned into a "sign in again" state (the
//! dead tokens are deleted, so later calls do not retry them).
//!
//! Keyring names: a manager made [`TokenManager::for_workspace`] (the app, the CLI) keeps each
//! secret under `workspace/<workspace id>/connection/<id>/…` ([`workspace_secret_name`]), so two
//! workspaces on one machine never read each other's secrets although both have a connection 1.
//! Each secret is stored with the base URL and user it was given for ([`Binding`]) and is refused
//! for any other. An entry under the pre-namespacing name (`connection/<id>/…`, written by older
//! versions for whichever workspace signed in last) is never used or moved: nothing in it says
//! which workspace or host it belongs to, and guessing could send one workspace's token to another
//! workspace's host. The connection then needs a new sign-in, and the error says so.

use super::oauth::{self, RefreshError, TokenSet};
use super::{AuthError, Credentials};
use casebook_core::Clock;
use casebook_core::connection::{
    AuthMethod, Connection, SecretKind, secret_name, workspace_secret_name,
};
use casebook_core::model::Millis;
use casebook_core::secrets::{SecretError, SecretStore, SecretValue};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// An access token with less than this left is refreshed before use.
pub const REFRESH_MARGIN_MS: Millis = 120_000;

#[derive(Debug)]
pub struct TokenManager {
    secrets: Arc<dyn SecretStore>,
    /// The workspace whose secrets this manager reads; `None`: un-namespaced names (tests and
    /// tools that hold one connection set in their own store).
    workspace: Option<String>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    /// One async lock per connection, held across a refresh.
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

impl TokenManager {
    pub fn new(
        secrets: Arc<dyn SecretStore>,
        clock: Arc<dyn Clock>,
        http: reqwest::Client,
    ) -> TokenManager {
        TokenManager {
            secrets,
            workspace: None,
            clock,
            http,
            locks: Mutex::default(),
        }
    }

    /// A manager for one workspace's connections (see the module docs): `workspace_id` is the id
    /// in the workspace's `workspace-id` file.
    pub fn for_workspace(
        secrets: Arc<dyn SecretStore>,
        workspace_id: &str,
        clock: Arc<dyn Clock>,
        http: reqwest::Client,
    ) -> TokenManager {
        TokenManager {
            workspace: Some(workspace_id.to_owned()),
            ..TokenManager::new(secrets, clock, http)
        }
    }

    /// The keyring name of a connection's secret for this manager.
    pub fn secret_name(&self, id: i64, kind: SecretKind) -> String {
        match &self.workspace {
            Some(ws) => workspace_secret_name(ws, id, kind),
            None => secret_name(id, kind),
        }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    fn lock_for(&self, id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(map.entry(id).or_default())
    }

    /// Runs a keyring call on the blocking pool (D-Bus round trips block).
    async fn keyring<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn SecretStore) -> Result<T, SecretError> + Send + 'static,
    ) -> Result<T, AuthError> {
        let secrets = Arc::clone(&self.secrets);
        tokio::task::spawn_blocking(move || f(secrets.as_ref()))
            .await
            .map_err(|e| AuthError::Other(format!("the keyring call did not finish: {e}")))?
            .map_err(AuthError::Keyring)
    }

    /// Stores a connection's secret, bound to its base URL and user.
    async fn store(
        &self,
        conn: &Connection,
        kind: SecretKind,
        value: &SecretValue,
    ) -> Result<(), AuthError> {
        let name = self.secret_name(conn.id, kind);
        let bound = Binding::of(conn).wrap(value)?;
        self.keyring(move |s| s.set(&name, &bound)).await
    }

    /// A connection's secret: `Ok(None)` when none is stored for this workspace; an error when
    /// the stored one was given for another address or user, or only a legacy entry exists.
    async fn load(
        &self,
        conn: &Connection,
        kind: SecretKind,
    ) -> Result<Option<SecretValue>, AuthError> {
        let name = self.secret_name(conn.id, kind);
        let legacy = secret_name(conn.id, kind);
        let check_legacy = name != legacy;
        let (found, legacy_exists) = self
            .keyring(move |s| {
                let found = s.get(&name)?;
                let legacy_exists = found.is_none() && check_legacy && s.get(&legacy)?.is_some();
                Ok((found, legacy_exists))
            })
            .await?;
        match found {
            Some(v) => Binding::unwrap_for(conn, v).map(Some),
            None if legacy_exists => Err(AuthError::NeedsSignIn(format!(
                "{} must be signed in again: its saved sign-in comes from an older Casebook that \
                 kept one copy for every workspace on this computer, so it cannot be told whether \
                 it belongs to this workspace, and it was not used",
                conn.name
            ))),
            None => Ok(None),
        }
    }

    pub async fn store_tokens(
        &self,
        conn: &Connection,
        tokens: &TokenSet,
    ) -> Result<(), AuthError> {
        self.store(conn, SecretKind::OAuthTokens, &tokens.to_secret())
            .await
    }

    async fn load_tokens(&self, conn: &Connection) -> Result<Option<TokenSet>, AuthError> {
        let v = self.load(conn, SecretKind::OAuthTokens).await?;
        Ok(v.as_ref().and_then(TokenSet::from_secret))
    }

    pub async fn set_password(
        &self,
        conn: &Connection,
        password: SecretValue,
    ) -> Result<(), AuthError> {
        self.store(conn, SecretKind::Password, &password).await
    }

    /// Whether a usable password / token set is stored (without reading it out of this crate).
    pub async fn has_secret(&self, conn: &Connection) -> Result<bool, AuthError> {
        let kind = match conn.auth_method {
            AuthMethod::Basic => SecretKind::Password,
            AuthMethod::OAuth => SecretKind::OAuthTokens,
        };
        match self.load(conn, kind).await {
            Ok(v) => Ok(v.is_some()),
            Err(AuthError::NeedsSignIn(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes every secret of a connection in this workspace (sign out, remove). Other
    /// workspaces' entries, and legacy entries, are left alone.
    pub async fn forget(&self, id: i64) -> Result<(), AuthError> {
        let _guard = self.lock_for(id).lock_owned().await;
        let oauth = self.secret_name(id, SecretKind::OAuthTokens);
        let password = self.secret_name(id, SecretKind::Password);
        self.keyring(move |s| {
            s.delete(&oauth)?;
            s.delete(&password)
        })
        .await
    }

    /// The credentials to call the connection's API with, refreshing an OAuth access token that
    /// is about to expire. Also returns the access token's expiry.
    pub async fn credentials(
        &self,
        conn: &Connection,
    ) -> Result<(Credentials, Option<Millis>), AuthError> {
        match conn.auth_method {
            AuthMethod::Basic => {
                let pw = self.load(conn, SecretKind::Password).await?;
                let user = conn.username.clone().unwrap_or_default();
                match pw {
                    Some(password) => Ok((Credentials::Basic { user, password }, None)),
                    None => Err(AuthError::NeedsSignIn(format!(
                        "no {} is stored for {}; enter it to sign in",
                        if conn.vendor == casebook_core::connection::Vendor::Jira {
                            "API token"
                        } else {
                            "password"
                        },
                        conn.name
                    ))),
                }
            }
            AuthMethod::OAuth => self.oauth_credentials(conn).await,
        }
    }

    async fn oauth_credentials(
        &self,
        conn: &Connection,
    ) -> Result<(Credentials, Option<Millis>), AuthError> {
        // Held across the refresh: a second caller waits, then reads the refreshed tokens.
        let _guard = self.lock_for(conn.id).lock_owned().await;
        let Some(tokens) = self.load_tokens(conn).await? else {
            return Err(AuthError::NeedsSignIn(format!(
                "{} is not signed in; sign in to use it",
                conn.name
            )));
        };
        let now = self.clock.now();
        let fresh = match tokens.expires_at {
            None => true,
            Some(at) => at - now > REFRESH_MARGIN_MS,
        };
        if fresh {
            return Ok((Credentials::Bearer(tokens.access_token), tokens.expires_at));
        }
        let Some(refresh_token) = tokens.refresh_token.clone() else {
            if tokens.expires_at.is_some_and(|at| at > now) {
                return Ok((Credentials::Bearer(tokens.access_token), tokens.expires_at));
            }
            self.drop_tokens(conn.id).await?;
            return Err(AuthError::NeedsSignIn(format!(
                "the sign-in to {} expired; sign in again",
                conn.name
            )));
        };
        match oauth::refresh(&self.http, conn, &refresh_token, now).await {
            Ok(new) => {
                // Persist before use: the old refresh token is dead once the server rotated it.
                self.store_tokens(conn, &new).await?;
                tracing::info!(connection = conn.id, "access token refreshed");
                Ok((Credentials::Bearer(new.access_token), new.expires_at))
            }
            Err(RefreshError::Revoked(m)) => {
                tracing::warn!(connection = conn.id, "refresh refused: sign-in needed");
                self.drop_tokens(conn.id).await?;
                Err(AuthError::NeedsSignIn(m))
            }
            Err(RefreshError::Unreachable(m)) => {
                // The current token may still work for a moment; otherwise say why not.
                if tokens.expires_at.is_some_and(|at| at > now) {
                    Ok((Credentials::Bearer(tokens.access_token), tokens.expires_at))
                } else {
                    Err(AuthError::Unreachable(m))
                }
            }
            Err(RefreshError::Other(m)) => Err(AuthError::Other(m)),
        }
    }

    async fn drop_tokens(&self, id: i64) -> Result<(), AuthError> {
        let name = self.secret_name(id, SecretKind::OAuthTokens);
        self.keyring(move |s| s.delete(&name)).await
    }
}

/// What a stored secret was given for: the connection's base URL and user. Stored beside the
/// secret (one JSON entry) and checked before the secret is used, so a secret is never sent to
/// another address than the one it was entered for (a re-used connection id, a copied keyring).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Binding {
    base_url: String,
    username: Option<String>,
}

/// The keyring form of a bound secret.
#[derive(serde::Serialize)]
struct BoundRef<'a> {
    casebook_bound: u8,
    #[serde(flatten)]
    binding: &'a Binding,
    value: &'a str,
}

#[derive(serde::Deserialize)]
struct BoundOwned {
    casebook_bound: u8,
    #[serde(flatten)]
    binding: Binding,
    value: String,
}

impl Binding {
    fn of(conn: &Connection) -> Binding {
        Binding {
            base_url: conn.base_url.clone(),
            username: conn.username.clone(),
        }
    }

    fn wrap(&self, value: &SecretValue) -> Result<SecretValue, AuthError> {
        serde_json::to_string(&BoundRef {
            casebook_bound: 1,
            binding: self,
            value: value.expose(),
        })
        .map(SecretValue::new)
        .map_err(|_| AuthError::Other("the secret could not be prepared for the keyring".into()))
    }

    /// The secret inside a stored entry, if it was bound to `conn`'s address and user. An
    /// unbound entry in this workspace's name (put there by a test or tool) is used as it is.
    /// Errors never carry the stored text.
    fn unwrap_for(conn: &Connection, stored: SecretValue) -> Result<SecretValue, AuthError> {
        if !stored.expose().starts_with('{') {
            return Ok(stored);
        }
        let Ok(b) = serde_json::from_str::<BoundOwned>(stored.expose()) else {
            return Ok(stored);
        };
        let value = SecretValue::new(b.value);
        if b.casebook_bound != 1 {
            return Err(AuthError::NeedsSignIn(format!(
                "the saved sign-in of {} was written by a newer Casebook; sign in again",
                conn.name
            )));
        }
        let want = Binding::of(conn);
        if b.binding != want {
            return Err(AuthError::NeedsSignIn(format!(
                "the saved sign-in of {} was given for {}{}, not for {}{}; it was not used — sign in \
                 again",
                conn.name,
                who(&b.binding.username),
                b.binding.base_url,
                who(&want.username),
                want.base_url
            )));
        }
        Ok(value)
    }
}

fn who(user: &Option<String>) -> String {
    user.as_ref()
        .map(|u| format!("{u} at "))
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
mod tests {
    use super::*;
    use casebook_core::FixedClock;
    use casebook_core::connection::{ConnectionStatus, Vendor};
    use casebook_core::secrets::MemorySecretStore;

    fn conn(id: i64, base_url: &str, method: AuthMethod) -> Connection {
        Connection {
            id,
            vendor: Vendor::ServiceNow,
            name: format!("conn at {base_url}"),
            base_url: base_url.into(),
            auth_method: method,
            username: (method == AuthMethod::Basic).then(|| "agent".to_owned()),
            oauth_client_id: None,
            mirror_scope: vec![],
            kb_spaces: vec![],
            status: ConnectionStatus::SignedIn,
            status_detail: None,
            account_name: None,
            capabilities: vec![],
            access_expires_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn manager(store: &Arc<MemorySecretStore>, ws: &str) -> TokenManager {
        TokenManager::for_workspace(
            Arc::clone(store) as Arc<dyn SecretStore>,
            ws,
            Arc::new(FixedClock::new(1_000)),
            reqwest::Client::new(),
        )
    }

    fn password_of(c: (Credentials, Option<Millis>)) -> String {
        match c.0 {
            Credentials::Basic { password, .. } => password.expose().to_owned(),
            Credentials::Bearer(t) => t.expose().to_owned(),
        }
    }

    #[tokio::test]
    async fn two_workspaces_with_connection_1_keep_their_own_secrets() {
        let store = Arc::new(MemorySecretStore::new());
        let (a, b) = (manager(&store, "aaaa"), manager(&store, "bbbb"));
        let ca = conn(1, "https://a.service-now.com", AuthMethod::Basic);
        let cb = conn(1, "https://b.service-now.com", AuthMethod::Basic);
        a.set_password(&ca, SecretValue::new("secret-of-a"))
            .await
            .unwrap();
        assert!(!b.has_secret(&cb).await.unwrap(), "b sees nothing of a's");
        assert!(matches!(
            b.credentials(&cb).await,
            Err(AuthError::NeedsSignIn(_))
        ));
        b.set_password(&cb, SecretValue::new("secret-of-b"))
            .await
            .unwrap();
        assert_eq!(
            password_of(a.credentials(&ca).await.unwrap()),
            "secret-of-a"
        );
        assert_eq!(
            password_of(b.credentials(&cb).await.unwrap()),
            "secret-of-b"
        );
        assert!(
            store
                .get("workspace/aaaa/connection/1/password")
                .unwrap()
                .is_some()
        );
        // Removing a's connection deletes a's entries only.
        a.forget(1).await.unwrap();
        assert!(!a.has_secret(&ca).await.unwrap());
        assert_eq!(
            password_of(b.credentials(&cb).await.unwrap()),
            "secret-of-b"
        );
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn oauth_tokens_are_per_workspace_and_forgotten_per_workspace() {
        let store = Arc::new(MemorySecretStore::new());
        let (a, b) = (manager(&store, "aaaa"), manager(&store, "bbbb"));
        let ca = conn(1, "https://a.zendesk.com", AuthMethod::OAuth);
        let cb = conn(1, "https://b.zendesk.com", AuthMethod::OAuth);
        for (m, c, t) in [(&a, &ca, "token-a"), (&b, &cb, "token-b")] {
            let set = TokenSet {
                access_token: SecretValue::new(t),
                refresh_token: None,
                expires_at: None,
            };
            m.store_tokens(c, &set).await.unwrap();
        }
        assert_eq!(password_of(a.credentials(&ca).await.unwrap()), "token-a");
        assert_eq!(password_of(b.credentials(&cb).await.unwrap()), "token-b");
        b.forget(1).await.unwrap();
        assert_eq!(password_of(a.credentials(&ca).await.unwrap()), "token-a");
        assert!(!b.has_secret(&cb).await.unwrap());
    }

    #[tokio::test]
    async fn a_legacy_entry_is_never_used_nor_moved_and_asks_for_a_new_sign_in() {
        let store = Arc::new(MemorySecretStore::new());
        store
            .set(
                &secret_name(1, SecretKind::Password),
                &SecretValue::new("legacy-secret"),
            )
            .unwrap();
        let a = manager(&store, "aaaa");
        let ca = conn(1, "https://a.service-now.com", AuthMethod::Basic);
        let err = a.credentials(&ca).await.unwrap_err();
        let AuthError::NeedsSignIn(m) = &err else {
            panic!("{err:?}")
        };
        assert!(m.contains(&ca.name) && m.contains("signed in again"), "{m}");
        assert!(!m.contains("legacy-secret"), "{m}");
        assert!(!a.has_secret(&ca).await.unwrap());
        // Left where it was (another workspace may be the one that wrote it), nothing copied.
        assert_eq!(store.len(), 1);
        assert!(store.get("connection/1/password").unwrap().is_some());
        // A new sign-in is used from then on; the legacy entry is still not touched.
        a.set_password(&ca, SecretValue::new("fresh"))
            .await
            .unwrap();
        assert_eq!(password_of(a.credentials(&ca).await.unwrap()), "fresh");
        a.forget(1).await.unwrap();
        assert!(store.get("connection/1/password").unwrap().is_some());
    }

    #[tokio::test]
    async fn a_secret_is_refused_for_another_address_or_user() {
        let store = Arc::new(MemorySecretStore::new());
        let a = manager(&store, "aaaa");
        let stored_for = conn(1, "https://a.service-now.com", AuthMethod::Basic);
        a.set_password(&stored_for, SecretValue::new("bound-secret"))
            .await
            .unwrap();
        // The keyring entry names the address it was given for, and holds the secret once.
        let raw = store
            .get("workspace/aaaa/connection/1/password")
            .unwrap()
            .unwrap();
        assert!(raw.expose().contains("https://a.service-now.com"));
        let mut other_host = stored_for.clone();
        other_host.base_url = "https://evil.example.com".into();
        let mut other_user = stored_for.clone();
        other_user.username = Some("someone.else".into());
        for c in [other_host, other_user] {
            let err = a.credentials(&c).await.unwrap_err();
            let AuthError::NeedsSignIn(m) = &err else {
                panic!("{err:?}")
            };
            assert!(m.contains("sign in again") && m.contains(&c.name), "{m}");
            assert!(!m.contains("bound-secret"), "{m}");
            assert!(!a.has_secret(&c).await.unwrap());
        }
        assert_eq!(
            password_of(a.credentials(&stored_for).await.unwrap()),
            "bound-secret"
        );
    }

    /// The same in the OS keyring (one app-wide service, two workspaces with connection 1).
    #[tokio::test]
    async fn real_keyring_two_workspaces_keep_their_own_secrets() {
        if std::env::var("CASEBOOK_KEYRING_IT").as_deref() != Ok("1") {
            eprintln!(
                "skipped: set CASEBOOK_KEYRING_IT=1 inside a session with an unlocked Secret \
                 Service (scripts/test.sh does) to test the real keyring"
            );
            return;
        }
        let store: Arc<dyn SecretStore> = Arc::new(
            casebook_core::secrets::KeyringSecretStore::new("test.casebook.keyring-it.ws"),
        );
        let ws_a = casebook_core::secrets::random_hex(8).unwrap();
        let ws_b = casebook_core::secrets::random_hex(8).unwrap();
        let mk = |ws: &str| {
            TokenManager::for_workspace(
                Arc::clone(&store),
                ws,
                Arc::new(FixedClock::new(0)),
                reqwest::Client::new(),
            )
        };
        let (a, b) = (mk(&ws_a), mk(&ws_b));
        let ca = conn(1, "https://a.service-now.com", AuthMethod::Basic);
        let cb = conn(1, "https://b.service-now.com", AuthMethod::Basic);
        a.set_password(&ca, SecretValue::new("kr-secret-a"))
            .await
            .unwrap();
        assert!(!b.has_secret(&cb).await.unwrap());
        b.set_password(&cb, SecretValue::new("kr-secret-b"))
            .await
            .unwrap();
        assert_eq!(
            password_of(a.credentials(&ca).await.unwrap()),
            "kr-secret-a"
        );
        assert_eq!(
            password_of(b.credentials(&cb).await.unwrap()),
            "kr-secret-b"
        );
        a.forget(1).await.unwrap();
        assert!(!a.has_secret(&ca).await.unwrap());
        assert_eq!(
            password_of(b.credentials(&cb).await.unwrap()),
            "kr-secret-b"
        );
        b.forget(1).await.unwrap();
        assert!(!b.has_secret(&cb).await.unwrap());
    }

    #[tokio::test]
    async fn an_unnamespaced_manager_reads_plain_entries_as_before() {
        let store = Arc::new(MemorySecretStore::new());
        store
            .set(
                &secret_name(7, SecretKind::Password),
                &SecretValue::new("pw"),
            )
            .unwrap();
        let m = TokenManager::new(
            Arc::clone(&store) as Arc<dyn SecretStore>,
            Arc::new(FixedClock::new(0)),
            reqwest::Client::new(),
        );
        let c = conn(7, "https://x.service-now.com", AuthMethod::Basic);
        assert_eq!(password_of(m.credentials(&c).await.unwrap()), "pw");
    }
}
