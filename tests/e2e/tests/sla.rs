//! SLA in the real app (issue 7): the queue sorted by time to breach shows live countdown badges,
//! and a macro applied to a ticket sends its reply and changes its fields, which moves the ticket
//! in the risk order.

// Test code: a failed expectation is a test failure (clippy.toml allows this only inside #[test]).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use support::{Session, artifacts_dir, css, testid, tools};

/// Creates a ticket through the new-ticket dialog and waits for it to open.
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
        let text = view.text().await.ok()?;
        if !text.contains(title) {
            return None;
        }
        s.client
            .find(css(&testid("ticket-key")))
            .await
            .ok()?
            .text()
            .await
            .ok()
            .map(|k| k.trim().to_owned())
    })
    .await
}

/// `(key, badge tone, badge text)` of every rendered queue row, in order.
async fn rows(s: &Session) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for row in s.all(&testid("queue-row")).await {
        let key = row
            .attr("data-key")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let (tone, text) = match row.find(css(&testid("sla-badge"))).await {
            Ok(b) => (
                b.attr("data-tone").await.ok().flatten().unwrap_or_default(),
                b.text().await.unwrap_or_default(),
            ),
            Err(_) => (String::new(), String::new()),
        };
        out.push((key, tone, text));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_risk_ordered_queue_counts_down_and_a_macro_moves_a_ticket() {
    let Some(tools) = tools() else { return };
    let home = tempfile::tempdir().expect("temp data dir");
    let driver =
        support::Driver::start(&tools, home.path(), artifacts_dir().join("e2e-sla.log")).await;
    let s = driver.session(&tools.app).await;

    s.by_testid("welcome").await;
    s.click_testid("welcome-start-empty").await;
    s.by_testid("empty-new-ticket").await;

    // A critical ticket (response due in 15 min, around the clock) and a low one (a business day).
    let low = create_ticket(&s, "Printer jam on floor 3", "low").await;
    s.click_testid("ticket-close").await;
    let critical = create_ticket(&s, "Core switch down", "critical").await;
    s.click_testid("ticket-close").await;

    // Sort by time to breach (the sort menu is an ordinary select: Tab and arrows reach it).
    s.by_testid("queue-sort")
        .await
        .select_by_value("risk")
        .await
        .expect("choose sort by time to breach");
    let shown = s
        .until(
            "both tickets in risk order with countdown badges",
            || async {
                let r = rows(&s).await;
                let keys: Vec<&str> = r.iter().map(|x| x.0.as_str()).collect();
                (keys == [critical.as_str(), low.as_str()] && r.iter().all(|x| !x.1.is_empty()))
                    .then_some(r)
            },
        )
        .await;
    let (_, tone, text) = &shown[0];
    assert_eq!(tone, "urgent", "the critical ticket's badge: {text}");
    assert!(
        text.contains("response in") && text.contains("min"),
        "the critical ticket's badge reads {text:?}"
    );
    // The screen reader text says the same in a sentence.
    let label: String = s
        .client
        .execute(
            "return document.querySelector('[data-testid=queue-row] [data-testid=sla-badge] .sr-only').textContent;",
            Vec::new(),
        )
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    assert!(
        label.starts_with("First response due in"),
        "badge label {label:?}"
    );

    // A macro on the critical ticket: "Ask for details" replies publicly and sets it pending.
    let row = s
        .wait_for(&format!("{}[data-key=\"{critical}\"]", testid("queue-row")))
        .await;
    row.click().await.expect("open the critical ticket");
    // The macros load with the ticket view.
    s.wait_for(&format!(
        "{} option[value=\"Ask for details\"]",
        testid("macro-select")
    ))
    .await;
    s.by_testid("macro-select")
        .await
        .select_by_value("Ask for details")
        .await
        .expect("choose the macro");
    s.until("the macro preview", || async {
        let t = s.client.find(css(&testid("macro-text"))).await.ok()?;
        let v = t.prop("value").await.ok()??;
        v.contains("we need a little more information")
            .then_some(())
    })
    .await;
    s.click_testid("macro-send").await;
    s.until("the macro's public reply in the conversation", || async {
        for c in s
            .all(&format!(
                "{}[data-visibility=\"public\"]",
                testid("comment")
            ))
            .await
        {
            if c.text()
                .await
                .unwrap_or_default()
                .contains("we need a little more information")
            {
                return Some(());
            }
        }
        None
    })
    .await;
    s.until("the state set to pending by the macro", || async {
        let v = s
            .client
            .find(css(&testid("ticket-state")))
            .await
            .ok()?
            .prop("value")
            .await
            .ok()??;
        (v == "pending").then_some(())
    })
    .await;

    // Waiting on the customer stops its clocks: it moves behind the running low ticket, paused.
    s.click_testid("ticket-close").await;
    s.until(
        "the pending ticket after the running one, paused",
        || async {
            let r = rows(&s).await;
            let keys: Vec<&str> = r.iter().map(|x| x.0.as_str()).collect();
            (keys == [low.as_str(), critical.as_str()] && r[1].1 == "paused").then_some(())
        },
    )
    .await;
    support::screenshot(&artifacts_dir().join("sla-queue.png"));

    // The risk screen has the warning time (15 min by default) and says when desktop
    // notifications cannot be shown (no notification service under Xvfb).
    s.click_testid("open-risk").await;
    s.until("the breach warning setting", || async {
        let v = s
            .client
            .find(css(&testid("sla-notify-minutes")))
            .await
            .ok()?
            .prop("value")
            .await
            .ok()??;
        (v == "15").then_some(())
    })
    .await;
    if let Ok(n) = s.client.find(css(&testid("sla-notify-unavailable"))).await {
        let text = n.text().await.unwrap_or_default();
        assert!(
            text.starts_with("Desktop notifications are unavailable"),
            "{text}"
        );
    }
    s.end().await;
}
