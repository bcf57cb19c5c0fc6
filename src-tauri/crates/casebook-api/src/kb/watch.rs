//! Runbook folders watched for changes (the app only): a file added, edited, renamed or deleted
//! under a registered folder triggers an incremental rescan of that folder once the folder has
//! been quiet for [`DEBOUNCE`] (an editor's save is several events; a `git pull` is hundreds).
//! The rescan is the same one `kb reindex` runs: only changed files are read again.
//!
//! Two holes a watcher has, and how they are closed:
//! - Changes made before a folder is watched produce no event. Adding a folder therefore waits
//!   until the watcher has the folder ([`WatchMsg::Refresh`] is acknowledged) and only then scans
//!   it: whatever happened before the watch is seen by the scan, whatever happens after by events.
//! - A new sub-folder is watched by notify only after it reported the folder's creation, so files
//!   written into it in between name no event. The folder's creation marks the folder dirty (its
//!   rescan reads them) and schedules one more rescan [`SETTLE`] later for files that landed while
//!   the sub-folder's watch was being added on a busy machine.

use super::{KbScanReport, lock, scan_folder};
use crate::Inner;
use notify::event::{CreateKind, EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::time::{Duration, Instant};

/// How long a folder must be quiet before it is rescanned.
pub const DEBOUNCE: Duration = Duration::from_millis(400);
/// How often the thread checks that the workspace is still open while nothing happens.
const IDLE_CHECK: Duration = Duration::from_secs(2);
/// After a sub-folder appears, the folder is rescanned once more this long after its last event.
pub const SETTLE: Duration = Duration::from_secs(2);
/// How long adding or removing a folder waits for the watcher to take the new folder list.
const REFRESH_WAIT: Duration = Duration::from_secs(10);

pub(crate) enum WatchMsg {
    /// The folder list changed: watch the current folders, then answer on the channel (if any).
    Refresh(Option<SyncSender<()>>),
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
    let _ = tx.send(WatchMsg::Refresh(None));
    Some(tx)
}

/// Tells the watcher that the folder list changed and waits until it watches the new list (so a
/// scan made afterwards cannot miss a change). Must not be called with the reconcile lock held:
/// the watcher may be waiting for it to finish a rescan.
pub(crate) fn refresh_and_wait(tx: &Sender<WatchMsg>) {
    let (ack, done) = mpsc::sync_channel(1);
    if tx.send(WatchMsg::Refresh(Some(ack))).is_err() {
        return; // The watcher stopped (the workspace is closing).
    }
    match done.recv_timeout(REFRESH_WAIT) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => {}
        Err(RecvTimeoutError::Timeout) => {
            tracing::warn!("the runbook folder watcher is slow to take the new folder list");
        }
    }
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
    let mut pending = Pending::default();
    loop {
        let wait = pending
            .next_due()
            .map_or(IDLE_CHECK, |t| t.saturating_duration_since(Instant::now()));
        match rx.recv_timeout(wait) {
            Ok(WatchMsg::Refresh(ack)) => {
                let Some(inner) = weak.upgrade() else { return };
                refresh(&inner, &mut watcher, &mut watched);
                pending.forget_unwatched(&watched);
                if let Some(ack) = ack {
                    let _ = ack.send(());
                }
            }
            Ok(WatchMsg::Fs(Ok(event))) => pending.event(&event, &watched, Instant::now()),
            Ok(WatchMsg::Fs(Err(e))) => {
                // A failed watch on a new sub-folder and the like: rescan everything to be safe.
                tracing::warn!(error = %e, "runbook folder watch error; rescanning");
                pending.all_dirty(&watched, Instant::now());
            }
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                if weak.strong_count() == 0 {
                    return;
                }
            }
        }
        let due = pending.take_due(Instant::now());
        if due.is_empty() {
            continue;
        }
        let Some(inner) = weak.upgrade() else { return };
        for id in due {
            if let Some(root) = watched.get(&id) {
                rescan(&inner, id, root);
            }
        }
    }
}

/// The rescans waiting to happen, per folder id.
#[derive(Default)]
struct Pending {
    /// When the folder's last event arrived (rescanned [`DEBOUNCE`] after it).
    dirty: HashMap<i64, Instant>,
    /// Folders in which a sub-folder appeared: rescanned again at this time.
    settle: HashMap<i64, Instant>,
}

impl Pending {
    fn event(&mut self, event: &notify::Event, watched: &HashMap<i64, PathBuf>, now: Instant) {
        if event.need_rescan() {
            // The kernel's queue overflowed: events were lost, and the event names no path.
            self.all_dirty(watched, now);
            return;
        }
        if event.kind.is_access() {
            return;
        }
        for path in event.paths.iter().filter(|p| relevant(p)) {
            // A sub-folder created or moved in (notify watches it only after this event).
            let new_folder = match event.kind {
                EventKind::Create(CreateKind::Folder) => true,
                EventKind::Create(CreateKind::Any) | EventKind::Modify(ModifyKind::Name(_)) => {
                    path.is_dir()
                }
                _ => false,
            };
            for (id, root) in watched {
                if path.starts_with(root) {
                    self.dirty.insert(*id, now);
                    if new_folder && path != root {
                        self.settle.insert(*id, now + DEBOUNCE + SETTLE);
                    }
                }
            }
        }
    }

