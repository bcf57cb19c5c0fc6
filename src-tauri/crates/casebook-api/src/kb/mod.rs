//! The knowledge base through the façade: runbook folders, search, similar cases, documents and
//! links. The index lives in `<home>/kb/` and is derived from the folders and the store: deleting
//! it only costs a rebuild.
//!
//! The index is opened on first use. In the app (origin `App`) every change batch the façade
//! publishes for tickets is applied to the index by a background thread, and opening the index
//! reconciles it with the folders and the tickets in the background; the CLI reconciles on
//! `kb reindex` (and builds a missing index before its first search).

pub mod dto;
mod watch;

use crate::{ApiError, Casebook, ErrorCode, Inner, Result, agent_name};
use casebook_core::model::{LinkKind, TicketState};
use casebook_core::store::StreamingReader;
use casebook_search::doc::{past_case, ticket_origin};
use casebook_search::index::{KbIndex, OpenState, WriteOp};
use casebook_search::runbook::{self, SkippedFile};
use casebook_search::{Filters, SearchError, SearchRequest, SourceKind};
use dto::*;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Instant;

/// The folder of the knowledge-base index inside the workspace home.
pub const KB_DIR: &str = "kb";
/// Runbook files committed per index commit during a scan.
const FILES_PER_COMMIT: usize = 400;
/// Past cases committed per index commit.
const CASES_PER_COMMIT: usize = 2_000;

pub(crate) use crate::dto::Progress;

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::Busy => ApiError::new(ErrorCode::WorkspaceLocked, e.to_string()),
            SearchError::Invalid(m) => ApiError::invalid(m),
            other => ApiError::internal("the knowledge-base operation", &other),
        }
    }
}

/// The façade's knowledge-base slot (opened lazily).
#[derive(Default)]
pub(crate) struct KbSlot {
    runtime: Mutex<Option<Arc<KbRuntime>>>,
}

struct KbRuntime {
    index: KbIndex,
    /// Serializes reconciliations (background sync and explicit reindex).
    reconcile: Mutex<()>,
    sync: Option<Sender<SyncMsg>>,
    /// The app: the runbook folder watcher (told when the folder list changes).
    watch: Option<Sender<watch::WatchMsg>>,
}

impl KbRuntime {
    /// Returns once the watcher watches the current folder list (never call it holding
    /// `reconcile`: the watcher may be waiting for that lock to finish a rescan).
    fn folders_changed(&self) {
        if let Some(tx) = &self.watch {
            watch::refresh_and_wait(tx);
        }
    }
}

