//! The Jira Service Management connector against the fake Jira (tests/fakes) with faults between
//! them: `/search/jql` pagination and incremental pulls with epoch-ms JQL, conflict detection by
//! re-reading `updated`, exactly-once comments and creations across a connection dropped after
//! the upstream committed, 429 + Retry-After, truncated / malformed JSON, an HTML login page, an
//! expired token and a ticket deleted upstream.

use casebook_core::connection::{
    AuthMethod, Connection, ConnectionStatus, SecretKind, Vendor, secret_name,
};
use casebook_core::model::{Priority, TicketState, Visibility};
use casebook_core::secrets::{MemorySecretStore, SecretStore, SecretValue};
use casebook_core::{Clock, FixedClock};
use casebook_fakes::Fault;
use casebook_fakes::jira::{self, JiraFake, NewIssue};
use casebook_sync::connector::{Connector, UpdateOutcome};
use casebook_sync::error::SyncError;
use casebook_sync::jira::Jira;
use casebook_sync::model::{
    Cursor, Field, FieldValues, NewComment, NewRemoteTicket, RemoteFields, TicketRef,
};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

const EMAIL: &str = "ana@example.test";
const TOKEN: &str = "jira-api-token-S3CRET-4242";
const SEARCH: &str = "/rest/api/3/search/jql";
const COMMENT: &str = "/rest/api/3/issue/*/comment";

fn connection(base: &str) -> Connection {
    Connection {
        id: 7,
        vendor: Vendor::Jira,
        name: "Acme JSM".into(),
        base_url: base.to_owned(),
        auth_method: AuthMethod::Basic,
        username: Some(EMAIL.into()),
        oauth_client_id: None,
        mirror_scope: vec!["HD".into()],
        kb_spaces: vec![],
        status: ConnectionStatus::SignedIn,
        status_detail: None,
        account_name: None,
        capabilities: Vec::new(),
        access_expires_at: None,
        created_at: 0,
        updated_at: 0,
    }
}

async fn setup() -> (JiraFake, Jira) {
    let fake = jira::start().await.unwrap();
    fake.accept_only(EMAIL, TOKEN);
    let conn = connection(&fake.base_url());
    let secrets = Arc::new(MemorySecretStore::new());
    secrets
        .set(
            &secret_name(conn.id, SecretKind::Password),
            &SecretValue::new(TOKEN),
        )
        .unwrap();
    let http = casebook_sync::http::client(&casebook_sync::http::HttpConfig {
        extra_roots_pem: vec![],
        timeout: Some(Duration::from_secs(10)),
    })
    .unwrap();
    let clock = Arc::new(FixedClock::new(jira::T0_MS));
    let tm = crate::support::token_manager(secrets, &clock, &http);
    (fake, Jira::new(http, tm, conn))
}

fn tref(key: &str, fake: &JiraFake) -> TicketRef {
    let i = fake.issue(key).unwrap();
    TicketRef {
        upstream_id: i.id.to_string(),
        key: key.to_owned(),
        scope: "HD".into(),
    }
}

/// Pulls until the connector says there is nothing more; returns (tickets seen, last cursor).
async fn pull_all(
    c: &Jira,
    from: Option<Cursor>,
) -> (Vec<casebook_sync::model::RemoteTicket>, Cursor) {
    let mut cursor = from;
    let mut seen = Vec::new();
    for _ in 0..100 {
        let page = c.pull_tickets("HD", cursor.as_ref(), 40).await.unwrap();
        seen.extend(page.tickets);
        cursor = Some(page.next);
        if !page.has_more {
            break;
        }
    }
    (seen, cursor.unwrap())
}