    fn all_dirty(&mut self, watched: &HashMap<i64, PathBuf>, now: Instant) {
        for id in watched.keys() {
            self.dirty.insert(*id, now);
        }
    }

    fn forget_unwatched(&mut self, watched: &HashMap<i64, PathBuf>) {
        self.dirty.retain(|id, _| watched.contains_key(id));
        self.settle.retain(|id, _| watched.contains_key(id));
    }

    /// When the next rescan is due, if any is waiting.
    fn next_due(&self) -> Option<Instant> {
        let dirty = self.dirty.values().map(|t| *t + DEBOUNCE);
        dirty.chain(self.settle.values().copied()).min()
    }

    /// Removes and returns the folders due for a rescan at `now` (each once).
    fn take_due(&mut self, now: Instant) -> Vec<i64> {
        let mut due: Vec<i64> = self
            .dirty
            .iter()
            .filter(|(_, t)| now.saturating_duration_since(**t) >= DEBOUNCE)
            .map(|(id, _)| *id)
            .collect();
        due.extend(
            self.settle
                .iter()
                .filter(|(_, t)| now >= **t)
                .map(|(id, _)| *id),
        );
        due.sort_unstable();
        due.dedup();
        for id in &due {
            self.dirty.remove(id);
            // A settle rescan still waiting for a later time is kept.
            if self.settle.get(id).is_some_and(|t| now >= *t) {
                self.settle.remove(id);
            }
        }
        due
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
    // Removed since its events arrived: scanning it would bring its documents back.
    match inner.store.kb_sources() {
        Ok(sources) if sources.iter().any(|s| s.id == id) => {}
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the runbook folders to rescan");
            return;
        }
    }
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

    fn watched() -> HashMap<i64, PathBuf> {
        HashMap::from([(1, PathBuf::from("/r/a")), (2, PathBuf::from("/r/b"))])
    }

    fn event(kind: EventKind, path: &str) -> notify::Event {
        notify::Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn a_change_is_rescanned_once_its_folder_is_quiet() {
        let (w, t0) = (watched(), Instant::now());
        let mut p = Pending::default();
        p.event(
            &event(EventKind::Create(CreateKind::File), "/r/a/x.md"),
            &w,
            t0,
        );
        p.event(
            &event(EventKind::Modify(ModifyKind::Any), "/r/a/x.md"),
            &w,
            t0 + Duration::from_millis(300),
        );
        assert_eq!(
            p.next_due(),
            Some(t0 + Duration::from_millis(300) + DEBOUNCE)
        );
        assert!(p.take_due(t0 + DEBOUNCE).is_empty(), "still being written");
        assert_eq!(
            p.take_due(t0 + Duration::from_millis(300) + DEBOUNCE),
            vec![1]
        );
        assert_eq!(p.next_due(), None, "a file change needs one rescan");
        // Reads, other files and folders outside the watched ones change nothing.
        p.event(
            &event(
                EventKind::Access(notify::event::AccessKind::Any),
                "/r/a/x.md",
            ),
            &w,
            t0,
        );
        p.event(&event(EventKind::Any, "/r/a/x.png"), &w, t0);
        p.event(&event(EventKind::Any, "/elsewhere/y.md"), &w, t0);
        assert_eq!(p.next_due(), None);
    }

    #[test]
    fn a_new_sub_folder_is_rescanned_again_once_it_settled() {
        let (w, t0) = (watched(), Instant::now());
        let mut p = Pending::default();
        p.event(
            &event(EventKind::Create(CreateKind::Folder), "/r/b/vpn"),
            &w,
            t0,
        );
        assert_eq!(p.take_due(t0 + DEBOUNCE), vec![2]);
        // The second rescan catches files written before notify watched the sub-folder.
        assert_eq!(p.next_due(), Some(t0 + DEBOUNCE + SETTLE));
        assert!(p.take_due(t0 + DEBOUNCE + SETTLE / 2).is_empty());
        assert_eq!(p.take_due(t0 + DEBOUNCE + SETTLE), vec![2]);
        assert_eq!(p.next_due(), None);
    }

    #[test]
    fn lost_events_rescan_every_folder_and_removed_folders_are_forgotten() {
        let (w, t0) = (watched(), Instant::now());
        let mut p = Pending::default();
        // An overflowed inotify queue is reported as a rescan flag with no path.
        let overflow = notify::Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan);
        p.event(&overflow, &w, t0);
        let mut due = p.take_due(t0 + DEBOUNCE);
        due.sort_unstable();
        assert_eq!(due, vec![1, 2]);

        p.event(
            &event(EventKind::Create(CreateKind::Folder), "/r/a/new"),
            &w,
            t0,
        );
        p.forget_unwatched(&HashMap::from([(2, PathBuf::from("/r/b"))]));
        assert_eq!(p.next_due(), None, "folder 1 was removed");
    }
}
