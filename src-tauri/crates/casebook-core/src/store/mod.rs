//! The SQLite store: the single source of truth of a workspace.
//!
//! One writer connection (behind a mutex, `BEGIN IMMEDIATE` for every write) and a small pool of
//! read-only connections. WAL lets readers run while the writer commits. The writer uses
//! `synchronous=FULL`, so a commit that returned is on disk: an edit is durable before anyone is
//! told it succeeded.

mod connections;
mod error;
mod escalation_push;
mod events;
mod import;
mod kb;
mod key;
mod query;
mod queue_index;
mod sweep;
mod sync;
mod tickets;
mod views;

pub use connections::ConnectionState;
pub use error::StoreError;
pub use escalation_push::{ESCALATION_OP, EscalationPushRow};
pub use events::{Event, EventKind, Origin, OutboxOp, OutboxStatus};
pub use import::{ImportBatchReport, ImportedTicket, ImportedUpdate};
pub use kb::KbSourceRow;
pub use key::{DatabaseKey, InvalidKey};
pub use query::{Facets, NO_RISK, SortKey, TicketFilter, TicketPage, TicketQuery, TicketRow};
pub use sweep::{SweepOutcome, SweepWalk, sweep_order};
pub use sync::{
    ApplyReport, ConflictRow, NewConflict, PulledComment, PulledTicket, PushEffect, Resolution,
    SYNC_ACTOR, SYNC_FIELDS, SyncOp, SyncStatusRow, comparable_comment_text, validate_field_value,
};
pub use tickets::{Actor, MAX_BODY_BYTES, MAX_TITLE_CHARS, TicketDetail, validate_ticket_text};
pub use views::SavedView;

use queue_index::QueueIndex;
use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{M, Migrations};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Schema migrations, in order. Never edit one that has shipped: add a new one.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_connections.sql"),
    include_str!("../../migrations/0003_kb_sources.sql"),
    include_str!("../../migrations/0004_sla.sql"),
    include_str!("../../migrations/0005_escalations.sql"),
    include_str!("../../migrations/0006_queue_index.sql"),
    include_str!("../../migrations/0007_sla_notices.sql"),
    include_str!("../../migrations/0008_sync.sql"),
    include_str!("../../migrations/0009_sla_event_facts.sql"),
    include_str!("../../migrations/0010_sla_event_facts_in_rust.sql"),
    include_str!("../../migrations/0011_escalation_push.sql"),
    include_str!("../../migrations/0012_kb_spaces.sql"),
    include_str!("../../migrations/0013_sync_sweep_index.sql"),
];

/// The schema version this build understands (SQLite `user_version`).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_IDLE_READERS: usize = 4;
/// The writer's page cache, in KiB, for everyday writes: an edit, a page of pulled tickets (500
/// with their comments). Pages read for one transaction stay cached for the next, so a bigger
/// cache saves re-reading B-tree pages, up to the point where it holds the whole database.
const WRITER_CACHE_KIB: i64 = 16_384;
/// The writer's page cache while importing ([`Store::bulk_load`]): a 2,000-ticket import batch
/// must not spill the cache mid-transaction (the default is 2,000 pages).
const IMPORT_CACHE_KIB: i64 = 65_536;
/// Page cache of a [`StreamingReader`], in KiB: a walk in key order needs the few pages of each
/// B-tree's current path, not the pages it has passed.
const STREAMING_CACHE_KIB: i64 = 2_048;

/// Whether [`Store::open`] may create a new database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the file if there is none (a new workspace).
    CreateIfMissing,
    /// The file must exist already.
    MustExist,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub struct Store {
    path: PathBuf,
    /// The SQLCipher key, applied to the writer and to every reader right after it opens.
    key: Option<DatabaseKey>,
    // Field order is drop order: the readers close first so that the read-write connection is the
    // last one, which checkpoints and removes the WAL (a read-only connection cannot).
    readers: Mutex<Vec<Connection>>,
    writer: Mutex<Connection>,
    queue: QueueState,
}

/// The in-memory queue index and what changed since it was last brought up to date.
#[derive(Default)]
struct QueueState {
    /// The index, if built. Held while it is patched with a few changed tickets (queries wait;
    /// writers never take it), never during a full build.
    index: Mutex<Option<Arc<QueueIndex>>>,
    /// Held during a full build, so that two callers never build at once. Queries that can do
    /// without the index meanwhile answer by SQL instead of waiting (the app's first page at
    /// start-up, while the index warms in the background).
    building: Mutex<()>,
    /// Tickets changed by committed transactions and not yet re-read.
    dirty: Mutex<Dirty>,
    /// Tickets the writer's current transaction touched (filled by the update hook).
    touched: Arc<Mutex<Vec<i64>>>,
}

