//! `casebook bench sla`: SLA recompute and KPI report over a large workspace, each beside a named
//! baseline measured in the same run, and the agreement of local SLA verdicts with the UCI
//! ServiceNow log's `made_sla` flag (skipped with a message when the corpus is absent).
//!
//! - SLA recompute: every ticket's SLA from the event log (one pass over tickets, one over
//!   events, then the engine), vs. the naive path: per ticket, `Store::ticket` + `events_for`
//!   (JSON parsed in Rust) + the same engine, timed on a sample and scaled to the whole store.
//! - KPI report: `Store::report` over a year (totals, and grouped by assignment group), vs. the
//!   same naive per-ticket loading.

use crate::bench_util::{Rng, machine, ms};
use crate::output::Out;
use casebook_api::ApiError;
use casebook_api::sla::{AgreementRow, agreement};
use casebook_core::import::{ImportOptions, Preset, import_reader};
use casebook_core::model::{Millis, NewTicket, Priority, TicketState};
use casebook_core::reports::{GroupBy, ReportFilter};
use casebook_core::sla::{self, SlaConfig, TicketFacts, TicketSla};
use casebook_core::store::{ImportedTicket, ImportedUpdate};
use casebook_core::{OpenMode, Store, SystemClock};
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::time::Instant;

const TARGET_RECOMPUTE_MS: f64 = 2_000.0;
const TARGET_REPORT_MS: f64 = 500.0;
const MIN: Millis = 60_000;
const H: Millis = 60 * MIN;
const DAY: Millis = 24 * H;

#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// SLA recompute and KPI report over a large workspace, and the UCI made_sla agreement.
    Sla(SlaBenchArgs),
    /// Redaction and log-analysis throughput vs naive regex baselines; a 500 MB log streamed.
    Logs(crate::bench_logs::LogsBenchArgs),
    /// Initial pull of 100k ServiceNow tickets (fake on loopback) with KB indexing, and an
    /// incremental sync of 100 changed, against a fetch-only baseline.
    Sync(crate::bench_sync::SyncBenchArgs),
}

#[derive(Debug, Args)]
pub struct SlaBenchArgs {
    /// Tickets in the benchmark workspace.
    #[arg(long, default_value_t = 100_000)]
    pub tickets: usize,
    /// Tickets timed on the naive per-ticket path (scaled to the whole store).
    #[arg(long, default_value_t = 5_000)]
    pub baseline_sample: usize,
    /// Keep (and reuse) the benchmark workspace in this folder.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// The UCI `incident_event_log.csv` (default: ../shared/corpora/incidents-uci-servicenow/).
    #[arg(long, value_name = "FILE")]
    pub uci: Option<PathBuf>,
}

fn err(context: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        casebook_api::ErrorCode::Internal,
        format!("bench: {context}: {e}"),
    )
}

fn change(field: &str, from: Value, to: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(field.into(), json!({ "from": from, "to": to }));
    m
}

