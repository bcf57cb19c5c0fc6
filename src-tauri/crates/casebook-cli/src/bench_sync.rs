//! `casebook bench sync`: the initial pull of a large ServiceNow instance (the fake from
//! tests/fakes on 127.0.0.1, incidents with a comment each, a third resolved) through the real
//! connector, engine and store, then the knowledge-base indexing of the resolved ones, then an
//! incremental sync that finds a few changed tickets, then a sync 16 minutes later when the
//! deletion sweep is due (it lists every upstream id). Baseline in the same run: fetching every
//! page over HTTP without storing anything (the network + JSON floor the sync cannot beat, and
//! the memory floor of holding one page at a time).
//!
//! Memory: the fake instance runs in a child process (this binary re-executed with the hidden
//! `--serve-fake`), so the figures are the sync's own. Each phase's peak resident memory is read
//! from `VmHWM` after resetting it (`/proc/self/clear_refs` = 5) when the phase starts; it
//! counts heap and memory-mapped files alike (the mapped part is split into the database's and
//! the knowledge-base index's from `/proc/self/smaps`). With
//! several sizes (`--tickets 20000,50000,100000`) every size runs in a fresh process and a table
//! shows whether the sync's peak over the fetch-only baseline stays flat as the ticket count
//! grows.

use crate::output::Out;
use casebook_api::connections::NewConnectionInput;
use casebook_api::sync::SyncProgress;
use casebook_api::{ApiError, Casebook, ErrorCode, OpenOptions, Origin};
use casebook_core::connection::{AuthMethod, Vendor};
use casebook_fakes::servicenow;
use clap::Args;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

#[derive(Debug, Args)]
pub struct SyncBenchArgs {
    /// Incidents on the fake instance (each with one comment). Several sizes, comma-separated
    /// (e.g. 20000,50000,100000), run one fresh process each and print whether memory is flat.
    #[arg(long, value_delimiter = ',', default_value = "100000")]
    pub tickets: Vec<usize>,
    /// Tickets changed upstream before the incremental sync.
    #[arg(long, default_value_t = 100)]
    pub changed: usize,
    /// Encrypt the workspace as the app does (SQLCipher). Encrypted pages are read into each
    /// connection's page cache (heap) instead of being memory-mapped, so memory shows elsewhere.
    #[arg(long)]
    pub encrypted: bool,
    /// Internal: serve a seeded fake instance on loopback until standard input closes (the
    /// benchmark runs the fake in this child process so its memory is not counted as the sync's).
    #[arg(long, hide = true)]
    pub serve_fake: bool,
}

/// Resident memory during one phase of one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PhaseMemory {
    phase: String,
    /// Peak resident memory while the phase ran (VmHWM, reset when it started).
    peak_mib: f64,
    /// Resident memory when the phase ended: anonymous (heap) and file-backed (memory maps).
    anon_end_mib: f64,
    file_end_mib: f64,
    /// Of the memory-mapped files at the end: the workspace database (its file, WAL and
    /// shared-memory index) and the knowledge-base index (tantivy maps its segment files).
    #[serde(default)]
    db_mapped_end_mib: f64,
    #[serde(default)]
    kb_mapped_end_mib: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Figures {
    tickets: usize,
    /// Whether the workspace was encrypted (as the app's).
    #[serde(default)]
    encrypted: bool,
    baseline_fetch_only_s: f64,
    initial_sync_s: f64,
    kb_index_resolved_s: f64,
    initial_total_s: f64,
    initial_target_s: f64,
    incremental_changed: usize,
    incremental_sync_s: f64,
    incremental_target_s: f64,
    /// The fake instance's resident memory (its own process, not counted below).
    fake_rss_mib: f64,
    /// This process before the first phase (runtime and HTTP client started).
    start_rss_mib: f64,
    /// Fetch-only baseline, initial sync, KB indexing, incremental sync.
    phases: Vec<PhaseMemory>,
    /// Resident memory during the initial sync, read at its progress events: after the first
    /// page, after the last page, after the knowledge-base articles (shows whether pulling
    /// pages grows with the ticket count, and what comes after the pull).
    initial_sync_steps: Vec<Step>,
    /// The same for the incremental sync (where its time goes).
    incremental_sync_steps: Vec<Step>,
    /// A sync when the deletion sweep is due (it lists every upstream id of the scope).
    #[serde(default)]
    sweep_sync_s: f64,
    #[serde(default)]
    sweep_sync_steps: Vec<Step>,
}

