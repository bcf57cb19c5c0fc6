//! Start-up benchmark (issue 2: "with 100,000 tickets in the store … app start to first queue
//! paint ≤ 1 s"): the real app, started three times on a workspace of 100,000 tickets, against the
//! same app on a workspace of 2,000 tickets as the baseline, in the same run. Prints each start and
//! the median of both. A benchmark, not a timed test: it asserts what the queue shows, never a time.
//!
//! Two figures per start:
//! - **process start → first rows painted**: from the kernel starting the app's process to the
//!   frame that painted the first queue rows (the UI's `rows-painted` mark), what a user waits for;
//! - **session → row found**: from asking WebDriver for a session (which launches the app) until a
//!   queue row is found, which adds the driver's handshake and the test's polling.
//!
//! scripts/test.sh runs this binary on its own, before the other real-webview tests, so that no
//! other app competes for the two cores while it measures.

// Test code: a failed expectation is a test failure (clippy.toml allows this only inside #[test]).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;
#[path = "support/upstream.rs"]
mod upstream;

use std::io::Write;
use std::path::Path;
use std::time::Instant;
use support::{Driver, Tools, artifacts_dir, testid, tools};

/// Starts per workspace; the median is printed.
const STARTS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_to_first_queue_paint_with_100k_tickets() {
    let Some(tools) = tools() else { return };
    let Some(cli) = upstream::cli() else { return };
    let scratch = tempfile::tempdir().expect("scratch dir");

    let mut results = Vec::new();
    for (label, tickets) in [
        ("baseline: 2,000 tickets", 2_000),
        ("100,000 tickets", 100_000),
    ] {
        let home = scratch.path().join(format!("ws-{tickets}"));
        let csv = scratch.path().join(format!("tickets-{tickets}.csv"));
        write_tickets(&csv, tickets);
        let t = Instant::now();
        upstream::run_cli_within(
            &cli,
            &home,
            &[
                "import",
                csv.to_str().unwrap(),
                "--preset",
                "endava-helpdesk",
            ],
            std::time::Duration::from_secs(300),
        )
        .await;
        println!(
            "{label}: imported with the debug CLI in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        std::fs::remove_file(&csv).ok();
        // One start to settle the workspace (first open after an import checkpoints the WAL and
        // builds the queue index cache), then the measured ones.
        start_once(&tools, &home, tickets, "warm-up").await;
        let mut starts = Vec::new();
        for i in 0..STARTS {
            starts.push(start_once(&tools, &home, tickets, &format!("start {}", i + 1)).await);
        }
        results.push((label, starts));
    }

    println!("\napp start → first queue paint (debug build, Xvfb, median of {STARTS} starts):");
    println!("| workspace | process start → first rows painted | session → row found |");
    println!("|---|---|---|");
    for (label, starts) in &results {
        let painted = median(starts.iter().filter_map(|s| s.0).collect());
        let session = median(starts.iter().map(|s| s.1).collect());
        let show = |v: Option<f64>| v.map_or("unavailable".to_owned(), |v| format!("{v:.0} ms"));
        println!("| {label} | {} | {} |", show(painted), show(session));
    }
    println!("target: ≤ 1 s with 100,000 tickets (process start → first rows painted)");
}

/// One start: launch, wait for a row, check the total, read the figures, close.
async fn start_once(tools: &Tools, home: &Path, tickets: u64, what: &str) -> (Option<f64>, f64) {
    let log = artifacts_dir().join(format!("e2e-startup-{tickets}.log"));
    let driver = Driver::start(tools, home, log).await;
    let asked = Instant::now();
    let s = driver.session(&tools.app).await;
    s.wait_for(&testid("queue-row")).await;
    let session_ms = asked.elapsed().as_secs_f64() * 1000.0;
    let report = s.startup_report().await;
    assert_eq!(
        s.queue_total().await,
        tickets,
        "the queue shows a different total than was imported"
    );
    println!(
        "  {tickets} tickets, {what}: process → rows painted {}, session → row {session_ms:.0} ms; marks: {}",
        report
            .process_to_rows_ms
            .map_or("unavailable".to_owned(), |v| format!("{v:.0} ms")),
        report.marks
    );
    s.end().await;
    drop(driver);
    (report.process_to_rows_ms, session_ms)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// `n` help-desk tickets in the Endava export's format (`Document,Topic_group`): the bundled
/// 2,000 real tickets (sample/, CC0 1.0, see sample/README.md), repeated; the preset keys each
/// row by its row number, so every row is a ticket of its own.
fn write_tickets(path: &Path, n: u64) {
    let source = std::fs::read_to_string(
        support::workspace_root().join("sample/endava-helpdesk-tickets.csv"),
    )
    .expect("the bundled sample tickets");
    let mut lines = source.lines();
    let header = lines.next().expect("a header");
    let rows: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create the CSV"));
    writeln!(out, "{header}").unwrap();
    for i in 0..n as usize {
        writeln!(out, "{}", rows[i % rows.len()]).unwrap();
    }
    out.flush().unwrap();
}
