//! The sync engine with the ServiceNow connector against the fake ServiceNow (tests/fakes), with
//! faults between them: exactly-once comments and creations across dropped connections, 5xx,
//! 429 + Retry-After, timeouts, truncated and malformed pages (cursor kept), an HTML login page,
//! an expired token, a colleague's concurrent edit (conflict inbox, resolved), a ticket deleted
//! upstream with local edits, and a restart with an operation left in flight.

use crate::support::{agent, engine};
use casebook_core::connection::{AuthMethod, NewConnection, SecretKind, Vendor, secret_name};
use casebook_core::model::{Priority, TicketPatch, TicketState, Visibility};
use casebook_core::secrets::{MemorySecretStore, SecretStore, SecretValue};
use casebook_core::store::{Actor, Origin, OutboxStatus, Resolution};
use casebook_core::{Clock, FixedClock, OpenMode, Store};
use casebook_fakes::servicenow::{self, NewIncident, ServiceNowFake};
use casebook_fakes::{Fault, FaultRule};
use casebook_sync::backoff::RecordingSleeper;
use casebook_sync::connector::Connector;
use casebook_sync::engine::{SyncEngine, SyncOptions, SyncReport};
use casebook_sync::servicenow::ServiceNow;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const T0: i64 = 1_795_251_600_000;
const PATCH_INCIDENT: &str = "api/now/table/incident/*";

pub(crate) struct Env {
    dir: tempfile::TempDir,
    pub(crate) store: Arc<Store>,
    pub(crate) fake: ServiceNowFake,
    clock: Arc<FixedClock>,
    sleeper: RecordingSleeper,
    connector: Arc<ServiceNow>,
    /// The same connector pointed at a port where nothing listens: the network is down.
    offline: Arc<ServiceNow>,
    pub(crate) conn_id: i64,
}

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("casebook.db")
}

pub(crate) async fn env() -> Env {
    env_with_timeout(Duration::from_secs(10)).await
}

async fn env_with_timeout(timeout: Duration) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&db_path(&dir), OpenMode::CreateIfMissing).unwrap());
    let fake = servicenow::start().await.unwrap();
    let valid = casebook_core::connection::validate_new(&NewConnection {
        vendor: Vendor::ServiceNow,
        name: "Acme SN".into(),
        instance: fake.base_url(),
        auth_method: AuthMethod::Basic,
        username: Some("casebook.agent".into()),
        oauth_client_id: None,
        mirror_scope: Some(vec!["incident".into()]),
    })
    .unwrap();
    let conn = store.add_connection(&valid, T0).unwrap();
    let secrets = Arc::new(MemorySecretStore::new());
    secrets
        .set(
            &secret_name(conn.id, SecretKind::Password),
            &SecretValue::new("s3cret-pass"),
        )
        .unwrap();
    let clock = Arc::new(FixedClock::new(T0));
    let http = casebook_sync::http::client(&casebook_sync::http::HttpConfig {
        extra_roots_pem: vec![],
        timeout: Some(timeout),
    })
    .unwrap();
    let tm = crate::support::token_manager(secrets, &clock, &http);
    let connector = Arc::new(ServiceNow::new(http.clone(), tm.clone(), conn.clone()));
    let nothing_listens = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut unreachable = conn.clone();
    unreachable.base_url = format!("http://127.0.0.1:{nothing_listens}");
    let offline = Arc::new(ServiceNow::new(http, tm, unreachable));
    Env {
        dir,
        store,
        fake,
        sleeper: RecordingSleeper::new(Arc::clone(&clock)),
        clock,
        connector,
        offline,
        conn_id: conn.id,
    }
}

impl Env {
    fn engine(&self, options: SyncOptions) -> SyncEngine {
        self.engine_on(Arc::clone(&self.connector), options)
    }

    fn engine_on(&self, connector: Arc<ServiceNow>, options: SyncOptions) -> SyncEngine {
        engine(
            &self.store,
            connector as Arc<dyn Connector>,
            self.conn_id,
            &self.clock,
            self.sleeper.clone(),
            options,
        )
    }

    async fn sync_offline(&self) -> SyncReport {
        self.engine_on(Arc::clone(&self.offline), SyncOptions::default())
            .run()
            .await
    }

    pub(crate) async fn sync(&self) -> SyncReport {
        self.engine(SyncOptions {
            page_size: 7,
            ..Default::default()
        })
        .run()
        .await
    }

    pub(crate) fn local(&self, sys_id: &str) -> i64 {
        let key = self.fake.incident(sys_id).unwrap().get("number").to_owned();
        self.store.resolve_key(&key).unwrap()
    }

    pub(crate) fn agent(&self) -> Actor<'static> {
        agent(&self.clock)
    }
}

pub(crate) fn ok(r: &SyncReport) {
    assert!(r.stopped.is_none(), "stopped: {:?}", r.stopped);
    assert!(r.errors.is_empty(), "errors: {:?}", r.errors);
}

