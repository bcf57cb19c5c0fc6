//! The canonical remote model: what every connector maps its vendor's JSON to and from.
//!
//! Values use the same normalized vocabulary as the local store (`casebook_core::model`), so the
//! engine can compare a field's base, local ("mine") and upstream ("theirs") values directly. The
//! vendor's raw values are kept beside them (`state_raw`, `priority_raw`, `extra`) so nothing an
//! upstream said is lost.

use casebook_core::model::{Millis, Priority, TicketState, Visibility};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt;

/// An opaque resume point of a pull stream, produced by the connector and stored by the engine
/// (one per connection and stream). The engine never looks inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor(pub String);

/// The upstream version of a record, as the upstream reports it.
///
/// `token` is compared for equality only: ServiceNow `sys_mod_count`, Jira `fields.updated`,
/// Zendesk `updated_at` (the `updated_stamp` sent back with `safe_update`). Two reads of an
/// unchanged record give the same token; any upstream change gives a different one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteVersion {
    pub token: String,
    /// When the record last changed upstream (UTC ms).
    pub updated_at: Millis,
}

/// The fields an agent can edit and the engine merges one by one. The names match the local
/// store's edit log (`TicketPatch`, outbox `payload`/`base.fields`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Title,
    Description,
    State,
    Priority,
    Assignee,
    AssignmentGroup,
    Tags,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Title,
        Field::Description,
        Field::State,
        Field::Priority,
        Field::Assignee,
        Field::AssignmentGroup,
        Field::Tags,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Description => "description",
            Field::State => "state",
            Field::Priority => "priority",
            Field::Assignee => "assignee",
            Field::AssignmentGroup => "assignment_group",
            Field::Tags => "tags",
        }
    }

    pub fn parse(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Field values in canonical JSON: `title`/`description` strings, `state` and `priority` their
/// snake_case spelling (`"on_hold"`, `"high"`), `assignee`/`assignment_group` a string or null,
/// `tags` a sorted array of normalized tags. Exactly what `serde_json::to_value` gives for the
/// core model's types.
pub type FieldValues = BTreeMap<Field, Value>;

/// A ticket's canonical fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteFields {
    pub title: String,
    pub description: String,
    pub state: TicketState,
    /// The vendor's own state value (e.g. ServiceNow `"2"`, Zendesk `"hold"`).
    pub state_raw: Option<String>,
    pub priority: Priority,
    pub priority_raw: Option<String>,
    pub assignee: Option<String>,
    pub assignment_group: Option<String>,
    pub requester: Option<String>,
    pub organization: Option<String>,
    pub tags: Vec<String>,
}

impl RemoteFields {
    /// One editable field's value in canonical JSON.
    pub fn get(&self, field: Field) -> Value {
        match field {
            Field::Title => json!(self.title),
            Field::Description => json!(self.description),
            Field::State => json!(self.state),
            Field::Priority => json!(self.priority),
            Field::Assignee => json!(self.assignee),
            Field::AssignmentGroup => json!(self.assignment_group),
            Field::Tags => json!(casebook_core::model::normalize_tags(&self.tags)),
        }
    }

    /// All editable fields.
    pub fn values(&self) -> FieldValues {
        Field::ALL.into_iter().map(|f| (f, self.get(f))).collect()
    }
}

/// A comment or work note. Comments are append-only: the engine upserts them by `upstream_id`
/// and never deletes one because a later pull did not include it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteComment {
    pub upstream_id: String,
    /// Public reply (customer-visible) or internal work note.
    pub visibility: Visibility,
    pub author: String,
    /// The text as the agent wrote it, with any idempotency marker removed (see `marker`).
    pub body: String,
    pub created_at: Millis,
    /// The idempotency marker this comment was created with by Casebook, if any.
    pub marker: Option<String>,
}