/// Resident memory and time at one point of a sync, read at its progress events.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Step {
    step: String,
    /// Seconds since the sync started.
    at_s: f64,
    /// Peak resident memory so far (VmHWM, reset when the sync started).
    peak_mib: f64,
    heap_mib: f64,
    mapped_files_mib: f64,
    /// Of the mapped files: the database's and the knowledge-base index's (see [`PhaseMemory`]).
    #[serde(default)]
    db_mapped_mib: f64,
    #[serde(default)]
    kb_mapped_mib: f64,
}

/// Records a [`Step`] at the first page, the last page, the knowledge-base articles and the end.
#[derive(Clone)]
struct Steps {
    started: Instant,
    steps: Arc<Mutex<Vec<Step>>>,
}

impl Default for Steps {
    fn default() -> Steps {
        Steps {
            started: Instant::now(),
            steps: Arc::default(),
        }
    }
}

impl Steps {
    fn recorder(&self) -> Arc<dyn Fn(SyncProgress) + Send + Sync> {
        let me = self.clone();
        Arc::new(move |p: SyncProgress| {
            let step = match p {
                SyncProgress::Pulling { pages: 1, .. } => "after the first page",
                SyncProgress::Pulling { .. } => "after the last page",
                SyncProgress::Sweeping { .. } => "sweep started",
                SyncProgress::Articles { .. } => "after the KB articles",
                SyncProgress::Finished => "finished",
                _ => return,
            };
            let m = end_phase(step);
            let s = Step {
                step: step.to_owned(),
                at_s: me.started.elapsed().as_secs_f64(),
                peak_mib: m.peak_mib,
                heap_mib: m.anon_end_mib,
                mapped_files_mib: m.file_end_mib,
                db_mapped_mib: m.db_mapped_end_mib,
                kb_mapped_mib: m.kb_mapped_end_mib,
            };
            let mut steps = me.steps.lock().unwrap_or_else(PoisonError::into_inner);
            // Every page after the first updates one "last page" step.
            match steps.last_mut().filter(|l| l.step == step) {
                Some(last) => *last = s,
                None => steps.push(s),
            }
        })
    }

