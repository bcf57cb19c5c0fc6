//! The vendor-neutral connector: what the sync engine asks of ServiceNow, Jira Service Management
//! and Zendesk. One implementation per vendor; the engine drives them all the same way.
//!
//! # What the engine relies on
//!
//! - **Pull is idempotent.** A page may repeat tickets of the previous one (overlap across equal
//!   timestamps, eventual consistency windows); the engine skips a ticket whose
//!   [`RemoteVersion::token`] it already stored. A connector should prefer re-sending to skipping.
//! - **Cursors are opaque and only advance after commit.** The engine stores `page.next` in the
//!   same SQLite transaction as the page's tickets. If the page fails to parse (truncated JSON,
//!   an HTML login page, a bad timestamp) the connector returns an error and the engine keeps
//!   the old cursor: nothing of that page is written.
//! - **Writes name their base.** [`Connector::update_fields`] gets the version the local edit was
//!   made on and must not write when the record moved since (Zendesk `safe_update` +
//!   `updated_stamp`; ServiceNow and Jira: re-read `sys_mod_count` / `updated` immediately before
//!   the write). It then answers [`UpdateOutcome::Moved`] with the record as it is now; the engine
//!   merges per field (base / mine / theirs) and calls again with the new base and only the fields
//!   that do not conflict.
//! - **Exactly once, and nothing a customer sees.** Comments and creations carry a marker unique
//!   to the outbox operation, but only where the upstream keeps it out of sight (a creation's
//!   `correlation_id` / `external_id` / label, a Jira comment property, a Zendesk audit's
//!   metadata); a comment's text upstream is exactly what the agent wrote. Where no hidden place
//!   exists (ServiceNow journal entries) the comment is recognized by its author, its exact text
//!   and a baseline taken before the first send ([`Connector::comment_baseline`]). After a write
//!   whose outcome is unknown ([`SyncError::UnknownOutcome`]: the request was sent, no answer
//!   came back) the engine first asks [`Connector::find_comment`] / [`Connector::find_created`]
//!   and only writes again if the operation's comment or ticket is not there.
//! - **Errors are classified.** Transport failures before anything was sent are
//!   [`SyncError::Offline`]; a write that may have reached the upstream is
//!   [`SyncError::UnknownOutcome`] (never `Timeout`); 401 is [`SyncError::AuthExpired`]; 429 is
//!   [`SyncError::RateLimited`] with `Retry-After`; an HTML page where JSON was expected is
//!   [`SyncError::HtmlInsteadOfJson`]; unparsable JSON [`SyncError::MalformedJson`]; a timestamp
//!   in a format or zone the connector does not know [`SyncError::BadTimestamp`] (never guessed).
//!   Connectors do not retry or sleep themselves: backoff belongs to the engine (which has the
//!   injected clock and sleeper).
//! - **Credentials** come from [`crate::auth::tokens::TokenManager`] on every call (an access
//!   token refreshed mid-sync just works); a secret never appears in an error, a log line or a
//!   returned value.

use crate::auth::{AuthError, Credentials};
use crate::error::SyncError;
use crate::escalation::{EscalationIssue, NewEscalationIssue};
use crate::model::{
    ArticlePage, ArticleSweep, Cursor, FieldValues, IdPage, NewComment, NewRemoteTicket,
    RemoteComment, RemoteTicket, RemoteVersion, TicketPage, TicketRef,
};
use casebook_core::connection::{Connection, Vendor};

pub type SyncResult<T> = Result<T, SyncError>;

/// The answer to a conditional update.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOutcome {
    /// The fields were written; this is the record's version after the write.
    Applied(RemoteVersion),
    /// The record changed since `base`; nothing was written. This is the record now ("theirs").
    Moved(Box<RemoteTicket>),
}

#[async_trait::async_trait]
pub trait Connector: Send + Sync {
    fn vendor(&self) -> Vendor;

    /// The streams this connection mirrors (ServiceNow tables, Jira project keys, Zendesk
    /// `tickets`), from the connection's mirror scope. Each has its own cursor.
    fn scopes(&self) -> Vec<String>;

