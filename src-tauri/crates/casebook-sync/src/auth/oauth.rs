//! OAuth 2.0 authorization code + PKCE (S256) for public clients, with the `oauth2` crate.

use super::loopback::{CallbackError, Loopback};
use super::{OAuthEndpoints, oauth_endpoints};
use crate::http;
use casebook_core::connection::{AuthMethod, Connection};
use casebook_core::model::Millis;
use casebook_core::secrets::SecretValue;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, EndpointNotSet, EndpointSet, HttpClientError,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    StandardErrorResponse, TokenResponse, TokenUrl,
};
use std::time::Duration;

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;
type TokenError = RequestTokenError<
    HttpClientError<reqwest::Error>,
    StandardErrorResponse<BasicErrorResponseType>,
>;

/// The tokens of a connection. Kept in the keyring as one entry (see [`TokenSet::to_secret`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSet {
    pub access_token: SecretValue,
    pub refresh_token: Option<SecretValue>,
    /// When the access token expires (ms since the epoch); `None`: the server did not say.
    pub expires_at: Option<Millis>,
}

impl TokenSet {
    /// The keyring form: a JSON object, itself a secret.
    pub fn to_secret(&self) -> SecretValue {
        SecretValue::new(
            serde_json::json!({
                "access_token": self.access_token.expose(),
                "refresh_token": self.refresh_token.as_ref().map(SecretValue::expose),
                "expires_at": self.expires_at,
            })
            .to_string(),
        )
    }