#[tokio::test]
async fn initial_and_incremental_pull_with_equal_timestamps_and_overlap() {
    let e = env().await;
    // 25 incidents, 10 per second: pages of 7 cut through seconds (ties on sys_updated_on).
    e.fake.seed_many(25, 10, true);
    let r = e.sync().await;
    ok(&r);
    assert_eq!(r.tickets_created, 25);
    assert_eq!(r.comments_added, 25);
    assert_eq!(e.store.ticket_count().unwrap(), 25);
    // Requests used the documented query shape with UTC literals.
    let first = &e.fake.requests().matching("GET", "api/now/table/incident")[0];
    assert_eq!(
        first.param("sysparm_query"),
        Some("sys_updated_on>=1970-01-01 00:00:00^ORDERBYsys_updated_on^ORDERBYsys_id")
    );
    // Nothing changed: the next sync re-reads only the overlap and changes nothing.
    let r = e.sync().await;
    ok(&r);
    assert_eq!((r.tickets_created, r.tickets_updated), (0, 0));
    // A colleague changes one: only that one is updated, with an event from the sync.
    let id = e.fake.incidents()[3].sys_id().to_owned();
    e.fake
        .edit_as_other(&id, &[("state", "3"), ("hold_reason", "1")]);
    let r = e.sync().await;
    ok(&r);
    assert_eq!(r.tickets_updated, 1);
    let local = e.local(&id);
    let t = e.store.ticket(local).unwrap().ticket;
    assert_eq!(t.state, TicketState::Pending);
    let last = e.store.events_for(local).unwrap().pop().unwrap();
    assert_eq!(last.origin, Origin::Sync);
}

#[tokio::test]
async fn a_comment_is_posted_exactly_once_when_the_connection_drops_after_the_upstream_commits() {
    let e = env().await;
    let id = e.fake.seed(NewIncident::new("Printer offline"));
    ok(&e.sync().await);
    let local = e.local(&id);
    e.store
        .add_comment(
            local,
            Visibility::Internal,
            "Power-cycled the printer.",
            &e.agent(),
        )
        .unwrap();
    e.store
        .add_comment(
            local,
            Visibility::Public,
            "Please try again now.",
            &e.agent(),
        )
        .unwrap();
    e.fake.faults().add(FaultRule::new(
        "PATCH",
        PATCH_INCIDENT,
        Fault::DropAfterCommit,
    ));
    e.fake.faults().add(FaultRule::new(
        "PATCH",
        PATCH_INCIDENT,
        Fault::DropBeforeCommit,
    ));
    let r = e.sync().await;
    ok(&r);
    let fired: Vec<Fault> = e.fake.faults().fired().into_iter().map(|f| f.2).collect();
    assert_eq!(fired, vec![Fault::DropAfterCommit, Fault::DropBeforeCommit]);
    assert_eq!(r.pushed, 2);
    assert_eq!(
        e.fake.journal_containing(&id, "Power-cycled the printer."),
        1
    );
    assert_eq!(e.fake.journal_containing(&id, "Please try again now."), 1);
    assert_eq!(e.store.sync_ops(None).unwrap().len(), 0);
    // The comments come back on the next pull without being added twice locally.
    ok(&e.sync().await);
    assert_eq!(e.store.ticket(local).unwrap().comments.len(), 2);
    let work_note = e
        .fake
        .with_state(|s| {
            s.records
                .iter()
                .find(|r| r.get("value").contains("Power-cycled"))
                .cloned()
        })
        .unwrap();
    assert_eq!(work_note.get("element"), "work_notes");
}

