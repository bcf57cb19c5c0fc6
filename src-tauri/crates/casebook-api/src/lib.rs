//! The façade: `Casebook` is the one API that the desktop shell, the `casebook` CLI and the
//! integration tests call. It composes the core crates, runs blocking work (SQLite) on the blocking
//! pool, maps errors to `{code, message}` and publishes batched change events.

pub mod connections;
pub mod dto;
pub mod error;
pub mod escalation;
pub mod escalation_push;
pub mod kb;
pub mod outbox_export;
pub mod sample;
pub mod sla;
pub mod sync;
pub mod workspace_key;

pub use casebook_core::store::Origin;
pub use error::{ApiError, ErrorCode};

use casebook_core::import::{self, ImportOptions};
use casebook_core::model::{NewTicket, TicketPatch, TicketState};
use casebook_core::store::Actor;
use casebook_core::{Clock, OpenMode, Store, SystemClock};
use dto::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// The file name of the workspace database inside the data directory.
pub const DATABASE_FILE: &str = "casebook.db";

/// The app identifier: names the default data directory (and, later, keyring entries), so that
/// development and release builds can be kept apart by changing it.
pub const APP_IDENTIFIER: &str = "dev.casebook.desktop";

const SETTING_AGENT: &str = "agent_name";
const SETTING_ONBOARDED: &str = "onboarded";
const SETTING_SAMPLE: &str = "sample_loaded";

/// Where the workspace lives: `$CASEBOOK_HOME`, else the platform's data directory
/// (`~/.local/share/dev.casebook.desktop` on Linux).
pub fn default_home() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os("CASEBOOK_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| {
                let h = PathBuf::from(h);
                if cfg!(target_os = "macos") {
                    h.join("Library/Application Support")
                } else {
                    h.join(".local/share")
                }
            })
        })
        .or_else(|| std::env::var_os("APPDATA").map(PathBuf::from))
        .ok_or_else(|| {
            ApiError::invalid("cannot find a data directory: set CASEBOOK_HOME or pass --home")
        })?;
    Ok(base.join(APP_IDENTIFIER))
}

pub struct OpenOptions {
    pub home: PathBuf,
    /// Who is calling: the app or the CLI (stamped on every event).
    pub origin: Origin,
    pub clock: Arc<dyn Clock>,
    /// `true` to create the workspace when it does not exist yet.
    pub create: bool,
    /// Where credentials and the database key are kept: the OS keyring, namespaced by
    /// [`APP_IDENTIFIER`] (tests pass a memory store).
    pub secrets: Arc<dyn casebook_core::secrets::SecretStore>,
    /// Where the database key comes from (see [`workspace_key`]).
    pub database_key: workspace_key::KeySource,
    /// Extra trusted roots and timeouts for upstream HTTPS.
    pub http: casebook_sync::http::HttpConfig,
    /// How long a sign-in waits for the browser to come back.
    pub sign_in_timeout: Duration,
}

impl OpenOptions {
    pub fn new(home: impl Into<PathBuf>, origin: Origin) -> OpenOptions {
        OpenOptions {
            home: home.into(),
            origin,
            clock: Arc::new(SystemClock),
            create: true,
            secrets: Arc::new(casebook_core::secrets::KeyringSecretStore::new(
                APP_IDENTIFIER,
            )),
            database_key: workspace_key::KeySource::from_env(),
            http: Default::default(),
            sign_in_timeout: Duration::from_secs(300),
        }
    }

    /// For tests of features other than encryption and sign-in: an unencrypted database and an
    /// in-memory secret store (no test touches the user's keyring).
    pub fn for_tests(home: impl Into<PathBuf>, origin: Origin) -> OpenOptions {
        let mut o = OpenOptions::new(home, origin);
        o.secrets = Arc::new(casebook_core::secrets::MemorySecretStore::new());
        o.database_key = workspace_key::KeySource::Unencrypted;
        o
    }
}

struct Inner {
    store: Store,
    home: PathBuf,
    origin: Origin,
    clock: Arc<dyn Clock>,
    changes: broadcast::Sender<ChangeBatch>,
    conn: connections::ConnState,
    kb: kb::KbSlot,
    sla: sla::SlaSlot,
}

/// A cheap-to-clone handle to an open workspace.
#[derive(Clone)]
pub struct Casebook {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Casebook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Casebook")
            .field("home", &self.inner.home)
            .finish_non_exhaustive()
    }
}

