//! People by name on Jira and Zendesk (issue 5: "each maps to and from the canonical ticket
//! model"), through the sync engine against the fakes' user directories:
//! - a pull shows display names / names (assignee, requester, group, comment authors) and keeps
//!   the ids in `extra`, without a lookup per ticket;
//! - an assignee (and a Zendesk group) typed as a name or an email address is pushed as the id;
//!   clearing writes null; an unknown, ambiguous or unassignable name fails the operation with
//!   its reason and writes nothing;
//! - a colleague's concurrent reassignment is a conflict shown in names, also when the edit's
//!   base was recorded as an id (a workspace pulled before names were mapped).
//!
//! Each sync builds a new connector, as the app does (a connector lives for one sync, and with
//! it the lookups it remembers).

use crate::support::{agent, engine, http};
use casebook_core::connection::{AuthMethod, NewConnection, SecretKind, Vendor, secret_name};
use casebook_core::model::{NewTicket, Priority, TicketPatch};
use casebook_core::secrets::{MemorySecretStore, SecretStore, SecretValue};
use casebook_core::sla::ChangeKind;
use casebook_core::store::{Actor, OutboxStatus};
use casebook_core::{FixedClock, OpenMode, Store};
use casebook_fakes::jira::{self, JiraFake, NewIssue};
use casebook_fakes::zendesk::{self, ZendeskFake};
use casebook_sync::auth::oauth::TokenSet;
use casebook_sync::auth::tokens::TokenManager;
use casebook_sync::backoff::RecordingSleeper;
use casebook_sync::connector::Connector;
use casebook_sync::engine::{SyncOptions, SyncReport};
use casebook_sync::jira::Jira;
use casebook_sync::zendesk::{Zendesk, ZendeskExport};
use serde_json::{Value, json};
use std::sync::Arc;

const JIRA_EMAIL: &str = "ana@example.test";
const JIRA_TOKEN: &str = "jira-api-token-S3CRET-4242";
const ZD_ACCESS: &str = "zd-access-S3CRET-1234";
const ASSIGNABLE: &str = "/rest/api/3/user/assignable/search";
const JIRA_PUT: &str = "/rest/api/3/issue/*";
const ZD_PUT: &str = "/api/v2/tickets/*";
const ZD_SEARCH_USERS: &str = "/api/v2/users/search.json";
const ZD_SHOW_MANY: &str = "/api/v2/users/show_many.json";
const ZD_GROUPS: &str = "/api/v2/groups.json";

type Make = Box<dyn Fn() -> Arc<dyn Connector> + Send + Sync>;

struct Env<F> {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    fake: F,
    clock: Arc<FixedClock>,
    sleeper: RecordingSleeper,
    conn_id: i64,
    make: Make,
}

impl<F> Env<F> {
    async fn sync(&self) -> SyncReport {
        engine(
            &self.store,
            (self.make)(),
            self.conn_id,
            &self.clock,
            self.sleeper.clone(),
            SyncOptions {
                articles: false,
                page_size: 5,
                ..Default::default()
            },
        )
        .run()
        .await
    }

    fn agent(&self) -> Actor<'static> {
        agent(&self.clock)
    }

    fn edit(&self, local: i64, patch: TicketPatch) {
        self.store
            .update_ticket(local, None, &patch, &self.agent())
            .unwrap();
    }

    fn assign(&self, local: i64, to: Option<&str>) {
        self.edit(
            local,
            TicketPatch {
                assignee: Some(to.map(str::to_owned)),
                ..Default::default()
            },
        );
    }

    fn ticket(&self, local: i64) -> casebook_core::model::Ticket {
        self.store.ticket(local).unwrap().ticket
    }

    /// The one operation left in the outbox: (status, error), after a sync that failed it.
    fn failed_op(&self) -> (OutboxStatus, String) {
        let ops = self.store.sync_ops(None).unwrap();
        assert_eq!(ops.len(), 1, "{ops:?}");
        (ops[0].status, ops[0].last_error.clone().unwrap_or_default())
    }

    fn discard_op(&self) {
        for op in self.store.sync_ops(None).unwrap() {
            self.store.outbox_discard(op.id, &self.agent()).unwrap();
        }
    }

    /// Writes a value into the ticket row as a workspace pulled before names were mapped held
    /// it (an id).
    fn as_before(&self, local: i64, column: &str, raw: &str) {
        self.store
            .write(|tx| {
                tx.execute(
                    &format!("UPDATE tickets SET {column} = ? WHERE id = ?"),
                    rusqlite::params![raw, local],
                )?;
                Ok(())
            })
            .unwrap();
    }

    /// The times of the public replies the SLA facts count as responses (anyone but the
    /// requester).
    fn replies(&self, local: i64) -> Vec<i64> {
        self.store
            .sla_facts(local)
            .unwrap()
            .unwrap()
            .changes
            .iter()
            .filter(|c| c.kind == ChangeKind::PublicReply)
            .map(|c| c.at)
            .collect()
    }
}

