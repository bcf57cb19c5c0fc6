//! "Push to Jira" in the real webview, against the fake Jira (tests/fakes): a package drafted from
//! a ticket, with log extracts full of secrets, is queued in the outbox from the editor's Export
//! tab; "sync now" of the Jira connection creates the issue in the engineering project exactly
//! once, with the redacted extracts as attachments; the editor shows the issue key and the ticket
//! lists the link. Nothing Jira received holds a seeded secret.

// Test code: a failed expectation is a test failure (clippy.toml allows this only inside #[test]).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;
#[path = "support/upstream.rs"]
mod upstream;

use casebook_fakes::jira::{self, JiraFake};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use std::time::Duration;
use support::{Driver, Session, artifacts_dir, css, screenshot, testid, tools};
use upstream::{NewConnection, add_connection};

const EMAIL: &str = "agent@example.test";
const TOKEN: &str = "e2e-jira-api-token-4242";
/// Seeded secrets, one per kind, as they appear in the ticket and the pasted log.
const SECRETS: [&str; 4] = [
    "carol.jones@acme-corp.example",
    "AKIAZ3MPL3K3Y4E2E7QX",
    "ghp_R4nd0mT0k3nV4lu3F0rE2eT3st1ngAbCdEfG",
    "Hunter2Secret",
];
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);

fn log_text() -> String {
    let [email, aws, github, password] = SECRETS;
    [
        "2024-10-10T20:55:38Z INFO request started request_id=req-7f3a9c path=/invoices/1841"
            .to_owned(),
        format!(
            "2024-10-10T20:55:39Z ERROR invoice export failed for {email}: \
             postgres://billing:{password}@db.internal:5432/billing refused"
        ),
        format!("2024-10-10T20:55:41Z ERROR upload denied for key {aws} using token {github}"),
        "2024-10-10T20:55:42Z INFO request finished status=503".to_owned(),
    ]
    .join("\n")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_is_pushed_to_jira_once_with_redacted_extracts_and_the_ticket_linked() {
    let Some(tools) = tools() else { return };
    let Some(cli) = upstream::cli() else { return };
    let home = tempfile::tempdir().expect("temp data dir");
    let artifacts = artifacts_dir();

    let fake = jira::start().await.expect("start the fake Jira");
    fake.accept_only(EMAIL, TOKEN);
    add_connection(
        &cli,
        home.path(),
        &NewConnection {
            vendor: "jira",
            name: "Acme Jira",
            instance: &fake.base_url(),
            user: EMAIL,
            mirror: "HD",
            secret: TOKEN,
        },
    )
    .await;

    let driver = Driver::start(
        &tools,
        home.path(),
        artifacts.join("e2e-escalation-push.log"),
    )
    .await;
    let s = driver.session(&tools.app).await;

    // ---- A local ticket and its package, with a log of secrets picked as evidence.
    s.click_testid("welcome-start-empty").await;
    s.click_testid("new-ticket").await;
    s.by_testid("new-ticket-title")
        .await
        .send_keys("Invoice export fails with 503")
        .await
        .expect("type the title");
    s.by_testid("new-ticket-description")
        .await
        .send_keys(&format!(
            "Reported by {}: exporting an invoice as PDF returns 503.",
            SECRETS[0]
        ))
        .await
        .expect("type the description");
    s.click_testid("new-ticket-submit").await;
    s.by_testid("ticket-view").await;
    let ticket_key = s
        .by_testid("ticket-key")
        .await
        .text()
        .await
        .expect("the ticket key");

    s.click_testid("ticket-escalate").await;
    s.by_testid("escalation-editor").await;
    s.click_testid("escalation-tab-logs").await;
    s.by_testid("log-paste")
        .await
        .send_keys(&log_text().replace('\n', "\u{E007}"))
        .await
        .expect("paste the log");
    s.click_testid("log-analyze").await;
    s.by_testid("log-result").await;
    let picks = s
        .until("the ERROR lines grouped into signatures", || async {
            let picks = s.all(&testid("log-signature-pick")).await;
            (picks.len() >= 2).then_some(picks)
        })
        .await;
    for pick in picks {
        pick.click().await.expect("pick a signature");
    }
    s.click_testid("log-extracts-preview").await;
    s.click_testid("log-extracts-add-all").await;

    // ---- Export tab: the engineering project (Enter saves it), then push: queued, no network.
    s.click_testid("escalation-tab-export").await;
    let project = s.by_testid("jira-project").await;
    project.clear().await.expect("clear the project");
    project
        .send_keys("ENG\u{E007}")
        .await
        .expect("type the project and press Enter");
    s.until("the push button to name the project", || async {
        let b = s.client.find(css(&testid("jira-push-run"))).await.ok()?;
        let text = b.text().await.ok()?;
        (b.is_enabled().await.ok()? && text.contains("(ENG)")).then_some(())
    })
    .await;
    let requests_before = fake.requests().all().len();
    s.click_testid("jira-push-run").await;
    let status = status_text(&s).await;
    assert!(status.starts_with("Queued"), "not queued: {status}");
    assert_eq!(
        fake.requests().all().len(),
        requests_before,
        "queuing the push used the network"
    );
    assert!(eng_issues(&fake).is_empty());

    // ---- The outbox holds it; "sync now" of the Jira connection delivers it.
    close_editor(&s).await;
    s.click_testid("sync-indicator").await;
    // (The local ticket's own creation waits there too, for no connection: it is local.)
    let summary = s
        .until("the push pending in the outbox", || async {
            for op in s
                .all(&format!("{}[data-status=\"pending\"]", testid("outbox-op")))
                .await
            {
                let text = op.text().await.unwrap_or_default();
                if text.contains("escalation to ENG") {
                    return Some(text);
                }
            }
            None
        })
        .await;
    for secret in SECRETS {
        assert!(
            !summary.contains(secret),
            "the outbox shows the secret {secret}"
        );
    }
    s.click_testid("sync-now").await;
    s.until_within(SYNC_TIMEOUT, "the push to leave the outbox", || async {
        let b = s.client.find(css(&testid("sync-now"))).await.ok()?;
        let idle = b.is_enabled().await.ok()? && b.text().await.ok()?.trim() == "Sync now";
        let mut pushing = false;
        for op in s.all(&testid("outbox-op")).await {
            pushing |= op.text().await.ok()?.contains("escalation to ENG");
        }
        (idle && !pushing).then_some(())
    })
    .await;

    // ---- Jira has exactly one issue, with the redacted extracts attached.
    let issues = eng_issues(&fake);
    assert_eq!(issues.len(), 1, "issues in ENG: {issues:#?}");
    let issue = &issues[0];
    assert!(
        issue.summary.contains("Invoice export fails with 503"),
        "{}",
        issue.summary
    );
    let files = fake.attachments(&issue.key);
    assert!(!files.is_empty(), "no extract attached to {}", issue.key);
    let mut names: Vec<&str> = files.iter().map(|a| a.filename.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), files.len(), "an extract was attached twice");
    let extracts: String = files
        .iter()
        .map(|a| String::from_utf8_lossy(&a.content).into_owned())
        .collect();
    assert!(
        extracts.contains("ERROR invoice export failed for <email-"),
        "the extracts are not the redacted log lines: {extracts}"
    );
    let mut seen = String::new();
    for r in fake.requests().all() {
        seen.push_str(&r.body);
        seen.push_str(&r.raw_query);
    }
    seen.push_str(&issue.summary);
    seen.push_str(&issue.description);
    seen.push_str(&extracts);
    for secret in SECRETS {
        assert!(!seen.contains(secret), "Jira received the secret {secret}");
    }

    // ---- The app: the editor shows the key, the ticket lists the link.
    open_ticket(&s, &ticket_key).await;
    s.click_testid("ticket-escalate").await;
    s.click_testid("escalation-tab-export").await;
    let shown = s
        .until("the editor to show the pushed issue", || async {
            let el = s.client.find(css(&testid("jira-push-key"))).await.ok()?;
            el.text().await.ok().filter(|t| !t.is_empty())
        })
        .await;
    assert_eq!(shown, issue.key);
    screenshot(&artifacts.join("escalation-pushed.png"));
    close_editor(&s).await;
    s.until("the ticket to list the link to the issue", || async {
        let fields = s
            .client
            .find(css(
                "[data-testid=\"ticket-view\"] aside[aria-label=\"Ticket fields\"]",
            ))
            .await
            .ok()?;
        let text: String = fields.prop("innerText").await.ok()??;
        text.contains(&issue.key).then_some(())
    })
    .await;

    // ---- Another sync sends nothing more.
    let n = fake.requests().all().len();
    s.click_testid("sync-indicator").await;
    let before = last_started(&s).await;
    assert!(before.is_some(), "the first sync left no start time");
    s.click_testid("sync-now").await;
    s.until_within(SYNC_TIMEOUT, "the second sync to finish", || async {
        let b = s.client.find(css(&testid("sync-now"))).await.ok()?;
        let idle = b.is_enabled().await.ok()? && b.text().await.ok()?.trim() == "Sync now";
        (idle && last_started(&s).await != before).then_some(())
    })
    .await;
    assert_eq!(eng_issues(&fake).len(), 1, "a second issue was created");
    assert_eq!(fake.attachments(&issue.key).len(), files.len());
    let writes = fake.requests().all()[n..]
        .iter()
        .filter(|r| r.method != "GET" && !r.path.contains("/search"))
        .count();
    assert_eq!(writes, 0, "the second sync wrote to Jira");

    s.end().await;
    drop(driver);
}