#[tokio::test]
async fn pages_through_search_jql_and_pulls_only_changes_afterwards() {
    let (fake, c) = setup().await;
    for n in 0..130 {
        let mut i = NewIssue::new("HD", &format!("Ticket {n}"));
        i.labels = vec!["vpn".into()];
        fake.seed(i);
        fake.advance(20_000);
    }
    fake.seed(NewIssue::new("OPS", "Not mirrored"));
    let (first, cursor) = pull_all(&c, None).await;
    let ids: HashSet<_> = first.iter().map(|t| t.upstream_id.clone()).collect();
    assert_eq!(ids.len(), 130, "every HD issue pulled, none of OPS");
    // The removed endpoint was never called; every query bounded by epoch milliseconds.
    assert_eq!(fake.requests().count("*", "/rest/api/3/search"), 0);
    let searches = fake.requests().matching("POST", SEARCH);
    assert!(searches.len() >= 4, "paged: {} searches", searches.len());
    for r in &searches {
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        let jql = body["jql"].as_str().unwrap();
        assert!(jql.starts_with("project = \"HD\" AND updated >= "), "{jql}");
        let ms = jql["project = \"HD\" AND updated >= ".len()..]
            .split_whitespace()
            .next()
            .unwrap();
        assert!(ms.parse::<i64>().is_ok(), "epoch ms, not a datetime: {jql}");
    }
    // Versions and times come from the +1100 timestamps with milliseconds.
    let sample = fake.issue(&first[0].key).unwrap();
    assert_eq!(first[0].version.updated_at, sample.updated);
    assert_eq!(first[0].created_at, sample.created);
    assert_eq!(first[0].fields.tags, vec!["vpn".to_owned()]);
    assert!(
        first[0].extra["sla"].is_array(),
        "open requests carry their SLA"
    );

    // Another agent changes two issues ten minutes later: the next pull brings them (and only a
    // small overlap), with their new versions.
    fake.advance(600_000);
    fake.edit_as_other("HD-3", |i| {
        i.summary = "VPN down for the whole floor".into()
    });
    fake.comment_as_other("HD-77", "Customer called again", true);
    let (second, _) = pull_all(&c, Some(cursor)).await;
    assert!(
        second.len() < 20,
        "incremental, not a full pull: {}",
        second.len()
    );
    let hd3 = second.iter().find(|t| t.key == "HD-3").unwrap();
    assert_eq!(hd3.fields.title, "VPN down for the whole floor");
    let hd77 = second.iter().find(|t| t.key == "HD-77").unwrap();
    assert_eq!(hd77.comments.len(), 1);
    assert_eq!(hd77.comments[0].visibility, Visibility::Public);
}

#[tokio::test]
async fn a_page_spoiled_in_transit_is_an_error_and_the_same_cursor_works_afterwards() {
    let (fake, c) = setup().await;
    for n in 0..5 {
        fake.seed(NewIssue::new("HD", &format!("T{n}")));
    }
    let cases = [
        (Fault::TruncatedJson, "malformed_json"),
        (Fault::MalformedJson, "malformed_json"),
        (Fault::CutMidBody, "malformed_json"),
        (Fault::HtmlLogin, "html_instead_of_json"),
        (Fault::Unauthorized, "auth_expired"),
        (Fault::Status(502), "http_status"),
        (
            Fault::RateLimited {
                retry_after_secs: 7,
            },
            "rate_limited",
        ),
    ];
    for (fault, kind) in cases {
        fake.faults().once("POST", SEARCH, fault.clone());
        let e = c.pull_tickets("HD", None, 50).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{fault:?} gave {e}");
        if let Fault::RateLimited { .. } = fault {
            assert_eq!(
                e,
                SyncError::RateLimited {
                    retry_after: Some(Duration::from_secs(7))
                }
            );
        }
    }
    // The connector holds no state: the same (absent) cursor pulls the whole page now.
    let page = c.pull_tickets("HD", None, 50).await.unwrap();
    assert_eq!(page.tickets.len(), 5);
    assert!(!page.has_more);
}