    /// The next page of tickets changed since `cursor` (`None`: from the beginning) in `scope`,
    /// oldest change first, each with its comments. At most `limit` tickets (a hint: a connector
    /// may return fewer, e.g. because the upstream applies ACLs after the limit).
    async fn pull_tickets(
        &self,
        scope: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> SyncResult<TicketPage>;

    /// One ticket as it is now, with its comments. [`SyncError::NotFound`] when it is gone (or
    /// the account lost access).
    async fn fetch_ticket(&self, ticket: &TicketRef) -> SyncResult<RemoteTicket>;

    /// Writes `changes` (canonical values) if the record is still at `base`; otherwise writes
    /// nothing and returns [`UpdateOutcome::Moved`] with the current record. Only the named fields
    /// are sent.
    async fn update_fields(
        &self,
        ticket: &TicketRef,
        base: &RemoteVersion,
        changes: &FieldValues,
    ) -> SyncResult<UpdateOutcome>;

    /// What the upstream holds before `comment` is sent for the first time, when
    /// [`Connector::find_comment`] needs it to tell this operation's comment from one that was
    /// there already (e.g. the ids of identical comments). The engine stores it with the
    /// operation before sending and passes it back in [`NewComment::baseline`]. `None` (the
    /// default, no request): the connector finds its comments by a hidden marker.
    async fn comment_baseline(
        &self,
        ticket: &TicketRef,
        comment: &NewComment,
    ) -> SyncResult<Option<serde_json::Value>> {
        let _ = (ticket, comment);
        Ok(None)
    }

    /// Appends a public reply or an internal note whose text upstream is exactly `comment.body`
    /// (no visible marker), in a way that [`Connector::find_comment`] recognizes later (a hidden
    /// comment property or audit metadata carrying `comment.marker`, or author + text +
    /// baseline). Never conflicts. The answer has `marker: Some(comment.marker)`.
    async fn add_comment(
        &self,
        ticket: &TicketRef,
        comment: &NewComment,
    ) -> SyncResult<RemoteComment>;

    /// The comment this operation (`comment.marker`) created on this ticket, if the upstream
    /// has it; never one whose id is in `comment.known` or was there before the first send. A
    /// comment carrying the marker line earlier versions appended (an operation queued before
    /// the upgrade) is recognized too.
    async fn find_comment(
        &self,
        ticket: &TicketRef,
        comment: &NewComment,
    ) -> SyncResult<Option<RemoteComment>>;

    /// Creates a ticket carrying `new.marker` in a field that round-trips (ServiceNow
    /// `correlation_id`, Zendesk `external_id`, a Jira issue property).
    async fn create_ticket(&self, new: &NewRemoteTicket) -> SyncResult<RemoteTicket>;

    /// The ticket created with `marker` in `scope`, if the upstream has it.
    async fn find_created(&self, scope: &str, marker: &str) -> SyncResult<Option<RemoteTicket>>;

    /// One page of the upstream ids currently visible in `scope`, for the deletion / lost-access
    /// sweep: a ticket mirrored locally that no page of a complete listing names is deleted or
    /// out of reach. `cursor`: where the previous page said to go on (`None`: from the start);
    /// `limit`: how many ids a page should hold at most (a hint the connector caps at what the
    /// upstream allows). Ids only; the listing ends with a page whose `next` is `None`.
    ///
    /// The engine merges each page with the mirror as it comes and holds no more than it must:
    /// any order is correct, but a listing in ascending
    /// [`casebook_core::store::sweep_order`] (numeric order for numeric ids, text order for ids
    /// of one width) keeps the sweep's memory to about one page whatever the scope's size. A
    /// short or empty page is not the end; only `next: None` is. If any page fails, nothing is
    /// marked.
    async fn list_ids_page(
        &self,
        scope: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> SyncResult<IdPage>;

    /// Creates an issue in an engineering project from an escalation package, carrying
    /// `issue.marker` so that [`Connector::find_escalation`] finds it later. Connectors without
    /// an engineering tracker refuse.
    async fn create_escalation(&self, issue: &NewEscalationIssue) -> SyncResult<EscalationIssue> {
        let _ = issue;
        Err(no_escalations(self.vendor()))
    }

    /// The escalation issue created with `marker` in `project`, if the upstream has it.
    async fn find_escalation(
        &self,
        project: &str,
        marker: &str,
    ) -> SyncResult<Option<EscalationIssue>> {
        let _ = (project, marker);
        Err(no_escalations(self.vendor()))
    }

    /// The file names attached to an issue (to upload each file once across retries).
    async fn attachment_names(&self, issue_key: &str) -> SyncResult<Vec<String>> {
        let _ = issue_key;
        Err(no_escalations(self.vendor()))
    }

    /// Attaches one file to an issue.
    async fn add_attachment(
        &self,
        issue_key: &str,
        file_name: &str,
        bytes: &[u8],
    ) -> SyncResult<()> {
        let _ = (issue_key, file_name, bytes);
        Err(no_escalations(self.vendor()))
    }

    /// `values` of `ticket` as this connector's pulls show them, so the engine's per-field merge
    /// compares like with like: e.g. a ServiceNow user named by sys_id (a base recorded before
    /// names were mapped) or by full name (typed by the agent) becomes the user name a pull
    /// shows; a Jira account id or email address becomes the display name; a Zendesk user id
    /// or email address the user's name. With `strict` (the agent's own edit), a value that
    /// names nothing upstream, or several records, is an error naming it; otherwise (a base)
    /// it is kept as it is. Fields without such a mapping pass unchanged. The ticket tells
    /// connectors whose lookups depend on where the value goes (Jira: who can be assigned in
    /// the issue's project).
    async fn readable_values(
        &self,
        ticket: &TicketRef,
        values: &FieldValues,
        strict: bool,
    ) -> SyncResult<FieldValues> {
        let _ = (ticket, strict);
        Ok(values.clone())
    }

    /// Whether this connection has a knowledge base to pull.
    fn has_knowledge_base(&self) -> bool {
        false
    }

    /// Why a connection whose vendor can have a knowledge base has none to pull (e.g. no
    /// Confluence space is set), in plain words for the sync status; `None`: nothing to say.
    fn knowledge_base_note(&self) -> Option<String> {
        None
    }

    /// Every live article key, for the knowledge-base sweep (what the local index holds and
    /// this does not list is removed). `None`: the connector's article feed reports removals
    /// itself (retired articles), no sweep needed.
    async fn sweep_articles(&self) -> SyncResult<Option<ArticleSweep>> {
        Ok(None)
    }

    /// The next page of knowledge-base articles changed since `cursor`. Retired/unpublished ones
    /// come back with `retired: true`.
    async fn pull_articles(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> SyncResult<ArticlePage> {
        let _ = limit;
        Ok(ArticlePage {
            articles: Vec::new(),
            next: cursor.cloned().unwrap_or_else(|| Cursor(String::new())),
            has_more: false,
            skipped: Vec::new(),
        })
    }
}

fn no_escalations(vendor: Vendor) -> SyncError {
    SyncError::Local(format!(
        "escalation packages can only be pushed to jira (this connection is {vendor:?})"
    ))
}

/// Where a connector gets the credentials for each request (the keyring-backed
/// [`crate::auth::tokens::TokenManager`], which refreshes OAuth access tokens before they expire).
#[async_trait::async_trait]
pub trait CredentialSource: Send + Sync {
    async fn credentials(&self, conn: &Connection) -> Result<Credentials, AuthError>;
}

#[async_trait::async_trait]
impl CredentialSource for crate::auth::tokens::TokenManager {
    async fn credentials(&self, conn: &Connection) -> Result<Credentials, AuthError> {
        crate::auth::tokens::TokenManager::credentials(self, conn)
            .await
            .map(|(c, _)| c)
    }
}