fn ok(r: &SyncReport) {
    assert!(r.stopped.is_none(), "stopped: {:?}", r.stopped);
    assert!(r.errors.is_empty(), "errors: {:?}", r.errors);
}

fn failed(r: &SyncReport) {
    assert_eq!(r.failed, 1, "{r:?}");
    assert!(r.stopped.is_none(), "stopped: {:?}", r.stopped);
}

fn env<F>(
    fake: F,
    new: NewConnection,
    t0: i64,
    secret: (SecretKind, SecretValue),
    make: impl Fn(
        reqwest::Client,
        Arc<TokenManager>,
        casebook_core::connection::Connection,
    ) -> Arc<dyn Connector>
    + Send
    + Sync
    + 'static,
) -> Env<F> {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(Store::open(&dir.path().join("casebook.db"), OpenMode::CreateIfMissing).unwrap());
    let valid = casebook_core::connection::validate_new(&new).unwrap();
    let conn = store.add_connection(&valid, t0).unwrap();
    let secrets = Arc::new(MemorySecretStore::new());
    secrets
        .set(&secret_name(conn.id, secret.0), &secret.1)
        .unwrap();
    let clock = Arc::new(FixedClock::new(t0));
    let http = http();
    let tm = crate::support::token_manager(secrets, &clock, &http);
    let conn_id = conn.id;
    Env {
        _dir: dir,
        store,
        fake,
        sleeper: RecordingSleeper::new(Arc::clone(&clock)),
        clock,
        conn_id,
        make: Box::new(move || make(http.clone(), Arc::clone(&tm), conn.clone())),
    }
}

// ---------- Jira ----------

async fn jira_env() -> Env<JiraFake> {
    let fake = jira::start().await.unwrap();
    fake.accept_only(JIRA_EMAIL, JIRA_TOKEN);
    let new = NewConnection {
        vendor: Vendor::Jira,
        name: "Acme JSM".into(),
        instance: fake.base_url(),
        auth_method: AuthMethod::Basic,
        username: Some(JIRA_EMAIL.into()),
        oauth_client_id: None,
        mirror_scope: Some(vec!["HD".into()]),
    };
    env(
        fake,
        new,
        jira::T0_MS,
        (SecretKind::Password, SecretValue::new(JIRA_TOKEN)),
        |http, tm, conn| Arc::new(Jira::new(http, tm, conn)),
    )
}

/// One request in HD assigned to `assignee` (an account id), pulled.
async fn jira_pulled(e: &Env<JiraFake>, assignee: Option<&str>) -> (String, i64) {
    let mut n = NewIssue::new("HD", "VPN drops every hour");
    n.assignee = assignee.map(str::to_owned);
    let key = e.fake.seed(n);
    ok(&e.sync().await);
    (key.clone(), e.store.resolve_key(&key).unwrap())
}

const DEE: &str = "557058:0009-dee";

/// A colleague whose profile hides the email address.
fn add_dee(fake: &JiraFake) {
    fake.add_user(jira::User {
        email_visible: false,
        ..jira::User::new(DEE, "Dee Hidden", "dee@example.test")
    });
}

