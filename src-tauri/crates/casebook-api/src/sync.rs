//! Sync (issue 5) through the façade: sync a connection now (with progress), per-connection
//! status, the outbox (list, retry, discard) and the conflict inbox (list, resolve).

use crate::error::{ApiError, ErrorCode};
use crate::{Casebook, Inner, Result};
use casebook_core::Store;
use casebook_core::connection::{Connection, Vendor};
use casebook_core::store::{OutboxStatus, Resolution, SyncOp};
use casebook_sync::auth::{AuthError, Credentials};
use casebook_sync::backoff::TokioSleeper;
use casebook_sync::connector::{Connector, CredentialSource};
use casebook_sync::engine::{
    ArticleSink, Progress, ProgressFn, StoreAccess, SyncEngine, SyncOptions,
};
use casebook_sync::error::SyncError;
use casebook_sync::model::{ArticleSweep, RemoteArticle};
use casebook_sync::servicenow::ServiceNow;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use ts_rs::TS;

/// What a finished sync did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SyncRunView {
    #[ts(type = "number")]
    pub connection_id: i64,
    #[ts(type = "number")]
    pub tickets_created: u64,
    #[ts(type = "number")]
    pub tickets_updated: u64,
    #[ts(type = "number")]
    pub comments_added: u64,
    #[ts(type = "number")]
    pub pushed: u64,
    #[ts(type = "number")]
    pub conflicts: u64,
    #[ts(type = "number")]
    pub failed: u64,
    #[ts(type = "number")]
    pub unknown: u64,
    #[ts(type = "number")]
    pub marked_deleted: u64,
    #[ts(type = "number")]
    pub articles: u64,
    /// Articles the knowledge-base sweep removed from the local index (deleted, trashed or
    /// moved away upstream).
    #[ts(type = "number")]
    pub articles_removed: u64,
    /// What the knowledge-base step did, or why it did not run (e.g. no Confluence space set,
    /// a space that cannot be read); `null` when the sync stopped before it.
    pub kb_status: Option<String>,
    /// Things worth telling that are not problems.
    pub notes: Vec<String>,
    /// Problems that did not stop the sync (a page or an operation).
    pub errors: Vec<String>,
    /// Why the sync stopped early, if it did.
    pub stopped: Option<String>,
    /// `offline`, `auth_expired`, `rate_limited`, … when it stopped.
    pub stopped_kind: Option<String>,
}

/// Progress of a running sync (sent over a channel to the UI, drawn as a bar by the CLI).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", tag = "phase")]
#[ts(export)]
pub enum SyncProgress {
    Pulling {
        scope: String,
        #[ts(type = "number")]
        pages: u64,
        #[ts(type = "number")]
        tickets: u64,
    },
    Pushing {
        #[ts(type = "number")]
        done: u64,
        #[ts(type = "number")]
        total: u64,
    },
    Sweeping {
        scope: String,
    },
    Articles {
        #[ts(type = "number")]
        articles: u64,
    },
    Waiting {
        reason: String,
        #[serde(rename = "waitMs")]
        #[ts(type = "number", rename = "waitMs")]
        wait_ms: u64,
    },
    Finished,
}

impl From<&Progress> for SyncProgress {
    fn from(p: &Progress) -> SyncProgress {
        match p {
            Progress::Pulling {
                scope,
                pages,
                tickets,
            } => SyncProgress::Pulling {
                scope: scope.clone(),
                pages: *pages,
                tickets: *tickets,
            },
            Progress::Pushing { done, total } => SyncProgress::Pushing {
                done: *done,
                total: *total,
            },
            Progress::Sweeping { scope } => SyncProgress::Sweeping {
                scope: scope.clone(),
            },
            Progress::Articles { articles } => SyncProgress::Articles {
                articles: *articles,
            },
            Progress::Waiting { reason, wait } => SyncProgress::Waiting {
                reason: reason.clone(),
                wait_ms: wait.as_millis() as u64,
            },
            Progress::Finished => SyncProgress::Finished,
        }
    }
}

/// One connection's sync status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SyncStatusView {
    #[ts(type = "number")]
    pub connection_id: i64,
    pub connection_name: String,
    pub vendor: Vendor,
    #[ts(type = "number | null")]
    pub last_started_at: Option<i64>,
    #[ts(type = "number | null")]
    pub last_success_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_kind: Option<String>,
    /// What the last sync said about the connection's knowledge base (articles pulled, no
    /// Confluence space set, a space that cannot be read and why).
    pub kb_status: Option<String>,
    #[ts(type = "number")]
    pub pending_ops: u64,
    #[ts(type = "number")]
    pub unknown_ops: u64,
    #[ts(type = "number")]
    pub failed_ops: u64,
    #[ts(type = "number")]
    pub conflicts: u64,
    #[ts(type = "number")]
    pub deleted_upstream: u64,
    #[ts(type = "number")]
    pub tickets: u64,
    /// Whether this build can sync this vendor yet.
    pub supported: bool,
}