#[tokio::test]
async fn a_colleagues_edit_is_detected_by_rereading_updated_and_nothing_is_written() {
    let (fake, c) = setup().await;
    let key = fake.seed(NewIssue::new("HD", "Printer offline"));
    let r = tref(&key, &fake);
    let base = c.fetch_ticket(&r).await.unwrap();
    assert_eq!(base.fields.state, TicketState::New);

    fake.edit_as_other(&key, |i| i.summary = "Printer offline on floor 3".into());
    let mut changes = FieldValues::new();
    changes.insert(Field::Priority, json!("high"));
    changes.insert(Field::State, json!("resolved"));
    match c.update_fields(&r, &base.version, &changes).await.unwrap() {
        UpdateOutcome::Moved(theirs) => {
            assert_eq!(theirs.fields.title, "Printer offline on floor 3");
            assert_ne!(theirs.version, base.version);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let untouched = fake.issue(&key).unwrap();
    assert_eq!(
        untouched.priority, "Medium",
        "nothing written on a conflict"
    );
    assert_eq!(untouched.status, "Waiting for support");

    // On the new base the write goes through: priority by PUT, status by a transition.
    let now = c.fetch_ticket(&r).await.unwrap();
    let applied = match c.update_fields(&r, &now.version, &changes).await.unwrap() {
        UpdateOutcome::Applied(v) => v,
        other => panic!("expected applied, got {other:?}"),
    };
    let after = fake.issue(&key).unwrap();
    assert_eq!(after.priority, "High");
    assert_eq!(after.status, "Resolved");
    assert_eq!(applied.updated_at, after.updated);
    assert_eq!(
        fake.requests()
            .count("POST", "/rest/api/3/issue/*/transitions"),
        1
    );

    // A 409 "conflicting update" from Jira itself is also a conflict, not an error.
    fake.faults()
        .once("PUT", "/rest/api/3/issue/*", Fault::Status(409));
    let mut more = FieldValues::new();
    more.insert(Field::Priority, json!("low"));
    let out = c.update_fields(&r, &applied, &more).await.unwrap();
    assert!(matches!(out, UpdateOutcome::Moved(_)), "{out:?}");
}

#[tokio::test]
async fn a_comment_whose_answer_was_lost_is_found_and_never_duplicated() {
    let (fake, c) = setup().await;
    let key = fake.seed(NewIssue::new("HD", "Mail bounces"));
    let r = tref(&key, &fake);
    let note = NewComment::new(Visibility::Internal, "Checked MX records", "ws1-op-17");
    // The upstream stores the comment, then the connection drops before the answer.
    fake.faults().once("POST", COMMENT, Fault::DropAfterCommit);
    let e = c.add_comment(&r, &note).await.unwrap_err();
    assert_eq!(e.kind(), "unknown_outcome", "{e}");
    // What the engine does next: look for the marker before writing again.
    let found = c.find_comment(&r, &note).await.unwrap().unwrap();
    assert_eq!(found.body, "Checked MX records");
    assert_eq!(found.visibility, Visibility::Internal);
    assert_eq!(found.marker.as_deref(), Some("ws1-op-17"));
    let stored = fake.comments(&key);
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].public, "an internal note");
    assert_eq!(
        stored[0].body, "Checked MX records",
        "the text is the agent's only"
    );
    assert_eq!(
        stored[0].properties["casebook.op"],
        json!({ "marker": "ws1-op-17" }),
        "the marker is a comment property"
    );

    // Dropped before the upstream committed: not found, so the retry writes it exactly once.
    let reply = NewComment::new(Visibility::Public, "We are on it", "ws1-op-18");
    fake.faults().once("POST", COMMENT, Fault::DropBeforeCommit);
    assert_eq!(
        c.add_comment(&r, &reply).await.unwrap_err().kind(),
        "unknown_outcome"
    );
    assert!(c.find_comment(&r, &reply).await.unwrap().is_none());
    let added = c.add_comment(&r, &reply).await.unwrap();
    assert_eq!(added.marker.as_deref(), Some("ws1-op-18"));
    assert_eq!(added.visibility, Visibility::Public);
    assert_eq!(fake.comments_containing(&key, "We are on it"), 1);
    // A slow answer past the client's timeout: also unknown, also found.
    fake.faults()
        .once("POST", COMMENT, Fault::Slow(Duration::from_secs(12)));
    let late = NewComment::new(Visibility::Public, "Late", "ws1-op-19");
    assert_eq!(
        c.add_comment(&r, &late).await.unwrap_err().kind(),
        "unknown_outcome"
    );
    assert!(c.find_comment(&r, &late).await.unwrap().is_some());
    assert_eq!(fake.comments_containing(&key, "Late"), 1);
    assert_eq!(fake.comments_containing(&key, "casebook-op"), 0);
}

#[tokio::test]
async fn a_creation_whose_answer_was_lost_is_found_by_its_marker() {
    let (fake, c) = setup().await;
    let new = NewRemoteTicket {
        scope: "HD".into(),
        fields: RemoteFields {
            title: "New laptop for Dee".into(),
            description: "Starts Monday".into(),
            state: TicketState::New,
            state_raw: None,
            priority: Priority::High,
            priority_raw: None,
            assignee: None,
            assignment_group: None,
            requester: None,
            organization: None,
            tags: vec!["hardware".into()],
        },
        marker: "ws1-op-40".into(),
    };
    fake.faults()
        .once("POST", "/rest/api/3/issue", Fault::DropAfterCommit);
    assert_eq!(
        c.create_ticket(&new).await.unwrap_err().kind(),
        "unknown_outcome"
    );
    let found = c.find_created("HD", "ws1-op-40").await.unwrap().unwrap();
    assert_eq!(found.fields.title, "New laptop for Dee");
    assert_eq!(
        found.fields.tags,
        vec!["hardware".to_owned()],
        "marker label hidden"
    );
    assert_eq!(found.fields.priority, Priority::High);
    assert_eq!(
        fake.issues_with_property("casebook.op", &json!({ "marker": "ws1-op-40" })),
        1
    );
    assert!(c.find_created("HD", "ws1-op-41").await.unwrap().is_none());
}

