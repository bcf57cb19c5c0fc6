//! The exactly-once audit of the Jira and Zendesk push paths, through the sync engine against
//! the fakes: a write that landed upstream followed by a request that fails (a 429 or an expired
//! token on the read-back, the transition after a Jira creation) must be an unknown outcome, so
//! the retry looks for the marker instead of writing a second time.
//!
//! Each test here failed before its fix with a second issue / ticket upstream.

use crate::support::{agent, engine, http};
use casebook_core::connection::{
    AuthMethod, Connection, NewConnection, SecretKind, Vendor, secret_name,
};
use casebook_core::model::{NewTicket, TicketState};
use casebook_core::secrets::{MemorySecretStore, SecretStore, SecretValue};
use casebook_core::store::Actor;
use casebook_core::{FixedClock, OpenMode, Store};
use casebook_fakes::jira::{self, JiraFake};
use casebook_fakes::zendesk::{self, ZendeskFake};
use casebook_fakes::{Fault, FaultRule};
use casebook_sync::auth::oauth::TokenSet;
use casebook_sync::auth::tokens::TokenManager;
use casebook_sync::backoff::RecordingSleeper;
use casebook_sync::connector::Connector;
use casebook_sync::engine::{SyncOptions, SyncReport};
use casebook_sync::jira::Jira;
use casebook_sync::zendesk::{Zendesk, ZendeskExport};
use std::sync::Arc;

const JIRA_EMAIL: &str = "ana@example.test";
const JIRA_TOKEN: &str = "jira-api-token-S3CRET-4242";
const ZD_ACCESS: &str = "zd-access-S3CRET-1234";

struct Env {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    clock: Arc<FixedClock>,
    sleeper: RecordingSleeper,
    connector: Arc<dyn Connector>,
    conn_id: i64,
}

impl Env {
    async fn sync(&self) -> SyncReport {
        engine(
            &self.store,
            Arc::clone(&self.connector),
            self.conn_id,
            &self.clock,
            self.sleeper.clone(),
            SyncOptions {
                articles: false,
                ..Default::default()
            },
        )
        .run()
        .await
    }

    fn actor(&self) -> Actor<'static> {
        agent(&self.clock)
    }

    /// A ticket made in Casebook for this connection (queued as a creation).
    fn new_local(&self, title: &str, state: TicketState) -> i64 {
        let mut new = NewTicket::local(title);
        new.source = self.conn_id.to_string();
        new.description = format!("{title}: details");
        new.state = state;
        self.store.create_ticket(new, &self.actor()).unwrap().id
    }
}

fn store_with(new: &NewConnection, t0: i64) -> (tempfile::TempDir, Arc<Store>, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(Store::open(&dir.path().join("casebook.db"), OpenMode::CreateIfMissing).unwrap());
    let valid = casebook_core::connection::validate_new(new).unwrap();
    let conn = store.add_connection(&valid, t0).unwrap();
    (dir, store, conn)
}

async fn jira_env() -> (JiraFake, Env) {
    let fake = jira::start().await.unwrap();
    fake.accept_only(JIRA_EMAIL, JIRA_TOKEN);
    let (dir, store, conn) = store_with(
        &NewConnection {
            vendor: Vendor::Jira,
            name: "Acme JSM".into(),
            instance: fake.base_url(),
            auth_method: AuthMethod::Basic,
            username: Some(JIRA_EMAIL.into()),
            oauth_client_id: None,
            mirror_scope: Some(vec!["HD".into()]),
        },
        jira::T0_MS,
    );
    let secrets = Arc::new(MemorySecretStore::new());
    secrets
        .set(
            &secret_name(conn.id, SecretKind::Password),
            &SecretValue::new(JIRA_TOKEN),
        )
        .unwrap();
    let env = env_with(dir, store, conn, secrets, jira::T0_MS, |http, tm, conn| {
        Arc::new(Jira::new(http, tm, conn))
    });
    (fake, env)
}

async fn zendesk_env() -> (ZendeskFake, Env) {
    let fake = zendesk::start().await.unwrap();
    fake.accept_only(ZD_ACCESS);
    let t0 = zendesk::T0_SECS * 1000;
    let (dir, store, conn) = store_with(
        &NewConnection {
            vendor: Vendor::Zendesk,
            name: "Acme Zendesk".into(),
            instance: fake.base_url(),
            auth_method: AuthMethod::OAuth,
            username: None,
            oauth_client_id: Some("casebook".into()),
            mirror_scope: Some(vec!["tickets".into()]),
        },
        t0,
    );
    let secrets = Arc::new(MemorySecretStore::new());
    let tokens = TokenSet {
        access_token: SecretValue::new(ZD_ACCESS),
        refresh_token: None,
        expires_at: None,
    };
    secrets
        .set(
            &secret_name(conn.id, SecretKind::OAuthTokens),
            &tokens.to_secret(),
        )
        .unwrap();
    let env = env_with(dir, store, conn, secrets, t0, |http, tm, conn| {
        Arc::new(Zendesk::new(http, tm, conn, ZendeskExport::Search))
    });
    (fake, env)
}