#[tokio::test]
async fn a_local_ticket_is_created_once_even_if_the_answer_is_lost() {
    let e = env().await;
    let mut new = casebook_core::model::NewTicket::local("New laptop for Dana");
    new.source = e.conn_id.to_string();
    let t = e.store.create_ticket(new, &e.agent()).unwrap();
    e.fake.faults().add(FaultRule::new(
        "POST",
        "api/now/table/incident",
        Fault::TruncatedJson,
    ));
    let r = e.sync().await;
    ok(&r);
    assert_eq!(
        e.fake.faults().fired().len(),
        1,
        "the answer to the creation was spoiled"
    );
    let created: Vec<_> = e
        .fake
        .incidents()
        .into_iter()
        .filter(|i| i.get("short_description") == "New laptop for Dana")
        .collect();
    assert_eq!(created.len(), 1, "no second ticket");
    let local = e.store.ticket(t.id).unwrap().ticket;
    assert_eq!(local.key, created[0].get("number"));
    assert_eq!(local.upstream_id.as_deref(), Some(created[0].sys_id()));
    // Pulling it back does not make a second local ticket.
    ok(&e.sync().await);
    assert_eq!(e.store.ticket_count().unwrap(), 1);
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_with_backoff_and_retry_after() {
    let e = env().await;
    e.fake.seed_many(10, 3, false);
    e.fake
        .faults()
        .add(FaultRule::new("GET", "api/now/table/incident", Fault::Status(503)).times(2));
    e.fake.faults().add(FaultRule::new(
        "GET",
        "api/now/table/sys_journal_field",
        Fault::RateLimited {
            retry_after_secs: 7,
        },
    ));
    let r = e.sync().await;
    ok(&r);
    assert_eq!(r.tickets_created, 10);
    let waits = e.sleeper.waits();
    assert!(waits.contains(&Duration::from_secs(7)), "{waits:?}");
    assert_eq!(waits.len(), 3, "{waits:?}");
    // Backoff for the two 503s: jittered within [base/2, base] and [base, 2·base].
    assert!(waits[0] >= Duration::from_millis(250) && waits[0] <= Duration::from_millis(500));
    assert!(waits[1] >= Duration::from_millis(500) && waits[1] <= Duration::from_secs(1));
}

#[tokio::test]
async fn a_broken_page_is_not_committed_and_the_cursor_is_kept() {
    let e = env().await;
    e.fake.seed_many(20, 1, false);
    // The second page is always truncated: the first page commits, the rest waits.
    e.fake.faults().add(
        FaultRule::new("GET", "api/now/table/incident", Fault::TruncatedJson)
            .skip(1)
            .always(),
    );
    let r = e.sync().await;
    assert_eq!(r.tickets_created, 7);
    assert!(
        r.errors.iter().any(|m| m.contains("malformed")),
        "{:?}",
        r.errors
    );
    let cursor = e.store.sync_cursor(e.conn_id, "incident").unwrap().unwrap();
    e.fake.faults().clear();
    e.fake
        .faults()
        .add(FaultRule::new("GET", "api/now/table/incident", Fault::MalformedJson).always());
    let r = e.sync().await;
    assert_eq!(r.tickets_created, 0);
    assert_eq!(
        e.store.sync_cursor(e.conn_id, "incident").unwrap().unwrap(),
        cursor,
        "cursor not lost or moved"
    );
    e.fake.faults().clear();
    let r = e.sync().await;
    ok(&r);
    assert_eq!(e.store.ticket_count().unwrap(), 20);
}

#[tokio::test]
async fn an_html_login_page_is_reported_as_such() {
    let e = env().await;
    e.fake.seed(NewIncident::new("VPN"));
    e.fake
        .faults()
        .add(FaultRule::new("GET", "api/now/table/incident", Fault::HtmlLogin).always());
    let r = e.sync().await;
    assert!(
        r.errors
            .iter()
            .any(|m| m.contains("html page instead of json")),
        "{:?}",
        r.errors
    );
    assert_eq!(e.store.ticket_count().unwrap(), 0);
}

#[tokio::test]
async fn a_concurrent_edit_goes_to_the_conflict_inbox_and_is_resolved() {
    let e = env().await;
    let id = e.fake.seed(NewIncident::new("Mailbox full"));
    ok(&e.sync().await);
    let local = e.local(&id);
    // Offline: I raise the priority and put it on hold waiting for the caller.
    let patch = TicketPatch {
        priority: Some(Priority::Critical),
        state: Some(TicketState::Pending),
        ..Default::default()
    };
    e.store
        .update_ticket(local, None, &patch, &e.agent())
        .unwrap();
    // Meanwhile a colleague lowers the priority and reassigns.
    e.fake.edit_as_other(
        &id,
        &[("priority", "4"), ("assigned_to", &e.fake.user("bo.other"))],
    );
    let r = e.sync().await;
    assert_eq!(r.conflicts, 1, "{r:?}");
    let up = e.fake.incident(&id).unwrap();
    assert_eq!(up.get("priority"), "4", "their value was not overwritten");
    assert_eq!(up.get("state"), "3", "the field only I changed was pushed");
    let t = e.store.ticket(local).unwrap().ticket;
    assert_eq!(
        t.assignee.as_deref(),
        Some("bo.other"),
        "their other change came in"
    );
    assert_eq!(
        t.priority,
        Priority::Critical,
        "mine is kept locally until resolved"
    );
    let inbox = e.store.conflicts_open(None).unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].field, "priority");
    assert_eq!(
        (&inbox[0].base, &inbox[0].mine, &inbox[0].theirs),
        (&json!("medium"), &json!("critical"), &json!("low"))
    );
    // Keep mine: a new operation based on their version is pushed.
    e.store
        .resolve_conflict(inbox[0].id, &Resolution::KeepMine, &e.agent())
        .unwrap();
    let r = e.sync().await;
    ok(&r);
    assert_eq!(e.fake.incident(&id).unwrap().get("priority"), "1");
    assert!(e.store.sync_ops(None).unwrap().is_empty());
}

#[tokio::test]
async fn an_edit_that_failed_offline_goes_at_the_next_sync_without_waiting_for_its_backoff() {
    let e = env().await;
    let id = e.fake.seed(NewIncident::new("VPN drops every hour"));
    ok(&e.sync().await);
    let local = e.local(&id);
    let patch = TicketPatch {
        priority: Some(Priority::High),
        ..Default::default()
    };
    e.store
        .update_ticket(local, None, &patch, &e.agent())
        .unwrap();
    // The network is down: the sync stops at its first request; the edit waits with a backoff.
    let r = e.sync_offline().await;
    assert!(
        matches!(r.stopped, Some(casebook_sync::error::SyncError::Offline(_))),
        "{r:?}"
    );
    let ops = e.store.sync_ops(None).unwrap();
    assert_eq!(ops[0].status, OutboxStatus::Pending);
    assert_eq!(ops[0].error_kind.as_deref(), Some("offline"));
    assert!(ops[0].next_attempt_at.is_some_and(|t| t > e.clock.now()));
    // The network is back and the agent syncs at once (the clock has not moved): it goes now.
    let r = e.sync().await;
    ok(&r);
    assert_eq!(r.pushed, 1, "{r:?}");
    assert_eq!(e.fake.incident(&id).unwrap().get("priority"), "2");
    assert!(e.store.sync_ops(None).unwrap().is_empty());
    // A rate limit's Retry-After is still honoured by the next sync.
    let patch = TicketPatch {
        priority: Some(Priority::Low),
        ..Default::default()
    };
    e.store
        .update_ticket(local, None, &patch, &e.agent())
        .unwrap();
    e.fake.faults().add(
        FaultRule::new(
            "*",
            "api/now/table/incident/**",
            Fault::RateLimited {
                retry_after_secs: 600,
            },
        )
        .always(),
    );
    let _ = e.sync().await;
    e.fake.faults().clear();
    let r = e.sync().await;
    assert_eq!(r.pushed, 0, "{r:?}");
    assert_eq!(e.fake.incident(&id).unwrap().get("priority"), "2");
}

