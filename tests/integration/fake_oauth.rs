//! A fake upstream on 127.0.0.1: an OAuth 2.0 authorization server (Zendesk and ServiceNow
//! paths) that verifies what a public PKCE client must send — S256 challenge, the same redirect URI,
//! the verifier, no client secret — and rotates refresh tokens (a reused one revokes the whole
//! grant), plus the account endpoints that "test connection" reads (Zendesk, Jira, ServiceNow).
//!
//! One request per connection, `Connection: close`; enough HTTP/1.1 for reqwest and the loopback
//! redirect.

use base64::Engine;
use sha2::Digest;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const CLIENT_ID: &str = "casebook-test-client";
pub const JIRA_EMAIL: &str = "ana@example.test";
pub const JIRA_TOKEN: &str = "jira-api-token-S3CRET-7781";

/// How the authorization endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    Grant,
    Deny,
    /// Redirects back with a `state` that is not the one sent (a forged or crossed answer).
    WrongState,
}

#[derive(Debug)]
struct CodeGrant {
    challenge: String,
    redirect_uri: String,
    issued: Instant,
    used: bool,
}

#[derive(Debug, Default)]
pub struct State {
    pub consent: Option<Consent>,
    /// Codes older than this are refused (`invalid_grant`); `None`: they never expire.
    pub code_lifetime: Option<Duration>,
    pub expires_in: u64,
    pub zendesk_role: String,
    codes: HashMap<String, CodeGrant>,
    /// Live refresh tokens.
    refresh_live: HashSet<String>,
    /// Refresh tokens already exchanged (rotated away).
    refresh_used: HashSet<String>,
    access_live: HashSet<String>,
    pub token_requests: u32,
    pub refresh_requests: u32,
    pub refresh_reuse_detected: u32,
    /// Every token the server issued (for the leak scan).
    pub issued: Vec<String>,
    /// Problems the server found with a request: a test fails when this is not empty.
    pub violations: Vec<String>,
    counter: u64,
}

impl State {
    fn token(&mut self, kind: &str) -> String {
        self.counter += 1;
        let t = format!("{kind}-{}-{:08x}", self.counter, rand_u32(self.counter));
        self.issued.push(t.clone());
        t
    }

    fn issue_pair(&mut self) -> serde_json::Value {
        let access = self.token("AT");
        let refresh = self.token("RT");
        self.access_live.insert(access.clone());
        self.refresh_live.insert(refresh.clone());
        serde_json::json!({
            "access_token": access,
            "token_type": "bearer",
            "refresh_token": refresh,
            "expires_in": self.expires_in,
            "scope": "read write",
        })
    }

    /// The live refresh token (there is one after a sign-in).
    pub fn live_refresh_token(&self) -> Option<String> {
        self.refresh_live.iter().next().cloned()
    }
}

fn rand_u32(seed: u64) -> u32 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (std::process::id() as u64);
    x ^= x >> 29;
    (x & 0xffff_ffff) as u32
}

pub struct FakeServer {
    pub base_url: String,
    pub state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    pub async fn start() -> FakeServer {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            consent: Some(Consent::Grant),
            expires_in: 1800,
            zendesk_role: "admin".into(),
            ..State::default()
        }));
        let s = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let s = Arc::clone(&s);
                tokio::spawn(async move {
                    let _ = serve(stream, s).await;
                });
            }
        });
        FakeServer {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
            task,
        }
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Exchanges a refresh token as another client holding it would (to make ours stale).
    pub async fn refresh_out_of_band(&self, refresh_token: &str) -> u16 {
        reqwest::Client::new()
            .post(format!("{}/oauth/tokens", self.base_url))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", CLIENT_ID),
            ])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

struct Request {
    method: String,
    path: String,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
    form: HashMap<String, String>,
}

async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let mut headers = HashMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = &buf[head_end..(head_end + len).min(buf.len())];
    let url = url::Url::parse(&format!("http://x{target}")).ok()?;
    Some(Request {
        method,
        path: url.path().to_owned(),
        query: url.query_pairs().into_owned().collect(),
        headers,
        form: url::form_urlencoded::parse(body).into_owned().collect(),
    })
}

