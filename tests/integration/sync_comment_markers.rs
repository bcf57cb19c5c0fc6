//! Exactly once without a visible trace (issue 5): a comment Casebook pushes reaches the upstream
//! with exactly the agent's text — no `[casebook-op:…]` line, which customers used to read on
//! every public reply — and still lands exactly once across lost answers, through the sync
//! engine against the three fakes (which store exactly what a reader of the ticket sees).
//!
//! Every test runs for ServiceNow (journal entries: recognized by author + exact text + a
//! baseline taken before the first send), Jira Service Management (a comment entity property)
//! and Zendesk (the update's audit metadata). Each failed before the change on its "no marker
//! upstream" assertion; the lookups' own traps (the same text twice, a colleague's identical
//! reply, an identical entry already there, a pull while the outcome is unknown) are checked
//! beside it.

use crate::support::{agent, engine, http};
use casebook_core::connection::{
    AuthMethod, Connection, NewConnection, SecretKind, Vendor, secret_name,
};
use casebook_core::model::Visibility;
use casebook_core::secrets::{MemorySecretStore, SecretStore, SecretValue};
use casebook_core::store::{Actor, OutboxStatus};
use casebook_core::{Clock, FixedClock, OpenMode, Store};
use casebook_fakes::jira::{self, JiraFake};
use casebook_fakes::servicenow::{self, NewIncident, ServiceNowFake};
use casebook_fakes::zendesk::{self, ZendeskFake};
use casebook_fakes::{Fault, FaultPlan, FaultRule};
use casebook_sync::auth::oauth::TokenSet;
use casebook_sync::backoff::RecordingSleeper;
use casebook_sync::connector::Connector;
use casebook_sync::engine::{SyncOptions, SyncReport};
use casebook_sync::jira::Jira;
use casebook_sync::model::embed_marker;
use casebook_sync::servicenow::ServiceNow;
use casebook_sync::zendesk::{Zendesk, ZendeskExport};
use std::sync::Arc;

const JIRA_EMAIL: &str = "ana@example.test";
const JIRA_TOKEN: &str = "jira-marker-token-S3CRET";
const ZD_ACCESS: &str = "zd-marker-access-S3CRET";
const SN_PASSWORD: &str = "sn-marker-pass";
const SN_ACCESS: &str = "sn-marker-access-S3CRET";

/// The upstreams, and for ServiceNow the two ways of signing in (the account's user name is
/// known from a Basic sign-in, looked up with OAuth).
#[derive(Debug, Clone, Copy, PartialEq)]
enum V {
    Sn,
    SnOAuth,
    Jira,
    Zd,
}

const ALL: [V; 3] = [V::Sn, V::Jira, V::Zd];

enum Fake {
    Sn(ServiceNowFake),
    Jira(JiraFake),
    Zd(ZendeskFake),
}

/// One upstream comment as a reader of the ticket sees it.
#[derive(Debug, Clone, PartialEq)]
struct Up {
    public: bool,
    body: String,
    /// Written by the account Casebook signs in with.
    by_us: bool,
}

/// Who writes a comment directly upstream.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    /// The agent's own account, in the vendor's UI.
    Us,
    Colleague,
}

struct Env {
    v: V,
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    clock: Arc<FixedClock>,
    sleeper: RecordingSleeper,
    connector: Arc<dyn Connector>,
    conn_id: i64,
    fake: Fake,
    /// The ticket's upstream reference (sys_id, issue key, ticket id) and its local id.
    upstream: String,
    local: i64,
}

fn tokens(access: &str) -> SecretValue {
    TokenSet {
        access_token: SecretValue::new(access),
        refresh_token: None,
        expires_at: None,
    }
    .to_secret()
}