fn jira_puts(e: &Env<JiraFake>) -> Vec<Value> {
    e.fake
        .requests()
        .matching("PUT", JIRA_PUT)
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect()
}

fn lookups_of(e: &Env<JiraFake>, query: &str) -> usize {
    e.fake
        .requests()
        .matching("GET", ASSIGNABLE)
        .iter()
        .filter(|r| r.param("query") == Some(query))
        .count()
}

#[tokio::test]
async fn jira_a_pull_shows_display_names_and_keeps_the_account_ids() {
    let e = jira_env().await;
    let (key, local) = jira_pulled(&e, Some(jira::AGENT_ID)).await;
    e.fake
        .comment_as(&key, jira::CUSTOMER_ID, "Still dropping", true);
    e.fake
        .comment_as(&key, jira::AGENT_ID, "Restarted it", true);
    ok(&e.sync().await);
    let t = e.ticket(local);
    assert_eq!(
        (t.assignee.as_deref(), t.requester.as_deref()),
        (Some(jira::AGENT_NAME), Some(jira::CUSTOMER_NAME))
    );
    assert_eq!(t.extra["assignee_account_id"], jira::AGENT_ID);
    assert_eq!(t.extra["reporter_account_id"], jira::CUSTOMER_ID);
    let d = e.store.ticket(local).unwrap();
    let authors: Vec<&str> = d.comments.iter().map(|c| c.author.as_str()).collect();
    assert_eq!(authors, [jira::CUSTOMER_NAME, jira::AGENT_NAME]);
    // The customer's own reply is not a response; the agent's is (requester and authors are
    // compared in the same form).
    let agent_reply = d.comments[1].created_at;
    assert_eq!(e.replies(local), [agent_reply]);
    // The names came with the issues: no user was looked up.
    assert_eq!(e.fake.requests().count("GET", ASSIGNABLE), 0);
    // A colleague reassigns to someone whose email is hidden: the pull shows the new name.
    add_dee(&e.fake);
    e.fake
        .edit_as_other(&key, |i| i.assignee = Some(DEE.to_owned()));
    ok(&e.sync().await);
    let t = e.ticket(local);
    assert_eq!(t.assignee.as_deref(), Some("Dee Hidden"));
    assert_eq!(t.extra["assignee_account_id"], DEE);
}

#[tokio::test]
async fn jira_an_assignee_typed_as_a_name_or_email_is_pushed_as_the_account_id() {
    let e = jira_env().await;
    let (key, local) = jira_pulled(&e, None).await;
    // A display name, in any case.
    e.assign(local, Some("bo colleague"));
    let r = e.sync().await;
    ok(&r);
    assert_eq!(r.pushed, 1);
    assert_eq!(
        e.fake.issue(&key).unwrap().assignee.as_deref(),
        Some(jira::OTHER_ID)
    );
    assert_eq!(
        jira_puts(&e)[0],
        json!({ "fields": { "assignee": { "accountId": jira::OTHER_ID } } })
    );
    // Looked up once (the merge's lookup serves the write), among who can be assigned in HD.
    assert_eq!(lookups_of(&e, "bo colleague"), 1);
    let q = &e.fake.requests().matching("GET", ASSIGNABLE)[0];
    assert_eq!(
        (q.param("project"), q.param("maxResults")),
        (Some("HD"), Some("1000"))
    );
    // The workspace shows the display name (what was recorded, and what the pull says).
    assert_eq!(e.ticket(local).assignee.as_deref(), Some(jira::OTHER_NAME));
    ok(&e.sync().await);
    assert_eq!(e.ticket(local).assignee.as_deref(), Some(jira::OTHER_NAME));
    assert!(e.store.sync_ops(None).unwrap().is_empty());
    // An email address.
    e.assign(local, Some("ana@example.test"));
    ok(&e.sync().await);
    assert_eq!(
        e.fake.issue(&key).unwrap().assignee.as_deref(),
        Some(jira::AGENT_ID)
    );
    assert_eq!(e.ticket(local).assignee.as_deref(), Some(jira::AGENT_NAME));
    // The whole email address of a user who hides it.
    add_dee(&e.fake);
    e.assign(local, Some("dee@example.test"));
    ok(&e.sync().await);
    assert_eq!(e.fake.issue(&key).unwrap().assignee.as_deref(), Some(DEE));
    assert_eq!(e.ticket(local).assignee.as_deref(), Some("Dee Hidden"));
    // 120 customers match "Pat" before the one agent named so: the search drops who cannot be
    // assigned after taking its range, and one request reaches past them.
    for n in 0..120 {
        e.fake.add_user(jira::User {
            account_type: "customer".into(),
            ..jira::User::new(
                &format!("qm:pat-{n}"),
                &format!("Pat Customer {n}"),
                &format!("pat{n}@customer.test"),
            )
        });
    }
    e.fake.add_user(jira::User::new(
        "557058:0010-pat",
        "Pat",
        "pat@example.test",
    ));
    e.assign(local, Some("Pat"));
    ok(&e.sync().await);
    assert_eq!(
        e.fake.issue(&key).unwrap().assignee.as_deref(),
        Some("557058:0010-pat")
    );
    assert_eq!(lookups_of(&e, "Pat"), 1);
    // An account id (an edit queued before names were mapped holds one) still works.
    e.assign(local, Some(jira::OTHER_ID));
    ok(&e.sync().await);
    assert_eq!(
        e.fake.issue(&key).unwrap().assignee.as_deref(),
        Some(jira::OTHER_ID)
    );
    assert_eq!(e.ticket(local).assignee.as_deref(), Some(jira::OTHER_NAME));
    // Clearing writes null.
    e.assign(local, None);
    ok(&e.sync().await);
    assert_eq!(e.fake.issue(&key).unwrap().assignee, None);
    assert_eq!(
        jira_puts(&e).last().unwrap(),
        &json!({ "fields": { "assignee": null } })
    );
}

