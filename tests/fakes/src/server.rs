//! A small HTTP/1.1 server on 127.0.0.1 (random port) that hands each request to a vendor
//! [`Handler`], applying the [`FaultPlan`] around it and recording every request in a
//! [`RequestLog`]. Keep-alive is supported (reqwest pools connections), so "drop the connection"
//! faults really hit a pooled connection the way a flaky network does.
//!
//! Written directly on tokio + httparse rather than a framework, so a fault can do exactly what
//! a network does: hang up before or after the handler ran, cut a body mid-way, stall.

use crate::faults::{Fault, FaultPlan, lock};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// One request as the handler sees it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path without the query string, as sent (not percent-decoded).
    pub path: String,
    /// The raw query string (without `?`), empty when there is none.
    pub raw_query: String,
    /// Query parameters, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, or a 400 answer saying why not.
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("request body is not JSON: {e}"))
    }

    /// Path segments (without the empty leading one).
    pub fn segments(&self) -> Vec<&str> {
        self.path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// One answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, v: &Value) -> Response {
        Response {
            status,
            headers: vec![(
                "Content-Type".into(),
                "application/json;charset=UTF-8".into(),
            )],
            body: serde_json::to_vec(v).unwrap_or_default(),
        }
    }

    pub fn html(status: u16, html: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            body: html.as_bytes().to_vec(),
        }
    }

    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// The body parsed as JSON (for tests and the spec check).
    pub fn body_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// A vendor's behaviour. `handle` runs with the request fully read; the defaults for the fault
/// answers are generic, vendors override them with their own bodies and headers.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, req: &Request) -> Response;

    /// The answer to [`Fault::Status`].
    fn error_status(&self, status: u16) -> Response {
        Response::json(status, &serde_json::json!({ "error": reason(status) }))
    }

    /// The answer to [`Fault::RateLimited`]: 429 with `Retry-After` (vendors add their headers).
    fn rate_limited(&self, retry_after_secs: u64) -> Response {
        Response::json(429, &serde_json::json!({ "error": "rate limited" }))
            .with_header("Retry-After", retry_after_secs.to_string())
    }

    /// The answer to [`Fault::Unauthorized`] (an expired or revoked token).
    fn unauthorized(&self) -> Response {
        Response::json(401, &serde_json::json!({ "error": "unauthorized" }))
    }
}

/// The HTML page an SSO proxy shows instead of the API's JSON.
pub const LOGIN_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\
<body><h1>Sign in to continue</h1><form method=\"post\" action=\"/login\">\
<input name=\"username\"><input name=\"password\" type=\"password\">\
<button>Sign in</button></form></body></html>\n";

/// One request as received, for assertions. Credentials are never kept: only the scheme of the
/// `Authorization` header.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub raw_query: String,
    pub query: Vec<(String, String)>,
    /// `Basic`, `Bearer`, ... or `None` when the request carried no `Authorization` header.
    pub auth_scheme: Option<String>,
    pub body: String,
    /// The fault applied to it, if any.
    pub fault: Option<Fault>,
    /// The status sent; `None` when the connection was dropped instead.
    pub status: Option<u16>,
}

impl LoggedRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every request a fake received, in order. Cloning shares the log.
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    entries: Arc<Mutex<Vec<LoggedRequest>>>,
}

impl RequestLog {
    pub fn all(&self) -> Vec<LoggedRequest> {
        lock(&self.entries).clone()
    }

    /// Requests with this method whose path matches the pattern (see `faults::path_matches`).
    pub fn matching(&self, method: &str, path_pattern: &str) -> Vec<LoggedRequest> {
        lock(&self.entries)
            .iter()
            .filter(|r| {
                (method == "*" || r.method.eq_ignore_ascii_case(method))
                    && crate::faults::path_matches(path_pattern, &r.path)
            })
            .cloned()
            .collect()
    }

    pub fn count(&self, method: &str, path_pattern: &str) -> usize {
        self.matching(method, path_pattern).len()
    }

    pub fn clear(&self) {
        lock(&self.entries).clear();
    }

    fn push(&self, r: LoggedRequest) {
        lock(&self.entries).push(r);
    }
}