/// A year of tickets with realistic lives: priorities 5/15/60/20 %, replies, waits on the
/// customer, holds, resolutions, closures and reopens.
fn generate(n: usize, start: Millis, rng: &mut Rng) -> (Vec<ImportedTicket>, Vec<(usize, Millis)>) {
    let mut tickets = Vec::with_capacity(n);
    let mut replies = Vec::new();
    let span = 365 * DAY;
    for i in 0..n {
        let created = start + (span / n as i64) * i as i64 + rng.below(3_600_000) as i64;
        let priority = match rng.below(100) {
            0..5 => Priority::Critical,
            5..20 => Priority::High,
            20..80 => Priority::Medium,
            _ => Priority::Low,
        };
        let mut t = NewTicket::local(format!("bench ticket {i}"));
        t.key = Some(format!("SLA-{i}"));
        t.priority = priority;
        t.created_at = Some(created);
        t.assignment_group = Some(format!("Group {}", rng.below(40)));
        t.assignee = Some(format!("Agent {}", rng.below(300)));
        t.requester = Some(format!("Caller {}", rng.below(5_000)));
        let mut history = Vec::new();
        let mut at = created;
        let mut state = TicketState::New;
        let mut step = |at: Millis, to: TicketState, state: &mut TicketState| {
            history.push(ImportedUpdate {
                at,
                actor: "Agent".into(),
                changes: change("state", json!(*state), json!(to)),
            });
            *state = to;
        };
        at += (rng.below(240) as i64 + 1) * MIN;
        step(at, TicketState::Open, &mut state);
        replies.push((i, at + MIN * rng.below(30) as i64));
        if rng.below(100) < 30 {
            at += (rng.below(48) as i64 + 1) * H;
            step(at, TicketState::Pending, &mut state);
            at += (rng.below(72) as i64 + 1) * H;
            step(at, TicketState::Open, &mut state);
            replies.push((i, at + 5 * MIN));
        }
        if rng.below(100) < 10 {
            at += (rng.below(24) as i64 + 1) * H;
            step(at, TicketState::OnHold, &mut state);
            at += (rng.below(96) as i64 + 1) * H;
            step(at, TicketState::Open, &mut state);
        }
        if rng.below(100) < 85 {
            at += (rng.below(120) as i64 + 1) * H;
            step(at, TicketState::Resolved, &mut state);
            if rng.below(100) < 8 {
                at += (rng.below(48) as i64 + 1) * H;
                step(at, TicketState::Open, &mut state);
                at += (rng.below(24) as i64 + 1) * H;
                step(at, TicketState::Resolved, &mut state);
            }
            if rng.below(100) < 70 {
                at += 3 * DAY;
                step(at, TicketState::Closed, &mut state);
            }
        }
        if rng.below(100) < 3 {
            let p = Priority::ALL[rng.below(4)];
            history.push(ImportedUpdate {
                at: created + 30 * MIN,
                actor: "Agent".into(),
                changes: change("priority", json!(priority), json!(p)),
            });
            history.sort_by_key(|h| h.at);
            t.priority = p;
        }
        t.state = state;
        t.resolved_at = state.is_done().then_some(at);
        t.updated_at = Some(at);
        tickets.push(ImportedTicket {
            ticket: t,
            created_by: Some("Caller".into()),
            history,
        });
    }
    (tickets, replies)
}

