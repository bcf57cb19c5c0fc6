//! The `casebook` binary's connection commands, `export-outbox`, and how it gets the database key:
//! a key file on headless machines, the OS keyring otherwise, and a clear error without either.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_casebook");

struct Ws {
    _dir: tempfile::TempDir,
    home: PathBuf,
    key: PathBuf,
}

fn ws() -> Ws {
    let dir = tempfile::tempdir().unwrap();
    Ws {
        home: dir.path().join("ws"),
        key: dir.path().join("casebook.key"),
        _dir: dir,
    }
}

fn cmd(w: &Ws, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--home")
        .arg(&w.home)
        .args(args)
        .env_remove("CASEBOOK_HOME")
        .env("CASEBOOK_KEY_FILE", &w.key)
        .stdin(Stdio::null());
    c
}

fn run(w: &Ws, args: &[&str]) -> Output {
    cmd(w, args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn without_a_keyring_the_error_says_what_is_missing_and_no_database_is_created() {
    let w = ws();
    let out = Command::new(BIN)
        .arg("--home")
        .arg(&w.home)
        .arg("workspace")
        .env_remove("CASEBOOK_HOME")
        .env_remove("CASEBOOK_KEY_FILE")
        // No session bus: the Secret Service cannot be reached.
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/casebook-test-bus",
        )
        .env_remove("DISPLAY")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(6), "{t}");
    assert!(t.contains("keyring is unavailable"), "{t}");
    assert!(
        t.contains("Secret Service") || t.contains("keychain"),
        "{t}"
    );
    assert!(
        !w.home.join("casebook.db").exists(),
        "no unencrypted fallback"
    );
}

#[test]
fn a_key_file_encrypts_the_workspace_and_must_live_outside_it() {
    let w = ws();
    let out = run(&w, &["workspace"]);
    assert!(out.status.success(), "{}", text(&out));
    let key = std::fs::read_to_string(&w.key).unwrap();
    assert_eq!(key.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&w.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key file is private: {mode:o}");
    }
    let db = std::fs::read(w.home.join("casebook.db")).unwrap();
    assert!(!db.starts_with(b"SQLite format 3"));
    // Reopens with the same key.
    assert!(run(&w, &["workspace"]).status.success());
    // A key file inside the data directory is refused.
    let inside = Command::new(BIN)
        .arg("--home")
        .arg(&w.home)
        .arg("workspace")
        .env_remove("CASEBOOK_HOME")
        .env("CASEBOOK_KEY_FILE", w.home.join("casebook.key"))
        .output()
        .unwrap();
    assert_eq!(inside.status.code(), Some(4), "{}", text(&inside));
    assert!(text(&inside).contains("inside the data directory"));
    // Without its key the workspace is not readable, and says why.
    let other = Command::new(BIN)
        .arg("--home")
        .arg(&w.home)
        .arg("workspace")
        .env_remove("CASEBOOK_HOME")
        .env(
            "CASEBOOK_KEY_FILE",
            w.home.parent().unwrap().join("missing.key"),
        )
        .output()
        .unwrap();
    assert_eq!(other.status.code(), Some(6), "{}", text(&other));
    assert!(text(&other).contains("does not exist"), "{}", text(&other));
}