/// A running server. Dropping it stops the listener and every open connection.
pub struct ServerHandle {
    addr: SocketAddr,
    faults: FaultPlan,
    log: RequestLog,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl ServerHandle {
    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn faults(&self) -> &FaultPlan {
        &self.faults
    }

    pub fn requests(&self) -> &RequestLog {
        &self.log
    }

    /// Closes every open connection (the listener keeps accepting): what a network blip does
    /// to pooled keep-alive connections.
    pub fn drop_connections(&self) {
        let mut tasks = lock(&self.tasks);
        // The first task is the accept loop: keep it.
        for t in tasks.iter().skip(1) {
            t.abort();
        }
        tasks.truncate(1);
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        for t in lock(&self.tasks).iter() {
            t.abort();
        }
    }
}

/// Starts serving `handler` on 127.0.0.1 with a random port.
pub async fn serve(handler: Arc<dyn Handler>) -> std::io::Result<ServerHandle> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let faults = FaultPlan::new();
    let log = RequestLog::default();
    let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
    let accept = {
        let (faults, log, tasks) = (faults.clone(), log.clone(), tasks.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                // An answer is written as head, then body: without this, Nagle holds the body
                // until the client's delayed ACK of the head (about 40 ms per request).
                let _ = stream.set_nodelay(true);
                let conn = tokio::spawn(connection(
                    stream,
                    handler.clone(),
                    faults.clone(),
                    log.clone(),
                ));
                let mut t = lock(&tasks);
                t.retain(|h| !h.is_finished());
                t.push(conn.abort_handle());
            }
        })
    };
    lock(&tasks).insert(0, accept.abort_handle());
    Ok(ServerHandle {
        addr,
        faults,
        log,
        tasks,
    })
}

/// Serves requests on one connection until the client closes it, asks to close it, or a fault
/// hangs up.
async fn connection(
    mut stream: TcpStream,
    handler: Arc<dyn Handler>,
    faults: FaultPlan,
    log: RequestLog,
) {
    let mut buf = Vec::with_capacity(8192);
    loop {
        let req = match read_request(&mut stream, &mut buf).await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(msg) => {
                let resp = Response::json(400, &serde_json::json!({ "error": msg }));
                let _ = write_response(&mut stream, &resp, false, true).await;
                return;
            }
        };
        let close = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let fault = faults.take(&req.method, &req.path);
        let mut entry = LoggedRequest {
            method: req.method.clone(),
            path: req.path.clone(),
            raw_query: req.raw_query.clone(),
            query: req.query.clone(),
            auth_scheme: req
                .header("authorization")
                .map(|v| v.split_whitespace().next().unwrap_or("").to_owned()),
            body: String::from_utf8_lossy(&req.body).into_owned(),
            fault: fault.clone(),
            status: None,
        };
        let outcome = match &fault {
            None => Outcome::Send(handler.handle(&req), false),
            Some(Fault::DropBeforeCommit) => Outcome::Hangup,
            Some(Fault::DropAfterCommit) => {
                let _ = handler.handle(&req);
                Outcome::Hangup
            }
            Some(Fault::Status(s)) => Outcome::Send(handler.error_status(*s), false),
            Some(Fault::RateLimited { retry_after_secs }) => {
                Outcome::Send(handler.rate_limited(*retry_after_secs), false)
            }
            Some(Fault::Slow(d)) => {
                let r = handler.handle(&req);
                tokio::time::sleep(*d).await;
                Outcome::Send(r, false)
            }
            Some(Fault::TruncatedJson) => {
                let mut r = handler.handle(&req);
                let keep = r.body.len() / 2;
                r.body.truncate(keep);
                Outcome::Send(r, false)
            }
            Some(Fault::MalformedJson) => {
                let mut r = handler.handle(&req);
                r.status = 200;
                r.headers
                    .retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
                r.headers
                    .push(("Content-Type".into(), "application/json".into()));
                r.body = b"{\"data\": [1, 2,, \"unterminated}".to_vec();
                Outcome::Send(r, false)
            }
            Some(Fault::CutMidBody) => Outcome::Send(handler.handle(&req), true),
            Some(Fault::HtmlLogin) => Outcome::Send(Response::html(200, LOGIN_PAGE), false),
            Some(Fault::Unauthorized) => Outcome::Send(handler.unauthorized(), false),
        };
        match outcome {
            Outcome::Hangup => {
                log.push(entry);
                return;
            }
            Outcome::Send(resp, cut) => {
                entry.status = (!cut).then_some(resp.status);
                log.push(entry);
                if write_response(&mut stream, &resp, cut, close)
                    .await
                    .is_err()
                    || cut
                    || close
                {
                    let _ = stream.shutdown().await;
                    return;
                }
            }
        }
    }
}

enum Outcome {
    Hangup,
    /// The response, and whether to cut it mid-body.
    Send(Response, bool),
}

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 32 * 1024 * 1024;

