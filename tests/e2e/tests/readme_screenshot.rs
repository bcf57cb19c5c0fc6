//! Not a check: regenerates the README's picture, `docs/screenshot.png` (the sample workspace's
//! open work with a ticket being worked on). Run it by hand under Xvfb:
//!   xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- \
//!     cargo nextest run -p casebook-e2e --run-ignored only readme_screenshot

// Test code: a failed expectation is a test failure (clippy.toml allows this only inside #[test]).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::time::Duration;
use support::{Driver, screenshot, testid, tools, workspace_root};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/screenshot.png; run by hand"]
async fn readme_screenshot() {
    let Some(tools) = tools() else { return };
    let home = tempfile::tempdir().expect("temp data dir");
    let log = tempfile::NamedTempFile::new().expect("log file");
    let driver = Driver::start(&tools, home.path(), log.path().to_owned()).await;
    let s = driver.session(&tools.app).await;

    s.by_testid("welcome-open-sample")
        .await
        .click()
        .await
        .expect("open the sample");
    s.wait_for_within(Duration::from_secs(180), &testid("queue-row"))
        .await;
    s.by_testid("view-open")
        .await
        .click()
        .await
        .expect("open work");
    // Let the toast go and the view's rows arrive.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let rows = s.all(&testid("queue-row")).await;
    rows.get(2)
        .unwrap_or(&rows[0])
        .click()
        .await
        .expect("open a ticket");
    s.by_testid("ticket-view").await;
    s.by_testid("ticket-state")
        .await
        .select_by_value("open")
        .await
        .expect("set the state");
    for (visibility, body) in [
        (
            "comment-visibility-internal",
            "HR calendar is locked for December until payroll closes; asked HR to unlock it for this request.",
        ),
        (
            "comment-visibility-public",
            "Thanks for reporting this. The December calendar is being unlocked; you will be able to book your leave later today.",
        ),
    ] {
        s.by_testid(visibility)
            .await
            .click()
            .await
            .expect("choose the visibility");
        s.by_testid("comment-body")
            .await
            .send_keys(body)
            .await
            .expect("type the comment");
        s.by_testid("comment-submit")
            .await
            .click()
            .await
            .expect("send the comment");
        s.until("the comment to show", || async {
            for c in s.all(&testid("comment")).await {
                if c.text().await.unwrap_or_default().contains(&body[..20]) {
                    return Some(());
                }
            }
            None
        })
        .await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let docs = workspace_root().join("docs");
    std::fs::create_dir_all(&docs).expect("create docs/");
    screenshot(&docs.join("screenshot.png"));
    s.end().await;
}
