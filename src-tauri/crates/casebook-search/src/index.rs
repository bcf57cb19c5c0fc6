//! The index on disk: opening (with schema-version and corruption checks), the single writer
//! thread that owns the `IndexWriter`, and what the index holds (fingerprints per origin).
//!
//! Layout under the knowledge-base folder: `CURRENT` names the live index directory
//! (`index-<n>`). A rebuild creates a new directory and switches `CURRENT` atomically (write a
//! temporary file, rename), then removes the old one; directories not named by `CURRENT` are
//! leftovers of an interrupted rebuild and are removed at open. Every tantivy commit is atomic,
//! so a process killed mid-indexing leaves the last committed state, which the next
//! reconciliation completes.

use crate::doc::{KbDocument, SourceKind};
use crate::schema::{self, Fields, SCHEMA_VERSION};
use crate::{Result, SearchError};
use std::collections::HashMap;
use std::ops::{Bound, RangeInclusive};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tantivy::collector::DocSetCollector;
use tantivy::indexer::IndexWriterOptions;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

const CURRENT: &str = "CURRENT";
/// Memory the writer may use before flushing a segment: half of it per indexing thread.
const WRITER_HEAP: usize = 96 * 1024 * 1024;
/// Threads merging segments in the background (tantivy's default is 4). Each thread allocates
/// in a malloc arena of its own, and with four of them (plus a document-store compressor thread
/// started for every new segment) the heap that a reconcile of past cases freed but the
/// allocator kept grew with the number of commits: 74 / 109 / 140 MiB after the knowledge-base
/// step at 20k / 50k / 100k tickets, against 70 / 79 / 83 MiB with one merge thread and the
/// compression on the indexing threads (`casebook bench sync`, docs/sync.md). Merging is
/// background work; one thread keeps up.
const MERGE_THREADS: usize = 1;
/// The writer thread releases the index lock after this long without work (so that another
/// process, such as the CLI, can write).
const WRITER_IDLE: Duration = Duration::from_secs(20);

/// A change to the index. Documents are replaced per origin (a runbook file with its sections, a
/// ticket, an article), so an edit never leaves stale sections behind.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Delete everything of `origin`, then add `docs` (which must all carry that origin).
    Replace {
        origin: String,
        docs: Vec<KbDocument>,
    },
    DeleteOrigin(String),
    /// Delete every document of a group (`folder:<id>`, `tickets`, `articles:<conn>`).
    DeleteGroup(String),
}

/// Why the index was (re)created at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenState {
    /// The index was there and sound.
    Existing,
    /// There was none: a new, empty one was created.
    Created,
    /// The index had another schema version or could not be read: a new, empty one replaced it
    /// and must be filled (the reason says why).
    Rebuilt { reason: String },
}

enum Cmd {
    Apply(Vec<WriteOp>, Sender<Result<u64>>),
}

/// The live index: a reader for searches and a channel to the writer thread.
pub struct KbIndex {
    pub(crate) index: Index,
    pub(crate) reader: IndexReader,
    pub(crate) fields: Fields,
    dir: PathBuf,
    writer: Mutex<Option<(Sender<Cmd>, std::thread::JoinHandle<()>)>>,
    rebuilding: Arc<AtomicBool>,
    threads: usize,
    /// How long the writer thread waits for work before it consolidates and then stops.
    idle: Duration,
    columns: Mutex<HashMap<tantivy::index::SegmentId, Option<SegmentColumns>>>,
}

impl std::fmt::Debug for KbIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KbIndex")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> SearchError {
    SearchError::Io {
        what: format!("{what} {}", path.display()),
        source: e,
    }
}

