//! One JSON-over-HTTP call with the connector error classification, shared by the Jira and
//! Zendesk connectors: credentials fetched per call (refreshed tokens just work), transport
//! failures split into offline / timeout / unknown outcome (a write that may have reached the
//! upstream), an HTML page where JSON was expected recognized as such, a cut-off or unparsable
//! body reported as malformed JSON, 401 → sign in again, 429 (and 503 with `Retry-After`) →
//! rate limited with the wait, 404/410 → not found, 409 → conflict; the vendor's error message
//! (never a whole page) in the rest. Nothing here logs or returns a credential.

use crate::auth::AuthError;
use crate::connector::{CredentialSource, SyncResult};
use crate::error::{SyncError, excerpt, looks_like_html};
use casebook_core::connection::Connection;
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub(crate) struct Rest {
    pub http: reqwest::Client,
    pub tokens: Arc<dyn CredentialSource>,
    pub conn: Connection,
    /// The instance origin without a trailing slash.
    pub base: String,
}

/// A successful answer: its JSON (`Null` for an empty body).
pub(crate) struct Answer {
    pub json: Value,
    /// The `rel="next"` target of a `Link` header (RFC 8288), as sent (often relative).
    pub link_next: Option<String>,
}

impl Rest {
    pub fn new(http: reqwest::Client, tokens: Arc<dyn CredentialSource>, conn: Connection) -> Rest {
        let base = conn.base_url.trim_end_matches('/').to_owned();
        Rest {
            http,
            tokens,
            conn,
            base,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends one request. `path` is relative to the instance (`/rest/api/3/...`) or a full URL
    /// on the same instance (a `next` link).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        headers: &[(&str, String)],
    ) -> SyncResult<Answer> {
        let is_write = method != Method::GET;
        self.call_as(method, is_write, path, query, body, None, headers)
            .await
    }

    /// A write whose body is not JSON (a multipart upload): `raw` is (content type, bytes).
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        raw: (&str, Vec<u8>),
        headers: &[(&str, String)],
    ) -> SyncResult<Answer> {
        self.call_as(method, true, path, &[], None, Some(raw), headers)
            .await
    }

    /// A POST that only reads (a search): a lost answer is a timeout or an offline error, not
    /// a write of unknown outcome.
    pub async fn read_post(&self, path: &str, body: &Value) -> SyncResult<Answer> {
        self.call_as(Method::POST, false, path, &[], Some(body), None, &[])
            .await
    }

    #[allow(clippy::too_many_arguments)] // one request's parts, named at the three call sites
    async fn call_as(
        &self,
        method: Method,
        is_write: bool,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        raw: Option<(&str, Vec<u8>)>,
        headers: &[(&str, String)],
    ) -> SyncResult<Answer> {
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            if !path.starts_with(&self.base) {
                return Err(SyncError::MalformedJson {
                    what: "a next-page link points to another host".into(),
                });
            }
            path.to_owned()
        } else {
            self.url(path)
        };
        let creds = self
            .tokens
            .credentials(&self.conn)
            .await
            .map_err(|e| match e {
                AuthError::NeedsSignIn(m) => SyncError::AuthExpired(m),
                AuthError::Unreachable(m) => SyncError::Offline(m),
                other => SyncError::Local(other.to_string()),
            })?;
        let mut req = self
            .http
            .request(method, &url)
            .query(query)
            .header("Accept", "application/json");
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some((ctype, bytes)) = raw {
            req = req.header(reqwest::header::CONTENT_TYPE, ctype).body(bytes);
        }
        let what = path_of(&url);
        let resp = creds.apply(req).send().await.map_err(|e| {
            let (kind, msg) = crate::http::explain(&e, &self.base);
            match kind {
                crate::http::Transport::Unreachable | crate::http::Transport::Tls => {
                    SyncError::Offline(msg)
                }
                // A connect error happened before anything was sent.
                _ if e.is_connect() => SyncError::Offline(msg),
                _ if is_write => SyncError::UnknownOutcome(format!("{what}: {msg}")),
                crate::http::Transport::TimedOut => SyncError::Timeout(msg),
                _ => SyncError::Offline(msg),
            }
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let ctype = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = resp.bytes().await.map_err(|e| {
            if is_write && (200..300).contains(&status) {
                SyncError::UnknownOutcome(format!("{what}: the answer was cut off ({e})"))
            } else {
                SyncError::MalformedJson {
                    what: format!("{what}: the answer was cut off ({e})"),
                }
            }
        })?;
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        match status {
            200..=299 => {
                if looks_like_html(ctype.as_deref(), &bytes) {
                    return Err(SyncError::HtmlInsteadOfJson(format!(
                        "{what}; a login page or a proxy answered — check the instance address and the sign-in"
                    )));
                }
                let link_next = headers
                    .get(reqwest::header::LINK)
                    .and_then(|v| v.to_str().ok())
                    .and_then(link_next);
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return Ok(Answer {
                        json: Value::Null,
                        link_next,
                    });
                }
                let json =
                    serde_json::from_slice(&bytes).map_err(|e| SyncError::MalformedJson {
                        what: format!("{what} ({e})"),
                    })?;
                Ok(Answer { json, link_next })
            }
            401 => Err(SyncError::AuthExpired(format!(
                "{} rejected the credentials (they expired or were revoked); sign in again",
                self.conn.name
            ))),
            429 => Err(SyncError::RateLimited { retry_after }),
            503 if retry_after.is_some() => Err(SyncError::RateLimited { retry_after }),
            _ => {
                let message = error_message(&bytes, ctype.as_deref());
                match status {
                    404 | 410 => Err(SyncError::NotFound(format!("{what}: {message}"))),
                    409 => Err(SyncError::Conflict(message)),
                    _ => Err(SyncError::HttpStatus {
                        code: status,
                        body: message,
                    }),
                }
            }
        }
    }
}

