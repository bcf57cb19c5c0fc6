//! The sync engine: pull every mirrored scope, push the outbox, sweep for deletions, pull the
//! knowledge base — for one connection, through any [`Connector`].
//!
//! - **Pull**: page by page from the stored cursor; each page and its next cursor commit in one
//!   transaction ([`Store::apply_pulled_page`]); a page that fails (after retries) stops that
//!   scope with the old cursor intact.
//! - **Push**: the outbox replayed in order per ticket; a ticket whose operation fails, waits for
//!   backoff or sits in the conflict inbox holds back only its own later operations. Updates go
//!   through a per-field three-way merge (base / mine / theirs); comments and creations carry an
//!   idempotency marker, out of the customer's sight, that is looked up before any retry after
//!   an unknown outcome (see [`Connector::find_comment`]).
//! - **Resilience**: transient failures retried with exponential backoff and jitter, 429 waits
//!   for `Retry-After` (bounded); offline, 401 and long rate limits stop the connection's sync
//!   (nothing is lost: operations stay pending). Time and sleeping are injected.

mod convert;
mod escalation;

pub use convert::pulled;

use crate::backoff::{Backoff, Sleeper};
use crate::connector::{Connector, UpdateOutcome};
use crate::error::SyncError;
use crate::model::{
    ArticlePage, ArticleSweep, Cursor, Field, FieldValues, NewComment, NewRemoteTicket,
    RemoteArticle, RemoteTicket, RemoteVersion, TicketRef,
};
use casebook_core::store::{
    ESCALATION_OP, NewConflict, OutboxStatus, PushEffect, SweepWalk, SyncOp,
};
use casebook_core::{Clock, Store, StoreError};
use serde_json::Value;
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Gives the engine the workspace store from the blocking pool.
pub trait StoreAccess: Send + Sync + 'static {
    fn store(&self) -> &Store;
}

impl StoreAccess for Store {
    fn store(&self) -> &Store {
        self
    }
}

/// Receives knowledge-base articles (the façade feeds them to the search index). The stream's
/// cursor moves only after this returned `Ok`. Called only for a page that has articles (live
/// or retired): an empty page moves the cursor without it.
pub trait ArticleSink: Send + Sync + 'static {
    fn store_articles(&self, connection_id: i64, articles: &[RemoteArticle]) -> Result<(), String>;

    /// The knowledge-base sweep: removes the connection's indexed articles that `sweep` does not
    /// list (except those under its keep prefixes). Returns (removed, missing): how many listed
    /// keys the index does not hold (then the stream is pulled again from the start).
    fn sweep_articles(
        &self,
        connection_id: i64,
        sweep: &ArticleSweep,
    ) -> Result<(u64, u64), String>;
}

/// The pull stream (cursor) of a connection's knowledge base; its sweep is recorded as
/// `sweep:kb`.
pub const KB_STREAM: &str = "kb";

/// What a running sync reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    Pulling {
        scope: String,
        pages: u64,
        tickets: u64,
    },
    Pushing {
        done: u64,
        total: u64,
    },
    Sweeping {
        scope: String,
    },
    Articles {
        articles: u64,
    },
    Waiting {
        reason: String,
        wait: Duration,
    },
    Finished,
}

pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// The stored error kind of an operation that failed because the upstream could not be reached.
const OFFLINE_KIND: &str = "offline";

/// Where a comment operation's `base` keeps the connector's baseline (see
/// [`Connector::comment_baseline`]).
const SENT_BASELINE: &str = "sent_baseline";

/// Empty pages in a row after which the sweep gives up on an id listing that never ends.
const MAX_EMPTY_ID_PAGES: u32 = 1_000;

/// How often the deletion sweep runs by default.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub page_size: usize,
    /// Attempts per request before an operation or a page is given up for this run.
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A Retry-After longer than this stops the connection's sync instead of waiting.
    pub max_wait: Duration,
    /// Run the deletion sweep (ids of every mirrored scope) when it is due.
    pub sweep: bool,
    /// The sweep lists every id of a scope, which costs as much as the rest of an incremental
    /// sync many times over: it runs only when the last completed sweep of the scope (stored
    /// per connection) is at least this old. `Duration::ZERO`: at every sync. A ticket deleted
    /// upstream is still marked at once when a push or a fetch finds it gone.
    pub sweep_interval: Duration,
    /// Ids asked for per page of the sweep's listing (each connector caps it at what its
    /// upstream allows: ServiceNow 10,000, Jira 5,000, Zendesk 100).
    pub sweep_page_size: usize,
    pub articles: bool,
    pub pull: bool,
    pub push: bool,
    /// Seed of the backoff jitter (reproducible tests).
    pub seed: u64,
}