impl Env {
    /// A workspace with one connection to a fresh fake holding one ticket, pulled.
    async fn new(v: V) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            Store::open(&dir.path().join("casebook.db"), OpenMode::CreateIfMissing).unwrap(),
        );
        let secrets = Arc::new(MemorySecretStore::new());
        let (fake, new, t0, upstream) = match v {
            V::Sn | V::SnOAuth => {
                let f = servicenow::start().await.unwrap();
                let id = f.seed(NewIncident::new("Printer offline"));
                let basic = v == V::Sn;
                let new = NewConnection {
                    vendor: Vendor::ServiceNow,
                    name: "Acme SN".into(),
                    instance: f.base_url(),
                    auth_method: if basic {
                        AuthMethod::Basic
                    } else {
                        AuthMethod::OAuth
                    },
                    username: basic.then(|| servicenow::API_USER.into()),
                    oauth_client_id: (!basic).then(|| "casebook".into()),
                    mirror_scope: Some(vec!["incident".into()]),
                };
                (Fake::Sn(f), new, servicenow::T0_SECS * 1000, id)
            }
            V::Jira => {
                let f = jira::start().await.unwrap();
                f.accept_only(JIRA_EMAIL, JIRA_TOKEN);
                let key = f.seed(jira::NewIssue::new("HD", "Mail bounces"));
                let new = NewConnection {
                    vendor: Vendor::Jira,
                    name: "Acme JSM".into(),
                    instance: f.base_url(),
                    auth_method: AuthMethod::Basic,
                    username: Some(JIRA_EMAIL.into()),
                    oauth_client_id: None,
                    mirror_scope: Some(vec!["HD".into()]),
                };
                (Fake::Jira(f), new, jira::T0_MS, key)
            }
            V::Zd => {
                let f = zendesk::start().await.unwrap();
                f.accept_only(ZD_ACCESS);
                let id = f.seed(zendesk::NewTicket::new("VPN", "Drops hourly"));
                let new = NewConnection {
                    vendor: Vendor::Zendesk,
                    name: "Acme Zendesk".into(),
                    instance: f.base_url(),
                    auth_method: AuthMethod::OAuth,
                    username: None,
                    oauth_client_id: Some("casebook".into()),
                    mirror_scope: Some(vec!["tickets".into()]),
                };
                (Fake::Zd(f), new, zendesk::T0_SECS * 1000, id.to_string())
            }
        };
        let valid = casebook_core::connection::validate_new(&new).unwrap();
        let conn: Connection = store.add_connection(&valid, t0).unwrap();
        let secret = match v {
            V::Sn => (SecretKind::Password, SecretValue::new(SN_PASSWORD)),
            V::SnOAuth => (SecretKind::OAuthTokens, tokens(SN_ACCESS)),
            V::Jira => (SecretKind::Password, SecretValue::new(JIRA_TOKEN)),
            V::Zd => (SecretKind::OAuthTokens, tokens(ZD_ACCESS)),
        };
        secrets
            .set(&secret_name(conn.id, secret.0), &secret.1)
            .unwrap();
        let clock = Arc::new(FixedClock::new(t0));
        let http = http();
        let tm = crate::support::token_manager(secrets, &clock, &http);
        let connector: Arc<dyn Connector> = match v {
            V::Sn | V::SnOAuth => Arc::new(ServiceNow::new(http, tm, conn.clone())),
            V::Jira => Arc::new(Jira::new(http, tm, conn.clone())),
            V::Zd => Arc::new(Zendesk::new(http, tm, conn.clone(), ZendeskExport::Search)),
        };
        let mut e = Env {
            v,
            _dir: dir,
            store,
            sleeper: RecordingSleeper::new(Arc::clone(&clock)),
            clock,
            connector,
            conn_id: conn.id,
            fake,
            upstream,
            local: 0,
        };
        ok(&e.sync().await, v);
        let key = match &e.fake {
            Fake::Sn(f) => f.incident(&e.upstream).unwrap().get("number").to_owned(),
            Fake::Jira(_) => e.upstream.clone(),
            Fake::Zd(_) => format!("#{}", e.upstream),
        };
        e.local = e.store.resolve_key(&key).unwrap();
        e
    }

    async fn sync_with(&self, options: SyncOptions) -> SyncReport {
        engine(
            &self.store,
            Arc::clone(&self.connector),
            self.conn_id,
            &self.clock,
            self.sleeper.clone(),
            options,
        )
        .run()
        .await
    }

    async fn sync(&self) -> SyncReport {
        self.sync_with(SyncOptions {
            articles: false,
            ..Default::default()
        })
        .await
    }

    /// A pull without pushing (the push of another moment).
    async fn pull_only(&self) -> SyncReport {
        self.sync_with(SyncOptions {
            articles: false,
            push: false,
            ..Default::default()
        })
        .await
    }

    fn faults(&self) -> &FaultPlan {
        match &self.fake {
            Fake::Sn(f) => f.faults(),
            Fake::Jira(f) => f.faults(),
            Fake::Zd(f) => f.faults(),
        }
    }

    /// The request that writes a comment: (method, path pattern).
    fn comment_write(&self) -> (&'static str, &'static str) {
        match self.v {
            V::Sn | V::SnOAuth => ("PATCH", "api/now/table/incident/*"),
            V::Jira => ("POST", "rest/api/3/issue/*/comment"),
            V::Zd => ("PUT", "api/v2/tickets/*"),
        }
    }

    /// The request that looks for a comment after an unknown outcome: (method, path pattern,
    /// matching requests before the first lookup in a push).
    fn comment_lookup(&self) -> (&'static str, &'static str, u32) {
        match self.v {
            // The baseline reads the journal once before the first send.
            V::Sn | V::SnOAuth => ("GET", "api/now/table/sys_journal_field", 1),
            V::Jira => ("GET", "rest/api/3/issue/*/comment", 0),
            V::Zd => ("GET", "api/v2/tickets/*/audits.json", 0),
        }
    }

    fn fail_writes(&self, fault: Fault, times: u32) {
        let (m, p) = self.comment_write();
        self.faults().add(FaultRule::new(m, p, fault).times(times));
    }

    fn agent(&self) -> Actor<'static> {
        agent(&self.clock)
    }

    /// A comment written in Casebook (queued).
    fn comment(&self, v: Visibility, body: &str) {
        self.store
            .add_comment(self.local, v, body, &self.agent())
            .unwrap();
    }

    /// A comment written directly upstream.
    fn comment_upstream(&self, who: Who, public: bool, body: &str) {
        match &self.fake {
            Fake::Sn(f) => {
                let user = match who {
                    Who::Us => servicenow::API_USER,
                    Who::Colleague => "bo.other",
                };
                let element = if public { "comments" } else { "work_notes" };
                f.comment_as(&self.upstream, element, body, user);
            }
            Fake::Jira(f) => {
                let author = match who {
                    Who::Us => jira::AGENT_ID,
                    Who::Colleague => jira::OTHER_ID,
                };
                f.comment_as(&self.upstream, author, body, public);
            }
            Fake::Zd(f) => {
                let author = match who {
                    Who::Us => zendesk::AGENT_ID,
                    Who::Colleague => zendesk::OTHER_ID,
                };
                f.comment_as(self.upstream.parse().unwrap(), author, body, public);
            }
        }
    }

    /// The ticket's comments upstream, oldest first (Zendesk's description excluded).
    fn upstream_comments(&self) -> Vec<Up> {
        match &self.fake {
            Fake::Sn(f) => f
                .journal_of(&self.upstream)
                .into_iter()
                .map(|(element, value, by)| Up {
                    public: element == "comments",
                    body: value,
                    by_us: by == servicenow::API_USER,
                })
                .collect(),
            Fake::Jira(f) => f
                .comments(&self.upstream)
                .into_iter()
                .map(|c| Up {
                    public: c.public,
                    body: c.body,
                    by_us: c.author == jira::AGENT_ID,
                })
                .collect(),
            Fake::Zd(f) => f
                .comments(self.upstream.parse().unwrap())
                .into_iter()
                .skip(1)
                .map(|c| Up {
                    public: c.public,
                    body: c.body,
                    by_us: c.author_id == zendesk::AGENT_ID,
                })
                .collect(),
        }
    }

    /// How many upstream comments have exactly this text.
    fn upstream_count(&self, body: &str) -> usize {
        self.upstream_comments()
            .iter()
            .filter(|c| c.body == body)
            .count()
    }

    /// Nothing upstream carries a marker, in any form.
    fn assert_no_marker_upstream(&self) {
        for c in self.upstream_comments() {
            assert!(
                !c.body.contains("casebook-op"),
                "{:?}: a marker is visible upstream: {:?}",
                self.v,
                c.body
            );
        }
    }

    /// The local comments with this text: (count, how many are linked to distinct upstream
    /// comments).
    fn local_count(&self, body: &str) -> (usize, usize) {
        let d = self.store.ticket(self.local).unwrap();
        let same: Vec<_> = d.comments.iter().filter(|c| c.body == body).collect();
        let mut ids: Vec<&str> = same
            .iter()
            .filter_map(|c| c.upstream_id.as_deref())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        (same.len(), ids.len())
    }

    fn outbox_settled(&self) -> bool {
        self.store.sync_ops(None).unwrap().is_empty()
    }
}

