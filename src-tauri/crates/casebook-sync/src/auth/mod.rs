//! Signing in to the upstreams.
//!
//! - ServiceNow: OAuth 2.0 authorization code + PKCE (public client), or basic auth.
//! - Zendesk: OAuth 2.0 authorization code + PKCE (API tokens stop working on 2027-04-30).
//! - Jira Cloud: account email + API token (basic); Atlassian's 3LO has no PKCE.
//!
//! The browser is sent to the instance's authorization page with an S256 challenge and a random
//! `state`; the answer comes back to a listener on 127.0.0.1 (ephemeral port) that accepts one
//! callback and closes. Tokens live in the keyring only ([`tokens::TokenManager`]), are refreshed
//! before they expire, one refresh at a time per connection.

pub mod loopback;
pub mod oauth;
pub mod tokens;

use casebook_core::connection::{Connection, Vendor};
use casebook_core::secrets::{SecretError, SecretValue};

/// How a request is authorized. `Debug` never shows the secret.
#[derive(Debug, Clone)]
pub enum Credentials {
    Basic { user: String, password: SecretValue },
    Bearer(SecretValue),
}

impl Credentials {
    pub fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Credentials::Basic { user, password } => req.basic_auth(user, Some(password.expose())),
            Credentials::Bearer(token) => req.bearer_auth(token.expose()),
        }
    }
}

/// Why a connection cannot be used right now.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Nothing stored, or the refresh token was revoked or expired: the agent must sign in again.
    #[error("{0}")]
    NeedsSignIn(String),
    /// The instance could not be reached (tokens are kept).
    #[error("{0}")]
    Unreachable(String),
    #[error(transparent)]
    Keyring(#[from] SecretError),
    #[error("{0}")]
    Other(String),
}

/// Where a vendor's OAuth endpoints are, relative to the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthEndpoints {
    pub authorize: String,
    pub token: String,
    /// Scopes to ask for (space-separated in the request).
    pub scopes: Vec<&'static str>,
}

pub fn oauth_endpoints(conn: &Connection) -> Option<OAuthEndpoints> {
    let base = conn.base_url.trim_end_matches('/');
    match conn.vendor {
        Vendor::ServiceNow => Some(OAuthEndpoints {
            authorize: format!("{base}/oauth_auth.do"),
            token: format!("{base}/oauth_token.do"),
            scopes: vec![],
        }),
        Vendor::Zendesk => Some(OAuthEndpoints {
            authorize: format!("{base}/oauth/authorizations/new"),
            token: format!("{base}/oauth/tokens"),
            scopes: vec!["read", "write"],
        }),
        Vendor::Jira => None,
    }
}
