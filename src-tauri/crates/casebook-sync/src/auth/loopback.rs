//! The loopback redirect target of an OAuth sign-in: a listener on 127.0.0.1 (ephemeral port)
//! that waits for one `GET /callback?code=…&state=…`, answers the browser with a short page and
//! closes. Requests to other paths (a favicon) get a 404 and do not end the wait.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const CALLBACK_PATH: &str = "/callback";
const MAX_REQUEST_HEAD: usize = 16 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallbackError {
    #[error(
        "the browser did not come back from the sign-in page within {0} s; start the sign-in again"
    )]
    TimedOut(u64),
    #[error(
        "the sign-in answer did not belong to this sign-in (state mismatch); nothing was stored — start \
         the sign-in again"
    )]
    StateMismatch,
    #[error("the sign-in was declined{0}; nothing was stored")]
    Denied(String),
    #[error("the sign-in answer had no authorization code; start the sign-in again")]
    MissingCode,
    #[error("the sign-in listener failed: {0}")]
    Io(String),
}

/// A bound, not yet used, loopback listener.
#[derive(Debug)]
pub struct Loopback {
    listener: TcpListener,
    port: u16,
}

impl Loopback {
    pub async fn bind() -> Result<Loopback, CallbackError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| CallbackError::Io(e.to_string()))?;
        let port = listener
            .local_addr()
            .map_err(|e| CallbackError::Io(e.to_string()))?
            .port();
        Ok(Loopback { listener, port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The redirect URI to register in the authorization request.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// Waits for the callback, checks `state`, and returns the authorization code. The listener
    /// is closed when this returns, whatever the outcome.
    pub async fn wait(
        self,
        expected_state: &str,
        timeout: Duration,
    ) -> Result<String, CallbackError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let accepted = tokio::time::timeout_at(deadline, self.listener.accept()).await;
            let (mut stream, _) = match accepted {
                Err(_) => return Err(CallbackError::TimedOut(timeout.as_secs())),
                Ok(Err(e)) => return Err(CallbackError::Io(e.to_string())),
                Ok(Ok(s)) => s,
            };
            let head = match tokio::time::timeout_at(deadline, read_head(&mut stream)).await {
                Err(_) => return Err(CallbackError::TimedOut(timeout.as_secs())),
                Ok(Err(_)) => continue,
                Ok(Ok(h)) => h,
            };
            let Some(target) = request_target(&head) else {
                respond(&mut stream, 400, "Bad request").await;
                continue;
            };
            let Ok(url) = url::Url::parse(&format!("http://127.0.0.1{target}")) else {
                respond(&mut stream, 400, "Bad request").await;
                continue;
            };
            if url.path() != CALLBACK_PATH {
                respond(&mut stream, 404, "Not found").await;
                continue;
            }
            let outcome = check_callback(&url, expected_state);
            let page = match &outcome {
                Ok(_) => "Signed in. You can close this window and return to Casebook.",
                Err(CallbackError::Denied(_)) => {
                    "The sign-in was declined. You can close this window; Casebook stored nothing."
                }
                Err(_) => {
                    "This sign-in could not be completed. Close this window and start it again in Casebook."
                }
            };
            respond(&mut stream, if outcome.is_ok() { 200 } else { 400 }, page).await;
            return outcome;
        }
    }
}

fn check_callback(url: &url::Url, expected_state: &str) -> Result<String, CallbackError> {
    let mut code = None;
    let mut state = None;
    let mut error = None;
    let mut description = None;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => state = Some(v.into_owned()),
            "error" => error = Some(v.into_owned()),
            "error_description" => description = Some(v.into_owned()),
            _ => {}
        }
    }
    // The state is checked first: an answer to another sign-in is refused whatever it says.
    if state.as_deref() != Some(expected_state) {
        return Err(CallbackError::StateMismatch);
    }
    if let Some(e) = error {
        let detail: String = match (e.as_str(), description) {
            ("access_denied", _) => String::new(),
            (_, Some(d)) => format!(" ({})", d.chars().take(200).collect::<String>()),
            (other, None) => format!(" ({})", other.chars().take(100).collect::<String>()),
        };
        return Err(CallbackError::Denied(detail));
    }
    code.filter(|c| !c.is_empty())
        .ok_or(CallbackError::MissingCode)
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() >= MAX_REQUEST_HEAD {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// `GET /callback?… HTTP/1.1` → `/callback?…`.
fn request_target(head: &str) -> Option<&str> {
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    let method = parts.next()?;
    let target = parts.next()?;
    (method == "GET" && target.starts_with('/')).then_some(target)
}

async fn respond(stream: &mut TcpStream, status: u16, text: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Casebook</title></head>\
         <body><p>{text}</p></body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    // The browser may already be gone; the outcome does not depend on it.
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(port: u16, target: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn returns_the_code_after_ignoring_other_paths_and_then_closes() {
        let lb = Loopback::bind().await.unwrap();
        let port = lb.port();
        assert!(lb.redirect_uri().starts_with("http://127.0.0.1:"));
        let wait = tokio::spawn(lb.wait("s1", Duration::from_secs(5)));
        assert!(get(port, "/favicon.ico").await.starts_with("HTTP/1.1 404"));
        let page = get(port, "/callback?code=abc&state=s1").await;
        assert!(page.starts_with("HTTP/1.1 200") && page.contains("Signed in"));
        assert_eq!(wait.await.unwrap().unwrap(), "abc");
        // Used once: the port no longer accepts connections.
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    }

    #[tokio::test]
    async fn a_wrong_state_is_refused_even_with_a_code() {
        let lb = Loopback::bind().await.unwrap();
        let port = lb.port();
        let wait = tokio::spawn(lb.wait("right", Duration::from_secs(5)));
        let page = get(port, "/callback?code=abc&state=wrong").await;
        assert!(page.starts_with("HTTP/1.1 400"));
        assert_eq!(
            wait.await.unwrap().unwrap_err(),
            CallbackError::StateMismatch
        );
    }

    #[tokio::test]
    async fn denied_consent_and_missing_code_are_reported() {
        let lb = Loopback::bind().await.unwrap();
        let port = lb.port();
        let wait = tokio::spawn(lb.wait("s", Duration::from_secs(5)));
        get(port, "/callback?error=access_denied&state=s").await;
        let e = wait.await.unwrap().unwrap_err();
        assert_eq!(e, CallbackError::Denied(String::new()));
        assert!(e.to_string().contains("declined"));

        let lb = Loopback::bind().await.unwrap();
        let port = lb.port();
        let wait = tokio::spawn(lb.wait("s", Duration::from_secs(5)));
        get(port, "/callback?state=s").await;
        assert_eq!(wait.await.unwrap().unwrap_err(), CallbackError::MissingCode);
    }

    #[tokio::test]
    async fn a_browser_that_never_returns_times_out() {
        let lb = Loopback::bind().await.unwrap();
        let port = lb.port();
        let e = lb.wait("s", Duration::from_millis(200)).await.unwrap_err();
        assert!(matches!(e, CallbackError::TimedOut(_)));
        assert!(e.to_string().contains("did not come back"));
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    }
}
