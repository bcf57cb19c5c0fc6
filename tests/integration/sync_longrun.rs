//! The randomized long-run sync test (issue 5): three fake upstreams (ServiceNow, Jira Service
//! Management, Zendesk) on 127.0.0.1, one workspace with three connections, and for a time budget:
//! random local edits (state, priority, assignee, tags, public replies, internal notes) made through
//! the façade in this process, random edits by "another agent" in the fakes (the same fields, the
//! title, comments), random faults from the fakes' fault plans (connection dropped before and after
//! the upstream commits, 5xx, 429 + Retry-After, slow answers past the client timeout, truncated,
//! cut and malformed JSON, an HTML login page, an expired token), while a **separate sync process**
//! loops over the three connections and is **killed with SIGKILL** at random moments (it reports
//! its phase, so the kills land while pushing and while pulling), then started again.
//!
//! The sync process is this test binary started again with `CASEBOOK_LONGRUN_WORKER` set (the
//! ignored `longrun_worker` test): it opens the workspace through the façade and calls
//! `Casebook::sync_now` for each connection, exactly what `casebook sync` does. The `casebook`
//! binary itself is not used because its secret store is the OS keyring, keyed by connection id and
//! shared with the user's real workspace; the worker holds the three credentials in a memory store.
//!
//! Seeded: the seed is printed; `CASEBOOK_LONGRUN_SEED=<n>` replays the same sequence of edits,
//! faults and kill delays (the interleaving with the worker process still depends on timing, so a
//! replay is the same scenario, not the same trace). `CASEBOOK_LONGRUN_SECS` sets the budget of the
//! random phase (default 60 s; the whole test took 66-71 s here with other builds running).
//!
//! # The oracle
//!
//! At the end the faults are cleared and the network is healthy. The test syncs (retrying every
//! operation left pending, unknown or failed: the agent's "retry"), settles every open conflict
//! (keep mine or take theirs, seeded), syncs again, repeating until the outbox is drained and the
//! inbox empty. Then a **fresh workspace** pulls the three upstreams from scratch: its view of each
//! ticket is the upstream state mapped by the same connectors ("final"). The checks:
//!
//! 1. **Exactly once, nothing visible.** Most local comments carry a unique text; each upstream
//!    ticket holds exactly one comment with it (count 0 = lost, more than 1 = duplicate). Others
//!    repeat one of a few fixed texts ("Thanks, checking now."), which colleagues post too: per
//!    ticket and text, the upstream holds exactly as many comments with that exact text as were
//!    written here and there, and so does the workspace (the idempotency lookup must neither
//!    take another operation's or a colleague's comment for its own nor post twice). No comment
//!    upstream contains a `casebook-op` marker. Every "another agent" comment appears exactly
//!    once locally.
//! 2. **Nothing stuck.** The outbox holds no operation that is not done; the inbox is empty.
//! 3. **Convergence.** For every synced ticket, title, state, priority, assignee and tags in the
//!    workspace equal the fresh pull's, and so does the number of comments.
//! 4. **Per field, nothing lost and nothing silently overwritten.** The test keeps a ledger of every
//!    edit in the order it made them, local (`mine`) and remote (`theirs`). For each (ticket, field)
//!    let `last` be the ledger's last edit:
//!    - `last` is local with value `m`: final = `m`, or a conflict was recorded for that field with
//!      mine = `m` (and the agent took theirs).
//!    - `last` is remote with value `r`: final = `r`, or a conflict was recorded for that field with
//!      theirs = `r` (and the agent kept mine), or `r` equals the *base* of a local update of that
//!      field (the upstream value the agent's edit was made on, recorded in its outbox operation):
//!      per-field three-way merge rightly sees "theirs == base" as "not changed upstream" (the
//!      colleague set the value back to what the agent had seen). These are counted and printed.
//!
//! The assertions can fail, and did: check 4 caught a real bug (settling a conflict while a later
//! edit of the same field waited behind it pushed the older value last: "my last edit … lost";
//! fixed in the store, with the two deterministic tests at the end of this file), and an early
//! version whose comment markers were prefixes of one another ("…-2" in "…-205") counted
//! duplicates in check 1. Breaking the comment lookup on purpose (2026-11-24): a lookup that
//! never finds anything gave "duplicates = 13"; a ServiceNow lookup that ignores the baseline and
//! the comments the workspace already has linked several operations with the same text to one
//! entry ("locally 7", upstream 4, 7 tickets diverged).

use casebook_api::connections::NewConnectionInput;
use casebook_api::dto::{AddCommentInput, UpdateTicketInput};
use casebook_api::sync::{ConflictResolutionInput, SyncProgress};
use casebook_api::{Casebook, OpenOptions};
use casebook_core::SystemClock;
use casebook_core::connection::{AuthMethod, Vendor};
use casebook_core::model::{Priority, TicketState, Visibility};
use casebook_core::secrets::{MemorySecretStore, SecretStore, SecretValue};
use casebook_core::store::Origin;
use casebook_fakes::jira::{self, JiraFake};
use casebook_fakes::servicenow::{self, NewIncident, ServiceNowFake};
use casebook_fakes::zendesk::{self, ZendeskFake};
use casebook_fakes::{Fault, FaultPlan, FaultRule};
use casebook_sync::auth::oauth::TokenSet;
use casebook_sync::auth::tokens::TokenManager;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WORKER_ENV: &str = "CASEBOOK_LONGRUN_WORKER";
const SN_PASSWORD: &str = "sn-longrun-pass";
const JIRA_TOKEN: &str = "jira-longrun-token";
const JIRA_EMAIL: &str = "ana@example.test";
const ZD_ACCESS: &str = "zd-longrun-access";
/// Tickets seeded per upstream (few, so local and remote edits collide often).
const TICKETS_PER_VENDOR: usize = 8;
/// The worker's HTTP timeout; `Fault::Slow` answers take longer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(3);

/// splitmix64: small, seeded, good enough to pick actions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum V {
    Sn,
    Jira,
    Zd,
}

const VENDORS: [V; 3] = [V::Sn, V::Jira, V::Zd];

/// One synced ticket as the test knows it.
#[derive(Debug, Clone)]
struct T {
    vendor: V,
    local: i64,
    /// sys_id, issue key or numeric id.
    upstream: String,
}

#[derive(Debug, Clone)]
enum Side {
    Mine,
    Theirs,
}

#[derive(Debug, Clone)]
struct Entry {
    side: Side,
    value: Value,
}

#[derive(Default)]
struct Counts {
    local_edits: u64,
    /// Edits that set the value the workspace already showed (nothing recorded or queued).
    noop_edits: u64,
    local_comments: u64,
    remote_edits: u64,
    remote_comments: u64,
    faults_planned: u64,
    restarts: u64,
    killed_pushing: u64,
    killed_pulling: u64,
    killed_other: u64,
}

fn state_json(s: TicketState) -> Value {
    serde_json::to_value(s).unwrap()
}

fn prio_json(p: Priority) -> Value {
    serde_json::to_value(p).unwrap()
}

/// Tags compare as sorted sets.
fn norm(field: &str, v: &Value) -> Value {
    if field == "tags" {
        let mut t: Vec<String> = v
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        t.sort();
        t.dedup();
        return json!(t);
    }
    v.clone()
}

fn field_of(t: &casebook_core::model::Ticket, field: &str) -> Value {
    match field {
        "title" => json!(t.title),
        "state" => state_json(t.state),
        "priority" => prio_json(t.priority),
        "assignee" => json!(t.assignee),
        "tags" => norm("tags", &json!(t.tags)),
        other => panic!("unknown field {other}"),
    }
}

