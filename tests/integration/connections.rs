//! Connections and credentials end to end through the façade, against the fake authorization
//! server in `fake_oauth.rs`: PKCE sign-in, wrong state, denied consent, expired code, token
//! refresh with rotation (serialized, never reused), revoked refresh → "sign in again", a browser
//! that never comes back, and a full flow whose files, logs and responses are scanned for secrets.

use crate::T0;
use crate::fake_oauth::{CLIENT_ID, Consent, FakeServer, JIRA_EMAIL, JIRA_TOKEN};
use casebook_api::connections::NewConnectionInput;
use casebook_api::workspace_key::KeySource;
use casebook_api::{Casebook, ErrorCode, OpenOptions};
use casebook_core::FixedClock;
use casebook_core::connection::{AuthMethod, ConnectionStatus, Vendor};
use casebook_core::secrets::{MemorySecretStore, SecretStore};
use casebook_core::store::{DatabaseKey, Origin};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Everything the app logs during this test binary (captured for the leak scan).
fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b = Arc::clone(&buf);
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || LogWriter(Arc::clone(&b)))
            .try_init();
        buf
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Env {
    _dir: tempfile::TempDir,
    home: std::path::PathBuf,
    secrets: Arc<MemorySecretStore>,
    clock: Arc<FixedClock>,
    cb: Casebook,
}

fn options(home: &Path, secrets: &Arc<MemorySecretStore>, clock: &Arc<FixedClock>) -> OpenOptions {
    let mut o = OpenOptions::new(home, Origin::App);
    o.secrets = Arc::clone(secrets) as Arc<dyn SecretStore>;
    o.database_key = KeySource::SecretStore;
    o.clock = Arc::clone(clock) as Arc<dyn casebook_core::Clock>;
    o.sign_in_timeout = Duration::from_secs(10);
    o
}

async fn env() -> Env {
    log_buffer();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("ws");
    let secrets = Arc::new(MemorySecretStore::new());
    let clock = Arc::new(FixedClock::new(T0));
    let cb = Casebook::open(options(&home, &secrets, &clock))
        .await
        .unwrap();
    Env {
        _dir: dir,
        home,
        secrets,
        clock,
        cb,
    }
}

fn zendesk(server: &FakeServer, name: &str) -> NewConnectionInput {
    NewConnectionInput {
        vendor: Vendor::Zendesk,
        name: name.into(),
        instance: server.base_url.clone(),
        auth_method: AuthMethod::OAuth,
        username: None,
        oauth_client_id: Some(CLIENT_ID.into()),
        mirror_scope: None,
    }
}

/// Plays the system browser: opens the authorization URL and follows the redirect back to the
/// loopback listener.
async fn browser(url: String) -> reqwest::Result<u16> {
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()?;
    Ok(c.get(url).send().await?.status().as_u16())
}

async fn sign_in(
    e: &Env,
    id: i64,
) -> casebook_api::Result<casebook_api::connections::ConnectionTestReport> {
    let start = e.cb.begin_sign_in(id).await?;
    let url = url::Url::parse(&start.url).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(
        q["redirect_uri"].starts_with("http://127.0.0.1:"),
        "{}",
        q["redirect_uri"]
    );
    assert!(q["state"].len() >= 16);
    let b = tokio::spawn(browser(start.url.clone()));
    let out = e.cb.finish_sign_in(start.attempt_id).await;
    let _ = b.await;
    out
}

