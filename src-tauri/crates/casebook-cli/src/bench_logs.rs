//! `casebook bench logs`: redaction and log-analysis throughput over generated, realistic log
//! text (nginx access lines, application lines with ids, JSON lines, stack traces, a secret about
//! every 40 lines), each beside its naive baseline in the same run — one regex per kind (or per
//! field) over every line — and a 500 MB log streamed through both with the process's peak
//! memory (VmHWM) printed.

use crate::bench_util::machine;
use crate::output::Out;
use casebook_api::{ApiError, ErrorCode};
use casebook_escalation::bench::{self, LogGen, NaiveAnalyzer, NaiveRedactor};
use casebook_escalation::logs::{self, AnalyzeOptions};
use casebook_escalation::redact::{RedactOptions, Redactor};
use clap::Args;
use serde::Serialize;
use std::time::Instant;

const TARGET_MB_S: f64 = 100.0;

#[derive(Debug, Args)]
pub struct LogsBenchArgs {
    /// MiB of generated log text for the throughput runs (held in memory).
    #[arg(long, default_value_t = 128)]
    pub mb: usize,
    /// MiB for the naive baselines (they are slow).
    #[arg(long, default_value_t = 16)]
    pub baseline_mb: usize,
    /// MB of the streamed large-log run (generated on the fly, never held in memory); 0 skips it.
    #[arg(long, default_value_t = 500)]
    pub big_mb: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    machine: String,
    sample_mib: usize,
    redact_mb_s: f64,
    baseline_redact_mb_s: f64,
    analyze_mb_s: f64,
    baseline_analyze_mb_s: f64,
    redactions: u64,
    lines: u64,
    signatures: usize,
    big_mb: u64,
    big_analyze_s: f64,
    big_redact_s: f64,
    big_lines: u64,
    peak_rss_mib_after_big_analysis: Option<f64>,
    peak_rss_mib_after_big: Option<f64>,
    peak_rss_mib_end: Option<f64>,
    targets_met: bool,
}

fn err(context: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::Internal, format!("bench logs: {context}: {e}"))
}

fn mb_s(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / 1_000_000.0 / secs.max(1e-9)
}

