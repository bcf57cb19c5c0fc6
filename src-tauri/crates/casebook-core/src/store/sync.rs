//! The store side of sync (issue 5): applying pulled upstream tickets, pull cursors, the outbox's
//! state machine, the conflict inbox and the deleted-upstream marker.
//!
//! Rules kept here (the engine relies on them):
//! - A pulled page and its cursor are written in one transaction: a crash or a bad page never
//!   advances the cursor past tickets that were not stored.
//! - Upstream changes are written like any edit (event with origin `sync`, `revision` bumped), so
//!   the SLA facts and the queue index see them, but a field with a local edit not yet pushed (or
//!   in the conflict inbox) is never overwritten: the push decides, per field, whether it conflicts.
//! - Re-applying a ticket version already stored and shown is a no-op (pull overlap is harmless);
//!   a stored version whose values the workspace does not show (see `shows_pulled_version`) is
//!   applied again.
//! - Outbox states: `pending` → `in_flight` (committed before the request is sent) → `done`,
//!   `unknown` (sent, no answer: the marker is looked up before any retry), `conflict` (waits for
//!   the agent) or `failed` (permanent, waits for retry/discard). A transient failure goes back
//!   to `pending` with `next_attempt_at`. `in_flight` found when a sync starts means the app died
//!   mid-request: it becomes `unknown`.

use super::connections::tags_stay_local;
use super::events::{EventKind, NewEvent, NewOutboxOp, Origin, append_event, enqueue};
use super::tickets::{Actor, insert_ticket_unless_key_exists, load_ticket, write_tags};
use super::{Result, Store, StoreError};
use crate::model::{
    Millis, NewTicket, Priority, Ticket, TicketId, TicketState, Visibility, normalize_tags,
};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::HashSet;

/// The editable fields the sync merges one by one (the names of the store's edit log).
pub const SYNC_FIELDS: [&str; 7] = [
    "title",
    "description",
    "state",
    "priority",
    "assignee",
    "assignment_group",
    "tags",
];

/// The actor name stamped on events that came from an upstream.
pub const SYNC_ACTOR: &str = "sync";

/// A ticket as pulled from an upstream, in the store's vocabulary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PulledTicket {
    pub upstream_id: String,
    pub key: String,
    pub scope: String,
    /// The upstream version token (compared for equality only).
    pub version: String,
    pub version_updated_at: Millis,
    pub created_at: Millis,
    pub first_response_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
    pub title: String,
    pub description: String,
    pub state: TicketState,
    pub state_raw: Option<String>,
    pub priority: Priority,
    pub priority_raw: Option<String>,
    pub assignee: Option<String>,
    pub assignment_group: Option<String>,
    pub requester: Option<String>,
    pub organization: Option<String>,
    pub tags: Vec<String>,
    pub url: Option<String>,
    pub extra: Value,
    pub comments: Vec<PulledComment>,
}

impl PulledTicket {
    /// The editable fields in canonical JSON.
    pub fn field_values(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("title".into(), json!(self.title.trim()));
        m.insert("description".into(), json!(self.description));
        m.insert("state".into(), json!(self.state));
        m.insert("priority".into(), json!(self.priority));
        m.insert("assignee".into(), json!(clean(self.assignee.clone())));
        m.insert(
            "assignment_group".into(),
            json!(clean(self.assignment_group.clone())),
        );
        m.insert("tags".into(), json!(normalize_tags(&self.tags)));
        m
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PulledComment {
    pub upstream_id: String,
    pub visibility: Visibility,
    pub author: String,
    pub body: String,
    pub created_at: Millis,
    /// The idempotency marker Casebook wrote with it (its own comment coming back).
    pub marker: Option<String>,
}

/// What applying pulled tickets did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    pub created: u64,
    pub updated: u64,
    /// Already at this version (overlap re-reads).
    pub unchanged: u64,
    pub comments_added: u64,
    /// Upstream values not applied because the field has a local edit waiting to be pushed.
    pub fields_kept_local: u64,
    /// Local comments recognized upstream by their marker (an unknown outcome settled).
    pub comments_confirmed: u64,
    /// Pulled comments not added yet because they may be the one an outbox operation sent with
    /// no answer (same visibility and text): the push settles that operation by asking the
    /// upstream, then reads the ticket again (see [`awaits_push_confirmation`]).
    pub comments_deferred: u64,
    pub marked_deleted: u64,
    /// Ids of the local tickets created or changed (for change events).
    pub changed_ids: Vec<TicketId>,
}

/// An outbox operation with its sync bookkeeping and the ticket it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncOp {
    pub id: i64,
    pub ticket_id: TicketId,
    pub ticket_key: String,
    pub target: String,
    /// `create`, `update` or `comment`.
    pub op: String,
    pub payload: Value,
    pub base: Value,
    pub status: super::OutboxStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub error_kind: Option<String>,
    pub marker: Option<String>,
    pub next_attempt_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Option<Millis>,
    /// The ticket's upstream id (none before a local creation was pushed).
    pub upstream_id: Option<String>,
    pub scope: Option<String>,
    pub deleted_upstream: bool,
}

/// What a successful push changed, recorded with `done`.
#[derive(Debug, Clone, PartialEq)]
pub enum PushEffect {
    /// Fields were written (or found already equal); the upstream is now at `version` with these
    /// field values.
    Updated {
        version: String,
        version_updated_at: Millis,
        fields: Map<String, Value>,
    },
    /// The comment exists upstream with this id.
    Commented { upstream_id: String },
    /// The ticket exists upstream.
    Created(Box<PulledTicket>),
    /// Nothing to record (e.g. every field already had the wanted value upstream).
    Nothing,
}

/// A field changed on both sides since the edit's base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewConflict {
    pub field: String,
    pub base: Value,
    pub mine: Value,
    pub theirs: Value,
    /// The upstream version `theirs` was read at (`{"token","updated_at"}`).
    pub theirs_version: Value,
}

/// A conflict inbox entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictRow {
    pub id: i64,
    pub ticket_id: TicketId,
    pub ticket_key: String,
    pub ticket_title: String,
    pub source: String,
    pub outbox_id: i64,
    pub field: String,
    pub base: Value,
    pub mine: Value,
    pub theirs: Value,
    pub theirs_version: Value,
    pub created_at: Millis,
}

/// How the agent settles a conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Resolution {
    /// Push my value over theirs (a new outbox operation based on their version).
    KeepMine,
    /// Take the upstream value; nothing is pushed.
    TakeTheirs,
    /// Push an edited value (a new outbox operation based on their version).
    Edited(Value),
}

/// One connection's sync status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncStatusRow {
    pub connection_id: i64,
    pub last_started_at: Option<Millis>,
    pub last_success_at: Option<Millis>,
    pub last_error: Option<String>,
    pub last_error_kind: Option<String>,
    /// What the last sync said about the connection's knowledge base (pulled, not configured,
    /// a space that cannot be read), if it said anything.
    pub kb_status: Option<String>,
    pub pending_ops: u64,
    pub unknown_ops: u64,
    pub failed_ops: u64,
    pub conflicts: u64,
    pub deleted_upstream: u64,
    pub tickets: u64,
}

fn clean(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn json_text(v: &Value) -> String {
    v.to_string()
}

fn parse_json(s: &str) -> Result<Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Data(e.to_string()))
}

/// A field's current local value in canonical JSON.
fn local_value(t: &Ticket, field: &str) -> Value {
    match field {
        "title" => json!(t.title),
        "description" => json!(t.description),
        "state" => json!(t.state),
        "priority" => json!(t.priority),
        "assignee" => json!(t.assignee),
        "assignment_group" => json!(t.assignment_group),
        "tags" => json!(t.tags),
        _ => Value::Null,
    }
}

/// Checks a canonical value for a field and normalizes it (trimmed text, normalized tags).
pub fn validate_field_value(field: &str, v: &Value) -> Result<Value> {
    let bad = |what: &str| StoreError::Invalid(format!("{field} must be {what}"));
    Ok(match field {
        "title" => {
            let s = v.as_str().ok_or_else(|| bad("text"))?.trim();
            super::tickets::validate_ticket_text(s, "")?;
            json!(s)
        }
        "description" => {
            let s = v.as_str().ok_or_else(|| bad("text"))?;
            super::tickets::validate_ticket_text("-", s)?;
            json!(s)
        }
        "state" => {
            let s = v.as_str().ok_or_else(|| bad("a state"))?;
            let st: TicketState = s
                .parse()
                .map_err(|_| bad("one of new, open, pending, on_hold, resolved, closed"))?;
            json!(st)
        }
        "priority" => {
            let s = v.as_str().ok_or_else(|| bad("a priority"))?;
            let p: Priority = s
                .parse()
                .map_err(|_| bad("one of critical, high, medium, low"))?;
            json!(p)
        }
        "assignee" | "assignment_group" => match v {
            Value::Null => Value::Null,
            Value::String(s) => json!(clean(Some(s.clone()))),
            _ => return Err(bad("text or empty")),
        },
        "tags" => {
            let arr = v.as_array().ok_or_else(|| bad("a list of tags"))?;
            let tags: Vec<&str> = arr
                .iter()
                .map(|t| t.as_str().ok_or_else(|| bad("a list of tags")))
                .collect::<Result<_>>()?;
            json!(normalize_tags(tags))
        }
        other => return Err(StoreError::Invalid(format!("unknown field {other}"))),
    })
}

/// Writes field values to a ticket row (revision bumped) and returns `{field: {from, to}}` for
/// the fields that really changed. Tags are mirrored to `ticket_tags`.
fn set_fields(
    tx: &Transaction<'_>,
    t: &Ticket,
    values: &Map<String, Value>,
    now: Millis,
    extra: Option<&Value>,
) -> Result<Map<String, Value>> {
    let mut changes = Map::new();
    let mut next = t.clone();
    for (field, to) in values {
        let from = local_value(t, field);
        if &from == to {
            continue;
        }
        let to = validate_field_value(field, to)?;
        if from == to {
            continue;
        }
        match field.as_str() {
            "title" => next.title = to.as_str().unwrap_or_default().to_owned(),
            "description" => next.description = to.as_str().unwrap_or_default().to_owned(),
            "state" => {
                next.state = serde_json::from_value(to.clone())
                    .map_err(|e| StoreError::Data(e.to_string()))?
            }
            "priority" => {
                next.priority = serde_json::from_value(to.clone())
                    .map_err(|e| StoreError::Data(e.to_string()))?
            }
            "assignee" => next.assignee = to.as_str().map(str::to_owned),
            "assignment_group" => next.assignment_group = to.as_str().map(str::to_owned),
            "tags" => {
                next.tags = serde_json::from_value(to.clone())
                    .map_err(|e| StoreError::Data(e.to_string()))?
            }
            _ => continue,
        }
        changes.insert(field.clone(), json!({ "from": from, "to": to }));
    }
    if changes.is_empty() && extra.is_none() {
        return Ok(changes);
    }
    if changes.contains_key("state") {
        next.resolved_at = match (t.state.is_done(), next.state.is_done()) {
            (false, true) => Some(now),
            (true, false) => None,
            _ => t.resolved_at,
        };
    }
    let bump = i64::from(!changes.is_empty());
    tx.prepare_cached(
        "UPDATE tickets SET title = ?, description = ?, state = ?, priority = ?, assignee = ?, \
         assignment_group = ?, tags = ?, resolved_at = ?, extra = ?, revision = revision + ? \
         WHERE id = ?",
    )?
    .execute(params![
        next.title,
        next.description,
        next.state.as_str(),
        next.priority.rank(),
        next.assignee,
        next.assignment_group,
        next.tags.join(","),
        next.resolved_at,
        extra.unwrap_or(&t.extra).to_string(),
        bump,
        t.id,
    ])?;
    if changes.contains_key("tags") {
        write_tags(tx, t.id, &next.tags)?;
    }
    Ok(changes)
}

