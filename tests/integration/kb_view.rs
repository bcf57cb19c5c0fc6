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
    crate::support::kb_search(cb, q)
        .await
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

// Writes right after adding the folder: adding returns only once the folder is watched (a change
// made before the watch exists produces no event and was lost, about one run in three).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
    // Nested new folders: notify watches each only after reporting it, the file names no event.
    std::fs::create_dir_all(books.path().join("net/site-b/edge")).unwrap();
    std::fs::write(
        books.path().join("net/site-b/edge/Bgp.md"),
        "# BGP flap\nthe wibblerouter session flaps\n",
    )
    .unwrap();
    eventually("the runbook in nested new folders", || async {
        search(&cb, "wibblerouter").await == vec!["net/site-b/edge/Bgp.md"]
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

/// A file rewritten within the same modification-time tick as when it was read (a rescan that
/// caught it half-written) is read again by the next rescan instead of being taken as unchanged.
#[tokio::test]
async fn a_runbook_rewritten_without_its_time_moving_is_read_again() {
    let home = tempfile::tempdir().unwrap();
    let books = tempfile::tempdir().unwrap();
    let file = books.path().join("Half.md");
    std::fs::write(&file, "# Half\nthe gizmotron\n").unwrap();
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    let cb = open(home.path(), Origin::Cli).await;
    cb.kb_add_folder(books.path().display().to_string(), |_| {})
        .await
        .unwrap();
    assert_eq!(search(&cb, "gizmotron").await, vec!["Half.md"]);

    // The rest of the text lands; the file system keeps the same time (a coarse tick).
    std::fs::write(
        &file,
        "# Half\nthe gizmotron restarts the plumbusd service\n",
    )
    .unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), mtime);
    let r = cb.kb_reindex(false, |_| {}).await.unwrap();
    assert_eq!(r.files_indexed, 1);
    assert_eq!(search(&cb, "plumbusd").await, vec!["Half.md"]);

    // Read again while recent, but an unchanged text is not counted as indexed.
    let r = cb.kb_reindex(false, |_| {}).await.unwrap();
    assert_eq!((r.files_indexed, r.files_unchanged), (0, 1));
}