#[derive(Debug, Default)]
enum Dirty {
    #[default]
    Clean,
    Ids(HashSet<i64>),
    /// Too many or unknown changes (another process wrote): rebuild.
    All,
}

/// Above this many changed tickets the index is rebuilt instead of patched.
const QUEUE_PATCH_LIMIT: usize = 20_000;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (and migrates) the database at `path`.
    ///
    /// Never recreates or overwrites an existing file: a database from a newer Casebook, a file
    /// that is not a database, or one locked by another program is reported as such.
    ///
    /// The file is not encrypted: for benchmarks, tests and plain copies. A workspace is opened
    /// with [`Store::open_encrypted`] (the façade does).
    pub fn open(path: &Path, mode: OpenMode) -> Result<Store> {
        Store::open_with_key(path, mode, None)
    }

    /// Opens (and migrates) the database at `path`, encrypted with `key` (SQLCipher). A new file is
    /// encrypted from its first page; an existing one must have been encrypted with this key.
    pub fn open_encrypted(path: &Path, mode: OpenMode, key: &DatabaseKey) -> Result<Store> {
        match Store::open_with_key(path, mode, Some(key)) {
            // Not readable in the current page format: a workspace encrypted before it may be,
            // in SQLCipher's default format. Rewrite it once, then open it as usual.
            Err(StoreError::WrongKey { .. }) if Store::has_legacy_format(path, key) => {
                Store::upgrade_cipher_format(path, key)?;
                Store::open_with_key(path, mode, Some(key))
            }
            other => other,
        }
    }

    fn open_with_key(path: &Path, mode: OpenMode, key: Option<&DatabaseKey>) -> Result<Store> {
        let exists = path.exists();
        if !exists && mode == OpenMode::MustExist {
            return Err(StoreError::Missing {
                path: path.to_owned(),
            });
        }
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        if !exists {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let mut writer =
            Connection::open_with_flags(path, flags).map_err(|e| StoreError::from_open(path, e))?;
        apply_key(&writer, key).map_err(|e| StoreError::from_open(path, e))?;
        configure_writer(&writer).map_err(|e| match key {
            Some(_) => StoreError::from_keyed_open(path, e),
            None => StoreError::from_open(path, e),
        })?;
        migrate(path, &mut writer)?;
        let queue = QueueState::default();
        let touched = Arc::clone(&queue.touched);
        // Which tickets each write transaction touches, whatever code path wrote them (see
        // `write`): the queue index re-reads just those.
        writer
            .update_hook(Some(
                move |_: rusqlite::hooks::Action, _: &str, table: &str, rowid: i64| {
                    if table == "tickets" {
                        touched
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(rowid);
                    }
                },
            ))
            .map_err(|e| StoreError::from_open(path, e))?;
        let store = Store {
            path: path.to_owned(),
            key: key.cloned(),
            writer: Mutex::new(writer),
            readers: Mutex::default(),
            queue,
        };
        // Open one reader now so a read-side problem shows at open, not at the first query.
        let reader = store.new_reader()?;
        store.lock_readers().push(reader);
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in a write transaction (`BEGIN IMMEDIATE`), committed when `f` returns `Ok`.
    pub fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let result = (|| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| StoreError::from_sql(&self.path, e))?;
            let value = f(&tx)?;
            tx.commit()
                .map_err(|e| StoreError::from_sql(&self.path, e))?;
            Ok(value)
        })();
        // Still under the writer lock: the update hook filled `touched` for this transaction only.
        let touched = std::mem::take(
            &mut *self
                .queue
                .touched
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if result.is_ok() && !touched.is_empty() {
            self.mark_dirty(touched);
        }
        result
    }

    fn mark_dirty(&self, ids: Vec<i64>) {
        let mut dirty = self
            .queue
            .dirty
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match &mut *dirty {
            Dirty::All => {}
            Dirty::Clean => *dirty = Dirty::Ids(ids.into_iter().collect()),
            Dirty::Ids(set) => set.extend(ids),
        }
        if matches!(&*dirty, Dirty::Ids(set) if set.len() > QUEUE_PATCH_LIMIT) {
            *dirty = Dirty::All;
        }
    }

    /// Another process changed the database (see [`Store::external_change_token`]): the queue
    /// index is rebuilt before the next query.
    pub fn note_external_change(&self) {
        *self
            .queue
            .dirty
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Dirty::All;
    }

    /// Builds the in-memory queue index now (the app calls this in the background right after
    /// opening, so the first filtered query does not pay for it). Returns the tickets indexed.
    pub fn warm_queue_index(&self) -> Result<usize> {
        Ok(self.queue_index(true)?.map_or(0, |i| i.len()))
    }

    /// Roughly how many bytes of memory the queue index holds (0 before it is built).
    pub fn queue_index_bytes(&self) -> usize {
        self.queue
            .index
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, |i| i.approx_bytes())
    }

    /// The queue index brought up to date, built first if `build` (else `None` until it exists).
    fn queue_index(&self, build: bool) -> Result<Option<Arc<QueueIndex>>> {
        loop {
            {
                let mut slot = self
                    .queue
                    .index
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                match slot.as_mut() {
                    Some(index) => match self.take_dirty() {
                        Dirty::Clean => return Ok(slot.clone()),
                        Dirty::Ids(ids) => {
                            let patched = self.read(|c| Arc::make_mut(index).refresh(c, &ids));
                            if let Err(e) = patched {
                                // The index may be half patched: rebuild it next time.
                                *slot = None;
                                return Err(e);
                            }
                            return Ok(slot.clone());
                        }
                        // Another process wrote: the index is stale for every query. Rebuild it
                        // (below, outside this lock) whatever `build` says.
                        Dirty::All => *slot = None,
                    },
                    None if !build => return Ok(None),
                    None => {}
                }
            }
            let _one_build = self
                .queue
                .building
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let built_meanwhile = self
                .queue
                .index
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some();
            if !built_meanwhile {
                // Forget the changes before reading: whatever commits after this is marked again
                // and patched in on the next turn of the loop.
                self.take_dirty();
                let fresh = Arc::new(self.read(QueueIndex::build)?);
                *self
                    .queue
                    .index
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(fresh);
            }
        }
    }

    fn take_dirty(&self) -> Dirty {
        std::mem::take(
            &mut *self
                .queue
                .dirty
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Runs `f` on a pooled read-only connection inside one read transaction (a consistent
    /// snapshot across the statements `f` runs).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = match self.lock_readers().pop() {
            Some(c) => c,
            None => self.new_reader()?,
        };
        conn.execute_batch("BEGIN DEFERRED")
            .map_err(|e| StoreError::from_sql(&self.path, e))?;
        let out = f(&conn);
        let end = conn.execute_batch("COMMIT");
        if end.is_ok() {
            let mut pool = self.lock_readers();
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
        }
        out
    }

    /// A value that changes whenever another connection (another process, such as the CLI while
    /// the app runs) commits to the database. Our own writes do not change it.
    pub fn external_change_token(&self) -> Result<i64> {
        let conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        conn.query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| StoreError::from_sql(&self.path, e))
    }

    /// Writes a compact, consistent copy of the database to `target` (a backup).
    pub fn vacuum_into(&self, target: &Path) -> Result<()> {
        let conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        match &self.key {
            // SQLCipher's VACUUM INTO keeps the key but not the page format: export instead.
            Some(key) => key::export_to(&conn, target, key),
            None => conn
                .execute("VACUUM INTO ?1", [target.to_string_lossy()])
                .map(drop),
        }
        .map_err(|e| StoreError::from_sql(&self.path, e))
    }

    /// Switches the writer to bulk loading until the guard is dropped: no automatic WAL
    /// checkpoints (one at the end, which also truncates the WAL, instead of one every 4 MiB),
    /// `synchronous=NORMAL`, and a page cache big enough for an import batch (64 MiB instead of
    /// 16). Safe for imports: a commit still survives the process being killed, and a batch lost
    /// to a power cut is re-imported by running the import again (keys already present are
    /// skipped).
    pub fn bulk_load(&self) -> Result<BulkLoad<'_>> {
        let conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        conn.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint = 0; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -{IMPORT_CACHE_KIB};"
        ))
        .map_err(|e| StoreError::from_sql(&self.path, e))?;
        Ok(BulkLoad { store: self })
    }

    /// Refreshes the query planner's statistics (after a large import: without them SQLite cannot
    /// tell a filter that matches 5 tickets from one that matches 50,000).
    pub fn analyze(&self) -> Result<()> {
        let conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        conn.execute_batch("ANALYZE")
            .map_err(|e| StoreError::from_sql(&self.path, e))?;
        // Open connections keep the statistics they loaded: let new readers load the fresh ones.
        self.lock_readers().clear();
        Ok(())
    }

    /// `PRAGMA integrity_check` (`"ok"` when the file is sound).
    pub fn integrity_check(&self) -> Result<String> {
        self.read(|c| {
            c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
                .map_err(|e| StoreError::from_sql(&self.path, e))
        })
    }

    /// A read-only connection for walking a large part of the database once, such as the
    /// knowledge base reading every resolved ticket (see [`StreamingReader`]).
    pub fn streaming_reader(&self) -> Result<StreamingReader<'_>> {
        let conn = self.open_reader()?;
        conn.execute_batch(&format!(
            "PRAGMA mmap_size = 0; PRAGMA cache_size = -{STREAMING_CACHE_KIB};"
        ))
        .map_err(|e| StoreError::from_open(&self.path, e))?;
        Ok(StreamingReader { store: self, conn })
    }

    fn lock_readers(&self) -> MutexGuard<'_, Vec<Connection>> {
        self.readers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A pooled reader.
    fn new_reader(&self) -> Result<Connection> {
        let conn = self.open_reader()?;
        // Readers map the file: queue pages over 100k tickets touch many pages, and a memory map
        // avoids a copy per page read.
        conn.execute_batch("PRAGMA mmap_size = 268435456; PRAGMA cache_size = -32768;")
            .map_err(|e| StoreError::from_open(&self.path, e))?;
        Ok(conn)
    }

    fn open_reader(&self) -> Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)
            .map_err(|e| StoreError::from_open(&self.path, e))?;
        apply_key(&conn, self.key.as_ref()).map_err(|e| StoreError::from_open(&self.path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| StoreError::from_open(&self.path, e))?;
        conn.execute_batch("PRAGMA foreign_keys = ON;")
            .map_err(|e| StoreError::from_open(&self.path, e))?;
        conn.set_prepared_statement_cache_capacity(64);
        query::register_functions(&conn).map_err(|e| StoreError::from_open(&self.path, e))?;
        Ok(conn)
    }
}

