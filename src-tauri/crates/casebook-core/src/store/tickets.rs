//! Reading and editing tickets. Every edit writes, in one transaction: the ticket, an event in the
//! log and (for local edits) an outbox operation carrying the base values it was made on.

use super::connections::tags_stay_local;
use super::events::{EventKind, NewEvent, NewOutboxOp, Origin, append_event, enqueue};
use super::query::{parse_priority, parse_state, parse_text, split_tags};
use super::{Result, Store, StoreError};
use crate::model::{
    Attachment, Comment, Link, LinkKind, Millis, NewTicket, Ticket, TicketId, TicketPatch,
    Visibility, normalize_tags,
};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Longest title accepted (characters).
pub const MAX_TITLE_CHARS: usize = 1_000;
/// Longest description or comment body accepted (bytes).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// A ticket with everything the ticket view shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketDetail {
    pub ticket: Ticket,
    pub comments: Vec<Comment>,
    pub links: Vec<Link>,
    pub attachments: Vec<Attachment>,
    pub pending_ops: i64,
    /// The ticket's tags stay in this workspace: its upstream cannot store them (ServiceNow),
    /// so editing them queues nothing and a pull never changes them.
    #[serde(default)]
    pub tags_local: bool,
}

const TICKET_COLUMNS: &str = "id, key, source, upstream_id, title, description, state, state_raw, \
    priority, priority_raw, assignee, assignment_group, requester, organization, tags, created_at, \
    updated_at, first_response_at, resolved_at, extra, revision";

fn ticket_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Ticket> {
    let extra: String = r.get(19)?;
    Ok(Ticket {
        id: r.get(0)?,
        key: r.get(1)?,
        source: r.get(2)?,
        upstream_id: r.get(3)?,
        title: r.get(4)?,
        description: r.get(5)?,
        state: parse_state(r, 6)?,
        state_raw: r.get(7)?,
        priority: parse_priority(r, 8)?,
        priority_raw: r.get(9)?,
        assignee: r.get(10)?,
        assignment_group: r.get(11)?,
        requester: r.get(12)?,
        organization: r.get(13)?,
        tags: split_tags(&r.get::<_, String>(14)?),
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
        first_response_at: r.get(17)?,
        resolved_at: r.get(18)?,
        extra: serde_json::from_str(&extra).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(19, rusqlite::types::Type::Text, Box::new(e))
        })?,
        revision: r.get(20)?,
    })
}

/// Checks a title and description against the limits every ticket must meet.
pub fn validate_ticket_text(title: &str, description: &str) -> Result<()> {
    if title.trim().is_empty() {
        return Err(StoreError::Invalid("a ticket needs a title".into()));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(StoreError::Invalid(format!(
            "title is longer than {MAX_TITLE_CHARS} characters"
        )));
    }
    if description.len() > MAX_BODY_BYTES {
        return Err(StoreError::Invalid(format!(
            "description is larger than {} KiB",
            MAX_BODY_BYTES / 1024
        )));
    }
    Ok(())
}

fn clean_opt(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Reads a ticket inside a transaction (or any connection).
pub(crate) fn load_ticket(c: &rusqlite::Connection, id: TicketId) -> Result<Option<Ticket>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?"
    ))?;
    Ok(stmt.query_row([id], ticket_from_row).optional()?)
}