/// The engine's surroundings for one connection: a clock fixed at `t0`, a token manager over
/// `secrets`, and the connector `make` builds on them.
fn env_with(
    dir: tempfile::TempDir,
    store: Arc<Store>,
    conn: Connection,
    secrets: Arc<MemorySecretStore>,
    t0: i64,
    make: impl FnOnce(reqwest::Client, Arc<TokenManager>, Connection) -> Arc<dyn Connector>,
) -> Env {
    let clock = Arc::new(FixedClock::new(t0));
    let http = http();
    let tm = crate::support::token_manager(secrets, &clock, &http);
    Env {
        _dir: dir,
        store,
        sleeper: RecordingSleeper::new(Arc::clone(&clock)),
        clock,
        connector: make(http, tm, conn.clone()),
        conn_id: conn.id,
    }
}

fn ok(r: &SyncReport) {
    assert!(r.stopped.is_none(), "stopped: {:?}", r.stopped);
    assert!(r.errors.is_empty(), "errors: {:?}", r.errors);
}

fn jira_issues_titled(fake: &JiraFake, summary: &str) -> Vec<jira::Issue> {
    fake.with_state(|s| {
        s.issues
            .iter()
            .filter(|i| i.summary == summary)
            .cloned()
            .collect()
    })
}

/// Creating a Jira request is `POST /issue` then `GET /issue/{key}` (the record as created). A
/// 429 or an expired token on that read used to be "not created": the retry created a second
/// issue.
#[tokio::test]
async fn a_jira_creation_whose_read_back_fails_is_created_once() {
    for fault in [
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        Fault::Unauthorized,
    ] {
        let (fake, e) = jira_env().await;
        let local = e.new_local("Badge reader broken", TicketState::New);
        fake.faults()
            .add(FaultRule::new("GET", "rest/api/3/issue/*", fault.clone()));
        let r = e.sync().await;
        ok(&r);
        assert_eq!(fake.faults().fired().len(), 1, "{fault:?} fired");
        let issues = jira_issues_titled(&fake, "Badge reader broken");
        assert_eq!(issues.len(), 1, "{fault:?}: one issue upstream");
        let t = e.store.ticket(local).unwrap().ticket;
        assert_eq!(
            t.key, issues[0].key,
            "{fault:?}: the local ticket is linked"
        );
        assert!(e.store.sync_ops(None).unwrap().is_empty(), "{fault:?}");
    }
}

/// A Jira request created in a state other than the initial one is moved there by a transition
/// after the creation. If that transition fails (here a 429), the issue exists: the retry finds
/// it by its marker and completes the transition (the wanted state travels in the marker
/// property) instead of creating it again.
#[tokio::test]
async fn a_jira_creation_interrupted_before_its_transition_is_completed_not_repeated() {
    let (fake, e) = jira_env().await;
    let local = e.new_local("Printer offline on 3rd floor", TicketState::Pending);
    fake.faults().add(FaultRule::new(
        "POST",
        "rest/api/3/issue/*/transitions",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    ));
    let r = e.sync().await;
    ok(&r);
    assert_eq!(fake.faults().fired().len(), 1);
    let issues = jira_issues_titled(&fake, "Printer offline on 3rd floor");
    assert_eq!(issues.len(), 1, "one issue upstream");
    assert_eq!(issues[0].status, "Waiting for customer", "the wanted state");
    let t = e.store.ticket(local).unwrap().ticket;
    assert_eq!(t.key, issues[0].key);
    assert_eq!(t.state, TicketState::Pending);
    assert!(e.store.sync_ops(None).unwrap().is_empty());
    // Nothing more is written on the next sync.
    let before = fake.issue(&issues[0].key).unwrap().updated;
    ok(&e.sync().await);
    assert_eq!(fake.issue(&issues[0].key).unwrap().updated, before);
}

/// Creating a Zendesk ticket is `POST /tickets.json` (with an `Idempotency-Key`) then the
/// comments read back. A 429 on that read used to be "not created"; the `Idempotency-Key` hid it
/// while the retry came within two hours, but a long Retry-After (or a sign-in the next day)
/// brought the retry after the key expired, and it created a second ticket.
#[tokio::test]
async fn a_zendesk_creation_whose_read_back_fails_is_not_repeated_after_the_idempotency_window() {
    let (fake, e) = zendesk_env().await;
    let local = e.new_local("VPN drops every hour", TicketState::Open);
    let three_hours = 3 * 3600;
    fake.faults().add(FaultRule::new(
        "GET",
        "api/v2/tickets/*/comments.json",
        Fault::RateLimited {
            retry_after_secs: three_hours as u64,
        },
    ));
    e.sync().await;
    assert_eq!(fake.faults().fired().len(), 1);
    fake.advance(three_hours + 60);
    e.clock.advance((three_hours + 60) * 1000);
    let r = e.sync().await;
    ok(&r);
    let created: Vec<zendesk::Ticket> = fake.with_state(|s| {
        s.tickets
            .iter()
            .filter(|t| t.subject == "VPN drops every hour")
            .cloned()
            .collect()
    });
    assert_eq!(created.len(), 1, "one ticket upstream");
    let t = e.store.ticket(local).unwrap().ticket;
    assert_eq!(t.upstream_id, Some(created[0].id.to_string()));
    assert!(e.store.sync_ops(None).unwrap().is_empty());
}