/// A ticket as the upstream has it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteTicket {
    /// The vendor's stable id (ServiceNow `sys_id`, Jira issue id, Zendesk ticket id). Unique
    /// within a connection.
    pub upstream_id: String,
    /// The display key (`INC0010001`, `HD-42`, `#1234`).
    pub key: String,
    /// The mirrored scope it came from (ServiceNow table, Jira project key, Zendesk `tickets`).
    pub scope: String,
    pub version: RemoteVersion,
    pub created_at: Millis,
    pub first_response_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
    pub fields: RemoteFields,
    /// Comments the connector read with the ticket (may be all of them or only recent ones; the
    /// engine only adds what it has not seen).
    pub comments: Vec<RemoteComment>,
    /// A link to the record in the vendor's UI, when known.
    pub url: Option<String>,
    /// Vendor-specific raw fields worth keeping (a JSON object).
    pub extra: Value,
}

impl RemoteTicket {
    pub fn to_ref(&self) -> TicketRef {
        TicketRef {
            upstream_id: self.upstream_id.clone(),
            key: self.key.clone(),
            scope: self.scope.clone(),
        }
    }
}

/// How the engine names an upstream record when it asks a connector about it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TicketRef {
    pub upstream_id: String,
    pub key: String,
    pub scope: String,
}

/// A comment to add. `marker` is unique per outbox operation; the connector must be able to tell
/// afterwards, through [`crate::connector::Connector::find_comment`], whether the upstream holds
/// the comment this operation sent, **without writing anything a customer could see**: the text
/// upstream is exactly `body`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewComment {
    pub visibility: Visibility,
    pub body: String,
    pub marker: String,
    /// What [`crate::connector::Connector::comment_baseline`] recorded before the first send
    /// (kept with the outbox operation), if anything: e.g. the ids of identical comments that
    /// were there already. `None` when the connector needs none, or for an operation sent before
    /// baselines were recorded.
    #[serde(default)]
    pub baseline: Option<Value>,
    /// Upstream ids of this ticket's comments the workspace already has (pulled, or confirmed as
    /// the comment of another operation): never this operation's comment.
    #[serde(default)]
    pub known: Vec<String>,
}

impl NewComment {
    pub fn new(visibility: Visibility, body: &str, marker: &str) -> NewComment {
        NewComment {
            visibility,
            body: body.to_owned(),
            marker: marker.to_owned(),
            baseline: None,
            known: Vec::new(),
        }
    }
}

/// A ticket created locally, to be created upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRemoteTicket {
    pub scope: String,
    pub fields: RemoteFields,
    /// Unique per outbox operation; findable through
    /// [`crate::connector::Connector::find_created`].
    pub marker: String,
}

/// One page of an incremental ticket pull.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketPage {
    /// Changed tickets, oldest change first. May repeat tickets of the previous page (overlap):
    /// the engine skips a ticket whose version it already has.
    pub tickets: Vec<RemoteTicket>,
    /// Upstream ids the vendor reports as deleted (Zendesk deleted tickets); empty where the
    /// vendor has no such feed (deletions are then found by the deletion sweep,
    /// [`crate::connector::Connector::list_ids_page`]).
    pub deleted: Vec<String>,
    /// Where to resume after this page has been committed. Stored by the engine in the same
    /// transaction as the page's tickets.
    pub next: Cursor,
    /// Whether more is available right now (the engine asks again with `next`).
    pub has_more: bool,
}

/// One page of the upstream ids of a scope, for the deletion sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct IdPage {
    /// Upstream ids, as the tickets' `upstream_id`. Best in ascending
    /// [`casebook_core::store::sweep_order`] (see [`crate::connector::Connector::list_ids_page`]).
    pub ids: Vec<String>,
    /// Where the next page starts; `None`: this was the last page (the listing is complete).
    pub next: Option<Cursor>,
}

/// A knowledge-base article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteArticle {
    pub upstream_id: String,
    /// Display number or key, e.g. `KB0010001`.
    pub key: String,
    pub title: String,
    /// Untrusted HTML: sanitized before anyone renders it.
    pub body_html: String,
    pub updated_at: Millis,
    pub url: Option<String>,
    /// Retired, outdated, archived or unpublished: remove it from the local index.
    pub retired: bool,
}