/// Fields of a ticket with a local edit not yet pushed or an open conflict.
fn protected_fields(tx: &Transaction<'_>, ticket_id: TicketId) -> Result<HashSet<String>> {
    let mut out = HashSet::new();
    let mut stmt = tx.prepare_cached(
        "SELECT payload FROM outbox WHERE ticket_id = ? AND op = 'update' AND status != 'done'",
    )?;
    let payloads = stmt
        .query_map([ticket_id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for p in payloads {
        if let Value::Object(m) = parse_json(&p)? {
            out.extend(m.keys().cloned());
        }
    }
    let mut stmt = tx.prepare_cached(
        "SELECT field FROM sync_conflicts WHERE ticket_id = ? AND status = 'open'",
    )?;
    for f in stmt.query_map([ticket_id], |r| r.get::<_, String>(0))? {
        out.insert(f?);
    }
    Ok(out)
}

fn with_sync_version(extra: &Value, p: &PulledTicket) -> Value {
    let mut m = match extra {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    m.insert(
        "sync_version".into(),
        json!({ "token": p.version, "updated_at": p.version_updated_at }),
    );
    m.insert("scope".into(), json!(p.scope));
    if let Some(u) = &p.url {
        m.insert("url".into(), json!(u));
    }
    Value::Object(m)
}

fn upsert_sync_ticket(
    tx: &Transaction<'_>,
    ticket_id: TicketId,
    connection_id: i64,
    p: &PulledTicket,
    now: Millis,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO sync_tickets (ticket_id, connection_id, scope, upstream_id, version, \
         version_updated_at, fields, deleted_upstream_at, last_seen_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?) \
         ON CONFLICT (ticket_id) DO UPDATE SET scope = excluded.scope, \
         upstream_id = excluded.upstream_id, version = excluded.version, \
         version_updated_at = excluded.version_updated_at, fields = excluded.fields, \
         deleted_upstream_at = NULL, last_seen_at = excluded.last_seen_at",
    )?
    .execute(params![
        ticket_id,
        connection_id,
        p.scope,
        p.upstream_id,
        p.version,
        p.version_updated_at,
        Value::Object(p.field_values()).to_string(),
        now
    ])?;
    Ok(())
}

/// A comment's text as compared when deciding whether an upstream comment is the one an outbox
/// operation sent: `\r\n` as `\n`, no trailing spaces on a line, a run of blank lines as one,
/// no blank lines around. Upstreams keep what was sent but may change exactly that much (Jira's
/// document format has no empty paragraphs; an email channel trims).
pub fn comparable_comment_text(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut blank_run = false;
    for line in body.replace("\r\n", "\n").split('\n') {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run { "\n\n" } else { "\n" });
        }
        blank_run = false;
        out.push_str(line);
    }
    out
}