    fn take(&self) -> Vec<Step> {
        std::mem::take(&mut *self.steps.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Figures {
    fn phase(&self, name: &str) -> Option<&PhaseMemory> {
        self.phases.iter().find(|p| p.phase == name)
    }
    /// The sync's peak over the fetch-only baseline's (one page at a time, nothing kept): the
    /// highest of the initial sync, the knowledge-base indexing and the incremental sync.
    fn sync_over_baseline_mib(&self) -> Option<f64> {
        self.over_baseline_mib(&[INITIAL, KB, INCREMENTAL])
    }

    /// The same for the sync that runs the deletion sweep (every 15 minutes in the app).
    fn sweep_over_baseline_mib(&self) -> Option<f64> {
        self.over_baseline_mib(&[SWEEP])
    }

    fn over_baseline_mib(&self, phases: &[&str]) -> Option<f64> {
        let base = self.phase(BASELINE)?.peak_mib;
        let peak = phases
            .iter()
            .filter_map(|&p| self.phase(p))
            .map(|p| p.peak_mib)
            .fold(f64::NAN, f64::max);
        (!peak.is_nan()).then_some(peak - base)
    }
}

const BASELINE: &str = "fetch-only baseline";
const INITIAL: &str = "initial sync";
const KB: &str = "KB indexing";
const INCREMENTAL: &str = "incremental sync";
const SWEEP: &str = "sync with deletion sweep";

/// The system clock moved ahead on demand: the bench makes the deletion sweep due (it runs when
/// the last one is `SyncOptions::sweep_interval`, 15 minutes, old) without waiting for it.
#[derive(Debug, Default)]
struct AheadClock(std::sync::atomic::AtomicI64);

impl casebook_core::Clock for AheadClock {
    fn now(&self) -> i64 {
        casebook_core::SystemClock.now() + self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// What bounded means across sizes: the sync's peak over the baseline grows by less than this
/// many MiB per 10,000 more tickets (a page is 500 tickets; anything proportional to the ticket
/// count costs far more: 100,000 ids alone are several MiB).
const FLAT_MIB_PER_10K: f64 = 2.0;

fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::Internal, format!("{what}: {e}"))
}

/// A field of /proc/self/status in MiB.
fn status_mib(field: &str) -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn rss_mib() -> f64 {
    status_mib("VmRSS:").unwrap_or(f64::NAN)
}

/// Starts a phase: the peak resident memory (VmHWM) restarts from the current one.
fn reset_peak() -> Result<(), ApiError> {
    std::fs::write("/proc/self/clear_refs", "5").map_err(|e| {
        internal(
            "resetting the peak memory figure (/proc/self/clear_refs)",
            e,
        )
    })
}

fn end_phase(phase: &str) -> PhaseMemory {
    let (db, kb) = mapped_by_kind().unwrap_or((f64::NAN, f64::NAN));
    PhaseMemory {
        phase: phase.to_owned(),
        peak_mib: status_mib("VmHWM:").unwrap_or(f64::NAN),
        anon_end_mib: status_mib("RssAnon:").unwrap_or(f64::NAN),
        file_end_mib: status_mib("RssFile:").unwrap_or(f64::NAN),
        db_mapped_end_mib: db,
        kb_mapped_end_mib: kb,
    }
}

/// Resident memory of mapped files in MiB (from /proc/self/smaps): the workspace database's
/// (file, WAL, shared-memory index) and the knowledge-base index's.
fn mapped_by_kind() -> Option<(f64, f64)> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    Some(mapped_by_kind_in(&smaps))
}

fn mapped_by_kind_in(smaps: &str) -> (f64, f64) {
    let kb_dir = format!("/{}/", casebook_api::kb::KB_DIR);
    // KiB of the database's mappings and of the index's; `current` is the one being read.
    let mut kib = [0u64; 2];
    let mut current: Option<usize> = None;
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            // A mapping's header: address range, permissions, offset, device, inode, path.
            let path = line.split_whitespace().nth(5).unwrap_or("");
            current = if path.contains(casebook_api::DATABASE_FILE) {
                Some(0)
            } else if path.contains(&kb_dir) {
                Some(1)
            } else {
                None
            };
        } else if first == "Rss:"
            && let (Some(i), Some(n)) = (current, words.next().and_then(|n| n.parse::<u64>().ok()))
        {
            kib[i] += n;
        }
    }
    (kib[0] as f64 / 1024.0, kib[1] as f64 / 1024.0)
}

pub fn run(a: SyncBenchArgs, out: &Out) -> Result<(), ApiError> {
    let json = out.json;
    if a.serve_fake {
        let &[tickets] = a.tickets.as_slice() else {
            return Err(ApiError::invalid("--serve-fake takes one --tickets size"));
        };
        return on_runtime(move || serve_fake(tickets));
    }
    if let Some(&bad) = a.tickets.iter().find(|&&t| t == 0) {
        return Err(ApiError::invalid(format!(
            "--tickets {bad}: the fake instance needs at least one incident"
        )));
    }
    if a.tickets.len() > 1 {
        return sizes(&a, json);
    }
    let (Some(&tickets), changed) = (a.tickets.first(), a.changed) else {
        return Err(ApiError::invalid("--tickets needs a size"));
    };
    let encrypted = a.encrypted;
    let f = on_runtime(move || bench(tickets, changed, encrypted))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&f).map_err(|e| internal("output", e))?
        );
    } else {
        print_one(&f);
    }
    Ok(())
}

/// The CLI's runtime is busy running this command: the benchmark gets its own.
fn on_runtime<T, F, Fut>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| internal("starting the benchmark runtime", e))?;
        rt.block_on(f())
    })
    .join()
    .map_err(|_| ApiError::new(ErrorCode::Internal, "the benchmark thread panicked"))?
}