/// When the connection's last sync started, as the sync screen shows it.
async fn last_started(s: &Session) -> Option<String> {
    let li = s.client.find(css(&testid("sync-connection"))).await.ok()?;
    li.attr("data-last-started-at").await.ok()?
}

async fn status_text(s: &Session) -> String {
    s.until("the push status", || async {
        if let Ok(e) = s.client.find(css(&testid("jira-push-error"))).await {
            panic!("the push failed: {}", e.text().await.unwrap_or_default());
        }
        let el = s.client.find(css(&testid("jira-push-status"))).await.ok()?;
        el.text().await.ok().filter(|t| !t.is_empty())
    })
    .await
}

/// Closes the escalation editor (its close button) and waits for it to go.
async fn close_editor(s: &Session) {
    s.click_testid("escalation-close").await;
    s.until("the escalation editor to close", || async {
        s.client
            .find(css(&testid("escalation-editor")))
            .await
            .is_err()
            .then_some(())
    })
    .await;
}

/// Leaves the sync screen (Escape) and opens `key` from the queue.
async fn open_ticket(s: &Session, key: &str) {
    if s.client.find(css(&testid("sync-screen"))).await.is_ok() {
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: '\u{E00C}' })
            .then(KeyAction::Up { value: '\u{E00C}' });
        s.client.perform_actions(keys).await.expect("press Escape");
    }
    let row = s
        .wait_for(&format!("{}[data-key=\"{key}\"]", testid("queue-row")))
        .await;
    row.click().await.expect("open the ticket");
    s.until(&format!("the ticket view of {key}"), || async {
        let el = s.client.find(css(&testid("ticket-key"))).await.ok()?;
        (el.text().await.ok()?.trim() == key).then_some(())
    })
    .await;
}