const FIELDS: [&str; 5] = ["title", "state", "priority", "assignee", "tags"];

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Stores a connection's credentials in the workspace's secret store, named and bound as the
/// workspace's own token manager names them (the memory store lives as long as the process).
async fn store_credentials(cb: &Casebook, home: &Path, secrets: &Arc<MemorySecretStore>, id: i64) {
    let ws = casebook_api::workspace_key::read_workspace_id(home)
        .unwrap()
        .expect("an open workspace has an id");
    let http = casebook_sync::http::client(&Default::default()).unwrap();
    let tm = TokenManager::for_workspace(
        Arc::clone(secrets) as Arc<dyn SecretStore>,
        &ws,
        Arc::new(SystemClock),
        http,
    );
    let conn = cb.store().connection(id).unwrap();
    match conn.vendor {
        Vendor::ServiceNow => tm
            .set_password(&conn, SecretValue::new(SN_PASSWORD))
            .await
            .unwrap(),
        Vendor::Jira => tm
            .set_password(&conn, SecretValue::new(JIRA_TOKEN))
            .await
            .unwrap(),
        Vendor::Zendesk => {
            let tokens = TokenSet {
                access_token: SecretValue::new(ZD_ACCESS),
                refresh_token: None,
                expires_at: None,
            };
            tm.store_tokens(&conn, &tokens).await.unwrap()
        }
    }
}

/// Opens the workspace (unencrypted, secrets in memory); with `ids`, stores the credentials of
/// the three connections.
async fn open_with(
    home: &Path,
    ids: Option<&HashMap<V, i64>>,
) -> (Casebook, Arc<MemorySecretStore>) {
    let mut opts = OpenOptions::for_tests(home, Origin::App);
    let secrets = Arc::new(MemorySecretStore::new());
    opts.secrets = Arc::clone(&secrets) as Arc<dyn SecretStore>;
    opts.http.timeout = Some(CLIENT_TIMEOUT);
    let cb = Casebook::open(opts).await.unwrap();
    for id in ids
        .map(|m| m.values().copied().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        store_credentials(&cb, home, &secrets, id).await;
    }
    (cb, secrets)
}

struct Fakes {
    sn: ServiceNowFake,
    jira: JiraFake,
    zd: ZendeskFake,
}

impl Fakes {
    fn plan(&self, v: V) -> &FaultPlan {
        match v {
            V::Sn => self.sn.faults(),
            V::Jira => self.jira.faults(),
            V::Zd => self.zd.faults(),
        }
    }
}

/// Adds the three connections; returns their ids.
async fn add_connections(cb: &Casebook, f: &Fakes) -> HashMap<V, i64> {
    let mut ids = HashMap::new();
    let inputs = [
        (
            V::Sn,
            NewConnectionInput {
                vendor: Vendor::ServiceNow,
                name: "LR ServiceNow".into(),
                instance: f.sn.base_url(),
                auth_method: AuthMethod::Basic,
                username: Some("casebook.agent".into()),
                oauth_client_id: None,
                mirror_scope: Some(vec!["incident".into()]),
            },
        ),
        (
            V::Jira,
            NewConnectionInput {
                vendor: Vendor::Jira,
                name: "LR Jira".into(),
                instance: f.jira.base_url(),
                auth_method: AuthMethod::Basic,
                username: Some(JIRA_EMAIL.into()),
                oauth_client_id: None,
                mirror_scope: Some(vec!["SUP".into()]),
            },
        ),
        (
            V::Zd,
            NewConnectionInput {
                vendor: Vendor::Zendesk,
                name: "LR Zendesk".into(),
                instance: f.zd.base_url(),
                auth_method: AuthMethod::OAuth,
                username: None,
                oauth_client_id: Some("casebook".into()),
                mirror_scope: Some(vec!["tickets".into()]),
            },
        ),
    ];
    for (v, input) in inputs {
        let c = cb.add_connection(input).await.unwrap();
        ids.insert(v, c.id);
    }
    ids
}

fn ids_env(ids: &HashMap<V, i64>) -> String {
    format!("{},{},{}", ids[&V::Sn], ids[&V::Jira], ids[&V::Zd])
}

fn ids_from_env(s: &str) -> HashMap<V, i64> {
    let n: Vec<i64> = s.split(',').map(|x| x.parse().unwrap()).collect();
    HashMap::from([(V::Sn, n[0]), (V::Jira, n[1]), (V::Zd, n[2])])
}

/// The sync process: syncs the three connections over and over, printing its phase, until killed.
#[tokio::test]
#[ignore = "worker process for sync_longrun::randomized_long_run_with_faults_and_sigkill_restarts"]
async fn longrun_worker() {
    let Some(spec) = std::env::var_os(WORKER_ENV) else {
        return;
    };
    let spec = spec.to_string_lossy().into_owned();
    let (home, ids) = spec.split_once('|').unwrap();
    let ids = ids_from_env(ids);
    if let Ok(filter) = std::env::var("CASEBOOK_LONGRUN_TRACE") {
        // Debugging: the engine's log on stderr (see CASEBOOK_LONGRUN_LOG).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .try_init();
    }
    let (cb, _secrets) = open_with(Path::new(home), Some(&ids)).await;
    let out = Arc::new(Mutex::new(std::io::stdout()));
    {
        let mut o = out.lock().unwrap();
        writeln!(o).unwrap(); // libtest printed "test … " without a newline
        writeln!(o, "phase started").unwrap();
        o.flush().unwrap();
    }
    loop {
        for v in VENDORS {
            let o = Arc::clone(&out);
            let progress = Arc::new(move |p: SyncProgress| {
                let phase = match p {
                    // After the last operation the pull's requests come next.
                    SyncProgress::Pushing { done, total } if done >= total => "pulling",
                    SyncProgress::Pushing { .. } => "pushing",
                    SyncProgress::Pulling { .. } => "pulling",
                    SyncProgress::Sweeping { .. } => "sweeping",
                    SyncProgress::Waiting { .. } => "waiting",
                    SyncProgress::Articles { .. } => "articles",
                    SyncProgress::Finished => "finished",
                };
                let mut o = o.lock().unwrap();
                let _ = writeln!(o, "phase {phase}");
                let _ = o.flush();
            });
            // The engine reports pushing after each operation; before the first one (or when
            // nothing waits) the phase is only "started".
            {
                let mut o = out.lock().unwrap();
                let _ = writeln!(o, "phase sync-start");
                let _ = o.flush();
            }
            let run = cb.sync_now(ids[&v].to_string(), Some(progress)).await;
            let mut o = out.lock().unwrap();
            match run {
                Ok(r) => writeln!(
                    o,
                    "run {v:?} pushed {} conflicts {} unknown {} failed {} errors {}",
                    r.pushed,
                    r.conflicts,
                    r.unknown,
                    r.failed,
                    r.errors.len()
                )
                .unwrap(),
                Err(e) => writeln!(o, "run {v:?} error {}", e.message).unwrap(),
            }
            o.flush().unwrap();
        }
        // As the app does between syncs: a pause, in which the agent's edits get the database.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

struct Worker {
    child: Arc<Mutex<Child>>,
    phase: Arc<Mutex<String>>,
    /// The phase an aimed kill struck in (set by the reader thread).
    struck: Arc<Mutex<Option<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// Starts the sync process. `aim`: SIGKILL it as soon as it reports this phase (after the
/// given delay in ms), from the thread that reads its output (so the kill lands in the phase).
fn spawn_worker(home: &Path, ids: &HashMap<V, i64>, aim: Option<(&'static str, u64)>) -> Worker {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "sync_longrun::longrun_worker",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(
            WORKER_ENV,
            format!("{}|{}", home.to_string_lossy(), ids_env(ids)),
        )
        .env_remove("CASEBOOK_HOME")
        .stdout(Stdio::piped())
        .stderr(match std::env::var_os("CASEBOOK_LONGRUN_LOG") {
            // Debugging: the workers' logs (see CASEBOOK_LONGRUN_TRACE) appended to a file.
            Some(p) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .unwrap(),
            ),
            None => Stdio::null(),
        })
        .spawn()
        .expect("the sync worker starts");
    let stdout = child.stdout.take().unwrap();
    let child = Arc::new(Mutex::new(child));
    let phase = Arc::new(Mutex::new(String::from("starting")));
    let struck = Arc::new(Mutex::new(None));
    let (p, c, k) = (Arc::clone(&phase), Arc::clone(&child), Arc::clone(&struck));
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Some(ph) = line.strip_prefix("phase ") else {
                continue;
            };
            *p.lock().unwrap() = ph.to_owned();
            if let Some((target, delay)) = aim
                && ph == target
                && k.lock().unwrap().is_none()
            {
                #[allow(clippy::disallowed_methods)] // a plain thread, not async code
                std::thread::sleep(Duration::from_millis(delay));
                let _ = c.lock().unwrap().kill(); // SIGKILL on Unix
                *k.lock().unwrap() = Some(ph.to_owned());
            }
        }
    });
    Worker {
        child,
        phase,
        struck,
        reader: Some(reader),
    }
}

