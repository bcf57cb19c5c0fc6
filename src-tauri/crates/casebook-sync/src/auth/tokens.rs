//! The credentials of each connection: read from the keyring, OAuth access tokens refreshed
//! before they expire — one refresh at a time per connection, so a rotating refresh token is never
//! sent twice — and a revoked or expired refresh token turned into a "sign in again" state (the
//! dead tokens are deleted, so later calls do not retry them).

use super::oauth::{self, RefreshError, TokenSet};
use super::{AuthError, Credentials};
use casebook_core::Clock;
use casebook_core::connection::{AuthMethod, Connection, SecretKind, secret_name};
use casebook_core::model::Millis;
use casebook_core::secrets::{SecretError, SecretStore, SecretValue};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// An access token with less than this left is refreshed before use.
pub const REFRESH_MARGIN_MS: Millis = 120_000;

#[derive(Debug)]
pub struct TokenManager {
    secrets: Arc<dyn SecretStore>,
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
            clock,
            http,
            locks: Mutex::default(),
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

    pub async fn store_tokens(&self, id: i64, tokens: &TokenSet) -> Result<(), AuthError> {
        let value = tokens.to_secret();
        self.keyring(move |s| s.set(&secret_name(id, SecretKind::OAuthTokens), &value))
            .await
    }

    async fn load_tokens(&self, id: i64) -> Result<Option<TokenSet>, AuthError> {
        let v = self
            .keyring(move |s| s.get(&secret_name(id, SecretKind::OAuthTokens)))
            .await?;
        Ok(v.as_ref().and_then(TokenSet::from_secret))
    }

    pub async fn set_password(&self, id: i64, password: SecretValue) -> Result<(), AuthError> {
        self.keyring(move |s| s.set(&secret_name(id, SecretKind::Password), &password))
            .await
    }

    /// Whether a password / token set is stored (without reading it out of this crate).
    pub async fn has_secret(&self, conn: &Connection) -> Result<bool, AuthError> {
        let kind = match conn.auth_method {
            AuthMethod::Basic => SecretKind::Password,
            AuthMethod::OAuth => SecretKind::OAuthTokens,
        };
        let id = conn.id;
        Ok(self
            .keyring(move |s| s.get(&secret_name(id, kind)))
            .await?
            .is_some())
    }

    /// Deletes every secret of a connection (sign out, remove).
    pub async fn forget(&self, id: i64) -> Result<(), AuthError> {
        let _guard = self.lock_for(id).lock_owned().await;
        self.keyring(move |s| {
            s.delete(&secret_name(id, SecretKind::OAuthTokens))?;
            s.delete(&secret_name(id, SecretKind::Password))
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
                let id = conn.id;
                let pw = self
                    .keyring(move |s| s.get(&secret_name(id, SecretKind::Password)))
                    .await?;
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
        let Some(tokens) = self.load_tokens(conn.id).await? else {
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
                self.store_tokens(conn.id, &new).await?;
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
        self.keyring(move |s| s.delete(&secret_name(id, SecretKind::OAuthTokens)))
            .await
    }
}
