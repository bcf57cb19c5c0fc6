//! Sync in the real webview, against the fake ServiceNow (tests/fakes) behind a link the test can
//! cut: the first pull; a ticket edited while the upstream is unreachable shows the pending badge
//! and stays pending through a sync that finds the network down (nothing reaches the upstream);
//! with the network back, "sync now" clears the badge and the upstream holds the change exactly
//! once; then "another agent" changes the same field upstream while the app changes it too: the
//! conflict inbox shows base / mine / theirs, the agent keeps theirs or mine from the keyboard,
//! and the app and the upstream agree.

// Test code: a failed expectation is a test failure (clippy.toml allows this only inside #[test]).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;
#[path = "support/upstream.rs"]
mod upstream;

use casebook_fakes::servicenow::{self, NewIncident};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use std::time::Duration;
use support::{Driver, Session, artifacts_dir, css, screenshot, testid, tools};
use upstream::{Link, NewConnection, add_connection};

const PATCH_INCIDENT: &str = "api/now/table/incident/*";
/// A sync that finds the network down retries with backoff (about 4 to 8 s) before it stops.
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_edits_sync_once_and_conflicts_are_settled_in_the_inbox() {
    let Some(tools) = tools() else { return };
    let Some(cli) = upstream::cli() else { return };
    let home = tempfile::tempdir().expect("temp data dir");
    let artifacts = artifacts_dir();

    // ---- The upstream: one incident, reached through a link the test can cut.
    let fake = servicenow::start()
        .await
        .expect("start the fake ServiceNow");
    let mut incident = NewIncident::new("Mailbox full for the finance team");
    incident.description = "Outlook says the mailbox is full; archiving did not help.".into();
    let sys_id = fake.seed(incident);
    let key = fake.incident(&sys_id).unwrap().get("number").to_owned();
    assert_eq!(fake.incident(&sys_id).unwrap().get("priority"), "3");
    let link = Link::start(fake.server().addr()).await;
    add_connection(
        &cli,
        home.path(),
        &NewConnection {
            vendor: "servicenow",
            name: "Acme SN",
            instance: &link.base_url(),
            user: "casebook.agent",
            mirror: "incident",
            secret: "e2e-servicenow-pass",
        },
    )
    .await;

    let driver = Driver::start(&tools, home.path(), artifacts.join("e2e-sync.log")).await;
    let s = driver.session(&tools.app).await;
    s.click_testid("welcome-start-empty").await;

    // ---- First pull through "sync now".
    open_sync(&s).await;
    sync_now(&s).await;
    s.until("the pulled incident counted on the sync screen", || async {
        let n = text_of(&s, "sync-tickets").await?;
        (n.trim() == "1").then_some(())
    })
    .await;
    back_to_ticket(&s, &key).await;
    assert_eq!(priority(&s).await, "medium");

    // ---- Offline: the edit is kept locally and shows as pending.
    link.cut().await;
    let relayed = link.accepted();
    s.by_testid("ticket-priority")
        .await
        .select_by_value("high")
        .await
        .expect("choose high");
    s.by_testid("pending-badge").await;
    s.until("the sidebar to count one pending change", || async {
        let t = text_of(&s, "sync-indicator").await?;
        t.contains("1 pending").then_some(())
    })
    .await;

    // A sync while the network is down finds it down and changes nothing.
    open_sync(&s).await;
    sync_now(&s).await;
    let error = s
        .until("the sync to report the upstream unreachable", || async {
            text_of(&s, "sync-error").await
        })
        .await;
    assert!(
        error.starts_with("Offline:"),
        "not reported as offline: {error}"
    );
    let indicator = text_of(&s, "sync-indicator").await.unwrap_or_default();
    assert!(
        indicator.contains("Offline") && indicator.contains("1 pending"),
        "the sidebar says {indicator:?}"
    );
    s.wait_for(&format!("{}[data-status=\"pending\"]", testid("outbox-op")))
        .await;
    assert_eq!(
        link.accepted(),
        relayed,
        "a request got through the cut link"
    );
    assert_eq!(fake.incident(&sys_id).unwrap().get("priority"), "3");
    assert_eq!(fake.requests().count("PATCH", PATCH_INCIDENT), 0);
    screenshot(&artifacts.join("sync-offline.png"));

    // ---- Online again: "sync now" right away delivers it once (an edit that failed only because
    // the network was down does not wait for its backoff).
    link.restore().await;
    sync_now(&s).await;
    settled(&s).await;
    assert_eq!(fake.incident(&sys_id).unwrap().get("priority"), "2");
    assert_eq!(
        fake.requests().count("PATCH", PATCH_INCIDENT),
        1,
        "the change reached the upstream more than once"
    );
    assert!(
        text_of(&s, "sync-error").await.is_none(),
        "the error of the offline sync is still shown"
    );
    back_to_ticket(&s, &key).await;
    no_pending_badge(&s).await;
    assert_eq!(priority(&s).await, "high");

    // ---- A conflict: I set critical while a colleague sets low upstream. Keep mine (key 1).
    s.by_testid("ticket-priority")
        .await
        .select_by_value("critical")
        .await
        .expect("choose critical");
    s.by_testid("pending-badge").await;
    fake.edit_as_other(&sys_id, &[("priority", "4")]);
    open_sync(&s).await;
    sync_now(&s).await;
    settle_conflict(&s, ("high", "critical", "low"), '1').await;
    assert_eq!(
        fake.incident(&sys_id).unwrap().get("priority"),
        "4",
        "their value was overwritten before the conflict was settled"
    );
    sync_now(&s).await;
    settled(&s).await;
    assert_eq!(fake.incident(&sys_id).unwrap().get("priority"), "1");
    assert_eq!(fake.requests().count("PATCH", PATCH_INCIDENT), 2);
    back_to_ticket(&s, &key).await;
    no_pending_badge(&s).await;
    assert_eq!(priority(&s).await, "critical");

    // ---- Another: I set high while a colleague sets medium. Take theirs (key 2): nothing pushed.
    s.by_testid("ticket-priority")
        .await
        .select_by_value("high")
        .await
        .expect("choose high");
    s.by_testid("pending-badge").await;
    fake.edit_as_other(&sys_id, &[("priority", "3")]);
    open_sync(&s).await;
    sync_now(&s).await;
    settle_conflict(&s, ("critical", "high", "medium"), '2').await;
    settled(&s).await;
    sync_now(&s).await;
    settled(&s).await;
    assert_eq!(fake.incident(&sys_id).unwrap().get("priority"), "3");
    assert_eq!(
        fake.requests().count("PATCH", PATCH_INCIDENT),
        2,
        "taking theirs pushed something"
    );
    back_to_ticket(&s, &key).await;
    no_pending_badge(&s).await;
    assert_eq!(priority(&s).await, "medium");

    s.end().await;
    drop(driver);
}

