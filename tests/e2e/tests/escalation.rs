//! Escalation packages in the real webview: draft a package from a ticket, paste a log full of
//! secrets, pick its error lines as evidence, add its error times to the timeline, see every
//! redaction highlighted, export a zip bundle and check on disk that the bundle holds none of the
//! secrets.

// Test code: a failed expectation is a test failure (clippy.toml allows this only inside #[test]).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use support::{Driver, Session, artifacts_dir, screenshot, testid, tools};

/// Seeded secrets, one per kind, as they appear in the pasted log.
const SECRETS: [(&str, &str); 6] = [
    ("email", "carol.jones@acme-corp.example"),
    ("password in a URL", "Hunter2Secret"),
    (
        "JWT",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYXJvbCIsIm5hbWUiOiJDYXJvbCJ9.c2lnbmF0dXJlLXNlY3JldC12YWx1ZS0xMjM0NQ",
    ),
    ("AWS access key id", "AKIAZ3MPL3K3Y4E2E7QX"),
    ("GitHub token", "ghp_R4nd0mT0k3nV4lu3F0rE2eT3st1ngAbCdEfG"),
    ("IPv4 address", "203.0.113.77"),
];

fn log_text() -> String {
    let [email, password, jwt, aws, github, ip] = SECRETS.map(|(_, s)| s);
    [
        "2024-10-10T20:55:38Z INFO request started request_id=req-7f3a9c path=/invoices/1841"
            .to_owned(),
        format!(
            "2024-10-10T20:55:39Z ERROR invoice export failed for {email}: \
             postgres://billing:{password}@db.internal:5432/billing refused from {ip}"
        ),
        format!("2024-10-10T20:55:40Z WARN retrying with Authorization: Bearer {jwt}"),
        format!("2024-10-10T20:55:41Z ERROR upload denied for key {aws} using token {github}"),
        "2024-10-10T20:55:42Z INFO request finished status=503".to_owned(),
    ]
    .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_is_drafted_redacted_and_exported_without_secrets() {
    let Some(tools) = tools() else { return };
    let home = tempfile::tempdir().expect("temp data dir");
    let out = tempfile::tempdir().expect("temp export dir");
    let artifacts = artifacts_dir();
    let driver = Driver::start(&tools, home.path(), artifacts.join("e2e-escalation.log")).await;
    let s = driver.session(&tools.app).await;

    // ---- A ticket to escalate.
    s.click_testid("welcome-start-empty").await;
    s.click_testid("new-ticket").await;
    s.by_testid("new-ticket-title")
        .await
        .send_keys("Invoice export fails with 503")
        .await
        .expect("type the title");
    s.by_testid("new-ticket-description")
        .await
        .send_keys("Exporting an invoice as PDF returns 503 since this morning.")
        .await
        .expect("type the description");
    s.click_testid("new-ticket-submit").await;
    s.by_testid("ticket-view").await;

    // ---- Draft the package: prefilled from the ticket, with its completeness score.
    s.click_testid("ticket-escalate").await;
    s.by_testid("escalation-editor").await;
    let score = s.by_testid("escalation-score").await;
    let score = score.text().await.expect("read the score");
    assert!(score.contains('%'), "no completeness score: {score}");
    let title = s
        .by_testid("esc-title")
        .await
        .prop("value")
        .await
        .expect("read the title")
        .unwrap_or_default();
    assert!(
        title.contains("Invoice export fails with 503"),
        "the draft is not prefilled from the ticket: {title}"
    );
    let missing = s.by_testid("escalation-missing").await;
    let missing = missing.text().await.unwrap_or_default();
    assert!(
        missing.contains("evidence"),
        "the quality check does not name the missing evidence: {missing}"
    );

    // ---- Paste a log with secrets, analyse it, pick its error lines as evidence.
    s.click_testid("escalation-tab-logs").await;
    s.by_testid("log-paste")
        .await
        // WebDriver types a line break as the Enter key (a bare "\n" is dropped).
        .send_keys(&log_text().replace('\n', "\u{E007}"))
        .await
        .expect("paste the log");
    s.click_testid("log-analyze").await;
    s.by_testid("log-result").await;
    let signatures = s
        .until("the ERROR lines grouped into signatures", || async {
            let picks = s.all(&testid("log-signature-pick")).await;
            (picks.len() >= 2).then_some(picks)
        })
        .await;
    for pick in signatures {
        pick.click().await.expect("pick a signature");
    }
    s.click_testid("log-extracts-preview").await;
    s.click_testid("log-extracts-add-all").await;

    // ---- The log's error times join the ticket's events on the timeline.
    s.click_testid("log-add-times").await;
    s.click_testid("escalation-tab-timeline").await;
    s.until("the log's first error on the timeline", || async {
        for input in s.all(&format!("{} input", testid("timeline-entry"))).await {
            let v = input.prop("value").await.ok().flatten().unwrap_or_default();
            if v.starts_with("pasted: first error") {
                return Some(());
            }
        }
        None
    })
    .await;

    // ---- The redaction preview highlights every seeded secret.
    s.click_testid("escalation-tab-redaction").await;
    let marked = s
        .until(
            "every secret highlighted in the redaction preview",
            || async {
                let mut text = String::new();
                for m in s.all(&testid("redaction-mark")).await {
                    text.push_str(&m.text().await.unwrap_or_default());
                    text.push('\n');
                }
                SECRETS
                    .iter()
                    .all(|(_, secret)| text.contains(secret))
                    .then_some(text)
            },
        )
        .await;
    assert!(
        marked.contains("<email-1>"),
        "placeholders not shown: {marked}"
    );
    screenshot(&artifacts.join("escalation-redaction.png"));

    // ---- Export a zip bundle where the agent says; nothing secret is in it.
    s.click_testid("escalation-tab-export").await;
    s.click_testid("export-format-zip").await;
    let path = s.by_testid("export-path").await;
    path.clear().await.expect("clear the export path");
    path.send_keys(&out.path().display().to_string())
        .await
        .expect("type the export folder");
    s.click_testid("export-run").await;
    let written = exported_path(&s).await;
    assert!(
        std::path::Path::new(&written).starts_with(out.path()) && written.ends_with(".zip"),
        "exported to {written}, not a zip in {}",
        out.path().display()
    );
    let bytes = std::fs::read(&written).expect("read the exported zip");
    for (kind, secret) in SECRETS {
        assert!(
            find(&bytes, secret.as_bytes()).is_none(),
            "the exported zip contains the {kind} {secret}"
        );
    }
    // The bundle is real: the package, the extracts with placeholders, the manifest.
    for needle in ["package.md", "manifest.json", "extracts/", "<email-1>"] {
        assert!(
            find(&bytes, needle.as_bytes()).is_some(),
            "the zip has no {needle}"
        );
    }
    s.end().await;
}

async fn exported_path(s: &Session) -> String {
    s.until("the export to finish", || async {
        if let Ok(e) = s.client.find(support::css(&testid("export-error"))).await {
            panic!("the export failed: {}", e.text().await.unwrap_or_default());
        }
        let el = s
            .client
            .find(support::css(&testid("export-result-path")))
            .await
            .ok()?;
        el.text().await.ok().filter(|t| !t.is_empty())
    })
    .await
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}