#[tokio::test]
async fn oauth_sign_in_with_pkce_then_refresh_rotates_once_per_expiry() {
    let server = FakeServer::start().await;
    let e = env().await;
    let c =
        e.cb.add_connection(zendesk(&server, "Zendesk EU"))
            .await
            .unwrap();
    assert_eq!(c.status, ConnectionStatus::NeedsSignIn);
    assert_eq!(c.base_url, server.base_url);

    let r = sign_in(&e, c.id).await.unwrap();
    assert_eq!(r.connection.status, ConnectionStatus::SignedIn, "{r:?}");
    assert_eq!(
        r.connection.account_name.as_deref(),
        Some("Ana Agent <ana@example.test>")
    );
    assert!(
        r.connection
            .capabilities
            .iter()
            .any(|c| c.contains("administrator")),
        "{r:?}"
    );
    assert!(r.checks.iter().all(|c| c.ok), "{r:?}");
    server.with(|s| {
        assert!(s.violations.is_empty(), "{:?}", s.violations);
        assert_eq!(s.token_requests, 1);
    });
    let first_rt = server.with(|s| s.live_refresh_token()).unwrap();

    // Still fresh: no refresh.
    e.cb.connection_credentials(c.id).await.unwrap();
    assert_eq!(server.with(|s| s.refresh_requests), 0);

    // Close to expiry (1800 s, refreshed 2 min before): one refresh, and the new refresh token
    // replaces the old one in the keyring.
    e.clock.advance(1_700_000);
    e.cb.connection_credentials(c.id).await.unwrap();
    assert_eq!(server.with(|s| s.refresh_requests), 1);
    let second_rt = server.with(|s| s.live_refresh_token()).unwrap();
    assert_ne!(first_rt, second_rt);
    let stored: Vec<String> = e
        .secrets
        .values()
        .iter()
        .map(|v| v.expose().to_owned())
        .collect();
    assert!(stored.iter().any(|v| v.contains(&second_rt)));
    assert!(!stored.iter().any(|v| v.contains(&first_rt)));

    // Five callers at once after the next expiry: exactly one refresh, no reuse.
    e.clock.advance(1_800_000);
    let (cb, id) = (e.cb.clone(), c.id);
    let calls = (0..5).map(move |_| {
        let cb = cb.clone();
        async move { cb.connection_credentials(id).await.map(|_| ()) }
    });
    let results = futures_join_all(calls).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    server.with(|s| {
        assert_eq!(s.refresh_requests, 2);
        assert_eq!(s.refresh_reuse_detected, 0);
        assert!(s.violations.is_empty(), "{:?}", s.violations);
    });

    // An agent (not admin) is told the incremental export is not available.
    server.with(|s| s.zendesk_role = "agent".into());
    let r = e.cb.test_connection(c.id).await.unwrap();
    assert!(
        r.connection
            .capabilities
            .iter()
            .any(|c| c.contains("search export")),
        "{r:?}"
    );
}

#[tokio::test]
async fn servicenow_oauth_sign_in_reports_the_account_and_table_access() {
    let server = FakeServer::start().await;
    let e = env().await;
    let c =
        e.cb.add_connection(NewConnectionInput {
            vendor: Vendor::ServiceNow,
            name: "SN".into(),
            instance: server.base_url.clone(),
            auth_method: AuthMethod::OAuth,
            username: None,
            oauth_client_id: Some(CLIENT_ID.into()),
            mirror_scope: None,
        })
        .await
        .unwrap();
    let start = e.cb.begin_sign_in(c.id).await.unwrap();
    assert!(
        start
            .url
            .starts_with(&format!("{}/oauth_auth.do?", server.base_url)),
        "{}",
        start.url
    );
    let b = tokio::spawn(browser(start.url));
    let r = e.cb.finish_sign_in(start.attempt_id).await.unwrap();
    b.await.unwrap().unwrap();
    server.with(|s| assert!(s.violations.is_empty(), "{:?}", s.violations));
    assert_eq!(r.connection.status, ConnectionStatus::SignedIn, "{r:?}");
    assert_eq!(
        r.connection.account_name.as_deref(),
        Some("Ana Agent <ana.agent>")
    );
    assert_eq!(
        r.connection.capabilities,
        vec![
            "can read incident".to_owned(),
            "may not read sc_req_item (ask for the itil role or table access)".to_owned()
        ]
    );
}

