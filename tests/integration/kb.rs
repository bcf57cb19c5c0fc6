//! The knowledge base through the façade: runbook folders (bad files skipped with reasons,
//! incremental rescans), search (identifiers never fuzzed, degenerate queries), past cases kept in
//! sync with the tickets, similar cases and links, rendering, rebuilds, and a real process killed
//! with SIGKILL in the middle of indexing.

use crate::support::kb_search as search;
use casebook_api::dto::*;
use casebook_api::kb::dto::*;
use casebook_api::{Casebook, ErrorCode, OpenOptions};
use casebook_core::model::{LinkKind, TicketState};
use casebook_core::store::Origin;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/kb")
}

/// A runbook folder: a handful of real runbooks plus hostile and broken files.
fn runbook_folder(dir: &Path) {
    let po = fixtures().join("runbooks-prometheus-operator/content/runbooks");
    for (sub, name) in [
        ("kubernetes", "KubePodCrashLooping.md"),
        ("kubernetes", "KubeNodeNotReady.md"),
        ("node", "NodeFilesystemSpaceFillingUp.md"),
        ("etcd", "etcdNoLeader.md"),
    ] {
        let to = dir.join(sub);
        std::fs::create_dir_all(&to).unwrap();
        std::fs::copy(po.join(sub).join(name), to.join(name)).unwrap();
    }
    std::fs::write(dir.join("binary.md"), b"\x89PNG\r\n\x1a\n\0\0\0IHDR").unwrap();
    std::fs::write(dir.join("latin1.md"), b"# Caf\xe9 au lait\n").unwrap();
    std::fs::write(
        dir.join("huge.md"),
        "# Huge\n".to_owned() + &"log line ".repeat(300_000),
    )
    .unwrap();
    std::fs::write(
        dir.join("broken.md"),
        "---\ntitle: never closed\n# Broken front matter\n\n```\nunterminated fence with VPNGatewayDown\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("hostile.md"),
        "# Hostile runbook\n\n<script>alert(1)</script>\n<img src=x onerror=alert(2)>\n\
         [click](javascript:alert(3))\n<svg onload=alert(4)><circle/></svg>\n\n## Fix\nRestart the printer spooler.\n",
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not markdown").unwrap();
}

async fn open(home: &Path, origin: Origin) -> Casebook {
    Casebook::open(OpenOptions::for_tests(home, origin))
        .await
        .unwrap()
}

fn paths(r: &KbSearchResult) -> Vec<String> {
    r.hits.iter().map(|h| h.path.clone()).collect()
}

#[tokio::test]
async fn runbook_folders_are_indexed_with_bad_files_skipped_and_rescanned_incrementally() {
    let home = tempfile::tempdir().unwrap();
    let books = tempfile::tempdir().unwrap();
    runbook_folder(books.path());
    let cb = open(home.path(), Origin::Cli).await;
    let report = cb
        .kb_add_folder(books.path().display().to_string(), |_| {})
        .await
        .unwrap();
    let reasons: Vec<(String, String)> = report
        .skipped
        .iter()
        .map(|s| (s.path.clone(), s.reason.clone()))
        .collect();
    assert_eq!(report.skipped.len(), 3, "{reasons:?}");
    let reason = |p: &str| &reasons.iter().find(|(path, _)| path == p).unwrap().1;
    assert!(reason("binary.md").contains("binary"));
    assert!(reason("latin1.md").contains("UTF-8"));
    assert!(reason("huge.md").contains("larger than"));
    // Four real runbooks, the broken one and the hostile one were indexed.
    assert_eq!(report.files_indexed, 6);
    let sources = cb.kb_list_sources().await.unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].skipped.len(), 3);

    // An alert name finds its runbook first, with the best section.
    let r = search(&cb, "KubePodCrashLooping").await;
    assert_eq!(r.hits[0].path, "kubernetes/KubePodCrashLooping.md");
    assert_eq!(r.hits[0].kind, KbSourceKind::Runbook);
    assert!(r.hits[0].section.is_some());
    // The broken file is searchable by its text.
    assert_eq!(
        paths(&search(&cb, "VPNGatewayDown ").await),
        vec!["broken.md"]
    );

    // Nothing changed: a rescan reads nothing.
    let again = cb.kb_reindex(false, |_| {}).await.unwrap();
    assert_eq!((again.files_indexed, again.files_unchanged), (0, 6));

    // Edit one runbook, delete another: only those change.
    let edited = books.path().join("etcd/etcdNoLeader.md");
    let mut text = std::fs::read_to_string(&edited).unwrap();
    text.push_str("\n\n## Escalation\nPage the quorumkeeper team.\n");
    tokio::time::sleep(Duration::from_millis(20)).await; // a new modification time
    std::fs::write(&edited, text).unwrap();
    std::fs::remove_file(books.path().join("node/NodeFilesystemSpaceFillingUp.md")).unwrap();
    let r = cb.kb_reindex(false, |_| {}).await.unwrap();
    assert_eq!(
        (r.files_indexed, r.files_unchanged, r.files_removed),
        (1, 4, 1)
    );
    let hit = &search(&cb, "quorumkeeper").await.hits[0];
    assert_eq!(hit.path, "etcd/etcdNoLeader.md");
    assert_eq!(hit.section.as_ref().unwrap().anchor, "escalation");
    assert!(
        search(&cb, "NodeFilesystemSpaceFillingUp ")
            .await
            .hits
            .is_empty()
    );

    // Removing the folder removes its documents.
    cb.kb_remove_folder(sources[0].id).await.unwrap();
    assert!(search(&cb, "KubePodCrashLooping").await.hits.is_empty());
    let err = cb.kb_remove_folder(sources[0].id).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    let err = cb
        .kb_add_folder(home.path().join("nope").display().to_string(), |_| {})
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn queries_never_fuzz_identifiers_and_degenerate_queries_return_nothing_quickly() {
    let home = tempfile::tempdir().unwrap();
    let books = tempfile::tempdir().unwrap();
    runbook_folder(books.path());
    let cb = open(home.path(), Origin::Cli).await;
    cb.kb_add_folder(books.path().display().to_string(), |_| {})
        .await
        .unwrap();
    // An ordinary word with a typo is corrected ...
    let r = search(&cb, "crashloping pod ").await;
    assert_eq!(r.hits[0].path, "kubernetes/KubePodCrashLooping.md");
    // ... an identifier with one letter off is not (a finished word, not a prefix).
    assert!(search(&cb, "KubePodCrashLoopin ").await.hits.is_empty());
    assert!(search(&cb, "etcdNoLeadr ").await.hits.is_empty());
    // As you type, the last word is a prefix.
    assert_eq!(
        search(&cb, "KubePodCrashLoo").await.hits[0].path,
        "kubernetes/KubePodCrashLooping.md"
    );
    // Quoted phrases must match in order.
    let r = search(&cb, "\"printer spooler\"").await;
    assert_eq!(paths(&r), vec!["hostile.md"]);
    assert!(search(&cb, "\"spooler printer\"").await.hits.is_empty());
    // Stop words only, punctuation only, a 10,000-character paste.
    for q in ["the of and to", "?!.,;:()[]{}--", "", "   "] {
        let r = search(&cb, q).await;
        assert!(r.hits.is_empty() && r.empty_query, "{q:?}");
    }
    let long = "node not ready kubelet ".repeat(440);
    assert!(long.len() >= 10_000);
    let started = Instant::now();
    let r = search(&cb, &long).await;
    assert!(!r.hits.is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
    // Snippets are escaped text with marks; the hostile runbook renders inert.
    let r = search(&cb, "hostile runbook").await;
    assert!(!r.hits[0].snippet.html.contains("<script"));
    let doc = cb.kb_get_document(r.hits[0].doc_id.clone()).await.unwrap();
    for bad in ["<script", "onerror", "href=\"javascript:", "<svg", "onload"] {
        assert!(
            !doc.html.to_lowercase().contains(bad),
            "{bad}: {}",
            doc.html
        );
    }
    assert!(doc.html.contains("id=\"section-fix\""), "{}", doc.html);
    assert_eq!(doc.sections.len(), 2);
    // Filters: a kind with no documents gives nothing.
    let r = cb
        .kb_search(KbSearchInput {
            query: "KubePodCrashLooping".into(),
            filters: KbFilters {
                kinds: vec![KbSourceKind::PastCase],
                ..KbFilters::default()
            },
            limit: None,
        })
        .await
        .unwrap();
    assert!(r.hits.is_empty());
}

fn new_ticket(title: &str, description: &str) -> NewTicketInput {
    NewTicketInput {
        title: title.into(),
        description: description.into(),
        priority: None,
        state: None,
        assignee: None,
        assignment_group: None,
        requester: None,
        tags: vec![],
    }
}

async fn wait_for<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !f().await {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn past_cases_follow_ticket_changes_and_similar_cases_can_be_linked() {
    let home = tempfile::tempdir().unwrap();
    let cb = open(home.path(), Origin::App).await;
    // Opening the knowledge base starts the app's background sync.
    assert_eq!(cb.kb_status().await.unwrap().documents, 0);
    let past = cb
        .create_ticket(new_ticket(
            "Outlook keeps asking for the password",
            "Outlook prompts for credentials every few minutes after the mailbox migration.",
        ))
        .await
        .unwrap();
    cb.add_comment(AddCommentInput {
        ticket_id: past.id,
        body: "Cleared the cached credentials in the credential manager; fixed.".into(),
        visibility: casebook_core::model::Visibility::Internal,
    })
    .await
    .unwrap();
    // Open tickets are not past cases.
    assert!(search(&cb, "credential manager").await.hits.is_empty());
    cb.update_ticket(UpdateTicketInput {
        id: past.id,
        state: Some(TicketState::Resolved),
        ..Default::default()
    })
    .await
    .unwrap();
    let cb2 = cb.clone();
    wait_for("the resolved ticket to be indexed", || {
        let cb = cb2.clone();
        async move { !search(&cb, "credential manager").await.hits.is_empty() }
    })
    .await;
    let hit = &search(&cb, "credential manager").await.hits[0];
    assert_eq!(hit.kind, KbSourceKind::PastCase);
    assert_eq!(hit.ticket_id, Some(past.id));
    assert_eq!(hit.ticket_state, Some(TicketState::Resolved));
    assert_eq!(hit.ticket_key.as_deref(), Some(past.key.as_str()));

    // A new ticket finds it as a similar case, with the shared terms.
    let new = cb
        .create_ticket(new_ticket(
            "Password prompt in Outlook",
            "Since this morning Outlook asks for my password again and again.",
        ))
        .await
        .unwrap();
    let similar = cb.kb_similar(new.id).await.unwrap();
    let first = &similar.hits[0];
    assert_eq!(first.ticket_id, Some(past.id));
    assert!(
        first.matched_terms.iter().any(|t| t == "outlook"),
        "{:?}",
        first.matched_terms
    );
    assert!(similar.hits.iter().all(|h| h.ticket_id != Some(new.id)));

    // One action links it as a known issue.
    let view = cb
        .kb_link(KbLinkInput {
            ticket_id: new.id,
            doc_id: first.doc_id.clone(),
            kind: LinkKind::KnownIssue,
        })
        .await
        .unwrap();
    assert_eq!(view.links.len(), 1);
    assert_eq!(view.links[0].kind, LinkKind::KnownIssue);
    assert_eq!(view.links[0].target, past.key);
    let err = cb
        .kb_link(KbLinkInput {
            ticket_id: new.id,
            doc_id: "case:999999".into(),
            kind: LinkKind::Related,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);

    // Reopened: it leaves the knowledge base.
    cb.update_ticket(UpdateTicketInput {
        id: past.id,
        state: Some(TicketState::Open),
        ..Default::default()
    })
    .await
    .unwrap();
    let cb2 = cb.clone();
    wait_for("the reopened ticket to leave the index", || {
        let cb = cb2.clone();
        async move { search(&cb, "credential manager").await.hits.is_empty() }
    })
    .await;
}

/// Tickets for the batched reconcile: a third open, a third resolved, a third closed, so the
/// 3,333 past cases span two batches of the reconcile (2,000 each).
const MANY: usize = 5_000;

/// Whether the index holds ticket `id` as a past case.
async fn has_case(cb: &Casebook, id: i64) -> bool {
    match cb.kb_get_document(format!("case:{id}")).await {
        Ok(doc) => {
            assert_eq!(doc.ticket_id, Some(id));
            true
        }
        Err(e) if e.code == ErrorCode::NotFound => false,
        Err(e) => panic!("case {id}: {e:?}"),
    }
}

async fn set_state(cb: &Casebook, id: i64, state: TicketState) {
    cb.update_ticket(UpdateTicketInput {
        id,
        state: Some(state),
        ..Default::default()
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn the_reconcile_walks_many_tickets_in_batches_and_indexes_exactly_the_done_ones() {
    use casebook_core::import::{Format, ImportOptions, Mapping};
    let home = tempfile::tempdir().unwrap();
    let cb = open(home.path(), Origin::Cli).await;
    let csv = home.path().join("many.csv");
    let mut text = String::from("id,subject,body,status\n");
    for i in 0..MANY {
        let status = ["open", "resolved", "closed"][i % 3];
        text.push_str(&format!("T{i},Printer case {i},Tray {i} jammed,{status}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let mapping = Mapping::from_json(
        r#"{"fields": {"key": "id", "title": "subject", "description": "body", "state": "status"}}"#,
    )
    .unwrap();
    let imported = cb
        .import_file(
            csv,
            ImportOptions {
                format: Format::Csv,
                mapping,
            },
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(imported.tickets_imported as usize, MANY);
    let id = |i: usize| cb.store().resolve_key(&format!("T{i}")).unwrap();
    let mut done: Vec<i64> = (0..MANY).filter(|i| i % 3 != 0).map(id).collect();
    done.sort();
    assert!(done.len() > 2_000, "more past cases than one batch");

    // Opening the new index reconciles it: exactly the resolved and closed tickets.
    let status = cb.kb_status().await.unwrap();
    assert_eq!(status.documents as usize, done.len());
    for i in 0..MANY {
        assert_eq!(has_case(&cb, id(i)).await, i % 3 != 0, "ticket T{i}");
    }
    // Nothing changed: every batch finds its cases up to date, none indexed or removed twice.
    let r = cb.kb_reindex(false, |_| {}).await.unwrap();
    assert_eq!((r.cases_indexed, r.cases_removed), (0, 0));

    // Changes on both sides of the batch boundary and at both ends: reopened past cases (the
    // first, the last of the first batch, the first of the second, the very last), open
    // tickets resolved, and a past case edited (a new revision).
    let reopened = [done[0], done[1_999], done[2_000], done[done.len() - 1]];
    for &t in &reopened {
        set_state(&cb, t, TicketState::Open).await;
    }
    let resolved = [id(0), id(2_997), id(3_000), id(MANY - 2)];
    assert!(resolved.iter().all(|t| done.binary_search(t).is_err()));
    for &t in &resolved {
        set_state(&cb, t, TicketState::Resolved).await;
    }
    let edited = done[1_000];
    cb.update_ticket(UpdateTicketInput {
        id: edited,
        title: Some("Printer case renamed".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let progress = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let p2 = std::sync::Arc::clone(&progress);
    let r = cb
        .kb_reindex(false, move |p| {
            if p.stage == "past cases" {
                p2.lock().unwrap().push((p.done, p.total));
            }
        })
        .await
        .unwrap();
    assert_eq!(r.cases_removed as usize, reopened.len());
    assert_eq!(r.cases_indexed as usize, resolved.len() + 1);
    assert_eq!(
        r.documents as usize,
        done.len() - reopened.len() + resolved.len()
    );
    // One progress step per batch, ending at the last ticket.
    let progress = progress.lock().unwrap().clone();
    assert_eq!(progress.len(), 2, "{progress:?}");
    let max_id = (0..MANY).map(id).max().unwrap() as u64;
    assert_eq!(progress.last(), Some(&(max_id, Some(max_id))));
    for &t in &reopened {
        assert!(!has_case(&cb, t).await, "reopened {t} left the index");
    }
    for &t in &resolved {
        assert!(has_case(&cb, t).await, "resolved {t} was indexed");
    }
    let doc = cb.kb_get_document(format!("case:{edited}")).await.unwrap();
    assert_eq!(doc.title, "Printer case renamed");
    // And the next reconcile has nothing to do again.
    let r = cb.kb_reindex(false, |_| {}).await.unwrap();
    assert_eq!((r.cases_indexed, r.cases_removed), (0, 0));
}

#[tokio::test]
async fn a_deleted_or_damaged_index_is_rebuilt_from_the_sources() {
    let home = tempfile::tempdir().unwrap();
    let books = tempfile::tempdir().unwrap();
    runbook_folder(books.path());
    {
        let cb = open(home.path(), Origin::Cli).await;
        cb.kb_add_folder(books.path().display().to_string(), |_| {})
            .await
            .unwrap();
    }
    let kb_dir = home.path().join(casebook_api::kb::KB_DIR);
    // Deleted: rebuilt before the first search.
    std::fs::remove_dir_all(&kb_dir).unwrap();
    let cb = open(home.path(), Origin::Cli).await;
    assert_eq!(
        search(&cb, "etcdNoLeader").await.hits[0].path,
        "etcd/etcdNoLeader.md"
    );
    drop(cb);
    // Damaged: every file of the live index overwritten with garbage.
    let current = std::fs::read_to_string(kb_dir.join("CURRENT")).unwrap();
    for e in std::fs::read_dir(kb_dir.join(current.trim())).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() && !p.ends_with(".tantivy-writer.lock") {
            std::fs::write(&p, b"garbage").unwrap();
        }
    }
    let cb = open(home.path(), Origin::Cli).await;
    let r = search(&cb, "etcdNoLeader").await;
    assert_eq!(r.state, KbIndexState::Ready);
    assert_eq!(r.hits[0].path, "etcd/etcdNoLeader.md");
    let status = cb.kb_status().await.unwrap();
    assert!(status.documents > 6 && status.size_bytes > 0);
}

// ---- kill -9 during indexing ------------------------------------------------------------------

const WORKER_ENV: &str = "CASEBOOK_KB_KILL_WORKER_HOME";
const BOOKS: usize = 1_500;

fn generated_folder(dir: &Path) {
    for i in 0..BOOKS {
        let sub = dir.join(format!("team{}", i % 10));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(
            sub.join(format!("Alert{i}Firing.md")),
            format!(
                "# Alert{i}Firing\n\nService svc{i} is degraded.\n\n## Diagnosis\nCheck the \
                 logs of host{i}.example.com for token{i}.\n\n## Mitigation\nRestart svc{i}.\n"
            ),
        )
        .unwrap();
    }
}

#[tokio::test]
#[ignore = "worker process for killed_while_indexing_the_index_stays_consistent"]
async fn kb_kill_worker_index() {
    let Some(home) = std::env::var_os(WORKER_ENV).map(PathBuf::from) else {
        return;
    };
    let cb = open(&home, Origin::Cli).await;
    let mut out = std::io::stdout();
    writeln!(out).unwrap();
    loop {
        // A full reindex empties the index and indexes every file again, commit by commit.
        cb.kb_reindex(true, |p| {
            let mut o = std::io::stdout();
            let _ = writeln!(o, "progress {}", p.done);
            let _ = o.flush();
        })
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn killed_while_indexing_the_index_stays_consistent() {
    let home = tempfile::tempdir().unwrap();
    let books = tempfile::tempdir().unwrap();
    generated_folder(books.path());
    let expected_docs = {
        let cb = open(home.path(), Origin::Cli).await;
        let r = cb
            .kb_add_folder(books.path().display().to_string(), |_| {})
            .await
            .unwrap();
        assert_eq!(r.files_indexed as usize, BOOKS);
        r.documents
    };
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "kb::kb_kill_worker_index",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(WORKER_ENV, home.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Kill at a different point each round: after some commits of a reindex.
        let mut seen = 0;
        for line in lines {
            if line.unwrap().starts_with("progress ") {
                seen += 1;
                if seen >= 2 + round * 3 {
                    break;
                }
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert!(seen >= 2, "round {round}: the worker reported progress");

        // The index opens, nothing is duplicated, and search works on what was committed.
        let kb_dir = home.path().join(casebook_api::kb::KB_DIR);
        {
            let (index, state) = casebook_search::KbIndex::open(&kb_dir).unwrap();
            assert_eq!(state, casebook_search::OpenState::Existing, "round {round}");
            assert!(
                index.duplicate_origins().unwrap().is_empty(),
                "round {round}"
            );
        }
        let cb = open(home.path(), Origin::Cli).await;
        search(&cb, "svc7 ").await;
        // A rescan completes what the killed run had not committed.
        let r = cb.kb_reindex(false, |_| {}).await.unwrap();
        assert_eq!(r.documents, expected_docs, "round {round}");
        assert_eq!(
            search(&cb, "Alert1234Firing").await.hits[0].path,
            "team4/Alert1234Firing.md"
        );
        let (index, _) = casebook_search::KbIndex::open(&kb_dir).unwrap();
        assert!(index.duplicate_origins().unwrap().is_empty());
    }
}