/// An outbox operation as the UI and the CLI list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct OutboxOpView {
    #[ts(type = "number")]
    pub id: i64,
    #[ts(type = "number")]
    pub ticket_id: i64,
    pub ticket_key: String,
    /// The connection id (as text) or `local`.
    pub target: String,
    pub op: String,
    pub status: OutboxStatus,
    /// A one-line description of the change (fields and values, or the comment's first line).
    pub summary: String,
    #[ts(type = "number")]
    pub attempts: i64,
    pub last_error: Option<String>,
    pub error_kind: Option<String>,
    #[ts(type = "number | null")]
    pub next_attempt_at: Option<i64>,
    #[ts(type = "number")]
    pub created_at: i64,
    pub deleted_upstream: bool,
}

/// A conflict inbox entry: one field changed here and upstream since the edit's base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ConflictView {
    #[ts(type = "number")]
    pub id: i64,
    #[ts(type = "number")]
    pub ticket_id: i64,
    pub ticket_key: String,
    pub ticket_title: String,
    pub field: String,
    #[ts(type = "unknown")]
    pub base: serde_json::Value,
    #[ts(type = "unknown")]
    pub mine: serde_json::Value,
    #[ts(type = "unknown")]
    pub theirs: serde_json::Value,
    #[ts(type = "number")]
    pub created_at: i64,
}

/// How to settle a conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", tag = "kind")]
#[ts(export)]
pub enum ConflictResolutionInput {
    KeepMine,
    TakeTheirs,
    Edited {
        #[ts(type = "unknown")]
        value: serde_json::Value,
    },
}

struct InnerStore(Arc<Inner>);

impl StoreAccess for InnerStore {
    fn store(&self) -> &Store {
        &self.0.store
    }
}

struct InnerTokens(Arc<Inner>);

#[async_trait::async_trait]
impl CredentialSource for InnerTokens {
    async fn credentials(&self, conn: &Connection) -> std::result::Result<Credentials, AuthError> {
        self.0.conn.tokens.credentials(conn).await.map(|(c, _)| c)
    }
}

/// Feeds pulled knowledge-base articles to the search index (through its document model).
struct KbSink(Casebook);

impl ArticleSink for KbSink {
    fn store_articles(
        &self,
        connection_id: i64,
        articles: &[RemoteArticle],
    ) -> std::result::Result<(), String> {
        let conn = connection_id.to_string();
        let (live, retired): (Vec<_>, Vec<_>) = articles.iter().partition(|a| !a.retired);
        let docs: Vec<casebook_search::doc::KbArticle> = live
            .iter()
            .map(|a| casebook_search::doc::KbArticle {
                connection: conn.clone(),
                article_id: a.key.clone(),
                title: a.title.clone(),
                body_html: a.body_html.clone(),
                url: a.url.clone(),
                tags: Vec::new(),
                service: None,
                updated_at: a.updated_at,
                version: a.updated_at.max(0) as u64,
            })
            .collect();
        let gone: Vec<(String, String)> = retired
            .iter()
            .map(|a| (conn.clone(), a.key.clone()))
            .collect();
        self.0
            .kb_index_articles(&docs, &gone)
            .map_err(|e| e.message)
    }

    fn sweep_articles(
        &self,
        connection_id: i64,
        sweep: &ArticleSweep,
    ) -> std::result::Result<(u64, u64), String> {
        self.0
            .kb_sweep_articles(
                &connection_id.to_string(),
                &sweep.keys,
                &sweep.keep_prefixes,
            )
            .map_err(|e| e.message)
    }
}

fn summary(op: &SyncOp) -> String {
    match op.op.as_str() {
        "comment" => {
            let body = op
                .payload
                .get("body")
                .and_then(|b| b.as_str())
                .unwrap_or_default();
            let first: String = body
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(80)
                .collect();
            format!("comment: {first}")
        }
        "update" => op
            .payload
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k} → {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        "create" => format!(
            "create: {}",
            op.payload
                .get("title")
                .and_then(|t| t.as_str())
                .unwrap_or_default()
        ),
        // The payload is the redacted package.
        "escalation" => format!(
            "escalation to {}: {}",
            op.payload["project"].as_str().unwrap_or_default(),
            op.payload["summary"].as_str().unwrap_or_default()
        ),
        other => other.to_owned(),
    }
}