impl Casebook {
    /// Opens the workspace in `opts.home` (creating it when allowed).
    pub async fn open(opts: OpenOptions) -> Result<Casebook> {
        tokio::task::spawn_blocking(move || Casebook::open_blocking(opts))
            .await
            .map_err(|e| ApiError::internal("opening the workspace", &e))?
    }

    /// The blocking form of [`Casebook::open`], for callers that are not async (benchmarks).
    pub fn open_blocking(opts: OpenOptions) -> Result<Casebook> {
        let db = opts.home.join(DATABASE_FILE);
        if opts.create {
            std::fs::create_dir_all(&opts.home).map_err(|e| {
                ApiError::invalid(format!(
                    "cannot create the data directory {}: {e}",
                    opts.home.display()
                ))
            })?;
        }
        let mode = if opts.create {
            OpenMode::CreateIfMissing
        } else {
            OpenMode::MustExist
        };
        let key = workspace_key::resolve(
            &opts.database_key,
            opts.secrets.as_ref(),
            &opts.home,
            &db,
            opts.create,
        )?;
        let store = match &key {
            Some(k) => Store::open_encrypted(&db, mode, k)?,
            None => Store::open(&db, mode)?,
        };
        let workspace_id = workspace_key::workspace_id(&opts.home)?;
        let conn = connections::ConnState::new(
            Arc::clone(&opts.secrets),
            &workspace_id,
            Arc::clone(&opts.clock),
            &opts.http,
            opts.sign_in_timeout,
        )?;
        let (changes, _) = broadcast::channel(256);
        Ok(Casebook {
            inner: Arc::new(Inner {
                store,
                home: opts.home,
                origin: opts.origin,
                clock: opts.clock,
                changes,
                conn,
                kb: Default::default(),
                sla: Default::default(),
            }),
        })
    }

    /// Change batches published after every committed write (and for external writes, see
    /// [`Casebook::watch_external_changes`]).
    pub fn subscribe(&self) -> broadcast::Receiver<ChangeBatch> {
        self.inner.changes.subscribe()
    }

    pub fn home(&self) -> &Path {
        &self.inner.home
    }

    /// Direct access to the store, for the CLI's benchmarks and the tests.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Runs blocking work on the blocking pool. Every store call goes through here so that no async
    /// caller (a Tauri command) ever blocks a runtime thread.
    async fn blocking<T, F>(&self, what: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let asked = std::time::Instant::now();
        tokio::task::spawn_blocking(move || {
            let started = asked.elapsed();
            let out = f(&inner);
            // `CASEBOOK_LOG=casebook_api=debug` shows where a slow command spent its time.
            tracing::debug!(what, queued = ?started, took = ?asked.elapsed() - started, "done");
            out
        })
        .await
        .map_err(|e| ApiError::internal(what, &e))?
    }

    fn publish(&self, kind: ChangeKind, ids: Vec<i64>) {
        if kind != ChangeKind::Views {
            kb::on_change(
                &self.inner,
                (kind == ChangeKind::Tickets).then_some(&ids[..]),
            );
        }
        // No subscriber is fine: the CLI does not listen.
        let _ = self.inner.changes.send(ChangeBatch {
            kind,
            ids,
            origin: ChangeOrigin::Local,
        });
    }

    pub async fn workspace_info(&self) -> Result<WorkspaceInfo> {
        self.blocking("reading the workspace", |i| {
            Ok(WorkspaceInfo {
                home: i.home.display().to_string(),
                database_path: i.store.path().display().to_string(),
                ticket_count: i.store.ticket_count()?,
                pending_ops: i.store.outbox_pending_count()?,
                agent_name: agent_name(&i.store)?,
                onboarded: i.store.setting(SETTING_ONBOARDED)?.as_deref() == Some("true"),
                sample_loaded: i.store.setting(SETTING_SAMPLE)?.as_deref() == Some("true"),
                schema_version: casebook_core::store::SCHEMA_VERSION,
            })
        })
        .await
    }