#[tokio::test]
async fn an_expired_token_mid_sync_is_retried_once_and_a_revoked_one_stops_safely() {
    let e = env().await;
    e.fake.seed_many(10, 2, false);
    e.fake
        .faults()
        .add(FaultRule::new("GET", "api/now/table/incident", Fault::Unauthorized).skip(1));
    let r = e.sync().await;
    ok(&r);
    assert_eq!(r.tickets_created, 10);
    // Always 401: the sync stops with "sign in again"; the local edit stays pending.
    let local = e.local(e.fake.incidents()[0].sys_id());
    e.store
        .add_comment(local, Visibility::Public, "On my way.", &e.agent())
        .unwrap();
    e.fake
        .faults()
        .add(FaultRule::new("*", "api/now/**", Fault::Unauthorized).always());
    let r = e.sync().await;
    assert!(
        matches!(
            r.stopped,
            Some(casebook_sync::error::SyncError::AuthExpired(_))
        ),
        "{r:?}"
    );
    let ops = e.store.sync_ops(None).unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].status, OutboxStatus::Pending);
}

#[tokio::test]
async fn a_timeout_on_a_write_is_an_unknown_outcome_settled_by_the_marker() {
    let e = env_with_timeout(Duration::from_millis(700)).await;
    let id = e.fake.seed(NewIncident::new("Disk full"));
    ok(&e.sync().await);
    let local = e.local(&id);
    e.store
        .add_comment(local, Visibility::Internal, "Cleared /var/log.", &e.agent())
        .unwrap();
    e.fake.faults().add(FaultRule::new(
        "PATCH",
        PATCH_INCIDENT,
        Fault::Slow(Duration::from_secs(2)),
    ));
    let r = e.sync().await;
    ok(&r);
    assert_eq!(e.fake.faults().fired().len(), 1);
    assert!(r.retries >= 1, "{r:?}");
    assert_eq!(e.fake.journal_containing(&id, "Cleared /var/log."), 1);
}

/// Adding a comment is a write (PATCH the journal field) then a read (the journal entry's id). A
/// failure of the read — here a 429 — must not make the retry write the comment again.
#[tokio::test]
async fn a_failed_read_back_after_a_comment_landed_does_not_post_it_twice() {
    let e = env().await;
    let id = e.fake.seed(NewIncident::new("Printer queue stuck"));
    ok(&e.sync().await);
    let local = e.local(&id);
    e.store
        .add_comment(
            local,
            Visibility::Internal,
            "Restarted the spooler.",
            &e.agent(),
        )
        .unwrap();
    e.fake.faults().add(FaultRule::new(
        "GET",
        "api/now/table/sys_journal_field",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    ));
    let r = e.sync().await;
    ok(&r);
    assert_eq!(e.fake.faults().fired().len(), 1);
    assert_eq!(e.fake.journal_containing(&id, "Restarted the spooler."), 1);
    assert!(e.store.sync_ops(None).unwrap().is_empty());
}

#[tokio::test]
async fn a_ticket_deleted_upstream_with_local_edits_is_marked_not_dropped() {
    let e = env().await;
    let id = e.fake.seed(NewIncident::new("Old request"));
    let keep = e.fake.seed(NewIncident::new("Still there"));
    ok(&e.sync().await);
    let local = e.local(&id);
    let patch = TicketPatch {
        state: Some(TicketState::Resolved),
        ..Default::default()
    };
    e.store
        .update_ticket(local, None, &patch, &e.agent())
        .unwrap();
    e.fake.delete(&id);
    let r = e.sync().await;
    assert!(r.stopped.is_none(), "{r:?}");
    let t = e.store.ticket(local).unwrap();
    assert_eq!(
        t.ticket.state,
        TicketState::Resolved,
        "the local edit is kept"
    );
    assert!(
        e.store
            .deleted_upstream_at(local)
            .unwrap()
            .unwrap()
            .is_some()
    );
    let ops = e.store.sync_ops(None).unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].status, OutboxStatus::Failed);
    assert_eq!(ops[0].error_kind.as_deref(), Some("not_found"));
    assert!(
        e.store
            .deleted_upstream_at(e.local(&keep))
            .unwrap()
            .unwrap()
            .is_none()
    );
    // The agent can discard it; a copy stays in the event log.
    e.store.outbox_discard(ops[0].id, &e.agent()).unwrap();
    assert!(
        e.store
            .events_for(local)
            .unwrap()
            .iter()
            .any(|ev| ev.data.get("outbox_discarded").is_some())
    );
}

