//! "Push to Jira" (issue 6, part 6) end to end: an escalation package queued through the façade
//! while the upstream is unreachable, delivered by the sync engine to the fake Jira as one issue
//! in the engineering project with its redacted extracts attached once each, although the
//! answers to the create and to an upload were lost after Jira stored them; the source ticket
//! gets the link; nothing any request carried holds a seeded secret.

use casebook_api::Casebook;
use casebook_api::connections::NewConnectionInput;
use casebook_api::dto::NewTicketInput;
use casebook_api::error::ErrorCode;
use casebook_api::escalation::{EscalationExportFormat, SaveEscalationInput};
use casebook_api::escalation_push::{EscalationJiraSettingsInput, EscalationPushState};
use casebook_core::connection::{AuthMethod, Connection, SecretKind, Vendor, secret_name};
use casebook_core::secrets::{MemorySecretStore, SecretStore, SecretValue};
use casebook_core::store::Origin;
use casebook_core::{Clock, FixedClock, Store};
use casebook_fakes::Fault;
use casebook_fakes::jira::{self, JiraFake};
use casebook_sync::backoff::RecordingSleeper;
use casebook_sync::connector::Connector;
use casebook_sync::engine::{StoreAccess, SyncEngine, SyncOptions, SyncReport};
use casebook_sync::jira::Jira;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const EMAIL: &str = "ana@example.test";
const TOKEN: &str = "jira-api-token-S3CRET-4242";
const CREATE: &str = "/rest/api/3/issue";
const ATTACH: &str = "/rest/api/3/issue/*/attachments";

/// Secrets seeded into the ticket, the package and the log extracts; none may reach Jira.
const SECRETS: &[&str] = &[
    "carol.finance@example.com",
    "AKIAQ3EGRT5KXMPL7Q2Z",
    "ghp_9Fq2LmZx7RtYv3WkPa1Bc8De5Gh4Jk6Nm0Qs",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkNhcm9sIn0.pQ3vX9mK2rT7wY1zA4bC6dE8fG0hJ2kL4mN6oP8qR0s",
    "hunter2-Pa55word",
    "4111111111111111",
    "203.0.113.77",
];

struct Env {
    _dir: tempfile::TempDir,
    cb: Casebook,
    fake: JiraFake,
    clock: Arc<FixedClock>,
    conn: Connection,
}

/// The workspace's store for the engine (the façade's own store, shared).
struct CbStore(Casebook);

impl StoreAccess for CbStore {
    fn store(&self) -> &Store {
        self.0.store()
    }
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let fake = jira::start().await.unwrap();
    fake.accept_only(EMAIL, TOKEN);
    let clock = Arc::new(FixedClock::new(jira::T0_MS + 3_600_000));
    let cb = crate::open_at(dir.path(), Origin::App, Arc::clone(&clock)).await;
    let c = cb
        .add_connection(NewConnectionInput {
            vendor: Vendor::Jira,
            name: "Acme Jira".into(),
            instance: fake.base_url(),
            auth_method: AuthMethod::Basic,
            username: Some(EMAIL.into()),
            oauth_client_id: None,
            mirror_scope: Some(vec!["HD".into()]),
        })
        .await
        .unwrap();
    let conn = cb.store().connection(c.id).unwrap();
    Env {
        _dir: dir,
        cb,
        fake,
        clock,
        conn,
    }
}