/// Reads one request; `Ok(None)` when the client closed the connection between requests.
async fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> Result<Option<Request>, String> {
    let head_len = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err("request head too large".into());
        }
        let mut chunk = [0u8; 8192];
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read failed: {e}"))?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(&buf[..head_len]) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err("incomplete request head".into()),
        Err(e) => return Err(format!("bad request head: {e}")),
    }
    let method = parsed.method.unwrap_or("GET").to_owned();
    let target = parsed.path.unwrap_or("/").to_owned();
    let hdrs: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    if hdrs
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"))
    {
        return Err("chunked request bodies are not supported by this fake".into());
    }
    let len: usize = match hdrs.iter().find(|(k, _)| k == "content-length") {
        Some((_, v)) => v
            .trim()
            .parse()
            .map_err(|_| format!("bad content-length {v:?}"))?,
        None => 0,
    };
    if len > MAX_BODY {
        return Err("request body too large".into());
    }
    buf.drain(..head_len);
    while buf.len() < len {
        let mut chunk = [0u8; 16384];
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read failed: {e}"))?;
        if n == 0 {
            return Err("connection closed mid-body".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body: Vec<u8> = buf.drain(..len).collect();
    let (path, raw_query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (target, String::new()),
    };
    let query = url::form_urlencoded::parse(raw_query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Ok(Some(Request {
        method,
        path,
        raw_query,
        query,
        headers: hdrs,
        body,
    }))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn write_response(
    stream: &mut TcpStream,
    resp: &Response,
    cut: bool,
    close: bool,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    if cut {
        stream.write_all(&resp.body[..resp.body.len() / 2]).await?;
    } else {
        stream.write_all(&resp.body).await?;
    }
    stream.flush().await
}

/// The reason phrase for a status.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        410 => "Gone",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    /// Counts the requests it handled (its "commits").
    struct Counter(AtomicU32);
    impl Handler for Counter {
        fn handle(&self, req: &Request) -> Response {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            Response::json(
                200,
                &serde_json::json!({ "n": n, "path": req.path, "q": req.param("q") }),
            )
        }
    }

    async fn start() -> (ServerHandle, Arc<Counter>) {
        let h = Arc::new(Counter(AtomicU32::new(0)));
        (serve(h.clone()).await.unwrap(), h)
    }

    #[tokio::test]
    async fn keep_alive_faults_and_log() {
        let (srv, h) = start().await;
        let c = reqwest::Client::new();
        let url = format!("{}/x?q=a%20b", srv.base_url());
        let v: Value = c.get(&url).send().await.unwrap().json().await.unwrap();
        assert_eq!(v["q"], "a b");
        assert_eq!(v["n"], 1);

        srv.faults().once("POST", "/x", Fault::DropBeforeCommit);
        assert!(c.post(&url).send().await.is_err());
        assert_eq!(h.0.load(Ordering::SeqCst), 1, "dropped before the commit");

        srv.faults().once("POST", "/x", Fault::DropAfterCommit);
        assert!(c.post(&url).send().await.is_err());
        assert_eq!(h.0.load(Ordering::SeqCst), 2, "committed, then dropped");

        srv.faults().once(
            "*",
            "/x",
            Fault::RateLimited {
                retry_after_secs: 7,
            },
        );
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "7");

        srv.faults().once("GET", "/x", Fault::TruncatedJson);
        let body = c.get(&url).send().await.unwrap().text().await.unwrap();
        assert!(serde_json::from_str::<Value>(&body).is_err(), "{body}");

        srv.faults().once("GET", "/x", Fault::CutMidBody);
        let r = c.get(&url).send().await.unwrap();
        assert!(
            r.text().await.is_err(),
            "body cut short is a transport error"
        );

        srv.faults().once("GET", "/x", Fault::HtmlLogin);
        let r = c.get(&url).send().await.unwrap();
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );

        let log = srv.requests().all();
        assert_eq!(log.len(), 7);
        assert_eq!(log[1].status, None);
        assert_eq!(log[1].fault, Some(Fault::DropBeforeCommit));
        assert_eq!(log[3].status, Some(429));
        assert_eq!(srv.requests().count("POST", "/x"), 2);
    }

    #[tokio::test]
    async fn slow_answer_times_out_after_commit() {
        let (srv, h) = start().await;
        let c = reqwest::Client::builder()
            .timeout(Duration::from_millis(100))
            .build()
            .unwrap();
        srv.faults()
            .once("*", "/**", Fault::Slow(Duration::from_millis(600)));
        let e = c
            .get(format!("{}/y", srv.base_url()))
            .send()
            .await
            .unwrap_err();
        assert!(e.is_timeout(), "{e}");
        assert_eq!(h.0.load(Ordering::SeqCst), 1);
    }
}