impl Default for SyncOptions {
    fn default() -> SyncOptions {
        SyncOptions {
            page_size: 500,
            max_attempts: 5,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_wait: Duration::from_secs(120),
            sweep: true,
            sweep_interval: DEFAULT_SWEEP_INTERVAL,
            sweep_page_size: 10_000,
            articles: true,
            pull: true,
            push: true,
            seed: 0x5eed,
        }
    }
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncReport {
    pub pages: u64,
    pub tickets_created: u64,
    pub tickets_updated: u64,
    pub tickets_unchanged: u64,
    pub comments_added: u64,
    pub fields_kept_local: u64,
    pub pushed: u64,
    pub conflicts: u64,
    pub failed: u64,
    pub unknown: u64,
    /// Operations left waiting (backoff, or behind an earlier operation of the same ticket).
    pub deferred: u64,
    pub marked_deleted: u64,
    /// Scopes whose deletion sweep ran in this sync.
    pub swept: Vec<String>,
    pub articles: u64,
    /// Articles removed from the local index by the knowledge-base sweep.
    pub articles_removed: u64,
    /// What the knowledge-base step did or why it did not run, in plain words (kept as the
    /// connection's knowledge-base status); `None` when it did not get that far.
    pub kb_status: Option<String>,
    /// Things worth saying that are not problems (e.g. no knowledge base configured).
    pub notes: Vec<String>,
    pub retries: u64,
    /// Per-scope or per-operation problems that did not stop the sync.
    pub errors: Vec<String>,
    /// Why the sync stopped early (offline, sign-in needed, rate limited for long).
    pub stopped: Option<SyncError>,
    /// Local tickets created or changed (for change events).
    pub changed_ids: Vec<i64>,
}

pub struct SyncEngine {
    store: Arc<dyn StoreAccess>,
    connector: Arc<dyn Connector>,
    connection_id: i64,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    options: SyncOptions,
    backoff: Backoff,
    progress: Option<ProgressFn>,
    articles: Option<Arc<dyn ArticleSink>>,
}

/// How one outbox operation ended in this run.
enum OpEnd {
    Done,
    /// Stop the ticket's later operations (conflict, failed, waiting).
    Blocked,
}

impl SyncEngine {
    pub fn new(
        store: Arc<dyn StoreAccess>,
        connector: Arc<dyn Connector>,
        connection_id: i64,
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
        options: SyncOptions,
    ) -> SyncEngine {
        let backoff = Backoff::new(options.backoff_base, options.backoff_max, options.seed);
        SyncEngine {
            store,
            connector,
            connection_id,
            clock,
            sleeper,
            options,
            backoff,
            progress: None,
            articles: None,
        }
    }

    pub fn with_progress(mut self, f: ProgressFn) -> SyncEngine {
        self.progress = Some(f);
        self
    }

    pub fn with_article_sink(mut self, sink: Arc<dyn ArticleSink>) -> SyncEngine {
        self.articles = Some(sink);
        self
    }

    fn report_progress(&self, p: Progress) {
        if let Some(f) = &self.progress {
            f(&p);
        }
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    fn target(&self) -> String {
        self.connection_id.to_string()
    }

    async fn db<T, F>(&self, f: F) -> Result<T, SyncError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let access = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || f(access.store()))
            .await
            .map_err(|e| SyncError::Local(format!("a database task did not finish: {e}")))?
            .map_err(|e| SyncError::Local(e.to_string()))
    }

    /// Runs a read-only request, retrying transient failures with backoff and honouring
    /// Retry-After. A 401 is retried once (the credentials are read again: a refreshed token).
    async fn read<T, Fut>(
        &self,
        report: &mut SyncReport,
        mut call: impl FnMut() -> Fut,
    ) -> Result<T, SyncError>
    where
        Fut: Future<Output = Result<T, SyncError>>,
    {
        let mut attempt = 0;
        let mut auth_retried = false;
        loop {
            match call().await {
                Ok(v) => return Ok(v),
                Err(SyncError::AuthExpired(m)) if !auth_retried => {
                    auth_retried = true;
                    tracing::info!(
                        connection = self.connection_id,
                        "401: reading credentials again"
                    );
                    let _ = m;
                }
                Err(e) => {
                    attempt += 1;
                    if !e.is_transient() || attempt >= self.options.max_attempts {
                        return Err(e);
                    }
                    self.wait_before_retry(&e, attempt, report).await?;
                }
            }
            report.retries += 1;
        }
    }

    /// Waits before retry `attempt` (1-based) after `e`: Retry-After when given, backoff otherwise.
    async fn wait_before_retry(
        &self,
        e: &SyncError,
        attempt: u32,
        _report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let wait = match e {
            SyncError::RateLimited {
                retry_after: Some(d),
            } => {
                if *d > self.options.max_wait {
                    return Err(e.clone());
                }
                *d
            }
            _ => self.backoff.delay(attempt - 1),
        };
        tracing::debug!(connection = self.connection_id, error = %e, ?wait, "retrying after a wait");
        self.report_progress(Progress::Waiting {
            reason: e.to_string(),
            wait,
        });
        self.sleeper.sleep(wait).await;
        Ok(())
    }

