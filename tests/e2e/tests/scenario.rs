//! The main real-webview scenario: first run on an empty data directory, the sample workspace,
//! filtering, editing a ticket, a crash (SIGKILL) and a restart that must find the edits.

// Test code: a failed expectation is a test failure (clippy.toml allows this only inside #[test]).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};
use support::{Driver, Session, artifacts_dir, procs, screenshot, testid, tools};

/// Loading the sample imports a few thousand tickets: allow for a slow, busy CI machine.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_survive_a_crash_and_restart() {
    let Some(tools) = tools() else { return };
    let home = tempfile::tempdir().expect("temp data dir");
    let artifacts = artifacts_dir();

    // ---- First run: empty data directory → welcome → sample → queue → filter → edit.
    let driver = Driver::start(&tools, home.path(), artifacts.join("e2e-first-run.log")).await;
    let s = driver.session(&tools.app).await;

    s.by_testid("welcome").await;
    s.by_testid("welcome-open-sample")
        .await
        .click()
        .await
        .expect("click open sample");
    s.wait_for_within(SAMPLE_TIMEOUT, &testid("queue-row"))
        .await;
    let total = s.queue_total().await;
    let keys = s.row_keys().await;
    assert!(total > 0, "the sample workspace shows an empty queue");
    assert!(
        !keys.is_empty() && keys.len() as u64 <= total,
        "{} rows for a total of {total}",
        keys.len()
    );
    screenshot(&artifacts.join("queue.png"));
    let posture = s.security_posture().await;
    let expected = serde_json::json!({
        "evalBlocked": true, "prototypeFrozen": true, "globalTauri": false, "isolationFrame": true
    });
    assert_eq!(
        posture, expected,
        "CSP, freezePrototype, withGlobalTauri or isolation not in effect"
    );
    let blocked = s.csp_blocked_styles().await;
    assert!(
        blocked.is_empty(),
        "the CSP blocked inline styles of: {blocked:#?}"
    );

    let key = keys[0].clone();
    let filtered = filter_to(&s, &key, total).await;
    eprintln!("queue: {total} tickets; filtering by {key} leaves {filtered}");

    open_ticket(&s, &key).await;
    let state_select = s.by_testid("ticket-state").await;
    let old_state = state_select
        .prop("value")
        .await
        .expect("read ticket-state")
        .unwrap_or_default();
    let new_state = if old_state == "pending" {
        "on_hold"
    } else {
        "pending"
    };
    state_select
        .select_by_value(new_state)
        .await
        .expect("choose the new state");

    let note = format!("e2e internal note {}", std::process::id());
    s.by_testid("comment-visibility-internal")
        .await
        .click()
        .await
        .expect("choose internal");
    s.by_testid("comment-body")
        .await
        .send_keys(&note)
        .await
        .expect("type the note");
    s.click_testid("comment-submit").await;
    wait_for_internal_note(&s, &note).await;

    // The state change is saved (its history entry exists) before the app is killed.
    s.by_testid("history-tab")
        .await
        .click()
        .await
        .expect("open the history");
    let wanted = format!("to {}", new_state.replace('_', " "));
    s.until(
        &format!("a history entry of the state change ({wanted})"),
        || async {
            for entry in s.all(&testid("history-entry")).await {
                let text = entry
                    .text()
                    .await
                    .unwrap_or_default()
                    .to_lowercase()
                    .replace('_', " ");
                if text.contains("state") && text.contains(&wanted) {
                    return Some(());
                }
            }
            None
        },
    )
    .await;

    // ---- Crash: SIGKILL the app (no orderly shutdown, no final checkpoint).
    let pid = s.app_pid();
    procs::signal(pid, "KILL");
    assert!(
        procs::wait_gone(pid, Duration::from_secs(10)).await,
        "app {pid} survived SIGKILL"
    );
    s.end().await;
    drop(driver);

    // ---- Restart on the same data directory: the queue comes back with the edits.
    let driver = Driver::start(&tools, home.path(), artifacts.join("e2e-restart.log")).await;
    let started = Instant::now();
    println!(
        "  restarting the app at {:?}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
    );
    let s = driver.session(&tools.app).await;
    let session_ms = started.elapsed().as_millis();
    s.wait_for(&testid("queue-row")).await;
    println!(
        "app start to first queue paint: {} ms",
        started.elapsed().as_millis()
    );
    print_startup_marks(&s, session_ms).await;
    assert_eq!(
        s.queue_total().await,
        total,
        "the restarted app shows a different total"
    );

    filter_to(&s, &key, total).await;
    open_ticket(&s, &key).await;
    let state = s
        .until("ticket-state to show the saved state", || async {
            s.client
                .find(support::css(&testid("ticket-state")))
                .await
                .ok()?
                .prop("value")
                .await
                .ok()?
        })
        .await;
    assert_eq!(state, new_state, "the state change was lost in the crash");
    wait_for_internal_note(&s, &note).await;

    screenshot(&artifacts.join("ticket.png"));

    s.end().await;
    drop(driver);
}

/// Types `text` into the filter and waits for a smaller total that still lists `key`.
async fn filter_to(s: &Session, key: &str, total: u64) -> u64 {
    let filter = s.by_testid("filter-text").await;
    filter.clear().await.expect("clear the filter");
    filter.send_keys(key).await.expect("type into the filter");
    let filtered = s
        .until(
            &format!("the total to drop below {total} with {key} listed"),
            || async {
                let now = s.queue_total_now().await?;
                let keys = s.row_keys().await;
                (now < total && keys.iter().any(|k| k == key)).then_some(now)
            },
        )
        .await;
    let keys = s.row_keys().await;
    assert!(
        filtered >= 1 && keys.len() as u64 <= filtered,
        "{} rows for a total of {filtered}",
        keys.len()
    );
    if filtered == 1 {
        assert_eq!(keys, [key], "a filter matching one ticket shows other rows");
    }
    filtered
}

/// Opens the ticket `key` from the queue and waits for its view.
async fn open_ticket(s: &Session, key: &str) {
    let row = s
        .wait_for(&format!("{}[data-key=\"{key}\"]", testid("queue-row")))
        .await;
    row.click().await.expect("click the queue row");
    s.until(&format!("the ticket view of {key}"), || async {
        let shown = s
            .client
            .find(support::css(&testid("ticket-key")))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        (shown.trim() == key).then_some(())
    })
    .await;
}

async fn wait_for_internal_note(s: &Session, note: &str) {
    let selector = format!("{}[data-visibility=\"internal\"]", testid("comment"));
    s.until(&format!("an internal comment reading {note:?}"), || async {
        for comment in s.all(&selector).await {
            if comment.text().await.unwrap_or_default().contains(note) {
                return Some(());
            }
        }
        None
    })
    .await;
}

/// Where the start-up time went (see `Session::startup_report`).
async fn print_startup_marks(s: &Session, session_ms: u128) {
    let report = s.startup_report().await;
    println!(
        "  session ready after {session_ms} ms; page marks (ms): {}",
        report.marks
    );
    match report.process_to_rows_ms {
        Some(ms) => println!("app process start to first rows painted: {ms:.0} ms"),
        None => println!("app process start to first rows painted: unavailable"),
    }
}
