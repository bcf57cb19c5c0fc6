//! `casebook bench sync`: the initial pull of a large ServiceNow instance (the fake from
//! tests/fakes on 127.0.0.1, incidents with a comment each, a third resolved) through the real
//! connector, engine and store, then the knowledge-base indexing of the resolved ones, then an
//! incremental sync that finds a few changed tickets. Baseline in the same run: fetching every
//! page over HTTP without storing anything (the network + JSON floor the sync cannot beat).

use crate::output::Out;
use casebook_api::connections::NewConnectionInput;
use casebook_api::{ApiError, Casebook, ErrorCode, OpenOptions, Origin};
use casebook_core::connection::{AuthMethod, Vendor};
use casebook_fakes::servicenow;
use clap::Args;
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct SyncBenchArgs {
    /// Incidents on the fake instance (each with one comment).
    #[arg(long, default_value_t = 100_000)]
    pub tickets: usize,
    /// Tickets changed upstream before the incremental sync.
    #[arg(long, default_value_t = 100)]
    pub changed: usize,
}

#[derive(Debug, Serialize)]
struct Figures {
    tickets: usize,
    baseline_fetch_only_s: f64,
    initial_sync_s: f64,
    kb_index_resolved_s: f64,
    initial_total_s: f64,
    initial_target_s: f64,
    incremental_changed: usize,
    incremental_sync_s: f64,
    incremental_target_s: f64,
    peak_rss_mib: Option<f64>,
    /// Resident memory once the fake instance is seeded, before any sync (the fake's share).
    rss_after_seeding_mib: Option<f64>,
    /// Resident memory after each phase: the fetch-only baseline, the initial sync, the KB
    /// indexing, the incremental sync (growth across sizes shows what is not bounded).
    rss_after_phases_mib: Vec<Option<f64>>,
}

fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::Internal, format!("{what}: {e}"))
}

fn peak_rss_mib() -> Option<f64> {
    status_mib("VmHWM:")
}

fn status_mib(field: &str) -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub fn run(a: SyncBenchArgs, out: &Out) -> Result<(), ApiError> {
    // The CLI's runtime is busy running this command: the benchmark gets its own.
    let json = out.json;
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| internal("starting the benchmark runtime", e))?;
        rt.block_on(bench(a, json))
    })
    .join()
    .map_err(|_| ApiError::new(ErrorCode::Internal, "the benchmark thread panicked"))?
}

async fn bench(a: SyncBenchArgs, json: bool) -> Result<(), ApiError> {
    let fake = servicenow::start()
        .await
        .map_err(|e| internal("starting the fake instance", e))?;
    fake.seed_many(a.tickets, 40, true);
    let rss_after_seeding = status_mib("VmRSS:");
    eprintln!(
        "fake ServiceNow on {} with {} incidents",
        fake.base_url(),
        a.tickets
    );

    // Baseline: every page fetched and parsed, nothing stored.
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut offset = 0usize;
    loop {
        let v: serde_json::Value = http
            .get(format!("{}/api/now/table/incident", fake.base_url()))
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
    let mut rss_phases = vec![status_mib("VmRSS:")];

    let dir = tempfile::tempdir().map_err(|e| internal("creating a temp dir", e))?;
    let cb = Casebook::open(OpenOptions::for_tests(dir.path(), Origin::Cli)).await?;
    let c = cb
        .add_connection(NewConnectionInput {
            vendor: Vendor::ServiceNow,
            name: "bench".into(),
            instance: fake.base_url(),
            auth_method: AuthMethod::Basic,
            username: Some("bench".into()),
            oauth_client_id: None,
            mirror_scope: Some(vec!["incident".into()]),
        })
        .await?;
    cb.set_connection_secret(c.id, "bench".into()).await?;

    let started = Instant::now();
    let run = cb.sync_now("bench".into(), None).await?;
    let initial = started.elapsed().as_secs_f64();
    rss_phases.push(status_mib("VmRSS:"));
    if run.stopped.is_some() || !run.errors.is_empty() {
        return Err(internal(
            "the initial sync",
            format!("{:?} {:?}", run.stopped, run.errors),
        ));
    }
    let started = Instant::now();
    cb.kb_reindex(false, |_| {}).await?;
    let kb = started.elapsed().as_secs_f64();
    rss_phases.push(status_mib("VmRSS:"));

    let ids: Vec<String> = fake
        .incidents()
        .iter()
        .step_by((a.tickets / a.changed.max(1)).max(1))
        .take(a.changed)
        .map(|r| r.sys_id().to_owned())
        .collect();
    for id in &ids {
        fake.edit_as_other(id, &[("priority", "1")]);
    }
    let started = Instant::now();
    let inc = cb.sync_now("bench".into(), None).await?;
    let incremental = started.elapsed().as_secs_f64();
    rss_phases.push(status_mib("VmRSS:"));
    if inc.tickets_updated != ids.len() as u64 {
        return Err(internal(
            "the incremental sync",
            format!("updated {} of {}", inc.tickets_updated, ids.len()),
        ));
    }
    let f = Figures {
        tickets: run.tickets_created as usize,
        baseline_fetch_only_s: baseline,
        initial_sync_s: initial,
        kb_index_resolved_s: kb,
        initial_total_s: initial + kb,
        initial_target_s: 30.0,
        incremental_changed: ids.len(),
        incremental_sync_s: incremental,
        incremental_target_s: 1.0,
        peak_rss_mib: peak_rss_mib(),
        rss_after_seeding_mib: rss_after_seeding,
        rss_after_phases_mib: rss_phases,
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&f).map_err(|e| internal("output", e))?
        );
    } else {
        println!(
            "sync benchmark (fake ServiceNow on loopback, {} incidents with a comment each)",
            f.tickets
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
            if f.initial_total_s <= f.initial_target_s {
                "met"
            } else {
                "NOT met"
            }
        );
        println!(
            "  incremental sync, {} changed              {:>8.3} s  (target ≤ {} s: {})",
            f.incremental_changed,
            f.incremental_sync_s,
            f.incremental_target_s,
            if f.incremental_sync_s <= f.incremental_target_s {
                "met"
            } else {
                "NOT met"
            }
        );
        if let Some(m) = f.peak_rss_mib {
            println!("  peak memory (VmHWM, includes the fake's own copy) {m:.0} MiB");
        }
        if let (Some(seeded), Some(peak)) = (f.rss_after_seeding_mib, f.peak_rss_mib) {
            println!(
                "  of which the seeded fake {seeded:.0} MiB; baseline + sync + indexing add ≤ {:.0} MiB",
                peak - seeded
            );
        }
        let phases: Vec<String> = f
            .rss_after_phases_mib
            .iter()
            .map(|m| m.map_or("?".into(), |m| format!("{m:.0}")))
            .collect();
        println!(
            "  resident after baseline / initial sync / KB indexing / incremental: {} MiB",
            phases.join(" / ")
        );
    }
    Ok(())
}
