//! The Zendesk connector against the fake Zendesk (tests/fakes) with faults between them: the
//! incremental cursor export (admins) and the search export (agents) chosen from the connection
//! test, `safe_update` 409s, exactly-once comments and creations across a connection dropped after
//! the upstream committed, 429 + Retry-After, truncated / malformed JSON, an HTML login page, an
//! expired token, deleted tickets and Help Center articles.

use casebook_core::connection::{
    AuthMethod, Connection, ConnectionStatus, SecretKind, Vendor, secret_name,
};
use casebook_core::model::{Priority, TicketState, Visibility};
use casebook_core::secrets::{MemorySecretStore, SecretStore};
use casebook_core::{Clock, FixedClock};
use casebook_fakes::Fault;
use casebook_fakes::zendesk::{self, NewTicket, ZendeskFake};
use casebook_sync::auth::oauth::TokenSet;
use casebook_sync::connector::{Connector, UpdateOutcome};
use casebook_sync::error::SyncError;
use casebook_sync::model::{
    Cursor, Field, FieldValues, NewComment, NewRemoteTicket, RemoteFields, RemoteTicket, TicketRef,
};
use casebook_sync::zendesk::{Zendesk, ZendeskExport};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

const ACCESS: &str = "zd-access-S3CRET-1234";
const INCREMENTAL: &str = "/api/v2/incremental/tickets/cursor.json";
const TICKET: &str = "/api/v2/tickets/*";