fn ok(r: &SyncReport, v: V) {
    assert!(r.stopped.is_none(), "{v:?}: stopped: {:?}", r.stopped);
    assert!(r.errors.is_empty(), "{v:?}: errors: {:?}", r.errors);
}

#[tokio::test]
async fn a_reply_and_a_note_reach_the_upstream_exactly_as_written() {
    for v in ALL {
        let e = Env::new(v).await;
        let reply = "The VPN certificate was renewed.\n\nPlease reconnect and tell us if it drops.";
        let note = "Renewed the cert on vpn-gw-2.";
        e.comment(Visibility::Public, reply);
        e.comment(Visibility::Internal, note);
        let r = e.sync().await;
        ok(&r, v);
        assert_eq!(r.pushed, 2, "{v:?}");
        let up = e.upstream_comments();
        assert_eq!(
            up,
            vec![
                Up {
                    public: true,
                    body: reply.into(),
                    by_us: true
                },
                Up {
                    public: false,
                    body: note.into(),
                    by_us: true
                },
            ],
            "{v:?}: what the customer (and the colleague) reads is the agent's text"
        );
        e.assert_no_marker_upstream();
        // Linked, so the next pulls add nothing.
        ok(&e.sync().await, v);
        assert_eq!(e.local_count(reply), (1, 1), "{v:?}");
        assert_eq!(e.local_count(note), (1, 1), "{v:?}");
        assert!(e.outbox_settled(), "{v:?}");
    }
}