/// Awaits futures concurrently (no extra dependency): each runs as its own task.
async fn futures_join_all<F, T>(futs: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_wrong_state_is_refused_and_nothing_is_stored() {
    let server = FakeServer::start().await;
    server.with(|s| s.consent = Some(Consent::WrongState));
    let e = env().await;
    let c = e.cb.add_connection(zendesk(&server, "Z")).await.unwrap();
    let before = e.secrets.len();
    let err = sign_in(&e, c.id).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::SignInFailed);
    assert!(err.message.contains("state mismatch"), "{}", err.message);
    assert_eq!(
        server.with(|s| s.token_requests),
        0,
        "the code was never exchanged"
    );
    assert_eq!(e.secrets.len(), before);
    let c = e.cb.get_connection("Z".into()).await.unwrap();
    assert_eq!(c.status, ConnectionStatus::NeedsSignIn);
}

#[tokio::test]
async fn denied_consent_is_reported() {
    let server = FakeServer::start().await;
    server.with(|s| s.consent = Some(Consent::Deny));
    let e = env().await;
    let c = e.cb.add_connection(zendesk(&server, "Z")).await.unwrap();
    let err = sign_in(&e, c.id).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::SignInFailed);
    assert!(err.message.contains("declined"), "{}", err.message);
    assert_eq!(server.with(|s| s.token_requests), 0);
}

#[tokio::test]
async fn an_expired_code_is_refused_with_sign_in_again() {
    let server = FakeServer::start().await;
    server.with(|s| s.code_lifetime = Some(Duration::ZERO));
    let e = env().await;
    let c = e.cb.add_connection(zendesk(&server, "Z")).await.unwrap();
    let before = e.secrets.len();
    let err = sign_in(&e, c.id).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::SignInFailed);
    assert!(err.message.contains("expired"), "{}", err.message);
    assert_eq!(e.secrets.len(), before, "no token stored");
}

#[tokio::test]
async fn a_reused_refresh_token_ends_in_sign_in_again_not_a_loop() {
    let server = FakeServer::start().await;
    let e = env().await;
    let c = e.cb.add_connection(zendesk(&server, "Z")).await.unwrap();
    sign_in(&e, c.id).await.unwrap();
    // Someone else spends our refresh token: ours is now a reused one.
    let ours = server.with(|s| s.live_refresh_token()).unwrap();
    assert_eq!(server.refresh_out_of_band(&ours).await, 200);
    e.clock.advance(1_790_000);
    let err = e.cb.connection_credentials(c.id).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::SignInFailed);
    assert!(err.message.contains("sign in again"), "{}", err.message);
    assert_eq!(server.with(|s| s.refresh_reuse_detected), 1);
    let view = e.cb.get_connection("Z".into()).await.unwrap();
    assert_eq!(view.status, ConnectionStatus::NeedsSignIn);
    // The dead tokens are gone: later calls do not hit the server again.
    let calls = server.with(|s| s.refresh_requests);
    for _ in 0..3 {
        let err = e.cb.connection_credentials(c.id).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::SignInFailed);
    }
    assert_eq!(server.with(|s| s.refresh_requests), calls);
    let r = e.cb.test_connection(c.id).await.unwrap();
    assert_eq!(r.connection.status, ConnectionStatus::NeedsSignIn);
}

