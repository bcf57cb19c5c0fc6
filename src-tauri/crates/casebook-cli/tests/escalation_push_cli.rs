//! `casebook escalate <ticket> --push | --status` and `casebook escalate settings`, run as a user
//! runs them: the push is queued as one redacted outbox operation without touching the network,
//! and (with a real keyring) a later `casebook sync` delivers it to the fake Jira.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use casebook_fakes::jira::{self, JiraFake};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_casebook");
const SECRET_EMAIL: &str = "carol.finance@example.com";
const SECRET_KEY: &str = "AKIAQ3EGRT5KXMPL7Q2Z";

fn run(home: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("CASEBOOK_HOME")
        // The workspace key in a file beside (not inside) the data directory.
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

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok_json(home: &Path, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let o = run(home, &a, None);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&o)))
}

fn scratch() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("ws");
    std::fs::create_dir_all(&home).unwrap();
    (root, home)
}

/// A ticket whose text carries secrets; returns its key.
fn ticket(home: &Path) -> String {
    let v = ok_json(
        home,
        &[
            "tickets",
            "new",
            "--title",
            &format!("Invoices fail for {SECRET_EMAIL}"),
            "--description",
            &format!(
                "Customer pasted key {SECRET_KEY}.\n\nSteps to reproduce:\n1. Open order 1841\n\nExpected: a PDF\nActual: 503"
            ),
            "--priority",
            "high",
        ],
    );
    v["key"].as_str().unwrap().to_owned()
}