/// A read-only connection of its own (not pooled) for walking a large part of the database
/// once: it does not map the file and keeps a small page cache, so what a walk has read is not
/// kept in memory. A pooled reader maps up to 256 MiB of the file and caches 32 MiB, and a walk
/// over every ticket would fill both (mapped file pages count as the process's resident
/// memory). Every call is its own read transaction, so a long walk never holds back the WAL;
/// a walk in batches sees each batch consistent, not the whole walk. Closed when dropped.
pub struct StreamingReader<'a> {
    store: &'a Store,
    conn: Connection,
}

impl StreamingReader<'_> {
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let path = &self.store.path;
        self.conn
            .execute_batch("BEGIN DEFERRED")
            .map_err(|e| StoreError::from_sql(path, e))?;
        let out = f(&self.conn);
        let end = self
            .conn
            .execute_batch("COMMIT")
            .map_err(|e| StoreError::from_sql(path, e));
        let out = out?;
        end?;
        Ok(out)
    }
}

/// Restores normal durability when an import ends (see [`Store::bulk_load`]).
pub struct BulkLoad<'a> {
    store: &'a Store,
}

impl Drop for BulkLoad<'_> {
    fn drop(&mut self) {
        let conn = self
            .store
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let restore = conn.execute_batch(&format!(
            "PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 1000; PRAGMA cache_size = -{}; \
             PRAGMA wal_checkpoint(TRUNCATE);",
            WRITER_CACHE_KIB
        ));
        if let Err(e) = restore {
            tracing::error!(error = %e, "could not restore normal durability after an import");
        }
    }
}