#[tokio::test]
async fn jira_an_unknown_ambiguous_or_unassignable_user_fails_and_writes_nothing() {
    let e = jira_env().await;
    let (key, local) = jira_pulled(&e, Some(jira::AGENT_ID)).await;
    let before = e.fake.issue(&key).unwrap();
    e.assign(local, Some("Zed"));
    failed(&e.sync().await);
    assert_eq!(
        e.failed_op(),
        (
            OutboxStatus::Failed,
            "no jira user named 'Zed' can be assigned in HD".to_owned()
        )
    );
    // Two users share a display name.
    e.discard_op();
    for (id, mail) in [
        ("557058:d1", "dana1@example.test"),
        ("557058:d2", "dana2@example.test"),
    ] {
        e.fake.add_user(jira::User::new(id, "Dana Park", mail));
    }
    e.assign(local, Some("Dana Park"));
    failed(&e.sync().await);
    assert_eq!(
        e.failed_op().1,
        "'Dana Park' names 2 jira users who can be assigned in HD (dana1@example.test; \
         dana2@example.test); use the email address"
    );
    // A customer cannot be assigned requests.
    e.discard_op();
    e.assign(local, Some(jira::CUSTOMER_NAME));
    failed(&e.sync().await);
    assert_eq!(
        e.failed_op().1,
        format!(
            "no jira user named '{}' can be assigned in HD",
            jira::CUSTOMER_NAME
        )
    );
    // Nothing was written upstream, ever.
    assert!(jira_puts(&e).is_empty());
    assert_eq!(e.fake.issue(&key).unwrap(), before);
    // The email address tells the two Danas apart.
    e.discard_op();
    e.assign(local, Some("dana2@example.test"));
    ok(&e.sync().await);
    assert_eq!(
        e.fake.issue(&key).unwrap().assignee.as_deref(),
        Some("557058:d2")
    );
}