impl Env {
    /// One sync of the Jira connection through `base_url` (the fake, or a closed port).
    async fn sync_via(&self, base_url: &str) -> SyncReport {
        let mut conn = self.conn.clone();
        conn.base_url = base_url.to_owned();
        let secrets = Arc::new(MemorySecretStore::new());
        secrets
            .set(
                &secret_name(conn.id, SecretKind::Password),
                &SecretValue::new(TOKEN),
            )
            .unwrap();
        let http = casebook_sync::http::client(&casebook_sync::http::HttpConfig {
            extra_roots_pem: vec![],
            timeout: Some(Duration::from_secs(10)),
        })
        .unwrap();
        let tm = crate::support::token_manager(secrets, &self.clock, &http);
        SyncEngine::new(
            Arc::new(CbStore(self.cb.clone())) as Arc<dyn StoreAccess>,
            Arc::new(Jira::new(http, tm, conn.clone())) as Arc<dyn Connector>,
            conn.id,
            Arc::clone(&self.clock) as Arc<dyn Clock>,
            Arc::new(RecordingSleeper::new(Arc::clone(&self.clock))),
            SyncOptions {
                pull: false,
                sweep: false,
                articles: false,
                ..Default::default()
            },
        )
        .run()
        .await
    }

    async fn sync(&self) -> SyncReport {
        self.sync_via(&self.fake.base_url()).await
    }

    /// A ticket and its escalation package with secrets everywhere and two log extracts.
    async fn escalation(&self) -> (i64, i64) {
        let t = self
            .cb
            .create_ticket(NewTicketInput {
                title: "Invoices fail for carol.finance@example.com".into(),
                description: "Customer pasted key AKIAQ3EGRT5KXMPL7Q2Z and card 4111111111111111"
                    .into(),
                priority: None,
                state: None,
                assignee: None,
                assignment_group: None,
                requester: None,
                tags: vec![],
            })
            .await
            .unwrap();
        let v = self.cb.escalation_create(t.id).await.unwrap();
        let mut content = v.content.clone();
        content.title = "Invoice export returns 503 for carol.finance@example.com".into();
        content.summary = "Since the 2.4 upgrade every invoice export fails; repro below.\n\
                           Token used: ghp_9Fq2LmZx7RtYv3WkPa1Bc8De5Gh4Jk6Nm0Qs"
            .into();
        content.steps_to_reproduce = vec![
            "Open https://svc:hunter2-Pa55word@billing.example.net/export".into(),
            "Click Export PDF".into(),
        ];
        content.expected = "A PDF".into();
        content.actual = "HTTP 503 from 203.0.113.77".into();
        content.evidence.extracts = serde_json::from_value(json!([
            {
                "source": "app.log",
                "firstLine": 10,
                "lastLine": 12,
                "text": "2024-10-10T20:55:39Z ERROR export failed user=carol.finance@example.com\n\
                         2024-10-10T20:55:39Z DEBUG Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkNhcm9sIn0.pQ3vX9mK2rT7wY1zA4bC6dE8fG0hJ2kL4mN6oP8qR0s\n\
                         2024-10-10T20:55:40Z ERROR upstream 203.0.113.77 answered 503",
                "note": ""
            },
            {
                "source": "/var/log/billing/worker.log",
                "firstLine": 200,
                "lastLine": 201,
                "text": "aws_access_key_id=AKIAQ3EGRT5KXMPL7Q2Z\ncard=4111111111111111 declined",
                "note": ""
            }
        ]))
        .unwrap();
        self.cb
            .escalation_save(SaveEscalationInput {
                id: v.id,
                expected_revision: v.revision,
                content,
            })
            .await
            .unwrap();
        (t.id, v.id)
    }

    async fn configure(&self) {
        let s = self
            .cb
            .escalation_set_jira_settings(EscalationJiraSettingsInput {
                connection: None,
                project: "ENG".into(),
                issue_type: None,
            })
            .await
            .unwrap();
        assert_eq!((s.project.as_str(), s.issue_type.as_str()), ("ENG", "Bug"));
    }

    /// Every byte any request carried to the fake, and what the fake stored.
    fn everything_jira_saw(&self) -> String {
        let mut all = String::new();
        for r in self.fake.requests().all() {
            all.push_str(&r.body);
            all.push_str(&r.raw_query);
            all.push('\n');
        }
        self.fake.with_state(|s| {
            for i in &s.issues {
                all.push_str(&i.summary);
                all.push_str(&i.description);
                all.push_str(&i.labels.join(" "));
            }
            for a in &s.attachments {
                all.push_str(&String::from_utf8_lossy(&a.content));
                all.push_str(&a.filename);
            }
        });
        all
    }
}