/// Sets the SQLCipher key; must be the first statement on a connection. Without a key the
/// connection reads and writes plain SQLite.
fn apply_key(conn: &Connection, key: Option<&DatabaseKey>) -> rusqlite::Result<()> {
    match key {
        Some(k) => conn.execute_batch(k.pragma().expose()),
        None => Ok(()),
    }
}

fn configure_writer(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Reading the header first turns "not a database" into an error here, before any pragma
    // could write to the file.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "could not switch the database to WAL");
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    query::register_functions(conn)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn migrate(path: &Path, conn: &mut Connection) -> Result<()> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| StoreError::from_open(path, e))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found > 0 || has_user_tables(conn).map_err(|e| StoreError::from_open(path, e))? {
        // An existing database: it must be ours. A foreign SQLite file is never migrated.
        let ours = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'tickets'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| StoreError::from_open(path, e))?;
        if ours == 0 {
            return Err(StoreError::NotAWorkspace {
                path: path.to_owned(),
            });
        }
    }
    let migrations = Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect());
    migrations
        .to_latest(conn)
        .map_err(|e| StoreError::Migration {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    // Cheap at open: analyzes only tables whose statistics are missing or stale.
    conn.execute_batch("PRAGMA optimize = 0x10002")
        .map_err(|e| StoreError::from_open(path, e))
}

fn has_user_tables(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open(&dir.path().join("casebook.db"), OpenMode::CreateIfMissing).unwrap();
        (dir, store)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::temp_store;
    use super::*;

    fn writer_cache_kib(store: &Store) -> i64 {
        let conn = store.writer.lock().unwrap();
        -conn
            .query_row("PRAGMA cache_size", [], |r| r.get::<_, i64>(0))
            .unwrap()
    }

    #[test]
    fn the_writer_keeps_a_small_page_cache_except_while_importing() {
        let (_d, store) = temp_store();
        assert_eq!(writer_cache_kib(&store), WRITER_CACHE_KIB);
        {
            let _bulk = store.bulk_load().unwrap();
            assert_eq!(writer_cache_kib(&store), IMPORT_CACHE_KIB);
        }
        assert_eq!(writer_cache_kib(&store), WRITER_CACHE_KIB);
        const { assert!(WRITER_CACHE_KIB < IMPORT_CACHE_KIB) };
    }

    #[test]
    fn a_new_store_is_migrated_and_sound() {
        let (_dir, store) = temp_store();
        let version: i64 = store
            .read(|c| {
                Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))
                    .unwrap())
            })
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(store.integrity_check().unwrap(), "ok");
        let mode: String = store
            .read(|c| {
                Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))
                    .unwrap())
            })
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn must_exist_does_not_create_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.db");
        let err = Store::open(&path, OpenMode::MustExist).unwrap_err();
        assert!(matches!(err, StoreError::Missing { .. }), "{err:?}");
        assert!(!path.exists());
    }

    #[test]
    fn a_newer_schema_is_refused_and_left_untouched() {
        let (dir, store) = temp_store();
        let path = store.path().to_owned();
        store
            .write(|tx| {
                tx.execute_batch("PRAGMA user_version = 99; CREATE TABLE future (x); INSERT INTO future VALUES (42);")
                    .unwrap();
                Ok(())
            })
            .unwrap();
        drop(store);
        let err = Store::open(&path, OpenMode::MustExist).unwrap_err();
        assert!(
            matches!(err, StoreError::NewerSchema { found: 99, .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("newer version of Casebook") && msg.contains("casebook.db"),
            "{msg}"
        );
        // Nothing was migrated or dropped: the newer schema and its data are intact.
        #[allow(clippy::disallowed_methods)] // inspecting the file as another program would
        let c = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        let x: i64 = c
            .query_row("SELECT x FROM future", [], |r| r.get(0))
            .unwrap();
        assert_eq!((v, x), (99, 42));
        drop(dir);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_reported_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("casebook.db");
        let garbage = b"this is certainly not an sqlite file, it is some text...".repeat(100);
        std::fs::write(&path, &garbage).unwrap();
        let err = Store::open(&path, OpenMode::CreateIfMissing).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("casebook.db"));
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }

    #[test]
    fn a_foreign_sqlite_database_is_not_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        {
            #[allow(clippy::disallowed_methods)] // creating a foreign file on purpose
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE songs (id INTEGER PRIMARY KEY)")
                .unwrap();
        }
        let err = Store::open(&path, OpenMode::MustExist).unwrap_err();
        assert!(matches!(err, StoreError::NotAWorkspace { .. }), "{err:?}");
    }

    #[test]
    fn a_database_locked_by_another_program_is_reported_as_locked() {
        let (_dir, store) = temp_store();
        let path = store.path().to_owned();
        drop(store);
        #[allow(clippy::disallowed_methods)] // plays "another program" holding the lock
        let other = Connection::open(&path).unwrap();
        other
            .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
            .unwrap();
        let started = std::time::Instant::now();
        let err = Store::open(&path, OpenMode::MustExist).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        assert!(
            started.elapsed() >= Duration::from_secs(4),
            "waited for the busy timeout"
        );
        assert!(err.to_string().contains("locked"));
        other.execute_batch("COMMIT").unwrap();
    }
}