enum SyncMsg {
    Tickets(Vec<i64>),
    AllTickets,
    Everything,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl KbSlot {
    fn get(&self) -> Option<Arc<KbRuntime>> {
        lock(&self.runtime).clone()
    }
}

/// Called by the façade after every published change: queues the tickets for the index (no-op
/// while the knowledge base has not been opened: opening reconciles).
pub(crate) fn on_change(inner: &Inner, tickets: Option<&[i64]>) {
    let Some(rt) = inner.kb.get() else { return };
    let Some(tx) = &rt.sync else { return };
    let msg = match tickets {
        Some(ids) if !ids.is_empty() => SyncMsg::Tickets(ids.to_vec()),
        _ => SyncMsg::AllTickets,
    };
    let _ = tx.send(msg);
}

fn sync_loop(weak: Weak<Inner>, rx: Receiver<SyncMsg>) {
    while let Ok(first) = rx.recv() {
        let mut ids: HashSet<i64> = HashSet::new();
        let mut all_tickets = false;
        let mut everything = false;
        let mut take = |m: SyncMsg| match m {
            SyncMsg::Tickets(v) => ids.extend(v),
            SyncMsg::AllTickets => all_tickets = true,
            SyncMsg::Everything => everything = true,
        };
        take(first);
        while let Ok(m) = rx.try_recv() {
            take(m);
        }
        let Some(inner) = weak.upgrade() else { return };
        let Some(rt) = inner.kb.get() else { return };
        let result = if everything {
            reconcile_all(&inner, &rt, &mut |_| {}).map(|_| ())
        } else if all_tickets {
            let _g = lock(&rt.reconcile);
            reconcile_tickets(&inner, &rt.index, &mut KbScanReport::default(), &mut |_| {})
        } else {
            let ids: Vec<i64> = ids.into_iter().collect();
            index_tickets(&inner, &rt.index, &ids).map(|_| ())
        };
        if let Err(e) = result {
            tracing::warn!(error = %e.message, "knowledge-base sync failed");
        }
    }
}

/// Indexes (or removes) the past cases of these tickets, committing every
/// [`CASES_PER_COMMIT`] of them. They are read through a streaming reader (no memory map, a
/// small page cache), so indexing many tickets does not keep the database file in memory.
fn index_tickets(inner: &Inner, index: &KbIndex, ids: &[i64]) -> Result<(u64, u64)> {
    index_tickets_with(&inner.store.streaming_reader()?, index, ids)
}

fn index_tickets_with(
    reader: &StreamingReader<'_>,
    index: &KbIndex,
    ids: &[i64],
) -> Result<(u64, u64)> {
    let (mut added, mut removed) = (0, 0);
    for chunk in ids.chunks(CASES_PER_COMMIT) {
        let mut ops = Vec::with_capacity(chunk.len());
        for &id in chunk {
            let origin = ticket_origin(id);
            match reader.ticket(id) {
                Ok(detail) => match past_case(&detail) {
                    Some(doc) => {
                        added += 1;
                        ops.push(WriteOp::Replace {
                            origin,
                            docs: vec![doc],
                        })
                    }
                    None => {
                        removed += 1;
                        ops.push(WriteOp::DeleteOrigin(origin))
                    }
                },
                Err(casebook_core::StoreError::TicketNotFound(_)) => {
                    removed += 1;
                    ops.push(WriteOp::DeleteOrigin(origin))
                }
                Err(e) => return Err(e.into()),
            }
        }
        index.apply(ops)?;
    }
    Ok((added, removed))
}

/// Brings the past cases in the index in line with the store's resolved and closed tickets.
///
/// Both sides are walked in id order, one batch of [`CASES_PER_COMMIT`] done tickets at a time
/// (a keyset range: from the id after the previous batch's last to this batch's last; the last
/// batch runs to the end) beside the index's past cases of the same id range. What it holds at
/// once is one batch — ids, revisions, origins, then the changed tickets' documents — never a
/// set over every ticket, and the tickets are read through a streaming reader, so memory does
/// not grow with the number of tickets.
fn reconcile_tickets(
    inner: &Inner,
    index: &KbIndex,
    report: &mut KbScanReport,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let reader = inner.store.streaming_reader()?;
    let last_id = reader.max_ticket_id()?.max(0);
    let mut from = i64::MIN;
    loop {
        let done = reader.done_ticket_revisions(from, CASES_PER_COMMIT)?;
        let to = match done.last() {
            Some(&(id, _)) if done.len() == CASES_PER_COMMIT => id,
            _ => i64::MAX,
        };
        let mut indexed = index.ticket_fingerprints(from..=to)?;
        let mut changed: Vec<i64> = Vec::new();
        for &(id, rev) in &done {
            if indexed.remove(&ticket_origin(id)) != Some(rev as u64) {
                changed.push(id);
            }
        }
        // Indexed in this range but no longer resolved or closed (reopened, or deleted).
        let gone: Vec<WriteOp> = indexed.into_keys().map(WriteOp::DeleteOrigin).collect();
        report.cases_removed += gone.len() as u64;
        index.apply(gone)?;
        let (added, removed) = index_tickets_with(&reader, index, &changed)?;
        report.cases_indexed += added;
        report.cases_removed += removed;
        // How far through the tickets (by id) the walk is.
        progress(Progress {
            stage: "past cases".into(),
            done: to.clamp(0, last_id) as u64,
            total: Some(last_id as u64),
        });
        if to == i64::MAX {
            return Ok(());
        }
        from = to + 1;
    }
}

fn skipped_dto(s: SkippedFile) -> KbSkippedFile {
    KbSkippedFile {
        path: s.path,
        reason: s.reason,
    }
}

/// Rescans one folder: new and changed files (by modification time, then content hash) are
/// re-indexed, deleted ones removed, unreadable ones reported with their reason.
fn scan_folder(
    inner: &Inner,
    index: &KbIndex,
    source_id: i64,
    root: &Path,
    report: &mut KbScanReport,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let group = format!("folder:{source_id}");
    let (files, mut skipped) = match runbook::list_markdown(root) {
        Ok(v) => v,
        Err(e) => {
            // A folder that vanished (unplugged drive): keep its documents, report it.
            report.skipped.push(KbSkippedFile {
                path: root.display().to_string(),
                reason: format!("cannot read the folder: {e}"),
            });
            return Ok(());
        }
    };
    let indexed = index.fingerprints(&group)?;
    let mut seen: HashSet<String> = HashSet::with_capacity(files.len());
    let mut ops: Vec<WriteOp> = Vec::new();
    let total = files.len() as u64;
    // File times come from the file system's clock, so they are compared with it (not the
    // injected clock): this decides only whether a file is read again, never what is stored.
    let fs_now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    for (n, file) in files.iter().enumerate() {
        let origin = format!("file:{source_id}:{}", file.rel_path);
        seen.insert(origin.clone());
        let previous = indexed.get(&origin).copied();
        if previous.is_some_and(|(_, mtime)| mtime == file.mtime_ms && mtime != 0) {
            report.files_unchanged += 1;
            continue;
        }
        let text = match runbook::read_text(&file.full_path, file.size) {
            Ok(t) => t,
            Err(reason) => {
                skipped.push(SkippedFile {
                    path: file.rel_path.clone(),
                    reason,
                });
                if previous.is_some() {
                    ops.push(WriteOp::DeleteOrigin(origin));
                }
                continue;
            }
        };
        let fp = runbook::fingerprint(text.as_bytes());
        let mtime = recorded_mtime(file.mtime_ms, fs_now_ms);
        let same_text = previous.is_some_and(|(p, _)| p == fp);
        if same_text {
            report.files_unchanged += 1;
            if previous.is_some_and(|(_, m)| m == mtime) {
                continue; // Read again only because it is recent: nothing to record.
            }
            // Touched, or no longer recent: re-index to record the time (cheap, rare).
        }
        let stem = Path::new(&file.rel_path)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("");
        let parsed = runbook::parse(&text, stem);
        let docs = runbook::documents(
            source_id,
            &file.rel_path,
            &file.full_path,
            &parsed,
            fp,
            mtime,
        );
        if !same_text {
            report.files_indexed += 1;
        }
        ops.push(WriteOp::Replace { origin, docs });
        if ops.len() >= FILES_PER_COMMIT {
            index.apply(std::mem::take(&mut ops))?;
            progress(Progress {
                stage: "runbooks".into(),
                done: n as u64 + 1,
                total: Some(total),
            });
        }
    }
    for origin in indexed.keys() {
        if !seen.contains(origin) {
            report.files_removed += 1;
            ops.push(WriteOp::DeleteOrigin(origin.clone()));
        }
    }
    index.apply(ops)?;
    progress(Progress {
        stage: "runbooks".into(),
        done: total,
        total: Some(total),
    });
    report.files_seen += files.len() as u64 + skipped.len() as u64;
    let skipped_json = serde_json::to_value(
        skipped
            .iter()
            .map(|s| serde_json::json!({"path": s.path, "reason": s.reason}))
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default();
    inner.store.kb_record_scan(
        source_id,
        inner.clock.now(),
        (files.len() + skipped.len()) as i64,
        &skipped_json,
    )?;
    report.skipped.extend(skipped.into_iter().map(skipped_dto));
    Ok(())
}

/// A file changed less than this before it was read may change again without its modification
/// time moving (times are kept in ticks: a few ms on ext4, 2 s on FAT).
const RACY_MS: i64 = 3_000;

/// The modification time recorded for a file read at `now_ms`: 0 ("unknown": read it again next
/// time) when the file is so recent that a later write may leave the same time — otherwise an
/// edit finished within that tick (a half-written file caught by a rescan) would be skipped as
/// unchanged forever. Git calls these entries racy.
fn recorded_mtime(mtime_ms: i64, now_ms: i64) -> i64 {
    if mtime_ms > now_ms - RACY_MS {
        0
    } else {
        mtime_ms
    }
}

fn reconcile_all(
    inner: &Inner,
    rt: &KbRuntime,
    progress: &mut dyn FnMut(Progress),
) -> Result<KbScanReport> {
    let _g = lock(&rt.reconcile);
    let started = Instant::now();
    let mut report = KbScanReport::default();
    let sources = inner.store.kb_sources()?;
    // Folders removed from the list while the index was not open.
    let known: HashSet<String> = sources.iter().map(|s| format!("folder:{}", s.id)).collect();
    let _ = known;
    for s in &sources {
        scan_folder(
            inner,
            &rt.index,
            s.id,
            Path::new(&s.path),
            &mut report,
            progress,
        )?;
    }
    reconcile_tickets(inner, &rt.index, &mut report, progress)?;
    rt.index.set_rebuilding(false);
    report.documents = rt.index.num_docs();
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

fn hit_dto(h: casebook_search::Hit) -> KbHit {
    let range = |r: casebook_search::Range| KbRange {
        start: r.start,
        end: r.end,
    };
    KbHit {
        section: match (h.section, h.anchor) {
            (Some(title), Some(anchor)) => Some(KbSectionRef {
                title,
                anchor,
                level: 0,
            }),
            _ => None,
        },
        ticket_key: if h.kind == SourceKind::PastCase {
            h.url.clone()
        } else {
            None
        },
        url: if h.kind == SourceKind::KbArticle {
            h.url
        } else {
            None
        },
        doc_id: h.doc_id,
        kind: h.kind.into(),
        title: h.title,
        title_ranges: h.title_ranges.into_iter().map(range).collect(),
        path: h.path,
        snippet: KbSnippet {
            text: h.snippet.text,
            ranges: h.snippet.ranges.into_iter().map(range).collect(),
            html: h.snippet.html,
        },
        tags: h.tags,
        service: h.service,
        ticket_id: h.ticket_id,
        ticket_state: h.ticket_state,
        score: h.score,
        matched_terms: h.matched_terms,
    }
}

fn result_dto(r: casebook_search::SearchResults) -> KbSearchResult {
    KbSearchResult {
        state: if r.rebuilding {
            KbIndexState::Rebuilding
        } else {
            KbIndexState::Ready
        },
        empty_query: r.empty_query,
        took_us: r.took_us,
        hits: r.hits.into_iter().map(hit_dto).collect(),
    }
}

fn source_dto(s: casebook_core::store::KbSourceRow) -> KbSource {
    let skipped = s
        .skipped
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| KbSkippedFile {
                    path: v["path"].as_str().unwrap_or_default().to_owned(),
                    reason: v["reason"].as_str().unwrap_or_default().to_owned(),
                })
                .collect()
        })
        .unwrap_or_default();
    KbSource {
        available: Path::new(&s.path).is_dir(),
        id: s.id,
        path: s.path,
        added_at: s.added_at,
        last_scan_at: s.last_scan_at,
        files_seen: s.files_seen,
        skipped,
    }
}

