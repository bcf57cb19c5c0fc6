//! Escalation packages pushed to an engineering tracker (issue 6, "Push to Jira") through the
//! outbox: one operation of kind [`ESCALATION_OP`] per push, whose payload is the already
//! redacted package; when the sync has created the issue, the source ticket gets a `related`
//! link to it and the escalation records the key and address (migration 0011).

use super::events::{EventKind, NewEvent, NewOutboxOp, append_event, enqueue};
use super::tickets::Actor;
use super::{Result, Store, StoreError};
use crate::model::{Millis, TicketId};
use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};

/// The outbox operation kind of an escalation push.
pub const ESCALATION_OP: &str = "escalation";

/// Where an escalation's push stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationPushRow {
    pub escalation_id: i64,
    pub ticket_id: TicketId,
    /// The outbox operation of the last push, if one was queued.
    pub op_id: Option<i64>,
    /// Its outbox status (`pending`, `in_flight`, `unknown`, `failed`, `done`).
    pub op_status: Option<String>,
    pub last_error: Option<String>,
    pub pushed_key: Option<String>,
    pub pushed_url: Option<String>,
    pub pushed_at: Option<Millis>,
}

impl Store {
    /// Queues the push of an escalation to `target` (a connection id) with an already redacted
    /// `payload`, records the audit entry (`audit`: kinds and counts only) and an event on the
    /// source ticket, in one transaction. Refused when the escalation was already pushed or a
    /// push of it is still waiting.
    pub fn enqueue_escalation_push(
        &self,
        escalation_id: i64,
        target: &str,
        payload: Value,
        audit: &Value,
        actor: &Actor<'_>,
    ) -> Result<i64> {
        self.write(|tx| {
            let row: Option<(TicketId, Option<String>, Option<i64>)> = tx
                .prepare_cached(
                    "SELECT ticket_id, pushed_key, push_op_id FROM escalations WHERE id = ?",
                )?
                .query_row([escalation_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let Some((ticket_id, pushed_key, op_id)) = row else {
                return Err(StoreError::Invalid(format!(
                    "escalation {escalation_id} not found"
                )));
            };
            if let Some(k) = pushed_key {
                return Err(StoreError::Invalid(format!(
                    "escalation {escalation_id} was already pushed as {k}"
                )));
            }
            if let Some(op) = op_id {
                let status: Option<String> = tx
                    .prepare_cached("SELECT status FROM outbox WHERE id = ?")?
                    .query_row([op], |r| r.get(0))
                    .optional()?;
                if status.as_deref().is_some_and(|s| s != "done") {
                    return Err(StoreError::Invalid(format!(
                        "escalation {escalation_id} is already queued to be pushed (outbox operation {op}); sync, retry or discard it"
                    )));
                }
            }
            let event_id = append_event(
                tx,
                &NewEvent {
                    ticket_id,
                    kind: EventKind::Updated,
                    actor: actor.name,
                    at: actor.now,
                    recorded_at: actor.now,
                    origin: actor.origin,
                    data: json!({ "escalation": { "id": escalation_id, "push": "queued", "connection": target } }),
                },
            )?;
            let op = enqueue(
                tx,
                &NewOutboxOp {
                    ticket_id,
                    event_id,
                    target,
                    op: ESCALATION_OP,
                    payload,
                    base: json!({}),
                    created_at: actor.now,
                },
            )?;
            tx.prepare_cached("UPDATE escalations SET push_op_id = ? WHERE id = ?")?
                .execute(params![op, escalation_id])?;
            tx.prepare_cached(
                "INSERT INTO escalation_audit (escalation_id, at, action, redaction) VALUES (?, ?, 'push_jira', ?)",
            )?
            .execute(params![escalation_id, actor.now, audit.to_string()])?;
            Ok(op)
        })
    }

    /// Records a push that went through, in one transaction: the source ticket's `related` link
    /// to the issue (`url`, titled with the key and summary), the escalation's key/url/status and
    /// the outbox operation done.
    pub fn escalation_pushed(
        &self,
        op_id: i64,
        key: &str,
        url: &str,
        summary: &str,
        now: Millis,
    ) -> Result<()> {
        self.write(|tx| {
            let (ticket_id, payload): (TicketId, String) = tx
                .prepare_cached("SELECT ticket_id, payload FROM outbox WHERE id = ? AND op = ?")?
                .query_row(params![op_id, ESCALATION_OP], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .ok_or_else(|| {
                    StoreError::Invalid(format!("no escalation outbox operation {op_id}"))
                })?;
            let payload: Value = serde_json::from_str(&payload)
                .map_err(|e| StoreError::Invalid(format!("outbox operation {op_id}: {e}")))?;
            let escalation_id = payload["escalation_id"].as_i64();
            let target = if url.is_empty() { key } else { url };
            let title: String = format!("Escalated as {key}: {summary}").chars().take(400).collect();
            let added = tx
                .prepare_cached(
                    "INSERT INTO links (ticket_id, kind, target, title) VALUES (?, 'related', ?, ?) \
                     ON CONFLICT (ticket_id, kind, target) DO NOTHING",
                )?
                .execute(params![ticket_id, target, title])?;
            if added > 0 {
                tx.prepare_cached(
                    "UPDATE tickets SET updated_at = max(updated_at, ?), revision = revision + 1 WHERE id = ?",
                )?
                .execute(params![now, ticket_id])?;
                append_event(
                    tx,
                    &NewEvent {
                        ticket_id,
                        kind: EventKind::Updated,
                        actor: super::SYNC_ACTOR,
                        at: now,
                        recorded_at: now,
                        origin: super::Origin::Sync,
                        data: json!({
                            "changes": { "link": { "from": null, "to": format!("related: {title}") } },
                            "escalation": { "id": escalation_id, "push": "created", "key": key },
                        }),
                    },
                )?;
            }
            if let Some(id) = escalation_id {
                tx.prepare_cached(
                    "UPDATE escalations SET status = 'pushed', pushed_key = ?, pushed_url = ?, \
                     pushed_at = ? WHERE id = ?",
                )?
                .execute(params![key, url, now, id])?;
            }
            tx.prepare_cached(
                "UPDATE outbox SET status = 'done', last_error = NULL, error_kind = NULL, \
                 next_attempt_at = NULL, updated_at = ? WHERE id = ?",
            )?
            .execute(params![now, op_id])?;
            Ok(())
        })
    }

    /// Where an escalation's push stands (`None`: no such escalation).
    pub fn escalation_push_state(&self, escalation_id: i64) -> Result<Option<EscalationPushRow>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT e.id, e.ticket_id, e.push_op_id, o.status, o.last_error, e.pushed_key, \
                 e.pushed_url, e.pushed_at FROM escalations e LEFT JOIN outbox o ON o.id = e.push_op_id \
                 WHERE e.id = ?",
            )?
            .query_row([escalation_id], |r| {
                Ok(EscalationPushRow {
                    escalation_id: r.get(0)?,
                    ticket_id: r.get(1)?,
                    op_id: r.get(2)?,
                    op_status: r.get(3)?,
                    last_error: r.get(4)?,
                    pushed_key: r.get(5)?,
                    pushed_url: r.get(6)?,
                    pushed_at: r.get(7)?,
                })
            })
            .optional()?)
        })
    }
}