#[tokio::test]
async fn jira_a_concurrent_reassignment_is_a_conflict_in_display_names() {
    let e = jira_env().await;
    add_dee(&e.fake);
    let (key, local) = jira_pulled(&e, Some(jira::AGENT_ID)).await;
    e.assign(local, Some(jira::OTHER_NAME));
    e.fake
        .edit_as_other(&key, |i| i.assignee = Some(DEE.to_owned()));
    let r = e.sync().await;
    assert_eq!(r.conflicts, 1, "{r:?}");
    let inbox = e.store.conflicts_open(None).unwrap();
    assert_eq!(inbox[0].field, "assignee");
    assert_eq!(
        (&inbox[0].base, &inbox[0].mine, &inbox[0].theirs),
        (
            &json!(jira::AGENT_NAME),
            &json!(jira::OTHER_NAME),
            &json!("Dee Hidden")
        )
    );
    assert_eq!(
        e.fake.issue(&key).unwrap().assignee.as_deref(),
        Some(DEE),
        "theirs kept"
    );
    e.discard_op();
    ok(&e.sync().await);
    // The colleague makes the reassignment I make, which I typed as an email address: the same
    // person, no conflict.
    e.assign(local, Some("bo@example.test"));
    e.fake
        .edit_as_other(&key, |i| i.assignee = Some(jira::OTHER_ID.to_owned()));
    let r = e.sync().await;
    ok(&r);
    assert_eq!(r.conflicts, 0);
    // A base recorded as an account id (pulled before names were mapped) compares as the name:
    // the colleague's reassignment is a conflict in names, my priority goes through.
    ok(&e.sync().await);
    e.as_before(local, "assignee", jira::OTHER_ID);
    e.edit(
        local,
        TicketPatch {
            assignee: Some(Some(jira::AGENT_NAME.into())),
            priority: Some(Priority::High),
            ..Default::default()
        },
    );
    e.fake
        .edit_as_other(&key, |i| i.assignee = Some(DEE.to_owned()));
    let r = e.sync().await;
    assert_eq!(r.conflicts, 1, "{r:?}");
    let inbox = e.store.conflicts_open(None).unwrap();
    assert_eq!(
        (&inbox[0].base, &inbox[0].mine, &inbox[0].theirs),
        (
            &json!(jira::OTHER_NAME),
            &json!(jira::AGENT_NAME),
            &json!("Dee Hidden")
        )
    );
    assert_eq!(e.fake.issue(&key).unwrap().priority, "High");
}

#[tokio::test]
async fn jira_a_local_request_is_created_with_the_assignees_account_id() {
    let e = jira_env().await;
    let mut new = NewTicket::local("New laptop for Dana");
    new.source = e.conn_id.to_string();
    new.description = "Hers is broken.".into();
    new.assignee = Some("bo@example.test".into());
    let t = e.store.create_ticket(new, &e.agent()).unwrap();
    ok(&e.sync().await);
    let created: Vec<jira::Issue> = e.fake.with_state(|s| {
        s.issues
            .iter()
            .filter(|i| i.summary == "New laptop for Dana")
            .cloned()
            .collect()
    });
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].assignee.as_deref(), Some(jira::OTHER_ID));
    ok(&e.sync().await);
    assert_eq!(e.ticket(t.id).assignee.as_deref(), Some(jira::OTHER_NAME));
    // An unknown assignee fails the creation before anything is created.
    let n = e.fake.issue_count();
    let mut bad = NewTicket::local("Printer on fire");
    bad.source = e.conn_id.to_string();
    bad.description = "Smoke.".into();
    bad.assignee = Some("Zed".into());
    e.store.create_ticket(bad, &e.agent()).unwrap();
    failed(&e.sync().await);
    assert_eq!(e.fake.issue_count(), n);
}

// ---------- Zendesk ----------

async fn zendesk_env() -> Env<ZendeskFake> {
    let fake = zendesk::start().await.unwrap();
    fake.accept_only(ZD_ACCESS);
    let new = NewConnection {
        vendor: Vendor::Zendesk,
        name: "Acme Zendesk".into(),
        instance: fake.base_url(),
        auth_method: AuthMethod::OAuth,
        username: None,
        oauth_client_id: Some("casebook".into()),
        mirror_scope: Some(vec!["tickets".into()]),
    };
    let tokens = TokenSet {
        access_token: SecretValue::new(ZD_ACCESS),
        refresh_token: None,
        expires_at: None,
    };
    env(
        fake,
        new,
        zendesk::T0_SECS * 1000,
        (SecretKind::OAuthTokens, tokens.to_secret()),
        |http, tm, conn| Arc::new(Zendesk::new(http, tm, conn, ZendeskExport::Search)),
    )
}