fn op_view(op: SyncOp) -> OutboxOpView {
    OutboxOpView {
        summary: summary(&op),
        id: op.id,
        ticket_id: op.ticket_id,
        ticket_key: op.ticket_key,
        target: op.target,
        op: op.op,
        status: op.status,
        attempts: op.attempts,
        last_error: op.last_error,
        error_kind: op.error_kind,
        next_attempt_at: op.next_attempt_at,
        created_at: op.created_at,
        deleted_upstream: op.deleted_upstream,
    }
}

impl Casebook {
    fn connector_for(&self, conn: &Connection) -> Result<Arc<dyn Connector>> {
        match conn.vendor {
            Vendor::ServiceNow => Ok(Arc::new(ServiceNow::new(
                self.inner.conn.tokens.http().clone(),
                Arc::new(InnerTokens(Arc::clone(&self.inner))),
                conn.clone(),
            ))),
            Vendor::Jira => Ok(Arc::new(casebook_sync::jira::Jira::new(
                self.inner.conn.tokens.http().clone(),
                Arc::new(InnerTokens(Arc::clone(&self.inner))),
                conn.clone(),
            ))),
            // Incremental export for administrators, search export for agents: as the last
            // connection test found the account.
            Vendor::Zendesk => Ok(Arc::new(casebook_sync::zendesk::Zendesk::new(
                self.inner.conn.tokens.http().clone(),
                Arc::new(InnerTokens(Arc::clone(&self.inner))),
                conn.clone(),
                casebook_sync::zendesk::ZendeskExport::from_connection(conn),
            ))),
        }
    }

    /// Takes the connection's sync lock, waiting while another sync of it runs (in this
    /// process or another one: the app and the CLI share the workspace). The lock is an OS file
    /// lock on `sync-<id>.lock` in the workspace, released when the returned file is dropped or
    /// the process dies.
    async fn sync_lock(
        &self,
        connection_id: i64,
        progress: Option<&Arc<dyn Fn(SyncProgress) + Send + Sync>>,
    ) -> Result<std::fs::File> {
        let path = self.inner.home.join(format!("sync-{connection_id}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| ApiError::internal("opening the sync lock", &e))?;
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(ApiError::internal("taking the sync lock", &e));
            }
        }
        tracing::info!(
            connection = connection_id,
            "another sync of this connection is running; waiting for it"
        );
        if let Some(p) = progress {
            p(SyncProgress::Waiting {
                reason: "another sync of this connection is running".into(),
                wait_ms: 0,
            });
        }
        tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .map_err(|e| ApiError::internal("waiting for the running sync", &e))?
            .map_err(|e| ApiError::internal("taking the sync lock", &e))
    }

    /// Syncs one connection now: push the outbox, pull every mirrored scope, sweep for deleted
    /// tickets when due. `progress` receives updates as it goes.
    ///
    /// One sync per connection at a time: a second call (the UI's "sync now" while another
    /// sync runs, or a CLI sync beside the app) waits for the running one to finish, then runs
    /// its own — which finds little left to do, and sees every edit made before it was called.
    pub async fn sync_now(
        &self,
        connection: String,
        progress: Option<Arc<dyn Fn(SyncProgress) + Send + Sync>>,
    ) -> Result<SyncRunView> {
        let conn = self
            .blocking("reading the connection", move |i| {
                Ok(i.store.find_connection(&connection)?)
            })
            .await?;
        let _lock = self.sync_lock(conn.id, progress.as_ref()).await?;
        let connector = self.connector_for(&conn)?;
        let mut engine = SyncEngine::new(
            Arc::new(InnerStore(Arc::clone(&self.inner))),
            connector,
            conn.id,
            Arc::clone(&self.inner.clock),
            Arc::new(TokioSleeper),
            SyncOptions::default(),
        )
        .with_article_sink(Arc::new(KbSink(self.clone())));
        if let Some(p) = progress {
            let f: ProgressFn = Arc::new(move |e: &Progress| p(SyncProgress::from(e)));
            engine = engine.with_progress(f);
        }
        let report = engine.run().await;
        if !report.changed_ids.is_empty() {
            self.publish(crate::dto::ChangeKind::Tickets, report.changed_ids.clone());
        }
        Ok(SyncRunView {
            connection_id: conn.id,
            tickets_created: report.tickets_created,
            tickets_updated: report.tickets_updated,
            comments_added: report.comments_added,
            pushed: report.pushed,
            conflicts: report.conflicts,
            failed: report.failed,
            unknown: report.unknown,
            marked_deleted: report.marked_deleted,
            articles: report.articles,
            articles_removed: report.articles_removed,
            kb_status: report.kb_status,
            notes: report.notes,
            errors: report.errors,
            stopped_kind: report.stopped.as_ref().map(|e| e.kind().to_owned()),
            stopped: report.stopped.as_ref().map(SyncError::to_string),
        })
    }

