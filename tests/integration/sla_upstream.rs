//! The upstream's own SLA verdicts beside the local computation, end to end: the fake ServiceNow's
//! `task_sla` rows and the fake Zendesk's SLA policy metrics are pulled by the real connectors and
//! sync engine into a real store, and the SLA facts + engine show the upstream verdict next to
//! the local one with disagreement flagged. ServiceNow's `task_sla` costs one query per page of
//! incidents (asserted), Zendesk's metrics no request at all (sideloaded).

use crate::support::{engine, http};
use casebook_core::connection::{AuthMethod, NewConnection, SecretKind, Vendor, secret_name};
use casebook_core::secrets::{MemorySecretStore, SecretStore, SecretValue};
use casebook_core::sla::{self, SlaConfig, UpstreamSla};
use casebook_core::{FixedClock, OpenMode, Store};
use casebook_fakes::servicenow::{self, NewIncident, sn_time};
use casebook_fakes::servicenow_sla::TaskSla;
use casebook_fakes::zendesk::{self, NewTicket};
use casebook_fakes::zendesk_sla::PolicyMetric;
use casebook_fakes::{Fault, FaultRule};
use casebook_sync::auth::oauth::TokenSet;
use casebook_sync::backoff::RecordingSleeper;
use casebook_sync::connector::Connector;
use casebook_sync::engine::{SyncOptions, SyncReport};
use casebook_sync::model::TicketRef;
use casebook_sync::servicenow::ServiceNow;
use casebook_sync::zendesk::{Zendesk, ZendeskExport};
use std::sync::Arc;

const H: i64 = 3600;
const ZD_ACCESS: &str = "zd-access-sla-5678";

struct Env {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    clock: Arc<FixedClock>,
    connector: Arc<dyn Connector>,
    conn_id: i64,
}

impl Env {
    async fn sync(&self, page_size: usize) -> SyncReport {
        let r = engine(
            &self.store,
            Arc::clone(&self.connector),
            self.conn_id,
            &self.clock,
            RecordingSleeper::new(Arc::clone(&self.clock)),
            SyncOptions {
                page_size,
                ..Default::default()
            },
        )
        .run()
        .await;
        assert!(r.stopped.is_none(), "stopped: {:?}", r.stopped);
        assert!(r.errors.is_empty(), "errors: {:?}", r.errors);
        r
    }

    /// The upstream verdict beside the local one for a ticket key at `now_secs` (defaults).
    fn upstream(&self, key: &str, now_secs: i64) -> Option<UpstreamSla> {
        let id = self.store.resolve_key(key).unwrap();
        let facts = self.store.sla_facts(id).unwrap().unwrap();
        let mut cfg = SlaConfig::defaults().compile().unwrap();
        sla::compute(&facts, &mut cfg, now_secs * 1000).upstream
    }
}

fn verdict(u: &UpstreamSla) -> (&str, bool, bool, bool) {
    (u.field.as_str(), u.made_sla, u.local_made_sla, u.agrees)
}

async fn servicenow_env(fake: &servicenow::ServiceNowFake) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(Store::open(&dir.path().join("casebook.db"), OpenMode::CreateIfMissing).unwrap());
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
    let now = servicenow::T0_SECS * 1000;
    let conn = store.add_connection(&valid, now).unwrap();
    let secrets = Arc::new(MemorySecretStore::new());
    secrets
        .set(
            &secret_name(conn.id, SecretKind::Password),
            &SecretValue::new("s3cret-pass"),
        )
        .unwrap();
    let clock = Arc::new(FixedClock::new(now));
    let http = http();
    let tm = crate::support::token_manager(secrets, &clock, &http);
    Env {
        _dir: dir,
        store,
        clock,
        connector: Arc::new(ServiceNow::new(http, tm, conn.clone())),
        conn_id: conn.id,
    }
}