fn build(store: &Store, n: usize, say: &dyn Fn(&str)) -> Result<(), ApiError> {
    let start = jiff::Timestamp::from_second(1_767_225_600) // 2026-01-01T00:00Z
        .map_err(|e| err("start", e))?
        .as_millisecond();
    let mut rng = Rng(0x51A_BE4C_0FFE_E001);
    let (tickets, replies) = generate(n, start, &mut rng);
    say(&format!(
        "writing {n} tickets with {} state changes and {} public replies",
        tickets.iter().map(|t| t.history.len()).sum::<usize>(),
        replies.len()
    ));
    let _bulk = store.bulk_load()?;
    for chunk in tickets.chunks(10_000) {
        store.import_batch(chunk, "bench", start)?;
    }
    // Public replies: comment events as the store writes them (`commented`, visibility public).
    store.write(|tx| {
        let mut id_of = tx.prepare("SELECT id FROM tickets WHERE key = ?")?;
        let mut ins = tx.prepare(
            "INSERT INTO events (ticket_id, kind, actor, at, recorded_at, origin, data) \
             VALUES (?, 'commented', 'Agent', ?, ?, 'import', ?)",
        )?;
        for (i, at) in &replies {
            let id: i64 = id_of.query_row([format!("SLA-{i}")], |r| r.get(0))?;
            ins.execute((
                id,
                at,
                at,
                json!({"comment_id": 0, "visibility": "public"}).to_string(),
            ))?;
        }
        Ok(())
    })?;
    drop(_bulk);
    store.analyze()?;
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

#[derive(Debug, Serialize)]
struct Figures {
    tickets: u64,
    events: u64,
    recompute_ms: f64,
    recompute_load_ms: f64,
    recompute_engine_ms: f64,
    engine_with_explanations_ms: f64,
    baseline_recompute_ms: f64,
    baseline_sample: usize,
    machine: String,
    report_ms: f64,
    /// The same report with the facts read the previous way (every event's JSON parsed).
    report_event_log_ms: f64,
    report_by_group_ms: f64,
    report_cached_ms: f64,
    cache_incremental_refreshes: u64,
    baseline_report_ms: f64,
    risk_order_ms: f64,
    /// The first page of the queue sorted by risk: facts read, every ticket's risk value
    /// computed, the page taken from the queue index.
    risk_page_cold_ms: f64,
    /// Later pages: values kept in memory, only changed tickets recomputed (median of 20, an
    /// edit before every fifth).
    risk_page_warm_ms: f64,
    breached_now: u64,
    uci: Option<Vec<UciVariant>>,
}

#[derive(Debug, Serialize)]
struct UciVariant {
    assumption: String,
    rows: Vec<AgreementRow>,
}

/// The default UCI corpus location, relative to the repository (as `casebook bench` looks).
fn default_uci() -> Option<PathBuf> {
    [
        "../shared/corpora/incidents-uci-servicenow/incident_event_log.csv",
        "../../shared/corpora/incidents-uci-servicenow/incident_event_log.csv",
        "/work/shared/corpora/incidents-uci-servicenow/incident_event_log.csv",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// The assumptions tried on the UCI log: its real policy is unknown.
fn uci_variants() -> Vec<(String, SlaConfig)> {
    let defaults = SlaConfig::defaults();
    let mut wall = defaults.clone();
    for p in &mut wall.policies {
        p.calendar = sla::CALENDAR_24X7.into();
    }
    let mut no_pause = defaults.clone();
    for p in &mut no_pause.policies {
        p.pause_states.clear();
    }
    vec![
        (
            "Casebook defaults (P1 4 h, P2 8 h 24x7; P3 24 h, P4 40 h Mon–Fri 09–17 UTC; \
             pending/on hold pause)"
                .into(),
            defaults,
        ),
        ("same targets, all measured 24x7".into(), wall),
        ("defaults without pauses".into(), no_pause),
    ]
}

fn uci_rows(
    facts: &[TicketFacts],
    cfg: &SlaConfig,
    now: Millis,
) -> Result<Vec<AgreementRow>, ApiError> {
    let mut compiled = cfg.compile().map_err(|e| err("policy", e))?;
    let mut done = std::collections::HashSet::new();
    let all: Vec<TicketSla> = facts
        .iter()
        .filter(|f| f.upstream_made_sla.is_some())
        .map(|f| {
            let tl = sla::Timeline::build(f, now);
            if tl.state_now.is_done() {
                done.insert(f.id);
            }
            sla::compute_quiet(f, &tl, &mut compiled, now)
        })
        .collect();
    Ok(agreement(&all, &|id| done.contains(&id)))
}

/// Imports the UCI log into a temporary workspace and compares local verdicts with `made_sla`
/// under each assumption. `None` (with a message) when the corpus is absent.
fn uci_run(path: Option<&Path>, say: &dyn Fn(&str)) -> Result<Option<Vec<UciVariant>>, ApiError> {
    let file = match path.filter(|p| !p.as_os_str().is_empty()) {
        Some(p) if p.exists() => p.to_owned(),
        Some(p) => {
            return Err(ApiError::new(
                casebook_api::ErrorCode::NotFound,
                format!("{} not found", p.display()),
            ));
        }
        None => match default_uci() {
            Some(p) => p,
            None => {
                eprintln!(
                    "note: UCI agreement skipped: ../shared/corpora/incidents-uci-servicenow/incident_event_log.csv \
                     not found (pass --uci FILE)"
                );
                return Ok(None);
            }
        },
    };
    let tmp = tempdir()?;
    let store = Store::open(&tmp.0.join("uci.db"), OpenMode::CreateIfMissing)?;
    say(&format!(
        "importing {} (preset uci-servicenow)",
        file.display()
    ));
    let input = std::fs::File::open(&file).map_err(|e| err("opening the UCI log", e))?;
    let t = Instant::now();
    let summary = import_reader(
        &store,
        std::io::BufReader::new(input),
        &ImportOptions::preset(Preset::UciServicenow),
        "bench",
        &SystemClock,
        &mut |_| {},
    )?;
    say(&format!(
        "imported {} incidents from {} rows in {:.1} s ({} rows rejected)",
        summary.tickets_imported,
        summary.rows_read,
        t.elapsed().as_secs_f64(),
        summary.problems.len() as u64 + summary.problems_not_listed
    ));
    let facts = store.sla_facts_all()?;
    let now = jiff::Timestamp::now().as_millisecond();
    let mut out = Vec::new();
    for (assumption, cfg) in uci_variants() {
        out.push(UciVariant {
            rows: uci_rows(&facts, &cfg, now)?,
            assumption,
        });
    }
    Ok(Some(out))
}

/// `casebook sla agreement --uci [FILE]`: the agreement under the default policies.
pub fn uci_agreement(path: &Path, out: &Out) -> Result<Option<Vec<AgreementRow>>, ApiError> {
    let say = |m: &str| {
        if !out.json {
            eprintln!("… {m}");
        }
    };
    Ok(uci_run(Some(path), &say)?.and_then(|v| v.into_iter().next().map(|v| v.rows)))
}

struct TempDir(PathBuf);

fn tempdir() -> Result<TempDir, ApiError> {
    let p = std::env::temp_dir().join(format!(
        "casebook-bench-sla-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_millisecond()
    ));
    std::fs::create_dir_all(&p).map_err(|e| err("creating a temporary folder", e))?;
    Ok(TempDir(p))
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn run(args: SlaBenchArgs, out: &Out) -> Result<(), ApiError> {
    if args.tickets < 1_000 || args.baseline_sample < 100 {
        return Err(ApiError::invalid(
            "bench sla needs at least 1000 tickets and a baseline sample of 100",
        ));
    }
    let say = |m: &str| {
        if !out.json {
            eprintln!("… {m}");
        }
    };
    let tmp;
    let dir = match &args.keep {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| err("creating the bench folder", e))?;
            d.clone()
        }
        None => {
            tmp = tempdir()?;
            tmp.0.clone()
        }
    };
    let db = dir.join("bench-sla.db");
    let store = Store::open(&db, OpenMode::CreateIfMissing)?;
    let have = store.ticket_count()?;
    if have as usize != args.tickets {
        if have > 0 {
            drop(store);
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
            }
            return run(args, out);
        }
        build(&store, args.tickets, &say)?;
    } else {
        say(&format!("reusing {} ({have} tickets)", db.display()));
    }
    let events: i64 =
        store.read(|c| Ok(c.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?))?;
    let now = jiff::Timestamp::from_second(1_798_761_600) // 2027-01-01T00:00Z
        .map_err(|e| err("now", e))?
        .as_millisecond();

    say("SLA recompute: bulk load + engine, 5 runs");
    let mut totals = Vec::new();
    let mut loads = Vec::new();
    let mut engines = Vec::new();
    let mut texts = Vec::new();
    let mut breached = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let facts = store.sla_facts_all()?;
        let load = ms(t.elapsed());
        let t2 = Instant::now();
        let mut cfg = store
            .sla_config()
            .and_then(|c| c.compile())
            .map_err(|e| err("config", e))?;
        let all: Vec<TicketSla> = facts
            .iter()
            .map(|f| sla::compute_quiet(f, &sla::Timeline::build(f, now), &mut cfg, now))
            .collect();
        engines.push(ms(t2.elapsed()));
        loads.push(load);
        totals.push(ms(t.elapsed()));
        breached = all.iter().filter(|s| s.breached).count() as u64;
        std::hint::black_box(all);
        let t3 = Instant::now();
        let explained: Vec<TicketSla> = facts
            .iter()
            .map(|f| sla::compute(f, &mut cfg, now))
            .collect();
        texts.push(ms(t3.elapsed()));
        std::hint::black_box(explained);
    }

    let sample = args.baseline_sample.min(args.tickets);
    say(&format!("baseline: per-ticket queries on {sample} tickets"));
    let ids: Vec<i64> = store.read(|c| {
        Ok(c.prepare("SELECT id FROM tickets ORDER BY id LIMIT ?")?
            .query_map([sample as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?)
    })?;
    let t = Instant::now();
    let mut cfg = store
        .sla_config()
        .and_then(|c| c.compile())
        .map_err(|e| err("config", e))?;
    for id in &ids {
        let d = store.ticket(*id)?;
        let ev = store.events_for(*id)?;
        let f = TicketFacts::from_events(&d.ticket, &ev);
        std::hint::black_box(sla::compute(&f, &mut cfg, now));
    }
    let baseline = ms(t.elapsed()) * args.tickets as f64 / ids.len().max(1) as f64;

    say("KPI report over the year: 5 runs each, totals and by group");
    let year = ReportFilter {
        from: now - 366 * DAY,
        to: now,
        ..Default::default()
    };
    let by_group = ReportFilter {
        by: GroupBy::Group,
        ..year.clone()
    };
    let mut rep = Vec::new();
    let mut rep_g = Vec::new();
    let mut rep_json = Vec::new();
    let machine = machine();
    for _ in 0..5 {
        let t = Instant::now();
        let facts = store.sla_facts_all_from_event_log()?;
        let mut cfg = store
            .sla_config()
            .and_then(|c| c.compile())
            .map_err(|e| err("config", e))?;
        std::hint::black_box(
            casebook_core::reports::report(&facts, &mut cfg, &year, now)
                .map_err(|e| err("report", e))?,
        );
        rep_json.push(ms(t.elapsed()));
        let t = Instant::now();
        std::hint::black_box(store.report(&year, now).map_err(|e| err("report", e))?);
        rep.push(ms(t.elapsed()));
        let t = Instant::now();
        std::hint::black_box(store.report(&by_group, now).map_err(|e| err("report", e))?);
        rep_g.push(ms(t.elapsed()));
    }

    say(
        "KPI report with the in-memory facts cache: an agent edits a ticket, then the report, 5 runs",
    );
    let mut cache = sla::FactsCache::new();
    cache.refresh(&store)?;
    let mut warm = Vec::new();
    for k in 0..5i64 {
        let id = ids.get(k as usize * 7).copied().unwrap_or(1);
        // A real change every time: add the tag, or take it off again.
        let current = store.ticket(id)?.ticket.tags;
        let tags: Vec<String> = if current.iter().any(|t| t == "bench-touch") {
            current.into_iter().filter(|t| t != "bench-touch").collect()
        } else {
            current
                .into_iter()
                .chain(["bench-touch".to_owned()])
                .collect()
        };
        store.update_ticket(
            id,
            None,
            &casebook_core::model::TicketPatch {
                tags: Some(tags),
                ..Default::default()
            },
            &casebook_core::store::Actor {
                name: "bench",
                origin: casebook_core::store::Origin::Cli,
                now,
            },
        )?;
        let t = Instant::now();
        let mut cfg = store
            .sla_config()
            .and_then(|c| c.compile())
            .map_err(|e| err("config", e))?;
        let facts = cache.refresh(&store)?;
        std::hint::black_box(
            casebook_core::reports::report(facts, &mut cfg, &year, now)
                .map_err(|e| err("report", e))?,
        );
        warm.push(ms(t.elapsed()));
    }
    let incremental = cache.incremental;

    say("risk order (compute all, sort)");
    let t = Instant::now();
    let facts = store.sla_facts_all()?;
    let mut cfg = store
        .sla_config()
        .and_then(|c| c.compile())
        .map_err(|e| err("config", e))?;
    let all: Vec<TicketSla> = facts
        .iter()
        .map(|f| sla::compute_quiet(f, &sla::Timeline::build(f, now), &mut cfg, now))
        .collect();
    let order = sla::risk_order(&all);
    let risk_ms = ms(t.elapsed());
    std::hint::black_box(order);

    say("queue sorted by risk: first page cold, then 20 pages with the values kept");
    let page = casebook_core::store::TicketQuery {
        sort: casebook_core::store::SortKey::Risk,
        ..Default::default()
    };
    store.warm_queue_index()?;
    let config = store.sla_config().map_err(|e| err("config", e))?;
    let t = Instant::now();
    let mut facts = sla::FactsCache::new();
    let mut risk = sla::RiskCache::new();
    facts.refresh(&store)?;
    risk.update(&facts, &config, now)
        .map_err(|e| err("risk", e))?;
    let first = store.query_tickets_ranked(&page, &|id| risk.value(&facts, id))?;
    let risk_page_cold_ms = ms(t.elapsed());
    std::hint::black_box(first);
    let mut warm_pages = Vec::new();
    for k in 0..20u32 {
        if k % 5 == 0 {
            let id = ids.get(k as usize).copied().unwrap_or(1);
            store.add_comment(
                id,
                casebook_core::model::Visibility::Public,
                "bench reply",
                &casebook_core::store::Actor {
                    name: "bench",
                    origin: casebook_core::store::Origin::Cli,
                    now,
                },
            )?;
        }
        let t = Instant::now();
        facts.refresh(&store)?;
        risk.update(&facts, &config, now)
            .map_err(|e| err("risk", e))?;
        let mut q = page.clone();
        q.offset = k * 50;
        std::hint::black_box(store.query_tickets_ranked(&q, &|id| risk.value(&facts, id))?);
        warm_pages.push(ms(t.elapsed()));
    }

    let uci = uci_run(args.uci.as_deref(), &say)?;
    let f = Figures {
        tickets: store.ticket_count()?,
        events: events as u64,
        recompute_ms: median(totals),
        recompute_load_ms: median(loads),
        recompute_engine_ms: median(engines),
        engine_with_explanations_ms: median(texts),
        baseline_recompute_ms: baseline,
        baseline_sample: ids.len(),
        machine,
        report_ms: median(rep),
        report_event_log_ms: median(rep_json),
        report_by_group_ms: median(rep_g),
        report_cached_ms: median(warm),
        cache_incremental_refreshes: incremental,
        baseline_report_ms: baseline,
        risk_order_ms: risk_ms,
        risk_page_cold_ms,
        risk_page_warm_ms: median(warm_pages),
        breached_now: breached,
        uci,
    };
    print(&f, out);
    Ok(())
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn print(f: &Figures, out: &Out) {
    if out.json {
        if let Ok(s) = serde_json::to_string_pretty(f) {
            println!("{s}");
        }
        return;
    }
    println!(
        "Casebook SLA benchmark: {} tickets, {} events (synthetic year of tickets; evaluated at 2027-01-01)",
        f.tickets, f.events
    );
    println!("machine: {}", f.machine);
    println!();
    println!("| measure | Casebook (median of 5) | baseline | target |");
    println!("|---|---|---|---|");
    println!(
        "| SLA state of every ticket recomputed | {:.0} ms (load {:.0} ms + engine {:.0} ms) | {:.0} ms (per-ticket queries, {} tickets timed, scaled) | ≤ {TARGET_RECOMPUTE_MS:.0} ms: {} |",
        f.recompute_ms,
        f.recompute_load_ms,
        f.recompute_engine_ms,
        f.baseline_recompute_ms,
        f.baseline_sample,
        verdict(f.recompute_ms <= TARGET_RECOMPUTE_MS)
    );
    println!(
        "| engine with every explanation written out (all tickets) | {:.0} ms | — | — |",
        f.engine_with_explanations_ms
    );
    println!(
        "| KPI report over the year (totals), facts read from the database (cold) | {:.0} ms | {:.0} ms (facts from the event log's JSON, the previous loader); {:.0} ms (per-ticket queries, scaled) | ≤ {TARGET_REPORT_MS:.0} ms: {} |",
        f.report_ms,
        f.report_event_log_ms,
        f.baseline_report_ms,
        verdict(f.report_ms <= TARGET_REPORT_MS)
    );
    println!(
        "| KPI report by assignment group, facts read from the database | {:.0} ms | — | ≤ {TARGET_REPORT_MS:.0} ms: {} |",
        f.report_by_group_ms,
        verdict(f.report_by_group_ms <= TARGET_REPORT_MS)
    );
    println!(
        "| KPI report, facts kept in memory (after an edit: {} incremental refreshes) | {:.0} ms | {:.0} ms (per-ticket queries, scaled) | ≤ {TARGET_REPORT_MS:.0} ms: {} |",
        f.cache_incremental_refreshes,
        f.report_cached_ms,
        f.baseline_report_ms,
        verdict(f.report_cached_ms <= TARGET_REPORT_MS)
    );
    println!(
        "| queue by risk (all tickets, with explanations) | {:.0} ms | — | — |",
        f.risk_order_ms
    );
    println!(
        "| queue sorted by time to breach, first page (cold: facts, risk of every ticket, index page) | {:.0} ms | — | — |",
        f.risk_page_cold_ms
    );
    println!(
        "| queue sorted by time to breach, next pages (values kept; a reply every 5 pages) | {:.1} ms | — | — |",
        f.risk_page_warm_ms
    );
    println!("\n{} tickets have a breached target.", f.breached_now);
    if let Some(variants) = &f.uci {
        println!(
            "\nUCI ServiceNow log: local resolution verdict vs. made_sla (done incidents; the \
             dataset's real policy is unknown)"
        );
        for v in variants {
            println!("\nassumption: {}", v.assumption);
            crate::sla_cmd::print_agreement(&v.rows);
        }
    }
}