/// One ticket from the requester in the Support group, pulled.
async fn zd_pulled(e: &Env<ZendeskFake>) -> (u64, i64) {
    let id = e.fake.seed(zendesk::NewTicket::new(
        "Mail bounces",
        "Since the migration.",
    ));
    e.fake.advance(120);
    ok(&e.sync().await);
    (id, e.store.resolve_key(&format!("#{id}")).unwrap())
}

fn zd_puts(e: &Env<ZendeskFake>) -> Vec<Value> {
    e.fake
        .requests()
        .matching("PUT", ZD_PUT)
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["ticket"].clone())
        .collect()
}

#[tokio::test]
async fn zendesk_a_pull_shows_names_and_keeps_the_ids() {
    let e = zendesk_env().await;
    let id = e.fake.seed(zendesk::NewTicket::new(
        "Mail bounces",
        "Since the migration.",
    ));
    e.fake
        .comment_as(id, zendesk::REQUESTER_ID, "Still bouncing", true);
    e.fake
        .comment_as(id, zendesk::OTHER_ID, "Fixed the MX record", true);
    e.fake
        .edit_as_other(id, |t| t.assignee_id = Some(zendesk::OTHER_ID));
    for n in 0..6 {
        e.fake
            .seed(zendesk::NewTicket::new(&format!("Other {n}"), "Body"));
    }
    e.fake.advance(120);
    let r = e.sync().await;
    ok(&r);
    let local = e.store.resolve_key(&format!("#{id}")).unwrap();
    let t = e.ticket(local);
    assert_eq!(
        (
            t.requester.as_deref(),
            t.assignee.as_deref(),
            t.assignment_group.as_deref()
        ),
        (
            Some(zendesk::REQUESTER_NAME),
            Some(zendesk::OTHER_NAME),
            Some(zendesk::GROUP_NAME)
        )
    );
    assert_eq!(
        (
            &t.extra["requester_id"],
            &t.extra["assignee_id"],
            &t.extra["group_id"]
        ),
        (
            &json!(zendesk::REQUESTER_ID),
            &json!(zendesk::OTHER_ID),
            &json!(zendesk::GROUP_ID)
        )
    );
    let d = e.store.ticket(local).unwrap();
    let authors: Vec<&str> = d.comments.iter().map(|c| c.author.as_str()).collect();
    assert_eq!(
        authors,
        [
            zendesk::REQUESTER_NAME,
            zendesk::REQUESTER_NAME,
            zendesk::OTHER_NAME
        ]
    );
    // The requester's replies are not responses; the colleague's is.
    assert_eq!(e.replies(local), [d.comments[2].created_at]);
    // Seven tickets in pages of five: the users of a page are read in one request, only those
    // not seen yet in the sync (none new on the second page); the groups once per sync.
    assert_eq!(
        e.fake.requests().count("GET", "/api/v2/search/export.json"),
        2
    );
    let lookups = e.fake.requests().matching("GET", ZD_SHOW_MANY);
    assert_eq!(lookups.len(), 1);
    assert_eq!(
        lookups[0].param("ids"),
        Some(format!("{},{}", zendesk::OTHER_ID, zendesk::REQUESTER_ID).as_str())
    );
    assert_eq!(e.fake.requests().count("GET", ZD_GROUPS), 1);
    // A user the account no longer has (deleted) shows its id.
    e.fake.edit_as_other(id, |t| t.assignee_id = Some(4242));
    e.fake.advance(120);
    ok(&e.sync().await);
    assert_eq!(e.ticket(local).assignee.as_deref(), Some("4242"));
}