#[tokio::test]
async fn servicenow_task_sla_is_compared_with_the_local_verdict_in_one_query_per_page() {
    let fake = servicenow::start().await.unwrap();
    let t0 = servicenow::T0_SECS;
    let high = |title: &str| {
        let mut n = NewIncident::new(title);
        n.priority = "2".into(); // High: 8 h resolution, 24x7, in the local defaults.
        fake.seed(n)
    };
    // Upstream says breached (its own 30 min target), the local clock says met.
    let resolved = high("Mail bounces");
    fake.add_task_sla(&resolved, TaskSla::resolution("completed", true, t0 + 1800));
    // Running upstream with a 4 h target; a cancelled cycle from an earlier priority is skipped.
    let running = high("VPN drops");
    fake.add_task_sla(&running, TaskSla::resolution("cancelled", true, t0 + 600));
    fake.add_task_sla(
        &running,
        TaskSla::resolution("in_progress", false, t0 + 4 * H),
    );
    // A response SLA alone is no resolution verdict.
    let response_only = high("Printer jam");
    let mut response = TaskSla::resolution("completed", true, t0 + 900);
    response.target = "response".into();
    fake.add_task_sla(&response_only, response);
    // Ten more without SLA rows: the pull spans pages.
    for i in 0..10 {
        high(&format!("Incident {i}"));
    }

    let e = servicenow_env(&fake).await;
    let r = e.sync(5).await;
    assert_eq!(r.tickets_created, 13);
    let key = |sys_id: &str| fake.incident(sys_id).unwrap().get("number").to_owned();

    // Fetch cost: exactly one task_sla query per page of incidents, each naming the page's ids.
    let pages = fake.requests().matching("GET", "api/now/table/incident");
    let sla_reads = fake.requests().matching("GET", "api/now/table/task_sla");
    assert!(pages.len() >= 3, "13 incidents in pages of 5");
    assert_eq!(sla_reads.len(), pages.len());
    for q in &sla_reads {
        let query = q.param("sysparm_query").unwrap();
        assert!(query.starts_with("taskIN"), "{query}");
        assert!(query.split(',').count() <= 5, "one page's ids: {query}");
    }

    // The resolved ticket: upstream breached, local met (resolved after 1 h of 8) → flagged.
    fake.advance(H);
    fake.edit_as_other(
        &resolved,
        &[("state", "6"), ("resolved_at", &sn_time(t0 + H))],
    );
    e.sync(5).await;
    let u = e.upstream(&key(&resolved), t0 + 2 * H).unwrap();
    assert_eq!(verdict(&u), ("servicenow: task_sla", false, true, false));

    // The running one: both met so far; past the upstream's own 4 h due time, the upstream says
    // breached while the local 8 h target still runs → flagged, with no new pull needed.
    let u = e.upstream(&key(&running), t0 + 2 * H).unwrap();
    assert_eq!(verdict(&u), ("servicenow: task_sla", true, true, true));
    let u = e.upstream(&key(&running), t0 + 5 * H).unwrap();
    assert_eq!(verdict(&u), ("servicenow: task_sla", false, true, false));
    // Past 8 h both say breached: they agree again.
    let u = e.upstream(&key(&running), t0 + 9 * H).unwrap();
    assert_eq!(verdict(&u), ("servicenow: task_sla", false, false, true));

    assert_eq!(e.upstream(&key(&response_only), t0 + H), None);
    let plain = fake.incidents()[5].sys_id().to_owned();
    assert_eq!(e.upstream(&key(&plain), t0 + H), None);
}

#[tokio::test]
async fn without_read_access_to_task_sla_the_pull_goes_on_without_upstream_verdicts() {
    let fake = servicenow::start().await.unwrap();
    let id = fake.seed(NewIncident::new("Disk full"));
    fake.add_task_sla(
        &id,
        TaskSla::resolution("in_progress", false, servicenow::T0_SECS + H),
    );
    fake.faults()
        .add(FaultRule::new("GET", "api/now/table/task_sla", Fault::Status(403)).always());
    let e = servicenow_env(&fake).await;
    let r = e.sync(5).await;
    assert_eq!(r.tickets_created, 1);
    assert!(fake.requests().count("GET", "api/now/table/task_sla") >= 1);
    let key = fake.incident(&id).unwrap().get("number").to_owned();
    assert_eq!(e.upstream(&key, servicenow::T0_SECS), None);
}