impl Worker {
    fn struck(&self) -> bool {
        self.struck.lock().unwrap().is_some()
    }

    /// SIGKILL (no chance to clean up), if an aimed kill has not struck yet; returns the phase
    /// it was in.
    fn kill(mut self) -> String {
        let phase = {
            let mut child = self.child.lock().unwrap();
            let phase = match self.struck.lock().unwrap().clone() {
                Some(p) => p,
                None => self.phase.lock().unwrap().clone(),
            };
            let _ = child.kill(); // SIGKILL on Unix; an error: it is gone already
            child.wait().unwrap();
            phase
        };
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        phase
    }
}

fn sn_state(s: TicketState) -> Vec<(&'static str, &'static str)> {
    match s {
        TicketState::Open => vec![("state", "2")],
        TicketState::Pending => vec![("state", "3"), ("hold_reason", "1")],
        TicketState::OnHold => vec![("state", "3"), ("hold_reason", "3")],
        TicketState::Resolved => vec![("state", "6")],
        _ => unreachable!(),
    }
}

fn jira_status(s: TicketState) -> &'static str {
    match s {
        TicketState::Open => "In Progress",
        TicketState::Pending => "Waiting for customer",
        TicketState::OnHold => "Escalated",
        TicketState::Resolved => "Resolved",
        _ => unreachable!(),
    }
}

fn zd_status(s: TicketState) -> &'static str {
    match s {
        TicketState::Open => "open",
        TicketState::Pending => "pending",
        TicketState::OnHold => "hold",
        TicketState::Resolved => "solved",
        _ => unreachable!(),
    }
}

const STATES: [TicketState; 4] = [
    TicketState::Open,
    TicketState::Pending,
    TicketState::OnHold,
    TicketState::Resolved,
];
const PRIOS: [Priority; 4] = [
    Priority::Critical,
    Priority::High,
    Priority::Medium,
    Priority::Low,
];
const TAGS: [&str; 4] = ["vpn", "printer", "lr-a", "lr-b"];

/// Assignees as agents type them and the workspace shows them (user names, display names,
/// names); upstream they are ids ([`jira_account`], [`zendesk_user`]).
fn assignees(v: V) -> Vec<String> {
    match v {
        V::Sn => vec!["ana".into(), "bo".into(), "cy".into()],
        V::Jira => vec![jira::AGENT_NAME.into(), jira::OTHER_NAME.into()],
        V::Zd => vec![zendesk::AGENT_NAME.into(), zendesk::OTHER_NAME.into()],
    }
}

/// The Jira account id behind a display name of [`assignees`].
fn jira_account(name: &str) -> String {
    match name {
        jira::AGENT_NAME => jira::AGENT_ID.into(),
        jira::OTHER_NAME => jira::OTHER_ID.into(),
        other => panic!("no jira account for {other:?}"),
    }
}

/// The Zendesk user id behind a name of [`assignees`].
fn zendesk_user(name: &str) -> u64 {
    match name {
        zendesk::AGENT_NAME => zendesk::AGENT_ID,
        zendesk::OTHER_NAME => zendesk::OTHER_ID,
        other => panic!("no zendesk user for {other:?}"),
    }
}

/// Fields each vendor carries (ServiceNow tickets' tags stay local: never pushed or pulled).
fn editable(v: V) -> &'static [&'static str] {
    match v {
        V::Sn => &["state", "priority", "assignee"],
        _ => &["state", "priority", "assignee", "tags"],
    }
}