#[tokio::test]
async fn a_browser_that_never_returns_times_out_and_closes_the_listener() {
    let server = FakeServer::start().await;
    log_buffer();
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemorySecretStore::new());
    let clock = Arc::new(FixedClock::new(T0));
    let mut o = options(&dir.path().join("ws"), &secrets, &clock);
    o.sign_in_timeout = Duration::from_millis(300);
    let cb = Casebook::open(o).await.unwrap();
    let c = cb.add_connection(zendesk(&server, "Z")).await.unwrap();
    let start = cb.begin_sign_in(c.id).await.unwrap();
    let redirect = url::Url::parse(&start.url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .unwrap()
        .1
        .into_owned();
    let port = url::Url::parse(&redirect).unwrap().port().unwrap();
    let err = cb
        .finish_sign_in(start.attempt_id.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::SignInFailed);
    assert!(err.message.contains("did not come back"), "{}", err.message);
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
    );
    // The attempt is gone: finishing it again says so.
    let again = cb.finish_sign_in(start.attempt_id).await.unwrap_err();
    assert_eq!(again.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn bad_addresses_and_methods_are_refused_with_a_reason() {
    let e = env().await;
    let mut bad = NewConnectionInput {
        vendor: Vendor::ServiceNow,
        name: "SN".into(),
        instance: "http://dev1.service-now.com".into(),
        auth_method: AuthMethod::Basic,
        username: Some("ana".into()),
        oauth_client_id: None,
        mirror_scope: None,
    };
    let err = e.cb.add_connection(bad.clone()).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(err.message.contains("http://"), "{}", err.message);
    bad.instance = "https://dev1.service-now.com/?sysparm=1".into();
    assert!(
        e.cb.add_connection(bad.clone())
            .await
            .unwrap_err()
            .message
            .contains("query")
    );
    bad.instance = "dev1".into();
    let ok = e.cb.add_connection(bad.clone()).await.unwrap();
    assert_eq!(ok.base_url, "https://dev1.service-now.com");
    assert_eq!(ok.mirror_scope, vec!["incident", "sc_req_item"]);
    // Several connections of one vendor, but names are unique.
    bad.instance = "dev2".into();
    assert_eq!(
        e.cb.add_connection(bad.clone()).await.unwrap_err().code,
        ErrorCode::InvalidInput
    );
    bad.name = "SN 2".into();
    e.cb.add_connection(bad).await.unwrap();
    assert_eq!(e.cb.list_connections().await.unwrap().len(), 2);
    // A password for an OAuth connection is refused (and the reverse).
    let server = FakeServer::start().await;
    let z = e.cb.add_connection(zendesk(&server, "Z")).await.unwrap();
    let err =
        e.cb.set_connection_secret(z.id, "pw".into())
            .await
            .unwrap_err();
    assert!(err.message.contains("browser"), "{}", err.message);
    let err = e.cb.begin_sign_in(ok.id).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
}

#[tokio::test]
async fn an_unreachable_instance_is_reported_in_plain_words() {
    let e = env().await;
    // A port nobody listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let c =
        e.cb.add_connection(NewConnectionInput {
            vendor: Vendor::Jira,
            name: "Jira".into(),
            instance: format!("http://127.0.0.1:{port}"),
            auth_method: AuthMethod::Basic,
            username: Some(JIRA_EMAIL.into()),
            oauth_client_id: None,
            mirror_scope: None,
        })
        .await
        .unwrap();
    let r =
        e.cb.set_connection_secret(c.id, JIRA_TOKEN.into())
            .await
            .unwrap();
    assert_eq!(r.connection.status, ConnectionStatus::Unreachable);
    assert!(r.summary.contains("cannot reach"), "{}", r.summary);
}

/// Collects every file under `dir` (recursively).
fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[tokio::test]
async fn full_flow_leaves_no_secret_in_files_logs_or_responses() {
    let server = FakeServer::start().await;
    let e = env().await;
    let mut responses: Vec<String> = Vec::new();
    let mut keep = |v: &dyn erased::Json| responses.push(v.json());

    // Add two connections, sign in to both (OAuth and an API token), use them, test them.
    let z =
        e.cb.add_connection(zendesk(&server, "Zendesk"))
            .await
            .unwrap();
    keep(&z);
    let j =
        e.cb.add_connection(NewConnectionInput {
            vendor: Vendor::Jira,
            name: "Jira".into(),
            instance: server.base_url.clone(),
            auth_method: AuthMethod::Basic,
            username: Some(JIRA_EMAIL.into()),
            oauth_client_id: None,
            mirror_scope: Some(vec!["ITSM".into()]),
        })
        .await
        .unwrap();
    keep(&j);
    let start = e.cb.begin_sign_in(z.id).await.unwrap();
    keep(&start);
    let b = tokio::spawn(browser(start.url.clone()));
    let r = e.cb.finish_sign_in(start.attempt_id).await.unwrap();
    b.await.unwrap().unwrap();
    keep(&r);
    let r =
        e.cb.set_connection_secret(j.id, JIRA_TOKEN.into())
            .await
            .unwrap();
    assert_eq!(r.connection.status, ConnectionStatus::SignedIn, "{r:?}");
    assert!(
        r.connection
            .capabilities
            .iter()
            .any(|c| c == "can edit issues"),
        "{r:?}"
    );
    keep(&r);
    e.clock.advance(1_790_000); // forces a refresh
    e.cb.connection_credentials(z.id).await.unwrap();
    keep(&e.cb.test_connection(z.id).await.unwrap());
    keep(&e.cb.list_connections().await.unwrap());
    let bad =
        e.cb.set_connection_secret(z.id, JIRA_TOKEN.into())
            .await
            .unwrap_err();
    keep(&bad);
    // An edit, so the outbox has something; and the export of it.
    let t =
        e.cb.create_ticket(casebook_api::dto::NewTicketInput {
            title: "VPN drops".into(),
            description: "every 10 minutes".into(),
            priority: None,
            state: None,
            assignee: None,
            assignment_group: None,
            requester: None,
            tags: vec![],
        })
        .await
        .unwrap();
    keep(&t);

    // Restart: a new façade over the same data dir and keyring.
    let home = e.home.clone();
    let cb2 = Casebook::open(options(&home, &e.secrets, &e.clock))
        .await
        .unwrap();
    drop(e.cb);
    let list = cb2.list_connections().await.unwrap();
    assert_eq!(list.len(), 2);
    assert!(
        list.iter().all(|c| c.status == ConnectionStatus::SignedIn),
        "{list:?}"
    );
    keep(&list);
    keep(&cb2.test_connection(j.id).await.unwrap());
    keep(&cb2.workspace_info().await.unwrap());
    let export = home.parent().unwrap().join("outbox.json");
    keep(&cb2.export_outbox(export.clone()).await.unwrap());
    let exported = std::fs::read_to_string(&export).unwrap();
    assert!(exported.contains("VPN drops"));

    // The secrets: every token the server issued, the API token, and what the keyring holds
    // (the database key among them).
    let mut secrets: Vec<String> = server.with(|s| s.issued.clone());
    secrets.retain(|t| !t.starts_with("CODE")); // codes are single-use and travel in URLs
    secrets.push(JIRA_TOKEN.into());
    secrets.extend(e.secrets.values().iter().map(|v| v.expose().to_owned()));
    assert!(secrets.len() >= 6, "{}", secrets.len());
    let leaks = |hay: &str, what: &str| {
        for s in &secrets {
            assert!(!hay.contains(s.as_str()), "a secret appears in {what}");
        }
    };

    // 1. Every response.
    for r in &responses {
        leaks(r, "a façade response");
    }
    // 2. Every file in the data dir (and the export), as bytes.
    let mut all = Vec::new();
    files(&home, &mut all);
    all.push(export);
    assert!(all.iter().any(|p| p.ends_with("casebook.db")));
    for p in &all {
        let bytes = std::fs::read(p).unwrap();
        leaks(&String::from_utf8_lossy(&bytes), &p.display().to_string());
    }
    // 3. The database's content, decrypted (encryption alone must not be what hides them).
    drop(cb2);
    let id = std::fs::read_to_string(home.join("workspace-id")).unwrap();
    let key = DatabaseKey::from_secret(
        e.secrets
            .get(&format!("database-key/{}", id.trim()))
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let store = casebook_core::Store::open_encrypted(
        &home.join("casebook.db"),
        casebook_core::OpenMode::MustExist,
        &key,
    )
    .unwrap();
    let dump = store
        .read(|c| {
            let tables: Vec<String> = c
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut text = String::new();
            for t in tables {
                let mut stmt = c.prepare(&format!("SELECT * FROM \"{t}\""))?;
                let n = stmt.column_count();
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    for i in 0..n {
                        if let Ok(v) = row.get::<_, rusqlite::types::Value>(i) {
                            text.push_str(&format!("{v:?}\n"));
                        }
                    }
                }
            }
            Ok(text)
        })
        .unwrap();
    assert!(
        dump.contains("Zendesk") && dump.contains(JIRA_EMAIL),
        "the dump read the tables"
    );
    leaks(&dump, "the decrypted database");
    // 4. The logs of the whole run.
    let log = String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned();
    assert!(log.contains("access token refreshed"), "logs were captured");
    leaks(&log, "the logs");
}

#[tokio::test]
async fn the_database_key_lives_in_the_keyring_and_a_missing_or_wrong_key_is_clear() {
    let e = env().await;
    e.cb.update_settings(casebook_api::dto::SettingsInput {
        agent_name: Some("Ana".into()),
        onboarded: None,
    })
    .await
    .unwrap();
    let home = e.home.clone();
    drop(e.cb);
    let db = std::fs::read(home.join("casebook.db")).unwrap();
    assert!(!db.starts_with(b"SQLite format 3"), "the file is encrypted");
    // Reopens with the key from the keyring.
    let cb = Casebook::open(options(&home, &e.secrets, &e.clock))
        .await
        .unwrap();
    assert_eq!(cb.workspace_info().await.unwrap().agent_name, "Ana");
    drop(cb);
    let db = std::fs::read(home.join("casebook.db")).unwrap();
    // A reset keyring: the key is gone.
    let empty = Arc::new(MemorySecretStore::new());
    let err = Casebook::open(options(&home, &empty, &e.clock))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::WorkspaceKeyMissing);
    assert!(
        err.message.contains("not in the OS keyring"),
        "{}",
        err.message
    );
    // Another key: refused, file unchanged.
    let mut o = options(&home, &e.secrets, &e.clock);
    o.database_key = KeySource::Provided(DatabaseKey::generate().unwrap());
    let err = Casebook::open(o).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::WorkspaceUnreadable);
    assert!(
        err.message.contains("cannot be decrypted"),
        "{}",
        err.message
    );
    assert!(
        std::fs::read(home.join("casebook.db")).unwrap() == db,
        "the file was changed"
    );
}