/// Every id of a complete listing, page after page as the deletion sweep walks it, and how
/// many pages it took.
async fn listed_ids(c: &Jira, scope: &str, limit: usize) -> (Vec<String>, usize) {
    let (mut ids, mut pages, mut cursor) = (Vec::new(), 0, None);
    loop {
        let page = c
            .list_ids_page(scope, cursor.as_ref(), limit)
            .await
            .unwrap();
        pages += 1;
        ids.extend(page.ids);
        match page.next {
            Some(n) => cursor = Some(n),
            None => return (ids, pages),
        }
    }
}

#[tokio::test]
async fn a_deleted_issue_is_not_found_and_leaves_the_id_sweep() {
    let (fake, c) = setup().await;
    let a = fake.seed(NewIssue::new("HD", "A"));
    let b = fake.seed(NewIssue::new("HD", "B"));
    let rb = tref(&b, &fake);
    let (ids, _) = listed_ids(&c, "HD", 5000).await;
    assert_eq!(ids.len(), 2);
    fake.delete(&b);
    let e = c.fetch_ticket(&rb).await.unwrap_err();
    assert_eq!(e.kind(), "not_found", "{e}");
    let (ids, _) = listed_ids(&c, "HD", 5000).await;
    assert_eq!(ids, vec![fake.issue(&a).unwrap().id.to_string()]);
}

/// Issue ids crossing a digit boundary (9999 → 10000) come a page at a time in numeric order,
/// the order the sweep merges in (as text, "10000" would sort before "9999").
#[tokio::test]
async fn ids_are_listed_a_page_at_a_time_in_numeric_order() {
    let (fake, c) = setup().await;
    fake.with_state(|s| s.next_id = 9_995);
    for n in 0..11 {
        fake.seed(NewIssue::new("HD", &format!("Issue {n}")));
    }
    let (ids, pages) = listed_ids(&c, "HD", 3).await;
    assert_eq!(pages, 4);
    let numeric: Vec<String> = (9_995..10_006).map(|n: u64| n.to_string()).collect();
    assert_eq!(ids, numeric);
    let mut by_sweep = ids.clone();
    by_sweep.sort_by(|a, b| casebook_core::store::sweep_order(a, b));
    assert_eq!(by_sweep, ids);
}

#[tokio::test]
async fn an_expired_token_mid_sync_asks_to_sign_in_again() {
    let (fake, c) = setup().await;
    let key = fake.seed(NewIssue::new("HD", "A"));
    let r = tref(&key, &fake);
    c.fetch_ticket(&r).await.unwrap();
    fake.accept_only(EMAIL, "a-rotated-token");
    let e = c.fetch_ticket(&r).await.unwrap_err();
    assert_eq!(e.kind(), "auth_expired");
    assert!(!e.to_string().contains(TOKEN), "no secret in the message");
}

/// The sync engine (store, outbox, conflict inbox) driving the Jira connector end to end.
mod engine {
    use super::*;
    use casebook_core::connection::NewConnection;
    use casebook_core::model::TicketPatch;
    use casebook_core::store::{Actor, Origin};
    use casebook_core::{OpenMode, Store};
    use casebook_sync::backoff::RecordingSleeper;
    use casebook_sync::engine::{SyncOptions, SyncReport};

    struct Env {
        _dir: tempfile::TempDir,
        store: Arc<Store>,
        fake: JiraFake,
        clock: Arc<FixedClock>,
        connector: Arc<Jira>,
        conn_id: i64,
    }