struct Run {
    rng: Rng,
    seed: u64,
    fakes: Fakes,
    cb: Casebook,
    tickets: Vec<T>,
    ledger: BTreeMap<(i64, &'static str), Vec<Entry>>,
    /// (ticket, marker text) of every local comment.
    local_comments: Vec<(usize, String)>,
    remote_comments: Vec<(usize, String)>,
    /// (ticket, one of [`REPEATED`]) → (written here, written by a colleague).
    repeated: BTreeMap<(usize, &'static str), (u64, u64)>,
    counts: Counts,
    next_marker: u64,
}

/// Comment texts written more than once, here and by colleagues, with their visibility (public).
const REPEATED: [(&str, bool); 2] = [
    ("Thanks, checking now.", true),
    ("Restarted the service.", false),
];

impl Run {
    async fn local_edit(&mut self) {
        let i = self.rng.below(self.tickets.len() as u64) as usize;
        let t = self.tickets[i].clone();
        if self.rng.chance(25) && self.rng.chance(30) {
            let (text, public) = *self.rng.pick(&REPEATED);
            self.cb
                .add_comment(AddCommentInput {
                    ticket_id: t.local,
                    body: text.to_owned(),
                    visibility: if public {
                        Visibility::Public
                    } else {
                        Visibility::Internal
                    },
                })
                .await
                .unwrap();
            self.repeated.entry((i, text)).or_default().0 += 1;
            self.counts.local_comments += 1;
            return;
        }
        if self.rng.chance(25) {
            self.next_marker += 1;
            let marker = format!("lr{}-mine-{:06}", self.seed, self.next_marker);
            let public = self.rng.chance(50);
            let body = if public {
                format!("Reply {marker}: please try again now.")
            } else {
                format!("Note {marker}: restarted the service.")
            };
            self.cb
                .add_comment(AddCommentInput {
                    ticket_id: t.local,
                    body,
                    visibility: if public {
                        Visibility::Public
                    } else {
                        Visibility::Internal
                    },
                })
                .await
                .unwrap();
            self.local_comments.push((i, marker));
            self.counts.local_comments += 1;
            return;
        }
        let field = *self.rng.pick(editable(t.vendor));
        let mut input = UpdateTicketInput {
            id: t.local,
            ..Default::default()
        };
        let value = match field {
            "state" => {
                let s = *self.rng.pick(&STATES);
                input.state = Some(s);
                state_json(s)
            }
            "priority" => {
                let p = *self.rng.pick(&PRIOS);
                input.priority = Some(p);
                prio_json(p)
            }
            "assignee" => {
                let a = self.rng.pick(&assignees(t.vendor)).clone();
                input.assignee = Some(a.clone());
                json!(a)
            }
            "tags" => {
                let tags: Vec<String> = TAGS
                    .iter()
                    .filter(|_| self.rng.chance(40))
                    .map(|s| (*s).to_owned())
                    .collect();
                input.tags = Some(tags.clone());
                norm("tags", &json!(tags))
            }
            _ => unreachable!(),
        };
        // Setting the value the workspace already shows is no edit: the store records nothing
        // and queues nothing (the agent changed nothing they could see), so it is not in the
        // ledger. A colleague's newer value that was not pulled yet then rightly stays upstream.
        // (A sync in the worker process may write the ticket in between: then it counts as an
        // edit, as before.)
        let before = self.cb.store().ticket(t.local).unwrap().ticket;
        self.cb.update_ticket(input).await.unwrap();
        let after = self.cb.store().ticket(t.local).unwrap().ticket.revision;
        if field_of(&before, field) == value && after == before.revision {
            self.counts.noop_edits += 1;
            return;
        }
        self.ledger
            .entry((t.local, field))
            .or_default()
            .push(Entry {
                side: Side::Mine,
                value,
            });
        self.counts.local_edits += 1;
    }

    fn remote_edit(&mut self) {
        let i = self.rng.below(self.tickets.len() as u64) as usize;
        let t = self.tickets[i].clone();
        if self.rng.chance(25) && self.rng.chance(20) {
            let (text, public) = *self.rng.pick(&REPEATED);
            match t.vendor {
                V::Sn => self.fakes.sn.comment_as_other(
                    &t.upstream,
                    if public { "comments" } else { "work_notes" },
                    text,
                ),
                V::Jira => self.fakes.jira.comment_as_other(&t.upstream, text, public),
                V::Zd => self
                    .fakes
                    .zd
                    .comment_as_other(t.upstream.parse().unwrap(), text, public),
            }
            self.repeated.entry((i, text)).or_default().1 += 1;
            self.counts.remote_comments += 1;
            return;
        }
        if self.rng.chance(25) {
            self.next_marker += 1;
            let marker = format!("lr{}-theirs-{:06}", self.seed, self.next_marker);
            let public = self.rng.chance(50);
            let body = format!("Colleague {marker}: checked the logs.");
            match t.vendor {
                V::Sn => self.fakes.sn.comment_as_other(
                    &t.upstream,
                    if public { "comments" } else { "work_notes" },
                    &body,
                ),
                V::Jira => self.fakes.jira.comment_as_other(&t.upstream, &body, public),
                V::Zd => self
                    .fakes
                    .zd
                    .comment_as_other(t.upstream.parse().unwrap(), &body, public),
            }
            self.remote_comments.push((i, marker));
            self.counts.remote_comments += 1;
            return;
        }
        // The same fields as the agent edits, and the title (which only colleagues change).
        let field = if self.rng.chance(15) {
            "title"
        } else {
            *self.rng.pick(editable(t.vendor))
        };
        self.next_marker += 1;
        let title = format!("Title {} by a colleague", self.next_marker);
        let value = match field {
            "title" => {
                match t.vendor {
                    V::Sn => self
                        .fakes
                        .sn
                        .edit_as_other(&t.upstream, &[("short_description", title.as_str())]),
                    V::Jira => {
                        let tt = title.clone();
                        self.fakes
                            .jira
                            .edit_as_other(&t.upstream, |x| x.summary = tt)
                    }
                    V::Zd => {
                        let tt = title.clone();
                        self.fakes
                            .zd
                            .edit_as_other(t.upstream.parse().unwrap(), |x| x.subject = tt)
                    }
                }
                json!(title)
            }
            "state" => {
                let s = *self.rng.pick(&STATES);
                match t.vendor {
                    V::Sn => self.fakes.sn.edit_as_other(&t.upstream, &sn_state(s)),
                    V::Jira => self
                        .fakes
                        .jira
                        .edit_as_other(&t.upstream, |x| x.status = jira_status(s).into()),
                    V::Zd => self
                        .fakes
                        .zd
                        .edit_as_other(t.upstream.parse().unwrap(), |x| {
                            x.status = zd_status(s).into()
                        }),
                }
                state_json(s)
            }
            "priority" => {
                let k = self.rng.below(4) as usize;
                match t.vendor {
                    V::Sn => {
                        let code = (k + 1).to_string();
                        self.fakes
                            .sn
                            .edit_as_other(&t.upstream, &[("priority", code.as_str())])
                    }
                    V::Jira => {
                        let name = ["Highest", "High", "Medium", "Low"][k];
                        self.fakes
                            .jira
                            .edit_as_other(&t.upstream, |x| x.priority = name.into())
                    }
                    V::Zd => {
                        let name = ["urgent", "high", "normal", "low"][k];
                        self.fakes
                            .zd
                            .edit_as_other(t.upstream.parse().unwrap(), |x| {
                                x.priority = Some(name.into())
                            })
                    }
                }
                prio_json(PRIOS[k])
            }
            "assignee" => {
                let a = self.rng.pick(&assignees(t.vendor)).clone();
                match t.vendor {
                    // The colleague picks a user; the upstream stores its id (the ledger and the
                    // workspace both speak names).
                    V::Sn => self
                        .fakes
                        .sn
                        .reassign_as_other(&t.upstream, Some(a.as_str()), None),
                    V::Jira => {
                        let id = jira_account(&a);
                        self.fakes
                            .jira
                            .edit_as_other(&t.upstream, |x| x.assignee = Some(id))
                    }
                    V::Zd => {
                        let n = zendesk_user(&a);
                        self.fakes
                            .zd
                            .edit_as_other(t.upstream.parse().unwrap(), |x| x.assignee_id = Some(n))
                    }
                }
                json!(a)
            }
            "tags" => {
                let tags: Vec<String> = TAGS
                    .iter()
                    .filter(|_| self.rng.chance(40))
                    .map(|s| (*s).to_owned())
                    .collect();
                let tt = tags.clone();
                match t.vendor {
                    V::Jira => self
                        .fakes
                        .jira
                        .edit_as_other(&t.upstream, |x| x.labels = tt),
                    V::Zd => self
                        .fakes
                        .zd
                        .edit_as_other(t.upstream.parse().unwrap(), |x| x.tags = tt),
                    V::Sn => unreachable!(),
                }
                norm("tags", &json!(tags))
            }
            _ => unreachable!(),
        };
        self.ledger
            .entry((t.local, field))
            .or_default()
            .push(Entry {
                side: Side::Theirs,
                value,
            });
        self.counts.remote_edits += 1;
    }

    fn fault(&mut self) {
        let v = *self.rng.pick(&VENDORS);
        let fault = match self.rng.below(11) {
            0 => Fault::DropBeforeCommit,
            1 | 2 => Fault::DropAfterCommit,
            3 => Fault::Status(*self.rng.pick(&[500, 502, 503, 504])),
            4 => Fault::RateLimited {
                retry_after_secs: 1,
            },
            5 => Fault::Slow(CLIENT_TIMEOUT + Duration::from_millis(700)),
            6 => Fault::TruncatedJson,
            7 => Fault::MalformedJson,
            8 => Fault::CutMidBody,
            9 => Fault::HtmlLogin,
            _ => Fault::Unauthorized,
        };
        // Writes (where exactly-once matters) more often than reads.
        let (method, path) = if self.rng.chance(60) {
            match v {
                V::Sn => ("PATCH", "/api/now/table/incident/*"),
                V::Jira => *self.rng.pick(&[
                    ("PUT", "/rest/api/3/issue/*"),
                    ("POST", "/rest/api/3/issue/*/transitions"),
                    ("POST", "/rest/api/3/issue/*/comment"),
                ]),
                V::Zd => ("PUT", "/api/v2/tickets/*"),
            }
        } else {
            ("*", "/**")
        };
        let skip = self.rng.below(3) as u32;
        self.fakes
            .plan(v)
            .add(FaultRule::new(method, path, fault).skip(skip));
        self.counts.faults_planned += 1;
    }
}

fn list_synced(cb: &Casebook, ids: &HashMap<V, i64>) -> Vec<T> {
    let by_conn: HashMap<i64, V> = ids.iter().map(|(v, id)| (*id, *v)).collect();
    cb.store()
        .read(|c| {
            let mut st = c.prepare(
                "SELECT ticket_id, connection_id, upstream_id FROM sync_tickets ORDER BY ticket_id",
            )?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows
                .into_iter()
                .map(|(local, conn, upstream)| T {
                    vendor: by_conn[&conn],
                    local,
                    upstream,
                })
                .collect())
        })
        .unwrap()
}

/// Outbox operations not done, by status.
fn outbox_open(cb: &Casebook) -> Vec<(i64, String)> {
    cb.store()
        .read(|c| {
            let mut st = c.prepare("SELECT id, status FROM outbox WHERE status != 'done'")?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .unwrap()
}

fn op_count(cb: &Casebook) -> usize {
    cb.store()
        .read(|c| Ok(c.query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0))?))
        .unwrap() as usize
}

/// Every conflict ever recorded: (ticket, field, mine, theirs, resolution).
fn all_conflicts(cb: &Casebook) -> Vec<(i64, String, Value, Value, Option<String>)> {
    cb.store()
        .read(|c| {
            let mut st =
                c.prepare("SELECT ticket_id, field, mine, theirs, resolution FROM sync_conflicts")?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows
                .into_iter()
                .map(|(t, f, m, th, res)| {
                    let m: Value = serde_json::from_str(&m).unwrap();
                    let th: Value = serde_json::from_str(&th).unwrap();
                    (t, f.clone(), norm(&f, &m), norm(&f, &th), res)
                })
                .collect())
        })
        .unwrap()
}