/// The path of a URL, for messages (no query string: it may carry ids but never secrets; kept
/// short anyway).
pub(crate) fn path_of(url: &str) -> String {
    let no_query = url.split('?').next().unwrap_or(url);
    match no_query.find("://") {
        Some(i) => match no_query[i + 3..].find('/') {
            Some(j) => no_query[i + 3 + j..].to_owned(),
            None => "/".into(),
        },
        None => no_query.to_owned(),
    }
}

/// The target of the `rel="next"` link in a `Link` header value
/// (`</wiki/api/v2/pages?cursor=x>; rel="next", <https://site/wiki>; rel="base"`).
pub(crate) fn link_next(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let target = &after[..close];
        let params_end = after[close..].find('<').map_or(after.len(), |i| close + i);
        let params = &after[close + 1..params_end];
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            p.strip_prefix("rel=").is_some_and(|v| {
                v.trim_matches('"')
                    .split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
            })
        });
        if is_next && !target.is_empty() {
            return Some(target.to_owned());
        }
        rest = &after[params_end..];
    }
    None
}

/// The vendor's own error text: Jira `errorMessages` + `errors`, Zendesk `error` +
/// `description`, Confluence v2 `errors[].title`/`detail` and v1 `message`, else a short
/// excerpt.
pub(crate) fn error_message(body: &[u8], ctype: Option<&str>) -> String {
    if looks_like_html(ctype, body) {
        return "an html page (a proxy or login page)".into();
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return excerpt(&String::from_utf8_lossy(body));
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(a) = v["errorMessages"].as_array() {
        parts.extend(a.iter().filter_map(|m| m.as_str().map(str::to_owned)));
    }
    if let Some(o) = v["errors"].as_object() {
        parts.extend(
            o.iter()
                .map(|(k, m)| format!("{k}: {}", m.as_str().unwrap_or(""))),
        );
    }
    // Confluence v2: {"errors":[{"status":404,"code":"NOT_FOUND","title":"…","detail":null}]}
    if let Some(a) = v["errors"].as_array() {
        for e in a {
            let title = e["title"].as_str().or_else(|| e["code"].as_str());
            let detail = e["detail"].as_str().filter(|d| !d.is_empty());
            match (title, detail) {
                (Some(t), Some(d)) => parts.push(format!("{t}: {d}")),
                (Some(t), None) => parts.push(t.to_owned()),
                (None, Some(d)) => parts.push(d.to_owned()),
                (None, None) => {}
            }
        }
    }
    if let Some(m) = v["message"].as_str() {
        parts.push(m.to_owned());
    }
    if let Some(e) = v["error"].as_str() {
        parts.push(e.to_owned());
    }
    if let Some(d) = v["description"].as_str() {
        parts.push(d.to_owned());
    }
    if parts.is_empty() {
        excerpt(&String::from_utf8_lossy(body))
    } else {
        excerpt(&parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_come_from_the_vendor_error_bodies() {
        assert_eq!(
            error_message(
                br#"{"errorMessages":["Issue does not exist"],"errors":{"summary":"required"}}"#,
                Some("application/json")
            ),
            "Issue does not exist; summary: required"
        );
        assert_eq!(
            error_message(
                br#"{"error":"UpdateConflict","description":"Safe Update prevented the update"}"#,
                None
            ),
            "UpdateConflict; Safe Update prevented the update"
        );
        assert_eq!(
            error_message(b"<html>login</html>", Some("text/html")),
            "an html page (a proxy or login page)"
        );
        assert_eq!(
            path_of("https://x.example/rest/api/3/issue/HD-1?fields=a"),
            "/rest/api/3/issue/HD-1"
        );
        assert_eq!(
            error_message(
                br#"{"errors":[{"status":404,"code":"NOT_FOUND","title":"Not Found","detail":null}]}"#,
                Some("application/json")
            ),
            "Not Found"
        );
        assert_eq!(
            error_message(br#"{"statusCode":403,"message":"No access"}"#, None),
            "No access"
        );
    }

    #[test]
    fn the_next_link_is_read_from_a_link_header() {
        assert_eq!(
            link_next(
                r#"</wiki/api/v2/spaces/9/pages?cursor=abc%3D&limit=2>; rel="next", <https://site.atlassian.net/wiki>; rel="base""#
            )
            .as_deref(),
            Some("/wiki/api/v2/spaces/9/pages?cursor=abc%3D&limit=2")
        );
        // Order, spacing and an unquoted rel do not matter; only rel="next" is taken.
        assert_eq!(
            link_next("<https://s/wiki>; rel=\"base\",<https://s/x?a=1,2>;rel=next").as_deref(),
            Some("https://s/x?a=1,2")
        );
        assert_eq!(link_next(r#"<https://s/wiki>; rel="base""#), None);
        assert_eq!(link_next("garbage"), None);
        assert_eq!(link_next("<unterminated; rel=next"), None);
    }
}