/// Whether a pulled comment, which carries no marker, may be the one a comment operation of this
/// ticket sent without getting an answer (`unknown`, or `in_flight` when a sync died): same
/// visibility, same text, and that operation's local comment not linked to an upstream comment
/// yet. Such a comment is not added by the pull: the next push asks the upstream whether the
/// operation's comment is there (by the hidden marker where the vendor has one), links it, and
/// reads the ticket again, which adds the comment if it turned out to be someone else's. So a
/// comment is neither shown twice nor taken for ours on its text alone.
fn awaits_push_confirmation(
    tx: &Transaction<'_>,
    ticket_id: TicketId,
    c: &PulledComment,
) -> Result<bool> {
    let mut stmt = tx.prepare_cached(
        "SELECT o.payload FROM outbox o WHERE o.ticket_id = ? AND o.op = 'comment' \
         AND o.status IN ('unknown', 'in_flight')",
    )?;
    let payloads = stmt
        .query_map([ticket_id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if payloads.is_empty() {
        return Ok(false);
    }
    let text = comparable_comment_text(&c.body);
    for p in payloads {
        let p = parse_json(&p)?;
        let same_visibility =
            p.get("visibility").and_then(Value::as_str) == Some(c.visibility.as_str());
        let same_text = p
            .get("body")
            .and_then(Value::as_str)
            .is_some_and(|b| comparable_comment_text(b) == text);
        if !(same_visibility && same_text) {
            continue;
        }
        let linked: Option<Option<String>> = match p.get("comment_id").and_then(Value::as_i64) {
            Some(local) => tx
                .prepare_cached("SELECT upstream_id FROM comments WHERE id = ?")?
                .query_row([local], |r| r.get(0))
                .optional()?,
            None => None,
        };
        if matches!(linked, Some(None)) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Adds the comments not seen yet; a comment carrying one of our markers (the visible last line
/// earlier versions wrote) is linked to the local comment it came from (and settles that outbox
/// operation) instead of being added twice. A comment that may be an unconfirmed push of ours
/// waits for the push to settle it ([`awaits_push_confirmation`]).
fn apply_comments(
    tx: &Transaction<'_>,
    ticket_id: TicketId,
    comments: &[PulledComment],
    now: Millis,
    report: &mut ApplyReport,
) -> Result<bool> {
    let mut changed = false;
    for c in comments {
        let known: Option<i64> = tx
            .prepare_cached("SELECT id FROM comments WHERE ticket_id = ? AND upstream_id = ?")?
            .query_row(params![ticket_id, c.upstream_id], |r| r.get(0))
            .optional()?;
        if known.is_some() {
            continue;
        }
        if let Some(marker) = &c.marker {
            let op: Option<(i64, String)> = tx
                .prepare_cached(
                    "SELECT id, payload FROM outbox WHERE marker = ? AND ticket_id = ? AND op = 'comment'",
                )?
                .query_row(params![marker, ticket_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((op_id, payload)) = op {
                let local = parse_json(&payload)?
                    .get("comment_id")
                    .and_then(Value::as_i64);
                if let Some(local) = local {
                    tx.prepare_cached("UPDATE comments SET upstream_id = ? WHERE id = ?")?
                        .execute(params![c.upstream_id, local])?;
                }
                tx.prepare_cached(
                    "UPDATE outbox SET status = 'done', last_error = NULL, error_kind = NULL, \
                     updated_at = ? WHERE id = ? AND status != 'done'",
                )?
                .execute(params![now, op_id])?;
                report.comments_confirmed += 1;
                continue;
            }
        }
        if c.marker.is_none() && awaits_push_confirmation(tx, ticket_id, c)? {
            report.comments_deferred += 1;
            continue;
        }
        tx.prepare_cached(
            "INSERT INTO comments (ticket_id, visibility, author, body, created_at, upstream_id) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )?
        .execute(params![
            ticket_id,
            c.visibility.as_str(),
            c.author,
            c.body,
            c.created_at,
            c.upstream_id
        ])?;
        let comment_id = tx.last_insert_rowid();
        append_event(
            tx,
            &NewEvent {
                ticket_id,
                kind: EventKind::Commented,
                actor: &c.author,
                at: c.created_at,
                recorded_at: now,
                origin: Origin::Sync,
                data: json!({ "comment_id": comment_id, "visibility": c.visibility }),
            },
        )?;
        report.comments_added += 1;
        changed = true;
    }
    Ok(changed)
}

/// The pulled field values as the workspace shows them: an upstream ticket with an empty title
/// keeps the placeholder it was created with (a ticket needs a title), and a ticket whose
/// upstream cannot store tags keeps its local ones (`tags_local`, see `Vendor::stores_tags`).
fn shown_values(p: &PulledTicket, tags_local: bool) -> Map<String, Value> {
    let mut values = p.field_values();
    if tags_local {
        values.remove("tags");
    }
    if values
        .get("title")
        .and_then(Value::as_str)
        .is_some_and(str::is_empty)
    {
        values.remove("title");
    }
    values
}

/// Whether a ticket whose stored upstream version is `p.version` already shows that version: the
/// stored upstream values (`fields`) are `p`'s and every field without a local edit waiting has
/// `p`'s value. Only then may a pull skip it as "already stored".
///
/// The stored version is not always a promise that the ticket holds its values: a push records
/// the version its write produced (`record_update`), and on upstreams without a write
/// precondition (Jira, ServiceNow) that version can hold a colleague's change made between our
/// re-read and our write or its read-back, which we never saw. Skipping by version alone left
/// such a change out of the workspace for good (the long-run test's divergence: a state "open"
/// locally, "resolved" upstream, nothing to push and no conflict). Comparing costs one ticket
/// read per overlap re-read, which are few per page.
fn shows_pulled_version(
    tx: &Transaction<'_>,
    ticket_id: TicketId,
    stored_fields: &str,
    p: &PulledTicket,
    tags_local: bool,
) -> Result<bool> {
    let upstream = p.field_values();
    if parse_json(stored_fields)? != Value::Object(upstream) {
        return Ok(false);
    }
    let Some(t) = load_ticket(tx, ticket_id)? else {
        return Ok(false);
    };
    let protected = protected_fields(tx, ticket_id)?;
    Ok(shown_values(p, tags_local)
        .iter()
        .all(|(f, v)| protected.contains(f) || *v == local_value(&t, f)))
}

fn apply_one(
    tx: &Transaction<'_>,
    connection_id: i64,
    p: &PulledTicket,
    tags_local: bool,
    now: Millis,
    report: &mut ApplyReport,
) -> Result<()> {
    let existing: Option<(TicketId, String, String)> = tx
        .prepare_cached(
            "SELECT ticket_id, version, fields FROM sync_tickets \
             WHERE connection_id = ? AND upstream_id = ?",
        )?
        .query_row(params![connection_id, p.upstream_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let source = connection_id.to_string();
    let already_shown = match &existing {
        Some((id, version, fields)) if *version == p.version => {
            shows_pulled_version(tx, *id, fields, p, tags_local)?
        }
        _ => false,
    };
    match existing {
        None => {
            super::tickets::validate_ticket_text(&p.title, &p.description)
                .map_err(|e| StoreError::Invalid(format!("upstream ticket {}: {e}", p.key)))?;
            let new = NewTicket {
                key: Some(p.key.clone()),
                source: source.clone(),
                upstream_id: Some(p.upstream_id.clone()),
                title: if p.title.trim().is_empty() {
                    format!("({})", p.key)
                } else {
                    p.title.clone()
                },
                description: p.description.clone(),
                state: p.state,
                state_raw: p.state_raw.clone(),
                priority: p.priority,
                priority_raw: p.priority_raw.clone(),
                assignee: p.assignee.clone(),
                assignment_group: p.assignment_group.clone(),
                requester: p.requester.clone(),
                organization: p.organization.clone(),
                tags: p.tags.clone(),
                created_at: Some(p.created_at),
                updated_at: Some(p.version_updated_at),
                first_response_at: p.first_response_at,
                resolved_at: p.resolved_at,
                extra: with_sync_version(&p.extra, p),
            };
            let id = match insert_ticket_unless_key_exists(tx, &new, &p.key, now)? {
                Some(id) => id,
                None => {
                    // The key is taken by a ticket from elsewhere (an import): keep both.
                    let alt = format!("{}@{}", p.key, connection_id);
                    insert_ticket_unless_key_exists(tx, &new, &alt, now)?.ok_or_else(|| {
                        StoreError::Invalid(format!("a ticket with key {alt} exists already"))
                    })?
                }
            };
            append_event(
                tx,
                &NewEvent {
                    ticket_id: id,
                    kind: EventKind::Created,
                    actor: SYNC_ACTOR,
                    at: p.created_at,
                    recorded_at: now,
                    origin: Origin::Sync,
                    data: json!({ "key": p.key, "title": new.title, "upstream_id": p.upstream_id }),
                },
            )?;
            upsert_sync_ticket(tx, id, connection_id, p, now)?;
            apply_comments(tx, id, &p.comments, now, report)?;
            report.created += 1;
            report.changed_ids.push(id);
        }
        Some((id, _, _)) if already_shown => {
            // Overlap: this version is stored and shown already. Comments may still be new (a
            // connector that reads them separately), and a ticket seen again is not deleted.
            tx.prepare_cached(
                "UPDATE sync_tickets SET deleted_upstream_at = NULL, last_seen_at = ? WHERE ticket_id = ?",
            )?
            .execute(params![now, id])?;
            if apply_comments(tx, id, &p.comments, now, report)? {
                report.changed_ids.push(id);
            }
            report.unchanged += 1;
        }
        Some((id, _, _)) => {
            let t =
                load_ticket(tx, id)?.ok_or_else(|| StoreError::TicketNotFound(id.to_string()))?;
            let protected = protected_fields(tx, id)?;
            let mut values = shown_values(p, tags_local);
            let before = values.len();
            values.retain(|f, v| {
                if protected.contains(f) {
                    // Kept local unless the upstream has the same value anyway.
                    return false;
                }
                *v != local_value(&t, f)
            });
            let shown = shown_values(p, tags_local);
            let kept = protected
                .iter()
                .filter(|f| shown.get(*f).is_some_and(|v| *v != local_value(&t, f)))
                .count();
            let _ = before;
            let extra = with_sync_version(&p.extra, p);
            let changes = set_fields(tx, &t, &values, now, Some(&extra))?;
            tx.prepare_cached(
                "UPDATE tickets SET state_raw = ?, priority_raw = ?, requester = ?, organization = ?, \
                 updated_at = max(updated_at, ?), first_response_at = coalesce(first_response_at, ?), \
                 revision = revision + ? WHERE id = ?",
            )?
            .execute(params![
                if protected.contains("state") { t.state_raw.clone() } else { p.state_raw.clone() },
                if protected.contains("priority") { t.priority_raw.clone() } else { p.priority_raw.clone() },
                clean(p.requester.clone()),
                clean(p.organization.clone()),
                p.version_updated_at,
                p.first_response_at,
                i64::from(changes.is_empty()),
                id
            ])?;
            if !changes.is_empty() {
                append_event(
                    tx,
                    &NewEvent {
                        ticket_id: id,
                        kind: EventKind::Updated,
                        actor: SYNC_ACTOR,
                        at: p.version_updated_at,
                        recorded_at: now,
                        origin: Origin::Sync,
                        data: json!({ "changes": changes, "upstream_version": p.version }),
                    },
                )?;
            }
            upsert_sync_ticket(tx, id, connection_id, p, now)?;
            apply_comments(tx, id, &p.comments, now, report)?;
            report.fields_kept_local += kept as u64;
            report.updated += 1;
            report.changed_ids.push(id);
        }
    }
    Ok(())
}

fn mark_deleted(
    tx: &Transaction<'_>,
    connection_id: i64,
    upstream_id: &str,
    now: Millis,
) -> Result<Option<TicketId>> {
    let id: Option<TicketId> = tx
        .prepare_cached(
            "UPDATE sync_tickets SET deleted_upstream_at = ? \
             WHERE connection_id = ? AND upstream_id = ? AND deleted_upstream_at IS NULL \
             RETURNING ticket_id",
        )?
        .query_row(params![now, connection_id, upstream_id], |r| r.get(0))
        .optional()?;
    if let Some(id) = id {
        record_deleted_mark(tx, id, upstream_id, now)?;
    }
    Ok(id)
}

/// Marks a mirrored ticket of `scope` deleted upstream by its local id (the deletion sweep);
/// `false` when it is not that scope's, or already marked.
pub(super) fn mark_deleted_ticket(
    tx: &Transaction<'_>,
    connection_id: i64,
    scope: &str,
    ticket_id: TicketId,
    now: Millis,
) -> Result<bool> {
    let upstream_id: Option<String> = tx
        .prepare_cached(
            "UPDATE sync_tickets SET deleted_upstream_at = ? \
             WHERE ticket_id = ? AND connection_id = ? AND scope = ? \
             AND deleted_upstream_at IS NULL RETURNING upstream_id",
        )?
        .query_row(params![now, ticket_id, connection_id, scope], |r| r.get(0))
        .optional()?;
    match upstream_id {
        Some(uid) => {
            record_deleted_mark(tx, ticket_id, &uid, now)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// The event of a deleted-upstream mark, and the ticket touched so that the queue index and
/// the UI see the marker.
fn record_deleted_mark(
    tx: &Transaction<'_>,
    ticket_id: TicketId,
    upstream_id: &str,
    now: Millis,
) -> Result<()> {
    append_event(
        tx,
        &NewEvent {
            ticket_id,
            kind: EventKind::Updated,
            actor: SYNC_ACTOR,
            at: now,
            recorded_at: now,
            origin: Origin::Sync,
            data: json!({ "sync": "deleted_upstream", "upstream_id": upstream_id }),
        },
    )?;
    tx.prepare_cached("UPDATE tickets SET revision = revision + 1 WHERE id = ?")?
        .execute([ticket_id])?;
    Ok(())
}

/// Records that the upstream now has `fields` at `version` (after our own write).
fn record_update(
    tx: &Transaction<'_>,
    ticket_id: TicketId,
    version: &str,
    version_updated_at: Millis,
    fields: &Map<String, Value>,
) -> Result<()> {
    let row: Option<String> = tx
        .prepare_cached("SELECT fields FROM sync_tickets WHERE ticket_id = ?")?
        .query_row([ticket_id], |r| r.get(0))
        .optional()?;
    if let Some(row) = row {
        let mut snap = match parse_json(&row)? {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        for (k, v) in fields {
            snap.insert(k.clone(), v.clone());
        }
        tx.prepare_cached(
            "UPDATE sync_tickets SET version = ?, version_updated_at = ?, fields = ? \
             WHERE ticket_id = ?",
        )?
        .execute(params![
            version,
            version_updated_at,
            Value::Object(snap).to_string(),
            ticket_id
        ])?;
    }
    let t = load_ticket(tx, ticket_id)?
        .ok_or_else(|| StoreError::TicketNotFound(ticket_id.to_string()))?;
    let mut extra = match t.extra {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    extra.insert(
        "sync_version".into(),
        json!({ "token": version, "updated_at": version_updated_at }),
    );
    tx.prepare_cached("UPDATE tickets SET extra = ? WHERE id = ?")?
        .execute(params![Value::Object(extra).to_string(), ticket_id])?;
    Ok(())
}

/// When an operation's last conflict is settled it is done (its other fields were pushed already).
fn close_if_settled(tx: &Transaction<'_>, outbox_id: i64, now: Millis) -> Result<()> {
    let open: i64 = tx.query_row(
        "SELECT count(*) FROM sync_conflicts WHERE outbox_id = ? AND status = 'open'",
        [outbox_id],
        |r| r.get(0),
    )?;
    if open == 0 {
        tx.prepare_cached(
            "UPDATE outbox SET status = 'done', error_kind = NULL, last_error = NULL, \
             updated_at = ? WHERE id = ? AND status = 'conflict'",
        )?
        .execute(params![now, outbox_id])?;
    }
    Ok(())
}

/// Settles a conflict whose field a later queued edit (`later_id`) changes again. The local
/// field keeps the later edit's value; nothing new is enqueued. Keep mine (or an edited value):
/// the agent's line of edits wins over theirs, so the later edit is rebased on theirs and pushed
/// without asking again. Take theirs: their value is recorded as the known upstream value; the
/// later edit, made on the agent's own value, meets theirs at its push and is asked about again.
fn resolve_superseded(
    tx: &Transaction<'_>,
    ticket_id: TicketId,
    field: &str,
    theirs: &Value,
    keep_mine: bool,
    later_id: i64,
    later_base: &str,
) -> Result<()> {
    if keep_mine {
        let mut base = parse_json(later_base)?;
        if !base.is_object() {
            base = json!({});
        }
        if !base["fields"].is_object() {
            base["fields"] = json!({});
        }
        base["fields"][field] = theirs.clone();
        tx.prepare_cached("UPDATE outbox SET base = ? WHERE id = ?")?
            .execute(params![base.to_string(), later_id])?;
        return Ok(());
    }
    let snap: Option<String> = tx
        .prepare_cached("SELECT fields FROM sync_tickets WHERE ticket_id = ?")?
        .query_row([ticket_id], |r| r.get(0))
        .optional()?;
    // The stored upstream value is at least as new as `theirs` (the conflict's read was stored
    // with it, and every pull since kept the local value but stored the upstream one): it is
    // only filled in when missing, never set back to the older `theirs` (a discard of the later
    // edit returns the field to the stored value).
    if let Some(snap) = snap
        && let Value::Object(mut m) = parse_json(&snap)?
        && !m.contains_key(field)
    {
        m.insert(field.to_owned(), theirs.clone());
        tx.prepare_cached("UPDATE sync_tickets SET fields = ? WHERE ticket_id = ?")?
            .execute(params![Value::Object(m).to_string(), ticket_id])?;
    }
    Ok(())
}

fn workspace_marker_prefix(tx: &Transaction<'_>) -> Result<String> {
    let existing: Option<String> = tx
        .prepare_cached("SELECT value FROM settings WHERE key = 'sync.workspace_id'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    if let Some(v) = existing {
        return Ok(v);
    }
    let mut buf = [0u8; 6];
    getrandom::fill(&mut buf).map_err(|e| StoreError::Data(format!("no randomness: {e}")))?;
    let id: String = buf.iter().map(|b| format!("{b:02x}")).collect();
    tx.prepare_cached("INSERT INTO settings (key, value) VALUES ('sync.workspace_id', ?)")?
        .execute([&id])?;
    Ok(id)
}

const SYNC_OP_COLUMNS: &str = "o.id, o.ticket_id, t.key, o.target, o.op, o.payload, o.base, o.status, \
    o.attempts, o.last_error, o.error_kind, o.marker, o.next_attempt_at, o.created_at, o.updated_at, \
    t.upstream_id, s.scope, s.deleted_upstream_at";

fn sync_op_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SyncOp> {
    let conv = |idx: usize, s: String| {
        serde_json::from_str::<Value>(&s).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
        })
    };
    let status: String = r.get(7)?;
    Ok(SyncOp {
        id: r.get(0)?,
        ticket_id: r.get(1)?,
        ticket_key: r.get(2)?,
        target: r.get(3)?,
        op: r.get(4)?,
        payload: conv(5, r.get(5)?)?,
        base: conv(6, r.get(6)?)?,
        status: super::events::parse_outbox_status(&status).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                7,
                rusqlite::types::Type::Text,
                format!("unknown outbox status '{status}'").into(),
            )
        })?,
        attempts: r.get(8)?,
        last_error: r.get(9)?,
        error_kind: r.get(10)?,
        marker: r.get(11)?,
        next_attempt_at: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
        upstream_id: r.get(15)?,
        scope: r.get(16)?,
        deleted_upstream: r.get::<_, Option<i64>>(17)?.is_some(),
    })
}

fn sweep_stream(scope: &str) -> String {
    format!("sweep:{scope}")
}

pub(super) fn set_sweep_mark(
    tx: &Transaction<'_>,
    connection_id: i64,
    scope: &str,
    at: Millis,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO sync_cursors (connection_id, stream, cursor, updated_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (connection_id, stream) DO UPDATE SET cursor = excluded.cursor, \
         updated_at = excluded.updated_at",
    )?
    .execute(params![
        connection_id,
        sweep_stream(scope),
        at.to_string(),
        at
    ])?;
    Ok(())
}

impl Store {
    /// Applies one pulled page and moves the stream's cursor to `next_cursor`, in one
    /// transaction. `deleted` are upstream ids the vendor reported deleted.
    pub fn apply_pulled_page(
        &self,
        connection_id: i64,
        stream: &str,
        tickets: &[PulledTicket],
        deleted: &[String],
        next_cursor: &str,
        now: Millis,
    ) -> Result<ApplyReport> {
        self.write(|tx| {
            let mut report = ApplyReport::default();
            let tags_local = tags_stay_local(tx, &connection_id.to_string())?;
            for p in tickets {
                apply_one(tx, connection_id, p, tags_local, now, &mut report)?;
            }
            for d in deleted {
                if let Some(id) = mark_deleted(tx, connection_id, d, now)? {
                    report.marked_deleted += 1;
                    report.changed_ids.push(id);
                }
            }
            tx.prepare_cached(
                "INSERT INTO sync_cursors (connection_id, stream, cursor, updated_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (connection_id, stream) DO UPDATE SET cursor = excluded.cursor, \
                 updated_at = excluded.updated_at",
            )?
            .execute(params![connection_id, stream, next_cursor, now])?;
            report.changed_ids.sort_unstable();
            report.changed_ids.dedup();
            Ok(report)
        })
    }

    /// Applies tickets read outside a pull (e.g. "theirs" found while pushing); no cursor moves.
    pub fn apply_pulled(
        &self,
        connection_id: i64,
        tickets: &[PulledTicket],
        now: Millis,
    ) -> Result<ApplyReport> {
        self.write(|tx| {
            let mut report = ApplyReport::default();
            let tags_local = tags_stay_local(tx, &connection_id.to_string())?;
            for p in tickets {
                apply_one(tx, connection_id, p, tags_local, now, &mut report)?;
            }
            Ok(report)
        })
    }

    /// Where a pull stream resumes (`None`: from the beginning).
    pub fn sync_cursor(&self, connection_id: i64, stream: &str) -> Result<Option<String>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT cursor FROM sync_cursors WHERE connection_id = ? AND stream = ?",
            )?
            .query_row(params![connection_id, stream], |r| r.get(0))
            .optional()?)
        })
    }

    /// Forgets a stream's cursor (the next pull starts from the beginning; nothing is lost).
    pub fn reset_sync_cursor(&self, connection_id: i64, stream: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM sync_cursors WHERE connection_id = ? AND stream = ?",
                params![connection_id, stream],
            )?;
            Ok(())
        })
    }

    /// Whether a connection's scope mirrors any ticket (marked deleted or not). Reads one index
    /// entry; counting them walked the whole mirror (30 MiB of pages at 100,000 tickets, read
    /// at the start of every sync).
    pub fn mirrors_tickets(&self, connection_id: i64, scope: &str) -> Result<bool> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM sync_tickets WHERE connection_id = ? AND scope = ?)",
            )?
            .query_row(params![connection_id, scope], |r| r.get(0))?)
        })
    }

    /// How many tickets a connection's scope mirrors (marked deleted or not).
    pub fn synced_ticket_count(&self, connection_id: i64, scope: &str) -> Result<u64> {
        self.read(|c| {
            let n: i64 = c
                .prepare_cached(
                    "SELECT count(*) FROM sync_tickets WHERE connection_id = ? AND scope = ?",
                )?
                .query_row(params![connection_id, scope], |r| r.get(0))?;
            Ok(n as u64)
        })
    }

    /// When the deletion sweep of a connection's scope last completed (`None`: never). Kept in
    /// `sync_cursors` under the stream `sweep:<scope>`, so the schedule survives restarts.
    pub fn last_sweep_at(&self, connection_id: i64, scope: &str) -> Result<Option<Millis>> {
        let stream = sweep_stream(scope);
        Ok(self
            .sync_cursor(connection_id, &stream)?
            .and_then(|c| c.parse::<Millis>().ok()))
    }

    /// Records that the upstream ids of a scope were all seen at `at` (a sweep, or a complete
    /// first pull into an empty mirror, which sees every id too).
    pub fn record_sweep(&self, connection_id: i64, scope: &str, at: Millis) -> Result<()> {
        self.write(|tx| set_sweep_mark(tx, connection_id, scope, at))
    }

    /// Whether a ticket is marked deleted upstream (`None`: not a mirrored ticket).
    pub fn deleted_upstream_at(&self, ticket_id: TicketId) -> Result<Option<Option<Millis>>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT deleted_upstream_at FROM sync_tickets WHERE ticket_id = ?",
            )?
            .query_row([ticket_id], |r| r.get(0))
            .optional()?)
        })
    }

    /// Crash recovery: operations left `in_flight` (the app died mid-request) become `unknown`,
    /// so the next push looks for their marker before writing again. Run before every push.
    pub fn recover_in_flight(&self, now: Millis) -> Result<u64> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE outbox SET status = 'unknown', error_kind = 'unknown_outcome', \
                 last_error = 'interrupted while sending; will check upstream before retrying', \
                 updated_at = ? WHERE status = 'in_flight'",
                [now],
            )?;
            Ok(n as u64)
        })
    }

    /// Outbox operations not done, for one target (`None`: all), in replay order: per ticket,
    /// oldest first.
    pub fn sync_ops(&self, target: Option<&str>) -> Result<Vec<SyncOp>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {SYNC_OP_COLUMNS} FROM outbox o JOIN tickets t ON t.id = o.ticket_id \
                 LEFT JOIN sync_tickets s ON s.ticket_id = o.ticket_id \
                 WHERE o.status != 'done' AND (?1 IS NULL OR o.target = ?1) ORDER BY o.ticket_id, o.id"
            ))?;
            let rows = stmt
                .query_map([target], sync_op_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// One outbox operation.
    pub fn sync_op(&self, op_id: i64) -> Result<SyncOp> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {SYNC_OP_COLUMNS} FROM outbox o JOIN tickets t ON t.id = o.ticket_id \
                 LEFT JOIN sync_tickets s ON s.ticket_id = o.ticket_id WHERE o.id = ?"
            ))?
            .query_row([op_id], sync_op_from_row)
            .optional()?
            .ok_or_else(|| StoreError::Invalid(format!("no outbox operation {op_id}")))
        })
    }

    /// Records, on a comment operation not sent yet, what the upstream held before its first
    /// send (a connector's `comment_baseline`, e.g. the ids of identical comments already
    /// there), so a lookup after an unknown outcome never takes one of those for ours. Kept in
    /// the operation's `base` under `sent_baseline`; the first one recorded stays.
    pub fn outbox_record_comment_baseline(&self, op_id: i64, baseline: &Value) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE outbox SET base = json_set(base, '$.sent_baseline', json(?)) \
                 WHERE id = ? AND op = 'comment' AND json_type(base, '$.sent_baseline') IS NULL",
            )?
            .execute(params![baseline.to_string(), op_id])?;
            Ok(())
        })
    }

    /// The upstream ids of a ticket's comments the workspace already has (pulled, or linked to
    /// the comment operation that sent them): none of them is the comment of another operation.
    pub fn comment_upstream_ids(&self, ticket_id: TicketId) -> Result<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT upstream_id FROM comments WHERE ticket_id = ? AND upstream_id IS NOT NULL \
                 ORDER BY id",
            )?;
            let ids = stmt
                .query_map([ticket_id], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(ids)
        })
    }

    /// Marks an operation `in_flight` (durably, before its request is sent) and returns its
    /// idempotency marker, created on the first attempt and kept for every retry.
    pub fn outbox_begin(&self, op_id: i64, now: Millis) -> Result<String> {
        self.write(|tx| {
            let prefix = workspace_marker_prefix(tx)?;
            let marker: Option<String> = tx
                .prepare_cached(
                    "UPDATE outbox SET status = 'in_flight', attempts = attempts + 1, \
                     marker = coalesce(marker, ?), updated_at = ? \
                     WHERE id = ? AND status IN ('pending', 'unknown') RETURNING marker",
                )?
                .query_row(params![format!("{prefix}-{op_id}"), now, op_id], |r| {
                    r.get(0)
                })
                .optional()?;
            marker.ok_or_else(|| {
                StoreError::Invalid(format!(
                    "outbox operation {op_id} is not waiting to be sent"
                ))
            })
        })
    }

    /// Sets an operation's state after an attempt that did not succeed: `pending` (transient,
    /// retried at `next_attempt_at`), `unknown`, `failed` (permanent) or back to `pending`.
    pub fn outbox_set_status(
        &self,
        op_id: i64,
        status: super::OutboxStatus,
        error: Option<(&str, &str)>,
        next_attempt_at: Option<Millis>,
        now: Millis,
    ) -> Result<()> {
        use super::OutboxStatus as S;
        let s = match status {
            S::Pending => "pending",
            S::Unknown => "unknown",
            S::Failed => "failed",
            S::InFlight | S::Conflict | S::Done => {
                return Err(StoreError::Invalid(
                    "use outbox_begin, outbox_conflict or outbox_done for that state".into(),
                ));
            }
        };
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE outbox SET status = ?, error_kind = ?, last_error = ?, next_attempt_at = ?, \
                 updated_at = ? WHERE id = ? AND status != 'done'",
            )?
            .execute(params![
                s,
                error.map(|e| e.0),
                error.map(|e| e.1),
                next_attempt_at,
                now,
                op_id
            ])?;
            Ok(())
        })
    }

    /// Records a successful push and what it changed.
    pub fn outbox_done(
        &self,
        op_id: i64,
        connection_id: i64,
        effect: &PushEffect,
        now: Millis,
    ) -> Result<()> {
        self.write(|tx| {
            let (ticket_id, payload): (TicketId, String) = tx
                .prepare_cached("SELECT ticket_id, payload FROM outbox WHERE id = ?")?
                .query_row([op_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .ok_or_else(|| StoreError::Invalid(format!("no outbox operation {op_id}")))?;
            match effect {
                PushEffect::Nothing => {}
                PushEffect::Commented { upstream_id } => {
                    if let Some(cid) = parse_json(&payload)?.get("comment_id").and_then(Value::as_i64) {
                        tx.prepare_cached("UPDATE comments SET upstream_id = ? WHERE id = ?")?
                            .execute(params![upstream_id, cid])?;
                    }
                }
                PushEffect::Updated {
                    version,
                    version_updated_at,
                    fields,
                } => record_update(tx, ticket_id, version, *version_updated_at, fields)?,
                PushEffect::Created(p) => {
                    let t = load_ticket(tx, ticket_id)?
                        .ok_or_else(|| StoreError::TicketNotFound(ticket_id.to_string()))?;
                    let key_free: Option<i64> = tx
                        .prepare_cached("SELECT id FROM tickets WHERE key = ?")?
                        .query_row([&p.key], |r| r.get(0))
                        .optional()?;
                    let key = if key_free.is_none() { p.key.clone() } else { t.key.clone() };
                    tx.prepare_cached(
                        "UPDATE tickets SET upstream_id = ?, key = ?, extra = ?, revision = revision + 1 \
                         WHERE id = ?",
                    )?
                    .execute(params![p.upstream_id, key, with_sync_version(&t.extra, p).to_string(), ticket_id])?;
                    upsert_sync_ticket(tx, ticket_id, connection_id, p, now)?;
                    append_event(
                        tx,
                        &NewEvent {
                            ticket_id,
                            kind: EventKind::Updated,
                            actor: SYNC_ACTOR,
                            at: now,
                            recorded_at: now,
                            origin: Origin::Sync,
                            data: json!({ "sync": "created_upstream", "key": p.key, "upstream_id": p.upstream_id }),
                        },
                    )?;
                }
            }
            tx.prepare_cached(
                "UPDATE outbox SET status = 'done', last_error = NULL, error_kind = NULL, \
                 next_attempt_at = NULL, updated_at = ? WHERE id = ?",
            )?
            .execute(params![now, op_id])?;
            Ok(())
        })
    }

    /// Records fields an update pushed while others of the same operation went to the conflict
    /// inbox (the operation itself is not done).
    pub fn record_pushed_fields(
        &self,
        op_id: i64,
        version: &str,
        version_updated_at: Millis,
        fields: &Map<String, Value>,
    ) -> Result<()> {
        self.write(|tx| {
            let ticket_id: TicketId = tx
                .prepare_cached("SELECT ticket_id FROM outbox WHERE id = ?")?
                .query_row([op_id], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::Invalid(format!("no outbox operation {op_id}")))?;
            record_update(tx, ticket_id, version, version_updated_at, fields)
        })
    }

    /// Marks one mirrored ticket deleted upstream (a push found it gone). Never deletes it.
    pub fn mark_deleted_upstream(
        &self,
        connection_id: i64,
        upstream_id: &str,
        now: Millis,
    ) -> Result<Option<TicketId>> {
        self.write(|tx| mark_deleted(tx, connection_id, upstream_id, now))
    }

    /// Puts the fields that changed on both sides into the conflict inbox; the operation waits
    /// (`conflict`) until every one of them is resolved.
    pub fn outbox_conflict(
        &self,
        op_id: i64,
        conflicts: &[NewConflict],
        now: Millis,
    ) -> Result<()> {
        self.write(|tx| {
            let ticket_id: TicketId = tx
                .prepare_cached("SELECT ticket_id FROM outbox WHERE id = ?")?
                .query_row([op_id], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::Invalid(format!("no outbox operation {op_id}")))?;
            for c in conflicts {
                tx.prepare_cached(
                    "INSERT INTO sync_conflicts (ticket_id, outbox_id, field, base, mine, theirs, \
                     theirs_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
                     ON CONFLICT (outbox_id, field) WHERE status = 'open' DO UPDATE SET \
                     theirs = excluded.theirs, theirs_version = excluded.theirs_version",
                )?
                .execute(params![
                    ticket_id,
                    op_id,
                    c.field,
                    json_text(&c.base),
                    json_text(&c.mine),
                    json_text(&c.theirs),
                    json_text(&c.theirs_version),
                    now
                ])?;
            }
            tx.prepare_cached(
                "UPDATE outbox SET status = 'conflict', error_kind = 'conflict', \
                 last_error = ?, next_attempt_at = NULL, updated_at = ? WHERE id = ?",
            )?
            .execute(params![
                format!(
                    "changed upstream too: {}",
                    conflicts
                        .iter()
                        .map(|c| c.field.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                now,
                op_id
            ])?;
            Ok(())
        })
    }

    /// The agent asks to try an operation again now (from `failed`, `unknown` or a backing-off
    /// `pending`). An operation in conflict is settled in the conflict inbox instead.
    pub fn outbox_retry(&self, op_id: i64, now: Millis) -> Result<SyncOp> {
        let op = self.sync_op(op_id)?;
        use super::OutboxStatus as S;
        let status = match op.status {
            S::Failed | S::Pending => "pending",
            // Still unknown: the next push looks for the marker first.
            S::Unknown | S::InFlight => "unknown",
            S::Conflict => {
                return Err(StoreError::Invalid(format!(
                    "operation {op_id} waits in the conflict inbox; resolve it there"
                )));
            }
            S::Done => {
                return Err(StoreError::Invalid(format!(
                    "operation {op_id} is done already"
                )));
            }
        };
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE outbox SET status = ?, next_attempt_at = NULL, updated_at = ? WHERE id = ?",
            )?
            .execute(params![status, now, op_id])?;
            Ok(())
        })?;
        self.sync_op(op_id)
    }

    /// Drops an operation that will not be pushed. A full copy goes into the event log first;
    /// fields it changed return to the last upstream values (unless another waiting edit changes
    /// them), so local and upstream converge; its open conflicts close.
    pub fn outbox_discard(&self, op_id: i64, actor: &Actor<'_>) -> Result<()> {
        let op = self.sync_op(op_id)?;
        if op.status == super::OutboxStatus::Done {
            return Err(StoreError::Invalid(format!(
                "operation {op_id} is done already"
            )));
        }
        self.write(|tx| {
            append_event(
                tx,
                &NewEvent {
                    ticket_id: op.ticket_id,
                    kind: EventKind::Updated,
                    actor: actor.name,
                    at: actor.now,
                    recorded_at: actor.now,
                    origin: actor.origin,
                    data: json!({ "outbox_discarded": {
                        "id": op.id, "op": op.op, "target": op.target, "payload": op.payload,
                        "base": op.base, "status": op.status, "attempts": op.attempts,
                        "last_error": op.last_error, "marker": op.marker, "created_at": op.created_at,
                    }}),
                },
            )?;
            tx.prepare_cached("DELETE FROM outbox WHERE id = ?")?.execute([op_id])?;
            tx.prepare_cached(
                "UPDATE sync_conflicts SET status = 'resolved', resolution = 'theirs', resolved_at = ? \
                 WHERE outbox_id = ? AND status = 'open'",
            )?
            .execute(params![actor.now, op_id])?;
            if op.op == "update" {
                let snap: Option<String> = tx
                    .prepare_cached("SELECT fields FROM sync_tickets WHERE ticket_id = ?")?
                    .query_row([op.ticket_id], |r| r.get(0))
                    .optional()?;
                if let Some(snap) = snap {
                    let snap = parse_json(&snap)?;
                    let still = protected_fields(tx, op.ticket_id)?;
                    let mut back = Map::new();
                    if let Value::Object(p) = &op.payload {
                        for f in p.keys() {
                            if !still.contains(f)
                                && let Some(v) = snap.get(f)
                            {
                                back.insert(f.clone(), v.clone());
                            }
                        }
                    }
                    let t = load_ticket(tx, op.ticket_id)?
                        .ok_or_else(|| StoreError::TicketNotFound(op.ticket_id.to_string()))?;
                    let changes = set_fields(tx, &t, &back, actor.now, None)?;
                    if !changes.is_empty() {
                        append_event(
                            tx,
                            &NewEvent {
                                ticket_id: op.ticket_id,
                                kind: EventKind::Updated,
                                actor: actor.name,
                                at: actor.now,
                                recorded_at: actor.now,
                                origin: Origin::Sync,
                                data: json!({ "changes": changes, "sync": "discard_reverted" }),
                            },
                        )?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Open conflicts, oldest first; `target` limits them to one connection (its id as text).
    pub fn conflicts_open(&self, target: Option<&str>) -> Result<Vec<ConflictRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT c.id, c.ticket_id, t.key, t.title, t.source, c.outbox_id, c.field, c.base, \
                 c.mine, c.theirs, c.theirs_version, c.created_at FROM sync_conflicts c \
                 JOIN tickets t ON t.id = c.ticket_id \
                 WHERE c.status = 'open' AND (?1 IS NULL OR t.source = ?1) ORDER BY c.id",
            )?;
            let rows = stmt
                .query_map([target], |r| {
                    let j = |i: usize| -> rusqlite::Result<Value> {
                        let s: String = r.get(i)?;
                        serde_json::from_str(&s).map_err(|e| {
                            rusqlite::Error::FromSqlConversionFailure(
                                i,
                                rusqlite::types::Type::Text,
                                Box::new(e),
                            )
                        })
                    };
                    Ok(ConflictRow {
                        id: r.get(0)?,
                        ticket_id: r.get(1)?,
                        ticket_key: r.get(2)?,
                        ticket_title: r.get(3)?,
                        source: r.get(4)?,
                        outbox_id: r.get(5)?,
                        field: r.get(6)?,
                        base: j(7)?,
                        mine: j(8)?,
                        theirs: j(9)?,
                        theirs_version: j(10)?,
                        created_at: r.get(11)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Settles a conflict. Keep mine / edited value: a new outbox `update` based on their version
    /// (the next push sends it, and detects a conflict again if the field moved once more). Take
    /// theirs: the local field takes the upstream value. When the operation's last conflict is
    /// settled it is done (its other fields were pushed already). Returns the new operation's id.
    pub fn resolve_conflict(
        &self,
        conflict_id: i64,
        resolution: &Resolution,
        actor: &Actor<'_>,
    ) -> Result<Option<i64>> {
        self.write(|tx| {
            type Row = (TicketId, i64, String, String, String, String, String);
            let row: Option<Row> = tx
                .prepare_cached(
                    "SELECT ticket_id, outbox_id, field, mine, theirs, theirs_version, status \
                     FROM sync_conflicts WHERE id = ?",
                )?
                .query_row([conflict_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
                })
                .optional()?;
            let (ticket_id, outbox_id, field, mine, theirs, theirs_version, status) =
                row.ok_or_else(|| StoreError::Invalid(format!("no conflict {conflict_id}")))?;
            if status != "open" {
                return Err(StoreError::Invalid(format!("conflict {conflict_id} is resolved already")));
            }
            let (mine, theirs, theirs_version) =
                (parse_json(&mine)?, parse_json(&theirs)?, parse_json(&theirs_version)?);
            // Taking theirs takes the upstream value as it is now. The colleague may have changed
            // the field again since the conflict was recorded: the pulls since kept the local
            // value (the field waits here) but stored the newer upstream value and version. The
            // recorded `theirs` would then stay shown for good: nothing is pushed, and the pull
            // sees no newer version to apply.
            let current: Option<Value> = tx
                .prepare_cached("SELECT fields FROM sync_tickets WHERE ticket_id = ?")?
                .query_row([ticket_id], |r| r.get::<_, String>(0))
                .optional()?
                .map(|s| parse_json(&s))
                .transpose()?
                .and_then(|m| m.get(&field).cloned());
            let (label, value, push) = match resolution {
                Resolution::KeepMine => ("mine", mine.clone(), true),
                Resolution::TakeTheirs => {
                    ("theirs", current.unwrap_or_else(|| theirs.clone()), false)
                }
                Resolution::Edited(v) => ("edited", validate_field_value(&field, v)?, true),
            };
            tx.prepare_cached(
                "UPDATE sync_conflicts SET status = 'resolved', resolution = ?, resolved_value = ?, \
                 resolved_at = ? WHERE id = ?",
            )?
            .execute(params![label, json_text(&value), actor.now, conflict_id])?;
            // A later local edit of the same field waiting behind this operation supersedes it:
            // the agent's last edit is what stays shown and ends upstream (an operation enqueued
            // now would be pushed after it and bring the older value back).
            let later: Option<(i64, String)> = tx
                .prepare_cached(
                    "SELECT id, base FROM outbox WHERE ticket_id = ? AND id > ? AND op = 'update' \
                     AND status != 'done' AND json_type(payload, '$.\"' || ? || '\"') IS NOT NULL \
                     ORDER BY id LIMIT 1",
                )?
                .query_row(params![ticket_id, outbox_id, field], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((later_id, later_base)) = later {
                resolve_superseded(tx, ticket_id, &field, &theirs, push, later_id, &later_base)?;
                append_event(
                    tx,
                    &NewEvent {
                        ticket_id,
                        kind: EventKind::Updated,
                        actor: actor.name,
                        at: actor.now,
                        recorded_at: actor.now,
                        origin: actor.origin,
                        data: json!({ "changes": {}, "sync": "conflict_resolved",
                                      "conflict_id": conflict_id, "resolution": label,
                                      "superseded_by": later_id }),
                    },
                )?;
                close_if_settled(tx, outbox_id, actor.now)?;
                return Ok(None);
            }
            let t = load_ticket(tx, ticket_id)?
                .ok_or_else(|| StoreError::TicketNotFound(ticket_id.to_string()))?;
            let mut values = Map::new();
            values.insert(field.clone(), value.clone());
            let changes = set_fields(tx, &t, &values, actor.now, None)?;
            let event_id = append_event(
                tx,
                &NewEvent {
                    ticket_id,
                    kind: EventKind::Updated,
                    actor: actor.name,
                    at: actor.now,
                    recorded_at: actor.now,
                    origin: actor.origin,
                    data: json!({ "changes": changes, "sync": "conflict_resolved",
                                  "conflict_id": conflict_id, "resolution": label }),
                },
            )?;
            let mut new_op = None;
            if push {
                let mut payload = Map::new();
                payload.insert(field.clone(), value);
                let mut base_fields = Map::new();
                base_fields.insert(field.clone(), theirs);
                new_op = Some(enqueue(
                    tx,
                    &NewOutboxOp {
                        ticket_id,
                        event_id,
                        target: &t.source,
                        op: "update",
                        payload: Value::Object(payload),
                        base: json!({ "fields": base_fields,
                                      "version": { "upstream_sync_version": theirs_version } }),
                        created_at: actor.now,
                    },
                )?);
            } else {
                // Their value is now the local one: record it as the known upstream value too.
                let snap: Option<String> = tx
                    .prepare_cached("SELECT fields FROM sync_tickets WHERE ticket_id = ?")?
                    .query_row([ticket_id], |r| r.get(0))
                    .optional()?;
                if let Some(snap) = snap
                    && let Value::Object(mut m) = parse_json(&snap)?
                {
                    m.insert(field.clone(), values[&field].clone());
                    tx.prepare_cached("UPDATE sync_tickets SET fields = ? WHERE ticket_id = ?")?
                        .execute(params![Value::Object(m).to_string(), ticket_id])?;
                }
            }
            close_if_settled(tx, outbox_id, actor.now)?;
            Ok(new_op)
        })
    }

    /// Records that a sync of a connection started / ended (`error`: why it stopped).
    pub fn record_sync_run(
        &self,
        connection_id: i64,
        started_at: Millis,
        finished: Option<(Millis, Option<(&str, &str)>)>,
        pulled: u64,
        pushed: u64,
    ) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO sync_runs (connection_id, last_started_at) VALUES (?, ?) \
                 ON CONFLICT (connection_id) DO UPDATE SET last_started_at = excluded.last_started_at",
            )?
            .execute(params![connection_id, started_at])?;
            if let Some((at, err)) = finished {
                match err {
                    None => tx
                        .prepare_cached(
                            "UPDATE sync_runs SET last_success_at = ?, last_error = NULL, \
                             last_error_kind = NULL, pulled = ?, pushed = ? WHERE connection_id = ?",
                        )?
                        .execute(params![at, pulled as i64, pushed as i64, connection_id])?,
                    Some((kind, msg)) => tx
                        .prepare_cached(
                            "UPDATE sync_runs SET last_error = ?, last_error_kind = ?, pulled = ?, \
                             pushed = ? WHERE connection_id = ?",
                        )?
                        .execute(params![msg, kind, pulled as i64, pushed as i64, connection_id])?,
                };
            }
            Ok(())
        })
    }

    /// Records what the last sync said about a connection's knowledge base (`None`: nothing to
    /// say, e.g. a vendor whose knowledge base needs no setting).
    pub fn record_kb_status(&self, connection_id: i64, status: Option<&str>) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO sync_runs (connection_id, kb_status) VALUES (?, ?) \
                 ON CONFLICT (connection_id) DO UPDATE SET kb_status = excluded.kb_status",
            )?
            .execute(params![connection_id, status])?;
            Ok(())
        })
    }

    /// A connection's sync status: last run, waiting operations, conflicts, deleted-upstream marks.
    pub fn sync_status(&self, connection_id: i64) -> Result<SyncStatusRow> {
        let target = connection_id.to_string();
        self.read(|c| {
            let mut s: SyncStatusRow = c
                .prepare_cached(
                    "SELECT last_started_at, last_success_at, last_error, last_error_kind, \
                     kb_status FROM sync_runs WHERE connection_id = ?",
                )?
                .query_row([connection_id], |r| {
                    Ok(SyncStatusRow {
                        connection_id,
                        last_started_at: r.get(0)?,
                        last_success_at: r.get(1)?,
                        last_error: r.get(2)?,
                        last_error_kind: r.get(3)?,
                        kb_status: r.get(4)?,
                        ..Default::default()
                    })
                })
                .optional()?
                .unwrap_or(SyncStatusRow { connection_id, ..Default::default() });
            let mut stmt = c.prepare_cached(
                "SELECT status, count(*) FROM outbox WHERE target = ? AND status != 'done' GROUP BY status",
            )?;
            for row in stmt.query_map([&target], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
                let (st, n) = row?;
                match st.as_str() {
                    "unknown" | "in_flight" => s.unknown_ops += n as u64,
                    "failed" => s.failed_ops += n as u64,
                    _ => {}
                }
                s.pending_ops += n as u64;
            }
            s.conflicts = c.query_row(
                "SELECT count(*) FROM sync_conflicts c JOIN tickets t ON t.id = c.ticket_id \
                 WHERE c.status = 'open' AND t.source = ?",
                [&target],
                |r| r.get::<_, i64>(0),
            )? as u64;
            let (n, d): (i64, i64) = c.query_row(
                "SELECT count(*), count(deleted_upstream_at) FROM sync_tickets WHERE connection_id = ?",
                [connection_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            s.tickets = n as u64;
            s.deleted_upstream = d as u64;
            Ok(s)
        })
    }

    /// The upstream field values last seen for a mirrored ticket (the base of a new edit).
    pub fn synced_fields(
        &self,
        ticket_id: TicketId,
    ) -> Result<Option<(String, Map<String, Value>)>> {
        self.read(|c| {
            let row: Option<(String, String)> = c
                .prepare_cached("SELECT version, fields FROM sync_tickets WHERE ticket_id = ?")?
                .query_row([ticket_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            match row {
                None => Ok(None),
                Some((v, f)) => match parse_json(&f)? {
                    Value::Object(m) => Ok(Some((v, m))),
                    _ => Err(StoreError::Data(
                        "sync_tickets.fields is not an object".into(),
                    )),
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TicketPatch;
    use crate::store::OutboxStatus;
    use crate::store::test_support::temp_store;

    /// Incident "1" pulled open at version v1 (connection 7, cursor "c", at 1): its local id.
    fn pull_open_incident(s: &Store) -> TicketId {
        let r = s
            .apply_pulled_page(
                7,
                "incident",
                &[pulled("1", "v1", TicketState::Open)],
                &[],
                "c",
                1,
            )
            .unwrap();
        r.changed_ids[0]
    }

    /// Incident "1" pulled at version v1 (connection 7), and a local edit of its priority to make.
    fn pulled_open_incident_and_a_priority_edit(s: &Store) -> (TicketId, TicketPatch) {
        let r = s
            .apply_pulled_page(
                7,
                "incident",
                &[pulled("1", "v1", TicketState::Open)],
                &[],
                "c1",
                10,
            )
            .unwrap();
        let patch = TicketPatch {
            priority: Some(Priority::Critical),
            ..Default::default()
        };
        (r.changed_ids[0], patch)
    }

    fn pulled(uid: &str, version: &str, state: TicketState) -> PulledTicket {
        PulledTicket {
            upstream_id: uid.into(),
            key: format!("INC{uid}"),
            scope: "incident".into(),
            version: version.into(),
            version_updated_at: 1_000 * version.len() as i64,
            created_at: 500,
            first_response_at: None,
            resolved_at: None,
            title: "VPN down".into(),
            description: "since 9am".into(),
            state,
            state_raw: Some("2".into()),
            priority: Priority::High,
            priority_raw: Some("2".into()),
            assignee: Some("ana".into()),
            assignment_group: Some("Network".into()),
            requester: Some("bo".into()),
            organization: None,
            tags: vec![],
            url: None,
            extra: json!({"sys_mod_count": version}),
            comments: vec![PulledComment {
                upstream_id: "j1".into(),
                visibility: Visibility::Public,
                author: "bo".into(),
                body: "help".into(),
                created_at: 600,
                marker: None,
            }],
        }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let (d, s) = temp_store();
        s.write(|tx| {
            tx.execute(
                "INSERT INTO connections (id, vendor, name, base_url, auth_method, username, \
                 created_at, updated_at) VALUES (7, 'servicenow', 'sn', 'https://sn.example', \
                 'basic', 'u', 0, 0)",
                [],
            )?;
            Ok(())
        })
        .unwrap();
        (d, s)
    }

    fn app(now: Millis) -> Actor<'static> {
        Actor {
            name: "ana",
            origin: Origin::App,
            now,
        }
    }

    #[test]
    fn a_pulled_page_and_its_cursor_commit_together_and_overlap_is_a_no_op() {
        let (_d, s) = store();
        let p = pulled("1", "v1", TicketState::Open);
        let r = s
            .apply_pulled_page(7, "incident", std::slice::from_ref(&p), &[], "c1", 10)
            .unwrap();
        assert_eq!((r.created, r.comments_added), (1, 1));
        assert_eq!(s.sync_cursor(7, "incident").unwrap().as_deref(), Some("c1"));
        let id = r.changed_ids[0];
        let d = s.ticket(id).unwrap();
        assert_eq!(
            (d.ticket.source.as_str(), d.ticket.key.as_str()),
            ("7", "INC1")
        );
        assert_eq!(d.comments.len(), 1);
        let ev = s.events_for(id).unwrap();
        assert!(ev.iter().all(|e| e.origin == Origin::Sync), "{ev:?}");
        assert!(
            s.outbox_open(None).unwrap().is_empty(),
            "pulled changes are not pushed back"
        );
        // The same version again (overlap): nothing changes, no duplicate comment.
        let r = s
            .apply_pulled_page(7, "incident", &[p], &[], "c2", 11)
            .unwrap();
        assert_eq!((r.unchanged, r.comments_added), (1, 0));
        assert_eq!(s.ticket(id).unwrap().ticket.revision, d.ticket.revision);
        assert_eq!(s.ticket(id).unwrap().comments.len(), 1);
    }

    #[test]
    fn an_upstream_change_bumps_the_revision_but_never_clobbers_a_pending_local_edit() {
        let (_d, s) = store();
        let (id, patch) = pulled_open_incident_and_a_priority_edit(&s);
        let before = s.update_ticket(id, None, &patch, &app(20)).unwrap();
        // The op records the upstream version it was made on.
        let op = &s.sync_ops(Some("7")).unwrap()[0];
        assert_eq!(op.base["version"]["upstream_sync_version"]["token"], "v1");
        let mut theirs = pulled("1", "v22", TicketState::Pending);
        theirs.priority = Priority::Low;
        let r = s
            .apply_pulled_page(7, "incident", &[theirs], &[], "c2", 30)
            .unwrap();
        assert_eq!((r.updated, r.fields_kept_local), (1, 1));
        let t = s.ticket(id).unwrap().ticket;
        assert_eq!(
            t.state,
            TicketState::Pending,
            "an unedited field follows upstream"
        );
        assert_eq!(
            t.priority,
            Priority::Critical,
            "the pending local edit stays"
        );
        assert!(t.revision > before.revision);
        let last = s.events_for(id).unwrap().pop().unwrap();
        assert_eq!(last.origin, Origin::Sync);
        assert_eq!(last.data["changes"]["state"]["to"], "pending");
    }

    /// A push records the version its write produced; on upstreams without a write
    /// precondition that version may hold a colleague's change we never saw. A pull of that
    /// same version applies it instead of skipping it as "already stored".
    #[test]
    fn a_pushed_version_holding_a_change_not_seen_yet_is_applied_when_pulled() {
        let (_d, s) = store();
        let (id, patch) = pulled_open_incident_and_a_priority_edit(&s);
        s.update_ticket(id, None, &patch, &app(20)).unwrap();
        let op = s.sync_ops(Some("7")).unwrap()[0].clone();
        s.outbox_begin(op.id, 21).unwrap();
        // Our write answered with v3; a colleague had set the state to pending at v2.
        let mut fields = Map::new();
        fields.insert("priority".into(), json!("critical"));
        let effect = PushEffect::Updated {
            version: "v3".into(),
            version_updated_at: 3_000,
            fields,
        };
        s.outbox_done(op.id, 7, &effect, 22).unwrap();
        let mut v3 = pulled("1", "v3", TicketState::Pending);
        v3.priority = Priority::Critical;
        let r = s
            .apply_pulled_page(7, "incident", std::slice::from_ref(&v3), &[], "c2", 30)
            .unwrap();
        assert_eq!((r.updated, r.unchanged), (1, 0));
        let t = s.ticket(id).unwrap().ticket;
        assert_eq!(
            (t.state, t.priority),
            (TicketState::Pending, Priority::Critical)
        );
        let (version, snap) = s.synced_fields(id).unwrap().unwrap();
        assert_eq!(
            (version.as_str(), &snap["state"]),
            ("v3", &json!("pending"))
        );
        // Now it is shown: the same version again is a no-op.
        let revision = t.revision;
        let r = s
            .apply_pulled_page(7, "incident", &[v3], &[], "c3", 31)
            .unwrap();
        assert_eq!((r.updated, r.unchanged), (0, 1));
        assert_eq!(s.ticket(id).unwrap().ticket.revision, revision);
    }

    #[test]
    fn a_failed_page_leaves_the_cursor_and_the_tickets_alone() {
        let (_d, s) = store();
        s.apply_pulled_page(
            7,
            "incident",
            &[pulled("1", "v1", TicketState::Open)],
            &[],
            "c1",
            10,
        )
        .unwrap();
        let mut bad = pulled("2", "v1", TicketState::Open);
        bad.title = "x".repeat(2_000); // over the title limit: the whole page is refused
        let ok = pulled("3", "v1", TicketState::Open);
        assert!(
            s.apply_pulled_page(7, "incident", &[ok, bad], &[], "c2", 11)
                .is_err()
        );
        assert_eq!(s.sync_cursor(7, "incident").unwrap().as_deref(), Some("c1"));
        assert_eq!(s.ticket_count().unwrap(), 1);
    }

    #[test]
    fn in_flight_becomes_unknown_at_start_and_the_marker_is_kept() {
        let (_d, s) = store();
        let id = pull_open_incident(&s);
        s.add_comment(id, Visibility::Internal, "rebooted", &app(2))
            .unwrap();
        let op = s.sync_ops(Some("7")).unwrap()[0].clone();
        let m1 = s.outbox_begin(op.id, 3).unwrap();
        assert_eq!(s.sync_op(op.id).unwrap().status, OutboxStatus::InFlight);
        assert_eq!(s.recover_in_flight(4).unwrap(), 1);
        let after = s.sync_op(op.id).unwrap();
        assert_eq!(after.status, OutboxStatus::Unknown);
        let m2 = s.outbox_begin(op.id, 5).unwrap();
        assert_eq!(m1, m2, "a retry carries the same marker");
        // The comment comes back upstream with the marker: linked, not duplicated; op settled.
        let mut back = pulled("1", "v2", TicketState::Open);
        back.comments.push(PulledComment {
            upstream_id: "j9".into(),
            visibility: Visibility::Internal,
            author: "ana".into(),
            body: "rebooted".into(),
            created_at: 2,
            marker: Some(m1),
        });
        let r = s.apply_pulled(7, &[back], 6).unwrap();
        assert_eq!(r.comments_confirmed, 1);
        let d = s.ticket(id).unwrap();
        assert_eq!(d.comments.len(), 2);
        assert_eq!(d.pending_ops, 0);
    }

    #[test]
    fn comment_texts_compare_without_the_whitespace_upstreams_change() {
        let k = comparable_comment_text;
        assert_eq!(k("  Fixed.\r\n\r\n\r\nThanks  \n\n"), "  Fixed.\n\nThanks");
        assert_eq!(k("a\nb"), "a\nb");
        assert_ne!(k("a\nb"), k("a\n\nb"), "a paragraph is not a line break");
        assert_ne!(k("Thanks"), k("Thanks!"));
        assert_eq!(k("\n\n"), "");
    }

    /// A comment pulled while an operation with the same text waits for its unknown outcome to
    /// be settled is not added (the push links it); any other comment is.
    #[test]
    fn a_pulled_comment_that_may_be_an_unconfirmed_push_waits_for_the_push() {
        let (_d, s) = store();
        let id = pull_open_incident(&s);
        s.add_comment(id, Visibility::Public, "Please try again now.", &app(2))
            .unwrap();
        let op = s.sync_ops(Some("7")).unwrap()[0].clone();
        let comment = |uid: &str, vis: Visibility, body: &str| PulledComment {
            upstream_id: uid.into(),
            visibility: vis,
            author: "casebook.agent".into(),
            body: body.into(),
            created_at: 3,
            marker: None,
        };
        let with = |version: &str, cs: Vec<PulledComment>| {
            let mut p = pulled("1", version, TicketState::Open);
            p.comments = cs;
            p
        };
        // Not sent yet (pending): an identical comment upstream is someone else's.
        let r = s
            .apply_pulled(
                7,
                &[with(
                    "v2",
                    vec![comment("k1", Visibility::Public, "Please try again now.")],
                )],
                3,
            )
            .unwrap();
        assert_eq!((r.comments_added, r.comments_deferred), (1, 0));
        // Sent, no answer: an identical comment (text as the upstream reformats it) waits; one
        // with other text or the other visibility does not.
        s.outbox_begin(op.id, 4).unwrap();
        s.outbox_set_status(
            op.id,
            OutboxStatus::Unknown,
            Some(("unknown_outcome", "x")),
            None,
            4,
        )
        .unwrap();
        let r = s
            .apply_pulled(
                7,
                &[with(
                    "v3",
                    vec![
                        comment("k2", Visibility::Public, "Please try again now.\n\n"),
                        comment("k3", Visibility::Internal, "Please try again now."),
                        comment("k4", Visibility::Public, "Please try again later."),
                    ],
                )],
                5,
            )
            .unwrap();
        assert_eq!((r.comments_added, r.comments_deferred), (2, 1));
        let d = s.ticket(id).unwrap();
        assert!(
            !d.comments
                .iter()
                .any(|c| c.upstream_id.as_deref() == Some("k2"))
        );
        // The push confirms k2 as ours: linked, and a later pull of it adds nothing.
        s.outbox_done(
            op.id,
            7,
            &PushEffect::Commented {
                upstream_id: "k2".into(),
            },
            6,
        )
        .unwrap();
        let r = s
            .apply_pulled(
                7,
                &[with(
                    "v3",
                    vec![comment("k2", Visibility::Public, "Please try again now.")],
                )],
                7,
            )
            .unwrap();
        assert_eq!((r.comments_added, r.comments_deferred), (0, 0));
        let d = s.ticket(id).unwrap();
        assert_eq!(d.comments.len(), 5, "help (j1), mine, k1, k3, k4");
        let mut known = s.comment_upstream_ids(id).unwrap();
        known.sort();
        assert_eq!(known, ["j1", "k1", "k2", "k3", "k4"]);
    }

    #[test]
    fn a_comment_baseline_is_recorded_once_beside_the_base() {
        let (_d, s) = store();
        let id = pull_open_incident(&s);
        s.add_comment(id, Visibility::Public, "Thanks", &app(2))
            .unwrap();
        let op = s.sync_ops(Some("7")).unwrap()[0].clone();
        s.outbox_record_comment_baseline(op.id, &json!({ "ids": ["a"] }))
            .unwrap();
        s.outbox_record_comment_baseline(op.id, &json!({ "ids": ["b"] }))
            .unwrap();
        let base = s.sync_op(op.id).unwrap().base;
        assert_eq!(
            base["sent_baseline"],
            json!({ "ids": ["a"] }),
            "the first one stays"
        );
        assert_eq!(base["version"], op.base["version"], "the base is kept");
    }

    #[test]
    fn conflicts_resolve_by_keeping_mine_taking_theirs_or_editing() {
        let (_d, s) = store();
        let id = pull_open_incident(&s);
        let patch = TicketPatch {
            priority: Some(Priority::Critical),
            assignee: Some(Some("cy".into())),
            ..Default::default()
        };
        s.update_ticket(id, None, &patch, &app(2)).unwrap();
        let op = s.sync_ops(Some("7")).unwrap()[0].clone();
        s.outbox_begin(op.id, 3).unwrap();
        // As the engine does: their version is stored (the pending fields stay local), then
        // the fields that changed on both sides go to the inbox.
        let mut theirs = pulled("1", "v2", TicketState::Open);
        theirs.priority = Priority::Low;
        theirs.assignee = Some("dee".into());
        s.apply_pulled(7, &[theirs], 4).unwrap();
        let tv = json!({"token": "v2", "updated_at": 5});
        s.outbox_conflict(
            op.id,
            &[
                NewConflict {
                    field: "priority".into(),
                    base: json!("high"),
                    mine: json!("critical"),
                    theirs: json!("low"),
                    theirs_version: tv.clone(),
                },
                NewConflict {
                    field: "assignee".into(),
                    base: json!("ana"),
                    mine: json!("cy"),
                    theirs: json!("dee"),
                    theirs_version: tv,
                },
            ],
            4,
        )
        .unwrap();
        let open = s.conflicts_open(Some("7")).unwrap();
        assert_eq!(open.len(), 2);
        assert_eq!(
            (
                open[0].base.clone(),
                open[0].mine.clone(),
                open[0].theirs.clone()
            ),
            (json!("high"), json!("critical"), json!("low"))
        );
        let new_op = s
            .resolve_conflict(open[0].id, &Resolution::KeepMine, &app(6))
            .unwrap()
            .unwrap();
        let nop = s.sync_op(new_op).unwrap();
        assert_eq!(nop.payload, json!({"priority": "critical"}));
        assert_eq!(nop.base["fields"]["priority"], "low");
        assert_eq!(nop.base["version"]["upstream_sync_version"]["token"], "v2");
        assert_eq!(
            s.sync_op(op.id).unwrap().status,
            OutboxStatus::Conflict,
            "one still open"
        );
        assert!(
            s.resolve_conflict(open[1].id, &Resolution::Edited(json!(7)), &app(7))
                .is_err()
        );
        s.resolve_conflict(open[1].id, &Resolution::TakeTheirs, &app(7))
            .unwrap();
        assert_eq!(
            s.ticket(id).unwrap().ticket.assignee.as_deref(),
            Some("dee")
        );
        assert!(s.conflicts_open(None).unwrap().is_empty());
        let ops = s.sync_ops(Some("7")).unwrap();
        assert_eq!(
            ops.iter().map(|o| o.id).collect::<Vec<_>>(),
            vec![new_op],
            "the first op is done"
        );
    }

    #[test]
    fn discard_keeps_a_copy_and_reverts_to_the_upstream_value() {
        let (_d, s) = store();
        let id = pull_open_incident(&s);
        let patch = TicketPatch {
            state: Some(TicketState::Closed),
            ..Default::default()
        };
        s.update_ticket(id, None, &patch, &app(2)).unwrap();
        let op = s.sync_ops(Some("7")).unwrap()[0].clone();
        s.outbox_set_status(
            op.id,
            OutboxStatus::Failed,
            Some(("http_status", "refused")),
            None,
            3,
        )
        .unwrap();
        s.outbox_discard(op.id, &app(4)).unwrap();
        assert!(s.sync_ops(None).unwrap().is_empty());
        assert_eq!(s.ticket(id).unwrap().ticket.state, TicketState::Open);
        let copy = s
            .events_for(id)
            .unwrap()
            .into_iter()
            .find(|e| e.data.get("outbox_discarded").is_some())
            .unwrap();
        assert_eq!(copy.data["outbox_discarded"]["payload"]["state"], "closed");
        assert_eq!(copy.data["outbox_discarded"]["last_error"], "refused");
    }

    #[test]
    fn the_sweep_marks_missing_tickets_and_keeps_them() {
        let (_d, s) = store();
        s.apply_pulled_page(
            7,
            "incident",
            &[
                pulled("1", "v1", TicketState::Open),
                pulled("2", "v1", TicketState::Open),
            ],
            &[],
            "c",
            1,
        )
        .unwrap();
        let mut walk = crate::store::SweepWalk::new(7, "incident");
        s.sweep_page(&mut walk, vec!["1".to_owned()], true).unwrap();
        let out = s.finish_sweep(walk, 2).unwrap();
        assert_eq!((out.marked, out.restored, out.listed), (1, 0, 1));
        assert_eq!(
            s.deleted_upstream_at(out.changed_ids[0]).unwrap(),
            Some(Some(2))
        );
        assert_eq!(s.ticket_count().unwrap(), 2, "marked, not dropped");
        assert_eq!(s.sync_status(7).unwrap().deleted_upstream, 1);
        // The sweep is recorded per scope (its schedule), apart from the pull cursor.
        assert_eq!(s.last_sweep_at(7, "incident").unwrap(), Some(2));
        assert_eq!(s.last_sweep_at(7, "problem").unwrap(), None);
        assert_eq!(s.sync_cursor(7, "incident").unwrap().as_deref(), Some("c"));
        assert_eq!(s.synced_ticket_count(7, "incident").unwrap(), 2);
        assert!(s.mirrors_tickets(7, "incident").unwrap());
        assert!(!s.mirrors_tickets(7, "problem").unwrap());
        assert!(!s.mirrors_tickets(8, "incident").unwrap());
        s.record_sweep(7, "incident", 9).unwrap();
        assert_eq!(s.last_sweep_at(7, "incident").unwrap(), Some(9));
    }

    /// ServiceNow cannot store tags (`Vendor::stores_tags`): an agent's tags on its tickets are
    /// recorded in the event log but never queued (nothing that can only fail piles up), a pull
    /// never overwrites them, and an edit of tags with another field queues only the other field.
    /// A Jira ticket's tags go to the outbox and follow the upstream as before.
    #[test]
    fn tags_of_a_servicenow_ticket_stay_local_and_a_jira_tickets_are_synced() {
        let (_d, s) = store();
        let (id, _) = pulled_open_incident_and_a_priority_edit(&s);
        assert!(s.ticket(id).unwrap().tags_local);
        let tags = TicketPatch {
            tags: Some(vec!["VPN".into(), "printer".into()]),
            ..Default::default()
        };
        s.update_ticket(id, None, &tags, &app(20)).unwrap();
        let d = s.ticket(id).unwrap();
        assert_eq!(d.ticket.tags, ["printer", "vpn"]);
        assert_eq!(
            d.pending_ops, 0,
            "tags of a servicenow ticket are not queued"
        );
        assert!(s.outbox_open(None).unwrap().is_empty());
        let mine = s.events_for(id).unwrap();
        let mine = mine.iter().find(|e| e.origin == Origin::App).unwrap();
        assert_eq!(
            mine.data["changes"]["tags"]["to"],
            json!(["printer", "vpn"])
        );
        // Tags with another field: only the other field is queued.
        let both = TicketPatch {
            tags: Some(vec!["vpn".into()]),
            priority: Some(Priority::Critical),
            ..Default::default()
        };
        s.update_ticket(id, None, &both, &app(21)).unwrap();
        let ops = s.sync_ops(Some("7")).unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].payload, json!({ "priority": "critical" }));
        assert!(ops[0].base["fields"].get("tags").is_none());
        // An upstream change (no tags upstream) keeps the local tags; the same version again is
        // recognised as already shown.
        let mut theirs = pulled("1", "v22", TicketState::Pending);
        theirs.tags = vec![];
        let r = s
            .apply_pulled_page(7, "incident", std::slice::from_ref(&theirs), &[], "c2", 30)
            .unwrap();
        assert_eq!(r.updated, 1);
        let t = s.ticket(id).unwrap().ticket;
        assert_eq!(
            (t.state, t.tags.as_slice()),
            (TicketState::Pending, &["vpn".to_owned()][..])
        );
        let r = s
            .apply_pulled_page(7, "incident", &[theirs], &[], "c3", 31)
            .unwrap();
        assert_eq!((r.unchanged, r.updated), (1, 0));

        // Jira (connection 8): tags are queued and a pull brings the upstream's.
        s.write(|tx| {
            tx.execute(
                "INSERT INTO connections (id, vendor, name, base_url, auth_method, username, \
                 created_at, updated_at) VALUES (8, 'jira', 'j', 'https://j.example', \
                 'basic', 'u', 0, 0)",
                [],
            )?;
            Ok(())
        })
        .unwrap();
        let mut issue = pulled("HD-1", "v1", TicketState::Open);
        issue.tags = vec!["network".into()];
        let r = s
            .apply_pulled_page(8, "HD", &[issue], &[], "j1", 40)
            .unwrap();
        let jid = r.changed_ids[0];
        assert!(!s.ticket(jid).unwrap().tags_local);
        s.update_ticket(jid, None, &tags, &app(41)).unwrap();
        let ops = s.sync_ops(Some("8")).unwrap();
        assert_eq!(ops[0].payload, json!({ "tags": ["printer", "vpn"] }));
        let mut theirs = pulled("HD-1", "v2", TicketState::Open);
        theirs.tags = vec!["wifi".into()];
        let r = s
            .apply_pulled_page(8, "HD", &[theirs], &[], "j2", 42)
            .unwrap();
        assert_eq!(r.fields_kept_local, 1, "the pending tags edit is protected");
    }
}
