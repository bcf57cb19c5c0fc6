//! `casebook report`, `casebook sla` and `casebook macro`, run as a user runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_casebook");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../casebook-core/src/import/fixtures")
        .join(name)
}

/// Runs the binary on the workspace `root/home`; the database key is kept in `root/db.key`
/// (outside the data directory, no OS keyring needed).
fn run(root: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--home")
        .arg(root.join("home"))
        .args(args)
        .env_remove("CASEBOOK_HOME")
        .env("CASEBOOK_KEY_FILE", root.join("db.key"))
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_str(&ok(o)).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A workspace with the two incidents of the UCI excerpt and one local P1.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path();
    let csv = fixture("uci-excerpt.csv");
    ok(&run(
        h,
        &[
            "import",
            csv.to_str().unwrap(),
            "--preset",
            "uci-servicenow",
        ],
    ));
    ok(&run(
        h,
        &[
            "tickets",
            "new",
            "--title",
            "Core switch down",
            "--priority",
            "critical",
            "--requester",
            "Carl",
        ],
    ));
    dir
}

#[test]
fn sla_of_a_ticket_replays_its_history() {
    let dir = workspace();
    let h = dir.path();
    // INC0000047 (P3, opened Monday 29 Feb 2016 04:40 UTC, active, then waiting on the user from
    // Tuesday 09:14): 8 h on Monday + 14 min on Tuesday of the Mon–Fri 09–17 calendar.
    let s = json(&run(h, &["--json", "sla", "INC0000047"]));
    assert_eq!(s["policy"], "*/medium");
    assert_eq!(s["pausedNow"], true);
    let res = s["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "resolution")
        .unwrap();
    assert_eq!(res["state"], "paused");
    assert_eq!(res["elapsedMs"], (8 * 60 + 14) * 60_000);
    assert_eq!(res["dueAt"], Value::Null);
    assert_eq!(s["upstream"]["madeSla"], true);
    // Text output names the pause.
    let text = ok(&run(h, &["sla", "INC0000047"]));
    assert!(
        text.contains("clock stopped while waiting on the customer"),
        "{text}"
    );
    // Unknown ticket: exit 3.
    let o = run(h, &["sla", "INC9"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    // Risk order: the breached incident first, then the local P1 (due in 15 minutes); the
    // closed incident is not in the queue.
    let risk = json(&run(h, &["--json", "sla", "risk"]));
    let keys: Vec<&str> = risk
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["INC0000047", "CB-1"]);
    assert_eq!(risk[0]["state"], "breached");
    assert_eq!(risk[1]["kind"], "first_response");
}

#[test]
fn report_in_every_format_and_bad_periods() {
    let dir = workspace();
    let h = dir.path();
    let r = json(&run(
        h,
        &[
            "report",
            "--from",
            "2016-02-01",
            "--to",
            "2016-03-31",
            "--format",
            "json",
        ],
    ));
    let all = &r["rows"][0];
    assert_eq!(
        (all["created"].as_u64(), all["resolved"].as_u64()),
        (Some(2), Some(1))
    );
    // INC0000045 was resolved at 08:53 on the day it was opened at 01:16: 7 h 37 min.
    assert_eq!(all["timeToResolve"]["meanMs"], (7 * 60 + 37) * 60_000);
    let csv = ok(&run(
        h,
        &[
            "report",
            "--from",
            "2016-02-01",
            "--to",
            "2016-03-31",
            "--format",
            "csv",
            "--by",
            "group",
        ],
    ));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "group,metric,dimension,value");
    assert!(lines.contains(&"all,created,,2"), "{csv}");
    assert!(lines.contains(&"all,mttr_min,,457.0"), "{csv}");
    assert!(lines.contains(&"all,trend_created,2016-02-29,2"), "{csv}");
    let table = ok(&run(
        h,
        &["report", "--from", "2016-02-01", "--to", "2016-03-31"],
    ));
    assert!(table.contains("SLA compliance"), "{table}");
    let o = run(h, &["report", "--from", "2016-03-01", "--to", "2016-02-01"]);
    assert_eq!(o.status.code(), Some(4));
    assert!(stderr(&o).contains("the report period must end after it starts"));
    let o = run(h, &["report", "--from", "yesterday"]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stderr(&o).contains("'yesterday' is not a date"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn macros_apply_export_import_and_refuse_unknown_placeholders() {
    let dir = workspace();
    let h = dir.path();
    let list = ok(&run(h, &["macro", "list"]));
    assert!(list.contains("Customer update"), "{list}");

    let dry = ok(&run(
        h,
        &["macro", "apply", "CB-1", "Customer update", "--dry-run"],
    ));
    assert!(dry.starts_with("Hello Carl,"), "{dry}");
    assert!(!dry.contains("{{"), "{dry}");

    let done = ok(&run(h, &["macro", "apply", "CB-1", "Ask for details"]));
    assert!(done.contains("CB-1"), "{done}");
    let t = json(&run(h, &["--json", "tickets", "show", "CB-1", "--history"]));
    assert_eq!(t["state"], "pending", "{t}");
    let comments = t["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0]["visibility"], "public");

    // A text with an unknown placeholder: refused with its position, nothing written.
    let bad = h.join("bad.md");
    std::fs::write(&bad, "Hi {{requester.name}},\nsee {{ticket.nope}}").unwrap();
    let o = run(
        h,
        &[
            "macro",
            "apply",
            "CB-1",
            "Customer update",
            "--text",
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(4));
    let err = stderr(&o);
    assert!(
        err.contains("line 2 column 5: unknown placeholder 'ticket.nope'"),
        "{err}"
    );
    let t = json(&run(h, &["--json", "tickets", "show", "CB-1"]));
    assert_eq!(t["comments"].as_array().unwrap().len(), 1);

    // Export, change, import; a file with an unknown placeholder is refused.
    let file = h.join("ask.md");
    ok(&run(
        h,
        &[
            "macro",
            "export",
            "Ask for details",
            "--out",
            file.to_str().unwrap(),
        ],
    ));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("---\nname: Ask for details\n"), "{text}");
    std::fs::write(
        &file,
        text.replace("name: Ask for details", "name: Need logs"),
    )
    .unwrap();
    ok(&run(h, &["macro", "import", file.to_str().unwrap()]));
    assert!(ok(&run(h, &["macro", "list"])).contains("Need logs"));
    std::fs::write(&bad, "---\nname: Broken\n---\nDear {{customer}}").unwrap();
    let o = run(h, &["macro", "import", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stderr(&o).contains("unknown placeholder 'customer'"),
        "{}",
        stderr(&o)
    );
    let all = h.join("all");
    ok(&run(
        h,
        &["macro", "export", "--dir", all.to_str().unwrap()],
    ));
    assert!(all.join("need-logs.md").exists());
    assert!(all.join("customer-update.md").exists());
}

#[test]
fn policies_from_files_and_the_made_sla_agreement() {
    let dir = workspace();
    let h = dir.path();
    let cal = h.join("cal.json");
    std::fs::write(
        &cal,
        r#"{"name": "berlin", "timeZone": "Europe/Berlin", "hours": [], "holidays": []}"#,
    )
    .unwrap();
    let o = run(h, &["sla", "set-calendar", cal.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(4));
    assert!(stderr(&o).contains("calendar 'berlin': has no working hours"));
    std::fs::write(
        &cal,
        r#"{"name": "berlin", "timeZone": "Europe/Berlin",
            "hours": [{"days": ["mon","tue","wed","thu","fri"], "start": "08:00", "end": "18:00"}],
            "holidays": [{"name": "Christmas", "from": "2026-12-24", "to": "2026-12-26"}]}"#,
    )
    .unwrap();
    ok(&run(h, &["sla", "set-calendar", cal.to_str().unwrap()]));
    let pol = h.join("pol.json");
    std::fs::write(
        &pol,
        r#"{"source": "*", "priority": "medium", "calendar": "berlin",
            "firstResponseMinutes": 120, "nextUpdateMinutes": 480, "resolutionMinutes": -5,
            "pauseStates": ["pending"]}"#,
    )
    .unwrap();
    let o = run(h, &["sla", "set-policy", pol.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stderr(&o).contains("the resolution target must be positive"),
        "{}",
        stderr(&o)
    );
    std::fs::write(
        &pol,
        std::fs::read_to_string(&pol).unwrap().replace("-5", "1440"),
    )
    .unwrap();
    ok(&run(h, &["sla", "set-policy", pol.to_str().unwrap()]));
    let p = ok(&run(h, &["sla", "policies"]));
    let medium = p
        .lines()
        .find(|l| l.starts_with("policy */medium"))
        .unwrap();
    assert!(
        medium.contains("calendar berlin") && medium.contains("resolution 24 h"),
        "{p}"
    );
    // The changed policy recomputes history: INC0000047 is now measured from Monday 08:00 Berlin.
    let s = json(&run(h, &["--json", "sla", "INC0000047"]));
    assert_eq!(s["calendar"], "berlin");
    let a = json(&run(h, &["--json", "sla", "agreement"]));
    assert_eq!(a[0]["key"], "all");
    assert_eq!(a[0]["compared"], 1, "only the done incident is compared");
    assert_eq!(a[0]["bothMet"], 1);
}