/// Reads a ticket with its comments, links, attachments and waiting operations (call inside a
/// read transaction, so the parts agree).
pub(crate) fn load_detail(c: &rusqlite::Connection, id: TicketId) -> Result<TicketDetail> {
    let ticket = load_ticket(c, id)?.ok_or_else(|| StoreError::TicketNotFound(id.to_string()))?;
    let comments = c
        .prepare_cached(
            "SELECT id, ticket_id, visibility, author, body, created_at, upstream_id \
                 FROM comments WHERE ticket_id = ? ORDER BY created_at, id",
        )?
        .query_map([id], |r| {
            Ok(Comment {
                id: r.get(0)?,
                ticket_id: r.get(1)?,
                visibility: parse_text(r, 2)?,
                author: r.get(3)?,
                body: r.get(4)?,
                created_at: r.get(5)?,
                upstream_id: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let links = c
        .prepare_cached(
            "SELECT id, ticket_id, kind, target, title FROM links WHERE ticket_id = ? ORDER BY id",
        )?
        .query_map([id], |r| {
            Ok(Link {
                id: r.get(0)?,
                ticket_id: r.get(1)?,
                kind: parse_text::<LinkKind>(r, 2)?,
                target: r.get(3)?,
                title: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let attachments = c
        .prepare_cached(
            "SELECT id, ticket_id, file_name, content_type, size_bytes, upstream_id, created_at \
                 FROM attachments WHERE ticket_id = ? ORDER BY id",
        )?
        .query_map([id], |r| {
            Ok(Attachment {
                id: r.get(0)?,
                ticket_id: r.get(1)?,
                file_name: r.get(2)?,
                content_type: r.get(3)?,
                size_bytes: r.get(4)?,
                upstream_id: r.get(5)?,
                created_at: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let pending_ops: i64 = c.query_row(
        "SELECT count(*) FROM outbox WHERE ticket_id = ? AND status != 'done'",
        [id],
        |r| r.get(0),
    )?;
    let tags_local = tags_stay_local(c, &ticket.source)?;
    Ok(TicketDetail {
        ticket,
        comments,
        links,
        attachments,
        pending_ops,
        tags_local,
    })
}

fn next_local_key(tx: &Transaction<'_>) -> Result<String> {
    let n: i64 = tx.query_row(
        "INSERT INTO local_keys (prefix, next) VALUES ('CB', 2) \
         ON CONFLICT (prefix) DO UPDATE SET next = next + 1 RETURNING next - 1",
        [],
        |r| r.get(0),
    )?;
    Ok(format!("CB-{n}"))
}

/// Inserts a ticket row and its tags. Returns the new id.
pub(crate) fn insert_ticket(
    tx: &Transaction<'_>,
    t: &NewTicket,
    key: &str,
    now: Millis,
) -> Result<TicketId> {
    insert_ticket_unless_key_exists(tx, t, key, now)?
        .ok_or_else(|| StoreError::Invalid(format!("a ticket with key {key} exists already")))
}

/// Inserts a ticket row and its tags unless a ticket with this key exists (`None`: one does).
/// One B-tree probe where a lookup and then an insert would cost two.
pub(crate) fn insert_ticket_unless_key_exists(
    tx: &Transaction<'_>,
    t: &NewTicket,
    key: &str,
    now: Millis,
) -> Result<Option<TicketId>> {
    let tags = normalize_tags(&t.tags);
    let created = t.created_at.unwrap_or(now);
    let updated = t.updated_at.unwrap_or(created);
    let mut stmt = tx.prepare_cached(
        "INSERT INTO tickets (key, source, upstream_id, title, description, state, state_raw, \
         priority, priority_raw, assignee, assignment_group, requester, organization, tags, \
         created_at, updated_at, first_response_at, resolved_at, extra) \
         VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (key) DO NOTHING",
    )?;
    let inserted = stmt.execute(params![
        key,
        t.source,
        t.upstream_id,
        t.title.trim(),
        t.description,
        t.state.as_str(),
        t.state_raw,
        t.priority.rank(),
        t.priority_raw,
        clean_opt(t.assignee.clone()),
        clean_opt(t.assignment_group.clone()),
        clean_opt(t.requester.clone()),
        clean_opt(t.organization.clone()),
        tags.join(","),
        created,
        updated,
        t.first_response_at,
        t.resolved_at,
        t.extra.to_string(),
    ])?;
    if inserted == 0 {
        return Ok(None);
    }
    let id = tx.last_insert_rowid();
    let mut ins =
        tx.prepare_cached("INSERT OR IGNORE INTO ticket_tags (ticket_id, tag) VALUES (?, ?)")?;
    for tag in &tags {
        ins.execute(params![id, tag])?;
    }
    Ok(Some(id))
}

pub(crate) fn write_tags(tx: &Transaction<'_>, id: TicketId, tags: &[String]) -> Result<()> {
    tx.prepare_cached("DELETE FROM ticket_tags WHERE ticket_id = ?")?
        .execute([id])?;
    let mut ins =
        tx.prepare_cached("INSERT OR IGNORE INTO ticket_tags (ticket_id, tag) VALUES (?, ?)")?;
    for tag in tags {
        ins.execute(params![id, tag])?;
    }
    Ok(())
}

/// Field-by-field difference between a ticket and a patch: `(field, from, to)` for each real change.
fn diff(t: &Ticket, p: &TicketPatch) -> Vec<(&'static str, Value, Value)> {
    let mut out = Vec::new();
    let mut push = |name: &'static str, from: Value, to: Value| {
        if from != to {
            out.push((name, from, to));
        }
    };
    if let Some(v) = &p.title {
        push("title", json!(t.title), json!(v.trim()));
    }
    if let Some(v) = &p.description {
        push("description", json!(t.description), json!(v));
    }
    if let Some(v) = p.state {
        push("state", json!(t.state), json!(v));
    }
    if let Some(v) = p.priority {
        push("priority", json!(t.priority), json!(v));
    }
    if let Some(v) = &p.assignee {
        push("assignee", json!(t.assignee), json!(clean_opt(v.clone())));
    }
    if let Some(v) = &p.assignment_group {
        push(
            "assignment_group",
            json!(t.assignment_group),
            json!(clean_opt(v.clone())),
        );
    }
    if let Some(v) = &p.tags {
        push("tags", json!(t.tags), json!(normalize_tags(v)));
    }
    out
}

/// The upstream version a change is based on, as far as the ticket knows it.
fn upstream_version(t: &Ticket) -> Value {
    let mut m = Map::new();
    m.insert("revision".into(), json!(t.revision));
    m.insert("updated_at".into(), json!(t.updated_at));
    for k in [
        "sys_mod_count",
        "sys_updated_on",
        "updated",
        "updated_at",
        "sync_version",
    ] {
        if let Some(v) = t.extra.get(k) {
            m.insert(format!("upstream_{k}"), v.clone());
        }
    }
    Value::Object(m)
}

/// Who did something and how: stamped on every event.
#[derive(Debug, Clone)]
pub struct Actor<'a> {
    pub name: &'a str,
    pub origin: Origin,
    pub now: Millis,
}

impl Store {
    pub fn ticket(&self, id: TicketId) -> Result<TicketDetail> {
        self.read(|c| load_detail(c, id))
    }

    /// Finds a ticket by its display key (`CB-12`, `INC0010001`) or, failing that, by numeric id.
    pub fn resolve_key(&self, key_or_id: &str) -> Result<TicketId> {
        let key = key_or_id.trim();
        self.read(|c| {
            let by_key: Option<TicketId> = c
                .prepare_cached("SELECT id FROM tickets WHERE key = ? COLLATE NOCASE")?
                .query_row([key], |r| r.get(0))
                .optional()?;
            if let Some(id) = by_key {
                return Ok(id);
            }
            if let Ok(n) = key.parse::<i64>() {
                let exists: Option<TicketId> = c
                    .prepare_cached("SELECT id FROM tickets WHERE id = ?")?
                    .query_row([n], |r| r.get(0))
                    .optional()?;
                if let Some(id) = exists {
                    return Ok(id);
                }
            }
            Err(StoreError::TicketNotFound(key.to_owned()))
        })
    }

    /// Creates a ticket, records the `created` event and, for a local edit, an outbox `create`.
    pub fn create_ticket(&self, new: NewTicket, actor: &Actor<'_>) -> Result<Ticket> {
        validate_ticket_text(&new.title, &new.description)?;
        self.write(|tx| {
            let key = match &new.key {
                Some(k) if !k.trim().is_empty() => k.trim().to_owned(),
                _ => next_local_key(tx)?,
            };
            let exists: Option<i64> = tx
                .query_row("SELECT id FROM tickets WHERE key = ?", [&key], |r| r.get(0))
                .optional()?;
            if exists.is_some() {
                return Err(StoreError::Invalid(format!(
                    "a ticket with key {key} exists already"
                )));
            }
            let id = insert_ticket(tx, &new, &key, actor.now)?;
            let ticket =
                load_ticket(tx, id)?.ok_or_else(|| StoreError::TicketNotFound(key.clone()))?;
            let event_id = append_event(
                tx,
                &NewEvent {
                    ticket_id: id,
                    kind: EventKind::Created,
                    actor: actor.name,
                    at: ticket.created_at,
                    recorded_at: actor.now,
                    origin: actor.origin,
                    data: json!({ "key": key, "title": ticket.title }),
                },
            )?;
            if actor.origin.is_local_edit() {
                enqueue(
                    tx,
                    &NewOutboxOp {
                        ticket_id: id,
                        event_id,
                        target: &ticket.source,
                        op: "create",
                        payload: serde_json::to_value(&ticket)
                            .map_err(|e| StoreError::Data(e.to_string()))?,
                        base: json!({}),
                        created_at: actor.now,
                    },
                )?;
            }
            Ok(ticket)
        })
    }

    /// Applies a patch. With `expected_revision`, refuses to apply it on a ticket that changed since
    /// the caller read it. A patch that changes nothing writes nothing.
    pub fn update_ticket(
        &self,
        id: TicketId,
        expected_revision: Option<i64>,
        patch: &TicketPatch,
        actor: &Actor<'_>,
    ) -> Result<Ticket> {
        if let Some(title) = &patch.title {
            validate_ticket_text(title, "")?;
        }
        if let Some(d) = &patch.description {
            validate_ticket_text("-", d)?;
        }
        self.write(|tx| {
            let t = load_ticket(tx, id)?.ok_or_else(|| StoreError::TicketNotFound(id.to_string()))?;
            if let Some(expected) = expected_revision
                && expected != t.revision
            {
                return Err(StoreError::StaleRevision { key: t.key, expected, current: t.revision });
            }
            let changes = diff(&t, patch);
            if changes.is_empty() {
                return Ok(t);
            }
            // Tags of a ticket whose upstream cannot store them are recorded (event) but never
            // queued: an operation that could only fail would pile up in the outbox.
            let tags_local = tags_stay_local(tx, &t.source)?;
            let mut data = Map::new();
            let mut base = Map::new();
            let mut payload = Map::new();
            for (field, from, to) in &changes {
                data.insert((*field).into(), json!({ "from": from, "to": to }));
                if *field == "tags" && tags_local {
                    continue;
                }
                base.insert((*field).into(), from.clone());
                payload.insert((*field).into(), to.clone());
            }
            let new_state = patch.state.unwrap_or(t.state);
            let resolved_at = match (t.state.is_done(), new_state.is_done()) {
                (false, true) => Some(actor.now),
                (true, false) => None,
                _ => t.resolved_at,
            };
            let tags = patch.tags.as_ref().map(normalize_tags).unwrap_or_else(|| t.tags.clone());
            let assignee = patch.assignee.clone().map(clean_opt).unwrap_or_else(|| t.assignee.clone());
            let group = patch
                .assignment_group
                .clone()
                .map(clean_opt)
                .unwrap_or_else(|| t.assignment_group.clone());
            tx.prepare_cached(
                "UPDATE tickets SET title = ?, description = ?, state = ?, priority = ?, assignee = ?, \
                 assignment_group = ?, tags = ?, resolved_at = ?, updated_at = ?, revision = revision + 1 \
                 WHERE id = ?",
            )?
            .execute(params![
                patch.title.as_deref().map(str::trim).unwrap_or(&t.title),
                patch.description.as_deref().unwrap_or(&t.description),
                new_state.as_str(),
                patch.priority.unwrap_or(t.priority).rank(),
                assignee,
                group,
                tags.join(","),
                resolved_at,
                actor.now.max(t.updated_at),
                id,
            ])?;
            if patch.tags.is_some() {
                write_tags(tx, id, &tags)?;
            }
            let event_id = append_event(
                tx,
                &NewEvent {
                    ticket_id: id,
                    kind: EventKind::Updated,
                    actor: actor.name,
                    at: actor.now,
                    recorded_at: actor.now,
                    origin: actor.origin,
                    data: json!({ "changes": data }),
                },
            )?;
            if actor.origin.is_local_edit() && !payload.is_empty() {
                enqueue(
                    tx,
                    &NewOutboxOp {
                        ticket_id: id,
                        event_id,
                        target: &t.source,
                        op: "update",
                        payload: Value::Object(payload),
                        base: json!({ "fields": base, "version": upstream_version(&t) }),
                        created_at: actor.now,
                    },
                )?;
            }
            load_ticket(tx, id)?.ok_or_else(|| StoreError::TicketNotFound(id.to_string()))
        })
    }

    /// Adds a public reply or an internal work note. The first public reply by an agent sets the
    /// ticket's first-response time.
    pub fn add_comment(
        &self,
        id: TicketId,
        visibility: Visibility,
        body: &str,
        actor: &Actor<'_>,
    ) -> Result<Comment> {
        if body.trim().is_empty() {
            return Err(StoreError::Invalid("a comment needs some text".into()));
        }
        if body.len() > MAX_BODY_BYTES {
            return Err(StoreError::Invalid(format!(
                "comment is larger than {} KiB",
                MAX_BODY_BYTES / 1024
            )));
        }
        self.write(|tx| {
            let t = load_ticket(tx, id)?.ok_or_else(|| StoreError::TicketNotFound(id.to_string()))?;
            tx.prepare_cached(
                "INSERT INTO comments (ticket_id, visibility, author, body, created_at) VALUES (?,?,?,?,?)",
            )?
            .execute(params![id, visibility.as_str(), actor.name, body, actor.now])?;
            let comment_id = tx.last_insert_rowid();
            let first_response = match (visibility, t.first_response_at) {
                (Visibility::Public, None) => Some(actor.now),
                (_, existing) => existing,
            };
            tx.prepare_cached(
                "UPDATE tickets SET updated_at = ?, first_response_at = ?, revision = revision + 1 WHERE id = ?",
            )?
            .execute(params![actor.now.max(t.updated_at), first_response, id])?;
            let event_id = append_event(
                tx,
                &NewEvent {
                    ticket_id: id,
                    kind: EventKind::Commented,
                    actor: actor.name,
                    at: actor.now,
                    recorded_at: actor.now,
                    origin: actor.origin,
                    data: json!({ "comment_id": comment_id, "visibility": visibility }),
                },
            )?;
            if actor.origin.is_local_edit() {
                enqueue(
                    tx,
                    &NewOutboxOp {
                        ticket_id: id,
                        event_id,
                        target: &t.source,
                        op: "comment",
                        payload: json!({ "comment_id": comment_id, "visibility": visibility, "body": body }),
                        base: json!({ "version": upstream_version(&t) }),
                        created_at: actor.now,
                    },
                )?;
            }
            Ok(Comment {
                id: comment_id,
                ticket_id: id,
                visibility,
                author: actor.name.to_owned(),
                body: body.to_owned(),
                created_at: actor.now,
                upstream_id: None,
            })
        })
    }

    /// Total number of tickets.
    pub fn ticket_count(&self) -> Result<u64> {
        self.read(|c| {
            Ok(c.query_row("SELECT count(*) FROM tickets", [], |r| r.get::<_, i64>(0))? as u64)
        })
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT value FROM settings WHERE key = ?")?
                    .query_row([key], |r| r.get(0))
                    .optional()?,
            )
        })
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, value])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Priority, TicketState};
    use crate::store::events::{EventKind, OutboxStatus};
    use crate::store::query::{SortKey, TicketFilter, TicketPage, TicketQuery};
    use crate::store::test_support::temp_store;

    fn app(now: Millis) -> Actor<'static> {
        Actor {
            name: "ana",
            origin: Origin::App,
            now,
        }
    }

    #[test]
    fn create_assigns_local_keys_and_records_event_and_outbox() {
        let (_d, s) = temp_store();
        let mut new = NewTicket::local("  VPN drops every 10 minutes ");
        new.tags = vec!["VPN".into(), "network".into(), "vpn".into()];
        let a = s.create_ticket(new, &app(1_000)).unwrap();
        let b = s
            .create_ticket(NewTicket::local("Printer jam"), &app(2_000))
            .unwrap();
        assert_eq!((a.key.as_str(), b.key.as_str()), ("CB-1", "CB-2"));
        assert_eq!(a.title, "VPN drops every 10 minutes");
        assert_eq!(a.tags, vec!["network", "vpn"]);
        assert_eq!(a.created_at, 1_000);
        let events = s.events_for(a.id).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, EventKind::Created);
        assert_eq!(events[0].actor, "ana");
        let ops = s.outbox_open(Some(a.id)).unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(
            (ops[0].op.as_str(), ops[0].status),
            ("create", OutboxStatus::Pending)
        );
    }

    #[test]
    fn update_records_from_to_and_base_values() {
        let (_d, s) = temp_store();
        let t = s
            .create_ticket(NewTicket::local("Disk full on db-3"), &app(1_000))
            .unwrap();
        let patch = TicketPatch {
            state: Some(TicketState::Pending),
            priority: Some(Priority::High),
            assignee: Some(Some("bo".into())),
            ..Default::default()
        };
        let u = s
            .update_ticket(t.id, Some(t.revision), &patch, &app(5_000))
            .unwrap();
        assert_eq!(
            (u.state, u.priority, u.assignee.as_deref()),
            (TicketState::Pending, Priority::High, Some("bo"))
        );
        assert_eq!(u.revision, t.revision + 1);
        assert_eq!(u.updated_at, 5_000);
        let ev = s.events_for(t.id).unwrap();
        assert_eq!(
            ev[1].data["changes"]["state"],
            json!({"from": "new", "to": "pending"})
        );
        assert_eq!(ev[1].at, 5_000);
        let ops = s.outbox_open(Some(t.id)).unwrap();
        let upd = ops.iter().find(|o| o.op == "update").unwrap();
        assert_eq!(upd.payload["priority"], "high");
        assert_eq!(upd.base["fields"]["priority"], "medium");
        assert_eq!(upd.base["fields"]["assignee"], Value::Null);
    }

    #[test]
    fn a_stale_revision_is_refused_and_nothing_is_written() {
        let (_d, s) = temp_store();
        let t = s.create_ticket(NewTicket::local("x"), &app(1)).unwrap();
        let p1 = TicketPatch {
            state: Some(TicketState::Open),
            ..Default::default()
        };
        s.update_ticket(t.id, Some(t.revision), &p1, &app(2))
            .unwrap();
        let p2 = TicketPatch {
            state: Some(TicketState::Closed),
            ..Default::default()
        };
        let err = s
            .update_ticket(t.id, Some(t.revision), &p2, &app(3))
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::StaleRevision {
                    expected: 1,
                    current: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(s.ticket(t.id).unwrap().ticket.state, TicketState::Open);
        assert_eq!(s.events_for(t.id).unwrap().len(), 2);
    }

    #[test]
    fn a_no_op_patch_writes_nothing() {
        let (_d, s) = temp_store();
        let t = s.create_ticket(NewTicket::local("x"), &app(1)).unwrap();
        let same = TicketPatch {
            state: Some(TicketState::New),
            ..Default::default()
        };
        let u = s.update_ticket(t.id, None, &same, &app(2)).unwrap();
        assert_eq!(u.revision, t.revision);
        assert_eq!(s.events_for(t.id).unwrap().len(), 1);
    }

    #[test]
    fn resolving_sets_and_reopening_clears_resolved_at() {
        let (_d, s) = temp_store();
        let t = s.create_ticket(NewTicket::local("x"), &app(1)).unwrap();
        let r = s
            .update_ticket(
                t.id,
                None,
                &TicketPatch {
                    state: Some(TicketState::Resolved),
                    ..Default::default()
                },
                &app(9),
            )
            .unwrap();
        assert_eq!(r.resolved_at, Some(9));
        let o = s
            .update_ticket(
                t.id,
                None,
                &TicketPatch {
                    state: Some(TicketState::Open),
                    ..Default::default()
                },
                &app(10),
            )
            .unwrap();
        assert_eq!(o.resolved_at, None);
    }

    #[test]
    fn comments_keep_visibility_and_first_public_reply_is_first_response() {
        let (_d, s) = temp_store();
        let t = s.create_ticket(NewTicket::local("x"), &app(1)).unwrap();
        s.add_comment(t.id, Visibility::Internal, "checked the logs", &app(10))
            .unwrap();
        assert_eq!(s.ticket(t.id).unwrap().ticket.first_response_at, None);
        s.add_comment(t.id, Visibility::Public, "we are on it", &app(20))
            .unwrap();
        s.add_comment(t.id, Visibility::Public, "fixed", &app(30))
            .unwrap();
        let d = s.ticket(t.id).unwrap();
        assert_eq!(d.ticket.first_response_at, Some(20));
        let vis: Vec<_> = d.comments.iter().map(|c| c.visibility).collect();
        assert_eq!(
            vis,
            [Visibility::Internal, Visibility::Public, Visibility::Public]
        );
        assert_eq!(d.pending_ops, 4);
        let err = s
            .add_comment(t.id, Visibility::Public, "  \n", &app(40))
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)));
    }

    #[test]
    fn the_event_log_refuses_updates_and_deletes() {
        let (_d, s) = temp_store();
        let t = s.create_ticket(NewTicket::local("x"), &app(1)).unwrap();
        let err = s
            .write(|tx| Ok(tx.execute("UPDATE events SET actor = 'mallory'", [])?))
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        let err = s
            .write(|tx| Ok(tx.execute("DELETE FROM events", [])?))
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        assert_eq!(s.events_for(t.id).unwrap()[0].actor, "ana");
    }

    #[test]
    fn filters_sorts_and_text_search_agree() {
        let (_d, s) = temp_store();
        let mk = |title: &str,
                  prio: Priority,
                  state: TicketState,
                  assignee: Option<&str>,
                  tags: &[&str],
                  now: Millis| {
            let mut n = NewTicket::local(title);
            n.priority = prio;
            n.state = state;
            n.assignee = assignee.map(Into::into);
            n.tags = tags.iter().map(|t| t.to_string()).collect();
            n.created_at = Some(now);
            s.create_ticket(n, &app(now)).unwrap()
        };
        mk(
            "VPN disconnects hourly",
            Priority::High,
            TicketState::Open,
            Some("ana"),
            &["vpn"],
            10,
        );
        mk(
            "Outlook crashes on start",
            Priority::Low,
            TicketState::New,
            None,
            &["email"],
            20,
        );
        mk(
            "VPN certificate expired",
            Priority::Critical,
            TicketState::Open,
            Some("bo"),
            &["vpn", "cert"],
            30,
        );
        mk(
            "Laptop fan noise",
            Priority::Medium,
            TicketState::Closed,
            Some("ana"),
            &[],
            40,
        );

        let page = |filter: TicketFilter, sort: SortKey| {
            s.query_tickets(&TicketQuery {
                filter,
                sort,
                ..Default::default()
            })
            .unwrap()
        };
        let keys = |p: &TicketPage| p.rows.iter().map(|r| r.title.clone()).collect::<Vec<_>>();

        let all = page(TicketFilter::default(), SortKey::Created);
        assert_eq!(all.total, 4);
        assert_eq!(keys(&all)[0], "Laptop fan noise");

        let vpn = page(
            TicketFilter {
                tags: vec!["VPN".into()],
                ..Default::default()
            },
            SortKey::Priority,
        );
        assert_eq!(
            keys(&vpn),
            ["VPN certificate expired", "VPN disconnects hourly"]
        );

        let text = page(
            TicketFilter {
                text: Some("vpn cert".into()),
                ..Default::default()
            },
            SortKey::Updated,
        );
        assert_eq!(keys(&text), ["VPN certificate expired"]);

        let prefix = page(
            TicketFilter {
                text: Some("outl".into()),
                ..Default::default()
            },
            SortKey::Updated,
        );
        assert_eq!(keys(&prefix), ["Outlook crashes on start"]);

        let mine_or_nobody = page(
            TicketFilter {
                assignees: vec!["ana".into()],
                unassigned: true,
                states: vec![TicketState::Open, TicketState::New],
                ..Default::default()
            },
            SortKey::Created,
        );
        assert_eq!(
            keys(&mine_or_nobody),
            ["Outlook crashes on start", "VPN disconnects hourly"]
        );

        let counts = s
            .count_tickets(&[
                TicketFilter::default(),
                TicketFilter {
                    states: vec![TicketState::Closed],
                    ..Default::default()
                },
                TicketFilter {
                    text: Some("\"; DROP TABLE tickets; --".into()),
                    ..Default::default()
                },
            ])
            .unwrap();
        assert_eq!(counts, [4, 1, 0]);
        let reversed = s
            .query_tickets(&TicketQuery {
                sort: SortKey::Created,
                reverse: true,
                limit: 1,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(reversed.rows[0].title, "VPN disconnects hourly");
        assert_eq!(reversed.total, 4);
    }

    #[test]
    fn text_filter_follows_title_edits() {
        let (_d, s) = temp_store();
        let t = s
            .create_ticket(NewTicket::local("Printer offline"), &app(1))
            .unwrap();
        s.update_ticket(
            t.id,
            None,
            &TicketPatch {
                title: Some("Scanner offline".into()),
                ..Default::default()
            },
            &app(2),
        )
        .unwrap();
        let q = |text: &str| {
            s.count_tickets(&[TicketFilter {
                text: Some(text.into()),
                ..Default::default()
            }])
            .unwrap()[0]
        };
        assert_eq!((q("printer"), q("scanner")), (0, 1));
    }

    #[test]
    fn invalid_input_is_refused_with_a_reason() {
        let (_d, s) = temp_store();
        let err = s
            .create_ticket(NewTicket::local("   "), &app(1))
            .unwrap_err();
        assert_eq!(err.to_string(), "a ticket needs a title");
        let mut huge = NewTicket::local("x");
        huge.description = "a".repeat(MAX_BODY_BYTES + 1);
        assert!(
            s.create_ticket(huge, &app(1))
                .unwrap_err()
                .to_string()
                .contains("larger than")
        );
        assert!(matches!(
            s.ticket(999).unwrap_err(),
            StoreError::TicketNotFound(_)
        ));
        assert_eq!(s.ticket_count().unwrap(), 0);
    }
}