#[tokio::test]
async fn after_a_restart_an_operation_left_in_flight_is_checked_upstream_before_resending() {
    let e = env().await;
    let id = e.fake.seed(NewIncident::new("Badge reader"));
    ok(&e.sync().await);
    let local = e.local(&id);
    e.store
        .add_comment(
            local,
            Visibility::Public,
            "Replaced the reader.",
            &e.agent(),
        )
        .unwrap();
    let op = e.store.sync_ops(None).unwrap()[0].clone();
    // The app marked it in flight and the request reached ServiceNow; then the app was killed.
    let marker = e.store.outbox_begin(op.id, e.clock.now()).unwrap();
    let tref = casebook_sync::model::TicketRef {
        upstream_id: id.clone(),
        key: op.ticket_key.clone(),
        scope: "incident".into(),
    };
    e.connector
        .add_comment(
            &tref,
            &casebook_sync::model::NewComment::new(
                Visibility::Public,
                "Replaced the reader.",
                &marker,
            ),
        )
        .await
        .unwrap();
    // Reopen the workspace as a new process would.
    let path = db_path(&e.dir);
    let Env {
        dir,
        store,
        fake,
        clock,
        sleeper,
        connector,
        offline,
        conn_id,
    } = e;
    drop(store);
    let store = Arc::new(Store::open(&path, OpenMode::MustExist).unwrap());
    assert_eq!(
        store.sync_op(op.id).unwrap().status,
        OutboxStatus::InFlight,
        "the crash left it in flight"
    );
    let e = Env {
        dir,
        store,
        fake,
        clock,
        sleeper,
        connector,
        offline,
        conn_id,
    };
    let r = e.sync().await;
    ok(&r);
    assert_eq!(e.fake.journal_containing(&id, "Replaced the reader."), 1);
    assert!(e.store.sync_ops(None).unwrap().is_empty());
    assert_eq!(e.store.ticket(local).unwrap().comments.len(), 1);
}

#[tokio::test]
async fn unparsable_timestamps_are_rejected_not_guessed() {
    let e = env().await;
    let id = e.fake.seed(NewIncident::new("Zoned"));
    e.fake.with_state(|s| {
        for r in s.records.iter_mut().filter(|r| r.sys_id() == id) {
            r.fields
                .insert("sys_updated_on".into(), json!("2026-11-22T09:00:01+01:00"));
        }
    });
    let r = e.sync().await;
    assert!(
        r.errors.iter().any(|m| m.contains("unparsable timestamp")),
        "{:?}",
        r.errors
    );
    assert_eq!(e.store.ticket_count().unwrap(), 0);
}

/// A workspace opened through the façade with a ServiceNow connection to `fake` ("Acme SN") and
/// its password stored.
async fn facade_with_connection(
    dir: &std::path::Path,
    fake: &ServiceNowFake,
    origin: Origin,
    clock: Arc<FixedClock>,
) -> casebook_api::Casebook {
    let cb = crate::open_at(dir, origin, clock).await;
    let c = cb
        .add_connection(casebook_api::connections::NewConnectionInput {
            vendor: Vendor::ServiceNow,
            name: "Acme SN".into(),
            instance: fake.base_url(),
            auth_method: AuthMethod::Basic,
            username: Some("casebook.agent".into()),
            oauth_client_id: None,
            mirror_scope: Some(vec!["incident".into()]),
        })
        .await
        .unwrap();
    cb.set_connection_secret(c.id, "s3cret-pass".into())
        .await
        .unwrap();
    cb
}

#[tokio::test]
async fn the_facade_syncs_a_connection_reports_progress_and_indexes_its_knowledge_base() {
    use casebook_api::sync::{ConflictResolutionInput, SyncProgress};
    let dir = tempfile::tempdir().unwrap();
    let fake = servicenow::start().await.unwrap();
    fake.seed_many(6, 2, true);
    fake.add_article(
        "Reset a VPN token",
        "<p>Open the <b>VPN portal</b> and choose <i>reset token</i>.</p><script>x()</script>",
        true,
    );
    fake.add_article(
        "Fax machine guide",
        "<p>Retired fax instructions.</p>",
        false,
    );
    let clock = Arc::new(FixedClock::new(T0));
    let cb = facade_with_connection(dir.path(), &fake, Origin::Cli, clock).await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = Arc::clone(&seen);
    let run = cb
        .sync_now(
            "Acme SN".into(),
            Some(Arc::new(move |p: SyncProgress| s2.lock().unwrap().push(p))),
        )
        .await
        .unwrap();
    assert!(run.stopped.is_none() && run.errors.is_empty(), "{run:?}");
    assert_eq!((run.tickets_created, run.articles), (6, 2));
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|p| matches!(p, SyncProgress::Pulling { tickets: 6, .. })),
        "{seen:?}"
    );
    assert_eq!(seen.last(), Some(&SyncProgress::Finished));
    let status = cb.sync_status().await.unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!((status[0].tickets, status[0].pending_ops), (6, 0));
    assert!(status[0].last_success_at.is_some());
    // The published article is searchable; the retired one is not.
    let hits = crate::support::kb_search(&cb, "vpn token").await.hits;
    assert!(
        hits.iter().any(|h| h.title == "Reset a VPN token"),
        "{hits:?}"
    );
    let fax = crate::support::kb_search(&cb, "fax").await.hits;
    assert!(
        fax.iter().all(|h| h.title != "Fax machine guide"),
        "{fax:?}"
    );
    // A conflict through the façade: listed with base/mine/theirs, resolved by taking theirs.
    let inc = fake.incidents()[1].clone();
    let local = cb.store().resolve_key(inc.get("number")).unwrap();
    cb.store()
        .update_ticket(
            local,
            None,
            &TicketPatch {
                title: Some("VPN drops (mine)".into()),
                ..Default::default()
            },
            &Actor {
                name: "casebook.agent",
                origin: Origin::Cli,
                now: T0 + 1,
            },
        )
        .unwrap();
    fake.edit_as_other(inc.sys_id(), &[("short_description", "VPN drops (theirs)")]);
    assert_eq!(
        cb.outbox_list(Some("Acme SN".into())).await.unwrap().len(),
        1
    );
    let run = cb.sync_now("Acme SN".into(), None).await.unwrap();
    assert_eq!(run.conflicts, 1);
    let inbox = cb.conflicts_list(None).await.unwrap();
    assert_eq!(
        (inbox[0].mine.clone(), inbox[0].theirs.clone()),
        (json!("VPN drops (mine)"), json!("VPN drops (theirs)"))
    );
    cb.conflicts_resolve(inbox[0].id, ConflictResolutionInput::TakeTheirs)
        .await
        .unwrap();
    assert_eq!(
        cb.store().ticket(local).unwrap().ticket.title,
        "VPN drops (theirs)"
    );
    assert!(cb.outbox_list(None).await.unwrap().is_empty());
    assert!(cb.conflicts_list(None).await.unwrap().is_empty());
    // Discarding needs a confirmation.
    assert!(cb.outbox_discard(1, false).await.is_err());
}

