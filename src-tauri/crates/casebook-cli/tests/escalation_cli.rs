//! `casebook redact`, `casebook logs analyze` and `casebook escalate`, run as a user runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_casebook");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../casebook-escalation/tests/fixtures/logs")
        .join(name)
}

fn run(home: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("CASEBOOK_HOME")
        // The workspace key in a file beside (not inside) the data directory: no keyring needed.
        .env("CASEBOOK_KEY_FILE", home.with_extension("key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut si = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        si.write_all(input).unwrap();
    }
    drop(si);
    child.wait_with_output().unwrap()
}

/// A scratch folder; the workspace is `ws/` inside it and its key file `ws.key` beside it.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("ws");
    (root, home)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn redact_reads_stdin_writes_stdout_and_reports_to_stderr() {
    let (_root, home) = scratch();
    let input = b"user alice@example.com from 203.0.113.9 key AKIAIOSFODNN7EXAMPLE\nagain alice@example.com\n";
    let o = run(home.as_path(), &["redact", "--report", "-"], Some(input));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "user <email-1> from <ipv4-1> key <aws-key-id-1>\nagain <email-1>\n"
    );
    let err = text(&o.stderr);
    assert!(
        err.contains("redacted 4 value(s)")
            && err.contains("email")
            && err.contains("(1 distinct)"),
        "{err}"
    );
    assert!(!err.contains("alice"), "the report has no values: {err}");
    // Without --report, stderr stays empty (pipelines).
    let o = run(
        home.as_path(),
        &["redact", "--keep-ipv4", "-"],
        Some(b"203.0.113.9 bob@example.org\n"),
    );
    assert_eq!(text(&o.stdout), "203.0.113.9 <email-1>\n");
    assert!(o.stderr.is_empty());
    // Invalid UTF-8 passes through byte for byte around the redactions.
    let o = run(
        home.as_path(),
        &["redact", "-"],
        Some(b"\xff\xfe bob@example.org\n"),
    );
    assert_eq!(o.stdout, b"\xff\xfe <email-1>\n");
}

#[test]
fn redact_errors_are_clear() {
    let (_root, home) = scratch();
    let o = run(home.as_path(), &["redact", "/nonexistent/file.log"], None);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o.stderr).contains("cannot read /nonexistent/file.log"));
    let o = run(
        home.as_path(),
        &["redact", "--rule", "id=(unclosed", "-"],
        Some(b"x"),
    );
    assert_eq!(o.status.code(), Some(4));
    assert!(
        text(&o.stderr).contains("custom rule 'id': invalid pattern"),
        "{}",
        text(&o.stderr)
    );
    let o = run(
        home.as_path(),
        &["redact", "--rule", "noequals", "-"],
        Some(b"x"),
    );
    assert_eq!(o.status.code(), Some(4));
}

#[test]
fn redact_custom_rule_and_file_input() {
    let (_root, home) = scratch();
    std::fs::create_dir_all(&home).unwrap();
    let f = home.join("in.txt");
    std::fs::write(&f, "customer CUST-004211 and CUST-004211 and CUST-000001\n").unwrap();
    let o = run(
        home.as_path(),
        &[
            "redact",
            "--rule",
            r"customer-id=CUST-\d{6}",
            f.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        text(&o.stdout),
        "customer <customer-id-1> and <customer-id-1> and <customer-id-2>\n"
    );
}

#[test]
fn logs_analyze_text_and_json() {
    let (_root, home) = scratch();
    let nginx = fixture("nginx_access.log");
    let o = run(
        home.as_path(),
        &["logs", "analyze", nginx.to_str().unwrap()],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("time (UTC): 2024-10-10T20:55:36.000Z .. 2024-10-10T20:56:12.000Z"),
        "{out}"
    );
    assert!(out.contains("503×3"), "{out}");
    assert!(out.contains("3× [error]"), "{out}");
    let o = run(
        home.as_path(),
        &[
            "--json",
            "logs",
            "analyze",
            fixture("session.har").to_str().unwrap(),
        ],
        None,
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "har");
    assert_eq!(
        v["traceIds"]["top"][0]["id"],
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    // Standard input, syslog with an explicit year.
    let log = std::fs::read(fixture("syslog.log")).unwrap();
    let o = run(
        home.as_path(),
        &["--json", "logs", "analyze", "--year", "2023", "-"],
        Some(&log),
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["time"]["firstUtc"], "2023-10-09T22:14:15.000Z");
    assert!(v["notes"].to_string().contains("assumed 2023"));
    let o = run(
        home.as_path(),
        &[
            "logs",
            "analyze",
            "--zone",
            "Atlantis/Capital",
            nginx.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(4));
    assert!(text(&o.stderr).contains("unknown time zone 'Atlantis/Capital'"));
}

#[test]
fn escalate_exports_a_redacted_package() {
    let (_root, home) = scratch();
    let h = home.as_path();
    std::fs::create_dir_all(h).unwrap();
    let o = run(
        h,
        &[
            "--json",
            "tickets",
            "new",
            "--title",
            "Invoices fail",
            "--description",
            "Customer eve@example.com: invoices return 503.\n\nSteps to reproduce:\n1. Open order 1841\n\nExpected: a PDF\nActual: 503",
            "--priority",
            "high",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let key = serde_json::from_slice::<Value>(&o.stdout).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();

    let o = run(h, &["escalate", &key, "--export", "md", "--out", "-"], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let md = text(&o.stdout);
    assert!(
        md.contains("## Steps to reproduce\n\n1. Open order 1841"),
        "{md}"
    );
    assert!(
        !md.contains("eve@example.com") && md.contains("<email-1>"),
        "{md}"
    );

    let out = h.join("exports");
    std::fs::create_dir(&out).unwrap();
    let o = run(
        h,
        &[
            "--json",
            "escalate",
            &key,
            "--export",
            "zip",
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let zip = std::fs::read(r["path"].as_str().unwrap()).unwrap();
    assert!(zip.starts_with(b"PK"));
    assert!(zip.windows(15).all(|w| w != b"eve@example.com"));
    assert_eq!(r["redaction"]["counts"]["email"], 1);
    // The same draft was used for both exports.
    let html = h.join("p.html");
    let o = run(
        h,
        &[
            "escalate",
            &key,
            "--export",
            "html",
            "--out",
            html.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(
        text(&o.stdout).contains("completeness"),
        "{}",
        text(&o.stdout)
    );
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .starts_with("<!doctype html>")
    );

    let o = run(h, &["escalate", "CB-999", "--export", "md"], None);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
}