    pub async fn update_settings(&self, input: SettingsInput) -> Result<WorkspaceInfo> {
        self.blocking("saving settings", move |i| {
            if let Some(name) = input.agent_name {
                let name = name.trim();
                if name.is_empty() || name.chars().count() > 100 {
                    return Err(ApiError::invalid(
                        "the agent name must have 1 to 100 characters",
                    ));
                }
                i.store.set_setting(SETTING_AGENT, name)?;
            }
            if let Some(done) = input.onboarded {
                i.store
                    .set_setting(SETTING_ONBOARDED, if done { "true" } else { "false" })?;
            }
            Ok(())
        })
        .await?;
        self.publish(ChangeKind::Workspace, Vec::new());
        self.workspace_info().await
    }

    pub async fn list_tickets(&self, query: TicketQuery) -> Result<TicketPage> {
        if query.sort == casebook_core::store::SortKey::Risk {
            return self.list_tickets_by_risk(query).await;
        }
        self.blocking("loading the queue", move |i| {
            Ok(i.store.query_tickets(&query)?.into())
        })
        .await
    }

    pub async fn count_tickets(&self, filters: Vec<TicketFilter>) -> Result<Vec<u64>> {
        if filters.len() > 100 {
            return Err(ApiError::invalid("at most 100 counts at once"));
        }
        self.blocking("counting tickets", move |i| {
            Ok(i.store.count_tickets(&filters)?)
        })
        .await
    }

    pub async fn facets(&self) -> Result<Facets> {
        self.blocking("loading filter values", |i| Ok(i.store.facets()?.into()))
            .await
    }

    pub async fn get_ticket(&self, id: i64) -> Result<TicketView> {
        self.blocking("loading the ticket", move |i| {
            Ok(i.store.ticket(id)?.into())
        })
        .await
    }

    /// Finds a ticket by key (`CB-3`, `INC0010001`) or numeric id.
    pub async fn find_ticket(&self, key: String) -> Result<TicketView> {
        self.blocking("loading the ticket", move |i| {
            let id = i.store.resolve_key(&key)?;
            Ok(i.store.ticket(id)?.into())
        })
        .await
    }