#[tokio::test]
async fn a_sync_that_pulls_no_articles_leaves_the_knowledge_base_closed() {
    use casebook_api::kb::KB_DIR;

    let dir = tempfile::tempdir().unwrap();
    let fake = servicenow::start().await.unwrap();
    fake.seed_many(6, 2, true);
    let clock = Arc::new(FixedClock::new(T0));
    let cb = facade_with_connection(dir.path(), &fake, Origin::Cli, clock).await;
    let run = cb.sync_now("Acme SN".into(), None).await.unwrap();
    assert!(run.stopped.is_none() && run.errors.is_empty(), "{run:?}");
    assert_eq!((run.tickets_created, run.articles), (6, 0));
    // The instance has no articles: the sync read the empty page but did not open the index
    // (opening it reconciles every resolved ticket, which is not the sync's work).
    assert!(!dir.path().join(KB_DIR).exists());
    // An article published later arrives with the next sync, which opens the index for it.
    fake.add_article("Reset a VPN token", "<p>Open the VPN portal.</p>", true);
    let run = cb.sync_now("Acme SN".into(), None).await.unwrap();
    assert!(run.errors.is_empty(), "{run:?}");
    assert_eq!(run.articles, 1);
    assert!(dir.path().join(KB_DIR).exists());
    let hits = crate::support::kb_search(&cb, "vpn portal").await.hits;
    assert!(
        hits.iter().any(|h| h.title == "Reset a VPN token"),
        "{hits:?}"
    );
}