    /// One full sync: push first (local edits are based on what we last saw), then pull, sweep
    /// and articles. Never panics on upstream data; every problem lands in the report.
    pub async fn run(&self) -> SyncReport {
        let mut report = SyncReport::default();
        let started = self.now();
        let conn = self.connection_id;
        let _ = self
            .db(move |s| s.record_sync_run(conn, started, None, 0, 0))
            .await;
        let result = self.run_inner(&mut report).await;
        if let Err(e) = result {
            report.stopped = Some(e);
        }
        if let Some(kb) = report.kb_status.clone() {
            let _ = self.db(move |s| s.record_kb_status(conn, Some(&kb))).await;
        }
        let now = self.now();
        let (pulled, pushed) = (
            report.tickets_created + report.tickets_updated,
            report.pushed,
        );
        let err = report
            .stopped
            .as_ref()
            .map(|e| (e.kind().to_owned(), e.to_string()))
            .or_else(|| {
                report
                    .errors
                    .first()
                    .map(|m| ("partial".to_owned(), m.clone()))
            });
        let _ = self
            .db(move |s| {
                s.record_sync_run(
                    conn,
                    started,
                    Some((now, err.as_ref().map(|(k, m)| (k.as_str(), m.as_str())))),
                    pulled,
                    pushed,
                )
            })
            .await;
        report.changed_ids.sort_unstable();
        report.changed_ids.dedup();
        self.report_progress(Progress::Finished);
        report
    }

    async fn run_inner(&self, report: &mut SyncReport) -> Result<(), SyncError> {
        if self.options.push {
            self.push(report).await?;
        }
        if self.options.pull {
            for scope in self.connector.scopes() {
                self.pull_scope(&scope, report).await?;
            }
        }
        if self.options.sweep {
            for scope in self.connector.scopes() {
                if self.sweep_due(&scope).await? {
                    self.sweep(&scope, report).await?;
                }
            }
        }
        if self.options.articles {
            if self.connector.has_knowledge_base() {
                self.pull_articles(report).await?;
            } else if let Some(note) = self.connector.knowledge_base_note() {
                report.notes.push(format!("knowledge base: {note}"));
                report.kb_status = Some(note);
            }
        }
        Ok(())
    }

    /// Pulls one scope until the upstream has nothing more. A page error stops the scope (the
    /// cursor stays where the last committed page left it); connection-wide errors stop the sync.
    pub async fn pull_scope(&self, scope: &str, report: &mut SyncReport) -> Result<(), SyncError> {
        let conn = self.connection_id;
        let stream = scope.to_owned();
        let (stored, mirrored) = self
            .db(move |s| {
                Ok((
                    s.sync_cursor(conn, &stream)?,
                    s.mirrors_tickets(conn, &stream)?,
                ))
            })
            .await?;
        let mut cursor = stored.map(Cursor);
        // A first pull into an empty mirror sees every upstream id: when it completes, it counts
        // as a sweep (as of when it started), so the next syncs need not list every id again.
        let first_pull = (cursor.is_none() && !mirrored).then(|| self.now());
        let mut pages = 0u64;
        let mut tickets = 0u64;
        loop {
            let page = {
                let c = cursor.clone();
                let connector = Arc::clone(&self.connector);
                let limit = self.options.page_size;
                self.read(report, || {
                    let c = c.clone();
                    let connector = Arc::clone(&connector);
                    let scope = scope.to_owned();
                    async move { connector.pull_tickets(&scope, c.as_ref(), limit).await }
                })
                .await
            };
            let page = match page {
                Ok(p) => p,
                Err(e) if e.stops_connection() => return Err(e),
                Err(e) => {
                    tracing::warn!(connection = conn, scope, error = %e, "page not applied; cursor kept");
                    report.errors.push(format!("{scope}: {e}"));
                    return Ok(());
                }
            };
            let rows: Vec<_> = page.tickets.iter().map(pulled).collect();
            let deleted = page.deleted.clone();
            let next = page.next.0.clone();
            let now = self.now();
            let stream = scope.to_owned();
            let n = rows.len() as u64;
            let applied = self
                .db(move |s| s.apply_pulled_page(conn, &stream, &rows, &deleted, &next, now))
                .await;
            let applied = match applied {
                Ok(a) => a,
                Err(e) => {
                    report.errors.push(format!("{scope}: {e}"));
                    return Ok(());
                }
            };
            pages += 1;
            tickets += n;
            report.pages += 1;
            report.tickets_created += applied.created;
            report.tickets_updated += applied.updated;
            report.tickets_unchanged += applied.unchanged;
            report.comments_added += applied.comments_added;
            report.fields_kept_local += applied.fields_kept_local;
            report.marked_deleted += applied.marked_deleted;
            report.changed_ids.extend(applied.changed_ids);
            self.report_progress(Progress::Pulling {
                scope: scope.to_owned(),
                pages,
                tickets,
            });
            cursor = Some(page.next);
            if !page.has_more {
                if let Some(started) = first_pull {
                    let stream = scope.to_owned();
                    self.db(move |s| s.record_sweep(conn, &stream, started))
                        .await?;
                }
                return Ok(());
            }
        }
    }

    /// Whether the scope's deletion sweep is due (see [`SyncOptions::sweep_interval`]).
    async fn sweep_due(&self, scope: &str) -> Result<bool, SyncError> {
        let every = self.options.sweep_interval.as_millis() as i64;
        if every == 0 {
            return Ok(true);
        }
        let (conn, stream) = (self.connection_id, scope.to_owned());
        let last = self.db(move |s| s.last_sweep_at(conn, &stream)).await?;
        let now = self.now();
        // A clock set back (last in the future) sweeps rather than waiting for it.
        Ok(last.is_none_or(|t| now - t >= every || t > now))
    }