    pub fn from_secret(s: &SecretValue) -> Option<TokenSet> {
        let v: serde_json::Value = serde_json::from_str(s.expose()).ok()?;
        Some(TokenSet {
            access_token: SecretValue::new(v.get("access_token")?.as_str()?),
            refresh_token: v
                .get("refresh_token")
                .and_then(|r| r.as_str())
                .map(SecretValue::new),
            expires_at: v.get("expires_at").and_then(|e| e.as_i64()),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("{0} does not sign in with OAuth")]
    NotOAuth(String),
    #[error(transparent)]
    Callback(#[from] CallbackError),
    /// The token endpoint refused the code (expired, already used, wrong redirect or verifier).
    #[error("{0}")]
    Rejected(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Other(String),
}

/// A sign-in waiting for the browser: open `url`, then [`complete`].
#[derive(Debug)]
pub struct PendingSignIn {
    pub connection_id: i64,
    /// The authorization page to open in the system browser.
    pub url: String,
    loopback: Loopback,
    state: CsrfToken,
    verifier: PkceCodeVerifier,
    client_id: String,
    endpoints: OAuthEndpoints,
    redirect_uri: String,
}

fn client(client_id: &str, ep: &OAuthEndpoints, redirect: &str) -> Result<Client, SignInError> {
    let bad = |what: &str, e: url::ParseError| SignInError::Other(format!("invalid {what}: {e}"));
    Ok(BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_auth_uri(AuthUrl::new(ep.authorize.clone()).map_err(|e| bad("authorization URL", e))?)
        .set_token_uri(TokenUrl::new(ep.token.clone()).map_err(|e| bad("token URL", e))?)
        .set_redirect_uri(
            RedirectUrl::new(redirect.to_owned()).map_err(|e| bad("redirect URL", e))?,
        )
        // A public client: the client id goes in the body, there is no secret.
        .set_auth_type(oauth2::AuthType::RequestBody))
}

/// Starts a sign-in: binds the loopback listener and builds the authorization URL (S256
/// challenge, random state).
pub async fn begin(conn: &Connection) -> Result<PendingSignIn, SignInError> {
    let not_oauth = || SignInError::NotOAuth(conn.name.clone());
    if conn.auth_method != AuthMethod::OAuth {
        return Err(not_oauth());
    }
    let endpoints = oauth_endpoints(conn).ok_or_else(not_oauth)?;
    let client_id = conn.oauth_client_id.clone().ok_or_else(not_oauth)?;
    let loopback = Loopback::bind().await?;
    let redirect_uri = loopback.redirect_uri();
    let c = client(&client_id, &endpoints, &redirect_uri)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = c
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge);
    for s in &endpoints.scopes {
        req = req.add_scope(Scope::new((*s).to_owned()));
    }
    let (url, state) = req.url();
    Ok(PendingSignIn {
        connection_id: conn.id,
        url: url.to_string(),
        loopback,
        state,
        verifier,
        client_id,
        endpoints,
        redirect_uri,
    })
}

/// Waits for the browser (at most `timeout`), checks the state and exchanges the code (with the
/// PKCE verifier) for tokens.
pub async fn complete(
    pending: PendingSignIn,
    http_client: &reqwest::Client,
    timeout: Duration,
    now: impl Fn() -> Millis,
) -> Result<TokenSet, SignInError> {
    let code = pending
        .loopback
        .wait(pending.state.secret(), timeout)
        .await?;
    let c = client(
        &pending.client_id,
        &pending.endpoints,
        &pending.redirect_uri,
    )?;
    let mut req = c
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(pending.verifier);
    if !pending.endpoints.scopes.is_empty() {
        // Zendesk expects the scope again in the token request.
        req = req.add_extra_param("scope", pending.endpoints.scopes.join(" "));
    }
    let token = req.request_async(http_client).await.map_err(|e| {
        match explain(e, &pending.endpoints.token) {
            Failure::Invalid(m) => SignInError::Rejected(format!(
                "the instance refused the sign-in ({m}); the code may have expired — sign in again"
            )),
            Failure::Refused(m) => {
                SignInError::Rejected(format!("the instance refused the sign-in: {m}"))
            }
            Failure::Transport(m) => SignInError::Unreachable(m),
            Failure::Other(m) => SignInError::Other(m),
        }
    })?;
    Ok(token_set(&token, None, now()))
}

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The refresh token is revoked, expired or was already used: sign in again.
    #[error("{0}")]
    Revoked(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Other(String),
}

/// Exchanges a refresh token. A rotating server returns a new refresh token; otherwise the old
/// one is kept.
pub async fn refresh(
    http_client: &reqwest::Client,
    conn: &Connection,
    refresh_token: &SecretValue,
    now: Millis,
) -> Result<TokenSet, RefreshError> {
    let ep = oauth_endpoints(conn)
        .ok_or_else(|| RefreshError::Other(format!("{} does not sign in with OAuth", conn.name)))?;
    let client_id = conn
        .oauth_client_id
        .as_deref()
        .ok_or_else(|| RefreshError::Other(format!("{} has no OAuth client id", conn.name)))?;
    // The redirect URI is not used by a refresh; the client type wants one.
    let c = client(client_id, &ep, "http://127.0.0.1/callback")
        .map_err(|e| RefreshError::Other(e.to_string()))?;
    let rt = RefreshToken::new(refresh_token.expose().to_owned());
    let token = c
        .exchange_refresh_token(&rt)
        .request_async(http_client)
        .await
        .map_err(|e| match explain(e, &ep.token) {
            Failure::Invalid(m) | Failure::Refused(m) => RefreshError::Revoked(format!(
                "the sign-in expired or was revoked ({m}); sign in again"
            )),
            Failure::Transport(m) => RefreshError::Unreachable(m),
            Failure::Other(m) => RefreshError::Other(m),
        })?;
    Ok(token_set(&token, Some(refresh_token), now))
}

fn token_set(
    token: &oauth2::basic::BasicTokenResponse,
    previous_refresh: Option<&SecretValue>,
    now: Millis,
) -> TokenSet {
    TokenSet {
        access_token: SecretValue::new(token.access_token().secret().clone()),
        refresh_token: token
            .refresh_token()
            .map(|r| SecretValue::new(r.secret().clone()))
            .or_else(|| previous_refresh.cloned()),
        expires_at: token
            .expires_in()
            .map(|d| now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))),
    }
}

enum Failure {
    /// `invalid_grant`: the code or refresh token is not (or no longer) valid.
    Invalid(String),
    /// Another OAuth error answer.
    Refused(String),
    Transport(String),
    Other(String),
}

/// Explains a token-endpoint failure without ever including the response body (it could hold a
/// token) or the request.
fn explain(e: TokenError, token_url: &str) -> Failure {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let what = r.error().to_string();
            let desc = r
                .error_description()
                .map(|d| format!(": {}", d.chars().take(200).collect::<String>()))
                .unwrap_or_default();
            if matches!(r.error(), BasicErrorResponseType::InvalidGrant) {
                Failure::Invalid(format!("{what}{desc}"))
            } else {
                Failure::Refused(format!("{what}{desc}"))
            }
        }
        RequestTokenError::Request(HttpClientError::Reqwest(re)) => {
            let (_, msg) = http::explain(&re, origin(token_url));
            Failure::Transport(msg)
        }
        RequestTokenError::Request(other) => Failure::Transport(format!(
            "the token request to {} failed: {other}",
            origin(token_url)
        )),
        RequestTokenError::Parse(_, _) => Failure::Other(format!(
            "{} answered the token request with something that is not an OAuth token response",
            origin(token_url)
        )),
        RequestTokenError::Other(m) => Failure::Other(format!(
            "{} answered the token request unexpectedly: {m}",
            origin(token_url)
        )),
    }
}

fn origin(u: &str) -> &str {
    match u.find("://") {
        Some(i) => match u[i + 3..].find('/') {
            Some(j) => &u[..i + 3 + j],
            None => u,
        },
        None => u,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_sets_round_trip_through_their_keyring_form() {
        let t = TokenSet {
            access_token: SecretValue::new("ACCESS-VALUE-1"),
            refresh_token: Some(SecretValue::new("REFRESH-VALUE-1")),
            expires_at: Some(42),
        };
        assert_eq!(TokenSet::from_secret(&t.to_secret()).unwrap(), t);
        let shown = format!("{t:?}");
        assert!(
            !shown.contains("ACCESS-VALUE") && !shown.contains("REFRESH-VALUE"),
            "{shown}"
        );
        assert_eq!(TokenSet::from_secret(&SecretValue::new("garbage")), None);
    }

    #[test]
    fn origins_are_cut_at_the_path() {
        assert_eq!(
            origin("https://a.zendesk.com/oauth/tokens"),
            "https://a.zendesk.com"
        );
        assert_eq!(origin("http://127.0.0.1:9"), "http://127.0.0.1:9");
    }
}