    async fn env() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            Store::open(&dir.path().join("casebook.db"), OpenMode::CreateIfMissing).unwrap(),
        );
        let fake = jira::start().await.unwrap();
        fake.accept_only(EMAIL, TOKEN);
        let valid = casebook_core::connection::validate_new(&NewConnection {
            vendor: Vendor::Jira,
            name: "Acme JSM".into(),
            instance: fake.base_url(),
            auth_method: AuthMethod::Basic,
            username: Some(EMAIL.into()),
            oauth_client_id: None,
            mirror_scope: Some(vec!["HD".into()]),
        })
        .unwrap();
        let conn = store.add_connection(&valid, jira::T0_MS).unwrap();
        let secrets = Arc::new(MemorySecretStore::new());
        secrets
            .set(
                &secret_name(conn.id, SecretKind::Password),
                &SecretValue::new(TOKEN),
            )
            .unwrap();
        let http = casebook_sync::http::client(&casebook_sync::http::HttpConfig {
            extra_roots_pem: vec![],
            timeout: Some(Duration::from_secs(10)),
        })
        .unwrap();
        let clock = Arc::new(FixedClock::new(jira::T0_MS + 3_600_000));
        let tm = crate::support::token_manager(secrets, &clock, &http);
        let connector = Arc::new(Jira::new(http, tm, conn.clone()));
        Env {
            _dir: dir,
            store,
            fake,
            clock,
            connector,
            conn_id: conn.id,
        }
    }

    impl Env {
        async fn sync(&self) -> SyncReport {
            crate::support::engine(
                &self.store,
                Arc::clone(&self.connector) as Arc<dyn Connector>,
                self.conn_id,
                &self.clock,
                RecordingSleeper::new(Arc::clone(&self.clock)),
                SyncOptions {
                    page_size: 7,
                    ..Default::default()
                },
            )
            .run()
            .await
        }

        fn agent(&self) -> Actor<'static> {
            Actor {
                name: "ana",
                origin: Origin::App,
                now: self.clock.now(),
            }
        }
    }

    /// Issues 9995..=10006, listed three at a time: the ones deleted at both ends, on both
    /// sides of the digit boundary (9999 | 10000) and of a page boundary are marked, exactly
    /// those.
    #[tokio::test]
    async fn the_sweep_marks_exactly_the_deleted_issues_across_pages_and_digit_boundaries() {
        let e = env().await;
        e.fake.with_state(|s| s.next_id = 9_995);
        let keys: Vec<String> = (0..12)
            .map(|n| e.fake.seed(NewIssue::new("HD", &format!("Request {n}"))))
            .collect();
        let r = e.sync().await;
        assert!(r.errors.is_empty() && r.stopped.is_none(), "{r:?}");
        assert_eq!(r.tickets_created, 12);
        // ids 9995, 9997 | 9998, 9999, 10000 | 10001 (pages of three), 10006
        let gone = [0usize, 2, 3, 4, 5, 6, 11];
        for &i in &gone {
            e.fake.delete(&keys[i]);
        }
        let r = crate::support::engine(
            &e.store,
            Arc::clone(&e.connector) as Arc<dyn Connector>,
            e.conn_id,
            &e.clock,
            RecordingSleeper::new(Arc::clone(&e.clock)),
            crate::support::sweep_only(3),
        )
        .run()
        .await;
        assert!(r.errors.is_empty() && r.stopped.is_none(), "{r:?}");
        assert_eq!(r.swept, vec!["HD".to_owned()]);
        assert_eq!(r.marked_deleted, gone.len() as u64);
        for (i, key) in keys.iter().enumerate() {
            let local = e.store.resolve_key(key).unwrap();
            let is_marked = e
                .store
                .deleted_upstream_at(local)
                .unwrap()
                .unwrap()
                .is_some();
            assert_eq!(is_marked, gone.contains(&i), "{key}");
        }
    }

    #[tokio::test]
    async fn pull_push_exactly_once_and_a_concurrent_edit_in_the_inbox() {
        let e = env().await;
        for n in 0..12 {
            e.fake.seed(NewIssue::new("HD", &format!("Request {n}")));
            e.fake.advance(30_000);
        }
        let r = e.sync().await;
        assert!(r.errors.is_empty() && r.stopped.is_none(), "{r:?}");
        assert_eq!(r.tickets_created, 12);

        let l2 = e.store.resolve_key("HD-2").unwrap();
        let l5 = e.store.resolve_key("HD-5").unwrap();
        e.store
            .add_comment(l2, Visibility::Public, "Rebooted the router", &e.agent())
            .unwrap();
        let patch = TicketPatch {
            priority: Some(Priority::Critical),
            state: Some(TicketState::Resolved),
            ..Default::default()
        };
        e.store.update_ticket(l5, None, &patch, &e.agent()).unwrap();
        e.fake.edit_as_other("HD-5", |i| i.priority = "Low".into());
        e.fake
            .faults()
            .once("POST", COMMENT, Fault::DropAfterCommit);
        let r = e.sync().await;
        assert_eq!(r.conflicts, 1, "{r:?}");
        assert_eq!(e.fake.comments_containing("HD-2", "Rebooted the router"), 1);
        let hd5 = e.fake.issue("HD-5").unwrap();
        assert_eq!(hd5.priority, "Low", "theirs not overwritten");
        assert_eq!(
            hd5.status, "Resolved",
            "the field only I changed was pushed"
        );
        let inbox = e.store.conflicts_open(None).unwrap();
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].field, "priority");
        let _ = e.sync().await;
        assert_eq!(e.fake.comments_containing("HD-2", "Rebooted the router"), 1);
    }
}