#[tokio::test]
async fn a_second_sync_of_a_connection_waits_for_the_running_one() {
    use casebook_api::sync::SyncProgress;
    let dir = tempfile::tempdir().unwrap();
    let fake = servicenow::start().await.unwrap();
    fake.seed_many(12, 3, true);
    let clock = Arc::new(FixedClock::new(T0));
    let cb = facade_with_connection(dir.path(), &fake, Origin::App, clock).await;
    let first = cb.sync_now("Acme SN".into(), None).await.unwrap();
    assert_eq!(first.tickets_created, 12);
    // A comment waits in the outbox; the upstream answers its write slowly, so the sync that
    // pushes it is still running when the second one is asked for.
    let inc = fake.incidents()[4].clone();
    let local = cb.store().resolve_key(inc.get("number")).unwrap();
    cb.store()
        .add_comment(
            local,
            Visibility::Public,
            "Swapped the dock.",
            &Actor {
                name: "casebook.agent",
                origin: Origin::App,
                now: T0 + 1,
            },
        )
        .unwrap();
    fake.faults().add(
        FaultRule::new(
            "PATCH",
            PATCH_INCIDENT,
            Fault::Slow(Duration::from_millis(400)),
        )
        .times(1),
    );
    let events: Arc<std::sync::Mutex<Vec<(u8, SyncProgress)>>> = Arc::default();
    let watch = |who: u8| -> Option<Arc<dyn Fn(SyncProgress) + Send + Sync>> {
        let events = Arc::clone(&events);
        Some(Arc::new(move |p| events.lock().unwrap().push((who, p))))
    };
    let (a, b) = tokio::join!(
        cb.sync_now("Acme SN".into(), watch(1)),
        cb.sync_now("Acme SN".into(), watch(2)),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    for run in [&a, &b] {
        assert!(run.stopped.is_none() && run.errors.is_empty(), "{run:?}");
        assert_eq!(run.unknown, 0, "{run:?}");
    }
    assert_eq!(a.pushed + b.pushed, 1, "pushed once: {a:?} {b:?}");
    assert_eq!(
        fake.journal_containing(inc.sys_id(), "Swapped the dock."),
        1
    );
    assert!(cb.outbox_list(None).await.unwrap().is_empty());
    // One ran from start to finish before the other did anything but wait.
    let events = events.lock().unwrap().clone();
    let waited = |p: &SyncProgress| matches!(p, SyncProgress::Waiting { reason, .. } if reason.contains("another sync"));
    let waiters: Vec<u8> = events
        .iter()
        .filter(|(_, p)| waited(p))
        .map(|(w, _)| *w)
        .collect();
    assert_eq!(waiters.len(), 1, "{events:?}");
    let work: Vec<u8> = events
        .iter()
        .filter(|(_, p)| !waited(p))
        .map(|(w, _)| *w)
        .collect();
    let runner = 3 - waiters[0];
    let split = work.iter().position(|w| *w == waiters[0]).unwrap();
    assert!(split > 0, "{events:?}");
    assert!(work[..split].iter().all(|w| *w == runner), "{events:?}");
    assert!(work[split..].iter().all(|w| *w == waiters[0]), "{events:?}");
    assert_eq!(
        events
            .iter()
            .filter(|(_, p)| *p == SyncProgress::Finished)
            .count(),
        2
    );
}

#[tokio::test]
async fn the_deletion_sweep_runs_when_due_not_at_every_sync() {
    let e = env().await;
    let a = e.fake.seed(NewIncident::new("Printer jam"));
    let b = e.fake.seed(NewIncident::new("VPN drops"));
    let c = e.fake.seed(NewIncident::new("Mailbox full"));
    let sweeps = |e: &Env| {
        e.fake
            .requests()
            .all()
            .iter()
            .filter(|r| r.method == "GET" && r.param("sysparm_fields") == Some("sys_id"))
            .count()
    };
    // The first pull into an empty mirror saw every id: it counts as a sweep.
    let r = e.sync().await;
    ok(&r);
    assert_eq!(r.tickets_created, 3);
    assert!(r.swept.is_empty(), "{:?}", r.swept);
    assert_eq!(sweeps(&e), 0);
    assert_eq!(
        e.store.last_sweep_at(e.conn_id, "incident").unwrap(),
        Some(T0)
    );
    // Deleted upstream, no local edit: nothing lists ids until the sweep is due.
    e.fake.delete(&b);
    e.clock.advance(60_000);
    let r = e.sync().await;
    ok(&r);
    assert!(r.swept.is_empty());
    assert_eq!(sweeps(&e), 0);
    assert_eq!(
        e.store.deleted_upstream_at(e.local(&a)).unwrap(),
        Some(None)
    );
    // Once the interval has passed, the sweep runs and marks it (kept, not dropped).
    e.clock
        .advance(SyncOptions::default().sweep_interval.as_millis() as i64);
    let r = e.sync().await;
    ok(&r);
    assert_eq!(r.swept, vec!["incident".to_owned()]);
    assert_eq!(r.marked_deleted, 1);
    assert_eq!(sweeps(&e), 1);
    let swept_at = e.clock.now();
    assert_eq!(
        e.store.last_sweep_at(e.conn_id, "incident").unwrap(),
        Some(swept_at)
    );
    assert_eq!(e.store.ticket_count().unwrap(), 3);
    assert_eq!(e.store.sync_status(e.conn_id).unwrap().deleted_upstream, 1);
    // The schedule starts again from that sweep.
    e.fake.delete(&c);
    e.clock.advance(1_000);
    let r = e.sync().await;
    ok(&r);
    assert!(r.swept.is_empty());
    assert_eq!(e.store.sync_status(e.conn_id).unwrap().deleted_upstream, 1);
    // `Duration::ZERO` sweeps at every sync (the on-demand sweep).
    let r = e
        .engine(SyncOptions {
            page_size: 7,
            sweep_interval: Duration::ZERO,
            ..Default::default()
        })
        .run()
        .await;
    ok(&r);
    assert_eq!(r.swept, vec!["incident".to_owned()]);
    assert_eq!(r.marked_deleted, 1);
    assert_eq!(e.store.sync_status(e.conn_id).unwrap().deleted_upstream, 2);
    assert_eq!(
        e.store.deleted_upstream_at(e.local(&a)).unwrap(),
        Some(None)
    );
}

#[tokio::test]
async fn a_first_pull_into_a_mirror_that_already_has_tickets_still_sweeps() {
    let e = env().await;
    let a = e.fake.seed(NewIncident::new("Printer jam"));
    let b = e.fake.seed(NewIncident::new("VPN drops"));
    ok(&e.sync().await);
    // The cursor is forgotten (a reset): the next pull starts from the beginning, but the
    // mirror is not empty, so only a real sweep can tell what is gone.
    e.store.reset_sync_cursor(e.conn_id, "incident").unwrap();
    e.fake.delete(&b);
    e.clock
        .advance(SyncOptions::default().sweep_interval.as_millis() as i64);
    let r = e.sync().await;
    ok(&r);
    assert_eq!(r.swept, vec!["incident".to_owned()]);
    assert_eq!(r.marked_deleted, 1);
    assert_eq!(
        e.store.deleted_upstream_at(e.local(&a)).unwrap(),
        Some(None)
    );
}

/// The incidents' sys_ids in the order the sweep lists them, with their local ids (taken while
/// the fake still has them all).
fn mirrored_in_order(e: &Env) -> Vec<(String, i64)> {
    let mut ids: Vec<String> = e
        .fake
        .incidents()
        .iter()
        .map(|r| r.sys_id().to_owned())
        .collect();
    ids.sort();
    ids.into_iter()
        .map(|id| {
            let local = e.local(&id);
            (id, local)
        })
        .collect()
}

/// The listing's requests (`sysparm_fields=sys_id`) so far.
fn id_pages(e: &Env) -> usize {
    e.fake
        .requests()
        .all()
        .iter()
        .filter(|r| r.method == "GET" && r.param("sysparm_fields") == Some("sys_id"))
        .count()
}

/// The sys_ids whose local ticket is marked deleted upstream.
fn marked(e: &Env, mirrored: &[(String, i64)]) -> Vec<String> {
    mirrored
        .iter()
        .filter(|(_, local)| {
            e.store
                .deleted_upstream_at(*local)
                .unwrap()
                .unwrap()
                .is_some()
        })
        .map(|(id, _)| id.clone())
        .collect()
}

impl Env {
    /// A sync that only sweeps (due at once), asking for `page` ids per page.
    async fn sweep_only(&self, page: usize) -> SyncReport {
        self.engine(crate::support::sweep_only(page)).run().await
    }
}

/// 60 incidents listed seven at a time (the instance caps pages at 7 although the sweep asks
/// for more, so every page is short): the tickets deleted at the start, on both sides of a
/// page boundary, in the middle and at the end are marked, exactly those, and one listed again
/// is restored. Before, a short page ended the listing and everything after it was marked.
#[tokio::test]
async fn a_sweep_over_many_pages_marks_exactly_the_missing_tickets() {
    let e = env().await;
    e.fake.seed_many(60, 5, false);
    ok(&e.sync().await);
    let mirrored = mirrored_in_order(&e);
    let all: Vec<String> = mirrored.iter().map(|(id, _)| id.clone()).collect();
    e.fake.with_state(|s| s.max_limit = 7);
    // 6 and 7 are the last of the first page and the first of the second (0-based).
    let gone: Vec<String> = [0, 6, 7, 30, 59].iter().map(|&i| all[i].clone()).collect();
    for id in &gone {
        e.fake.delete(id);
    }
    // Out of reach for now (an ACL), then readable again.
    e.fake.hide(&all[45], true);
    let before = id_pages(&e);
    let r = e.sweep_only(10_000).await;
    ok(&r);
    assert_eq!(r.swept, vec!["incident".to_owned()]);
    assert!(
        id_pages(&e) - before >= 8,
        "{} pages",
        id_pages(&e) - before
    );
    let mut expected = gone.clone();
    expected.push(all[45].clone());
    expected.sort();
    assert_eq!(marked(&e, &mirrored), expected);
    assert_eq!(r.marked_deleted, 6);
    assert_eq!(e.store.ticket_count().unwrap(), 60, "marked, never dropped");
    // Readable again: restored at the next sweep, the deleted ones stay marked.
    e.fake.hide(&all[45], false);
    let r = e.sweep_only(10_000).await;
    ok(&r);
    assert_eq!(r.marked_deleted, 0);
    assert_eq!(marked(&e, &mirrored), gone);
}

/// A listing that breaks after two pages (truncated answers, through every retry) marks
/// nothing and does not count as a sweep; the next sync sweeps again and marks exactly the
/// deleted ones.
#[tokio::test]
async fn a_sweep_whose_listing_fails_midway_marks_nothing() {
    let e = env().await;
    e.fake.seed_many(30, 5, false);
    ok(&e.sync().await);
    let mirrored = mirrored_in_order(&e);
    let all: Vec<String> = mirrored.iter().map(|(id, _)| id.clone()).collect();
    let swept_at = e.store.last_sweep_at(e.conn_id, "incident").unwrap();
    // Deleted before and after the failing page.
    for i in [2, 25] {
        e.fake.delete(&all[i]);
    }
    e.fake.faults().add(
        FaultRule::new("GET", "api/now/table/incident", Fault::TruncatedJson)
            .skip(2)
            .always(),
    );
    e.clock.advance(1_000);
    let r = e.sweep_only(5).await;
    assert!(r.stopped.is_none(), "{r:?}");
    assert!(
        r.errors
            .iter()
            .any(|m| m.contains("deletion sweep") && m.contains("nothing was marked")),
        "{:?}",
        r.errors
    );
    assert!(r.swept.is_empty());
    assert_eq!(r.marked_deleted, 0);
    assert!(marked(&e, &mirrored).is_empty());
    assert_eq!(
        e.store.last_sweep_at(e.conn_id, "incident").unwrap(),
        swept_at
    );
    assert_eq!(
        e.fake.faults().fired().len(),
        SyncOptions::default().max_attempts as usize,
        "the third page failed at every attempt"
    );
    e.fake.faults().clear();
    let r = e.sweep_only(5).await;
    ok(&r);
    assert_eq!(marked(&e, &mirrored), vec![all[2].clone(), all[25].clone()]);
    assert_eq!(
        e.store.last_sweep_at(e.conn_id, "incident").unwrap(),
        Some(e.clock.now())
    );
}

/// `sysparm_limit` applies before ACLs: a window of rows the account cannot read comes back
/// empty, yet the instance's `Link` header says rows remain. The listing steps over it by
/// offset; the unreadable tickets are out of reach (marked), the ones after them are not.
#[tokio::test]
async fn rows_the_account_cannot_read_do_not_end_the_listing() {
    let e = env().await;
    e.fake.seed_many(40, 5, false);
    ok(&e.sync().await);
    let mirrored = mirrored_in_order(&e);
    let all: Vec<String> = mirrored.iter().map(|(id, _)| id.clone()).collect();
    // Twelve in a row (more than two windows of five), and one more further on.
    let mut hidden: Vec<String> = all[10..22].to_vec();
    hidden.push(all[33].clone());
    for id in &hidden {
        e.fake.hide(id, true);
    }
    let r = e.sweep_only(5).await;
    ok(&r);
    assert_eq!(marked(&e, &mirrored), hidden);
    assert!(
        e.fake.requests().all().iter().any(|q| {
            q.param("sysparm_fields") == Some("sys_id")
                && q.param("sysparm_offset").is_some_and(|o| o != "0")
        }),
        "an unreadable window was stepped over by offset"
    );
    for id in &hidden {
        e.fake.hide(id, false);
    }
    let r = e.sweep_only(5).await;
    ok(&r);
    assert!(marked(&e, &mirrored).is_empty(), "readable again: restored");
}