    /// The deletion sweep of one scope: the upstream's ids a page at a time, each page merged
    /// with the mirror's ids as it comes (see [`casebook_core::store::SweepWalk`]: memory stays
    /// about one page when the upstream lists in the walk's order). The marks are written only
    /// after the last page; a page that fails drops the walk and marks nothing (the sweep stays
    /// due, and runs again at the next sync).
    async fn sweep(&self, scope: &str, report: &mut SyncReport) -> Result<(), SyncError> {
        self.report_progress(Progress::Sweeping {
            scope: scope.to_owned(),
        });
        let conn = self.connection_id;
        let mut walk = SweepWalk::new(conn, scope);
        let mut cursor: Option<Cursor> = None;
        let mut empty_in_a_row = 0u32;
        loop {
            let page = {
                let connector = Arc::clone(&self.connector);
                let limit = self.options.sweep_page_size;
                let c = cursor.clone();
                self.read(report, || {
                    let connector = Arc::clone(&connector);
                    let scope = scope.to_owned();
                    let c = c.clone();
                    async move { connector.list_ids_page(&scope, c.as_ref(), limit).await }
                })
                .await
            };
            let page = match page {
                Ok(p) => p,
                Err(e) if e.stops_connection() => return Err(e),
                Err(e) => {
                    report.errors.push(format!(
                        "{scope} deletion sweep: {e}; nothing was marked, the sweep runs again at the next sync"
                    ));
                    return Ok(());
                }
            };
            // A listing that does not move on would never end.
            empty_in_a_row = if page.ids.is_empty() {
                empty_in_a_row + 1
            } else {
                0
            };
            if page.next.is_some() && (page.next == cursor || empty_in_a_row >= MAX_EMPTY_ID_PAGES)
            {
                report.errors.push(format!(
                    "{scope} deletion sweep: the upstream's id listing does not move on; nothing was marked"
                ));
                return Ok(());
            }
            let last = page.next.is_none();
            let ids = page.ids;
            walk = self
                .db(move |s| {
                    s.sweep_page(&mut walk, ids, last)?;
                    Ok(walk)
                })
                .await?;
            match page.next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        let now = self.now();
        let done = self.db(move |s| s.finish_sweep(walk, now)).await?;
        tracing::debug!(
            connection = conn,
            scope,
            listed = done.listed,
            marked = done.marked,
            restored = done.restored,
            "deletion sweep"
        );
        report.marked_deleted += done.marked;
        report.changed_ids.extend(done.changed_ids);
        report.swept.push(scope.to_owned());
        Ok(())
    }

    /// Pulls the knowledge base until the connector has nothing more, then sweeps it when due.
    /// A page that fails keeps the cursor where the last indexed page left it; parts the
    /// connector had to skip (a space that cannot be read) are reported, the rest is pulled.
    async fn pull_articles(&self, report: &mut SyncReport) -> Result<(), SyncError> {
        let Some(sink) = self.articles.clone() else {
            return Ok(());
        };
        let conn = self.connection_id;
        let mut cursor = self
            .db(move |s| s.sync_cursor(conn, KB_STREAM))
            .await?
            .map(Cursor);
        let mut pulled = 0u64;
        let mut skipped: Vec<String> = Vec::new();
        loop {
            let connector = Arc::clone(&self.connector);
            let c = cursor.clone();
            let limit = self.options.page_size;
            let page: Result<ArticlePage, SyncError> = self
                .read(report, || {
                    let connector = Arc::clone(&connector);
                    let c = c.clone();
                    async move { connector.pull_articles(c.as_ref(), limit).await }
                })
                .await;
            let page = match page {
                Ok(p) => p,
                Err(e) if e.stops_connection() => {
                    report.kb_status = Some(format!("not updated: {e}"));
                    return Err(e);
                }
                Err(e) => {
                    report.errors.push(format!("knowledge base: {e}"));
                    report.kb_status = Some(format!(
                        "not updated: {e}; the next sync resumes after the last complete page"
                    ));
                    return Ok(());
                }
            };
            // An empty page (an instance without articles, or nothing new) has nothing for the
            // sink: calling it would open the knowledge base for nothing.
            let stored = if page.articles.is_empty() {
                Ok(())
            } else {
                let (sink, articles) = (Arc::clone(&sink), page.articles.clone());
                tokio::task::spawn_blocking(move || sink.store_articles(conn, &articles))
                    .await
                    .map_err(|e| format!("the indexing task did not finish: {e}"))
                    .and_then(|r| r)
            };
            if let Err(e) = stored {
                report.errors.push(format!("knowledge base: {e}"));
                report.kb_status = Some(format!("not updated: {e}"));
                return Ok(());
            }
            report.articles += page.articles.len() as u64;
            pulled += page.articles.len() as u64;
            for s in page.skipped {
                if !skipped.contains(&s) {
                    skipped.push(s);
                }
            }
            let next = page.next.0.clone();
            let now = self.now();
            self.db(move |s| {
                s.apply_pulled_page(conn, KB_STREAM, &[], &[], &next, now)
                    .map(|_| ())
            })
            .await?;
            self.report_progress(Progress::Articles {
                articles: report.articles,
            });
            cursor = Some(page.next);
            if !page.has_more {
                break;
            }
        }
        let mut removed = 0u64;
        if self.options.sweep && self.sweep_due(KB_STREAM).await? {
            removed = self.sweep_articles(&sink, &mut skipped, report).await?;
        }
        for s in &skipped {
            report.errors.push(format!("knowledge base: {s}"));
        }
        let mut status = format!("{pulled} article(s) pulled");
        if removed > 0 {
            status.push_str(&format!(", {removed} removed"));
        }
        if !skipped.is_empty() {
            status.push_str(&format!("; skipped: {}", skipped.join("; ")));
        }
        report.kb_status = Some(status);
        Ok(())
    }

    /// The knowledge-base sweep: what the upstream lists against what the index holds. Returns
    /// how many articles it removed. Listed articles the index lacks (an index rebuilt since,
    /// a page moved into a space) make the next sync pull the knowledge base from the start.
    async fn sweep_articles(
        &self,
        sink: &Arc<dyn ArticleSink>,
        skipped: &mut Vec<String>,
        report: &mut SyncReport,
    ) -> Result<u64, SyncError> {
        let started = self.now();
        let connector = Arc::clone(&self.connector);
        let found = self
            .read(report, || {
                let connector = Arc::clone(&connector);
                async move { connector.sweep_articles().await }
            })
            .await;
        let sweep = match found {
            Ok(Some(s)) => s,
            Ok(None) => return Ok(0),
            Err(e) if e.stops_connection() => return Err(e),
            Err(e) => {
                report.errors.push(format!("knowledge base sweep: {e}"));
                return Ok(0);
            }
        };
        for s in &sweep.skipped {
            if !skipped.contains(s) {
                skipped.push(s.clone());
            }
        }
        let conn = self.connection_id;
        let result = {
            let sink = Arc::clone(sink);
            tokio::task::spawn_blocking(move || sink.sweep_articles(conn, &sweep))
                .await
                .map_err(|e| format!("the indexing task did not finish: {e}"))
                .and_then(|r| r)
        };
        let (removed, missing) = match result {
            Ok(r) => r,
            Err(e) => {
                report.errors.push(format!("knowledge base sweep: {e}"));
                return Ok(0);
            }
        };
        report.articles_removed += removed;
        if missing > 0 {
            self.db(move |s| s.reset_sync_cursor(conn, KB_STREAM))
                .await?;
            report.notes.push(format!(
                "knowledge base: {missing} article(s) listed upstream are not in the local index; the next sync pulls the knowledge base again from the start"
            ));
        }
        self.db(move |s| s.record_sweep(conn, KB_STREAM, started))
            .await?;
        Ok(removed)
    }

    /// Replays the outbox of this connection.
    pub async fn push(&self, report: &mut SyncReport) -> Result<(), SyncError> {
        let now = self.now();
        let recovered = self.db(move |s| s.recover_in_flight(now)).await?;
        if recovered > 0 {
            tracing::info!(
                connection = self.connection_id,
                recovered,
                "operations interrupted by a restart are checked upstream first"
            );
        }
        let target = self.target();
        let ops = self.db(move |s| s.sync_ops(Some(&target))).await?;
        let total = ops.len() as u64;
        let mut done = 0u64;
        let mut blocked: HashSet<i64> = HashSet::new();
        for op in ops {
            if blocked.contains(&op.ticket_id) {
                report.deferred += 1;
                continue;
            }
            let waiting = match op.status {
                OutboxStatus::Conflict | OutboxStatus::Failed => true,
                // An operation that failed only because the network was down is sent by the next
                // sync, whenever it runs: a sync is what the agent asks for when the network is
                // back, and one that finds it still down stops at its first request anyway. The
                // backoff holds for everything else (a rate limit's Retry-After, a failing server).
                OutboxStatus::Pending => {
                    op.error_kind.as_deref() != Some(OFFLINE_KIND)
                        && op.next_attempt_at.is_some_and(|t| t > self.now())
                }
                _ => false,
            };
            if waiting {
                blocked.insert(op.ticket_id);
                report.deferred += 1;
                continue;
            }
            match self.push_op(&op, report).await {
                Ok(OpEnd::Done) => {
                    report.pushed += 1;
                    report.changed_ids.push(op.ticket_id);
                }
                Ok(OpEnd::Blocked) => {
                    blocked.insert(op.ticket_id);
                }
                Err(e) => return Err(e),
            }
            done += 1;
            self.report_progress(Progress::Pushing { done, total });
        }
        Ok(())
    }

    fn ticket_ref(&self, op: &SyncOp) -> Option<TicketRef> {
        Some(TicketRef {
            upstream_id: op.upstream_id.clone()?,
            key: op.ticket_key.clone(),
            scope: op
                .scope
                .clone()
                .or_else(|| self.connector.scopes().into_iter().next())?,
        })
    }

    /// Sends one operation. `Err` only for errors that stop the whole connection (the operation
    /// is put back to `pending` / `unknown` first, so nothing is lost).
    async fn push_op(&self, op: &SyncOp, report: &mut SyncReport) -> Result<OpEnd, SyncError> {
        // An escalation goes to an engineering project, not to the ticket's own upstream record.
        let own_record = op.op != "create" && op.op != ESCALATION_OP;
        if own_record && (op.deleted_upstream || op.upstream_id.is_none()) {
            let why = if op.deleted_upstream {
                "the ticket was deleted upstream or is no longer visible to this account"
            } else {
                "the ticket has not been created upstream yet"
            };
            self.settle_failure(op.id, &SyncError::NotFound(why.into()), false, 1)
                .await?;
            report.failed += 1;
            return Ok(OpEnd::Blocked);
        }
        let (id, now) = (op.id, self.now());
        let marker = self.db(move |s| s.outbox_begin(id, now)).await?;
        let was_unknown = op.status == OutboxStatus::Unknown || op.status == OutboxStatus::InFlight;
        let outcome = match op.op.as_str() {
            "comment" => self.push_comment(op, &marker, was_unknown, report).await,
            "update" => self.push_update(op, report).await,
            "create" => self.push_create(op, &marker, was_unknown, report).await,
            ESCALATION_OP => self.push_escalation(op, &marker, was_unknown, report).await,
            other => Err((
                SyncError::Local(format!("unknown outbox operation '{other}'")),
                false,
            )),
        };
        match outcome {
            Ok(end) => Ok(end),
            Err((e, unknown)) => {
                if matches!(e, SyncError::NotFound(_))
                    && own_record
                    && let Some(uid) = op.upstream_id.clone()
                {
                    // Gone upstream: mark the ticket (never drop it) and keep the edit.
                    let (conn, now) = (self.connection_id, self.now());
                    if let Ok(Some(tid)) = self
                        .db(move |s| s.mark_deleted_upstream(conn, &uid, now))
                        .await
                    {
                        report.changed_ids.push(tid);
                    }
                }
                let stop = e.stops_connection();
                self.settle_failure(op.id, &e, unknown, op.attempts + 1)
                    .await?;
                if unknown {
                    report.unknown += 1;
                } else if !e.is_transient() && !stop {
                    report.failed += 1;
                } else {
                    report.deferred += 1;
                }
                report
                    .errors
                    .push(format!("{} {}: {e}", op.ticket_key, op.op));
                if stop { Err(e) } else { Ok(OpEnd::Blocked) }
            }
        }
    }

    /// Records why an operation did not go through: `unknown` if the upstream may have it,
    /// `pending` with a backoff if it may go through later, `failed` if only the agent can help.
    async fn settle_failure(
        &self,
        op_id: i64,
        e: &SyncError,
        unknown: bool,
        attempts: i64,
    ) -> Result<(), SyncError> {
        let now = self.now();
        let (status, next) = if unknown {
            (OutboxStatus::Unknown, None)
        } else if e.is_transient() || e.stops_connection() {
            let wait = match e {
                SyncError::RateLimited {
                    retry_after: Some(d),
                } => *d,
                _ => self.backoff.delay(attempts.clamp(1, 20) as u32 - 1),
            };
            (OutboxStatus::Pending, Some(now + wait.as_millis() as i64))
        } else {
            (OutboxStatus::Failed, None)
        };
        let (kind, msg) = (e.kind().to_owned(), e.to_string());
        self.db(move |s| s.outbox_set_status(op_id, status, Some((&kind, &msg)), next, now))
            .await
    }

    async fn done(&self, op_id: i64, effect: PushEffect) -> Result<(), (SyncError, bool)> {
        let (conn, now) = (self.connection_id, self.now());
        self.db(move |s| s.outbox_done(op_id, conn, &effect, now))
            .await
            .map_err(|e| (e, false))
    }

    /// Sends a write with the exactly-once protocol: if an earlier attempt's outcome is unknown,
    /// look for the marker first; an attempt whose answer is lost makes the outcome unknown.
    async fn exactly_once<T, L, LF, S, SF>(
        &self,
        mut unknown: bool,
        report: &mut SyncReport,
        mut lookup: L,
        mut send: S,
    ) -> Result<T, (SyncError, bool)>
    where
        L: FnMut() -> LF,
        LF: Future<Output = Result<Option<T>, SyncError>>,
        S: FnMut() -> SF,
        SF: Future<Output = Result<T, SyncError>>,
    {
        let mut attempt = 0u32;
        let mut auth_retried = false;
        loop {
            let step = if unknown {
                match lookup().await {
                    Ok(Some(found)) => return Ok(found),
                    Ok(None) => send().await,
                    Err(e) => Err(e),
                }
            } else {
                send().await
            };
            let e = match step {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            // Anything but "nothing was sent" may have reached the upstream.
            let may_have_landed = matches!(
                e,
                SyncError::UnknownOutcome(_)
                    | SyncError::Timeout(_)
                    | SyncError::MalformedJson { .. }
                    | SyncError::HtmlInsteadOfJson(_)
            ) || matches!(e, SyncError::HttpStatus { code, .. } if code >= 500);
            if may_have_landed {
                unknown = true;
            }
            if matches!(e, SyncError::AuthExpired(_)) && !auth_retried {
                auth_retried = true;
                report.retries += 1;
                continue;
            }
            attempt += 1;
            if !e.is_transient() || attempt >= self.options.max_attempts {
                return Err((e, unknown));
            }
            if let Err(e) = self.wait_before_retry(&e, attempt, report).await {
                return Err((e, unknown));
            }
            report.retries += 1;
        }
    }

    async fn push_comment(
        &self,
        op: &SyncOp,
        marker: &str,
        was_unknown: bool,
        report: &mut SyncReport,
    ) -> Result<OpEnd, (SyncError, bool)> {
        let Some(tref) = self.ticket_ref(op) else {
            return Err((
                SyncError::Local("the ticket has no upstream id".into()),
                false,
            ));
        };
        let visibility = op
            .payload
            .get("visibility")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| {
                (
                    SyncError::Local("the comment has no visibility".into()),
                    false,
                )
            })?;
        let body = op
            .payload
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let ticket_id = op.ticket_id;
        let known = self
            .db(move |s| s.comment_upstream_ids(ticket_id))
            .await
            .map_err(|e| (e, false))?;
        let mut new = NewComment {
            visibility,
            body,
            marker: marker.to_owned(),
            baseline: op.base.get(SENT_BASELINE).cloned().filter(|b| !b.is_null()),
            known,
        };
        let c = Arc::clone(&self.connector);
        if !was_unknown && new.baseline.is_none() {
            // What the upstream holds before the first send, stored before anything is sent, so
            // a lookup after an unknown outcome never takes a comment that was there for ours.
            let baseline = self
                .read(report, || {
                    let (c, t, n) = (Arc::clone(&c), tref.clone(), new.clone());
                    async move { c.comment_baseline(&t, &n).await }
                })
                .await
                .map_err(|e| (e, false))?;
            if let Some(b) = baseline {
                let (id, stored) = (op.id, b.clone());
                self.db(move |s| s.outbox_record_comment_baseline(id, &stored))
                    .await
                    .map_err(|e| (e, false))?;
                new.baseline = Some(b);
            }
        }
        let looked_up = Arc::new(AtomicBool::new(false));
        let found = self
            .exactly_once(
                was_unknown,
                report,
                || {
                    let (c, t, n) = (Arc::clone(&c), tref.clone(), new.clone());
                    let flag = Arc::clone(&looked_up);
                    async move {
                        let found = c.find_comment(&t, &n).await;
                        if matches!(found, Ok(Some(_))) {
                            flag.store(true, Ordering::Relaxed);
                        }
                        found
                    }
                },
                || {
                    let (c, t, n) = (Arc::clone(&c), tref.clone(), new.clone());
                    async move { c.add_comment(&t, &n).await }
                },
            )
            .await?;
        self.done(
            op.id,
            PushEffect::Commented {
                upstream_id: found.upstream_id,
            },
        )
        .await?;
        if looked_up.load(Ordering::Relaxed) {
            // A pull that ran while the outcome was unknown left comments with this text aside
            // (they might have been this one); now that it is settled, read the ticket again so
            // any that were someone else's are added.
            self.refresh_ticket(&tref, report).await;
        }
        Ok(OpEnd::Done)
    }

    /// Reads one ticket and applies it like a pulled one (no cursor moves). Best effort: if it
    /// fails, a comment left aside shows when the ticket next changes upstream.
    async fn refresh_ticket(&self, tref: &TicketRef, report: &mut SyncReport) {
        let c = Arc::clone(&self.connector);
        let fetched = self
            .read(report, || {
                let (c, t) = (Arc::clone(&c), tref.clone());
                async move { c.fetch_ticket(&t).await }
            })
            .await;
        let applied = match fetched {
            Ok(t) => {
                let (conn, now, p) = (self.connection_id, self.now(), pulled(&t));
                self.db(move |s| s.apply_pulled(conn, &[p], now)).await
            }
            Err(e) => Err(e),
        };
        match applied {
            Ok(a) => {
                report.comments_added += a.comments_added;
                report.changed_ids.extend(a.changed_ids);
            }
            Err(e) => {
                tracing::info!(connection = self.connection_id, ticket = %tref.key, error = %e,
                    "reading the ticket again after settling a comment failed; its next upstream change brings it");
            }
        }
    }

    async fn push_create(
        &self,
        op: &SyncOp,
        marker: &str,
        was_unknown: bool,
        report: &mut SyncReport,
    ) -> Result<OpEnd, (SyncError, bool)> {
        let fields = convert::fields_of_local_ticket(&op.payload).map_err(|e| (e, false))?;
        let scope = self.connector.scopes().into_iter().next().ok_or_else(|| {
            (
                SyncError::Local("the connection mirrors no scope".into()),
                false,
            )
        })?;
        let new = NewRemoteTicket {
            scope: scope.clone(),
            fields,
            marker: marker.to_owned(),
        };
        let c = Arc::clone(&self.connector);
        let created: RemoteTicket = self
            .exactly_once(
                was_unknown,
                report,
                || {
                    let (c, s, m) = (Arc::clone(&c), scope.clone(), marker.to_owned());
                    async move { c.find_created(&s, &m).await }
                },
                || {
                    let (c, n) = (Arc::clone(&c), new.clone());
                    async move { c.create_ticket(&n).await }
                },
            )
            .await?;
        self.done(op.id, PushEffect::Created(Box::new(pulled(&created))))
            .await?;
        Ok(OpEnd::Done)
    }

    /// Pushes an update with the per-field three-way merge.
    async fn push_update(
        &self,
        op: &SyncOp,
        report: &mut SyncReport,
    ) -> Result<OpEnd, (SyncError, bool)> {
        let Some(tref) = self.ticket_ref(op) else {
            return Err((
                SyncError::Local("the ticket has no upstream id".into()),
                false,
            ));
        };
        let mut mine = convert::field_values(&op.payload).map_err(|e| (e, false))?;
        let mut base_fields = convert::field_values(op.base.get("fields").unwrap_or(&Value::Null))
            .map_err(|e| (e, false))?;
        if !self.connector.vendor().stores_tags() {
            // Tags of this upstream stay in the workspace (an edit queued before they did goes
            // no further).
            mine.remove(&Field::Tags);
            base_fields.remove(&Field::Tags);
            if mine.is_empty() {
                self.done(op.id, PushEffect::Nothing).await?;
                return Ok(OpEnd::Done);
            }
        }
        // What the agent typed, as a pull shows it (a user's full name → the user name): the
        // values compared with theirs, pushed and recorded. A value that names nothing upstream
        // fails the operation here, before anything is written.
        let mine = {
            let c = Arc::clone(&self.connector);
            self.read(report, || {
                let (c, t, m) = (Arc::clone(&c), tref.clone(), mine.clone());
                async move { c.readable_values(&t, &m, true).await }
            })
            .await
            .map_err(|e| (e, false))?
        };
        // The base in the same form, read only when the ticket moved upstream.
        let mut readable_base: Option<FieldValues> = None;
        // No recorded base version (an edit made before the ticket was ever pulled): a version
        // that never matches forces the read-and-merge path.
        let mut base = convert::base_version(&op.base).unwrap_or(RemoteVersion {
            token: String::new(),
            updated_at: 0,
        });
        let mut changes: FieldValues = mine.clone();
        let mut conflicts: Vec<NewConflict> = Vec::new();
        for _round in 0..4 {
            if changes.is_empty() {
                break;
            }
            let c = Arc::clone(&self.connector);
            let outcome = self
                .exactly_once(
                    false,
                    report,
                    || async { Ok(None) },
                    || {
                        let (c, t, b, ch) =
                            (Arc::clone(&c), tref.clone(), base.clone(), changes.clone());
                        async move { c.update_fields(&t, &b, &ch).await }
                    },
                )
                .await;
            let outcome = match outcome {
                Ok(o) => o,
                // An update is idempotent through the merge: resending it after an unknown
                // outcome finds "theirs == mine". So it goes back to pending, not unknown.
                Err((e, _)) => return Err((e, false)),
            };
            match outcome {
                UpdateOutcome::Applied(v) => {
                    base = v;
                    changes.clear();
                    break;
                }
                UpdateOutcome::Moved(theirs) => {
                    report.retries += 1;
                    if readable_base.is_none() {
                        let c = Arc::clone(&self.connector);
                        let b = self
                            .read(report, || {
                                let (c, t, b) = (Arc::clone(&c), tref.clone(), base_fields.clone());
                                async move { c.readable_values(&t, &b, false).await }
                            })
                            .await
                            .map_err(|e| (e, false))?;
                        readable_base = Some(b);
                    }
                    let base_fields = readable_base.as_ref().unwrap_or(&base_fields);
                    // Their other changes flow in now (pending fields stay protected).
                    let (conn, now, p) = (self.connection_id, self.now(), pulled(&theirs));
                    self.db(move |s| s.apply_pulled(conn, &[p], now).map(|_| ()))
                        .await
                        .map_err(|e| (e, false))?;
                    let mut clean = FieldValues::new();
                    for (f, m) in &changes {
                        let t = theirs.fields.get(*f);
                        let b = base_fields.get(f).cloned().unwrap_or(Value::Null);
                        if &t == m {
                            continue; // already there (our earlier attempt, or the same edit)
                        } else if t == b {
                            clean.insert(*f, m.clone());
                        } else {
                            conflicts.retain(|c| c.field != f.as_str());
                            conflicts.push(NewConflict {
                                field: f.as_str().to_owned(),
                                base: b,
                                mine: m.clone(),
                                theirs: t,
                                theirs_version: convert::version_json(&theirs.version),
                            });
                        }
                    }
                    changes = clean;
                    base = theirs.version.clone();
                }
            }
        }
        if !changes.is_empty() {
            return Err((
                SyncError::Conflict("the ticket kept changing upstream while pushing".into()),
                false,
            ));
        }
        let pushed: FieldValues = mine
            .into_iter()
            .filter(|(f, _)| !conflicts.iter().any(|c| c.field == f.as_str()))
            .collect();
        let effect = PushEffect::Updated {
            version: base.token.clone(),
            version_updated_at: base.updated_at,
            fields: convert::field_map(&pushed),
        };
        if conflicts.is_empty() {
            self.done(op.id, effect).await?;
            return Ok(OpEnd::Done);
        }
        // Record what did go through, then the conflicts (the op waits for the agent).
        let (now, id) = (self.now(), op.id);
        let n = conflicts.len() as u64;
        self.db(move |s| {
            if let PushEffect::Updated {
                version,
                version_updated_at,
                fields,
            } = &effect
            {
                s.record_pushed_fields(id, version, *version_updated_at, fields)?;
            }
            s.outbox_conflict(id, &conflicts, now)
        })
        .await
        .map_err(|e| (e, false))?;
        report.conflicts += n;
        Ok(OpEnd::Blocked)
    }
}
