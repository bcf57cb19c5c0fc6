//! The `casebook` binary, run as a user runs it: exit codes, JSON output, import, edits.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

mod support;
use support::{code, command, json, run};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../casebook-core/src/import/fixtures")
        .join(name)
}

fn run_stdin(home: &Path, args: &[&str], input: &str) -> Output {
    let mut child = command(home, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn both_corpora_import_through_their_presets() {
    let home = tempfile::tempdir().unwrap();
    let uci = fixture("uci-excerpt.csv");
    let o = run(
        home.path(),
        &[
            "--json",
            "import",
            uci.to_str().unwrap(),
            "--preset",
            "uci-servicenow",
        ],
    );
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        json(&o)["ticketsImported"],
        2,
        "incidents 45 and 47, 11 rows of history"
    );
    let endava = fixture("endava-excerpt.csv");
    let o = run(
        home.path(),
        &[
            "--json",
            "import",
            endava.to_str().unwrap(),
            "--preset",
            "endava-helpdesk",
        ],
    );
    assert_eq!(
        (code(&o), json(&o)["ticketsImported"].clone()),
        (0, Value::from(5))
    );

    let o = run(
        home.path(),
        &[
            "--json", "tickets", "list", "--state", "closed", "--state", "pending",
        ],
    );
    let page = json(&o);
    assert_eq!(page["total"], 2);
    let o = run(
        home.path(),
        &["--json", "tickets", "list", "--state", "pending"],
    );
    assert_eq!(
        json(&o)["rows"][0]["key"],
        "INC0000047",
        "Awaiting User Info is pending"
    );

    let o = run(
        home.path(),
        &[
            "--json", "tickets", "list", "--tag", "hardware", "--text", "connec",
        ],
    );
    assert_eq!(json(&o)["rows"][0]["key"], "HD-1");

    let o = run(
        home.path(),
        &["--json", "tickets", "show", "INC0000045", "--history"],
    );
    let t = json(&o);
    assert_eq!(t["stateRaw"], "Closed");
    assert!(t["history"].as_array().unwrap().len() >= 3);

    // Text output is for people: a table with the key.
    let o = run(home.path(), &["tickets", "list", "--limit", "2"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.starts_with("KEY") && text.contains("of 7"), "{text}");
}

#[test]
fn bad_rows_exit_7_with_line_numbers_and_a_bad_mapping_exits_4() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(
        &csv,
        b"id,subject\nA1,fine\nA2\nA3,bad \xff utf8\nA4,also fine\n",
    )
    .unwrap();
    let mapping = dir.path().join("m.json");
    std::fs::write(&mapping, r#"{"fields": {"key": "id", "title": "subject"}}"#).unwrap();
    let o = run(
        home.path(),
        &[
            "--json",
            "import",
            csv.to_str().unwrap(),
            "--mapping",
            mapping.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 7);
    let r = json(&o);
    assert_eq!(r["ticketsImported"], 2);
    let lines: Vec<i64> = r["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4]);

    std::fs::write(&mapping, r#"{"fields": {"key": "id", "title": "summary"}}"#).unwrap();
    let o = run(
        home.path(),
        &[
            "import",
            csv.to_str().unwrap(),
            "--mapping",
            mapping.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 4);
    assert!(String::from_utf8_lossy(&o.stderr).contains("column summary not in the file"));

    let o = run(
        home.path(),
        &[
            "import",
            "/nonexistent/x.csv",
            "--preset",
            "endava-helpdesk",
        ],
    );
    assert_eq!(code(&o), 3);
}

#[test]
fn create_edit_comment_and_the_exit_codes_that_mean_something() {
    let home = tempfile::tempdir().unwrap();
    let o = run(
        home.path(),
        &[
            "--json",
            "tickets",
            "new",
            "--title",
            "Disk full on db-3",
            "--priority",
            "high",
            "--tag",
            "Storage",
        ],
    );
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let t = json(&o);
    assert_eq!(
        (t["key"].as_str(), t["revision"].as_i64()),
        (Some("CB-1"), Some(1))
    );

    let o = run(
        home.path(),
        &[
            "--json",
            "tickets",
            "edit",
            "CB-1",
            "--state",
            "pending",
            "--assignee",
            "ana",
            "--add-tag",
            "db",
        ],
    );
    assert_eq!(code(&o), 0);
    let t = json(&o);
    assert_eq!(
        (t["state"].as_str(), t["tags"].clone()),
        (Some("pending"), serde_json::json!(["db", "storage"]))
    );

    // Internal note from stdin.
    let o = run_stdin(
        home.path(),
        &["--json", "tickets", "comment", "CB-1", "--internal"],
        "Checked **iostat**\n",
    );
    assert_eq!(code(&o), 0);
    let c = &json(&o)["comments"][0];
    assert_eq!(c["visibility"], "internal");
    assert!(
        c["bodyHtml"]
            .as_str()
            .unwrap()
            .contains("<strong>iostat</strong>")
    );

    // A stale revision is a conflict (5); nothing changes.
    let o = run(
        home.path(),
        &[
            "tickets",
            "edit",
            "CB-1",
            "--expect-revision",
            "1",
            "--state",
            "closed",
        ],
    );
    assert_eq!(code(&o), 5, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("changed since"));

    // CB-1 is local-only: its edits are in the outbox (the workspace count below) but have no
    // upstream to wait for, so neither the list nor the ticket says "pending sync".
    let list = String::from_utf8_lossy(&run(home.path(), &["tickets", "list"]).stdout).into_owned();
    assert!(
        list.contains("CB-1") && !list.contains("pending sync"),
        "{list}"
    );
    let show = String::from_utf8_lossy(&run(home.path(), &["tickets", "show", "CB-1"]).stdout)
        .into_owned();
    assert!(
        show.contains("CB-1") && !show.contains("waiting to sync"),
        "{show}"
    );

    assert_eq!(code(&run(home.path(), &["tickets", "show", "CB-99"])), 3);
    assert_eq!(
        code(&run(home.path(), &["tickets", "new", "--title", "  "])),
        4
    );
    assert_eq!(
        code(&run(home.path(), &["tickets", "list", "--limit", "0"])),
        4
    );
    assert_eq!(code(&run(home.path(), &["tickets", "frobnicate"])), 2);

    // Errors are JSON on stderr with --json.
    let o = run(home.path(), &["--json", "tickets", "show", "CB-99"]);
    let e: Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(e["code"], "not_found");

    let o = run(home.path(), &["--json", "workspace"]);
    let w = json(&o);
    assert_eq!(
        (w["ticketCount"].as_i64(), w["pendingOps"].as_i64()),
        (Some(1), Some(3))
    );
}

#[test]
fn views_are_saved_listed_and_deleted() {
    let home = tempfile::tempdir().unwrap();
    run(
        home.path(),
        &["tickets", "new", "--title", "a", "--priority", "critical"],
    );
    run(
        home.path(),
        &["tickets", "new", "--title", "b", "--priority", "low"],
    );
    let o = run(
        home.path(),
        &[
            "views",
            "save",
            "Urgent",
            "--priority",
            "critical",
            "--priority",
            "high",
        ],
    );
    assert_eq!(code(&o), 0);
    let o = run(home.path(), &["--json", "views", "list"]);
    let v = json(&o);
    assert_eq!(
        (v[0]["name"].as_str(), v[0]["count"].as_i64()),
        (Some("Urgent"), Some(1))
    );
    assert_eq!(code(&run(home.path(), &["views", "delete", "Urgent"])), 0);
    assert_eq!(code(&run(home.path(), &["views", "delete", "Urgent"])), 3);
}

#[test]
fn reading_a_workspace_that_does_not_exist_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("nope");
    let o = run(&home, &["tickets", "list"]);
    assert_eq!(code(&o), 3);
    assert!(!home.exists());
}

#[test]
fn a_database_that_is_not_one_is_reported_and_kept() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("casebook.db");
    std::fs::write(&db, vec![0x42u8; 8192]).unwrap();
    let o = run(home.path(), &["tickets", "list"]);
    assert_eq!(code(&o), 6);
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(
        msg.contains("casebook.db") && msg.contains("not a readable Casebook database"),
        "{msg}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), vec![0x42u8; 8192]);
}