/// The child process: seed the fake, say where it listens, then apply the parent's commands
/// (`edit <n>`: n incidents spread over the instance changed by another agent) until its
/// standard input closes.
async fn serve_fake(tickets: usize) -> Result<(), ApiError> {
    let fake = servicenow::start()
        .await
        .map_err(|e| internal("starting the fake instance", e))?;
    fake.seed_many(tickets, 40, true);
    let mut stdout = std::io::stdout();
    writeln!(stdout, "ready {} {:.1}", fake.base_url(), rss_mib())
        .and_then(|()| stdout.flush())
        .map_err(|e| internal("answering the benchmark", e))?;
    let http = reqwest::Client::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = rx.recv().await {
        let Some(n) = line
            .strip_prefix("edit ")
            .and_then(|n| n.trim().parse::<usize>().ok())
        else {
            return Err(ApiError::invalid(format!(
                "unknown fake command {line:?} (expected: edit <n>)"
            )));
        };
        let ids: Vec<String> = fake
            .incidents()
            .iter()
            .step_by((tickets / n.max(1)).max(1))
            .take(n)
            .map(|r| r.sys_id().to_owned())
            .collect();
        for id in &ids {
            fake.edit_as_other(id, &[("priority", "1")]);
        }
        // The fake drops its lookups on every write and rebuilds them on the next query (a sort
        // of every incident, a map of every journal entry): a real instance has its indexes, so
        // they are rebuilt here, not in the incremental sync's time.
        let started = Instant::now();
        warm_fake(
            &http,
            &fake.base_url(),
            ids.first().map_or("", String::as_str),
        )
        .await?;
        eprintln!(
            "the fake rebuilt its lookups after the edits in {:.3} s (not counted)",
            started.elapsed().as_secs_f64()
        );
        writeln!(stdout, "edited {} {:.1}", ids.len(), rss_mib())
            .and_then(|()| stdout.flush())
            .map_err(|e| internal("answering the benchmark", e))?;
    }
    Ok(())
}

/// Asks the fake the two query shapes of an incremental pull (a page of incidents in update
/// order, the journal of some incidents), so its lookups are built.
async fn warm_fake(http: &reqwest::Client, base: &str, sys_id: &str) -> Result<(), ApiError> {
    let queries = [
        (
            "incident",
            "sys_updated_on>=1970-01-01 00:00:00^ORDERBYsys_updated_on^ORDERBYsys_id".to_owned(),
        ),
        (
            "sys_journal_field",
            format!(
                "element_idIN{sys_id}^elementINcomments,work_notes^ORDERBYsys_created_on^ORDERBYsys_id"
            ),
        ),
    ];
    for (table, q) in queries {
        http.get(format!("{base}/api/now/table/{table}"))
            .basic_auth("bench", Some("bench"))
            .query(&[("sysparm_query", q.as_str()), ("sysparm_limit", "1")])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| internal("warming the fake instance", e))?;
    }
    Ok(())
}

/// The fake instance in its own process (killed when dropped).
struct FakeProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl FakeProcess {
    fn start(tickets: usize) -> Result<(FakeProcess, String, f64), ApiError> {
        let exe = std::env::current_exe().map_err(|e| internal("finding this program", e))?;
        let mut child = Command::new(exe)
            .args(["bench", "sync", "--serve-fake", "--tickets"])
            .arg(tickets.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| internal("starting the fake instance's process", e))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(internal("starting the fake instance's process", "no pipes"));
        };
        let mut p = FakeProcess {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        };
        let line = p.answer("ready")?;
        let mut words = line.split_whitespace();
        let (Some(url), Some(rss)) = (words.next(), words.next().and_then(|m| m.parse().ok()))
        else {
            return Err(internal("the fake instance's answer", line));
        };
        Ok((p, url.to_owned(), rss))
    }

    /// The next line the fake wrote, without `word` in front.
    fn answer(&mut self, word: &str) -> Result<String, ApiError> {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| internal("reading the fake instance's answer", e))?;
        line.trim_end()
            .strip_prefix(word)
            .map(|rest| rest.trim().to_owned())
            .ok_or_else(|| {
                internal(
                    "the fake instance's answer",
                    format!("expected {word:?}, got {line:?} (did it exit?)"),
                )
            })
    }

    /// Changes `n` incidents as another agent; returns how many.
    fn edit(&mut self, n: usize) -> Result<usize, ApiError> {
        writeln!(self.stdin, "edit {n}")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| internal("asking the fake instance for edits", e))?;
        let line = self.answer("edited")?;
        line.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| internal("the fake instance's answer", line))
    }
}