#[tokio::test]
async fn a_workspace_from_before_encryption_is_encrypted_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("ws");
    let clock = Arc::new(FixedClock::new(T0));
    // Written by a build without encryption.
    let mut plain = OpenOptions::for_tests(&home, Origin::Cli);
    plain.clock = Arc::clone(&clock) as Arc<dyn casebook_core::Clock>;
    let cb = Casebook::open(plain).await.unwrap();
    cb.create_ticket(casebook_api::dto::NewTicketInput {
        title: "Printer offline on floor 3".into(),
        description: String::new(),
        priority: None,
        state: None,
        assignee: None,
        assignment_group: None,
        requester: None,
        tags: vec![],
    })
    .await
    .unwrap();
    drop(cb);
    assert!(
        std::fs::read(home.join("casebook.db"))
            .unwrap()
            .starts_with(b"SQLite format 3")
    );
    // This build: encrypted with a new key from the keyring, nothing lost.
    let secrets = Arc::new(MemorySecretStore::new());
    let cb = Casebook::open(options(&home, &secrets, &clock))
        .await
        .unwrap();
    let t = cb.find_ticket("CB-1".into()).await.unwrap();
    assert_eq!(t.title, "Printer offline on floor 3");
    assert_eq!(cb.workspace_info().await.unwrap().pending_ops, 1);
    drop(cb);
    assert!(
        !std::fs::read(home.join("casebook.db"))
            .unwrap()
            .starts_with(b"SQLite format 3")
    );
    assert_eq!(secrets.len(), 1, "the new key is in the keyring");
    // And it opens again with that key.
    let cb = Casebook::open(options(&home, &secrets, &clock))
        .await
        .unwrap();
    assert_eq!(cb.workspace_info().await.unwrap().ticket_count, 1);
}