#[tokio::test]
async fn zendesk_an_assignee_and_group_typed_by_name_or_email_are_pushed_as_ids() {
    let e = zendesk_env().await;
    let (id, local) = zd_pulled(&e).await;
    e.edit(
        local,
        TicketPatch {
            assignee: Some(Some("bo colleague".into())),
            assignment_group: Some(Some("network".into())),
            ..Default::default()
        },
    );
    let r = e.sync().await;
    ok(&r);
    assert_eq!(r.pushed, 1);
    let up = e.fake.ticket(id).unwrap();
    assert_eq!(
        (up.assignee_id, up.group_id),
        (Some(zendesk::OTHER_ID), Some(zendesk::NETWORK_GROUP_ID))
    );
    let sent = &zd_puts(&e)[0];
    assert_eq!(
        (&sent["assignee_id"], &sent["group_id"]),
        (&json!(zendesk::OTHER_ID), &json!(zendesk::NETWORK_GROUP_ID))
    );
    assert_eq!(
        e.fake.requests().count("GET", ZD_SEARCH_USERS),
        1,
        "looked up once"
    );
    ok(&e.sync().await);
    let t = e.ticket(local);
    assert_eq!(
        (t.assignee.as_deref(), t.assignment_group.as_deref()),
        (Some(zendesk::OTHER_NAME), Some("Network"))
    );
    assert!(e.store.sync_ops(None).unwrap().is_empty());
    // An email address.
    e.assign(local, Some("ana@example.test"));
    ok(&e.sync().await);
    assert_eq!(
        e.fake.ticket(id).unwrap().assignee_id,
        Some(zendesk::AGENT_ID)
    );
    // 120 agents whose email contains "smith" come before the one named "Smith": the search is
    // read page by page (100 a page) until found.
    for n in 0..120 {
        e.fake.add_user(
            &format!("Helper {n}"),
            &format!("smith.helper{n}@example.test"),
            "agent",
        );
    }
    let smith = e.fake.add_user("Smith", "js@example.test", "agent");
    e.fake.requests().clear();
    e.assign(local, Some("Smith"));
    ok(&e.sync().await);
    assert_eq!(e.fake.ticket(id).unwrap().assignee_id, Some(smith));
    let pages: Vec<Option<String>> = e
        .fake
        .requests()
        .matching("GET", ZD_SEARCH_USERS)
        .iter()
        .map(|r| r.param("page").map(str::to_owned))
        .collect();
    assert_eq!(pages, [Some("1".to_owned()), Some("2".to_owned())]);
    // A user id (an edit queued before names were mapped holds one) still works.
    e.assign(local, Some(&zendesk::OTHER_ID.to_string()));
    ok(&e.sync().await);
    assert_eq!(
        e.fake.ticket(id).unwrap().assignee_id,
        Some(zendesk::OTHER_ID)
    );
    assert_eq!(
        e.ticket(local).assignee.as_deref(),
        Some(zendesk::OTHER_NAME)
    );
    // Clearing writes null.
    e.assign(local, None);
    ok(&e.sync().await);
    assert_eq!(e.fake.ticket(id).unwrap().assignee_id, None);
    assert_eq!(zd_puts(&e).last().unwrap()["assignee_id"], Value::Null);
}

#[tokio::test]
async fn zendesk_an_unknown_ambiguous_or_non_agent_name_fails_and_writes_nothing() {
    let e = zendesk_env().await;
    let (id, local) = zd_pulled(&e).await;
    let before = e.fake.ticket(id).unwrap();
    e.assign(local, Some("Zed"));
    failed(&e.sync().await);
    assert_eq!(
        e.failed_op(),
        (
            OutboxStatus::Failed,
            "no zendesk agent named 'Zed'".to_owned()
        )
    );
    // The requester is an end user: not an assignee.
    e.discard_op();
    e.assign(local, Some(zendesk::REQUESTER_NAME));
    failed(&e.sync().await);
    assert_eq!(
        e.failed_op().1,
        format!("no zendesk agent named '{}'", zendesk::REQUESTER_NAME)
    );
    // Two agents share a name.
    e.discard_op();
    e.fake.add_user("Dana Park", "dana1@example.test", "agent");
    e.fake.add_user("Dana Park", "dana2@example.test", "admin");
    e.assign(local, Some("Dana Park"));
    failed(&e.sync().await);
    assert_eq!(
        e.failed_op().1,
        "'Dana Park' names 2 zendesk agents (dana1@example.test, dana2@example.test); use the \
         email address"
    );
    // An unknown group.
    e.discard_op();
    e.edit(
        local,
        TicketPatch {
            assignment_group: Some(Some("Facilities".into())),
            ..Default::default()
        },
    );
    failed(&e.sync().await);
    assert_eq!(e.failed_op().1, "no zendesk group named 'Facilities'");
    assert!(zd_puts(&e).is_empty(), "nothing written");
    assert_eq!(e.fake.ticket(id).unwrap(), before);
}