impl Drop for FakeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn bench(tickets: usize, changed: usize, encrypted: bool) -> Result<Figures, ApiError> {
    let (mut fake, base_url, fake_rss) = FakeProcess::start(tickets)?;
    eprintln!("fake ServiceNow on {base_url} with {tickets} incidents (its own process)");
    let http = reqwest::Client::new();
    let start_rss = rss_mib();
    let mut phases = Vec::new();

    // Baseline: every page fetched and parsed, nothing stored.
    reset_peak()?;
    let started = Instant::now();
    let mut offset = 0usize;
    loop {
        let v: serde_json::Value = http
            .get(format!("{base_url}/api/now/table/incident"))
            .basic_auth("bench", Some("bench"))
            .query(&[
                (
                    "sysparm_query",
                    "sys_updated_on>=1970-01-01 00:00:00^ORDERBYsys_updated_on^ORDERBYsys_id",
                ),
                ("sysparm_limit", "500"),
                ("sysparm_offset", &offset.to_string()),
            ])
            .send()
            .await
            .map_err(|e| internal("baseline fetch", e))?
            .json()
            .await
            .map_err(|e| internal("baseline fetch", e))?;
        let n = v["result"].as_array().map_or(0, Vec::len);
        offset += n;
        if n < 500 {
            break;
        }
    }
    let baseline = started.elapsed().as_secs_f64();
    phases.push(end_phase(BASELINE));

    let dir = tempfile::tempdir().map_err(|e| internal("creating a temp dir", e))?;
    let clock = Arc::new(AheadClock::default());
    let mut opts = OpenOptions::for_tests(dir.path(), Origin::Cli);
    opts.clock = Arc::clone(&clock) as Arc<dyn casebook_core::Clock>;
    if encrypted {
        // A key generated into the test options' in-memory secret store.
        opts.database_key = casebook_api::workspace_key::KeySource::SecretStore;
    }
    let cb = Casebook::open(opts).await?;
    let c = cb
        .add_connection(NewConnectionInput {
            vendor: Vendor::ServiceNow,
            name: "bench".into(),
            instance: base_url.clone(),
            auth_method: AuthMethod::Basic,
            username: Some("bench".into()),
            oauth_client_id: None,
            mirror_scope: Some(vec!["incident".into()]),
        })
        .await?;
    cb.set_connection_secret(c.id, "bench".into()).await?;

    let steps = Steps::default();
    reset_peak()?;
    let started = Instant::now();
    let run = cb.sync_now("bench".into(), Some(steps.recorder())).await?;
    let initial = started.elapsed().as_secs_f64();
    phases.push(end_phase(INITIAL));
    if run.stopped.is_some() || !run.errors.is_empty() {
        return Err(internal(
            "the initial sync",
            format!("{:?} {:?}", run.stopped, run.errors),
        ));
    }

    reset_peak()?;
    let started = Instant::now();
    cb.kb_reindex(false, |_| {}).await?;
    let kb = started.elapsed().as_secs_f64();
    phases.push(end_phase(KB));

    let edited = fake.edit(changed)?;
    let inc_steps = Steps::default();
    reset_peak()?;
    let started = Instant::now();
    let inc = cb
        .sync_now("bench".into(), Some(inc_steps.recorder()))
        .await?;
    let incremental = started.elapsed().as_secs_f64();
    phases.push(end_phase(INCREMENTAL));
    if inc.tickets_updated != edited as u64 {
        return Err(internal(
            "the incremental sync",
            format!("updated {} of {edited}", inc.tickets_updated),
        ));
    }