fn connection(base: &str) -> Connection {
    Connection {
        id: 9,
        vendor: Vendor::Zendesk,
        name: "Acme Zendesk".into(),
        base_url: base.to_owned(),
        auth_method: AuthMethod::OAuth,
        username: None,
        oauth_client_id: Some("casebook".into()),
        mirror_scope: vec!["tickets".into()],
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

async fn setup(export: ZendeskExport) -> (ZendeskFake, Zendesk) {
    let fake = zendesk::start().await.unwrap();
    fake.accept_only(ACCESS);
    let conn = connection(&fake.base_url());
    let secrets = Arc::new(MemorySecretStore::new());
    let tokens = TokenSet {
        access_token: casebook_core::secrets::SecretValue::new(ACCESS),
        refresh_token: None,
        expires_at: None,
    };
    secrets
        .set(
            &secret_name(conn.id, SecretKind::OAuthTokens),
            &tokens.to_secret(),
        )
        .unwrap();
    let http = casebook_sync::http::client(&casebook_sync::http::HttpConfig {
        extra_roots_pem: vec![],
        timeout: Some(Duration::from_secs(10)),
    })
    .unwrap();
    let clock = Arc::new(FixedClock::new(zendesk::T0_SECS * 1000));
    let tm = crate::support::token_manager(secrets, &clock, &http);
    (fake, Zendesk::new(http, tm, conn, export))
}

fn tref(id: u64) -> TicketRef {
    TicketRef {
        upstream_id: id.to_string(),
        key: format!("#{id}"),
        scope: "tickets".into(),
    }
}

async fn pull_all(c: &Zendesk, from: Option<Cursor>) -> (Vec<RemoteTicket>, Vec<String>, Cursor) {
    let mut cursor = from;
    let (mut seen, mut deleted) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        let page = c
            .pull_tickets("tickets", cursor.as_ref(), 40)
            .await
            .unwrap();
        seen.extend(page.tickets);
        deleted.extend(page.deleted);
        cursor = Some(page.next);
        if !page.has_more {
            break;
        }
    }
    (seen, deleted, cursor.unwrap())
}

#[tokio::test]
async fn admins_pull_with_the_incremental_export_and_see_edits_and_deletions() {
    let (fake, c) = setup(ZendeskExport::Incremental).await;
    for n in 0..100 {
        fake.seed(NewTicket::new(&format!("Ticket {n}"), "First message"));
    }
    fake.advance(120);
    let (first, deleted, cursor) = pull_all(&c, None).await;
    assert_eq!(first.len(), 100);
    assert!(deleted.is_empty());
    assert_eq!(fake.requests().count("GET", INCREMENTAL), 3, "40 + 40 + 20");
    assert_eq!(first[0].comments.len(), 1, "comments come with each ticket");
    assert_eq!(first[0].version.token, "2024-03-01T09:00:01Z");
    assert_eq!(first[0].version.updated_at, (zendesk::T0_SECS + 1) * 1000);

    fake.edit_as_other(5, |t| t.status = "pending".into());
    fake.comment_as_other(6, "Internal: waiting on vendor", false);
    fake.delete(7);
    fake.advance(120);
    let (second, deleted, _) = pull_all(&c, Some(cursor)).await;
    let keys: HashSet<_> = second.iter().map(|t| t.upstream_id.as_str()).collect();
    assert_eq!(keys, HashSet::from(["5", "6"]), "only what changed");
    assert_eq!(deleted, vec!["7".to_owned()]);
    let t5 = second.iter().find(|t| t.upstream_id == "5").unwrap();
    assert_eq!(t5.fields.state, TicketState::Pending);
    let t6 = second.iter().find(|t| t.upstream_id == "6").unwrap();
    assert_eq!(t6.comments[1].visibility, Visibility::Internal);
}

#[tokio::test]
async fn agents_pull_with_the_search_export_and_never_touch_the_admin_export() {
    let (fake, c) = setup(ZendeskExport::Search).await;
    fake.set_role("agent");
    for n in 0..50 {
        fake.seed(NewTicket::new(&format!("Ticket {n}"), "Hello"));
        // Ten seconds apart: the one-minute overlap re-reads only the last few.
        fake.advance(10);
    }
    let (first, _, cursor) = pull_all(&c, None).await;
    assert_eq!(first.len(), 50);
    assert_eq!(fake.requests().count("*", INCREMENTAL), 0);
    assert!(fake.requests().count("GET", "/api/v2/search/export.json") >= 2);

    fake.advance(3600);
    fake.edit_as_other(3, |t| t.subject = "Renamed by Bo".into());
    let (second, _, _) = pull_all(&c, Some(cursor)).await;
    let t3 = second.iter().find(|t| t.upstream_id == "3").unwrap();
    assert_eq!(t3.fields.title, "Renamed by Bo");
    assert!(second.len() < 50, "incremental: {}", second.len());

    // The admin export is refused to agents — why the connection test decides.
    let (fake2, admin_mode) = setup(ZendeskExport::Incremental).await;
    fake2.set_role("agent");
    let e = admin_mode
        .pull_tickets("tickets", None, 10)
        .await
        .unwrap_err();
    assert!(matches!(e, SyncError::HttpStatus { code: 403, .. }), "{e}");
}

#[tokio::test]
async fn safe_update_conflicts_are_reported_as_moved_and_write_nothing() {
    let (fake, c) = setup(ZendeskExport::Incremental).await;
    let id = fake.seed(NewTicket::new("Mail bounces", "Since Monday"));
    let base = c.fetch_ticket(&tref(id)).await.unwrap();
    fake.edit_as_other(id, |t| t.priority = Some("urgent".into()));

    let mut changes = FieldValues::new();
    changes.insert(Field::State, json!("on_hold"));
    changes.insert(Field::Tags, json!(["mail"]));
    match c
        .update_fields(&tref(id), &base.version, &changes)
        .await
        .unwrap()
    {
        UpdateOutcome::Moved(theirs) => {
            assert_eq!(theirs.fields.priority, Priority::Critical);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let sent = fake.requests().matching("PUT", TICKET);
    let body: serde_json::Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(body["ticket"]["safe_update"], true);
    assert_eq!(body["ticket"]["updated_stamp"], "2024-03-01T09:00:01Z");
    assert_eq!(sent[0].status, Some(409));
    let t = fake.ticket(id).unwrap();
    assert_eq!(t.status, "new", "nothing written");
    assert!(t.tags.is_empty());

    let now = c.fetch_ticket(&tref(id)).await.unwrap();
    let v = match c
        .update_fields(&tref(id), &now.version, &changes)
        .await
        .unwrap()
    {
        UpdateOutcome::Applied(v) => v,
        other => panic!("expected applied, got {other:?}"),
    };
    let t = fake.ticket(id).unwrap();
    assert_eq!(t.status, "hold");
    assert_eq!(t.tags, vec!["mail".to_owned()]);
    assert_eq!(v.updated_at, t.updated_at * 1000);
}

#[tokio::test]
async fn comments_are_written_exactly_once_across_lost_answers() {
    let (fake, c) = setup(ZendeskExport::Incremental).await;
    let id = fake.seed(NewTicket::new("VPN", "Drops hourly"));
    let note = NewComment::new(
        Visibility::Internal,
        "Escalated to network team",
        "ws2-op-5",
    );
    fake.faults().once("PUT", TICKET, Fault::DropAfterCommit);
    let e = c.add_comment(&tref(id), &note).await.unwrap_err();
    assert_eq!(e.kind(), "unknown_outcome", "{e}");
    let found = c.find_comment(&tref(id), &note).await.unwrap().unwrap();
    assert_eq!(found.visibility, Visibility::Internal);
    assert_eq!(found.body, "Escalated to network team");
    assert_eq!(found.marker.as_deref(), Some("ws2-op-5"));
    assert_eq!(fake.comments_containing(id, "Escalated to network team"), 1);
    // The comment went without safe_update (comments never conflict), with `public`, and with
    // the marker in the update's metadata only.
    let put = &fake.requests().matching("PUT", TICKET)[0];
    let body: serde_json::Value = serde_json::from_str(&put.body).unwrap();
    assert!(body["ticket"].get("safe_update").is_none());
    assert_eq!(body["ticket"]["comment"]["public"], false);
    assert_eq!(
        body["ticket"]["comment"]["body"],
        "Escalated to network team"
    );
    assert_eq!(
        body["ticket"]["metadata"],
        json!({ "casebook_op": "ws2-op-5" })
    );

    // A public reply that goes through returns the stored comment.
    let reply = NewComment::new(Visibility::Public, "Fixed, please confirm", "ws2-op-6");
    let added = c.add_comment(&tref(id), &reply).await.unwrap();
    assert_eq!(added.marker.as_deref(), Some("ws2-op-6"));
    assert_eq!(added.visibility, Visibility::Public);
    let last = fake.ticket(id).unwrap().comments.last().unwrap().clone();
    assert!(last.public);
    assert_eq!(last.body, "Fixed, please confirm");
    assert_eq!(fake.comments_containing(id, "casebook-op"), 0);
}

#[tokio::test]
async fn creations_are_found_by_external_id_and_deduplicated_by_idempotency_key() {
    let (fake, c) = setup(ZendeskExport::Incremental).await;
    let new = NewRemoteTicket {
        scope: "tickets".into(),
        fields: RemoteFields {
            title: "Badge reader broken".into(),
            description: "Door 4".into(),
            state: TicketState::Open,
            state_raw: None,
            priority: Priority::Low,
            priority_raw: None,
            assignee: None,
            assignment_group: None,
            requester: None,
            organization: None,
            tags: vec!["facilities".into()],
        },
        marker: "ws2-op-9".into(),
    };
    fake.faults()
        .once("POST", "/api/v2/tickets.json", Fault::DropAfterCommit);
    assert_eq!(
        c.create_ticket(&new).await.unwrap_err().kind(),
        "unknown_outcome"
    );
    let found = c
        .find_created("tickets", "ws2-op-9")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.fields.title, "Badge reader broken");
    assert_eq!(found.fields.state, TicketState::Open);
    // Even a blind retry would not duplicate: the Idempotency-Key answers with the same ticket.
    let again = c.create_ticket(&new).await.unwrap();
    assert_eq!(again.upstream_id, found.upstream_id);
    assert_eq!(fake.tickets_with_external_id("casebook-op:ws2-op-9"), 1);
    assert!(
        c.find_created("tickets", "ws2-op-10")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn spoiled_answers_are_classified_and_rate_limits_carry_retry_after() {
    let (fake, c) = setup(ZendeskExport::Incremental).await;
    fake.seed(NewTicket::new("A", "a"));
    fake.advance(120);
    let cases = [
        (Fault::TruncatedJson, "malformed_json"),
        (Fault::MalformedJson, "malformed_json"),
        (Fault::CutMidBody, "malformed_json"),
        (Fault::HtmlLogin, "html_instead_of_json"),
        (Fault::Unauthorized, "auth_expired"),
        (Fault::Status(500), "http_status"),
        (Fault::Status(503), "rate_limited"),
    ];
    for (fault, kind) in cases {
        fake.faults().once("GET", INCREMENTAL, fault.clone());
        let e = c.pull_tickets("tickets", None, 10).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{fault:?}: {e}");
    }
    fake.faults().once(
        "GET",
        INCREMENTAL,
        Fault::RateLimited {
            retry_after_secs: 30,
        },
    );
    assert_eq!(
        c.pull_tickets("tickets", None, 10).await.unwrap_err(),
        SyncError::RateLimited {
            retry_after: Some(Duration::from_secs(30))
        }
    );
    let page = c.pull_tickets("tickets", None, 10).await.unwrap();
    assert_eq!(page.tickets.len(), 1, "healthy again");
}

/// Every id of a complete listing, page after page as the deletion sweep walks it, and how
/// many pages it took.
async fn listed_ids(c: &Zendesk, limit: usize) -> (Vec<String>, usize) {
    let (mut ids, mut pages, mut cursor) = (Vec::new(), 0, None);
    loop {
        let page = c
            .list_ids_page("tickets", cursor.as_ref(), limit)
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
async fn a_deleted_ticket_is_not_found_and_leaves_the_id_sweep() {
    let (fake, c) = setup(ZendeskExport::Search).await;
    for n in 0..120 {
        fake.seed(NewTicket::new(&format!("T{n}"), "x"));
    }
    let (ids, pages) = listed_ids(&c, 10_000).await;
    assert_eq!((ids.len(), pages), (120, 2), "pages of at most 100");
    fake.delete(42);
    let e = c.fetch_ticket(&tref(42)).await.unwrap_err();
    assert_eq!(e.kind(), "not_found");
    let (ids, _) = listed_ids(&c, 100).await;
    assert_eq!(ids.len(), 119);
    assert!(!ids.contains(&"42".to_owned()));
    // Numeric order across the digit boundaries (9 | 10, 99 | 100), the order the sweep merges
    // in: as text, "10" would come before "9".
    let mut by_sweep = ids.clone();
    by_sweep.sort_by(|a, b| casebook_core::store::sweep_order(a, b));
    assert_eq!(by_sweep, ids);
    assert_eq!(&ids[8..10], &["9".to_owned(), "10".to_owned()]);
    assert!(
        c.list_ids_page("other", None, 100)
            .await
            .unwrap()
            .ids
            .is_empty()
    );
}

#[tokio::test]
async fn help_center_articles_flow_with_drafts_marked_retired() {
    let (fake, c) = setup(ZendeskExport::Incremental).await;
    assert!(c.has_knowledge_base());
    fake.put_article(1, "Reset a VPN token", "<p>Steps</p>", false);
    fake.put_article(2, "Old printer guide", "<p>Gone</p>", true);
    let page = c.pull_articles(None, 100).await.unwrap();
    assert_eq!(page.articles.len(), 2);
    assert!(!page.articles[0].retired);
    assert!(page.articles[1].retired);
    assert_eq!(page.articles[0].body_html, "<p>Steps</p>");
    fake.advance(60);
    fake.put_article(1, "Reset a VPN token (v2)", "<p>New steps</p>", false);
    let next = c.pull_articles(Some(&page.next), 100).await.unwrap();
    assert!(
        next.articles
            .iter()
            .any(|a| a.title == "Reset a VPN token (v2)")
    );
}

#[test]
fn the_connection_test_decides_the_export() {
    let mut conn = connection("https://acme.zendesk.com");
    assert_eq!(ZendeskExport::from_connection(&conn), ZendeskExport::Search);
    conn.capabilities =
        vec!["is a Zendesk administrator: tickets are pulled with the incremental export".into()];
    assert_eq!(
        ZendeskExport::from_connection(&conn),
        ZendeskExport::Incremental
    );
}

/// The sync engine (store, outbox, conflict inbox) driving the Zendesk connector end to end.
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
        fake: ZendeskFake,
        clock: Arc<FixedClock>,
        connector: Arc<Zendesk>,
        conn_id: i64,
    }

    async fn env() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            Store::open(&dir.path().join("casebook.db"), OpenMode::CreateIfMissing).unwrap(),
        );
        let fake = zendesk::start().await.unwrap();
        fake.accept_only(ACCESS);
        let valid = casebook_core::connection::validate_new(&NewConnection {
            vendor: Vendor::Zendesk,
            name: "Acme Zendesk".into(),
            instance: fake.base_url(),
            auth_method: AuthMethod::OAuth,
            username: None,
            oauth_client_id: Some("casebook".into()),
            mirror_scope: None,
        })
        .unwrap();
        let conn = store
            .add_connection(&valid, zendesk::T0_SECS * 1000)
            .unwrap();
        let secrets = Arc::new(MemorySecretStore::new());
        let tokens = TokenSet {
            access_token: casebook_core::secrets::SecretValue::new(ACCESS),
            refresh_token: None,
            expires_at: None,
        };
        secrets
            .set(
                &secret_name(conn.id, SecretKind::OAuthTokens),
                &tokens.to_secret(),
            )
            .unwrap();
        let http = casebook_sync::http::client(&casebook_sync::http::HttpConfig {
            extra_roots_pem: vec![],
            timeout: Some(Duration::from_secs(10)),
        })
        .unwrap();
        let clock = Arc::new(FixedClock::new(zendesk::T0_SECS * 1000 + 3_600_000));
        let tm = crate::support::token_manager(secrets, &clock, &http);
        let connector = Arc::new(Zendesk::new(
            http,
            tm,
            conn.clone(),
            ZendeskExport::Incremental,
        ));
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

    fn ok(r: &SyncReport) {
        assert!(r.stopped.is_none(), "stopped: {:?}", r.stopped);
        assert!(r.errors.is_empty(), "errors: {:?}", r.errors);
    }

    /// 120 tickets listed seven at a time: the ones deleted at both ends, on both sides of the
    /// digit boundaries (9 | 10, 99 | 100) and of a page boundary (7 | 8) are marked by the
    /// sweep, exactly those.
    #[tokio::test]
    async fn the_sweep_marks_exactly_the_deleted_tickets_across_pages_and_digit_boundaries() {
        let e = env().await;
        for n in 0..120 {
            e.fake
                .seed(NewTicket::new(&format!("Ticket {n}"), "First message"));
        }
        e.fake.advance(120);
        let r = e.sync().await;
        ok(&r);
        assert_eq!(r.tickets_created, 120);
        let gone = [1u64, 7, 8, 9, 10, 99, 100, 120];
        for id in gone {
            e.fake.delete(id);
        }
        let r = crate::support::engine(
            &e.store,
            Arc::clone(&e.connector) as Arc<dyn Connector>,
            e.conn_id,
            &e.clock,
            RecordingSleeper::new(Arc::clone(&e.clock)),
            crate::support::sweep_only(7),
        )
        .run()
        .await;
        ok(&r);
        assert_eq!(r.swept, vec!["tickets".to_owned()]);
        assert_eq!(r.marked_deleted, gone.len() as u64);
        for id in 1..=120u64 {
            let local = e.store.resolve_key(&format!("#{id}")).unwrap();
            let is_marked = e
                .store
                .deleted_upstream_at(local)
                .unwrap()
                .unwrap()
                .is_some();
            assert_eq!(is_marked, gone.contains(&id), "#{id}");
        }
    }

    #[tokio::test]
    async fn pull_push_exactly_once_and_a_safe_update_conflict_in_the_inbox() {
        let e = env().await;
        for n in 0..10 {
            e.fake
                .seed(NewTicket::new(&format!("Ticket {n}"), "First message"));
        }
        e.fake.advance(120);
        let r = e.sync().await;
        ok(&r);
        assert_eq!(r.tickets_created, 10);
        assert_eq!(e.store.ticket_count().unwrap(), 10);

        // Offline: a note on #3 (its answer will be lost after Zendesk stored it) and a priority
        // change on #4 that a colleague also changes.
        let l3 = e.store.resolve_key("#3").unwrap();
        let l4 = e.store.resolve_key("#4").unwrap();
        e.store
            .add_comment(l3, Visibility::Internal, "Called the user", &e.agent())
            .unwrap();
        let patch = TicketPatch {
            priority: Some(Priority::Critical),
            state: Some(TicketState::Pending),
            ..Default::default()
        };
        e.store.update_ticket(l4, None, &patch, &e.agent()).unwrap();
        e.fake.edit_as_other(4, |t| t.priority = Some("low".into()));
        e.fake
            .faults()
            .once("PUT", "/api/v2/tickets/3.json", Fault::DropAfterCommit);
        e.fake.advance(120);
        let r = e.sync().await;
        assert_eq!(r.conflicts, 1, "{r:?}");
        assert_eq!(
            e.fake.comments_containing(3, "Called the user"),
            1,
            "exactly once"
        );
        let t4 = e.fake.ticket(4).unwrap();
        assert_eq!(
            t4.priority.as_deref(),
            Some("low"),
            "theirs not overwritten"
        );
        assert_eq!(t4.status, "pending", "the field only I changed was pushed");
        let inbox = e.store.conflicts_open(None).unwrap();
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].field, "priority");
        // Another sync changes nothing and duplicates nothing.
        e.fake.advance(120);
        let _ = e.sync().await;
        assert_eq!(e.fake.comments_containing(3, "Called the user"), 1);
    }
}