    pub async fn ticket_history(&self, id: i64) -> Result<Vec<HistoryEntry>> {
        self.blocking("loading the history", move |i| {
            i.store.ticket(id)?; // not-found before an empty history
            Ok(i.store
                .events_for(id)?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    pub async fn create_ticket(&self, input: NewTicketInput) -> Result<TicketView> {
        let view = self
            .blocking("creating the ticket", move |i| {
                let mut t = NewTicket::local(input.title);
                t.description = input.description;
                t.priority = input.priority.unwrap_or(t.priority);
                t.state = input.state.unwrap_or(TicketState::New);
                t.assignee = input.assignee;
                t.assignment_group = input.assignment_group;
                t.requester = input.requester;
                t.tags = input.tags;
                let name = agent_name(&i.store)?;
                let created = i.store.create_ticket(t, &i.actor(&name))?;
                Ok(TicketView::from(i.store.ticket(created.id)?))
            })
            .await?;
        self.publish(ChangeKind::Tickets, vec![view.id]);
        Ok(view)
    }

    pub async fn update_ticket(&self, input: UpdateTicketInput) -> Result<TicketView> {
        let id = input.id;
        let view = self
            .blocking("saving the ticket", move |i| {
                let patch = TicketPatch {
                    title: input.title,
                    description: input.description,
                    state: input.state,
                    priority: input.priority,
                    assignee: input
                        .assignee
                        .map(|a| Some(a).filter(|a| !a.trim().is_empty())),
                    assignment_group: input
                        .assignment_group
                        .map(|g| Some(g).filter(|g| !g.trim().is_empty())),
                    tags: input.tags,
                };
                let name = agent_name(&i.store)?;
                i.store.update_ticket(
                    input.id,
                    input.expected_revision,
                    &patch,
                    &i.actor(&name),
                )?;
                Ok(TicketView::from(i.store.ticket(input.id)?))
            })
            .await?;
        self.publish(ChangeKind::Tickets, vec![id]);
        Ok(view)
    }

    /// Adds a public reply or internal note; returns the updated ticket.
    pub async fn add_comment(&self, input: AddCommentInput) -> Result<TicketView> {
        let id = input.ticket_id;
        let view = self
            .blocking("saving the comment", move |i| {
                let name = agent_name(&i.store)?;
                i.store.add_comment(
                    input.ticket_id,
                    input.visibility,
                    &input.body,
                    &i.actor(&name),
                )?;
                Ok(TicketView::from(i.store.ticket(input.ticket_id)?))
            })
            .await?;
        self.publish(ChangeKind::Tickets, vec![id]);
        Ok(view)
    }

    /// Markdown to sanitized HTML (the compose box preview).
    pub async fn render_markdown(&self, text: String) -> Result<String> {
        if text.len() > casebook_core::store::MAX_BODY_BYTES {
            return Err(ApiError::invalid("text is too large to preview"));
        }
        self.blocking("rendering the preview", move |_| {
            Ok(casebook_core::markdown::render(&text))
        })
        .await
    }

    pub async fn list_views(&self) -> Result<Vec<SavedView>> {
        self.blocking("loading views", |i| {
            Ok(i.store.views()?.into_iter().map(Into::into).collect())
        })
        .await
    }

    pub async fn save_view(&self, input: SaveViewInput) -> Result<SavedView> {
        let v = self
            .blocking("saving the view", move |i| {
                let now = i.clock.now();
                Ok(i.store
                    .save_view(&input.name, &input.filter, input.sort, now)?
                    .into())
            })
            .await?;
        self.publish(ChangeKind::Views, Vec::new());
        Ok(v)
    }

    pub async fn delete_view(&self, id: i64) -> Result<()> {
        self.blocking("deleting the view", move |i| Ok(i.store.delete_view(id)?))
            .await?;
        self.publish(ChangeKind::Views, Vec::new());
        Ok(())
    }

    /// Imports a CSV or JSON file. `progress` is called from the blocking pool as rows are read.
    pub async fn import_file(
        &self,
        path: PathBuf,
        options: ImportOptions,
        progress: impl FnMut(Progress) + Send + 'static,
    ) -> Result<ImportReport> {
        let report = self
            .blocking("importing", move |i| {
                let file = std::fs::File::open(&path).map_err(|e| {
                    let code = if e.kind() == std::io::ErrorKind::NotFound {
                        ErrorCode::NotFound
                    } else {
                        ErrorCode::InvalidInput
                    };
                    ApiError::new(code, format!("cannot read {}: {e}", path.display()))
                })?;
                let total = file.metadata().ok().map(|m| m.len());
                run_import(i, file, total, &options, progress)
            })
            .await?;
        self.publish(ChangeKind::Tickets, Vec::new());
        Ok(report)
    }

    /// Fills the workspace with the sample data shipped with Casebook (real, openly licensed
    /// ServiceNow incident history and help-desk tickets), through the same importer a user runs.
    pub async fn open_sample(
        &self,
        mut progress: impl FnMut(Progress) + Send + 'static,
    ) -> Result<ImportReport> {
        let report = self
            .blocking("opening the sample workspace", move |i| {
                let mut total = ImportReport {
                    rows_read: 0,
                    tickets_imported: 0,
                    duplicates: 0,
                    problems: Vec::new(),
                    problems_not_listed: 0,
                    elapsed_ms: 0,
                };
                for part in sample::PARTS {
                    let stage = part.label;
                    let bytes = part.bytes;
                    let r = run_import(
                        i,
                        bytes,
                        Some(bytes.len() as u64),
                        &part.options(),
                        |mut p| {
                            p.stage = stage.to_owned();
                            progress(p)
                        },
                    )?;
                    total.rows_read += r.rows_read;
                    total.tickets_imported += r.tickets_imported;
                    total.duplicates += r.duplicates;
                    total.problems.extend(r.problems);
                    total.problems_not_listed += r.problems_not_listed;
                    total.elapsed_ms += r.elapsed_ms;
                }
                i.store.set_setting(SETTING_SAMPLE, "true")?;
                i.store.set_setting(SETTING_ONBOARDED, "true")?;
                Ok(total)
            })
            .await?;
        self.add_sample_runbooks().await;
        self.publish(ChangeKind::Workspace, Vec::new());
        Ok(report)
    }

    /// The sample's runbooks (Apache-2.0 Prometheus Operator alert runbooks, `sample/runbooks/`):
    /// written into `<home>/sample-runbooks` (files the agent edited or kept are left alone) and
    /// added to the knowledge base as any runbook folder is, so that search and similar cases have
    /// something to find on first run. The tickets are in already: a failure here is logged, not
    /// returned (the agent can add any folder in Settings).
    async fn add_sample_runbooks(&self) {
        let dir = self.inner.home.join(sample::RUNBOOK_DIR);
        let target = dir.clone();
        let written = tokio::task::spawn_blocking(move || sample::write_runbooks(&target)).await;
        match written {
            Ok(Ok(n)) => tracing::info!(written = n, dir = %dir.display(), "sample runbooks"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, dir = %dir.display(), "cannot write the sample runbooks");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "writing the sample runbooks panicked");
                return;
            }
        }
        if let Err(e) = self
            .kb_add_folder(dir.to_string_lossy().into_owned(), |_| {})
            .await
        {
            tracing::warn!(code = ?e.code, error = %e.message, "cannot add the sample runbooks to the knowledge base");
        }
    }

    /// Builds the store's in-memory queue index (filters, sorts, counts and free text over the
    /// whole queue in about a millisecond). Failures are logged: queries then build it themselves.
    ///
    /// The build runs on its own thread at a lower priority: at start-up it overlaps the window
    /// painting its first page, which must not wait for it (queries answer by SQL meanwhile).
    pub async fn warm_queue_index(&self) {
        let inner = Arc::clone(&self.inner);
        let started = std::time::Instant::now();
        let (done, built) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("queue-index".into())
            .spawn(move || {
                background_priority();
                let _ = done.send(inner.store.warm_queue_index());
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start building the queue index");
            return;
        }
        match built.await {
            Ok(Ok(tickets)) => {
                tracing::info!(tickets, took = ?started.elapsed(), "queue index built");
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot build the queue index"),
            Err(_) => tracing::warn!("building the queue index panicked"),
        }
    }

    /// Watches for writes by other processes (the CLI, a second window) and publishes a
    /// `workspace`/`external` change batch when one lands (after building the queue index). Runs until the returned handle is
    /// aborted or the runtime shuts down (dropping the handle does not stop it).
    pub fn watch_external_changes(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            // The app's background work starts here: first the in-memory queue index, so that the
            // first filtered or text query does not wait for it.
            me.warm_queue_index().await;
            let mut last = None;
            loop {
                let inner = Arc::clone(&me.inner);
                let now =
                    tokio::task::spawn_blocking(move || inner.store.external_change_token()).await;
                match now {
                    Ok(Ok(token)) => {
                        if last.is_some_and(|l| l != token) {
                            kb::on_change(&me.inner, None);
                            // Rebuild the queue index here, before the UI hears of the change
                            // and asks again, so no UI query waits for the rebuild.
                            me.inner.store.note_external_change();
                            me.warm_queue_index().await;
                            let _ = me.inner.changes.send(ChangeBatch {
                                kind: ChangeKind::Workspace,
                                ids: Vec::new(),
                                origin: ChangeOrigin::External,
                            });
                        }
                        last = Some(token);
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "cannot check for external changes"),
                    Err(e) => tracing::warn!(error = %e, "external change check panicked"),
                }
                tokio::time::sleep(every).await;
            }
        })
    }
}

impl Inner {
    fn actor<'a>(&self, name: &'a str) -> Actor<'a> {
        Actor {
            name,
            origin: self.origin,
            now: self.clock.now(),
        }
    }
}