/// The base value of `field` of every local update of `ticket` that changed it.
fn update_bases(cb: &Casebook) -> Vec<(i64, String, Value)> {
    cb.store()
        .read(|c| {
            let mut st =
                c.prepare("SELECT ticket_id, payload, base FROM outbox WHERE op = 'update'")?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut out = Vec::new();
            for (t, payload, base) in rows {
                let payload: Value = serde_json::from_str(&payload).unwrap();
                let base: Value = serde_json::from_str(&base).unwrap();
                if let Some(m) = payload.as_object() {
                    for f in m.keys() {
                        let b = base["fields"].get(f).cloned().unwrap_or(Value::Null);
                        out.push((t, f.clone(), norm(f, &b)));
                    }
                }
            }
            Ok(out)
        })
        .unwrap()
}

/// The bodies of the upstream comments of `t` that contain `needle` (diagnostics).
/// Every comment text of an upstream ticket, as a reader of it sees them.
fn upstream_bodies(f: &Fakes, t: &T) -> Vec<String> {
    match t.vendor {
        V::Sn => {
            f.sn.journal_of(&t.upstream)
                .into_iter()
                .map(|(_, value, _)| value)
                .collect()
        }
        V::Jira => f
            .jira
            .comments(&t.upstream)
            .into_iter()
            .map(|c| c.body)
            .collect(),
        V::Zd => {
            f.zd.comments(t.upstream.parse().unwrap())
                .into_iter()
                .map(|c| c.body)
                .collect()
        }
    }
}

fn upstream_comments(f: &Fakes, t: &T, needle: &str) -> Vec<String> {
    match t.vendor {
        V::Sn => f.sn.with_state(|s| {
            s.records
                .iter()
                .filter(|r| {
                    r.table == "sys_journal_field"
                        && r.get("element_id") == t.upstream
                        && r.get("value").contains(needle)
                })
                .map(|r| format!("{} @{}", r.get("value"), r.get("sys_created_on")))
                .collect()
        }),
        V::Jira => f
            .jira
            .issue(&t.upstream)
            .map(|i| {
                i.comments
                    .iter()
                    .filter(|c| c.body.contains(needle))
                    .map(|c| format!("{} @{}", c.body, c.created))
                    .collect()
            })
            .unwrap_or_default(),
        V::Zd => {
            f.zd.ticket(t.upstream.parse().unwrap())
                .map(|x| {
                    x.comments
                        .iter()
                        .filter(|c| c.body.contains(needle))
                        .map(|c| format!("{} @{}", c.body, c.created_at))
                        .collect()
                })
                .unwrap_or_default()
        }
    }
}