async fn zendesk_env(fake: &zendesk::ZendeskFake, export: ZendeskExport) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(Store::open(&dir.path().join("casebook.db"), OpenMode::CreateIfMissing).unwrap());
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
    let now = zendesk::T0_SECS * 1000;
    let conn = store.add_connection(&valid, now).unwrap();
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
    let clock = Arc::new(FixedClock::new(now));
    let http = http();
    let tm = crate::support::token_manager(secrets, &clock, &http);
    Env {
        _dir: dir,
        store,
        clock,
        connector: Arc::new(Zendesk::new(http, tm, conn.clone(), export)),
        conn_id: conn.id,
    }
}

#[tokio::test]
async fn zendesk_policy_metrics_are_compared_with_the_local_verdict_without_extra_requests() {
    let fake = zendesk::start().await.unwrap();
    fake.accept_only(ZD_ACCESS);
    let t0 = zendesk::T0_SECS;
    let high = |subject: &str| {
        let mut n = NewTicket::new(subject, "It is broken.");
        n.priority = Some("high".into()); // High: 8 h resolution, 24x7, in the local defaults.
        fake.seed(n)
    };
    // Achieved (solved) after its 30 min agent-work target: the upstream breached, local met.
    let late = high("Mail bounces");
    fake.set_sla_metrics(
        late,
        vec![
            PolicyMetric::new("first_reply_time", "achieved", Some(t0 + 600)),
            PolicyMetric::new("agent_work_time", "achieved", Some(t0 + 1800)),
        ],
    );
    // Active with a 4 h target.
    let running = high("VPN drops");
    fake.set_sla_metrics(
        running,
        vec![PolicyMetric::new(
            "agent_work_time",
            "active",
            Some(t0 + 4 * H),
        )],
    );
    // Paused: no due time while paused.
    let paused = high("Waiting for the laptop");
    fake.set_sla_metrics(
        paused,
        vec![PolicyMetric::new("agent_work_time", "paused", None)],
    );
    let plain = high("No policy");
    fake.advance(120);
    let e = zendesk_env(&fake, ZendeskExport::Incremental).await;
    e.sync(7).await;
    // Solved an hour later (the log has the solve time the achieved metric is judged by).
    fake.advance(H);
    fake.edit_as_other(late, |t| t.status = "solved".into());
    fake.advance(120);
    e.sync(7).await;
    // The metrics came with the export: no per-ticket request.
    let exports = fake
        .requests()
        .matching("GET", "/api/v2/incremental/tickets/cursor.json");
    assert!(!exports.is_empty());
    assert!(exports.iter().all(|r| r.param("include") == Some("slas")));
    assert_eq!(fake.requests().count("GET", "/api/v2/tickets/*"), 0);

    let key = |id: u64| format!("#{id}");
    let u = e.upstream(&key(late), t0 + 2 * H).unwrap();
    assert_eq!(
        verdict(&u),
        ("zendesk: sla policy metric", false, true, false)
    );
    let u = e.upstream(&key(running), t0 + 2 * H).unwrap();
    assert_eq!(
        verdict(&u),
        ("zendesk: sla policy metric", true, true, true)
    );
    let u = e.upstream(&key(running), t0 + 5 * H).unwrap();
    assert_eq!(
        verdict(&u),
        ("zendesk: sla policy metric", false, true, false)
    );
    // Paused upstream (no due time): nothing to compare yet, never a guess.
    assert_eq!(e.upstream(&key(paused), t0 + 5 * H), None);
    assert_eq!(e.upstream(&key(plain), t0 + 5 * H), None);

    // The same metrics come with the agents' search export and a single ticket's read.
    let agent = zendesk_env(&fake, ZendeskExport::Search).await;
    let page = agent
        .connector
        .pull_tickets("tickets", None, 50)
        .await
        .unwrap();
    let found = page
        .tickets
        .iter()
        .find(|t| t.upstream_id == running.to_string())
        .unwrap();
    let c = sla::upstream_cycle(&found.extra["sla"]).unwrap();
    assert_eq!(
        (c.breach_at, c.completed),
        (Some((t0 + 4 * H) * 1000), false)
    );
    let one = agent
        .connector
        .fetch_ticket(&TicketRef {
            upstream_id: late.to_string(),
            key: key(late),
            scope: "tickets".into(),
        })
        .await
        .unwrap();
    let c = sla::upstream_cycle(&one.extra["sla"]).unwrap();
    assert_eq!((c.breach_at, c.completed), (Some((t0 + 1800) * 1000), true));
}