#[tokio::test]
async fn a_reply_whose_answer_was_lost_after_the_upstream_stored_it_lands_once() {
    for v in ALL {
        let e = Env::new(v).await;
        let reply = "Please try again now.";
        e.comment(Visibility::Public, reply);
        e.fail_writes(Fault::DropAfterCommit, 1);
        let r = e.sync().await;
        ok(&r, v);
        assert_eq!(e.faults().fired().len(), 1, "{v:?}: the answer was lost");
        assert_eq!(r.pushed, 1, "{v:?}");
        assert_eq!(e.upstream_count(reply), 1, "{v:?}: found, not sent again");
        e.assert_no_marker_upstream();
        ok(&e.sync().await, v);
        assert_eq!(e.local_count(reply), (1, 1), "{v:?}");
        assert!(e.outbox_settled(), "{v:?}");
    }
}

#[tokio::test]
async fn a_reply_dropped_before_the_upstream_stored_it_is_posted_on_retry() {
    for v in ALL {
        let e = Env::new(v).await;
        let reply = "We replaced the toner.";
        e.comment(Visibility::Public, reply);
        e.fail_writes(Fault::DropBeforeCommit, 1);
        let r = e.sync().await;
        ok(&r, v);
        assert_eq!(e.faults().fired().len(), 1, "{v:?}");
        assert_eq!(
            e.upstream_count(reply),
            1,
            "{v:?}: not found, so sent again"
        );
        e.assert_no_marker_upstream();
        ok(&e.sync().await, v);
        assert_eq!(e.local_count(reply), (1, 1), "{v:?}");
        assert!(e.outbox_settled(), "{v:?}");
    }
}