async fn respond(stream: &mut TcpStream, status: u16, headers: &[(&str, String)], body: &str) {
    let mut r = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r.push_str(body);
    let _ = stream.write_all(r.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn json(v: serde_json::Value) -> (u16, Vec<(&'static str, String)>, String) {
    (
        200,
        vec![("Content-Type", "application/json".into())],
        v.to_string(),
    )
}

fn oauth_error(code: &str, desc: &str) -> (u16, Vec<(&'static str, String)>, String) {
    (
        400,
        vec![("Content-Type", "application/json".into())],
        serde_json::json!({"error": code, "error_description": desc}).to_string(),
    )
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) -> Option<()> {
    let req = read_request(&mut stream).await?;
    let (status, headers, body) = {
        let mut s = state.lock().unwrap();
        route(&req, &mut s)
    };
    respond(&mut stream, status, &headers, &body).await;
    Some(())
}

fn route(req: &Request, s: &mut State) -> (u16, Vec<(&'static str, String)>, String) {
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/oauth/authorizations/new") | ("GET", "/oauth_auth.do") => authorize(req, s),
        ("POST", "/oauth/tokens") | ("POST", "/oauth_token.do") => token(req, s),
        ("GET", "/api/v2/users/me.json") => match bearer(req, s) {
            true => json(serde_json::json!({"user": {
                "id": 7, "name": "Ana Agent", "email": "ana@example.test", "role": s.zendesk_role
            }})),
            false => (
                401,
                vec![],
                "{\"error\":\"Couldn't authenticate you\"}".into(),
            ),
        },
        ("GET", "/rest/api/3/myself") => match basic_ok(req) {
            true => json(serde_json::json!({
                "accountId": "5b10", "displayName": "Ana Agent", "emailAddress": JIRA_EMAIL
            })),
            false => (401, vec![], String::new()),
        },
        ("GET", "/rest/api/3/mypermissions") => match basic_ok(req) {
            true => json(serde_json::json!({"permissions": {
                "BROWSE_PROJECTS": {"havePermission": true},
                "EDIT_ISSUES": {"havePermission": true},
                "ADD_COMMENTS": {"havePermission": true},
                "ADMINISTER": {"havePermission": false},
            }})),
            false => (401, vec![], String::new()),
        },
        ("GET", "/api/now/table/sys_user") => match bearer(req, s) {
            // `sys_id=javascript:gs.getUserID()`: the signed-in user.
            true if req
                .query
                .get("sysparm_query")
                .is_some_and(|q| q.contains("gs.getUserID()")) =>
            {
                json(
                    serde_json::json!({"result": [{"user_name": "ana.agent", "name": "Ana Agent"}]}),
                )
            }
            true => (400, vec![], String::new()),
            false => (401, vec![], String::new()),
        },
        ("GET", "/api/now/table/incident") => match bearer(req, s) {
            true => json(serde_json::json!({"result": [{"sys_id": "1"}]})),
            false => (401, vec![], String::new()),
        },
        ("GET", "/api/now/table/sc_req_item") => match bearer(req, s) {
            true => (
                403,
                vec![],
                "{\"error\":{\"message\":\"User Not Authorized\"}}".into(),
            ),
            false => (401, vec![], String::new()),
        },
        ("GET", "/") => (200, vec![], "fake upstream".into()),
        _ => (404, vec![], String::new()),
    }
}

fn bearer(req: &Request, s: &State) -> bool {
    req.headers
        .get("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| s.access_live.contains(t))
}

fn basic_ok(req: &Request) -> bool {
    let want =
        base64::engine::general_purpose::STANDARD.encode(format!("{JIRA_EMAIL}:{JIRA_TOKEN}"));
    req.headers.get("authorization").map(String::as_str) == Some(&format!("Basic {want}"))
}

fn authorize(req: &Request, s: &mut State) -> (u16, Vec<(&'static str, String)>, String) {
    let q = &req.query;
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let mut bad = Vec::new();
    if get("response_type") != "code" {
        bad.push("response_type must be code");
    }
    if get("client_id") != CLIENT_ID {
        bad.push("unknown client_id");
    }
    if get("code_challenge_method") != "S256" {
        bad.push("code_challenge_method must be S256");
    }
    let challenge = get("code_challenge");
    if challenge.len() < 43 {
        bad.push("code_challenge missing or too short");
    }
    let redirect = get("redirect_uri");
    let loopback = url::Url::parse(&redirect).ok().is_some_and(|u| {
        u.scheme() == "http"
            && u.host_str() == Some("127.0.0.1")
            && u.port().is_some()
            && u.path() == "/callback"
    });
    if !loopback {
        bad.push("redirect_uri must be http://127.0.0.1:<port>/callback");
    }
    let state = get("state");
    if state.len() < 16 {
        bad.push("state missing or too short");
    }
    if !bad.is_empty() {
        s.violations
            .extend(bad.iter().map(|b| format!("authorize: {b}")));
        return (400, vec![], bad.join("; "));
    }
    let back = |pairs: &[(&str, &str)]| {
        let mut u = url::Url::parse(&redirect).unwrap();
        u.query_pairs_mut().extend_pairs(pairs);
        (302, vec![("Location", u.to_string())], String::new())
    };
    match s.consent.unwrap_or(Consent::Grant) {
        Consent::Deny => back(&[("error", "access_denied"), ("state", &state)]),
        Consent::WrongState => {
            let code = s.token("CODE");
            s.codes.insert(
                code.clone(),
                CodeGrant {
                    challenge,
                    redirect_uri: redirect.clone(),
                    issued: Instant::now(),
                    used: false,
                },
            );
            back(&[("code", &code), ("state", "forged-state-from-elsewhere")])
        }
        Consent::Grant => {
            let code = s.token("CODE");
            s.codes.insert(
                code.clone(),
                CodeGrant {
                    challenge,
                    redirect_uri: redirect.clone(),
                    issued: Instant::now(),
                    used: false,
                },
            );
            back(&[("code", &code), ("state", &state)])
        }
    }
}

fn token(req: &Request, s: &mut State) -> (u16, Vec<(&'static str, String)>, String) {
    let f = &req.form;
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    if f.contains_key("client_secret") || req.headers.contains_key("authorization") {
        s.violations
            .push("token: a public client must not send a client secret".into());
        return oauth_error("invalid_client", "public clients have no secret");
    }
    if get("client_id") != CLIENT_ID {
        s.violations.push("token: wrong client_id".into());
        return oauth_error("invalid_client", "unknown client");
    }
    match get("grant_type").as_str() {
        "authorization_code" => {
            s.token_requests += 1;
            let code = get("code");
            let lifetime = s.code_lifetime;
            let Some(g) = s.codes.get_mut(&code) else {
                return oauth_error("invalid_grant", "unknown code");
            };
            if g.used {
                return oauth_error("invalid_grant", "code already used");
            }
            g.used = true;
            if lifetime.is_some_and(|l| g.issued.elapsed() > l) {
                return oauth_error("invalid_grant", "the authorization code has expired");
            }
            if get("redirect_uri") != g.redirect_uri {
                s.violations
                    .push("token: redirect_uri differs from the authorization request".into());
                return oauth_error("invalid_grant", "redirect_uri mismatch");
            }
            let verifier = get("code_verifier");
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(verifier.as_bytes()));
            if verifier.len() < 43 || computed != g.challenge {
                s.violations
                    .push("token: code_verifier does not match the S256 challenge".into());
                return oauth_error("invalid_grant", "PKCE verification failed");
            }
            let pair = s.issue_pair();
            json(pair)
        }
        "refresh_token" => {
            s.refresh_requests += 1;
            let rt = get("refresh_token");
            if s.refresh_used.contains(&rt) {
                // Reuse of a rotated token: treat as theft, revoke everything of the grant.
                s.refresh_reuse_detected += 1;
                s.refresh_live.clear();
                s.access_live.clear();
                return oauth_error("invalid_grant", "refresh token reused; grant revoked");
            }
            if !s.refresh_live.remove(&rt) {
                return oauth_error("invalid_grant", "unknown or revoked refresh token");
            }
            s.refresh_used.insert(rt);
            let pair = s.issue_pair();
            json(pair)
        }
        other => oauth_error("unsupported_grant_type", other),
    }
}
