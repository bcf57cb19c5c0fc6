//! A workspace that cannot be opened does not stop the app: the window opens, says why, and
//! tries again when asked.

// Test code: a failed expectation is a test failure (clippy.toml allows this only inside #[test]).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use support::{Driver, artifacts_dir, testid, tools};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_workspace_shows_the_problem_instead_of_crashing() {
    let Some(tools) = tools() else { return };
    let home = tempfile::tempdir().expect("temp data dir");
    std::fs::write(
        home.path().join("casebook.db"),
        b"this is not a SQLite database, it is text",
    )
    .expect("write a damaged database");

    let log = artifacts_dir().join("e2e-workspace-problem.log");
    let driver = Driver::start(&tools, home.path(), log).await;
    let s = driver.session(&tools.app).await;
    let problem = s.by_testid("workspace-problem").await;
    let text = problem.text().await.expect("read the problem");
    assert!(
        text.to_lowercase().contains("cannot be read"),
        "unexpected problem text: {text}"
    );
    assert!(
        s.all(&testid("welcome")).await.is_empty(),
        "the welcome screen shows anyway"
    );

    // Once the file is out of the way, "try again" opens a fresh workspace without a restart.
    std::fs::remove_file(home.path().join("casebook.db")).expect("remove the damaged database");
    let retry = format!("{} button", testid("workspace-problem"));
    s.wait_for(&retry)
        .await
        .click()
        .await
        .expect("click try again");
    s.by_testid("welcome").await;
    s.end().await;
}
