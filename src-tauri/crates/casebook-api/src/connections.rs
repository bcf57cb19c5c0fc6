//! Connections: add, list, rename, remove, sign in, test — and secrets that go in but never come
//! out. Every response is built from the profile in the database (which holds no secret) and the
//! probe's plain-words report; tokens and passwords stay in the keyring and in `casebook-sync`.

use crate::error::{ApiError, ErrorCode};
use crate::workspace_key::keyring_error;
use crate::{Casebook, Result};
use casebook_core::Clock;
use casebook_core::connection::{
    self as model, AuthMethod, Connection, ConnectionStatus, NewConnection, Vendor,
};
use casebook_core::secrets::{SecretStore, SecretValue};
use casebook_core::store::ConnectionState;
use casebook_sync::auth::AuthError;
use casebook_sync::auth::loopback::CallbackError;
use casebook_sync::auth::oauth::{self, PendingSignIn, SignInError};
use casebook_sync::auth::tokens::TokenManager;
use casebook_sync::probe::{self, ProbeReport};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use ts_rs::TS;

/// A connection as the UI sees it. No secret: whether one is stored is all it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ConnectionView {
    #[ts(type = "number")]
    pub id: i64,
    pub vendor: Vendor,
    pub name: String,
    pub base_url: String,
    pub auth_method: AuthMethod,
    /// Basic auth user name or Jira account email.
    pub username: Option<String>,
    pub oauth_client_id: Option<String>,
    pub mirror_scope: Vec<String>,
    /// Jira Service Management: the Confluence space keys behind its knowledge base (empty:
    /// none, no articles pulled).
    pub kb_spaces: Vec<String>,
    pub status: ConnectionStatus,
    /// Why the status is what it is, in plain words.
    pub status_detail: Option<String>,
    pub account_name: Option<String>,
    pub capabilities: Vec<String>,
    #[ts(type = "number | null")]
    pub access_expires_at: Option<i64>,
}