impl KbIndex {
    /// Opens the index under `kb_dir` (created when missing). An index with another schema
    /// version, or one that cannot be read, is replaced by an empty one ([`OpenState::Rebuilt`]);
    /// until the caller has refilled it and called [`KbIndex::set_rebuilding`]`(false)`, searches
    /// report that the index is rebuilding.
    pub fn open(kb_dir: &Path) -> Result<(KbIndex, OpenState)> {
        std::fs::create_dir_all(kb_dir).map_err(|e| io_err("creating", kb_dir, e))?;
        let current = std::fs::read_to_string(kb_dir.join(CURRENT))
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| s.starts_with("index-") && !s.contains(['/', '\\', '.']));
        let (index, state) = match &current {
            None => (Self::create_new(kb_dir)?, OpenState::Created),
            Some(name) => match Self::open_existing(&kb_dir.join(name)) {
                Ok(index) => (index, OpenState::Existing),
                Err(reason) => {
                    tracing::warn!(%reason, "knowledge-base index unusable; rebuilding");
                    (Self::create_new(kb_dir)?, OpenState::Rebuilt { reason })
                }
            },
        };
        remove_leftovers(kb_dir);
        let mut index = index;
        // Compress the document store on the indexing threads rather than on a thread started
        // for every new segment (see `MERGE_THREADS`). A setting of this process, not of the
        // files: it applies to existing indexes too.
        index.settings_mut().docstore_compress_dedicated_thread = false;
        let fields = schema::fields_of(&index.schema()).ok_or_else(|| SearchError::Corrupt {
            reason: "the index schema is not Casebook's".into(),
        })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(SearchError::tantivy("opening the index reader"))?;
        let rebuilding = Arc::new(AtomicBool::new(matches!(state, OpenState::Rebuilt { .. })));
        Ok((
            KbIndex {
                index,
                reader,
                fields,
                dir: kb_dir.to_owned(),
                writer: Mutex::new(None),
                rebuilding,
                threads: 2,
                idle: WRITER_IDLE,
                columns: Mutex::default(),
            },
            state,
        ))
    }

    fn open_existing(dir: &Path) -> std::result::Result<Index, String> {
        let index = Index::open_in_dir(dir).map_err(|e| format!("cannot open the index: {e}"))?;
        let metas = index
            .load_metas()
            .map_err(|e| format!("cannot read the index metadata: {e}"))?;
        let version = metas
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .and_then(|v| v.get("schema").and_then(|s| s.as_u64()));
        if version != Some(u64::from(SCHEMA_VERSION)) {
            return Err(format!(
                "index schema version {} (this build uses {SCHEMA_VERSION})",
                version.map_or("unknown".to_owned(), |v| v.to_string())
            ));
        }
        if schema::fields_of(&index.schema()).is_none() {
            return Err("the index schema is not Casebook's".into());
        }
        schema::register(&index);
        // Opening a searcher opens every segment: missing or truncated files show here.
        let reader: IndexReader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| format!("cannot read the index: {e}"))?;
        let searcher = reader.searcher();
        for seg in searcher.segment_readers() {
            seg.get_store_reader(1)
                .map_err(|e| format!("cannot read a segment's documents: {e}"))?;
        }
        Ok(index)
    }

    fn create_new(kb_dir: &Path) -> Result<Index> {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!("index-{n}");
        let dir = kb_dir.join(&name);
        std::fs::create_dir_all(&dir).map_err(|e| io_err("creating", &dir, e))?;
        let (schema, _) = schema::build();
        let index = Index::create_in_dir(&dir, schema)
            .map_err(SearchError::tantivy("creating the index"))?;
        schema::register(&index);
        // An empty first commit stores the schema version.
        let mut w: IndexWriter<TantivyDocument> = index
            .writer_with_num_threads(1, 15_000_000)
            .map_err(SearchError::tantivy("opening the index writer"))?;
        commit_with_payload(&mut w)?;
        drop(w);
        // Switch CURRENT atomically.
        let tmp = kb_dir.join("CURRENT.tmp");
        std::fs::write(&tmp, &name).map_err(|e| io_err("writing", &tmp, e))?;
        if let Ok(f) = std::fs::File::open(&tmp) {
            let _ = f.sync_all();
        }
        std::fs::rename(&tmp, kb_dir.join(CURRENT)).map_err(|e| io_err("switching", &tmp, e))?;
        if let Ok(d) = std::fs::File::open(kb_dir) {
            let _ = d.sync_all();
        }
        Ok(index)
    }

    /// Number of indexing threads of the writer (default 2; the bench may raise it).
    pub fn set_writer_threads(&mut self, n: usize) {
        self.threads = n.clamp(1, 8);
    }

    /// The writer's idle period (tests shorten it).
    #[cfg(test)]
    pub(crate) fn set_writer_idle(&mut self, idle: Duration) {
        self.idle = idle;
    }

    pub fn is_rebuilding(&self) -> bool {
        self.rebuilding.load(Ordering::Relaxed)
    }

    pub fn set_rebuilding(&self, on: bool) {
        self.rebuilding.store(on, Ordering::Relaxed);
    }

    /// Searchable documents (sections count separately).
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Bytes the index takes on disk.
    pub fn size_bytes(&self) -> u64 {
        let Ok(name) = std::fs::read_to_string(self.dir.join(CURRENT)) else {
            return 0;
        };
        dir_size(&self.dir.join(name.trim()))
    }

    /// The per-segment columns of `searcher`'s segments, by segment ordinal (`None` for a segment
    /// without them). Cached across searches; entries of merged-away segments are dropped.
    pub(crate) fn segment_columns(
        &self,
        searcher: &tantivy::Searcher,
    ) -> Vec<Option<SegmentColumns>> {
        let mut cache = self.columns.lock().unwrap_or_else(PoisonError::into_inner);
        let readers = searcher.segment_readers();
        if cache.len() > readers.len() * 2 + 8 {
            let live: std::collections::HashSet<_> =
                readers.iter().map(|r| r.segment_id()).collect();
            cache.retain(|id, _| live.contains(id));
        }
        readers
            .iter()
            .map(|r| {
                cache
                    .entry(r.segment_id())
                    .or_insert_with(|| SegmentColumns::open(r))
                    .clone()
            })
            .collect()
    }

    /// Stops the writer thread once its queued work is committed, waits for its background segment
    /// merges, consolidates the segments as the idle writer would ([`consolidation`]) and reloads
    /// the reader, so searches see the index as the app has it once indexing is over. Returns the
    /// number of segments. (A later `apply` starts a new writer.)
    pub fn settle(&self) -> Result<usize> {
        let taken = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((tx, handle)) = taken {
            drop(tx);
            // The thread ends when no sender is left; its end waits for the merges.
            let _ = handle.join();
        }
        // What the writer would do once idle: consolidate the segments (another process
        // holding the index lock just leaves them as they are).
        if let Ok(mut w) = self.index.writer_with_num_threads(1, 15_000_000) {
            if let Err(e) = consolidate(&mut w, &self.reader) {
                tracing::warn!(error = %e, "consolidating the index segments failed");
            }
            if let Err(e) = w.wait_merging_threads() {
                tracing::warn!(error = %e, "index merges did not finish cleanly");
            }
        }
        self.reader
            .reload()
            .map_err(SearchError::tantivy("reloading the reader"))?;
        Ok(self.reader.searcher().segment_readers().len())
    }

    /// Applies changes and commits them; returns when they are searchable. The writer thread is
    /// started on first use and stops after a while without work.
    pub fn apply(&self, ops: Vec<WriteOp>) -> Result<u64> {
        if ops.is_empty() {
            return Ok(0);
        }
        let mut ops = Some(ops);
        for _ in 0..2 {
            let tx = self.writer_sender()?;
            let (reply_tx, reply_rx) = mpsc::channel();
            let Some(batch) = ops.take() else { break };
            match tx.send(Cmd::Apply(batch, reply_tx)) {
                Ok(()) => {
                    return reply_rx.recv().map_err(|_| SearchError::WriterGone)?;
                }
                Err(mpsc::SendError(Cmd::Apply(batch, _))) => {
                    // The thread had just stopped (idle): start a new one and retry once.
                    ops = Some(batch);
                    let old = self
                        .writer
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take();
                    if let Some((_, handle)) = old {
                        let _ = handle.join();
                    }
                }
            }
        }
        Err(SearchError::WriterGone)
    }

    fn writer_sender(&self) -> Result<Sender<Cmd>> {
        let mut slot = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((tx, handle)) = slot.as_ref()
            && !handle.is_finished()
        {
            return Ok(tx.clone());
        }
        if let Some((_, old)) = slot.take() {
            let _ = old.join();
        }
        let writer: IndexWriter<TantivyDocument> = self
            .index
            .writer_with_options(
                IndexWriterOptions::builder()
                    .num_worker_threads(self.threads)
                    .memory_budget_per_thread(WRITER_HEAP / 2)
                    .num_merge_threads(MERGE_THREADS)
                    .build(),
            )
            .map_err(|e| match e {
                tantivy::TantivyError::LockFailure(..) => SearchError::Busy,
                other => SearchError::Tantivy {
                    what: "opening the index writer".into(),
                    source: other,
                },
            })?;
        let (tx, rx) = mpsc::channel();
        let reader = self.reader.clone();
        let fields = self.fields;
        let idle = self.idle;
        let handle = std::thread::Builder::new()
            .name("kb-writer".into())
            .spawn(move || writer_loop(writer, rx, reader, fields, idle))
            .map_err(|e| SearchError::Io {
                what: "starting the index writer thread".into(),
                source: e,
            })?;
        *slot = Some((tx.clone(), handle));
        Ok(tx)
    }

    /// Fingerprint and modification time of every origin of a group that the index holds (what
    /// the last committed indexing saw). A reconciliation compares them with the sources.
    pub fn fingerprints(&self, group: &str) -> Result<HashMap<String, (u64, i64)>> {
        self.fingerprints_of(group, None)
    }

    /// The fingerprint (the ticket's revision) of every past case whose ticket id is in `ids`,
    /// by origin: one batch of a reconciliation that walks the tickets in id order, so that it
    /// never holds the fingerprints of every ticket at once.
    pub fn ticket_fingerprints(&self, ids: RangeInclusive<i64>) -> Result<HashMap<String, u64>> {
        Ok(self
            .fingerprints_of("tickets", Some(ids))?
            .into_iter()
            .map(|(origin, (fp, _))| (origin, fp))
            .collect())
    }

    fn fingerprints_of(
        &self,
        group: &str,
        ticket_ids: Option<RangeInclusive<i64>>,
    ) -> Result<HashMap<String, (u64, i64)>> {
        let searcher = self.reader.searcher();
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.group, group),
                    IndexRecordOption::Basic,
                )),
            ),
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_u64(f.root, 1),
                    IndexRecordOption::Basic,
                )),
            ),
        ];
        if let Some(ids) = ticket_ids {
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_i64(f.ticket_id, *ids.start())),
                    Bound::Included(Term::from_field_i64(f.ticket_id, *ids.end())),
                )),
            ));
        }
        let q = BooleanQuery::new(clauses);
        let docs = searcher
            .search(&q, &DocSetCollector)
            .map_err(SearchError::tantivy("reading the index contents"))?;
        let mut by_segment: HashMap<u32, Vec<u32>> = HashMap::new();
        for d in docs {
            by_segment.entry(d.segment_ord).or_default().push(d.doc_id);
        }
        let mut out = HashMap::new();
        let mut buf = String::new();
        for (seg, docs) in by_segment {
            let reader = searcher.segment_reader(seg);
            let ff = reader.fast_fields();
            let updated = ff
                .i64("updated")
                .map_err(SearchError::tantivy("reading modification times"))?;
            let fp = ff
                .u64("fp")
                .map_err(SearchError::tantivy("reading fingerprints"))?;
            let Some(origin) = ff
                .str("origin")
                .map_err(SearchError::tantivy("reading origins"))?
            else {
                continue;
            };
            for d in docs {
                let Some(ord) = origin.ords().first(d) else {
                    continue;
                };
                if origin.ord_to_str(ord, &mut buf).unwrap_or(false) {
                    out.insert(
                        buf.clone(),
                        (fp.first(d).unwrap_or(0), updated.first(d).unwrap_or(0)),
                    );
                }
            }
        }
        Ok(out)
    }

    /// Checks that every origin has exactly one whole document (no duplicate left by an
    /// interrupted update). Returns the origins that do not.
    pub fn duplicate_origins(&self) -> Result<Vec<String>> {
        let searcher = self.reader.searcher();
        let mut counts: HashMap<String, u32> = HashMap::new();
        let mut buf = String::new();
        for reader in searcher.segment_readers() {
            let ff = reader.fast_fields();
            let root = ff
                .u64("root")
                .map_err(SearchError::tantivy("reading the index"))?;
            let Some(origin) = ff
                .str("origin")
                .map_err(SearchError::tantivy("reading the index"))?
            else {
                continue;
            };
            let alive = reader.alive_bitset();
            for d in 0..reader.max_doc() {
                if alive.is_some_and(|a| a.is_deleted(d)) || root.first(d) != Some(1) {
                    continue;
                }
                if let Some(ord) = origin.ords().first(d)
                    && origin.ord_to_str(ord, &mut buf).unwrap_or(false)
                {
                    *counts.entry(buf.clone()).or_default() += 1;
                }
            }
        }
        let mut dups: Vec<String> = counts
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(o, _)| o)
            .collect();
        dups.sort();
        Ok(dups)
    }
}