#[test]
fn connections_are_added_listed_tested_renamed_and_removed() {
    let w = ws();
    let add = run(
        &w,
        &[
            "connections",
            "add",
            "zendesk",
            "Zendesk EU",
            "--instance",
            "http://127.0.0.1:9",
            "--client-id",
            "casebook",
        ],
    );
    assert!(add.status.success(), "{}", text(&add));
    assert!(text(&add).contains("casebook login"));
    let jira = run(
        &w,
        &[
            "connections",
            "add",
            "jira",
            "Jira",
            "--instance",
            "acme",
            "--user",
            "ana@acme.test",
            "--mirror",
            "ITSM",
        ],
    );
    assert!(jira.status.success(), "{}", text(&jira));
    let bad = run(
        &w,
        &[
            "connections",
            "add",
            "servicenow",
            "SN",
            "--instance",
            "http://dev1.service-now.com",
            "--user",
            "ana",
            "--auth",
            "basic",
        ],
    );
    assert_eq!(bad.status.code(), Some(4));
    assert!(text(&bad).contains("unencrypted"), "{}", text(&bad));

    let list = run(&w, &["--json", "connections", "list"]);
    let v: Value = serde_json::from_slice(&list.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Jira", "Zendesk EU"]);
    assert_eq!(v[0]["baseUrl"], "https://acme.atlassian.net");
    assert_eq!(v[0]["mirrorScope"], serde_json::json!(["ITSM"]));
    assert_eq!(v[1]["status"], "needs_sign_in");

    // Nothing listens on port 9: reported as unreachable in plain words, exit 8.
    let test = run(&w, &["connections", "test", "zendesk eu"]);
    assert_eq!(test.status.code(), Some(8), "{}", text(&test));
    assert!(
        text(&test).contains("cannot reach http://127.0.0.1:9"),
        "{}",
        text(&test)
    );

    assert!(
        run(&w, &["connections", "rename", "Jira", "Jira Cloud"])
            .status
            .success()
    );
    // Removing deletes the secrets first, so it needs the keyring: without one the profile stays
    // (no secret is left behind without a way to delete it) and the error says why.
    let rm = run(&w, &["connections", "remove", "Jira Cloud"]);
    if std::env::var("CASEBOOK_KEYRING_IT").as_deref() == Ok("1") {
        assert!(rm.status.success(), "{}", text(&rm));
        let gone = run(&w, &["connections", "test", "Jira Cloud"]);
        assert_eq!(gone.status.code(), Some(3));
    } else {
        assert_eq!(rm.status.code(), Some(6), "{}", text(&rm));
        assert!(
            text(&rm).contains("keyring is unavailable"),
            "{}",
            text(&rm)
        );
        let list = run(&w, &["connections", "list"]);
        assert!(text(&list).contains("Jira Cloud"));
    }
}

#[test]
fn login_prints_the_address_and_times_out_when_nobody_opens_it() {
    let w = ws();
    assert!(
        run(
            &w,
            &[
                "connections",
                "add",
                "zendesk",
                "Z",
                "--instance",
                "http://127.0.0.1:9",
                "--client-id",
                "cb"
            ]
        )
        .status
        .success()
    );
    let out = run(&w, &["login", "Z", "--no-browser", "--timeout", "1"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(8), "{t}");
    let url = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:9/oauth/authorizations/new?"),
        "{t}"
    );
    assert!(
        url.contains("code_challenge_method=S256") && url.contains("state="),
        "{url}"
    );
    assert!(t.contains("did not come back"), "{t}");
}

#[test]
fn export_outbox_writes_every_unsynced_change_and_never_overwrites() {
    let w = ws();
    assert!(
        run(
            &w,
            &["tickets", "new", "--title", "VPN drops every 10 minutes"]
        )
        .status
        .success()
    );
    assert!(
        run(&w, &["tickets", "comment", "CB-1", "restarted the client"])
            .status
            .success()
    );
    let file = w.home.parent().unwrap().join("outbox.json");
    let out = run(&w, &["export-outbox", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("2 unsynced change"), "{}", text(&out));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let ops = v["operations"].as_array().unwrap();
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0]["ticketKey"], "CB-1");
    assert_eq!(ops[0]["op"], "create");
    assert!(
        ops[1]["payload"]
            .to_string()
            .contains("restarted the client")
    );
    let again = run(&w, &["export-outbox", file.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(4));
    assert!(text(&again).contains("choose a new file name"));
}

/// The real OS keyring (scripts/test.sh runs the tests in a session with an unlocked Secret
/// Service and `CASEBOOK_KEYRING_IT=1`).
#[test]
fn the_keyring_holds_the_database_key_when_there_is_one() {
    if std::env::var("CASEBOOK_KEYRING_IT").as_deref() != Ok("1") {
        eprintln!("skipped: set CASEBOOK_KEYRING_IT=1 with an unlocked Secret Service to run this");
        return;
    }
    let w = ws();
    let real = |args: &[&str]| {
        Command::new(BIN)
            .arg("--home")
            .arg(&w.home)
            .args(args)
            .env_remove("CASEBOOK_HOME")
            .env_remove("CASEBOOK_KEY_FILE")
            .output()
            .unwrap()
    };
    let first = real(&["workspace"]);
    assert!(first.status.success(), "{}", text(&first));
    assert!(!w.key.exists());
    assert!(w.home.join("workspace-id").exists());
    let again = real(&[
        "tickets",
        "new",
        "--title",
        "written with the key from the keyring",
    ]);
    assert!(again.status.success(), "{}", text(&again));
    let db = w.home.join("casebook.db");
    assert!(!std::fs::read(&db).unwrap().starts_with(b"SQLite format 3"));
    if let Ok(o) = Command::new("sqlite3")
        .arg(&db)
        .arg("SELECT count(*) FROM tickets;")
        .output()
    {
        assert!(!o.status.success(), "sqlite3 read it without the key");
    }
}
