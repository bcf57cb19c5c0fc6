#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/logs")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn opts() -> AnalyzeOptions {
    // 2024-11-01: syslog lines read in 2024.
    AnalyzeOptions::new(1_730_419_200_000)
}

fn run(name: &str) -> Analysis {
    analyze(fixture(name).as_slice(), &opts(), |_| true).unwrap()
}

fn utc(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

#[test]
fn nginx_access_log() {
    let a = run("nginx_access.log");
    assert_eq!(a.format, InputFormat::Plain);
    assert_eq!(a.lines, 7);
    assert_eq!(a.time.first, Some(utc("2024-10-10T20:55:36Z")));
    assert_eq!(a.time.last, Some(utc("2024-10-10T20:56:12Z")));
    assert_eq!(a.time.formats[0].format, TimeFormat::CommonLog);
    assert_eq!(a.time.zoneless, 0);
    let codes: Vec<(u16, u64)> = a.status_codes.iter().map(|s| (s.code, s.count)).collect();
    assert_eq!(
        codes,
        vec![(200, 1), (201, 1), (304, 1), (404, 1), (503, 3)]
    );
    assert_eq!(a.request_ids.distinct, 7);
    // The three 503s on invoices of different orders are one signature.
    assert_eq!(a.signatures.len(), 1, "{:#?}", a.signatures);
    let s = &a.signatures[0];
    assert_eq!(s.count, 3);
    assert_eq!(s.sample_lines, vec![3, 4, 6]);
    assert_eq!(s.first_seen, Some(utc("2024-10-10T20:55:39Z")));
    assert_eq!(s.last_seen, Some(utc("2024-10-10T20:56:10Z")));
    // The example is redacted: no client address, no user.
    assert!(
        s.example.contains("<ipv4-1>") && !s.example.contains("198.51.100.7"),
        "{}",
        s.example
    );
}

#[test]
fn java_stack_traces_group_with_their_error_line() {
    let a = run("java_app.log");
    assert_eq!(a.lines, 19);
    assert_eq!(
        a.error_lines, 4,
        "stack-trace lines are not error lines of their own"
    );
    let inv = a
        .signatures
        .iter()
        .find(|s| s.signature.contains("Invoice rendering"))
        .unwrap();
    assert_eq!(inv.count, 3);
    assert_eq!(
        inv.continuation_lines, 7,
        "the first event's trace: header, 3 frames, cause, frame, '... 12 more'"
    );
    assert_eq!(inv.sample_lines, vec![2, 10, 15]);
    assert!(
        a.notes.iter().any(|n| n.contains("no zone: assumed UTC")),
        "{:?}",
        a.notes
    );
    assert_eq!(a.time.first, Some(utc("2024-10-10T20:55:36.101Z")));
    let pool = a
        .signatures
        .iter()
        .find(|s| s.signature.contains("Connection to"))
        .unwrap();
    assert_eq!(
        pool.signature,
        "c.a.d.Pool - Connection to <n> refused after <n> attempts"
    );
}

#[test]
fn a_configured_zone_is_applied_to_zoneless_times() {
    let mut o = opts();
    o.zone = Some("Europe/Berlin".into());
    let a = analyze(fixture("java_app.log").as_slice(), &o, |_| true).unwrap();
    // 20:55:36 in Berlin (CEST, +02:00) is 18:55:36 UTC.
    assert_eq!(a.time.first, Some(utc("2024-10-10T18:55:36.101Z")));
    assert!(a.notes.iter().any(|n| n.contains("read as Europe/Berlin")));
    o.zone = Some("Mars/Olympus".into());
    let err = analyze(fixture("java_app.log").as_slice(), &o, |_| true).unwrap_err();
    assert_eq!(err.to_string(), "unknown time zone 'Mars/Olympus'");
}

#[test]
fn json_lines_with_epoch_and_iso_times() {
    let a = run("app.jsonl");
    assert_eq!(a.format, InputFormat::JsonLines);
    assert_eq!(a.lines, 8);
    assert_eq!(a.malformed_json_lines, 1, "{:?}", a.problems);
    assert!(
        a.problems
            .iter()
            .any(|p| p.contains("not valid JSON (first: line 8)")),
        "{:?}",
        a.problems
    );
    assert_eq!(a.time.first, Some(1_728_593_736_101));
    // The fatal line's +02:00 offset is normalized: 22:57 local is 20:57 UTC.
    assert_eq!(a.time.last, Some(utc("2024-10-10T20:57:00Z")));
    let fmts: Vec<TimeFormat> = a.time.formats.iter().map(|f| f.format).collect();
    assert!(
        fmts.contains(&TimeFormat::EpochMillis)
            && fmts.contains(&TimeFormat::EpochSeconds)
            && fmts.contains(&TimeFormat::Iso8601)
    );
    let t = a
        .signatures
        .iter()
        .find(|s| s.signature.contains("payment gateway"))
        .unwrap();
    assert_eq!(
        (t.count, t.signature.as_str()),
        (2, "payment gateway timeout after <n> ms")
    );
    assert_eq!(a.trace_ids.distinct, 2);
    assert_eq!(a.uuids.top[0].id, "123e4567-e89b-12d3-a456-426614174000");
    assert!(a.request_ids.top.iter().any(|r| r.id == "req-c20ad4d7"));
    assert!(a.signatures.iter().any(|s| s.level == "fatal"));
}

#[test]
fn syslog_takes_the_year_from_the_options_and_says_so() {
    let a = run("syslog.log");
    assert_eq!(a.time.first, Some(utc("2024-10-09T22:14:15Z")));
    assert!(
        a.notes.iter().any(|n| n.contains("no year: assumed 2024")),
        "{:?}",
        a.notes
    );
    let s = a
        .signatures
        .iter()
        .find(|s| s.signature.contains("journal segment"))
        .unwrap();
    assert_eq!(s.count, 2);
}

#[test]
fn har_entries_give_times_ids_and_failing_calls() {
    let a = run("session.har");
    assert_eq!(a.format, InputFormat::Har);
    assert_eq!(a.lines, 3);
    assert_eq!(a.time.first, Some(utc("2024-10-10T20:55:36.101Z")));
    assert_eq!(a.time.last, Some(utc("2024-10-10T20:55:41.013Z")));
    assert_eq!(a.trace_ids.top[0].id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(a.request_ids.distinct, 3);
    let s = &a.signatures[0];
    assert_eq!(
        s.signature,
        "GET https://shop.example.com/api/orders/<n>/invoice -> <n> Service Unavailable"
    );
    assert_eq!(s.count, 2);
    // No credential from the capture reaches the analysis.
    let json = serde_json::to_string(&a).unwrap();
    for secret in ["eyJhbGci", "9f8e7d6c5b4a", "k-live-7d1e0c55aa"] {
        assert!(!json.contains(secret), "{secret} leaked");
    }
}

#[test]
fn malformed_har_is_reported_and_read_as_text() {
    let a = run("malformed.har");
    assert_eq!(a.format, InputFormat::Plain);
    assert!(
        a.problems.iter().any(|p| p.starts_with("malformed HAR (")),
        "{:?}",
        a.problems
    );
    assert!(a.lines > 10);
    assert_eq!(a.trace_ids.distinct, 1, "the text is still analysed");
}

#[test]
fn binary_invalid_utf8_and_giant_lines_are_reported_and_the_rest_processed() {
    let a = run("broken.log");
    assert_eq!(a.binary_lines, 1);
    assert_eq!(a.invalid_utf8_lines, 1);
    assert_eq!(a.error_lines, 1);
    assert!(a.problems.iter().any(|p| p.contains("NUL bytes")));
    assert!(a.problems.iter().any(|p| p.contains("not valid UTF-8")));

    let mut text = String::from("2024-01-01T00:00:00Z ERROR first\n");
    text.push_str(&"x".repeat(300_000));
    text.push_str("\n2024-01-01T00:00:01Z ERROR after the giant line\n");
    let mut o = opts();
    o.max_line_bytes = 1024;
    let a = analyze(text.as_bytes(), &o, |_| true).unwrap();
    assert_eq!((a.lines, a.truncated_lines, a.error_lines), (3, 1, 2));
    assert!(
        a.problems
            .iter()
            .any(|p| p.contains("longer than 1024 bytes"))
    );
}

#[test]
fn progress_is_reported_and_cancel_stops() {
    let line = "2024-01-01T00:00:00Z INFO tick request_id=abc123\n";
    let text = line.repeat(300_000); // ~15 MB
    let mut seen = Vec::new();
    let a = analyze(text.as_bytes(), &opts(), |b| {
        seen.push(b);
        true
    })
    .unwrap();
    assert_eq!(a.lines, 300_000);
    assert!(
        seen.len() >= 3 && seen.windows(2).all(|w| w[0] <= w[1]),
        "{seen:?}"
    );
    assert_eq!(*seen.last().unwrap(), text.len() as u64);
    let err = analyze(text.as_bytes(), &opts(), |_| false).unwrap_err();
    assert_eq!(err, LogError::Cancelled);
}

#[test]
fn id_tables_are_bounded() {
    let mut text = String::new();
    for i in 0..500 {
        text.push_str(&format!("x request_id=r{i:05}\n"));
    }
    let mut o = opts();
    o.max_ids = 100;
    o.max_signatures = 10;
    let a = analyze(text.as_bytes(), &o, |_| true).unwrap();
    assert_eq!((a.request_ids.distinct, a.request_ids.capped), (100, true));
    assert_eq!(a.request_ids.top.len(), 50);
}

#[test]
fn extracts_take_context_merge_windows_and_follow_stack_traces() {
    let log = fixture("java_app.log");
    let ex = extracts(log.as_slice(), &[2, 10], 1, 64 * 1024).unwrap();
    // Line 2 ± 1 → 1..3, then the trace continues to line 9; line 10 ± 1 → 9..11 (+ trace to 13).
    assert_eq!(ex.len(), 1, "{ex:#?}");
    assert_eq!((ex[0].first_line, ex[0].last_line), (1, 13));
    let ex = extracts(log.as_slice(), &[18], 0, 64 * 1024).unwrap();
    assert_eq!(ex.len(), 1);
    assert!(ex[0].text.starts_with("2024-10-10 20:57:00,000 ERROR"));
    assert!(extracts(log.as_slice(), &[], 3, 1024).unwrap().is_empty());
}