impl Drop for KbIndex {
    /// Stops the writer thread and waits for it, so the index lock is free when this returns.
    fn drop(&mut self) {
        let taken = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((tx, handle)) = taken {
            drop(tx);
            let _ = handle.join();
        }
    }
}

fn commit_with_payload(w: &mut IndexWriter<TantivyDocument>) -> Result<u64> {
    let mut prepared = w
        .prepare_commit()
        .map_err(SearchError::tantivy("committing"))?;
    prepared.set_payload(&serde_json::json!({ "schema": SCHEMA_VERSION }).to_string());
    prepared
        .commit()
        .map_err(SearchError::tantivy("committing"))
}

fn writer_loop(
    mut writer: IndexWriter<TantivyDocument>,
    rx: Receiver<Cmd>,
    reader: IndexReader,
    fields: Fields,
    idle: Duration,
) {
    // Changes were committed since the segments were last consolidated; idle attempts left.
    let mut unconsolidated = false;
    let mut attempts = 0;
    loop {
        let cmd = match rx.recv_timeout(idle) {
            Ok(c) => c,
            Err(RecvTimeoutError::Timeout) if unconsolidated && attempts < 3 => {
                // Idle after changes: merge the segments the merge policy left behind (see
                // `consolidation`). While the policy's own merges still run, the segments are
                // busy: try again after another idle period.
                attempts += 1;
                match consolidate(&mut writer, &reader) {
                    Ok(false) => break,
                    // Changes sent during the merge are taken; the next idle period ends.
                    Ok(true) => {
                        unconsolidated = false;
                        continue;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "segments busy; consolidating later");
                        continue;
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => break,
        };
        unconsolidated = true;
        attempts = 0;
        let Cmd::Apply(ops, reply) = cmd;
        let result = apply_ops(&mut writer, &fields, ops).and_then(|n| {
            commit_with_payload(&mut writer)?;
            reader
                .reload()
                .map_err(SearchError::tantivy("reloading the reader"))?;
            Ok(n)
        });
        if result.is_err() {
            // Drop what this batch added so a later commit does not publish half of it.
            let _ = writer.rollback();
        }
        let _ = reply.send(result);
    }
    // Dropping the writer waits for merges and releases the lock.
    if let Err(e) = writer.wait_merging_threads() {
        tracing::warn!(error = %e, "index merges did not finish cleanly");
    }
    // Searches see the merged segments.
    if let Err(e) = reader.reload() {
        tracing::warn!(error = %e, "reloading the index reader after merges failed");
    }
}

/// Which committed segments to merge when the writer goes idle (`sizes`: live documents per
/// segment), or nothing.
///
/// tantivy's log merge policy merges segments of similar size eight at a time, so a bulk
/// indexing leaves a tail of unmerged segments (at 1M documents: 2 × 400k and 4 × 50k). Every
/// segment costs each search its own term lookups, posting-list setup and block-max WAND pass
/// (at 1M documents one segment instead of six took the median search from 1.2 to 0.85 ms).
/// Idle, the index is therefore consolidated:
/// - into one segment when the segments besides the largest hold at least an eighth of its
///   documents (a full rewrite, at most once per eighth of new documents);
/// - otherwise the smaller segments into one (a cost proportional to them, not to the index),
///   so a trickle of changes does not rewrite a large index every time.
///
/// Segments past [`MAX_MERGE_DOCS`] stay as they are.
pub(crate) fn consolidation(sizes: &[u32]) -> Option<Vec<usize>> {
    let mut order: Vec<usize> = (0..sizes.len())
        .filter(|&i| (sizes[i] as usize) < MAX_MERGE_DOCS)
        .collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    if order.len() < 2 {
        return None;
    }
    let largest = u64::from(sizes[order[0]]);
    let rest: u64 = order[1..].iter().map(|&i| u64::from(sizes[i])).sum();
    if rest * 8 >= largest {
        if largest + rest > MAX_MERGE_DOCS as u64 {
            return None;
        }
        Some(order)
    } else if order.len() > 2 {
        Some(order[1..].to_vec())
    } else {
        None
    }
}

/// Largest segment (live documents) an idle consolidation produces (tantivy's log merge policy
/// stops at 10M as well).
const MAX_MERGE_DOCS: usize = 10_000_000;

/// Merges the segments [`consolidation`] chooses (waits for the merge), then points `reader` at
/// the result and deletes the merged-away files; whether there was anything to merge. Fails when
/// one of them is being merged already.
fn consolidate(
    writer: &mut IndexWriter<TantivyDocument>,
    reader: &IndexReader,
) -> tantivy::Result<bool> {
    let metas = writer.index().searchable_segment_metas()?;
    let sizes: Vec<u32> = metas.iter().map(|m| m.num_docs()).collect();
    let Some(pick) = consolidation(&sizes) else {
        return Ok(false);
    };
    let ids: Vec<tantivy::index::SegmentId> = pick.into_iter().map(|i| metas[i].id()).collect();
    drop(metas);
    writer.merge(&ids).wait()?;
    // The files of the merged segments are kept while a searcher holds them: reload first.
    reader.reload()?;
    writer.garbage_collect_files().wait()?;
    Ok(true)
}

fn apply_ops(w: &mut IndexWriter<TantivyDocument>, f: &Fields, ops: Vec<WriteOp>) -> Result<u64> {
    let mut added = 0;
    for op in ops {
        match op {
            WriteOp::Replace { origin, docs } => {
                w.delete_term(Term::from_field_text(f.origin, &origin));
                for d in docs {
                    if d.origin != origin {
                        return Err(SearchError::Invalid(format!(
                            "document {} does not belong to {origin}",
                            d.id
                        )));
                    }
                    w.add_document(to_tantivy(f, &d))
                        .map_err(SearchError::tantivy("adding a document"))?;
                    added += 1;
                }
            }
            WriteOp::DeleteOrigin(origin) => {
                w.delete_term(Term::from_field_text(f.origin, &origin));
            }
            WriteOp::DeleteGroup(group) => {
                w.delete_term(Term::from_field_text(f.group, &group));
            }
        }
    }
    Ok(added)
}

/// The number results are collapsed by (see [`Fields::origin_key`]).
pub fn origin_key(origin: &str) -> u64 {
    crate::runbook::fingerprint(origin.as_bytes())
}

/// The fast columns a search reads for each candidate, opened once per segment (segments never
/// change) instead of once per query.
#[derive(Clone)]
pub(crate) struct SegmentColumns {
    /// Kind of each term ordinal of the `kind` column (a handful of values).
    pub kind_of_ord: Vec<Option<SourceKind>>,
    pub kind: tantivy::columnar::StrColumn,
    pub origin_key: tantivy::columnar::Column<u64>,
}

impl SegmentColumns {
    fn open(reader: &tantivy::SegmentReader) -> Option<SegmentColumns> {
        let ff = reader.fast_fields();
        let kind = ff.str("kind").ok()??;
        let origin_key = ff.u64("origin_key").ok()?;
        let mut buf = String::new();
        let kind_of_ord = (0..kind.num_terms() as u64)
            .map(|ord| {
                kind.ord_to_str(ord, &mut buf)
                    .ok()
                    .filter(|found| *found)
                    .and_then(|_| buf.parse().ok())
            })
            .collect();
        Some(SegmentColumns {
            kind_of_ord,
            kind,
            origin_key,
        })
    }

    /// Kind and origin key of a document of this segment.
    pub fn get(&self, doc: tantivy::DocId) -> Option<(SourceKind, u64)> {
        let ord = self.kind.ords().first(doc)?;
        let kind = (*self.kind_of_ord.get(usize::try_from(ord).ok()?)?)?;
        Some((kind, self.origin_key.first(doc)?))
    }
}

/// Maps a document to its tantivy form.
pub fn to_tantivy(f: &Fields, d: &KbDocument) -> TantivyDocument {
    let mut t = TantivyDocument::default();
    t.add_text(f.id, &d.id);
    t.add_text(f.kind, d.kind.as_str());
    t.add_text(f.origin, &d.origin);
    t.add_u64(f.origin_key, origin_key(&d.origin));
    t.add_text(f.group, schema::group_of(&d.origin));
    let root = matches!(
        d.kind,
        SourceKind::Runbook | SourceKind::PastCase | SourceKind::KbArticle
    );
    t.add_u64(f.root, u64::from(root));
    t.add_u64(f.fp, d.fingerprint);
    t.add_text(f.title, &d.title);
    // A title that is an alert name (`ClusterOperatorDown`) also counts by its words.
    let split: Vec<String> = d
        .title
        .split_whitespace()
        .filter_map(crate::runbook::split_identifier)
        .collect();
    if !split.is_empty() {
        t.add_text(f.title, split.join(" "));
    }
    for h in &d.headings {
        t.add_text(f.headings, h);
    }
    // Names: the path, identifiers and their split forms (`KubePodCrashLooping` also as
    // `kube pod crash looping`), so both the exact name and its words match.
    if !d.path.is_empty() {
        let no_ext = d.path.trim_end_matches(".md").trim_end_matches(".markdown");
        t.add_text(f.names, no_ext);
        let split: Vec<String> = no_ext
            .split(['/', '.', '-', '_'])
            .filter_map(crate::runbook::split_identifier)
            .collect();
        if !split.is_empty() {
            t.add_text(f.names, split.join(" "));
        }
    }
    for id in &d.identifiers {
        t.add_text(f.names, id);
        if let Some(s) = crate::runbook::split_identifier(id) {
            t.add_text(f.names, s);
        }
        t.add_text(f.identifiers, id);
    }
    t.add_text(f.body, &d.body);
    // Compounds written with `_`, `-` or `.` (`NX_DOMAIN`, `Back-off`) are split by the
    // tokenizer; their joined form is indexed too so that `NXDOMAIN` or `backoff` finds them.
    let joined = joined_compounds(&d.title, &d.body);
    if !joined.is_empty() {
        t.add_text(f.body, joined);
    }
    t.add_text(f.path, &d.path);
    for tag in &d.tags {
        t.add_text(f.tags, tag);
    }
    if let Some(s) = &d.service {
        t.add_text(f.service, s.to_lowercase());
    }
    if let Some(s) = d.ticket_state {
        t.add_text(f.state, s.as_str());
    }
    if let Some(id) = d.ticket_id {
        t.add_i64(f.ticket_id, id);
    }
    for (field, v) in [
        (f.url, &d.url),
        (f.anchor, &d.anchor),
        (f.section, &d.section),
        (f.owner, &d.owner),
        (f.html, &d.html),
    ] {
        if let Some(v) = v {
            t.add_text(field, v);
        }
    }
    t.add_i64(f.updated, d.updated_at);
    t
}

/// The joined forms of `a_b`, `a-b`, `a.b` compounds in the text (lower-case, deduplicated).
pub fn joined_compounds(title: &str, body: &str) -> String {
    // Fast path (most texts): no `_`, `-` or `.` between two letters or digits, so no compound.
    if !has_compound(title) && !has_compound(body) {
        return String::new();
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    for word in title.split_whitespace().chain(body.split_whitespace()) {
        let core = word.trim_matches(|c: char| !c.is_alphanumeric());
        if !core.contains(['_', '-', '.']) || core.len() > 64 {
            continue;
        }
        let parts: Vec<&str> = core.split(['_', '-', '.']).collect();
        if parts.len() < 2
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.chars().all(char::is_alphanumeric))
            || !core.chars().any(char::is_alphabetic)
        {
            continue;
        }
        let j = parts.concat().to_lowercase();
        if seen.len() < 1_000 && seen.insert(j.clone()) {
            out.push_str(&j);
            out.push(' ');
        }
    }
    out
}

/// True when `_`, `-` or `.` sits between two alphanumeric characters somewhere in `text` (a
/// necessary condition for a compound); non-ASCII neighbours count as possibly alphanumeric.
fn has_compound(text: &str) -> bool {
    let b = text.as_bytes();
    let maybe_alnum = |c: u8| c.is_ascii_alphanumeric() || c >= 0x80;
    b.windows(3)
        .any(|w| matches!(w[1], b'_' | b'-' | b'.') && maybe_alnum(w[0]) && maybe_alnum(w[2]))
}

fn remove_leftovers(kb_dir: &Path) {
    let current = std::fs::read_to_string(kb_dir.join(CURRENT)).unwrap_or_default();
    let current = current.trim();
    let Ok(entries) = std::fs::read_dir(kb_dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("index-")
            && name != current
            && let Err(err) = std::fs::remove_dir_all(e.path())
        {
            tracing::warn!(error = %err, dir = %name, "cannot remove an old index");
        }
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn compounds_are_joined_and_plain_text_skips_the_scan() {
        assert_eq!(
            joined_compounds("NX_DOMAIN answers", "Back-off restarting; see db-01.prod."),
            "nxdomain backoff db01prod "
        );
        // Non-ASCII letters on either side of the separator.
        assert_eq!(joined_compounds("", "café-crème"), "cafécrème ");
        // Sentences, dashes between spaces and leading/trailing punctuation are not compounds.
        assert_eq!(
            joined_compounds("Disk full.", "It failed. Retry - later _now_ -x y- ...dots"),
            ""
        );
        assert!(!has_compound("It failed. Retry - later"));
        assert!(has_compound("a.b"));
        assert!(has_compound("é_b"));
    }

    fn case(id: i64, revision: u64) -> WriteOp {
        let origin = crate::doc::ticket_origin(id);
        let mut d = KbDocument::new(
            format!("case:{id}"),
            SourceKind::PastCase,
            &origin,
            "a case",
        );
        d.ticket_id = Some(id);
        d.fingerprint = revision;
        WriteOp::Replace {
            origin,
            docs: vec![d],
        }
    }

    #[test]
    fn idle_consolidation_merges_the_tail_and_never_rewrites_a_large_index_for_a_trickle() {
        // What a 1M bulk indexing leaves (2 × 400k and 4 × 50k): everything into one.
        let bulk = [399_433, 399_352, 54_134, 51_514, 48_486, 45_866];
        assert_eq!(consolidation(&bulk), Some(vec![0, 1, 2, 3, 4, 5]));
        // A large segment and a trickle of small ones: only the small ones, together.
        assert_eq!(consolidation(&[30, 1_000_000, 12, 5]), Some(vec![0, 2, 3]));
        // …until they hold an eighth of the largest: then one full merge.
        assert_eq!(
            consolidation(&[125_000, 1_000_000]),
            Some(vec![1, 0]),
            "an eighth"
        );
        assert_eq!(consolidation(&[124_999, 1_000_000]), None);
        // One segment, or none: nothing to do.
        assert_eq!(consolidation(&[1_000_000]), None);
        assert_eq!(consolidation(&[]), None);
        // A segment past the size limit stays; the others are still merged together.
        assert_eq!(
            consolidation(&[MAX_MERGE_DOCS as u32, 10, 20]),
            Some(vec![2, 1])
        );
        assert_eq!(
            consolidation(&[MAX_MERGE_DOCS as u32 - 1, 2_000_000]),
            None,
            "the merged segment would pass the limit"
        );
    }

    fn printer_case(id: i64) -> WriteOp {
        let mut d = KbDocument::new(
            format!("case:{id}"),
            SourceKind::PastCase,
            format!("ticket:{id}"),
            format!("printer {id} offline"),
        );
        d.body = "the spooler stopped".into();
        WriteOp::Replace {
            origin: d.origin.clone(),
            docs: vec![d],
        }
    }

    #[test]
    fn ticket_fingerprints_are_read_for_an_id_range_only() {
        let dir = tempfile::tempdir().unwrap();
        let (index, _) = KbIndex::open(dir.path()).unwrap();
        let mut article = KbDocument::new("kb:1:KB1", SourceKind::KbArticle, "article:1:KB1", "x");
        article.ticket_id = Some(5);
        index
            .apply(vec![
                case(1, 10),
                case(5, 50),
                case(9, 90),
                case(i64::MAX, 7),
                WriteOp::Replace {
                    origin: article.origin.clone(),
                    docs: vec![article],
                },
            ])
            .unwrap();
        let fps = |r: RangeInclusive<i64>| {
            let mut v: Vec<(String, u64)> =
                index.ticket_fingerprints(r).unwrap().into_iter().collect();
            v.sort();
            v
        };
        // Both ends included; other groups (the article) never count.
        assert_eq!(
            fps(5..=9),
            vec![("ticket:5".to_owned(), 50), ("ticket:9".to_owned(), 90)]
        );
        assert_eq!(fps(i64::MIN..=4), vec![("ticket:1".to_owned(), 10)]);
        assert_eq!(
            fps(10..=i64::MAX),
            vec![(format!("ticket:{}", i64::MAX), 7)]
        );
        assert!(fps(2..=4).is_empty());
        // A replaced case shows its new revision, a deleted one is gone.
        index
            .apply(vec![case(5, 51), WriteOp::DeleteOrigin("ticket:9".into())])
            .unwrap();
        assert_eq!(fps(2..=100), vec![("ticket:5".to_owned(), 51)]);
        assert_eq!(index.fingerprints("tickets").unwrap().len(), 3);
    }

    #[allow(clippy::disallowed_methods)] // a plain test thread waiting on the writer thread
    fn pause() {
        std::thread::sleep(Duration::from_millis(50));
    }

    fn segments(index: &KbIndex) -> usize {
        index.reader.searcher().segment_readers().len()
    }

    #[test]
    fn the_idle_writer_consolidates_the_segments_and_releases_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let (mut index, _) = KbIndex::open(dir.path()).unwrap();
        index.set_writer_idle(Duration::from_millis(300));
        // One commit per batch, and a delete: several segments, one with a deleted document.
        for id in 0..12 {
            index.apply(vec![printer_case(id)]).unwrap();
        }
        index
            .apply(vec![WriteOp::DeleteOrigin("ticket:3".into())])
            .unwrap();
        assert!(segments(&index) > 1, "{}", segments(&index));
        let started = std::time::Instant::now();
        while segments(&index) > 1 && started.elapsed() < Duration::from_secs(30) {
            pause();
        }
        assert_eq!(segments(&index), 1, "not consolidated while idle");
        let searcher = index.reader.searcher();
        assert_eq!(searcher.num_docs(), 11);
        // The merged segment holds no deleted document.
        assert_eq!(searcher.segment_readers()[0].max_doc(), 11);
        drop(searcher);
        // The writer stopped after another idle period: another process may write.
        let started = std::time::Instant::now();
        let free = loop {
            match index.index.writer::<TantivyDocument>(15_000_000) {
                Ok(w) => break Some(w),
                Err(_) if started.elapsed() < Duration::from_secs(30) => pause(),
                Err(_) => break None,
            }
        };
        assert!(free.is_some(), "the index lock was not released");
        drop(free);
        // A later change starts a new writer and is searchable.
        index.apply(vec![printer_case(99)]).unwrap();
        assert_eq!(index.num_docs(), 12);
        // Only the live segments' files are left (the merged-away ones were deleted).
        let live: HashSet<String> = index
            .reader
            .searcher()
            .segment_readers()
            .iter()
            .map(|r| r.segment_id().uuid_string())
            .collect();
        let current = std::fs::read_to_string(dir.path().join(CURRENT)).unwrap();
        let on_disk: HashSet<String> = std::fs::read_dir(dir.path().join(current.trim()))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.split_once('.').map(|(stem, _)| stem.to_owned()))
            .filter(|stem| stem.len() == 32)
            .collect();
        assert_eq!(on_disk, live);
    }
}
