//! The one error type every connector returns. The engine branches on the variant (retry now,
//! back off, wait for Retry-After, ask the agent to sign in, look up an idempotency marker, record
//! a conflict, give up on this operation), so connectors must classify carefully: the variant is
//! the contract, the message is for humans (lowercase, concise, no secrets, no response bodies
//! beyond a short excerpt).

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// Could not connect at all (DNS, refused, TLS, no route): nothing was sent. Safe to retry.
    #[error("{0}")]
    Offline(String),
    /// The request timed out. For a read this is harmless; for a write the connector must report
    /// [`SyncError::UnknownOutcome`] instead, because the upstream may have committed it.
    #[error("{0}")]
    Timeout(String),
    /// A write was sent (at least partly) but no answer came back: the upstream may or may not
    /// have applied it. The engine looks up the idempotency marker before any retry.
    #[error("outcome unknown: {0}")]
    UnknownOutcome(String),
    /// HTTP 429 (or a 503 carrying Retry-After): wait at least `retry_after` if given.
    #[error("rate limited by the upstream{}", retry_after.map(|d| format!(" (retry after {} s)", d.as_secs())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    /// HTTP 401, or a refresh token that was refused: the agent must sign in again.
    #[error("{0}")]
    AuthExpired(String),
    /// The record does not exist (deleted upstream, or the account lost access to it).
    #[error("{0}")]
    NotFound(String),
    /// The upstream refused a write because the record changed (Zendesk 409, Jira 409). The
    /// engine re-reads and merges per field.
    #[error("{0}")]
    Conflict(String),
    /// Any other non-success status; `body` is a short excerpt (the vendor's error message when
    /// it could be parsed), never a full page.
    #[error("the upstream answered HTTP {code}: {body}")]
    HttpStatus { code: u16, body: String },
    /// A success status whose JSON could not be read or lacked a required field.
    #[error("malformed answer from the upstream: {what}")]
    MalformedJson { what: String },
    /// An HTML page (a login page, a proxy or maintenance error) where JSON was expected.
    #[error("the upstream answered with an html page instead of json ({0})")]
    HtmlInsteadOfJson(String),
    /// A timestamp in a format or time zone the connector does not accept (never guessed).
    #[error("unparsable timestamp '{value}' in {field}")]
    BadTimestamp { field: String, value: String },
    /// A local problem (store, configuration, a value that cannot be mapped upstream).
    #[error("{0}")]
    Local(String),
}

impl SyncError {
    /// Whether trying the same request again later may succeed without anyone doing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Offline(_)
            | SyncError::Timeout(_)
            | SyncError::UnknownOutcome(_)
            | SyncError::RateLimited { .. } => true,
            SyncError::HttpStatus { code, .. } => *code >= 500 || *code == 408,
            // A truncated or HTML answer is often a proxy hiccup: retry a bounded number of times.
            SyncError::MalformedJson { .. } | SyncError::HtmlInsteadOfJson(_) => true,
            SyncError::AuthExpired(_)
            | SyncError::NotFound(_)
            | SyncError::Conflict(_)
            | SyncError::BadTimestamp { .. }
            | SyncError::Local(_) => false,
        }
    }

    /// Whether the whole connection should stop for now (no point trying other tickets).
    pub fn stops_connection(&self) -> bool {
        matches!(
            self,
            SyncError::Offline(_) | SyncError::AuthExpired(_) | SyncError::RateLimited { .. }
        )
    }

    /// A short machine-readable name of the variant (stored with failed operations).
    pub fn kind(&self) -> &'static str {
        match self {
            SyncError::Offline(_) => "offline",
            SyncError::Timeout(_) => "timeout",
            SyncError::UnknownOutcome(_) => "unknown_outcome",
            SyncError::RateLimited { .. } => "rate_limited",
            SyncError::AuthExpired(_) => "auth_expired",
            SyncError::NotFound(_) => "not_found",
            SyncError::Conflict(_) => "conflict",
            SyncError::HttpStatus { .. } => "http_status",
            SyncError::MalformedJson { .. } => "malformed_json",
            SyncError::HtmlInsteadOfJson(_) => "html_instead_of_json",
            SyncError::BadTimestamp { .. } => "bad_timestamp",
            SyncError::Local(_) => "local",
        }
    }
}

/// Cuts an upstream body down to a one-line excerpt safe to show and log.
pub fn excerpt(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = one_line.chars().take(200).collect();
    if one_line.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// Whether a body looks like an HTML page (login page, proxy error) rather than JSON.
pub fn looks_like_html(content_type: Option<&str>, body: &[u8]) -> bool {
    if content_type.is_some_and(|c| c.to_ascii_lowercase().contains("text/html")) {
        return true;
    }
    let head: Vec<u8> = body
        .iter()
        .copied()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(15)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    head.starts_with(b"<!doctype html") || head.starts_with(b"<html") || head.starts_with(b"<?xml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_recognized_by_type_or_by_its_first_bytes() {
        assert!(looks_like_html(Some("text/html; charset=utf-8"), b"{}"));
        assert!(looks_like_html(None, b"\n  <!DOCTYPE html><html>"));
        assert!(looks_like_html(
            Some("application/json"),
            b"<html><body>login"
        ));
        assert!(!looks_like_html(
            Some("application/json"),
            b"{\"result\":[]}"
        ));
    }

    #[test]
    fn excerpts_are_one_short_line() {
        let long = "a\nb ".repeat(300);
        let e = excerpt(&long);
        assert!(!e.contains('\n'));
        assert!(e.chars().count() <= 201, "{}", e.len());
        assert!(e.ends_with('…'));
    }

    #[test]
    fn classification_drives_retry_decisions() {
        assert!(
            SyncError::HttpStatus {
                code: 503,
                body: String::new()
            }
            .is_transient()
        );
        assert!(
            !SyncError::HttpStatus {
                code: 400,
                body: String::new()
            }
            .is_transient()
        );
        assert!(!SyncError::AuthExpired("x".into()).is_transient());
        assert!(SyncError::AuthExpired("x".into()).stops_connection());
        assert_eq!(
            SyncError::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
            .to_string(),
            "rate limited by the upstream (retry after 7 s)"
        );
    }
}
