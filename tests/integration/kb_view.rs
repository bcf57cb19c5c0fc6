//! The knowledge base's user-facing half through the façade: links between runbooks resolved to
//! documents for the runbook view, and runbook folders watched by the app (an added, edited or
//! deleted file is re-indexed without a reindex).

use casebook_api::kb::dto::*;
use casebook_api::{Casebook, OpenOptions};
use casebook_core::store::Origin;
use std::path::Path;
use std::time::{Duration, Instant};

async fn open(home: &Path, origin: Origin) -> Casebook {
    Casebook::open(OpenOptions::for_tests(home, origin))
        .await
        .unwrap()
}

async fn search(cb: &Casebook, q: &str) -> Vec<String> {
    cb.kb_search(KbSearchInput {
        query: q.into(),
        filters: KbFilters::default(),
        limit: Some(10),
    })
    .await
    .unwrap()
    .hits
    .into_iter()
    .map(|h| h.path)
    .collect()
}

/// Polls `f` until it holds (the watcher works in the background), failing after 20 s.
async fn eventually<F, Fut>(what: &str, mut f: F)
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
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn links_between_runbooks_resolve_to_documents() {
    let home = tempfile::tempdir().unwrap();
    let books = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(books.path().join("kube")).unwrap();
    std::fs::create_dir_all(books.path().join("node")).unwrap();
    std::fs::write(
        books.path().join("kube/PodCrash.md"),
        "# PodCrash\n\n## Diagnosis\nIf the node is full, see [disk runbook](../node/Disk%20Full.md#cleanup), \
         [the missing one](../node/Nope.md) and [back up](#diagnosis).\n",
    )
    .unwrap();
    std::fs::write(
        books.path().join("node/Disk Full.md"),
        "# Disk full\n\n## Cleanup\nRemove old journal files.\n",
    )
    .unwrap();
    let cb = open(home.path(), Origin::Cli).await;
    cb.kb_add_folder(books.path().display().to_string(), |_| {})
        .await
        .unwrap();
    let hit = cb
        .kb_search(KbSearchInput {
            query: "PodCrash".into(),
            filters: KbFilters::default(),
            limit: Some(1),
        })
        .await
        .unwrap()
        .hits
        .remove(0);
    let view = cb.kb_get_document(hit.doc_id).await.unwrap();
    assert_eq!(view.links.len(), 2, "{:?}", view.links);
    let disk = &view.links[0];
    assert_eq!(disk.path, "node/Disk Full.md");
    assert_eq!(disk.anchor.as_deref(), Some("cleanup"));
    assert!(view.html.contains(&format!("href=\"{}\"", disk.href)));
    assert!(view.html.contains("href=\"#section-diagnosis\""));
    // The resolved document opens, and has the section the link points at.
    let target = cb
        .kb_get_document(disk.doc_id.clone().expect("the disk runbook is indexed"))
        .await
        .unwrap();
    assert_eq!(target.title, "Disk full");
    assert!(target.sections.iter().any(|s| s.anchor == "cleanup"));
    // A link to a file that is not there resolves to no document.
    assert_eq!(view.links[1].path, "node/Nope.md");
    assert_eq!(view.links[1].doc_id, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "flaky: passes alone, but with the whole integration suite running beside it the runbook \
            added in a new sub-folder is sometimes never indexed within 20 s (root cause not found yet; \
            run with --ignored)"]
async fn the_app_reindexes_runbooks_added_edited_or_deleted_in_a_watched_folder() {
    let home = tempfile::tempdir().unwrap();
    let books = tempfile::tempdir().unwrap();
    std::fs::write(
        books.path().join("first.md"),
        "# First\nthe printer spooler hangs\n",
    )
    .unwrap();
    let cb = open(home.path(), Origin::App).await;
    cb.kb_add_folder(books.path().display().to_string(), |_| {})
        .await
        .unwrap();
    assert_eq!(search(&cb, "spooler").await, vec!["first.md"]);

    // Added, in a new sub-folder.
    std::fs::create_dir_all(books.path().join("vpn")).unwrap();
    std::fs::write(
        books.path().join("vpn/Tunnel.md"),
        "# Tunnel down\nthe quuxgateway tunnel drops every hour\n",
    )
    .unwrap();
    eventually("the added runbook", || async {
        search(&cb, "quuxgateway").await == vec!["vpn/Tunnel.md"]
    })
    .await;

    // Edited: the new word is found, the old one is gone.
    std::fs::write(
        books.path().join("first.md"),
        "# First\nthe zorblatt daemon hangs\n",
    )
    .unwrap();
    eventually("the edited runbook", || async {
        search(&cb, "zorblatt").await == vec!["first.md"] && search(&cb, "spooler").await.is_empty()
    })
    .await;

    // Deleted.
    std::fs::remove_file(books.path().join("vpn/Tunnel.md")).unwrap();
    eventually("the deleted runbook to leave the index", || async {
        search(&cb, "quuxgateway").await.is_empty()
    })
    .await;

    // A removed folder is no longer watched: writing there changes nothing.
    let id = cb.kb_list_sources().await.unwrap()[0].id;
    cb.kb_remove_folder(id).await.unwrap();
    std::fs::write(books.path().join("late.md"), "# Late\nflibbertigibbet\n").unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(search(&cb, "flibbertigibbet").await.is_empty());
}
