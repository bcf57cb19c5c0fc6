//! A real desktop notification for an SLA breach warning (issue 7), seen delivered: the app runs
//! on a private session bus where this test serves a fake freedesktop notification server
//! (`org.freedesktop.Notifications`: Notify, GetCapabilities, GetServerInformation,
//! CloseNotification) and records every Notify. A ticket close to breach is announced exactly
//! once, with its title in the body; the ticket the agent has open in the focused window is not
//! announced while it is open, and is announced once it is closed.
//!
//! The app's warning loop runs every 30 s; `CASEBOOK_SLA_CHECK_EVERY_MS=300` (test only, see
//! `src-tauri/src/sla_alerts.rs`) makes it look every 300 ms. A private bus (not the session of
//! the whole test run) keeps the fake server away from the other e2e tests, which expect no
//! notification service; the workspace key lives in a file (`CASEBOOK_KEY_FILE`) because the
//! keyring is not on that bus.

// Test code: a failed expectation is a test failure (clippy.toml allows this only inside #[test]).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use support::{Session, artifacts_dir, css, testid, tools};

/// One Notify call as the server received it.
#[derive(Debug, Clone)]
struct Notified {
    app_name: String,
    summary: String,
    body: String,
}

#[derive(Clone, Default)]
struct FakeNotifications {
    got: Arc<Mutex<Vec<Notified>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl FakeNotifications {
    #[allow(clippy::too_many_arguments)] // the D-Bus method's signature
    fn notify(
        &self,
        app_name: String,
        replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, zbus::OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut got = self.got.lock().unwrap();
        got.push(Notified {
            app_name,
            summary,
            body,
        });
        if replaces_id != 0 {
            replaces_id
        } else {
            got.len() as u32
        }
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "casebook-fake".into(),
            "casebook".into(),
            "1.0".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

/// A private `dbus-daemon` session bus, stopped when dropped.
struct PrivateBus {
    child: Child,
    address: String,
}

impl PrivateBus {
    fn start() -> PrivateBus {
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a private dbus-daemon (package dbus)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("its stdout"))
            .read_line(&mut line)
            .expect("the bus address");
        let address = line.trim().to_owned();
        assert!(!address.is_empty(), "dbus-daemon printed no address");
        PrivateBus { child, address }
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates a ticket through the new-ticket dialog; returns its key once its view is open.
async fn create_ticket(s: &Session, title: &str, priority: &str) -> String {
    s.click_testid("new-ticket").await;
    let t = s.by_testid("new-ticket-title").await;
    t.send_keys(title).await.expect("type the title");
    s.by_testid("new-ticket-priority")
        .await
        .select_by_value(priority)
        .await
        .expect("choose the priority");
    s.click_testid("new-ticket-submit").await;
    s.until(&format!("the ticket view of {title:?}"), || async {
        let view = s.client.find(css(&testid("ticket-view"))).await.ok()?;
        if !view.text().await.ok()?.contains(title) {
            return None;
        }
        let key = s.client.find(css(&testid("ticket-key"))).await.ok()?;
        key.text().await.ok().map(|k| k.trim().to_owned())
    })
    .await
}

fn about(got: &[Notified], title: &str) -> Vec<Notified> {
    got.iter().filter(|n| n.body == title).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breach_warning_reaches_the_notification_server_once_and_not_for_the_focused_ticket() {
    let Some(tools) = tools() else { return };
    let bus = PrivateBus::start();
    let server = FakeNotifications::default();
    let got = server.got.clone();
    let _conn = zbus::connection::Builder::address(bus.address.as_str())
        .name("org.freedesktop.Notifications")
        .serve_at("/org/freedesktop/Notifications", server)
        .build()
        .await
        .expect("serve org.freedesktop.Notifications on the private bus");

    let home = tempfile::tempdir().expect("temp data dir");
    // Outside the data directory (the app refuses a key next to its database).
    let key_dir = tempfile::tempdir().expect("temp key dir");
    let key_file = key_dir.path().join("workspace.key");
    let env: [(&str, &OsStr); 3] = [
        ("DBUS_SESSION_BUS_ADDRESS", OsStr::new(&bus.address)),
        ("CASEBOOK_KEY_FILE", key_file.as_os_str()),
        ("CASEBOOK_SLA_CHECK_EVERY_MS", OsStr::new("300")),
    ];
    let driver = support::Driver::start_with_env(
        &tools,
        home.path(),
        artifacts_dir().join("e2e-sla-notify.log"),
        &env,
    )
    .await;
    let s = driver.session(&tools.app).await;
    s.by_testid("welcome").await;
    s.click_testid("welcome-start-empty").await;
    s.by_testid("empty-new-ticket").await;

    let snapshot = || got.lock().unwrap().clone();

    // A critical ticket: its first response is due in 15 min, inside the 15 min warning time.
    // Once its view is closed (nothing focused), the warning goes out.
    let switch = "Core switch down in building B";
    let switch_key = create_ticket(&s, switch, "critical").await;
    s.click_testid("ticket-close").await;
    let first = s
        .until(
            "the warning for the critical ticket at the server",
            || async { about(&snapshot(), switch).into_iter().next() },
        )
        .await;
    assert!(
        first
            .summary
            .starts_with(&format!("{switch_key}: first response due in")),
        "summary {:?}",
        first.summary
    );
    assert!(!first.app_name.is_empty());

    // A low ticket, open on screen: raised to critical while the agent looks at it, it is due
    // within the warning time too, but no warning comes for the ticket on screen.
    let vpn = "VPN drops every ten minutes";
    create_ticket(&s, vpn, "low").await;
    s.by_testid("ticket-priority")
        .await
        .select_by_value("critical")
        .await
        .expect("raise the priority");
    s.until("the priority chosen", || async {
        let v = s
            .client
            .find(css(&testid("ticket-priority")))
            .await
            .ok()?
            .prop("value")
            .await
            .ok()??;
        (v == "critical").then_some(())
    })
    .await;
    // Ten rounds of the loop (300 ms each) with the ticket on screen: no warning for it.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let focused_now: bool = s
        .client
        .execute("return document.hasFocus();", Vec::new())
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let all = snapshot();
    assert_eq!(
        about(&all, vpn).len(),
        0,
        "no warning for the ticket on screen (document focused: {focused_now}): {all:?}"
    );
    // Closed, it is announced by the next round: it was due, only the focus held it back (and
    // the loop kept running all along).
    s.click_testid("ticket-close").await;
    s.until("the warning for the ticket once closed", || async {
        (!about(&snapshot(), vpn).is_empty()).then_some(())
    })
    .await;
    // A few more rounds: still exactly one warning per ticket (once per target).
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let all = snapshot();
    assert_eq!(about(&all, switch).len(), 1, "exactly one warning: {all:?}");
    assert_eq!(about(&all, vpn).len(), 1, "exactly one warning: {all:?}");
    assert_eq!(all.len(), 2, "nothing else announced: {all:?}");
    support::screenshot(&artifacts_dir().join("sla-notify.png"));
    s.end().await;
}
