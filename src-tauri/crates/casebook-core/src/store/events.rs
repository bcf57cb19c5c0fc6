//! The append-only event log and the outbox.

use super::{Result, Store};
use crate::model::{Millis, TicketId};
use rusqlite::{Transaction, params};
use serde::{Deserialize, Serialize};

/// What kind of change an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Created,
    Updated,
    Commented,
}

impl EventKind {
    fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Updated => "updated",
            EventKind::Commented => "commented",
        }
    }

    fn parse(s: &str) -> Option<EventKind> {
        Some(match s {
            "created" => EventKind::Created,
            "updated" => EventKind::Updated,
            "commented" => EventKind::Commented,
            _ => return None,
        })
    }
}

/// Where a change came from. Events from the UI or the CLI are local edits and go to the outbox;
/// imported history does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    App,
    Cli,
    Import,
    /// Pulled from (or settled with) an upstream by the sync engine.
    Sync,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::App => "app",
            Origin::Cli => "cli",
            Origin::Import => "import",
            Origin::Sync => "sync",
        }
    }

    fn parse(s: &str) -> Option<Origin> {
        Some(match s {
            "app" => Origin::App,
            "cli" => Origin::Cli,
            "import" => Origin::Import,
            "sync" => Origin::Sync,
            _ => return None,
        })
    }

    /// Whether a change from this origin is a local edit that must reach the upstream.
    pub fn is_local_edit(self) -> bool {
        matches!(self, Origin::App | Origin::Cli)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    pub ticket_id: TicketId,
    pub kind: EventKind,
    pub actor: String,
    /// When the action happened (not when it was synced or recorded).
    pub at: Millis,
    pub recorded_at: Millis,
    pub origin: Origin,
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    Pending,
    InFlight,
    Unknown,
    Conflict,
    Failed,
    Done,
}

impl OutboxStatus {
    fn parse(s: &str) -> Option<OutboxStatus> {
        Some(match s {
            "pending" => OutboxStatus::Pending,
            "in_flight" => OutboxStatus::InFlight,
            "unknown" => OutboxStatus::Unknown,
            "conflict" => OutboxStatus::Conflict,
            "failed" => OutboxStatus::Failed,
            "done" => OutboxStatus::Done,
            _ => return None,
        })
    }
}

/// A local change waiting to be pushed to the ticket's upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxOp {
    pub id: i64,
    pub ticket_id: TicketId,
    pub event_id: i64,
    /// The ticket's source at the time of the edit (`local` or a connection id).
    pub target: String,
    /// `create`, `update` or `comment`.
    pub op: String,
    pub payload: serde_json::Value,
    /// Field values (and upstream version) the change was made on.
    pub base: serde_json::Value,
    pub status: OutboxStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: Millis,
}

pub(crate) fn parse_outbox_status(s: &str) -> Option<OutboxStatus> {
    OutboxStatus::parse(s)
}

pub(crate) struct NewEvent<'a> {
    pub ticket_id: TicketId,
    pub kind: EventKind,
    pub actor: &'a str,
    pub at: Millis,
    pub recorded_at: Millis,
    pub origin: Origin,
    pub data: serde_json::Value,
}

pub(crate) fn append_event(tx: &Transaction<'_>, e: &NewEvent<'_>) -> Result<i64> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO events (ticket_id, kind, actor, at, recorded_at, origin, data) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )?;
    stmt.execute(params![
        e.ticket_id,
        e.kind.as_str(),
        e.actor,
        e.at,
        e.recorded_at,
        e.origin.as_str(),
        e.data.to_string()
    ])?;
    let id = tx.last_insert_rowid();
    // The SLA's compact copy of what it reads from this event (migration 0009).
    crate::sla::record_event(tx, id, e.ticket_id, e.kind.as_str(), e.actor, e.at, &e.data)?;
    Ok(id)
}

pub(crate) struct NewOutboxOp<'a> {
    pub ticket_id: TicketId,
    pub event_id: i64,
    pub target: &'a str,
    pub op: &'a str,
    pub payload: serde_json::Value,
    pub base: serde_json::Value,
    pub created_at: Millis,
}

pub(crate) fn enqueue(tx: &Transaction<'_>, op: &NewOutboxOp<'_>) -> Result<i64> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO outbox (ticket_id, event_id, target, op, payload, base, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )?;
    stmt.execute(params![
        op.ticket_id,
        op.event_id,
        op.target,
        op.op,
        op.payload.to_string(),
        op.base.to_string(),
        op.created_at
    ])?;
    Ok(tx.last_insert_rowid())
}

fn json_col(r: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<serde_json::Value> {
    let s: String = r.get(idx)?;
    serde_json::from_str(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn bad_value(idx: usize, what: &str, value: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        rusqlite::types::Type::Text,
        format!("unknown {what} '{value}'").into(),
    )
}

impl Store {
    /// A ticket's history, oldest first.
    pub fn events_for(&self, ticket_id: TicketId) -> Result<Vec<Event>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, ticket_id, kind, actor, at, recorded_at, origin, data FROM events \
                 WHERE ticket_id = ? ORDER BY at, id",
            )?;
            let rows = stmt
                .query_map([ticket_id], |r| {
                    let kind: String = r.get(2)?;
                    let origin: String = r.get(6)?;
                    Ok(Event {
                        id: r.get(0)?,
                        ticket_id: r.get(1)?,
                        kind: EventKind::parse(&kind).ok_or_else(|| bad_value(2, "event", kind))?,
                        actor: r.get(3)?,
                        at: r.get(4)?,
                        recorded_at: r.get(5)?,
                        origin: Origin::parse(&origin)
                            .ok_or_else(|| bad_value(6, "origin", origin))?,
                        data: json_col(r, 7)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Outbox operations not yet done, in replay order (per ticket, oldest first).
    pub fn outbox_open(&self, ticket_id: Option<TicketId>) -> Result<Vec<OutboxOp>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, ticket_id, event_id, target, op, payload, base, status, attempts, \
                 last_error, created_at FROM outbox \
                 WHERE status != 'done' AND (?1 IS NULL OR ticket_id = ?1) ORDER BY id",
            )?;
            let rows = stmt
                .query_map([ticket_id], |r| {
                    let status: String = r.get(7)?;
                    Ok(OutboxOp {
                        id: r.get(0)?,
                        ticket_id: r.get(1)?,
                        event_id: r.get(2)?,
                        target: r.get(3)?,
                        op: r.get(4)?,
                        payload: json_col(r, 5)?,
                        base: json_col(r, 6)?,
                        status: OutboxStatus::parse(&status)
                            .ok_or_else(|| bad_value(7, "outbox status", status))?,
                        attempts: r.get(8)?,
                        last_error: r.get(9)?,
                        created_at: r.get(10)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Number of outbox operations not yet done.
    pub fn outbox_pending_count(&self) -> Result<u64> {
        self.read(|c| {
            let n: i64 = c.query_row(
                "SELECT count(*) FROM outbox WHERE status != 'done'",
                [],
                |r| r.get(0),
            )?;
            Ok(n as u64)
        })
    }
}