/// Serializes any façade output for the leak scan.
mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }
}

/// A Jira connection (basic auth) at a port nobody listens on: storing its token needs no server.
async fn jira_at_closed_port(
    cb: &Casebook,
    name: &str,
) -> casebook_api::connections::ConnectionView {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    cb.add_connection(NewConnectionInput {
        vendor: Vendor::Jira,
        name: name.into(),
        instance: format!("http://127.0.0.1:{port}"),
        auth_method: AuthMethod::Basic,
        username: Some(JIRA_EMAIL.into()),
        oauth_client_id: None,
        mirror_scope: None,
    })
    .await
    .unwrap()
}

async fn password_of(cb: &Casebook, id: i64) -> String {
    match cb.connection_credentials(id).await.unwrap() {
        casebook_sync::auth::Credentials::Basic { password, .. } => password.expose().to_owned(),
        other => panic!("{other:?}"),
    }
}

/// Two workspaces on one machine (one keyring) both have a connection 1: each reads only its own
/// secret, and removing one's connection leaves the other's secret.
#[tokio::test]
async fn two_workspaces_in_one_keyring_keep_their_connection_secrets_apart() {
    let a = env().await;
    let home_b = a._dir.path().join("ws-b");
    let b = Casebook::open(options(&home_b, &a.secrets, &a.clock))
        .await
        .unwrap();
    let ca = jira_at_closed_port(&a.cb, "Jira A").await;
    let cb_ = jira_at_closed_port(&b, "Jira B").await;
    assert_eq!((ca.id, cb_.id), (1, 1), "both workspaces start at 1");
    a.cb.set_connection_secret(ca.id, "token-of-a".into())
        .await
        .unwrap();
    // B has nothing yet: it must not see A's token.
    let err = b.connection_credentials(cb_.id).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::SignInFailed, "{err:?}");
    assert!(!err.message.contains("token-of-a"), "{}", err.message);
    b.set_connection_secret(cb_.id, "token-of-b".into())
        .await
        .unwrap();
    assert_eq!(password_of(&a.cb, ca.id).await, "token-of-a");
    assert_eq!(password_of(&b, cb_.id).await, "token-of-b");
    let ws_a = casebook_api::workspace_key::read_workspace_id(&a.home)
        .unwrap()
        .unwrap();
    let ws_b = casebook_api::workspace_key::read_workspace_id(&home_b)
        .unwrap()
        .unwrap();
    assert_ne!(ws_a, ws_b);
    let name_a = format!("workspace/{ws_a}/connection/1/password");
    let name_b = format!("workspace/{ws_b}/connection/1/password");
    assert!(a.secrets.get(&name_a).unwrap().is_some());
    assert!(a.secrets.get(&name_b).unwrap().is_some());

    // Removing A's connection deletes A's entry only.
    a.cb.remove_connection(ca.id).await.unwrap();
    assert_eq!(a.secrets.get(&name_a).unwrap(), None);
    assert_eq!(password_of(&b, cb_.id).await, "token-of-b");
    // Signing out of B deletes B's entry only: A's database key is still there.
    b.delete_connection_secret(cb_.id).await.unwrap();
    assert_eq!(a.secrets.get(&name_b).unwrap(), None);
    assert!(
        a.secrets
            .get(&format!("database-key/{ws_a}"))
            .unwrap()
            .is_some()
    );
}