impl Casebook {
    /// Opens the knowledge base on first use. A missing or unusable index is created anew and
    /// filled: in the background for the app (searches say `rebuilding` meanwhile), before
    /// returning for the CLI.
    fn kb_runtime(&self) -> Result<Arc<KbRuntime>> {
        let inner = &self.inner;
        let mut slot = lock(&inner.kb.runtime);
        if let Some(rt) = slot.as_ref() {
            return Ok(Arc::clone(rt));
        }
        let (index, state) = KbIndex::open(&inner.home.join(KB_DIR))?;
        let background = inner.origin == crate::Origin::App;
        let sync = background.then(|| {
            let (tx, rx) = mpsc::channel();
            let weak = Arc::downgrade(&self.inner);
            let spawned = std::thread::Builder::new()
                .name("kb-sync".into())
                .spawn(move || sync_loop(weak, rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start the knowledge-base sync thread");
            }
            tx
        });
        let watch = if background {
            watch::start(Arc::downgrade(&self.inner))
        } else {
            None
        };
        let rt = Arc::new(KbRuntime {
            index,
            reconcile: Mutex::new(()),
            sync,
            watch,
        });
        *slot = Some(Arc::clone(&rt));
        drop(slot);
        if let Some(tx) = &rt.sync {
            // The app: bring the index up to date in the background.
            let _ = tx.send(SyncMsg::Everything);
        } else if state != OpenState::Existing {
            rt.index.set_rebuilding(true);
            reconcile_all(inner, &rt, &mut |_| {})?;
        }
        Ok(rt)
    }

    /// Indexes knowledge-base articles pulled by sync (issue 5) and removes retired ones
    /// (`retired`: upstream article ids). Blocking: call from the blocking pool.
    pub(crate) fn kb_index_articles(
        &self,
        articles: &[casebook_search::doc::KbArticle],
        retired: &[(String, String)],
    ) -> Result<()> {
        let rt = self.kb_runtime()?;
        let mut ops: Vec<WriteOp> = articles
            .iter()
            .map(|a| {
                let doc = casebook_search::doc::kb_article(a);
                WriteOp::Replace {
                    origin: doc.origin.clone(),
                    docs: vec![doc],
                }
            })
            .collect();
        ops.extend(
            retired
                .iter()
                .map(|(conn, id)| WriteOp::DeleteOrigin(format!("article:{conn}:{id}"))),
        );
        rt.index.apply(ops)?;
        Ok(())
    }

    /// The knowledge-base sweep of a connection's articles: removes every indexed article of
    /// the connection whose key is not in `keys` and does not start with one of `keep_prefixes`.
    /// Returns (removed, missing: keys the index does not hold). Blocking.
    pub(crate) fn kb_sweep_articles(
        &self,
        connection: &str,
        keys: &HashSet<String>,
        keep_prefixes: &[String],
    ) -> Result<(u64, u64)> {
        let rt = self.kb_runtime()?;
        let prefix = format!("article:{connection}:");
        let indexed = rt.index.fingerprints(&format!("articles:{connection}"))?;
        let mut have: HashSet<&str> = HashSet::with_capacity(indexed.len());
        let mut ops = Vec::new();
        for origin in indexed.keys() {
            let Some(key) = origin.strip_prefix(&prefix) else {
                continue;
            };
            have.insert(key);
            if !keys.contains(key) && !keep_prefixes.iter().any(|p| key.starts_with(p.as_str())) {
                ops.push(WriteOp::DeleteOrigin(origin.clone()));
            }
        }
        let missing = keys.iter().filter(|k| !have.contains(k.as_str())).count() as u64;
        let removed = ops.len() as u64;
        rt.index.apply(ops)?;
        Ok((removed, missing))
    }

    async fn kb_blocking<T, F>(&self, what: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Casebook, &KbRuntime) -> Result<T> + Send + 'static,
    {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let rt = me.kb_runtime()?;
            f(&me, &rt)
        })
        .await
        .map_err(|e| ApiError::internal(what, &e))?
    }

    /// Adds a runbook folder and indexes it. Returns what the scan found (files skipped with their
    /// reason). Adding a folder twice rescans it.
    pub async fn kb_add_folder(
        &self,
        path: String,
        progress: impl FnMut(Progress) + Send + 'static,
    ) -> Result<KbScanReport> {
        let mut progress = progress;
        self.kb_blocking("adding the folder", move |me, rt| {
            let raw = PathBuf::from(path.trim());
            let canonical = std::fs::canonicalize(&raw).map_err(|e| {
                ApiError::new(
                    ErrorCode::NotFound,
                    format!("cannot open the folder {}: {e}", raw.display()),
                )
            })?;
            if !canonical.is_dir() {
                return Err(ApiError::invalid(format!(
                    "{} is not a folder",
                    canonical.display()
                )));
            }
            let inner = &me.inner;
            let row = inner
                .store
                .kb_add_source(&canonical.to_string_lossy(), inner.clock.now())?;
            // Watched before it is scanned: a change made during the scan is not lost.
            rt.folders_changed();
            let _g = lock(&rt.reconcile);
            let started = Instant::now();
            let mut report = KbScanReport::default();
            scan_folder(
                inner,
                &rt.index,
                row.id,
                &canonical,
                &mut report,
                &mut progress,
            )?;
            report.documents = rt.index.num_docs();
            report.elapsed_ms = started.elapsed().as_millis() as u64;
            Ok(report)
        })
        .await
    }

    /// Removes a runbook folder and its documents from the index (the files are not touched).
    pub async fn kb_remove_folder(&self, id: i64) -> Result<()> {
        self.kb_blocking("removing the folder", move |me, rt| {
            if !me.inner.store.kb_remove_source(id)? {
                return Err(ApiError::new(
                    ErrorCode::NotFound,
                    format!("knowledge-base folder {id} not found"),
                ));
            }
            {
                let _g = lock(&rt.reconcile);
                rt.index
                    .apply(vec![WriteOp::DeleteGroup(format!("folder:{id}"))])?;
            }
            rt.folders_changed();
            Ok(())
        })
        .await
    }

    pub async fn kb_list_sources(&self) -> Result<Vec<KbSource>> {
        self.blocking("listing the knowledge-base folders", |i| {
            Ok(i.store.kb_sources()?.into_iter().map(source_dto).collect())
        })
        .await
    }

    /// The index's state, size and folders.
    pub async fn kb_status(&self) -> Result<KbStatus> {
        self.kb_blocking("reading the knowledge-base status", |me, rt| {
            Ok(KbStatus {
                state: if rt.index.is_rebuilding() {
                    KbIndexState::Rebuilding
                } else {
                    KbIndexState::Ready
                },
                documents: rt.index.num_docs(),
                size_bytes: rt.index.size_bytes(),
                sources: me
                    .inner
                    .store
                    .kb_sources()?
                    .into_iter()
                    .map(source_dto)
                    .collect(),
            })
        })
        .await
    }

    /// Rescans every folder and reconciles the past cases with the store. With `full`, the index
    /// is emptied first and everything is indexed again.
    pub async fn kb_reindex(
        &self,
        full: bool,
        progress: impl FnMut(Progress) + Send + 'static,
    ) -> Result<KbScanReport> {
        let mut progress = progress;
        self.kb_blocking("reindexing", move |me, rt| {
            if full {
                let _g = lock(&rt.reconcile);
                rt.index.set_rebuilding(true);
                let mut groups: Vec<WriteOp> = me
                    .inner
                    .store
                    .kb_sources()?
                    .iter()
                    .map(|s| WriteOp::DeleteGroup(format!("folder:{}", s.id)))
                    .collect();
                groups.push(WriteOp::DeleteGroup("tickets".into()));
                rt.index.apply(groups)?;
            }
            reconcile_all(&me.inner, rt, &mut progress)
        })
        .await
    }

    /// Searches the knowledge base.
    pub async fn kb_search(&self, input: KbSearchInput) -> Result<KbSearchResult> {
        if input.query.len() > 100_000 {
            return Err(ApiError::invalid(
                "the query is longer than 100,000 characters",
            ));
        }
        self.kb_blocking("searching", move |_, rt| {
            let req = SearchRequest {
                text: input.query,
                filters: Filters {
                    kinds: input.filters.kinds.into_iter().map(Into::into).collect(),
                    tags: input.filters.tags,
                    services: input.filters.services,
                    states: input.filters.ticket_states,
                    exclude_origins: Vec::new(),
                },
                limit: input.limit.unwrap_or(10).clamp(1, 100) as usize,
            };
            Ok(result_dto(rt.index.search(&req)?))
        })
        .await
    }

    /// Past cases and runbooks similar to a ticket (more-like-this over its title, description
    /// and comments), each with the terms it shares with the ticket.
    pub async fn kb_similar(&self, ticket_id: i64) -> Result<KbSearchResult> {
        self.kb_blocking("finding similar cases", move |me, rt| {
            let d = me.inner.store.ticket(ticket_id)?;
            let mut text = format!("{}\n{}", d.ticket.title, d.ticket.description);
            for c in &d.comments {
                text.push('\n');
                text.push_str(&c.body);
            }
            Ok(result_dto(rt.index.similar(
                &text,
                Some(&ticket_origin(ticket_id)),
                10,
            )?))
        })
        .await
    }

    /// Opens a document: runbooks rendered from their file (sanitized HTML with heading anchors
    /// and the section list), past cases and articles from the index (sanitized).
    pub async fn kb_get_document(&self, doc_id: String) -> Result<KbDocumentView> {
        self.kb_blocking("opening the document", move |me, rt| {
            let doc = rt.index.document(&doc_id)?.ok_or_else(|| {
                ApiError::new(ErrorCode::NotFound, format!("document {doc_id} not found"))
            })?;
            let mut view = KbDocumentView {
                doc_id: doc.id.clone(),
                kind: doc.kind.into(),
                title: doc.title.clone(),
                html: String::new(),
                sections: Vec::new(),
                anchor: doc.anchor.clone(),
                path: doc.path.clone(),
                tags: doc.tags.clone(),
                service: doc.service.clone(),
                owner: doc.owner.clone(),
                ticket_id: doc.ticket_id,
                ticket_key: None,
                url: None,
                links: Vec::new(),
            };
            match doc.kind {
                SourceKind::Runbook | SourceKind::RunbookSection => {
                    let file = runbook_file(&me.inner, &doc.origin)?;
                    let size = std::fs::metadata(&file).map(|m| m.len()).map_err(|e| {
                        ApiError::new(
                            ErrorCode::NotFound,
                            format!("the runbook {} cannot be read: {e}", file.display()),
                        )
                    })?;
                    let text = runbook::read_text(&file, size).map_err(|reason| {
                        ApiError::invalid(format!("the runbook {}: {reason}", file.display()))
                    })?;
                    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                    let (source, rel) = origin_parts(&doc.origin)?;
                    let r = runbook::render_at(&text, stem, rel);
                    for link in r.links {
                        let id = format!("rb:{source}:{}", link.path);
                        let known = rt.index.document(&id)?.is_some();
                        view.links.push(KbDocLink {
                            href: link.href,
                            path: link.path,
                            doc_id: known.then_some(id),
                            anchor: link.anchor,
                        });
                    }
                    view.title = r.title;
                    view.html = r.html;
                    view.sections = r
                        .sections
                        .into_iter()
                        .map(|s| KbSectionRef {
                            title: s.title,
                            anchor: s.anchor,
                            level: s.level,
                        })
                        .collect();
                }
                SourceKind::PastCase => {
                    view.ticket_key = doc.url.clone();
                    view.html = casebook_core::markdown::render(&doc.body);
                }
                SourceKind::KbArticle => {
                    view.url = doc.url.clone();
                    view.html =
                        casebook_core::markdown::sanitize(doc.html.as_deref().unwrap_or(""));
                }
            }
            Ok(view)
        })
        .await
    }

    /// Links a result to a ticket (`related`, `known_issue`, ...): a past case by its ticket key,
    /// a runbook or article by its document id. Returns the updated ticket.
    pub async fn kb_link(&self, input: KbLinkInput) -> Result<crate::dto::TicketView> {
        let ticket_id = input.ticket_id;
        let view = self
            .kb_blocking("linking the document", move |me, rt| {
                let doc = rt.index.document(&input.doc_id)?.ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::NotFound,
                        format!("document {} not found", input.doc_id),
                    )
                })?;
                let (target, title) = match doc.kind {
                    SourceKind::PastCase => (
                        doc.url.clone().unwrap_or_else(|| doc.id.clone()),
                        doc.title.clone(),
                    ),
                    _ => (
                        doc.id.clone(),
                        match &doc.section {
                            Some(s) => format!("{} › {s}", doc.title),
                            None => doc.title.clone(),
                        },
                    ),
                };
                if doc.ticket_id == Some(input.ticket_id) {
                    return Err(ApiError::invalid("a ticket cannot be linked to itself"));
                }
                let inner = &me.inner;
                let name = agent_name(&inner.store)?;
                inner.store.add_link(
                    input.ticket_id,
                    input.kind,
                    &target,
                    Some(&title),
                    &inner.actor(&name),
                )?;
                Ok(crate::dto::TicketView::from(
                    inner.store.ticket(input.ticket_id)?,
                ))
            })
            .await?;
        self.publish(crate::dto::ChangeKind::Tickets, vec![ticket_id]);
        Ok(view)
    }
}