pub fn run(a: LogsBenchArgs, out: &Out) -> Result<(), ApiError> {
    let opts = AnalyzeOptions::new(1_730_419_200_000);
    let machine = machine();
    eprintln!("bench logs on {machine}");

    // 1. The large log first, streamed from the generator, so the peak memory printed after it
    //    is this run's (the in-memory sample below comes later).
    let (mut big_analyze_s, mut big_redact_s, mut big_lines) = (0.0, 0.0, 0);
    let mut peak_after_big = None;
    let mut peak_after_analysis = None;
    if a.big_mb > 0 {
        let total = a.big_mb * 1_000_000;
        eprintln!("analysing a {} MB generated log (streamed)…", a.big_mb);
        let t = Instant::now();
        let an = logs::analyze(LogGen::new(total, 42), &opts, |_| true)
            .map_err(|e| err("analyze", e))?;
        big_analyze_s = t.elapsed().as_secs_f64();
        big_lines = an.lines;
        peak_after_analysis = bench::peak_rss_kib().map(|k| k as f64 / 1024.0);
        eprintln!("redacting it (streamed)…");
        let mut r = Redactor::new(&RedactOptions::default()).map_err(|e| err("redactor", e))?;
        let t = Instant::now();
        r.redact_stream(LogGen::new(total, 42), std::io::sink(), |_| true)
            .map_err(|e| err("redact", e))?;
        big_redact_s = t.elapsed().as_secs_f64();
        peak_after_big = bench::peak_rss_kib().map(|k| k as f64 / 1024.0);
    }

    // 2. Throughput on an in-memory sample (generation not timed).
    let sample = bench::generate(a.mb << 20, 7);
    let text = std::str::from_utf8(&sample).map_err(|e| err("sample", e))?;
    eprintln!("redacting {} MiB in memory…", a.mb);
    let mut r = Redactor::new(&RedactOptions::default()).map_err(|e| err("redactor", e))?;
    let t = Instant::now();
    r.redact_stream(sample.as_slice(), std::io::sink(), |_| true)
        .map_err(|e| err("redact", e))?;
    let redact_mb_s = mb_s(sample.len(), t.elapsed().as_secs_f64());
    let redactions = r.audit().total;

    eprintln!("analysing {} MiB in memory…", a.mb);
    let t = Instant::now();
    let an = logs::analyze(sample.as_slice(), &opts, |_| true).map_err(|e| err("analyze", e))?;
    let analyze_mb_s = mb_s(sample.len(), t.elapsed().as_secs_f64());

    let cut = text
        .char_indices()
        .map(|(i, _)| i)
        .find(|&i| i >= (a.baseline_mb << 20).min(text.len()))
        .unwrap_or(text.len());
    let base = &text[..cut];
    eprintln!("baselines on {} MiB…", a.baseline_mb);
    let naive = NaiveRedactor::new().map_err(|e| err("baseline", e))?;
    let t = Instant::now();
    let _ = naive.redact(base);
    let baseline_redact_mb_s = mb_s(base.len(), t.elapsed().as_secs_f64());
    let naive = NaiveAnalyzer::new().map_err(|e| err("baseline", e))?;
    let t = Instant::now();
    let _ = naive.analyze(base);
    let baseline_analyze_mb_s = mb_s(base.len(), t.elapsed().as_secs_f64());

    let report = Report {
        machine,
        sample_mib: a.mb,
        redact_mb_s,
        baseline_redact_mb_s,
        analyze_mb_s,
        baseline_analyze_mb_s,
        redactions,
        lines: an.lines,
        signatures: an.signatures.len(),
        big_mb: a.big_mb,
        big_analyze_s,
        big_redact_s,
        big_lines,
        peak_rss_mib_after_big_analysis: peak_after_analysis,
        peak_rss_mib_after_big: peak_after_big,
        peak_rss_mib_end: bench::peak_rss_kib().map(|k| k as f64 / 1024.0),
        targets_met: redact_mb_s >= TARGET_MB_S && analyze_mb_s >= TARGET_MB_S,
    };
    if out.json {
        let s = serde_json::to_string_pretty(&report).map_err(|e| err("json", e))?;
        println!("{s}");
        return Ok(());
    }
    let ok = |v: f64| if v >= TARGET_MB_S { "meets" } else { "BELOW" };
    println!("machine: {}", report.machine);
    println!(
        "sample: {} MiB of generated log text, {} lines",
        report.sample_mib, report.lines
    );
    println!(
        "redaction: {:>7.1} MB/s  ({} target {TARGET_MB_S} MB/s) | baseline one regex per kind per line: {:>6.1} MB/s  ({:.1}x)",
        report.redact_mb_s,
        ok(report.redact_mb_s),
        report.baseline_redact_mb_s,
        report.redact_mb_s / report.baseline_redact_mb_s.max(1e-9)
    );
    println!(
        "analysis:  {:>7.1} MB/s  ({} target {TARGET_MB_S} MB/s) | baseline one regex per field per line: {:>6.1} MB/s  ({:.1}x)",
        report.analyze_mb_s,
        ok(report.analyze_mb_s),
        report.baseline_analyze_mb_s,
        report.analyze_mb_s / report.baseline_analyze_mb_s.max(1e-9)
    );
    println!(
        "           {} values redacted, {} error signatures",
        report.redactions, report.signatures
    );
    if report.big_mb > 0 {
        let mb = report.big_mb as f64;
        println!(
            "large log: {} MB ({} lines) streamed — analysis {:.1} s ({:.0} MB/s), redaction {:.1} s ({:.0} MB/s), generation included",
            report.big_mb,
            report.big_lines,
            report.big_analyze_s,
            mb / report.big_analyze_s.max(1e-9),
            report.big_redact_s,
            mb / report.big_redact_s.max(1e-9)
        );
        if let Some(p) = report.peak_rss_mib_after_big_analysis {
            println!(
                "peak memory (VmHWM) after analysing it: {p:.1} MiB (bounded: capped tables, streamed lines)"
            );
        }
        if let Some(p) = report.peak_rss_mib_after_big {
            println!(
                "peak memory (VmHWM) after also redacting it: {p:.1} MiB (the pseudonym table grows by a few dozen bytes per distinct value)"
            );
        }
    }
    if let Some(p) = report.peak_rss_mib_end {
        println!("peak memory (VmHWM) at the end (includes the in-memory sample): {p:.1} MiB");
    }
    Ok(())
}