fn agent_name(store: &Store) -> Result<String> {
    if let Some(n) = store.setting(SETTING_AGENT)? {
        return Ok(n);
    }
    Ok(std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "agent".to_owned()))
}

fn run_import(
    i: &Inner,
    input: impl std::io::Read,
    total_bytes: Option<u64>,
    options: &ImportOptions,
    mut progress: impl FnMut(Progress),
) -> Result<ImportReport> {
    let started = std::time::Instant::now();
    let name = agent_name(&i.store)?;
    let summary = import::import_reader(
        &i.store,
        input,
        options,
        &name,
        i.clock.as_ref(),
        &mut |p| {
            progress(Progress {
                stage: "importing".into(),
                done: p.bytes_read,
                total: total_bytes,
            })
        },
    )?;
    Ok(ImportReport {
        rows_read: summary.rows_read,
        tickets_imported: summary.tickets_imported,
        duplicates: summary.duplicates,
        problems_not_listed: summary.problems_not_listed,
        problems: summary
            .problems
            .into_iter()
            .map(|p| RowProblem {
                line: p.line,
                reason: p.reason,
            })
            .collect(),
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// Lowers the calling thread's scheduling priority (nice 10), so that background work yields the
/// CPU to the window and the agent's own queries. Linux only: elsewhere the call would lower the
/// whole process.
fn background_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(None, 10) {
        tracing::debug!(error = %e, "cannot lower the priority of a background thread");
    }
}
