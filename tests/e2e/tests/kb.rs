//! The knowledge base in the real webview: a runbook folder added in Settings, a runbook found
//! with Ctrl+K as you type, opened, a link to another runbook followed inside the app, a checklist
//! ticked — and a hostile runbook (`<script>`, `onerror=`, `javascript:` links, SVG payloads)
//! rendered and clicked without any of its script running.

// Test code: a failed expectation is a test failure (clippy.toml allows this only inside #[test]).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use std::path::Path;
use std::time::Duration;
use support::{Driver, Session, artifacts_dir, testid, tools};

/// Every payload sets `document.title` and a window flag if it ever runs.
const HOSTILE: &str = r##"# Hostile runbook

The zanzibarhostile procedure. Nothing in this file may ever run.

<script>document.title = "PWNED-script"; window.__pwned = "script";</script>

<img src="x" onerror="document.title = 'PWNED-img'; window.__pwned = 'img'">

<a href="javascript:document.title='PWNED-ahref';window.__pwned='ahref'" data-testid="hostile-a">raw javascript link</a>

[markdown javascript link](javascript:document.title='PWNED-md';window.__pwned='md')

<svg onload="document.title='PWNED-svg';window.__pwned='svg'" width="20" height="20"><script>window.__pwned='svg-script'</script><a href="javascript:window.__pwned='svg-a'"><text y="15">svg link</text></a></svg>

<iframe src="javascript:parent.__pwned='iframe'"></iframe>

<object data="javascript:parent.__pwned='object'"></object>

<p onclick="window.__pwned='onclick'" onmouseover="window.__pwned='hover'">click this paragraph</p>

<details open ontoggle="window.__pwned='toggle'"><summary>details</summary>x</details>

<form action="javascript:window.__pwned='form'"><button>submit</button></form>

<math><mtext><table><mglyph><style><img src=x onerror="window.__pwned='mxss'"></style></mglyph></table></mtext></math>

## Fix
Restart the spooler.
"##;

fn runbooks(dir: &Path) {
    std::fs::create_dir_all(dir.join("kube")).unwrap();
    std::fs::create_dir_all(dir.join("node")).unwrap();
    std::fs::write(
        dir.join("kube/PodCrashLooping.md"),
        "---\ntitle: Pod crash looping\ntags: [kubernetes]\nservice: kube\n---\n\
         # Pod crash looping\n\nThe pod restarts over and over with CrashLoopBackOff.\n\n\
         ## Diagnosis\n\n- [ ] Read the logs of the previous container\n- [ ] Check the node's disk\n\n\
         ```\nkubectl logs --previous my-pod\n```\n\n\
         ## Mitigation\n\nIf the node's disk is full, follow [the disk runbook](../node/DiskFull.md#cleanup).\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("node/DiskFull.md"),
        "# Disk full\n\nThe node's filesystem is almost full.\n\n## Cleanup\n\nRemove old journal files with `journalctl --vacuum-size=200M`.\n",
    )
    .unwrap();
    std::fs::write(dir.join("hostile.md"), HOSTILE).unwrap();
}

/// Ctrl+K pressed as a user presses it (real key events through WebDriver actions).
async fn ctrl_k(s: &Session) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down {
            value: Key::Control.into(),
        })
        .then(KeyAction::Down { value: 'k' })
        .then(KeyAction::Up { value: 'k' })
        .then(KeyAction::Up {
            value: Key::Control.into(),
        });
    s.client.perform_actions(keys).await.expect("press Ctrl+K");
    s.client.release_actions().await.expect("release keys");
}