    // Sixteen minutes later the deletion sweep is due: the next sync lists every upstream id
    // (nothing was deleted, so it marks nothing).
    clock
        .0
        .fetch_add(16 * 60 * 1_000, std::sync::atomic::Ordering::SeqCst);
    let sweep_steps = Steps::default();
    reset_peak()?;
    let started = Instant::now();
    let swept = cb
        .sync_now("bench".into(), Some(sweep_steps.recorder()))
        .await?;
    let sweep = started.elapsed().as_secs_f64();
    phases.push(end_phase(SWEEP));
    let sweep_steps = sweep_steps.take();
    if !swept.errors.is_empty() || !sweep_steps.iter().any(|s| s.step == "sweep started") {
        return Err(internal(
            "the sync with the deletion sweep",
            format!("no sweep ran, or errors: {:?}", swept.errors),
        ));
    }
    drop(fake);
    Ok(Figures {
        tickets: run.tickets_created as usize,
        encrypted,
        baseline_fetch_only_s: baseline,
        initial_sync_s: initial,
        kb_index_resolved_s: kb,
        initial_total_s: initial + kb,
        initial_target_s: 30.0,
        incremental_changed: edited,
        incremental_sync_s: incremental,
        incremental_target_s: 1.0,
        fake_rss_mib: fake_rss,
        start_rss_mib: start_rss,
        phases,
        initial_sync_steps: steps.take(),
        incremental_sync_steps: inc_steps.take(),
        sweep_sync_s: sweep,
        sweep_sync_steps: sweep_steps,
    })
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn print_one(f: &Figures) {
    println!(
        "sync benchmark (fake ServiceNow on loopback in its own process, {} incidents with a comment each, {} workspace)",
        f.tickets,
        if f.encrypted {
            "encrypted"
        } else {
            "unencrypted"
        }
    );
    println!(
        "  baseline: fetch every page, store nothing   {:>8.2} s",
        f.baseline_fetch_only_s
    );
    println!(
        "  initial sync (pull + store + sweep)        {:>8.2} s",
        f.initial_sync_s
    );
    println!(
        "  + knowledge-base indexing of resolved ones {:>8.2} s",
        f.kb_index_resolved_s
    );
    println!(
        "  initial total                              {:>8.2} s  (target ≤ {} s: {})",
        f.initial_total_s,
        f.initial_target_s,
        met(f.initial_total_s <= f.initial_target_s)
    );
    println!(
        "  incremental sync, {} changed              {:>8.3} s  (target ≤ {} s: {})",
        f.incremental_changed,
        f.incremental_sync_s,
        f.incremental_target_s,
        met(f.incremental_sync_s <= f.incremental_target_s)
    );
    println!(
        "  memory of this process (the fake's {:.0} MiB are in its own): {:.0} MiB at start",
        f.fake_rss_mib, f.start_rss_mib
    );
    println!(
        "    phase                  peak MiB   at end: heap MiB  mapped files MiB (database, KB index)"
    );
    for p in &f.phases {
        println!(
            "    {:<22} {:>8.0}   {:>16.0}  {:>16.0} ({:.0}, {:.0})",
            p.phase,
            p.peak_mib,
            p.anon_end_mib,
            p.file_end_mib,
            p.db_mapped_end_mib,
            p.kb_mapped_end_mib
        );
    }
    println!(
        "  sync with the deletion sweep (due after 15 min) {:>6.3} s",
        f.sweep_sync_s
    );
    for (name, steps) in [
        ("initial sync", &f.initial_sync_steps),
        ("incremental sync", &f.incremental_sync_steps),
        ("sync with the deletion sweep", &f.sweep_sync_steps),
    ] {
        println!("    during the {name}:");
        for p in steps {
            println!(
                "      {:<21} {:>6.0}   {:>16.0}  {:>16.0} ({:.0}, {:.0})   at {:.3} s",
                p.step,
                p.peak_mib,
                p.heap_mib,
                p.mapped_files_mib,
                p.db_mapped_mib,
                p.kb_mapped_mib,
                p.at_s
            );
        }
    }
    if let Some(d) = f.sync_over_baseline_mib() {
        println!("  the sync's peak over the fetch-only baseline's: {d:+.0} MiB");
    }
    if let Some(d) = f.sweep_over_baseline_mib() {
        println!("  with the deletion sweep: {d:+.0} MiB");
    }
}

/// Several sizes, one fresh process each (freed memory is not always returned to the system,
/// so one process running every size would hide growth); then the table and the verdict.
fn sizes(a: &SyncBenchArgs, json: bool) -> Result<(), ApiError> {
    let exe = std::env::current_exe().map_err(|e| internal("finding this program", e))?;
    let mut all = Vec::new();
    for &t in &a.tickets {
        eprintln!("running {t} incidents in a fresh process");
        let mut cmd = Command::new(&exe);
        cmd.args(["--json", "bench", "sync", "--tickets"])
            .arg(t.to_string())
            .arg("--changed")
            .arg(a.changed.to_string());
        if a.encrypted {
            cmd.arg("--encrypted");
        }
        let out = cmd
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| internal("running one size", e))?;
        if !out.status.success() {
            return Err(internal(
                &format!("the run with {t} incidents"),
                format!("exited with {}", out.status),
            ));
        }
        let f: Figures = serde_json::from_slice(&out.stdout)
            .map_err(|e| internal(&format!("the figures of the run with {t} incidents"), e))?;
        all.push(f);
    }
    let slope = growth_per_10k(&all, Figures::sync_over_baseline_mib);
    let sweep_slope = growth_per_10k(&all, Figures::sweep_over_baseline_mib);
    if json {
        let v = serde_json::json!({
            "runs": all,
            "sync_over_baseline_growth_mib_per_10k": slope,
            "flat_limit_mib_per_10k": FLAT_MIB_PER_10K,
            "bounded": slope.map(|s| s <= FLAT_MIB_PER_10K),
            "sweep_over_baseline_growth_mib_per_10k": sweep_slope,
            "sweep_bounded": sweep_slope.map(|s| s <= FLAT_MIB_PER_10K),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| internal("output", e))?
        );
        return Ok(());
    }
    println!(
        "sync benchmark at {} sizes, one fresh process each (fake ServiceNow in its own process, {} workspace)",
        all.len(),
        if a.encrypted {
            "encrypted"
        } else {
            "unencrypted"
        }
    );
    println!(
        "  {:>8}  {:>8}  {:>8}  {:>6}  {:>6}  {:>6}  {:>10}  {:>9}  {:>7}  {:>9}  {:>10}  {:>9}",
        "tickets",
        "baseline",
        "initial",
        "+ KB",
        "incr.",
        "sweep",
        "fetch-only",
        "sync peak",
        "KB peak",
        "sync over",
        "sweep peak",
        "sweep over"
    );
    println!(
        "  {:>8}  {:>8}  {:>8}  {:>6}  {:>6}  {:>6}  {:>10}  {:>9}  {:>7}  {:>9}  {:>10}  {:>9}",
        "", "s", "s", "s", "s", "s", "peak MiB", "MiB", "MiB", "base MiB", "MiB", "base MiB"
    );
    for f in &all {
        let peak = |n: &str| f.phase(n).map_or(f64::NAN, |p| p.peak_mib);
        println!(
            "  {:>8}  {:>8.2}  {:>8.2}  {:>6.2}  {:>6.3}  {:>6.3}  {:>10.0}  {:>9.0}  {:>7.0}  {:>+9.0}  {:>10.0}  {:>+9.0}",
            f.tickets,
            f.baseline_fetch_only_s,
            f.initial_sync_s,
            f.kb_index_resolved_s,
            f.incremental_sync_s,
            f.sweep_sync_s,
            peak(BASELINE),
            peak(INITIAL).max(peak(KB)).max(peak(INCREMENTAL)),
            peak(KB),
            f.sync_over_baseline_mib().unwrap_or(f64::NAN),
            peak(SWEEP),
            f.sweep_over_baseline_mib().unwrap_or(f64::NAN)
        );
    }
    for (what, slope) in [
        (
            "the sync's peak (initial + KB + incremental) over the baseline",
            slope,
        ),
        (
            "the peak of a sync with the deletion sweep over the baseline",
            sweep_slope,
        ),
    ] {
        match slope {
            Some(s) => println!(
                "  {what} grows {s:+.1} MiB per 10,000 tickets (bounded if ≤ {FLAT_MIB_PER_10K}): {}",
                if s <= FLAT_MIB_PER_10K {
                    "bounded"
                } else {
                    "NOT bounded"
                }
            ),
            None => {
                println!("  {what}: two different sizes are needed to tell whether it is bounded")
            }
        }
    }
    Ok(())
}