    /// The sync status of every connection.
    pub async fn sync_status(&self) -> Result<Vec<SyncStatusView>> {
        self.blocking("reading the sync status", |i| {
            let mut out = Vec::new();
            for c in i.store.connections()? {
                let s = i.store.sync_status(c.id)?;
                out.push(SyncStatusView {
                    connection_id: c.id,
                    connection_name: c.name,
                    vendor: c.vendor,
                    last_started_at: s.last_started_at,
                    last_success_at: s.last_success_at,
                    last_error: s.last_error,
                    last_error_kind: s.last_error_kind,
                    kb_status: s.kb_status,
                    pending_ops: s.pending_ops,
                    unknown_ops: s.unknown_ops,
                    failed_ops: s.failed_ops,
                    conflicts: s.conflicts,
                    deleted_upstream: s.deleted_upstream,
                    tickets: s.tickets,
                    supported: true,
                });
            }
            Ok(out)
        })
        .await
    }

    /// Outbox operations not done yet (`connection`: only that one's).
    pub async fn outbox_list(&self, connection: Option<String>) -> Result<Vec<OutboxOpView>> {
        self.blocking("listing the outbox", move |i| {
            let target = match connection {
                Some(c) => Some(i.store.find_connection(&c)?.id.to_string()),
                None => None,
            };
            Ok(i.store
                .sync_ops(target.as_deref())?
                .into_iter()
                .map(op_view)
                .collect())
        })
        .await
    }

    /// Tries an operation again at the next sync (now, not after its backoff).
    pub async fn outbox_retry(&self, id: i64) -> Result<OutboxOpView> {
        self.blocking("retrying an operation", move |i| {
            Ok(op_view(i.store.outbox_retry(id, i.clock.now())?))
        })
        .await
    }

    /// Discards an operation (after the agent confirmed): a copy stays in the event log.
    pub async fn outbox_discard(&self, id: i64, confirmed: bool) -> Result<()> {
        if !confirmed {
            return Err(ApiError::invalid(
                "discarding drops the change for good; confirm to discard it",
            ));
        }
        let ticket = self
            .blocking("discarding an operation", move |i| {
                let name = crate::agent_name(&i.store)?;
                let op = i.store.sync_op(id)?;
                i.store.outbox_discard(id, &i.actor(&name))?;
                Ok(op.ticket_id)
            })
            .await?;
        self.publish(crate::dto::ChangeKind::Tickets, vec![ticket]);
        Ok(())
    }

    /// Open conflicts (`connection`: only that one's).
    pub async fn conflicts_list(&self, connection: Option<String>) -> Result<Vec<ConflictView>> {
        self.blocking("listing conflicts", move |i| {
            let target = match connection {
                Some(c) => Some(i.store.find_connection(&c)?.id.to_string()),
                None => None,
            };
            Ok(i.store
                .conflicts_open(target.as_deref())?
                .into_iter()
                .map(|c| ConflictView {
                    id: c.id,
                    ticket_id: c.ticket_id,
                    ticket_key: c.ticket_key,
                    ticket_title: c.ticket_title,
                    field: c.field,
                    base: c.base,
                    mine: c.mine,
                    theirs: c.theirs,
                    created_at: c.created_at,
                })
                .collect())
        })
        .await
    }

    /// Settles a conflict; keeping mine or an edited value is pushed at the next sync.
    pub async fn conflicts_resolve(&self, id: i64, input: ConflictResolutionInput) -> Result<()> {
        let resolution = match input {
            ConflictResolutionInput::KeepMine => Resolution::KeepMine,
            ConflictResolutionInput::TakeTheirs => Resolution::TakeTheirs,
            ConflictResolutionInput::Edited { value } => Resolution::Edited(value),
        };
        let ticket = self
            .blocking("resolving a conflict", move |i| {
                let name = crate::agent_name(&i.store)?;
                let ticket = i
                    .store
                    .conflicts_open(None)?
                    .into_iter()
                    .find(|c| c.id == id)
                    .map(|c| c.ticket_id)
                    .ok_or_else(|| {
                        ApiError::new(ErrorCode::NotFound, format!("no open conflict {id}"))
                    })?;
                i.store.resolve_conflict(id, &resolution, &i.actor(&name))?;
                Ok(ticket)
            })
            .await?;
        self.publish(crate::dto::ChangeKind::Tickets, vec![ticket]);
        Ok(())
    }
}
