//! Runbook folders watched for changes (the app only): a file added, edited, renamed or deleted
//! under a registered folder triggers an incremental rescan of that folder once the folder has
//! been quiet for [`DEBOUNCE`] (an editor's save is several events; a `git pull` is hundreds).
//! The rescan is the same one `kb reindex` runs: only changed files are read again.

use super::{KbScanReport, lock, scan_folder};
use crate::Inner;
use notify::{RecursiveMode, Watcher};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// How long a folder must be quiet before it is rescanned.
pub const DEBOUNCE: Duration = Duration::from_millis(400);
/// How often the thread checks that the workspace is still open while nothing happens.
const IDLE_CHECK: Duration = Duration::from_secs(2);

pub(crate) enum WatchMsg {
    /// The folder list changed: watch the current folders.
    Refresh,
    Fs(notify::Result<notify::Event>),
}

/// Starts the watcher thread; send [`WatchMsg::Refresh`] after adding or removing a folder.
pub(crate) fn start(weak: Weak<Inner>) -> Option<Sender<WatchMsg>> {
    let (tx, rx) = mpsc::channel();
    let events = tx.clone();
    let watcher = notify::recommended_watcher(move |e| {
        let _ = events.send(WatchMsg::Fs(e));
    });
    let watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "runbook folders will not be watched for changes");
            return None;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("kb-watch".into())
        .spawn(move || run(weak, rx, watcher));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the runbook folder watcher");
        return None;
    }
    let _ = tx.send(WatchMsg::Refresh);
    Some(tx)
}

/// Is this a path whose change can alter the index (a Markdown file, or a folder: a deleted or
/// renamed folder reports only itself)?
fn relevant(path: &Path) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => ext.eq_ignore_ascii_case("md") || ext.eq_ignore_ascii_case("markdown"),
        None => true,
    }
}

fn run(weak: Weak<Inner>, rx: Receiver<WatchMsg>, mut watcher: notify::RecommendedWatcher) {
    // Folder id → watched root.
    let mut watched: HashMap<i64, PathBuf> = HashMap::new();
    // Folder id → when its last event arrived.
    let mut dirty: HashMap<i64, Instant> = HashMap::new();
    loop {
        let wait = dirty
            .values()
            .map(|t| (*t + DEBOUNCE).saturating_duration_since(Instant::now()))
            .min()
            .unwrap_or(IDLE_CHECK);
        match rx.recv_timeout(wait) {
            Ok(WatchMsg::Refresh) => {
                let Some(inner) = weak.upgrade() else { return };
                refresh(&inner, &mut watcher, &mut watched);
            }
            Ok(WatchMsg::Fs(Ok(event))) => {
                if event.kind.is_access() {
                    continue;
                }
                for path in event.paths.iter().filter(|p| relevant(p)) {
                    for (id, root) in &watched {
                        if path.starts_with(root) {
                            dirty.insert(*id, Instant::now());
                        }
                    }
                }
            }
            Ok(WatchMsg::Fs(Err(e))) => {
                // Overflowed queues and the like: rescan everything watched to be safe.
                tracing::warn!(error = %e, "runbook folder watch error; rescanning");
                for id in watched.keys() {
                    dirty.insert(*id, Instant::now());
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                if weak.strong_count() == 0 {
                    return;
                }
            }
        }
        let due: Vec<i64> = dirty
            .iter()
            .filter(|(_, t)| t.elapsed() >= DEBOUNCE)
            .map(|(id, _)| *id)
            .collect();
        if due.is_empty() {
            continue;
        }
        let Some(inner) = weak.upgrade() else { return };
        for id in due {
            dirty.remove(&id);
            if let Some(root) = watched.get(&id) {
                rescan(&inner, id, root);
            }
        }
    }
}

/// Watches exactly the registered folders that exist.
fn refresh(
    inner: &Inner,
    watcher: &mut notify::RecommendedWatcher,
    watched: &mut HashMap<i64, PathBuf>,
) {
    let sources = match inner.store.kb_sources() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the runbook folders to watch");
            return;
        }
    };
    let want: HashMap<i64, PathBuf> = sources
        .into_iter()
        .map(|s| (s.id, PathBuf::from(s.path)))
        .collect();
    let stale: Vec<i64> = watched
        .iter()
        .filter(|(id, root)| want.get(id) != Some(*root))
        .map(|(id, _)| *id)
        .collect();
    for id in stale {
        if let Some(root) = watched.remove(&id) {
            let _ = watcher.unwatch(&root);
        }
    }
    let roots: HashSet<PathBuf> = watched.values().cloned().collect();
    for (id, root) in want {
        if watched.contains_key(&id) || roots.contains(&root) {
            continue;
        }
        match watcher.watch(&root, RecursiveMode::Recursive) {
            Ok(()) => {
                watched.insert(id, root);
            }
            // An unplugged drive: `kb list` says it is unavailable; a reindex rescans it.
            Err(e) => tracing::warn!(folder = %root.display(), error = %e, "cannot watch"),
        }
    }
}

fn rescan(inner: &Inner, id: i64, root: &Path) {
    let Some(rt) = inner.kb.get() else { return };
    let _g = lock(&rt.reconcile);
    let mut report = KbScanReport::default();
    match scan_folder(inner, &rt.index, id, root, &mut report, &mut |_| {}) {
        Ok(()) => tracing::debug!(
            folder = %root.display(),
            indexed = report.files_indexed,
            removed = report.files_removed,
            "runbook folder changed: rescanned"
        ),
        Err(e) => tracing::warn!(folder = %root.display(), error = %e.message, "rescan failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_markdown_files_and_folders_matter() {
        assert!(relevant(Path::new("/r/a/Disk.md")));
        assert!(relevant(Path::new("/r/a/Disk.MARKDOWN")));
        assert!(relevant(Path::new("/r/a/sub")));
        assert!(!relevant(Path::new("/r/a/.Disk.md.swp")));
        assert!(!relevant(Path::new("/r/a/image.png")));
    }
}