/// Least-squares slope of a peak over the baseline (`over`) against the ticket count, in MiB
/// per 10,000 tickets (None with fewer than two distinct sizes).
fn growth_per_10k(all: &[Figures], over: impl Fn(&Figures) -> Option<f64>) -> Option<f64> {
    let pts: Vec<(f64, f64)> = all
        .iter()
        .filter_map(|f| Some((f.tickets as f64 / 10_000.0, over(f)?)))
        .collect();
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if pts.len() < 2 || sxx == 0.0 {
        return None;
    }
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    Some(sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(tickets: usize, baseline: f64, sync: f64) -> Figures {
        let p = |phase: &str, peak_mib: f64| PhaseMemory {
            phase: phase.into(),
            peak_mib,
            anon_end_mib: 0.0,
            file_end_mib: 0.0,
            db_mapped_end_mib: 0.0,
            kb_mapped_end_mib: 0.0,
        };
        Figures {
            tickets,
            encrypted: false,
            baseline_fetch_only_s: 0.0,
            initial_sync_s: 0.0,
            kb_index_resolved_s: 0.0,
            initial_total_s: 0.0,
            initial_target_s: 30.0,
            incremental_changed: 0,
            incremental_sync_s: 0.0,
            incremental_target_s: 1.0,
            fake_rss_mib: 0.0,
            start_rss_mib: 0.0,
            initial_sync_steps: Vec::new(),
            incremental_sync_steps: Vec::new(),
            sweep_sync_s: 0.0,
            sweep_sync_steps: Vec::new(),
            phases: vec![
                p(BASELINE, baseline),
                p(INITIAL, sync),
                p(KB, sync - 10.0),
                p(INCREMENTAL, sync - 20.0),
                p(SWEEP, sync + tickets as f64 / 1_000.0),
            ],
        }
    }

    fn sync(f: &Figures) -> Option<f64> {
        f.sync_over_baseline_mib()
    }

    #[test]
    fn mapped_memory_is_split_into_the_database_and_the_index() {
        let smaps = "\
55d0c0000000-55d0c1000000 r-xp 00000000 08:01 123 /usr/bin/casebook
Size:              16384 kB
Rss:                9000 kB
7f0000000000-7f0010000000 r--s 00000000 08:01 456 /tmp/x/casebook.db
Size:             262144 kB
Rss:               40960 kB
7f0010000000-7f0010008000 rw-s 00000000 08:01 457 /tmp/x/casebook.db-shm
Rss:                  32 kB
7f0020000000-7f0020100000 r--s 00000000 08:01 458 /tmp/x/kb/index-1/abc.idx
Rss:                2048 kB
7f0030000000-7f0030100000 rw-p 00000000 00:00 0
Rss:                4096 kB
";
        assert_eq!(mapped_by_kind_in(smaps), (40.03125, 2.0));
    }

    #[test]
    fn the_sync_is_measured_over_the_baseline_at_its_highest_phase() {
        let f = figures(20_000, 30.0, 130.0);
        assert_eq!(f.sync_over_baseline_mib(), Some(100.0));
        // The sweep's phase has a verdict of its own (here it grows 1 MiB per 1,000 tickets).
        assert_eq!(f.sweep_over_baseline_mib(), Some(120.0));
        let both = [f, figures(30_000, 30.0, 130.0)];
        let s = growth_per_10k(&both, Figures::sweep_over_baseline_mib).unwrap_or(f64::NAN);
        assert!((s - 10.0).abs() < 1e-9, "{s}");
        assert_eq!(growth_per_10k(&both, sync), Some(0.0));
    }

    #[test]
    fn growth_is_the_slope_per_10k_tickets_and_needs_two_sizes() {
        let flat = [figures(20_000, 30.0, 130.0), figures(100_000, 31.0, 131.0)];
        assert_eq!(growth_per_10k(&flat, sync), Some(0.0));
        let growing = [
            figures(20_000, 30.0, 130.0),
            figures(50_000, 30.0, 160.0),
            figures(100_000, 30.0, 210.0),
        ];
        let s = growth_per_10k(&growing, sync).unwrap_or(f64::NAN);
        assert!((s - 10.0).abs() < 1e-9, "{s}");
        assert_eq!(growth_per_10k(&flat[..1], sync), None);
        assert_eq!(
            growth_per_10k(&[flat[0].clone(), flat[0].clone()], sync),
            None
        );
    }
}