fn eng_issues(fake: &JiraFake) -> Vec<jira::Issue> {
    fake.with_state(|s| {
        s.issues
            .iter()
            .filter(|i| i.project == "ENG")
            .cloned()
            .collect()
    })
}

/// A local address where nothing listens (the machine is offline as far as Jira goes).
fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

#[tokio::test]
async fn queued_offline_then_created_once_with_redacted_attachments_and_the_ticket_linked() {
    let e = env().await;
    e.configure().await;
    let (ticket_id, esc) = e.escalation().await;
    let before = e.fake.requests().all().len();

    let queued = e.cb.escalation_push(esc, None).await.unwrap();
    assert_eq!(queued.state, EscalationPushState::Queued);
    assert_eq!(queued.op_status.as_deref(), Some("pending"));
    assert_eq!(
        e.fake.requests().all().len(),
        before,
        "queuing needs no network"
    );
    // Pushing again while it waits queues nothing more.
    let again = e.cb.escalation_push(esc, None).await.unwrap_err();
    assert_eq!(again.code, ErrorCode::InvalidInput);
    assert!(
        again.message.contains("already queued"),
        "{}",
        again.message
    );
    let ops = e.cb.outbox_list(Some("Acme Jira".into())).await.unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].op, "escalation");
    assert!(
        ops[0]
            .summary
            .starts_with("escalation to ENG: Invoice export returns 503 for <email-"),
        "{}",
        ops[0].summary
    );
    // The outbox holds only redacted text.
    let raw: String =
        e.cb.store()
            .read(|c| {
                Ok(c.query_row(
                    "SELECT payload FROM outbox WHERE op = 'escalation'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
    for s in SECRETS {
        assert!(!raw.contains(s), "the outbox payload holds {s}");
    }

    // Offline: nothing reaches Jira, the push stays queued.
    let r = e.sync_via(&closed_port()).await;
    assert_eq!(
        r.stopped.as_ref().map(|s| s.kind()),
        Some("offline"),
        "{r:?}"
    );
    assert_eq!(
        e.cb.escalation_push_status(esc).await.unwrap().state,
        EscalationPushState::Queued
    );
    assert!(eng_issues(&e.fake).is_empty());

    // Back online (after the backoff): delivered.
    e.clock.advance(10 * 60_000);
    let r = e.sync().await;
    assert!(r.errors.is_empty() && r.stopped.is_none(), "{r:?}");
    assert_eq!(r.pushed, 1);
    let issues = eng_issues(&e.fake);
    assert_eq!(issues.len(), 1);
    let issue = &issues[0];
    assert!(
        issue
            .summary
            .starts_with("Invoice export returns 503 for <email-")
    );
    assert!(issue.labels.iter().any(|l| l == "casebook-escalation"));
    assert!(issue.description.contains("Click Export PDF"));
    let files = e.fake.attachments(&issue.key);
    let names: Vec<&str> = files.iter().map(|a| a.filename.as_str()).collect();
    assert_eq!(
        names,
        ["01-app.log-L10-12.log", "02-worker.log-L200-201.log"]
    );
    assert!(
        String::from_utf8_lossy(&files[0].content).contains("ERROR export failed user=<email-1>")
    );
    // Every upload carried the XSRF header Jira requires.
    for r in e.fake.requests().matching("POST", ATTACH) {
        assert_eq!(r.status, Some(200));
    }

    let status = e.cb.escalation_push_status(esc).await.unwrap();
    assert_eq!(status.state, EscalationPushState::Pushed);
    assert_eq!(status.key.as_deref(), Some(issue.key.as_str()));
    let url = status.url.clone().unwrap();
    assert!(url.ends_with(&format!("/browse/{}", issue.key)), "{url}");
    let t = e.cb.get_ticket(ticket_id).await.unwrap();
    let link = t
        .links
        .iter()
        .find(|l| l.target == url)
        .expect("the ticket links to the issue");
    assert!(link.title.as_deref().unwrap_or("").contains(&issue.key));
    let v = e.cb.escalation_get(esc).await.unwrap();
    assert_eq!(
        serde_json::to_value(v.status).unwrap(),
        json!("pushed"),
        "the escalation is marked pushed"
    );

    let seen = e.everything_jira_saw();
    for s in SECRETS {
        assert!(!seen.contains(s), "jira received {s}");
    }
    // Once pushed, pushing again is refused with the key; a later sync sends nothing more.
    let err = e.cb.escalation_push(esc, None).await.unwrap_err();
    assert!(err.message.contains(&issue.key), "{}", err.message);
    let n = e.fake.requests().all().len();
    let r = e.sync().await;
    assert_eq!(r.pushed, 0);
    assert_eq!(e.fake.requests().all().len(), n);
}

#[tokio::test]
async fn answers_lost_after_jira_stored_them_leave_one_issue_and_one_copy_of_each_file() {
    let e = env().await;
    e.configure().await;
    let (_, esc) = e.escalation().await;
    e.cb.escalation_push(esc, None).await.unwrap();
    e.fake.faults().once("POST", CREATE, Fault::DropAfterCommit);
    e.fake.faults().once("POST", ATTACH, Fault::DropAfterCommit);
    let r = e.sync().await;
    assert!(r.stopped.is_none(), "{r:?}");
    assert_eq!(r.pushed, 1, "{r:?}");
    assert_eq!(
        e.fake
            .faults()
            .fired()
            .iter()
            .filter(|f| f.2 == Fault::DropAfterCommit)
            .count(),
        2,
        "both answers were lost"
    );
    let issues = eng_issues(&e.fake);
    assert_eq!(issues.len(), 1, "created exactly once");
    let files = e.fake.attachments(&issues[0].key);
    assert_eq!(files.len(), 2, "each extract attached once: {files:?}");
    assert_eq!(
        e.cb.escalation_push_status(esc).await.unwrap().state,
        EscalationPushState::Pushed
    );

    // A lost create whose retry is only due in a later run (the app quit) is found there too.
    let (_, esc2) = e.escalation().await;
    e.cb.escalation_push(esc2, None).await.unwrap();
    e.fake
        .faults()
        .add(casebook_fakes::FaultRule::new("POST", CREATE, Fault::DropAfterCommit).times(1));
    e.fake.faults().add(
        casebook_fakes::FaultRule::new("POST", "/rest/api/3/search/jql", Fault::Status(500))
            .always(),
    );
    let r = e.sync().await;
    assert_eq!(r.pushed, 0, "{r:?}");
    assert_eq!(eng_issues(&e.fake).len(), 2, "stored upstream, answer lost");
    assert_eq!(
        e.cb.escalation_push_status(esc2).await.unwrap().state,
        EscalationPushState::Queued
    );
    e.fake.faults().clear();
    e.clock.advance(10 * 60_000);
    let r = e.sync().await;
    assert_eq!(r.pushed, 1, "{r:?}");
    assert_eq!(
        eng_issues(&e.fake).len(),
        2,
        "found by its marker, not created again"
    );

    // The second upload keeps failing: the next run finds the issue and uploads only the file
    // it does not have yet.
    let (_, esc3) = e.escalation().await;
    e.cb.escalation_push(esc3, None).await.unwrap();
    e.fake.faults().add(
        casebook_fakes::FaultRule::new("POST", ATTACH, Fault::Status(500))
            .skip(1)
            .always(),
    );
    let r = e.sync().await;
    assert_eq!(r.pushed, 0, "{r:?}");
    let third = eng_issues(&e.fake).last().unwrap().key.clone();
    assert_eq!(e.fake.attachments(&third).len(), 1);
    e.fake.faults().clear();
    e.clock.advance(10 * 60_000);
    let r = e.sync().await;
    assert_eq!(r.pushed, 1, "{r:?}");
    assert_eq!(eng_issues(&e.fake).len(), 3);
    let names: Vec<String> = e
        .fake
        .attachments(&third)
        .into_iter()
        .map(|a| a.filename)
        .collect();
    assert_eq!(
        names,
        ["01-app.log-L10-12.log", "02-worker.log-L200-201.log"]
    );
}

#[tokio::test]
async fn no_jira_connection_or_no_project_is_a_clear_error_and_nothing_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FixedClock::new(crate::T0));
    let cb = crate::open_at(dir.path(), Origin::App, clock).await;
    let t = cb
        .create_ticket(NewTicketInput {
            title: "Printer on fire".into(),
            description: "smoke".into(),
            priority: None,
            state: None,
            assignee: None,
            assignment_group: None,
            requester: None,
            tags: vec![],
        })
        .await
        .unwrap();
    let v = cb.escalation_create(t.id).await.unwrap();
    let ops_before = cb.outbox_list(None).await.unwrap().len();
    let err = cb.escalation_push(v.id, None).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(
        err.message.contains("no jira connection"),
        "{}",
        err.message
    );
    assert_eq!(cb.outbox_list(None).await.unwrap().len(), ops_before);

    // A ServiceNow connection named explicitly is refused; a Jira one without a project too.
    cb.add_connection(NewConnectionInput {
        vendor: Vendor::ServiceNow,
        name: "Acme SN".into(),
        instance: "http://127.0.0.1:9".into(),
        auth_method: AuthMethod::Basic,
        username: Some("ana".into()),
        oauth_client_id: None,
        mirror_scope: None,
    })
    .await
    .unwrap();
    let err = cb
        .escalation_push(v.id, Some("Acme SN".into()))
        .await
        .unwrap_err();
    assert!(err.message.contains("jira connection"), "{}", err.message);
    cb.add_connection(NewConnectionInput {
        vendor: Vendor::Jira,
        name: "Acme Jira".into(),
        instance: "http://127.0.0.1:9".into(),
        auth_method: AuthMethod::Basic,
        username: Some(EMAIL.into()),
        oauth_client_id: None,
        mirror_scope: Some(vec!["HD".into()]),
    })
    .await
    .unwrap();
    let err = cb.escalation_push(v.id, None).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(
        err.message.contains("no engineering project"),
        "{}",
        err.message
    );
    // Bad project keys are refused.
    for bad in ["eng", "", "E NG", "ENG\"x"] {
        let err = cb
            .escalation_set_jira_settings(EscalationJiraSettingsInput {
                connection: None,
                project: bad.into(),
                issue_type: None,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput, "{bad}");
    }
    // A package whose redaction fails (a bad custom rule) is never queued.
    cb.escalation_set_jira_settings(EscalationJiraSettingsInput {
        connection: Some("Acme Jira".into()),
        project: "ENG".into(),
        issue_type: Some("Task".into()),
    })
    .await
    .unwrap();
    let mut content = v.content.clone();
    content.redaction.custom_rules = serde_json::from_value(json!([
        { "label": "bad", "pattern": "(unclosed", "literal": false }
    ]))
    .unwrap();
    cb.escalation_save(SaveEscalationInput {
        id: v.id,
        expected_revision: v.revision,
        content,
    })
    .await
    .unwrap();
    let err = cb.escalation_push(v.id, None).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput, "{}", err.message);
    assert_eq!(cb.outbox_list(None).await.unwrap().len(), ops_before);
    assert_eq!(
        cb.escalation_push_status(v.id).await.unwrap().state,
        EscalationPushState::NotPushed
    );
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Jira takes at most 32,767 characters (UTF-16 code units) in a description and answers 400
/// otherwise. A package far over that (a 2,000-line extract with multi-byte text and secrets)
/// is pushed with its description cut within the limit and pointing to `package.md`, which holds
/// the whole redacted package byte for byte as the Markdown export writes it: nothing is lost,
/// nothing leaks.
#[tokio::test]
async fn a_package_over_jiras_description_limit_is_cut_there_and_attached_whole() {
    let e = env().await;
    e.configure().await;
    let (_, esc) = e.escalation().await;
    let v = e.cb.escalation_get(esc).await.unwrap();
    let mut content = v.content.clone();
    let mut big = String::new();
    for i in 0..2000 {
        big.push_str(&format!(
            "2024-10-10T20:{:02}:{:02}Z ERROR päyment export failed for carol.finance@example.com ✓ 😀 row {i}\n",
            (i / 60) % 60,
            i % 60
        ));
    }
    content.evidence.extracts.push(
        serde_json::from_value(json!({
            "source": "big.log",
            "firstLine": 1,
            "lastLine": 2000,
            "text": big,
            "note": ""
        }))
        .unwrap(),
    );
    e.cb.escalation_save(SaveEscalationInput {
        id: v.id,
        expected_revision: v.revision,
        content,
    })
    .await
    .unwrap();
    let (_, md, _) =
        e.cb.escalation_export_bytes(esc, EscalationExportFormat::Markdown)
            .await
            .unwrap();
    let md = String::from_utf8(md).unwrap();
    assert!(
        utf16_len(&md) > 4 * 32_767,
        "the package is far over Jira's limit: {}",
        utf16_len(&md)
    );

    // Sent whole, Jira (the fake, as the real one) refuses it with its 400 body.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}{CREATE}", e.fake.base_url()))
        .basic_auth(EMAIL, Some(TOKEN))
        .json(&json!({ "fields": {
            "project": { "key": "ENG" },
            "issuetype": { "name": "Bug" },
            "summary": "whole package",
            "description": casebook_sync::jira::markdown_adf(&md),
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["errors"]["description"],
        "The entered text is too long. It exceeds the allowed limit of 32,767 characters."
    );
    assert!(eng_issues(&e.fake).is_empty());

    e.cb.escalation_push(esc, None).await.unwrap();
    let r = e.sync().await;
    assert!(r.errors.is_empty() && r.stopped.is_none(), "{r:?}");
    assert_eq!(r.pushed, 1, "{r:?}");
    let issues = eng_issues(&e.fake);
    assert_eq!(issues.len(), 1);
    let d = &issues[0].description;
    assert!(utf16_len(d) <= 32_767, "{}", utf16_len(d));
    assert!(
        utf16_len(d) > 25_000,
        "most of the package is in the description"
    );
    assert!(
        d.contains("The whole package is attached as package.md."),
        "{}",
        &d[d.len().saturating_sub(400)..]
    );
    assert!(d.contains("Click Export PDF"), "the beginning is there");
    let files = e.fake.attachments(&issues[0].key);
    let names: Vec<&str> = files.iter().map(|a| a.filename.as_str()).collect();
    assert_eq!(
        names,
        [
            "01-app.log-L10-12.log",
            "02-worker.log-L200-201.log",
            "03-big.log-L1-2000.log",
            "package.md"
        ]
    );
    assert_eq!(
        String::from_utf8(files[3].content.clone()).unwrap(),
        md,
        "package.md is the whole package, as the Markdown export"
    );
    let extract = String::from_utf8(files[2].content.clone()).unwrap();
    assert_eq!(extract.lines().count(), 2000);
    assert!(
        extract.ends_with("✓ 😀 row 1999\n"),
        "{}",
        &extract[extract.len() - 80..]
    );
    let seen = e.everything_jira_saw();
    for s in SECRETS {
        assert!(!seen.contains(s), "jira received {s}");
    }
    assert_eq!(
        e.cb.escalation_push_status(esc).await.unwrap().state,
        EscalationPushState::Pushed
    );
}