/// A secret stored under the pre-namespacing name (`connection/1/password`, written by an older
/// Casebook for whichever workspace signed in last) is not attributable to a workspace: it is not
/// used, not moved and not deleted; the connection says to sign in again, by name.
#[tokio::test]
async fn a_legacy_shared_entry_is_not_used_and_the_connection_asks_for_a_new_sign_in() {
    let e = env().await;
    let c = jira_at_closed_port(&e.cb, "Old Jira").await;
    e.secrets
        .set(
            "connection/1/password",
            &casebook_core::secrets::SecretValue::new("legacy-token-77"),
        )
        .unwrap();
    let err = e.cb.connection_credentials(c.id).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::SignInFailed, "{err:?}");
    assert!(
        err.message.contains("Old Jira") && err.message.contains("signed in again"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("legacy-token-77"));
    let now = e.cb.get_connection(c.id.to_string()).await.unwrap();
    assert_eq!(now.status, ConnectionStatus::NeedsSignIn);
    assert!(
        e.secrets.get("connection/1/password").unwrap().is_some(),
        "left for the workspace that wrote it"
    );
    // After a new sign-in the workspace's own entry is used.
    e.cb.set_connection_secret(c.id, "new-token".into())
        .await
        .unwrap();
    assert_eq!(password_of(&e.cb, c.id).await, "new-token");
}