/// Outbox rows whose payload contains `needle`: (id, status, attempts, marker, last error).
fn outbox_rows_with(cb: &Casebook, needle: &str) -> Vec<String> {
    cb.store()
        .read(|c| {
            let mut st = c.prepare(
                "SELECT id, status, attempts, marker, last_error, ticket_id, payload, base FROM outbox \
                 WHERE instr(payload, ?) > 0",
            )?;
            let rows = st
                .query_map([needle], |r| {
                    Ok(format!(
                        "#{} ticket {} {} attempts {} marker {:?} error {:?} payload {} base {}",
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, String>(7)?
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .unwrap()
}

async fn sync_all(cb: &Casebook, ids: &HashMap<V, i64>) -> Vec<String> {
    let mut problems = Vec::new();
    for v in VENDORS {
        let r = cb.sync_now(ids[&v].to_string(), None).await.unwrap();
        if let Some(s) = r.stopped {
            problems.push(format!("{v:?} stopped: {s}"));
        }
        problems.extend(r.errors.into_iter().map(|e| format!("{v:?}: {e}")));
    }
    problems
}

// Back in CI: the divergence it found about one run in three (one field differing between the
// workspace and the upstream with no operation or conflict left; CI seed 678149 on 2026-11-23)
// had two causes, fixed in the store with deterministic tests at the end of this file: a pushed
// version holding a colleague's change we never saw, skipped by later pulls as "already stored";
// and "take theirs" setting the value the inbox recorded after the upstream had moved on.
// After that fix, 4 of 10 runs (seeds 222, 44444, 17, 314159) failed check 4 with "my last edit …
// lost": each time the last "edit" set the value the workspace already showed (a colleague's
// change pulled, a newer one not yet), which the store rightly records as no change. The ledger
// now leaves such edits out (counted as "set the value already shown"); the four seeds pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomized_long_run_with_faults_and_sigkill_restarts() {
    let seed = env_u64("CASEBOOK_LONGRUN_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            % 1_000_000
    });
    let budget = Duration::from_secs(env_u64("CASEBOOK_LONGRUN_SECS").unwrap_or(60));
    println!(
        "sync long-run: seed {seed} (replay with CASEBOOK_LONGRUN_SEED={seed}), budget {budget:?}"
    );
    let fakes = Fakes {
        sn: servicenow::start().await.unwrap(),
        jira: jira::start().await.unwrap(),
        zd: zendesk::start().await.unwrap(),
    };
    fakes.jira.accept_only(JIRA_EMAIL, JIRA_TOKEN);
    fakes.zd.accept_only(ZD_ACCESS);
    for n in 0..TICKETS_PER_VENDOR {
        fakes
            .sn
            .seed(NewIncident::new(&format!("SN incident {n}: VPN drops")));
        fakes.jira.seed(jira::NewIssue::new(
            "SUP",
            &format!("Jira request {n}: laptop"),
        ));
        fakes.zd.seed(zendesk::NewTicket::new(
            &format!("Zendesk ticket {n}: printer"),
            "The printer jams.",
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("ws");
    let ids = {
        let (cb, _) = open_with(&home, None).await;
        add_connections(&cb, &fakes).await
    };
    let (cb, _secrets) = open_with(&home, Some(&ids)).await;
    let problems = sync_all(&cb, &ids).await;
    assert!(problems.is_empty(), "the first sync: {problems:?}");
    let tickets = list_synced(&cb, &ids);
    assert_eq!(
        tickets.len(),
        3 * TICKETS_PER_VENDOR,
        "every seeded ticket pulled"
    );

    let mut run = Run {
        rng: Rng(seed),
        seed,
        fakes,
        cb: cb.clone(),
        tickets,
        ledger: BTreeMap::new(),
        local_comments: Vec::new(),
        remote_comments: Vec::new(),
        repeated: BTreeMap::new(),
        counts: Counts::default(),
        next_marker: 0,
    };

    // The random phase: the sync process runs, is killed, starts again.
    let started = Instant::now();
    while started.elapsed() < budget {
        // Most kills at a random moment; a quarter strike as soon as the worker reports
        // pulling, some as it pushes, so both phases are hit whatever the backlog.
        let life = Duration::from_millis(150 + run.rng.below(2_500));
        let aim = match run.rng.below(8) {
            0 | 1 => Some(("pulling", run.rng.below(5))),
            2 => Some(("pushing", run.rng.below(5))),
            _ => None,
        };
        let worker = spawn_worker(&home, &ids, aim);
        let born = Instant::now();
        loop {
            let lived = born.elapsed();
            // An aimed kill that does not come in time falls back to a random one.
            if worker.struck() || lived >= life * if aim.is_some() { 3 } else { 1 } {
                break;
            }
            match run.rng.below(100) {
                0..60 => run.local_edit().await,
                60..88 => run.remote_edit(),
                88..92 => run.fault(),
                _ => {}
            }
            tokio::time::sleep(Duration::from_millis(10 + run.rng.below(30))).await;
        }
        let phase = worker.kill();
        run.counts.restarts += 1;
        if run.counts.restarts.is_multiple_of(10) {
            println!(
                "  {:>4.0} s: {} restarts, {} local edits, {} remote edits",
                started.elapsed().as_secs_f64(),
                run.counts.restarts,
                run.counts.local_edits + run.counts.local_comments,
                run.counts.remote_edits + run.counts.remote_comments
            );
        }
        match phase.as_str() {
            "pushing" => run.counts.killed_pushing += 1,
            "pulling" => run.counts.killed_pulling += 1,
            _ => run.counts.killed_other += 1,
        }
    }
    let (ops_total, ops_open) = (op_count(&cb), outbox_open(&cb).len());
    println!(
        "random phase over: {} of {ops_total} operations pushed while it ran",
        ops_total - ops_open
    );
    let faults_fired: usize = VENDORS
        .iter()
        .map(|v| run.fakes.plan(*v).fired().len())
        .sum();

    // The network is healthy: drain the outbox, settle the inbox.
    for v in VENDORS {
        run.fakes.plan(v).clear();
    }
    let mut retried_at_end = 0u64;
    let mut resolved_mine = 0u64;
    let mut resolved_theirs = 0u64;
    let mut last_problems = Vec::new();
    println!("settling with a healthy network");
    let settle_started = Instant::now();
    for round in 0..200 {
        for (id, status) in outbox_open(&cb) {
            if status != "conflict" {
                cb.outbox_retry(id).await.unwrap();
                retried_at_end += 1;
            }
        }
        last_problems = sync_all(&cb, &ids).await;
        let open = cb.conflicts_list(None).await.unwrap();
        for c in &open {
            let input = if run.rng.chance(50) {
                resolved_mine += 1;
                ConflictResolutionInput::KeepMine
            } else {
                resolved_theirs += 1;
                ConflictResolutionInput::TakeTheirs
            };
            cb.conflicts_resolve(c.id, input).await.unwrap();
        }
        println!(
            "  {:>5.1} s final round {}: {} conflicts settled, {} operations open, problems {:?}",
            settle_started.elapsed().as_secs_f64(),
            round + 1,
            open.len(),
            outbox_open(&cb).len(),
            last_problems.iter().take(3).collect::<Vec<_>>()
        );
        if open.is_empty() && outbox_open(&cb).is_empty() && last_problems.is_empty() {
            println!("settled after {} final sync rounds", round + 1);
            break;
        }
    }
    // One more pull so the workspace has seen what the last pushes did.
    let p = sync_all(&cb, &ids).await;
    assert!(
        p.is_empty(),
        "the final sync had problems: {p:?} (before: {last_problems:?})"
    );
    let stuck = outbox_open(&cb);
    let open_conflicts = cb.conflicts_list(None).await.unwrap();

    // Exactly once: each local comment's marker is upstream once.
    let (mut duplicates, mut lost_comments) = (0u64, 0u64);
    let mut detail = Vec::new();
    for (i, marker) in &run.local_comments {
        let t = &run.tickets[*i];
        let n = match t.vendor {
            V::Sn => run.fakes.sn.journal_containing(&t.upstream, marker),
            V::Jira => run.fakes.jira.comments_containing(&t.upstream, marker),
            V::Zd => run
                .fakes
                .zd
                .comments_containing(t.upstream.parse().unwrap(), marker),
        };
        if n == 0 {
            lost_comments += 1;
            detail.push(format!(
                "{marker} not upstream ({:?} {})",
                t.vendor, t.upstream
            ));
        } else if n > 1 {
            duplicates += (n - 1) as u64;
            detail.push(format!(
                "{marker} upstream {n} times ({:?} {}): {:?}; outbox {:?}",
                t.vendor,
                t.upstream,
                upstream_comments(&run.fakes, t, marker),
                outbox_rows_with(&cb, marker)
            ));
        }
    }
    // Repeated texts: as many upstream and locally as were written, here and by colleagues.
    let mut repeated_problems = Vec::new();
    for ((i, text), (here, there)) in &run.repeated {
        let t = &run.tickets[*i];
        let want = (here + there) as usize;
        let up = upstream_bodies(&run.fakes, t)
            .iter()
            .filter(|b| b.as_str() == *text)
            .count();
        let local = cb
            .store()
            .ticket(t.local)
            .unwrap()
            .comments
            .iter()
            .filter(|c| c.body == *text)
            .count();
        if up < want {
            lost_comments += (want - up) as u64;
        } else if up > want {
            duplicates += (up - want) as u64;
        }
        if up != want || local != want {
            repeated_problems.push(format!(
                "{:?} {} {text:?}: written {here} here + {there} by a colleague, upstream {up}, locally {local}; outbox {:?}",
                t.vendor,
                t.upstream,
                outbox_rows_with(&cb, text)
            ));
        }
    }
    // Nothing a reader of a ticket sees carries a marker.
    let mut visible_markers = Vec::new();
    for t in &run.tickets {
        for b in upstream_bodies(&run.fakes, t) {
            if b.contains("casebook-op") {
                visible_markers.push(format!("{:?} {}: {b:?}", t.vendor, t.upstream));
            }
        }
    }
    // Their comments arrived once each.
    let mut remote_comment_problems = Vec::new();
    for (i, marker) in &run.remote_comments {
        let t = &run.tickets[*i];
        let d = cb.store().ticket(t.local).unwrap();
        let n = d
            .comments
            .iter()
            .filter(|c| c.body.contains(marker.as_str()))
            .count();
        if n != 1 {
            remote_comment_problems.push(format!("{marker}: {n} times locally"));
        }
    }

    // A fresh workspace pulls the upstreams: the final state as the connectors map it.
    let fresh_home = dir.path().join("fresh");
    let fresh_ids = {
        let (f, _) = open_with(&fresh_home, None).await;
        add_connections(&f, &run.fakes).await
    };
    let (fresh, _) = open_with(&fresh_home, Some(&fresh_ids)).await;
    let p = sync_all(&fresh, &fresh_ids).await;
    assert!(p.is_empty(), "the fresh pull: {p:?}");
    let mut diverged = Vec::new();
    let mut finals: HashMap<(i64, &'static str), Value> = HashMap::new();
    for t in &run.tickets {
        let mine = cb.store().ticket(t.local).unwrap();
        let other_id = fresh.store().resolve_key(&mine.ticket.key).unwrap();
        let theirs = fresh.store().ticket(other_id).unwrap();
        for f in FIELDS {
            let (a, b) = (field_of(&mine.ticket, f), field_of(&theirs.ticket, f));
            if a != b {
                diverged.push(format!(
                    "{} {f}: local {a} upstream {b} (history {:?}; outbox {:?})",
                    mine.ticket.key,
                    run.ledger.get(&(t.local, f)),
                    outbox_rows_with(&cb, &format!("\"{f}\""))
                        .into_iter()
                        .filter(|r| r.contains(&format!("ticket {}", t.local)))
                        .collect::<Vec<_>>()
                ));
            }
            finals.insert((t.local, f), b);
        }
        if mine.comments.len() != theirs.comments.len() {
            diverged.push(format!(
                "{} comments: local {} upstream {}",
                mine.ticket.key,
                mine.comments.len(),
                theirs.comments.len()
            ));
        }
    }

    // Per field: nothing lost, nothing silently overwritten.
    let conflicts = all_conflicts(&cb);
    let bases = update_bases(&cb);
    let (mut lost_edits, mut overwritten, mut aba) = (0u64, 0u64, 0u64);
    for ((ticket, field), entries) in &run.ledger {
        let last = entries.last().unwrap();
        let fin = &finals[&(*ticket, *field)];
        if &last.value == fin {
            continue;
        }
        let key = cb.store().ticket(*ticket).unwrap().ticket.key;
        match last.side {
            Side::Mine => {
                let recorded = conflicts
                    .iter()
                    .any(|c| c.0 == *ticket && c.1 == *field && c.2 == last.value);
                if !recorded {
                    lost_edits += 1;
                    detail.push(format!(
                        "{key} {field}: my last edit {} lost (upstream {fin}, no conflict recorded; history {entries:?})",
                        last.value
                    ));
                }
            }
            Side::Theirs => {
                let recorded = conflicts
                    .iter()
                    .any(|c| c.0 == *ticket && c.1 == *field && c.3 == last.value);
                if recorded {
                    continue;
                }
                let is_base = bases
                    .iter()
                    .any(|b| b.0 == *ticket && b.1 == *field && b.2 == last.value);
                if is_base {
                    aba += 1;
                } else {
                    overwritten += 1;
                    detail.push(format!(
                        "{key} {field}: their edit {} overwritten by {fin} without a conflict (history {entries:?})",
                        last.value
                    ));
                }
            }
        }
    }

    let c = &run.counts;
    println!(
        "sync long-run (seed {seed}): local edits {} (+ {} that set the value already shown) + comments {}, remote edits {} + comments {}, \
         faults {} planned / {faults_fired} fired, restarts {} (killed while pushing {}, pulling {}, \
         other {}), conflicts {} (kept mine {resolved_mine}, took theirs {resolved_theirs}), \
         operations retried at the end {retried_at_end}, theirs == base {aba}, \
         repeated-text comments {} here + {} by colleagues, \
         duplicates = {duplicates}, lost = {}, overwritten = {overwritten}, diverged = {}",
        c.local_edits,
        c.noop_edits,
        c.local_comments,
        c.remote_edits,
        c.remote_comments,
        c.faults_planned,
        c.restarts,
        c.killed_pushing,
        c.killed_pulling,
        c.killed_other,
        conflicts.len(),
        run.repeated.values().map(|r| r.0).sum::<u64>(),
        run.repeated.values().map(|r| r.1).sum::<u64>(),
        lost_comments + lost_edits,
        diverged.len(),
    );
    for d in detail.iter().take(30) {
        println!("  {d}");
    }
    assert!(
        stuck.is_empty(),
        "operations not done at the end: {stuck:?}"
    );
    assert!(
        open_conflicts.is_empty(),
        "conflicts left open: {open_conflicts:?}"
    );
    assert!(
        visible_markers.is_empty(),
        "markers visible upstream: {visible_markers:?}"
    );
    assert!(
        repeated_problems.is_empty(),
        "repeated texts: {repeated_problems:?}"
    );
    assert_eq!(duplicates, 0, "duplicate comments upstream");
    assert_eq!(lost_comments, 0, "local comments never upstream");
    assert!(
        remote_comment_problems.is_empty(),
        "their comments locally: {remote_comment_problems:?}"
    );
    assert_eq!(lost_edits, 0, "local edits lost without a conflict");
    assert_eq!(
        overwritten, 0,
        "upstream edits overwritten without a conflict"
    );
    assert!(
        diverged.is_empty(),
        "local and upstream differ: {diverged:?}"
    );
    assert!(c.restarts > 0 && c.local_edits > 0 && c.remote_edits > 0);
}

/// One ServiceNow incident synced into a fresh workspace (façade in this process).
async fn one_incident() -> (tempfile::TempDir, ServiceNowFake, Casebook, String, i64) {
    let fake = servicenow::start().await.unwrap();
    let mut n = NewIncident::new("Laptop will not boot");
    n.priority = "3".into();
    let sys_id = fake.seed(n);
    let dir = tempfile::tempdir().unwrap();
    let (cb, secrets) = open_with(dir.path(), None).await;
    let c = cb
        .add_connection(NewConnectionInput {
            vendor: Vendor::ServiceNow,
            name: "SN".into(),
            instance: fake.base_url(),
            auth_method: AuthMethod::Basic,
            username: Some("casebook.agent".into()),
            oauth_client_id: None,
            mirror_scope: Some(vec!["incident".into()]),
        })
        .await
        .unwrap();
    store_credentials(&cb, dir.path(), &secrets, c.id).await;
    let run = cb.sync_now("SN".into(), None).await.unwrap();
    assert!(run.errors.is_empty() && run.stopped.is_none(), "{run:?}");
    let number = fake.incident(&sys_id).unwrap().get("number").to_owned();
    let local = cb.store().resolve_key(&number).unwrap();
    (dir, fake, cb, sys_id, local)
}

async fn set_priority(cb: &Casebook, id: i64, p: Priority) {
    cb.update_ticket(UpdateTicketInput {
        id,
        priority: Some(p),
        ..Default::default()
    })
    .await
    .unwrap();
}

/// Found by the long run: two local edits of one field queued (high, then low), a colleague's
/// change makes the first one conflict; keeping mine must not push the older value after the
/// later edit, nor show it locally: the agent's last edit (low) ends upstream.
#[tokio::test]
async fn keeping_mine_on_a_conflict_with_a_later_edit_queued_ends_with_the_later_edit() {
    let (_dir, fake, cb, sys_id, local) = one_incident().await;
    set_priority(&cb, local, Priority::High).await;
    set_priority(&cb, local, Priority::Low).await;
    fake.edit_as_other(&sys_id, &[("priority", "1")]);
    let run = cb.sync_now("SN".into(), None).await.unwrap();
    assert_eq!(run.conflicts, 1, "{run:?}");
    let c = cb.conflicts_list(None).await.unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(
        (c[0].mine.clone(), c[0].theirs.clone()),
        (json!("high"), json!("critical"))
    );
    cb.conflicts_resolve(c[0].id, ConflictResolutionInput::KeepMine)
        .await
        .unwrap();
    assert_eq!(
        cb.store().ticket(local).unwrap().ticket.priority,
        Priority::Low,
        "the later edit stays what the agent sees"
    );
    settles_to(&cb, &fake, &sys_id, local, "4", Priority::Low).await;
}

/// Taking theirs on the first of two queued edits keeps the later edit locally and asks again
/// about it (it was made on the agent's own value, not on theirs); keeping mine then pushes it.
#[tokio::test]
async fn taking_theirs_on_a_conflict_with_a_later_edit_queued_asks_again_about_the_later_edit() {
    let (_dir, fake, cb, sys_id, local) = one_incident().await;
    set_priority(&cb, local, Priority::High).await;
    set_priority(&cb, local, Priority::Low).await;
    fake.edit_as_other(&sys_id, &[("priority", "1")]);
    cb.sync_now("SN".into(), None).await.unwrap();
    let c = cb.conflicts_list(None).await.unwrap();
    assert_eq!(c.len(), 1);
    cb.conflicts_resolve(c[0].id, ConflictResolutionInput::TakeTheirs)
        .await
        .unwrap();
    assert_eq!(
        cb.store().ticket(local).unwrap().ticket.priority,
        Priority::Low,
        "the later edit is still waiting: not replaced by theirs"
    );
    let run = cb.sync_now("SN".into(), None).await.unwrap();
    assert_eq!(run.conflicts, 1, "{run:?}");
    let c = cb.conflicts_list(None).await.unwrap();
    assert_eq!(
        (c[0].mine.clone(), c[0].theirs.clone()),
        (json!("low"), json!("critical"))
    );
    assert_eq!(fake.incident(&sys_id).unwrap().get("priority"), "1");
    cb.conflicts_resolve(c[0].id, ConflictResolutionInput::KeepMine)
        .await
        .unwrap();
    settles_to(&cb, &fake, &sys_id, local, "4", Priority::Low).await;
}

/// Found by the long run (CI seed 678149: a ticket "open" locally, "resolved" upstream, with no
/// operation or conflict left). Taking theirs on a conflict whose field the colleague changed
/// once more after the conflict was recorded: the pull in between kept the local value (the field
/// waited in the inbox) and stored the newer upstream value and version. Taking theirs must show
/// the upstream value as it is now, not the one the inbox recorded: with nothing to push and no
/// newer version to pull, the older one would stay forever.
#[tokio::test]
async fn taking_theirs_after_the_upstream_moved_again_takes_the_current_upstream_value() {
    let (_dir, fake, cb, sys_id, local) = one_incident().await;
    set_priority(&cb, local, Priority::High).await;
    fake.edit_as_other(&sys_id, &[("priority", "1")]);
    let run = cb.sync_now("SN".into(), None).await.unwrap();
    assert_eq!(run.conflicts, 1, "{run:?}");
    // The colleague changes it again; the next pull keeps the field (it waits in the inbox).
    fake.edit_as_other(&sys_id, &[("priority", "4")]);
    let run = cb.sync_now("SN".into(), None).await.unwrap();
    assert!(run.errors.is_empty(), "{run:?}");
    assert_eq!(
        cb.store().ticket(local).unwrap().ticket.priority,
        Priority::High,
        "the field waits in the inbox"
    );
    let c = cb.conflicts_list(None).await.unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].theirs, json!("critical"), "what the inbox recorded");
    cb.conflicts_resolve(c[0].id, ConflictResolutionInput::TakeTheirs)
        .await
        .unwrap();
    assert_eq!(
        cb.store().ticket(local).unwrap().ticket.priority,
        Priority::Low,
        "theirs is the upstream value now"
    );
    settles_to(&cb, &fake, &sys_id, local, "4", Priority::Low).await;
}

/// The same with a later edit of the field queued behind the conflict: taking theirs keeps the
/// later edit waiting; discarding that edit then returns the field to the upstream value as it is
/// now (not the older one the inbox recorded).
#[tokio::test]
async fn discarding_the_later_edit_after_taking_theirs_returns_to_the_current_upstream_value() {
    let (_dir, fake, cb, sys_id, local) = one_incident().await;
    set_priority(&cb, local, Priority::High).await;
    set_priority(&cb, local, Priority::Low).await;
    fake.edit_as_other(&sys_id, &[("priority", "1")]);
    let run = cb.sync_now("SN".into(), None).await.unwrap();
    assert_eq!(run.conflicts, 1, "{run:?}");
    fake.edit_as_other(&sys_id, &[("priority", "2")]);
    cb.sync_now("SN".into(), None).await.unwrap();
    let c = cb.conflicts_list(None).await.unwrap();
    assert_eq!(c.len(), 1);
    cb.conflicts_resolve(c[0].id, ConflictResolutionInput::TakeTheirs)
        .await
        .unwrap();
    let open = outbox_open(&cb);
    assert_eq!(open.len(), 1, "the later edit waits: {open:?}");
    cb.outbox_discard(open[0].0, true).await.unwrap();
    assert_eq!(
        cb.store().ticket(local).unwrap().ticket.priority,
        Priority::High,
        "back to the upstream value (high), not the one the inbox recorded (critical)"
    );
    settles_to(&cb, &fake, &sys_id, local, "2", Priority::High).await;
}

/// Two syncs without errors or conflicts, after which the upstream priority is `upstream` (the
/// ServiceNow code), the workspace shows `shown` and nothing waits in the outbox.
async fn settles_to(
    cb: &Casebook,
    fake: &ServiceNowFake,
    sys_id: &str,
    local: i64,
    upstream: &str,
    shown: Priority,
) {
    for _ in 0..2 {
        let run = cb.sync_now("SN".into(), None).await.unwrap();
        assert!(run.errors.is_empty() && run.conflicts == 0, "{run:?}");
    }
    assert_eq!(
        fake.incident(sys_id).unwrap().get("priority"),
        upstream,
        "upstream priority"
    );
    assert_eq!(cb.store().ticket(local).unwrap().ticket.priority, shown);
    assert!(outbox_open(cb).is_empty());
}

/// One Jira Service Management issue synced into a fresh workspace (façade in this process).
async fn one_jira_issue() -> (tempfile::TempDir, JiraFake, Casebook, String, i64) {
    let fake = jira::start().await.unwrap();
    fake.accept_only(JIRA_EMAIL, JIRA_TOKEN);
    let key = fake.seed(jira::NewIssue::new("SUP", "Laptop will not boot"));
    let dir = tempfile::tempdir().unwrap();
    let (cb, secrets) = open_with(dir.path(), None).await;
    let c = cb
        .add_connection(NewConnectionInput {
            vendor: Vendor::Jira,
            name: "Jira".into(),
            instance: fake.base_url(),
            auth_method: AuthMethod::Basic,
            username: Some(JIRA_EMAIL.into()),
            oauth_client_id: None,
            mirror_scope: Some(vec!["SUP".into()]),
        })
        .await
        .unwrap();
    store_credentials(&cb, dir.path(), &secrets, c.id).await;
    let run = cb.sync_now("Jira".into(), None).await.unwrap();
    assert!(run.errors.is_empty() && run.stopped.is_none(), "{run:?}");
    let local = cb.store().resolve_key(&key).unwrap();
    (dir, fake, cb, key, local)
}

/// Found by the long run (a Jira ticket "open" locally, "resolved" upstream, nothing left to
/// push). Jira has no write precondition: the connector re-reads the issue after writing and
/// the engine records that version as the one its push produced. A colleague's change that lands
/// between the write and the read-back is part of that version but was never applied locally,
/// and every later pull of the same version was skipped as "already stored".
#[tokio::test]
async fn a_colleagues_change_between_our_write_and_its_read_back_reaches_the_workspace() {
    let (_dir, fake, cb, key, local) = one_jira_issue().await;
    assert_ne!(
        cb.store().ticket(local).unwrap().ticket.state,
        TicketState::Resolved
    );
    set_priority(&cb, local, Priority::High).await;
    // Our PUT is stored at once, its answer comes 1.5 s later (within the client's timeout):
    // the colleague resolves the issue in between, before the connector reads it back.
    fake.faults().add(FaultRule::new(
        "PUT",
        "/rest/api/3/issue/*",
        Fault::Slow(Duration::from_millis(1_500)),
    ));
    let sync = tokio::spawn({
        let cb = cb.clone();
        async move { cb.sync_now("Jira".into(), None).await }
    });
    let waited = Instant::now();
    while fake.faults().fired().is_empty() {
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "the push never wrote"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    fake.edit_as_other(&key, |i| {
        i.status = jira_status(TicketState::Resolved).into()
    });
    let run = sync.await.unwrap().unwrap();
    assert!(
        run.errors.is_empty() && run.conflicts == 0 && run.pushed == 1,
        "{run:?}"
    );
    let up = fake.issue(&key).unwrap();
    assert_eq!(
        (up.priority.as_str(), up.status.as_str()),
        ("High", "Resolved")
    );
    for n in 0..2 {
        let t = cb.store().ticket(local).unwrap().ticket;
        assert_eq!(
            (t.priority, t.state),
            (Priority::High, TicketState::Resolved),
            "after sync {}: the colleague's state reached the workspace",
            n + 1
        );
        let run = cb.sync_now("Jira".into(), None).await.unwrap();
        assert!(run.errors.is_empty() && run.conflicts == 0, "{run:?}");
    }
    assert!(outbox_open(&cb).is_empty());
}

/// The same on ServiceNow (no write precondition either): the connector re-reads the version,
/// then PATCHes; a colleague's change between the two is in the version the PATCH answers with.
#[tokio::test]
async fn a_colleagues_change_between_our_version_check_and_our_write_reaches_the_workspace() {
    let (_dir, fake, cb, sys_id, local) = one_incident().await;
    set_priority(&cb, local, Priority::High).await;
    // The version check is answered (as of before the colleague's change) 1.5 s late.
    fake.faults().add(FaultRule::new(
        "GET",
        "/api/now/table/incident/*",
        Fault::Slow(Duration::from_millis(1_500)),
    ));
    let sync = tokio::spawn({
        let cb = cb.clone();
        async move { cb.sync_now("SN".into(), None).await }
    });
    let waited = Instant::now();
    while fake.faults().fired().is_empty() {
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "the push never checked the version"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The rule fires just before the fake reads the record: give it a moment to have read it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    fake.edit_as_other(&sys_id, &sn_state(TicketState::Resolved));
    let run = sync.await.unwrap().unwrap();
    assert!(
        run.errors.is_empty() && run.conflicts == 0 && run.pushed == 1,
        "{run:?}"
    );
    let up = fake.incident(&sys_id).unwrap();
    assert_eq!((up.get("priority"), up.get("state")), ("2", "6"));
    for n in 0..2 {
        let t = cb.store().ticket(local).unwrap().ticket;
        assert_eq!(
            (t.priority, t.state),
            (Priority::High, TicketState::Resolved),
            "after sync {}: the colleague's state reached the workspace",
            n + 1
        );
        let run = cb.sync_now("SN".into(), None).await.unwrap();
        assert!(run.errors.is_empty() && run.conflicts == 0, "{run:?}");
    }
    assert!(outbox_open(&cb).is_empty());
}