fn add_jira(home: &Path, name: &str, instance: &str) {
    let o = run(
        home,
        &[
            "connections",
            "add",
            "jira",
            name,
            "--instance",
            instance,
            "--user",
            "ana@example.test",
            "--mirror",
            "HD",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn push_is_queued_as_one_redacted_outbox_operation_after_the_settings() {
    let (_root, home) = scratch();
    let h = home.as_path();
    let key = ticket(h);

    // No Jira connection yet: a clear error, exit 4, nothing queued.
    let o = run(h, &["escalate", &key, "--push"], None);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("no jira connection"), "{}", text(&o));
    let o = run(h, &["escalate", "settings"], None);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));

    // Nothing listens there: queuing must not need the network.
    add_jira(h, "Eng Jira", "http://127.0.0.1:9");
    let s = ok_json(h, &["escalate", "settings"]);
    assert_eq!(s["connectionName"], "Eng Jira");
    assert_eq!(s["project"], "");
    assert_eq!(s["issueType"], "Bug");
    let o = run(h, &["escalate", "settings"], None);
    assert!(text(&o).contains("no engineering project"), "{}", text(&o));
    let o = run(h, &["escalate", &key, "--push"], None);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(
        text(&o)
            .contains("no engineering project is configured for the jira connection 'Eng Jira'"),
        "{}",
        text(&o)
    );
    // --issue-type alone needs a project to keep.
    let o = run(h, &["escalate", "settings", "--issue-type", "Task"], None);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("pass --project"), "{}", text(&o));
    // A bad project key is refused and names the rule.
    let o = run(h, &["escalate", "settings", "--project", "eng"], None);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("not a jira project key"), "{}", text(&o));

    let s = ok_json(h, &["escalate", "settings", "--project", "ENG"]);
    assert_eq!(
        (s["project"].as_str(), s["issueType"].as_str()),
        (Some("ENG"), Some("Bug"))
    );
    let s = ok_json(
        h,
        &[
            "escalate",
            "settings",
            "--connection",
            "Eng Jira",
            "--issue-type",
            "Task",
        ],
    );
    assert_eq!(
        (s["project"].as_str(), s["issueType"].as_str()),
        (Some("ENG"), Some("Task"))
    );
    let o = run(h, &["escalate", "settings"], None);
    assert!(
        text(&o).contains("escalations become Task issues in ENG"),
        "{}",
        text(&o)
    );

    // No package yet: --status says so (and creates none).
    let o = run(h, &["escalate", &key, "--status"], None);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("has no escalation package"),
        "{}",
        text(&o)
    );

    // The push: one outbox operation, its id printed, redacted.
    let v = ok_json(h, &["escalate", &key, "--push"]);
    assert_eq!(v["state"], "queued");
    assert_eq!(v["opStatus"], "pending");
    let op_id = v["opId"].as_i64().unwrap();
    let ops = ok_json(h, &["outbox", "list", "--connection", "Eng Jira"]);
    let ops = ops.as_array().unwrap();
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert_eq!(ops[0]["id"].as_i64(), Some(op_id));
    assert_eq!(ops[0]["op"], "escalation");
    let summary = ops[0]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!(
            "escalation to ENG: [{key}] Invoices fail for <email-1>"
        )),
        "{summary}"
    );
    let all = serde_json::to_string(&ops).unwrap();
    assert!(
        !all.contains(SECRET_EMAIL) && !all.contains(SECRET_KEY),
        "{all}"
    );

    // Pushing again while it waits queues nothing more.
    let o = run(h, &["escalate", &key, "--push"], None);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("already queued"), "{}", text(&o));
    assert_eq!(
        ok_json(h, &["outbox", "list", "--connection", "Eng Jira"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let st = ok_json(h, &["escalate", &key, "--status"]);
    assert_eq!(st["state"], "queued");
    assert_eq!(st["opId"].as_i64(), Some(op_id));
    let o = run(h, &["escalate", &key, "--status"], None);
    assert!(
        text(&o).contains(&format!("queued; outbox operation {op_id} is pending")),
        "{}",
        text(&o)
    );

    // Usage errors: no action, or a ticket with the settings subcommand.
    let o = run(h, &["escalate", &key], None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(h, &["escalate", &key, "--connection", "Eng Jira"], None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn export_and_push_in_one_command() {
    let (_root, home) = scratch();
    let h = home.as_path();
    let key = ticket(h);
    add_jira(h, "Eng Jira", "http://127.0.0.1:9");
    ok_json(h, &["escalate", "settings", "--project", "ENG"]);
    let md = h.join("p.md");
    let o = run(
        h,
        &[
            "escalate",
            &key,
            "--export",
            "md",
            "--out",
            md.to_str().unwrap(),
            "--push",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("wrote ") && t.contains("queued escalation"),
        "{t}"
    );
    let exported = std::fs::read_to_string(&md).unwrap();
    assert!(!exported.contains(SECRET_EMAIL), "{exported}");
    // With --json the two results would be two documents: refused before anything happens.
    let o = run(
        h,
        &[
            "--json", "escalate", &key, "--export", "md", "--push", "--new",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert_eq!(
        ok_json(h, &["outbox", "list", "--connection", "Eng Jira"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// The package's own redaction settings hold a custom rule that does not compile: the push fails
/// with the reason and nothing is queued (the same fail-closed path as the exports).
#[test]
fn a_push_whose_redaction_fails_queues_nothing() {
    let (_root, home) = scratch();
    let h = home.as_path();
    let key = ticket(h);
    add_jira(h, "Eng Jira", "http://127.0.0.1:9");
    ok_json(h, &["escalate", "settings", "--project", "ENG"]);
    // A draft, then its redaction settings edited as the app's editor does (through the façade).
    let o = run(h, &["escalate", &key, "--export", "md", "--out", "-"], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use casebook_api::{Casebook, OpenOptions, Origin};
        let mut opts = OpenOptions::for_tests(h, Origin::Cli);
        opts.database_key = casebook_api::workspace_key::KeySource::File(h.with_extension("key"));
        opts.create = false;
        let cb = Casebook::open(opts).await.unwrap();
        let t = cb.find_ticket(key.clone()).await.unwrap();
        let d = cb.escalation_list(Some(t.id)).await.unwrap()[0].id;
        let v = cb.escalation_get(d).await.unwrap();
        let mut content = v.content.clone();
        content.redaction.custom_rules = serde_json::from_value(serde_json::json!([
            { "label": "bad", "pattern": "(unclosed", "literal": false }
        ]))
        .unwrap();
        cb.escalation_save(casebook_api::escalation::SaveEscalationInput {
            id: d,
            expected_revision: v.revision,
            content,
        })
        .await
        .unwrap();
    });
    drop(rt);
    let o = run(h, &["escalate", &key, "--push"], None);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("custom rule 'bad'"), "{}", text(&o));
    assert!(
        ok_json(h, &["outbox", "list", "--connection", "Eng Jira"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ok_json(h, &["escalate", &key, "--status"])["state"],
        "not_pushed"
    );
}

/// Jira answers on loopback in a thread of its own while the CLI runs as a child process.
struct FakeThread {
    fake: JiraFake,
    _rt: tokio::runtime::Runtime,
}

fn fake_jira() -> FakeThread {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fake = rt.block_on(jira::start()).unwrap();
    FakeThread { fake, _rt: rt }
}

/// The full round trip through the real OS keyring (the API token is stored there by
/// `casebook login`): push queued, `casebook sync` creates the issue in ENG with the package and
/// its link, `--status` shows the key. Runs where scripts/test.sh runs the Rust tests (a session
/// with an unlocked Secret Service and `CASEBOOK_KEYRING_IT=1`).
#[test]
fn a_queued_push_is_delivered_by_casebook_sync() {
    if std::env::var("CASEBOOK_KEYRING_IT").as_deref() != Ok("1") {
        eprintln!("skipped: set CASEBOOK_KEYRING_IT=1 with an unlocked Secret Service to run this");
        return;
    }
    const TOKEN: &str = "jira-cli-push-token-9f3e";
    let (_root, home) = scratch();
    let h = home.as_path();
    let f = fake_jira();
    f.fake.accept_only("ana@example.test", TOKEN);
    let key = ticket(h);
    // Its connection is 1, like other tests' that sign in and out concurrently: keyring entries
    // are named per workspace (`workspace/<id>/connection/1/password`), so they do not meet.
    add_jira(h, "Eng Jira", &f.fake.base_url());
    let o = run(
        h,
        &["login", "Eng Jira"],
        Some(format!("{TOKEN}\n").as_bytes()),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    ok_json(
        h,
        &[
            "escalate",
            "settings",
            "--connection",
            "Eng Jira",
            "--project",
            "ENG",
        ],
    );
    let v = ok_json(h, &["escalate", &key, "--push", "--connection", "Eng Jira"]);
    assert_eq!(v["state"], "queued");
    let before = f
        .fake
        .with_state(|s| s.issues.iter().filter(|i| i.project == "ENG").count());
    assert_eq!(before, 0, "queuing sent nothing");

    let o = run(h, &["sync", "--connection", "Eng Jira"], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("pushed 1"), "{}", text(&o));
    let issues: Vec<jira::Issue> = f.fake.with_state(|s| {
        s.issues
            .iter()
            .filter(|i| i.project == "ENG")
            .cloned()
            .collect()
    });
    assert_eq!(issues.len(), 1);
    let issue = &issues[0];
    assert!(
        issue.summary == format!("[{key}] Invoices fail for <email-1>"),
        "{}",
        issue.summary
    );
    assert!(!issue.description.contains(SECRET_KEY));
    assert!(
        issue.description.contains("Open order 1841"),
        "{}",
        issue.description
    );

    let st = ok_json(h, &["escalate", &key, "--status"]);
    assert_eq!(st["state"], "pushed");
    assert_eq!(st["key"].as_str(), Some(issue.key.as_str()));
    let o = run(h, &["escalate", &key, "--status"], None);
    assert!(
        text(&o).contains(&format!("pushed as {}", issue.key)),
        "{}",
        text(&o)
    );
    // Pushed once: a second push is refused with the key.
    let o = run(
        h,
        &["escalate", &key, "--push", "--connection", "Eng Jira"],
        None,
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains(&issue.key), "{}", text(&o));
    let o = run(h, &["logout", "Eng Jira"], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