#[tokio::test]
async fn zendesk_a_concurrent_reassignment_is_a_conflict_in_names() {
    let e = zendesk_env().await;
    let (id, local) = zd_pulled(&e).await;
    e.fake
        .edit_as_other(id, |t| t.assignee_id = Some(zendesk::AGENT_ID));
    e.fake.advance(120);
    ok(&e.sync().await);
    e.assign(local, Some(zendesk::OTHER_NAME));
    let dana = e.fake.add_user("Dana Park", "dana@example.test", "agent");
    e.fake.edit_as_other(id, |t| t.assignee_id = Some(dana));
    let r = e.sync().await;
    assert_eq!(r.conflicts, 1, "{r:?}");
    let inbox = e.store.conflicts_open(None).unwrap();
    assert_eq!(
        (&inbox[0].base, &inbox[0].mine, &inbox[0].theirs),
        (
            &json!(zendesk::AGENT_NAME),
            &json!(zendesk::OTHER_NAME),
            &json!("Dana Park")
        )
    );
    assert_eq!(
        e.fake.ticket(id).unwrap().assignee_id,
        Some(dana),
        "theirs kept"
    );
    e.discard_op();
    e.fake.advance(120);
    ok(&e.sync().await);
    // A base recorded as an id (pulled before names were mapped) compares as the name: a
    // colleague's other change does not make a conflict of my reassignment.
    e.as_before(local, "assignee", &dana.to_string());
    e.assign(local, Some("bo@example.test"));
    e.fake
        .edit_as_other(id, |t| t.priority = Some("urgent".into()));
    let r = e.sync().await;
    ok(&r);
    assert_eq!((r.conflicts, r.pushed), (0, 1));
    assert_eq!(
        e.fake.ticket(id).unwrap().assignee_id,
        Some(zendesk::OTHER_ID)
    );
}

#[tokio::test]
async fn zendesk_a_local_ticket_is_created_with_the_ids() {
    let e = zendesk_env().await;
    let mut new = NewTicket::local("New laptop for Dana");
    new.source = e.conn_id.to_string();
    new.description = "Hers is broken.".into();
    new.assignee = Some(zendesk::OTHER_NAME.into());
    new.assignment_group = Some("Network".into());
    let t = e.store.create_ticket(new, &e.agent()).unwrap();
    ok(&e.sync().await);
    let created: Vec<zendesk::Ticket> = e.fake.with_state(|s| {
        s.tickets
            .iter()
            .filter(|t| t.subject == "New laptop for Dana")
            .cloned()
            .collect()
    });
    assert_eq!(created.len(), 1);
    assert_eq!(
        (created[0].assignee_id, created[0].group_id),
        (Some(zendesk::OTHER_ID), Some(zendesk::NETWORK_GROUP_ID))
    );
    e.fake.advance(120);
    ok(&e.sync().await);
    let local = e.ticket(t.id);
    assert_eq!(
        (local.assignee.as_deref(), local.assignment_group.as_deref()),
        (Some(zendesk::OTHER_NAME), Some("Network"))
    );
    // An unknown group fails the creation before anything is created.
    let n = e.fake.ticket_count();
    let mut bad = NewTicket::local("Printer on fire");
    bad.source = e.conn_id.to_string();
    bad.description = "Smoke.".into();
    bad.assignment_group = Some("Facilities".into());
    e.store.create_ticket(bad, &e.agent()).unwrap();
    failed(&e.sync().await);
    assert_eq!(e.fake.ticket_count(), n);
}