/// The text of the element with `data-testid=id`, if there is one now. Read as `innerText`:
/// WebKitWebDriver's element text of the sidebar's indicator comes back empty.
async fn text_of(s: &Session, id: &str) -> Option<String> {
    let el = s.client.find(css(&testid(id))).await.ok()?;
    el.prop("innerText").await.ok()?
}

async fn open_sync(s: &Session) {
    s.click_testid("sync-indicator").await;
    s.by_testid("sync-connection").await;
}

/// Clicks "sync now" and waits until that sync has finished and the screen shows its outcome:
/// the connection's start time changed and the button is enabled again.
async fn sync_now(s: &Session) {
    let started_before = last_started(s).await;
    let button = s.by_testid("sync-now").await;
    s.until("the sync-now button to be enabled", || async {
        button.is_enabled().await.ok()?.then_some(())
    })
    .await;
    s.click_testid("sync-now").await;
    s.until_within(SYNC_TIMEOUT, "the sync to finish", || async {
        let started = last_started(s).await;
        let b = s.client.find(css(&testid("sync-now"))).await.ok()?;
        let idle = b.is_enabled().await.ok()? && b.text().await.ok()?.trim() == "Sync now";
        (idle && started.is_some() && started != started_before).then_some(())
    })
    .await
}

async fn last_started(s: &Session) -> Option<String> {
    let li = s.client.find(css(&testid("sync-connection"))).await.ok()?;
    li.attr("data-last-started-at").await.ok()?
}

/// Waits until nothing is pending or in conflict: an empty outbox and no pending count anywhere.
async fn settled(s: &Session) {
    s.until("an empty outbox and no pending change", || async {
        let ops = s.all(&testid("outbox-op")).await;
        let pending = text_of(s, "sync-pending").await?;
        let indicator = text_of(s, "sync-indicator").await?;
        (ops.is_empty() && pending.trim() == "0" && !indicator.contains("pending")).then_some(())
    })
    .await;
}

/// Waits for the one conflict, checks base / mine / theirs, focuses it and presses `key`.
async fn settle_conflict(s: &Session, (base, mine, theirs): (&str, &str, &str), key: char) {
    let conflict = s.by_testid("conflict").await;
    let side = |id: &'static str| {
        let conflict = conflict.clone();
        async move {
            conflict
                .find(css(&testid(id)))
                .await
                .expect(id)
                .text()
                .await
                .expect(id)
        }
    };
    assert_eq!(
        (
            side("conflict-base").await,
            side("conflict-mine").await,
            side("conflict-theirs").await
        ),
        (base.to_owned(), mine.to_owned(), theirs.to_owned()),
        "base / mine / theirs"
    );
    assert_eq!(s.all(&testid("conflict")).await.len(), 1);
    assert_eq!(text_of(s, "sync-conflicts").await.as_deref(), Some("1"));
    screenshot(&artifacts_dir().join(format!("sync-conflict-{key}.png")));
    s.client
        .execute(
            "arguments[0].focus();",
            vec![serde_json::to_value(&conflict).unwrap()],
        )
        .await
        .expect("focus the conflict");
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    s.client.perform_actions(keys).await.expect("press the key");
    s.until("the conflict to leave the inbox", || async {
        s.all(&testid("conflict")).await.is_empty().then_some(())
    })
    .await;
}

/// Leaves the sync screen (Escape) and opens `key` from the queue.
async fn back_to_ticket(s: &Session, key: &str) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: '\u{E00C}' })
        .then(KeyAction::Up { value: '\u{E00C}' });
    if s.client.find(css(&testid("sync-screen"))).await.is_ok() {
        s.client.perform_actions(keys).await.expect("press Escape");
    }
    let row = s
        .wait_for(&format!("{}[data-key=\"{key}\"]", testid("queue-row")))
        .await;
    row.click().await.expect("open the ticket");
    s.until(&format!("the ticket view of {key}"), || async {
        let shown = text_of(s, "ticket-key").await?;
        (shown.trim() == key).then_some(())
    })
    .await;
}

async fn priority(s: &Session) -> String {
    s.until("the priority field", || async {
        s.client
            .find(css(&testid("ticket-priority")))
            .await
            .ok()?
            .prop("value")
            .await
            .ok()?
    })
    .await
}

async fn no_pending_badge(s: &Session) {
    s.until("the ticket's pending badge to go away", || async {
        s.client
            .find(css(&format!(
                "{} {}",
                testid("ticket-view"),
                testid("pending-badge")
            )))
            .await
            .is_err()
            .then_some(())
    })
    .await;
}