/// One page of an incremental article pull.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticlePage {
    pub articles: Vec<RemoteArticle>,
    pub next: Cursor,
    pub has_more: bool,
    /// Parts of the knowledge base skipped because they cannot be read (plain words: which and
    /// why, e.g. a Confluence space this account may not view). The rest is pulled; the engine
    /// reports these in the sync status.
    pub skipped: Vec<String>,
}

/// What a knowledge-base sweep found upstream: the live article keys, for removing from the
/// local index what the upstream no longer has (deleted, trashed, moved away).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArticleSweep {
    /// Every live article key of the parts that were listed completely.
    pub keys: std::collections::HashSet<String>,
    /// Key prefixes of parts that could not be listed this time (e.g. a space that cannot be
    /// read): their indexed articles are kept as they are.
    pub keep_prefixes: Vec<String>,
    /// Why those parts were not listed (plain words).
    pub skipped: Vec<String>,
}

/// The prefix of every idempotency marker Casebook writes upstream (in hidden places only: a
/// ticket's `correlation_id` / `external_id` / label, a Jira comment property, a Zendesk audit's
/// metadata).
pub const MARKER_PREFIX: &str = "casebook-op:";

/// The visible last line `[casebook-op:<id>]` that versions before 2026-11-24 appended to every
/// comment they pushed, customers' replies included. **Nothing writes it any more**; it is kept
/// to describe (and, in tests, to recreate) what is still upstream: [`extract_marker`] strips it
/// from pulled comments and recognizes it for operations queued before the upgrade.
pub fn embed_marker(body: &str, marker: &str) -> String {
    format!("{}\n\n[{MARKER_PREFIX}{marker}]", body.trim_end())
}

/// Splits a marker line written by [`embed_marker`] (earlier versions) off a comment body:
/// (body as the agent wrote it, marker). Every connector maps pulled comments through it, so an
/// old marker line is never shown.
pub fn extract_marker(body: &str) -> (String, Option<String>) {
    let trimmed = body.trim_end();
    if let Some(start) = trimmed.rfind(&format!("[{MARKER_PREFIX}"))
        && trimmed.ends_with(']')
    {
        let marker = &trimmed[start + 1 + MARKER_PREFIX.len()..trimmed.len() - 1];
        let before = &trimmed[..start];
        let at_line_start = before.is_empty() || before.ends_with('\n');
        if at_line_start && !marker.is_empty() && !marker.contains(char::is_whitespace) {
            return (before.trim_end().to_owned(), Some(marker.to_owned()));
        }
    }
    (body.to_owned(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_leave_other_text_alone() {
        let b = embed_marker("Rebooted the VPN gateway.\n", "ws1-42");
        assert_eq!(b, "Rebooted the VPN gateway.\n\n[casebook-op:ws1-42]");
        assert_eq!(
            extract_marker(&b),
            (
                "Rebooted the VPN gateway.".to_owned(),
                Some("ws1-42".to_owned())
            )
        );
        let plain = "see [casebook-op:x] inline";
        assert_eq!(extract_marker(plain), (plain.to_owned(), None));
        assert_eq!(extract_marker("no marker"), ("no marker".to_owned(), None));
    }

    #[test]
    fn field_values_use_the_store_spelling() {
        let f = RemoteFields {
            title: "t".into(),
            description: String::new(),
            state: TicketState::OnHold,
            state_raw: Some("3".into()),
            priority: Priority::High,
            priority_raw: None,
            assignee: None,
            assignment_group: Some("Network".into()),
            requester: None,
            organization: None,
            tags: vec!["B".into(), "a".into()],
        };
        assert_eq!(f.get(Field::State), json!("on_hold"));
        assert_eq!(f.get(Field::Priority), json!("high"));
        assert_eq!(f.get(Field::Assignee), Value::Null);
        assert_eq!(f.get(Field::Tags), json!(["a", "b"]));
        assert_eq!(
            Field::parse("assignment_group"),
            Some(Field::AssignmentGroup)
        );
        assert_eq!(
            serde_json::to_value(Field::AssignmentGroup).unwrap(),
            json!("assignment_group")
        );
    }
}