impl From<Connection> for ConnectionView {
    fn from(c: Connection) -> Self {
        ConnectionView {
            id: c.id,
            vendor: c.vendor,
            name: c.name,
            base_url: c.base_url,
            auth_method: c.auth_method,
            username: c.username,
            oauth_client_id: c.oauth_client_id,
            mirror_scope: c.mirror_scope,
            kb_spaces: c.kb_spaces,
            status: c.status,
            status_detail: c.status_detail,
            account_name: c.account_name,
            capabilities: c.capabilities,
            access_expires_at: c.access_expires_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct NewConnectionInput {
    pub vendor: Vendor,
    pub name: String,
    /// Instance name (`acme`), host or https URL.
    pub instance: String,
    pub auth_method: AuthMethod,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub oauth_client_id: Option<String>,
    /// `None`: the vendor's default.
    #[serde(default)]
    pub mirror_scope: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ConnectionCheck {
    /// `reachable`, `tls`, `sign-in`.
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ConnectionTestReport {
    pub connection: ConnectionView,
    /// One sentence: the outcome.
    pub summary: String,
    pub checks: Vec<ConnectionCheck>,
}

/// A started OAuth sign-in: open `url` in the system browser, then call `finish_sign_in`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SignInStart {
    pub attempt_id: String,
    #[ts(type = "number")]
    pub connection_id: i64,
    /// The instance's authorization page (https, or http on loopback test servers).
    pub url: String,
    /// How long the loopback listener waits for the browser.
    #[ts(type = "number")]
    pub timeout_seconds: u64,
}

/// The façade's share of connection state: the token manager and the sign-ins in progress.
pub(crate) struct ConnState {
    pub(crate) tokens: TokenManager,
    pending: Mutex<HashMap<String, PendingSignIn>>,
    sign_in_timeout: Duration,
}

impl ConnState {
    /// `workspace_id` namespaces the connections' keyring entries (see
    /// [`TokenManager::for_workspace`]).
    pub(crate) fn new(
        secrets: Arc<dyn SecretStore>,
        workspace_id: &str,
        clock: Arc<dyn Clock>,
        http: &casebook_sync::http::HttpConfig,
        sign_in_timeout: Duration,
    ) -> Result<ConnState> {
        let client =
            casebook_sync::http::client(http).map_err(|e| ApiError::invalid(e.to_string()))?;
        Ok(ConnState {
            tokens: TokenManager::for_workspace(secrets, workspace_id, clock, client),
            pending: Mutex::default(),
            sign_in_timeout,
        })
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingSignIn>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn auth_error(e: AuthError) -> ApiError {
    match e {
        AuthError::Keyring(k) => keyring_error(k),
        AuthError::NeedsSignIn(m) => ApiError::new(ErrorCode::SignInFailed, m),
        AuthError::Unreachable(m) | AuthError::Other(m) => {
            ApiError::new(ErrorCode::SignInFailed, m)
        }
    }
}

fn sign_in_error(e: SignInError) -> ApiError {
    let code = match &e {
        SignInError::NotOAuth(_) => ErrorCode::InvalidInput,
        SignInError::Callback(CallbackError::Io(_)) => ErrorCode::Internal,
        _ => ErrorCode::SignInFailed,
    };
    ApiError::new(code, e.to_string())
}

fn report(c: Connection, p: &ProbeReport) -> ConnectionTestReport {
    ConnectionTestReport {
        connection: c.into(),
        summary: p.summary.clone(),
        checks: p
            .checks
            .iter()
            .map(|k| ConnectionCheck {
                name: k.name.to_owned(),
                ok: k.ok,
                detail: k.detail.clone(),
            })
            .collect(),
    }
}

impl Casebook {
    pub async fn list_connections(&self) -> Result<Vec<ConnectionView>> {
        self.blocking("loading connections", |i| {
            Ok(i.store.connections()?.into_iter().map(Into::into).collect())
        })
        .await
    }

    pub async fn get_connection(&self, name_or_id: String) -> Result<ConnectionView> {
        self.blocking("loading the connection", move |i| {
            Ok(i.store.find_connection(&name_or_id)?.into())
        })
        .await
    }

    pub async fn add_connection(&self, input: NewConnectionInput) -> Result<ConnectionView> {
        let valid = model::validate_new(&NewConnection {
            vendor: input.vendor,
            name: input.name,
            instance: input.instance,
            auth_method: input.auth_method,
            username: input.username,
            oauth_client_id: input.oauth_client_id,
            mirror_scope: input.mirror_scope,
        })
        .map_err(|e| ApiError::invalid(e.0))?;
        let view = self
            .blocking("adding the connection", move |i| {
                Ok(i.store.add_connection(&valid, i.clock.now())?.into())
            })
            .await?;
        self.publish(crate::dto::ChangeKind::Workspace, Vec::new());
        Ok(view)
    }

    pub async fn rename_connection(&self, id: i64, name: String) -> Result<ConnectionView> {
        let name = model::validate_name(&name).map_err(|e| ApiError::invalid(e.0))?;
        let view = self
            .blocking("renaming the connection", move |i| {
                Ok(i.store.rename_connection(id, &name, i.clock.now())?.into())
            })
            .await?;
        self.publish(crate::dto::ChangeKind::Workspace, Vec::new());
        Ok(view)
    }

    pub async fn set_mirror_scope(&self, id: i64, scope: Vec<String>) -> Result<ConnectionView> {
        let scope = model::validate_mirror_scope(&scope).map_err(|e| ApiError::invalid(e.0))?;
        self.blocking("saving the mirror scope", move |i| {
            Ok(i.store.set_mirror_scope(id, &scope, i.clock.now())?.into())
        })
        .await
    }

    /// Sets the Confluence spaces behind a Jira Service Management connection's knowledge base
    /// (space keys such as `KB`; empty: no knowledge-base pull). The articles of spaces no
    /// longer listed leave the local knowledge base now; a space newly listed is pulled whole at
    /// the next sync.
    pub async fn set_connection_kb_spaces(
        &self,
        id: i64,
        spaces: Vec<String>,
    ) -> Result<ConnectionView> {
        let before = self.connection(id).await?;
        let spaces = model::validate_kb_spaces(before.vendor, &spaces)
            .map_err(|e| ApiError::invalid(e.0))?;
        let after = self
            .blocking("saving the knowledge-base spaces", move |i| {
                Ok(i.store.set_kb_spaces(id, &spaces, i.clock.now())?)
            })
            .await?;
        let dropped = before
            .kb_spaces
            .iter()
            .any(|k| !after.kb_spaces.contains(k));
        if before.vendor == Vendor::Jira && dropped {
            let keep: Vec<String> = after
                .kb_spaces
                .iter()
                .map(|k| casebook_sync::jira::confluence::article_prefix(k))
                .collect();
            let me = self.clone();
            tokio::task::spawn_blocking(move || {
                me.kb_sweep_articles(&id.to_string(), &std::collections::HashSet::new(), &keep)
            })
            .await
            .map_err(|e| ApiError::internal("removing the articles of dropped spaces", &e))??;
        }
        self.publish(crate::dto::ChangeKind::Workspace, Vec::new());
        Ok(after.into())
    }

    /// Removes a connection and its secrets. The secrets go first: if the keyring cannot be
    /// reached the profile stays, so no secret is left behind without a way to remove it.
    pub async fn remove_connection(&self, id: i64) -> Result<()> {
        let conn = self.connection(id).await?;
        self.inner
            .conn
            .tokens
            .forget(conn.id)
            .await
            .map_err(auth_error)?;
        self.blocking("removing the connection", move |i| {
            Ok(i.store.remove_connection(id)?)
        })
        .await?;
        // Its knowledge-base articles go with it: nothing can update or remove them any more,
        // and a later connection may be given the same id. Tickets stay (they are the local
        // mirror, with any unpushed change). The connection is gone already, so a failure here
        // is logged rather than reported as a failed removal.
        let me = self.clone();
        let cleared = tokio::task::spawn_blocking(move || {
            me.kb_sweep_articles(&id.to_string(), &std::collections::HashSet::new(), &[])
        })
        .await
        .map_err(|e| ApiError::internal("removing the connection's articles", &e))
        .and_then(|r| r);
        match cleared {
            Ok((removed, _)) if removed > 0 => {
                tracing::info!(
                    connection = id,
                    removed,
                    "removed the connection's articles"
                );
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(connection = id, %error, "could not remove the connection's articles");
            }
        }
        self.publish(crate::dto::ChangeKind::Workspace, Vec::new());
        Ok(())
    }

    async fn connection(&self, id: i64) -> Result<Connection> {
        self.blocking("loading the connection", move |i| {
            Ok(i.store.connection(id)?)
        })
        .await
    }

    async fn record(&self, id: i64, state: ConnectionState) -> Result<Connection> {
        let c = self
            .blocking("saving the connection state", move |i| {
                Ok(i.store.set_connection_state(id, &state, i.clock.now())?)
            })
            .await?;
        self.publish(crate::dto::ChangeKind::Workspace, Vec::new());
        Ok(c)
    }

    /// Stores the password (ServiceNow basic) or API token (Jira) of a connection — write-only:
    /// no call returns it — then tests the connection with it.
    pub async fn set_connection_secret(
        &self,
        id: i64,
        secret: String,
    ) -> Result<ConnectionTestReport> {
        let secret = SecretValue::new(secret);
        if secret.expose().trim().is_empty() || secret.expose().len() > 4096 {
            return Err(ApiError::invalid(
                "the password or API token must have 1 to 4096 characters",
            ));
        }
        let conn = self.connection(id).await?;
        if conn.auth_method != AuthMethod::Basic {
            return Err(ApiError::invalid(format!(
                "{} signs in through the browser (OAuth); use sign in instead of a password",
                conn.name
            )));
        }
        self.inner
            .conn
            .tokens
            .set_password(&conn, secret)
            .await
            .map_err(auth_error)?;
        self.test_connection(id).await
    }

    /// Signs out: deletes the connection's stored password or tokens.
    pub async fn delete_connection_secret(&self, id: i64) -> Result<ConnectionView> {
        self.connection(id).await?;
        self.inner
            .conn
            .tokens
            .forget(id)
            .await
            .map_err(auth_error)?;
        Ok(self
            .record(
                id,
                ConnectionState {
                    status: ConnectionStatus::NeedsSignIn,
                    detail: Some("signed out".into()),
                    account_name: None,
                    capabilities: None,
                    access_expires_at: None,
                },
            )
            .await?
            .into())
    }

    /// Starts an OAuth sign-in: returns the authorization URL to open; the loopback listener is
    /// already waiting. Complete it with [`Casebook::finish_sign_in`].
    pub async fn begin_sign_in(&self, id: i64) -> Result<SignInStart> {
        let conn = self.connection(id).await?;
        if conn.auth_method != AuthMethod::OAuth {
            return Err(ApiError::invalid(format!(
                "{} signs in with a {}; set it instead",
                conn.name,
                if conn.vendor == Vendor::Jira {
                    "API token"
                } else {
                    "password"
                }
            )));
        }
        let pending = oauth::begin(&conn).await.map_err(sign_in_error)?;
        let attempt_id = casebook_core::secrets::random_hex(16)
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        let start = SignInStart {
            attempt_id: attempt_id.clone(),
            connection_id: id,
            url: pending.url.clone(),
            timeout_seconds: self.inner.conn.sign_in_timeout.as_secs(),
        };
        // A new attempt for the same connection replaces an older one (its listener closes).
        let mut map = self.inner.conn.pending();
        map.retain(|_, p| p.connection_id != id);
        map.insert(attempt_id, pending);
        Ok(start)
    }

    /// Waits for the browser to come back (up to the sign-in timeout), exchanges the code, stores
    /// the tokens in the keyring and tests the connection.
    pub async fn finish_sign_in(&self, attempt_id: String) -> Result<ConnectionTestReport> {
        self.finish_sign_in_within(attempt_id, self.inner.conn.sign_in_timeout)
            .await
    }

    /// [`Casebook::finish_sign_in`] with another wait for the browser (the CLI's `--timeout`).
    pub async fn finish_sign_in_within(
        &self,
        attempt_id: String,
        timeout: Duration,
    ) -> Result<ConnectionTestReport> {
        let pending = self
            .inner
            .conn
            .pending()
            .remove(&attempt_id)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotFound,
                    "no sign-in in progress with that id (it finished, was replaced or expired); start again",
                )
            })?;
        let id = pending.connection_id;
        let clock = Arc::clone(&self.inner.clock);
        let outcome = oauth::complete(pending, self.inner.conn.tokens.http(), timeout, move || {
            clock.now()
        })
        .await;
        let tokens = match outcome {
            Ok(t) => t,
            Err(e) => {
                let err = sign_in_error(e);
                tracing::warn!(connection = id, error = %err.message, "sign-in failed");
                return Err(err);
            }
        };
        let conn = self.connection(id).await?;
        self.inner
            .conn
            .tokens
            .store_tokens(&conn, &tokens)
            .await
            .map_err(auth_error)?;
        drop(tokens);
        self.test_connection(id).await
    }

    /// Forgets a sign-in in progress (its loopback listener closes).
    pub fn cancel_sign_in(&self, attempt_id: &str) {
        self.inner.conn.pending().remove(attempt_id);
    }

    /// Reachability, TLS, sign-in and what the account may do; the outcome is stored as the
    /// connection's status.
    pub async fn test_connection(&self, id: i64) -> Result<ConnectionTestReport> {
        let conn = self.connection(id).await?;
        let p = probe::test_connection(&self.inner.conn.tokens, &conn).await;
        let c = self
            .record(
                id,
                ConnectionState {
                    status: p.status,
                    detail: Some(p.summary.clone()),
                    account_name: p.account_name.clone(),
                    capabilities: (p.status == ConnectionStatus::SignedIn)
                        .then(|| p.capabilities.clone()),
                    access_expires_at: p.access_expires_at,
                },
            )
            .await?;
        Ok(report(c, &p))
    }

    /// The credentials for calling a connection's API (for the sync engine; never for IPC).
    pub async fn connection_credentials(
        &self,
        id: i64,
    ) -> Result<casebook_sync::auth::Credentials> {
        let conn = self.connection(id).await?;
        match self.inner.conn.tokens.credentials(&conn).await {
            Ok((c, _)) => Ok(c),
            Err(AuthError::NeedsSignIn(m)) => {
                self.record(
                    id,
                    ConnectionState {
                        status: ConnectionStatus::NeedsSignIn,
                        detail: Some(m.clone()),
                        account_name: None,
                        capabilities: None,
                        access_expires_at: None,
                    },
                )
                .await?;
                Err(ApiError::new(ErrorCode::SignInFailed, m))
            }
            Err(e) => Err(auth_error(e)),
        }
    }
}