/// Three operations with the same text, each landing once: the lookup of one never takes the
/// comment of another (lost answer after the commit, then before, then a clean send).
#[tokio::test]
async fn the_same_text_sent_three_times_lands_three_times() {
    for v in ALL {
        let e = Env::new(v).await;
        let text = "Thanks, checking now.";
        for _ in 0..3 {
            e.comment(Visibility::Public, text);
        }
        // Op 1: stored, answer lost (found). Op 2: dropped before (not found: op 1's comment
        // must not count), then stored with the answer lost (found). Op 3: clean.
        e.fail_writes(Fault::DropAfterCommit, 1);
        e.fail_writes(Fault::DropBeforeCommit, 1);
        e.fail_writes(Fault::DropAfterCommit, 1);
        let r = e.sync().await;
        ok(&r, v);
        assert_eq!(e.faults().fired().len(), 3, "{v:?}");
        assert_eq!(r.pushed, 3, "{v:?}");
        assert_eq!(e.upstream_count(text), 3, "{v:?}: once each");
        e.assert_no_marker_upstream();
        ok(&e.sync().await, v);
        assert_eq!(
            e.local_count(text),
            (3, 3),
            "{v:?}: three local comments, each linked to its own"
        );
        assert!(e.outbox_settled(), "{v:?}");
    }
}

/// While an operation's outcome is unknown (its lookups failed too), a pull sees the comment
/// upstream without any marker: it must not show it beside the local one; the next push
/// confirms and links it.
#[tokio::test]
async fn a_pull_while_the_outcome_is_unknown_does_not_show_the_reply_twice() {
    for v in ALL {
        let e = Env::new(v).await;
        let before = e.store.ticket(e.local).unwrap().comments.len();
        let reply = "Rebooted the switch, please check.";
        e.comment(Visibility::Public, reply);
        e.comment_upstream(Who::Colleague, true, "Customer called again.");
        e.fail_writes(Fault::DropAfterCommit, 1);
        // Every lookup of this push fails (the engine tries 5 times in all).
        let (m, p, skip) = e.comment_lookup();
        e.faults()
            .add(FaultRule::new(m, p, Fault::Status(500)).skip(skip).times(4));
        let r = e.sync().await;
        assert_eq!(r.unknown, 1, "{v:?}: {r:?}");
        assert_eq!(e.upstream_count(reply), 1, "{v:?}");
        // The pull of that sync saw it and left it to the push; the colleague's comment came.
        assert_eq!(e.local_count(reply), (1, 0), "{v:?}: not shown twice");
        assert_eq!(
            e.local_count("Customer called again."),
            (1, 1),
            "{v:?}: {r:?}"
        );
        let r = e.sync().await;
        ok(&r, v);
        assert_eq!(e.upstream_count(reply), 1, "{v:?}: found, not sent again");
        assert_eq!(e.local_count(reply), (1, 1), "{v:?}: linked");
        assert_eq!(
            e.store.ticket(e.local).unwrap().comments.len(),
            before + 2,
            "{v:?}"
        );
        e.assert_no_marker_upstream();
        assert!(e.outbox_settled(), "{v:?}");
    }
}

/// A colleague posts the very same text while the agent's operation has no answer (it never
/// landed): the lookup must not take the colleague's comment for the agent's (that would lose
/// the agent's reply), and the pull must show the colleague's once it is settled.
#[tokio::test]
async fn a_colleagues_identical_reply_is_neither_taken_for_ours_nor_hidden() {
    for v in [V::Sn, V::SnOAuth, V::Jira, V::Zd] {
        let e = Env::new(v).await;
        let text = "Thanks";
        e.comment(Visibility::Public, text);
        e.fail_writes(Fault::DropBeforeCommit, 5);
        let r = e.sync().await;
        assert_eq!(r.unknown, 1, "{v:?}: never landed, outcome unknown");
        assert_eq!(e.upstream_count(text), 0, "{v:?}");
        e.comment_upstream(Who::Colleague, true, text);
        // A pull meanwhile leaves the colleague's comment aside (it might have been ours).
        ok(&e.pull_only().await, v);
        assert_eq!(e.local_count(text), (1, 0), "{v:?}");
        let r = e.sync().await;
        ok(&r, v);
        let up = e.upstream_comments();
        assert_eq!(
            up.iter().filter(|c| c.body == text).count(),
            2,
            "{v:?}: the agent's reply was posted: {up:?}"
        );
        assert_eq!(
            up.iter().filter(|c| c.body == text && c.by_us).count(),
            1,
            "{v:?}"
        );
        assert_eq!(
            e.local_count(text),
            (2, 2),
            "{v:?}: ours linked, the colleague's shown"
        );
        if v == V::SnOAuth {
            let Fake::Sn(f) = &e.fake else { unreachable!() };
            assert_eq!(
                f.requests().count("GET", "api/now/table/sys_user"),
                1,
                "the signed-in user's name is looked up once"
            );
        }
        e.assert_no_marker_upstream();
        assert!(e.outbox_settled(), "{v:?}");
    }
}