/// The folder id and the folder-relative path of a runbook origin (`file:<id>:<path>`).
fn origin_parts(origin: &str) -> Result<(i64, &str)> {
    let mut it = origin.splitn(3, ':');
    let (Some("file"), Some(id), Some(rel)) = (it.next(), it.next(), it.next()) else {
        return Err(ApiError::invalid("not a runbook document"));
    };
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::invalid("not a runbook document"))?;
    Ok((id, rel))
}

/// The file behind a runbook origin, only inside a registered folder.
fn runbook_file(inner: &Inner, origin: &str) -> Result<PathBuf> {
    let (id, rel) = origin_parts(origin)?;
    let sources: HashMap<i64, String> = inner
        .store
        .kb_sources()?
        .into_iter()
        .map(|s| (s.id, s.path))
        .collect();
    let root = sources.get(&id).ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            "the runbook's folder is no longer in the knowledge base",
        )
    })?;
    if rel.split('/').any(|p| p == ".." || p.is_empty()) {
        return Err(ApiError::invalid("invalid runbook path"));
    }
    Ok(Path::new(root).join(rel))
}

/// Ticket states that make a past case (for filters in the UI).
pub const PAST_CASE_STATES: [TicketState; 2] = [TicketState::Resolved, TicketState::Closed];

/// Link kinds offered by the similar-cases panel.
pub const KB_LINK_KINDS: [LinkKind; 2] = [LinkKind::Related, LinkKind::KnownIssue];

#[cfg(test)]
mod racy_tests {
    use super::*;

    #[test]
    fn a_recent_file_is_recorded_without_its_time_so_it_is_read_again() {
        let now = 1_800_000_000_000;
        assert_eq!(recorded_mtime(now - 10, now), 0);
        assert_eq!(recorded_mtime(now - RACY_MS + 1, now), 0);
        // A clock set back, or a file from the future: also read again.
        assert_eq!(recorded_mtime(now + 5_000, now), 0);
        assert_eq!(recorded_mtime(now - RACY_MS, now), now - RACY_MS);
        assert_eq!(recorded_mtime(1_000, now), 1_000);
    }
}