/// Opens the palette with Ctrl+K, types `query` and waits for a result whose text contains
/// `expect`; returns the preview's HTML for that (first) result.
async fn search(s: &Session, query: &str, expect: &str) -> String {
    ctrl_k(s).await;
    let input = s.by_testid("palette-input").await;
    input.send_keys(query).await.expect("type the query");
    s.until(&format!("a search result for {query:?}"), || async {
        let first = texts(s, "kb-hit").await.into_iter().next()?;
        first.contains(expect).then_some(())
    })
    .await;
    // The first result is the active one once no command matches: its preview shows.
    s.until("the preview of the first result", || async {
        let v = s
            .client
            .execute(
                "const p = document.querySelector('[data-testid=kb-preview-snippet]'); \
                 return p ? p.innerHTML : null;",
                Vec::new(),
            )
            .await
            .ok()?;
        v.as_str().map(str::to_owned)
    })
    .await
}

/// The visible text of every element with this test id, in document order.
async fn texts(s: &Session, id: &str) -> Vec<String> {
    let v = s
        .client
        .execute(
            "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText);",
            vec![serde_json::json!(testid(id))],
        )
        .await
        .unwrap_or_default();
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn title_and_flag(s: &Session) -> (String, serde_json::Value) {
    let v = s
        .client
        .execute(
            "return [document.title, window.__pwned === undefined ? null : String(window.__pwned)];",
            Vec::new(),
        )
        .await
        .expect("read the title and the flag");
    (v[0].as_str().unwrap_or_default().to_owned(), v[1].clone())
}

async fn runbook_title(s: &Session, want: &str) {
    s.until(&format!("the runbook {want:?}"), || async {
        let text = texts(s, "runbook-title").await.into_iter().next()?;
        (text.trim() == want).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runbooks_are_found_opened_linked_and_hostile_html_stays_inert() {
    let Some(tools) = tools() else { return };
    let home = tempfile::tempdir().expect("temp data dir");
    let books = tempfile::tempdir().expect("runbook folder");
    runbooks(books.path());

    let driver = Driver::start(&tools, home.path(), artifacts_dir().join("e2e-kb.log")).await;
    let s = driver.session(&tools.app).await;
    s.click_testid("welcome-start-empty").await;
    // The queue screen (an empty workspace shows its empty state, not the list).
    s.by_testid("queue-total").await;
    let (title_before, flag) = title_and_flag(&s).await;
    assert_eq!(flag, serde_json::Value::Null);

    // ---- Settings: add the folder by its path; the scan reports it.
    s.click_testid("open-settings").await;
    s.by_testid("kb-folder-path")
        .await
        .send_keys(&books.path().display().to_string())
        .await
        .expect("type the folder path");
    s.click_testid("kb-add").await;
    s.until("the folder in the list", || async {
        let text = texts(&s, "kb-folder").await.into_iter().next()?;
        text.contains("3 files").then_some(())
    })
    .await;

    // ---- Ctrl+K, as you type: the runbook, its best section and a highlighted snippet.
    let preview = search(&s, "CrashLoopBackOff", "Pod crash looping").await;
    assert!(preview.contains("<mark>"), "no highlight in {preview}");
    s.by_testid("palette-input")
        .await
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .expect("press Enter");
    runbook_title(&s, "Pod crash looping").await;
    let toc = s.all(&testid("runbook-toc")).await;
    assert!(
        toc.len() >= 3,
        "the table of contents has {} entries",
        toc.len()
    );

    // A checklist step ticks and is counted.
    s.click_testid("runbook-step").await;
    s.until("the step counted", || async {
        let page = s.page_text().await;
        page.contains("1 of 2 steps done").then_some(())
    })
    .await;
    assert_eq!(s.all(&testid("runbook-copy")).await.len(), 1);

    // ---- A link to another runbook opens it in the app at the linked section.
    let link = s
        .wait_for(&format!(
            "{} a[href^=\"#runbook-link-\"]",
            testid("runbook-body")
        ))
        .await;
    link.click().await.expect("click the runbook link");
    runbook_title(&s, "Disk full").await;
    let focused = s
        .client
        .execute(
            "return document.activeElement && document.activeElement.id;",
            Vec::new(),
        )
        .await
        .expect("read the focused heading");
    assert_eq!(focused, serde_json::json!("section-cleanup"));

    // ---- The hostile runbook: rendered, hovered and clicked, nothing runs.
    let preview = search(&s, "zanzibarhostile", "Hostile runbook").await;
    assert!(!preview.contains("<script"), "{preview}");
    s.by_testid("palette-input")
        .await
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .expect("press Enter");
    runbook_title(&s, "Hostile runbook").await;
    let body = s.by_testid("runbook-body").await;
    let html = body.html(true).await.expect("read the runbook HTML");
    for bad in [
        "<script",
        "onerror",
        "onload",
        "onclick",
        "ontoggle",
        "javascript:",
        "<svg",
        "<iframe",
        "<object",
        "<form",
        "<style",
    ] {
        assert!(
            !html.to_lowercase().contains(bad),
            "{bad} survived sanitization: {html}"
        );
    }
    // Click everything that could carry a payload.
    let clickable = format!(
        "{b} a, {b} img, {b} p, {b} summary, {b} button, {b} text",
        b = testid("runbook-body")
    );
    for el in s.all(&clickable).await {
        // Some are not interactable (hidden, zero-size): that is fine, the point is nothing runs.
        let _ = el.click().await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (title_after, flag) = title_and_flag(&s).await;
    assert_eq!(flag, serde_json::Value::Null, "a payload ran");
    assert_eq!(title_after, title_before, "a payload changed the title");
    assert!(!title_after.contains("PWNED"));
    // Still in the app, on the runbook (no navigation happened).
    runbook_title(&s, "Hostile runbook").await;

    // ---- A ticket: its similar runbook, linked with one key, used on it as a work note.
    s.click_testid("new-ticket").await;
    s.by_testid("new-ticket-title")
        .await
        .send_keys("Pods in CrashLoopBackOff after the node filled up")
        .await
        .expect("type the title");
    s.by_testid("new-ticket-description")
        .await
        .send_keys("The pod restarts over and over; the container logs show the disk is full.")
        .await
        .expect("type the description");
    s.click_testid("new-ticket-submit").await;
    s.by_testid("ticket-view").await;
    let similar = s
        .until("the similar runbook in the ticket view", || async {
            let items = texts(&s, "similar-item").await;
            items.iter().position(|t| t.contains("Pod crash looping"))
        })
        .await;
    press_on_similar(&s, similar, 'l').await;
    s.until("the runbook linked as related", || async {
        let page = texts(&s, "similar-cases").await.join("\n");
        page.contains("Linked as related").then_some(())
    })
    .await;
    press_on_similar(&s, similar, Key::Enter.into()).await;
    runbook_title(&s, "Pod crash looping").await;
    s.click_testid("runbook-step").await;
    let use_button = s.by_testid("runbook-use").await;
    let label = use_button.text().await.unwrap_or_default();
    assert!(label.starts_with("Use on "), "the button says {label:?}");
    s.click_testid("runbook-use").await;
    s.until("the confirmation", || async {
        s.page_text().await.contains("as a work note").then_some(())
    })
    .await;
    // Back on the ticket, the note is in the conversation.
    s.client
        .execute(
            "document.querySelector('[data-testid=runbook-view] header button').click();",
            Vec::new(),
        )
        .await
        .expect("go back to the ticket");
    s.until("the work note on the ticket", || async {
        let notes = texts(&s, "comment").await;
        notes
            .iter()
            .find(|n| n.contains("Used runbook") && n.contains("Pod crash looping"))
            .cloned()
    })
    .await;
    s.end().await;
}

/// Focuses the `n`th similar-cases result and presses `key` on it.
async fn press_on_similar(s: &Session, n: usize, key: char) {
    s.client
        .execute(
            "document.querySelectorAll('[data-testid=similar-item]')[arguments[0]].focus();",
            vec![serde_json::json!(n)],
        )
        .await
        .expect("focus the result");
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    s.client.perform_actions(keys).await.expect("press the key");
    s.client.release_actions().await.expect("release keys");
}