/// The agent wrote the same text in the vendor's UI, after the last pull, before Casebook's
/// first send: the entry already there is not this operation's (ServiceNow: the baseline).
#[tokio::test]
async fn an_identical_comment_already_upstream_is_not_taken_for_ours() {
    for v in ALL {
        let e = Env::new(v).await;
        let text = "Looking into it.";
        e.comment_upstream(Who::Us, true, text);
        e.comment(Visibility::Public, text);
        e.fail_writes(Fault::DropBeforeCommit, 1);
        let r = e.sync().await;
        ok(&r, v);
        assert_eq!(
            e.upstream_count(text),
            2,
            "{v:?}: the operation's own was posted"
        );
        ok(&e.sync().await, v);
        assert_eq!(e.local_count(text), (2, 2), "{v:?}");
        e.assert_no_marker_upstream();
        assert!(e.outbox_settled(), "{v:?}");
    }
}

/// Upgrading: a comment pushed by an earlier version still carries its marker line upstream.
/// It is shown without it, and an operation queued before the upgrade whose outcome was unknown
/// is recognized by it (not sent again).
#[tokio::test]
async fn marker_lines_of_earlier_versions_are_hidden_and_still_recognized() {
    for v in ALL {
        let e = Env::new(v).await;
        let text = "Replaced the reader.";
        e.comment(Visibility::Public, text);
        let op = e.store.sync_ops(None).unwrap()[0].clone();
        // The earlier version sent it (marker line and all) and was killed before the answer.
        let marker = e.store.outbox_begin(op.id, e.clock.now()).unwrap();
        e.comment_upstream(Who::Us, true, &embed_marker(text, &marker));
        e.store.recover_in_flight(e.clock.now()).unwrap();
        assert_eq!(
            e.store.sync_op(op.id).unwrap().status,
            OutboxStatus::Unknown
        );
        // And a colleague's old Casebook pushed one with its own marker.
        e.comment_upstream(
            Who::Colleague,
            true,
            &embed_marker("Swapped the dock.", "0ther-77"),
        );
        let r = e.sync().await;
        ok(&r, v);
        assert_eq!(r.pushed, 1, "{v:?}");
        assert_eq!(e.upstream_comments().len(), 2, "{v:?}: nothing sent again");
        assert_eq!(e.local_count(text), (1, 1), "{v:?}");
        assert_eq!(
            e.local_count("Swapped the dock."),
            (1, 1),
            "{v:?}: shown without the marker line"
        );
        let d = e.store.ticket(e.local).unwrap();
        assert!(
            d.comments.iter().all(|c| !c.body.contains("casebook-op")),
            "{v:?}: {:?}",
            d.comments
        );
        assert!(e.outbox_settled(), "{v:?}");
    }
}

/// An account without read access to `sys_journal_field` gets `200 {"result": []}` there. A
/// comment whose PATCH was answered is stored: it is never sent again because its entry cannot
/// be read back (before, every sync posted it up to five more times).
#[tokio::test]
async fn servicenow_a_stored_comment_is_not_sent_again_when_the_journal_cannot_be_read() {
    let e = Env::new(V::Sn).await;
    let Fake::Sn(f) = &e.fake else { unreachable!() };
    f.with_state(|s| s.journal_readable = false);
    let reply = "We have ordered a new dock.";
    e.comment(Visibility::Public, reply);
    for _ in 0..3 {
        ok(&e.sync().await, e.v);
    }
    assert_eq!(e.upstream_count(reply), 1);
    assert!(e.outbox_settled());
    assert_eq!(e.local_count(reply), (1, 1));
    e.assert_no_marker_upstream();
}
