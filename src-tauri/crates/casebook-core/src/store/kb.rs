//! Knowledge-base bookkeeping in the store: the runbook folders (the index itself is derived and
//! lives outside the database), linking a knowledge-base result to a ticket, and the list of past
//! cases the index must hold.

use super::events::{EventKind, NewEvent, append_event};
use super::tickets::{Actor, TicketDetail, load_detail, load_ticket};
use super::{Result, Store, StoreError, StreamingReader};
use crate::model::{LinkKind, Millis, TicketId};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A runbook folder added to the knowledge base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KbSourceRow {
    pub id: i64,
    pub path: String,
    pub added_at: Millis,
    pub last_scan_at: Option<Millis>,
    pub files_seen: i64,
    /// JSON array of `{path, reason}` from the last scan.
    pub skipped: serde_json::Value,
}

/// Longest link target or title accepted.
const MAX_LINK_TEXT: usize = 2_000;

impl Store {
    pub fn kb_sources(&self) -> Result<Vec<KbSourceRow>> {
        self.read(|c| {
            let rows = c
                .prepare_cached(
                    "SELECT id, path, added_at, last_scan_at, files_seen, skipped FROM kb_sources ORDER BY id",
                )?
                .query_map([], |r| {
                    let skipped: String = r.get(5)?;
                    Ok(KbSourceRow {
                        id: r.get(0)?,
                        path: r.get(1)?,
                        added_at: r.get(2)?,
                        last_scan_at: r.get(3)?,
                        files_seen: r.get(4)?,
                        skipped: serde_json::from_str(&skipped).unwrap_or(json!([])),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Adds a folder (by its canonical path). Adding the same folder twice returns the existing row.
    pub fn kb_add_source(&self, path: &str, now: Millis) -> Result<KbSourceRow> {
        if path.trim().is_empty() || path.len() > 4_096 {
            return Err(StoreError::Invalid("a folder path is needed".into()));
        }
        let id = self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO kb_sources (path, added_at) VALUES (?, ?) ON CONFLICT (path) DO NOTHING",
            )?
            .execute(params![path, now])?;
            Ok(tx.query_row("SELECT id FROM kb_sources WHERE path = ?", [path], |r| {
                r.get::<_, i64>(0)
            })?)
        })?;
        self.kb_sources()?
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| StoreError::Invalid(format!("knowledge-base folder {id} vanished")))
    }

    /// Removes a folder; `false` when there was none with that id.
    pub fn kb_remove_source(&self, id: i64) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM kb_sources WHERE id = ?", [id])? > 0))
    }

    /// Records what a scan of a folder found.
    pub fn kb_record_scan(
        &self,
        id: i64,
        now: Millis,
        files_seen: i64,
        skipped: &serde_json::Value,
    ) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE kb_sources SET last_scan_at = ?, files_seen = ?, skipped = ? WHERE id = ?",
            )?
            .execute(params![now, files_seen, skipped.to_string(), id])?;
            Ok(())
        })
    }

    /// Links a ticket to something it relates to (a past case's key, a runbook or article id).
    /// Linking twice is a no-op. Recorded in the ticket's history; local only (not pushed
    /// upstream). Returns `false` when the link existed already.
    pub fn add_link(
        &self,
        ticket_id: TicketId,
        kind: LinkKind,
        target: &str,
        title: Option<&str>,
        actor: &Actor<'_>,
    ) -> Result<bool> {
        let target = target.trim();
        if target.is_empty() || target.len() > MAX_LINK_TEXT {
            return Err(StoreError::Invalid(format!(
                "a link target must have 1 to {MAX_LINK_TEXT} characters"
            )));
        }
        let title = title.map(str::trim).filter(|t| !t.is_empty());
        if title.is_some_and(|t| t.len() > MAX_LINK_TEXT) {
            return Err(StoreError::Invalid("the link title is too long".into()));
        }
        self.write(|tx| {
            let t = load_ticket(tx, ticket_id)?
                .ok_or_else(|| StoreError::TicketNotFound(ticket_id.to_string()))?;
            let existing: Option<i64> = tx
                .prepare_cached(
                    "SELECT id FROM links WHERE ticket_id = ? AND kind = ? AND target = ?",
                )?
                .query_row(params![ticket_id, kind.as_str(), target], |r| r.get(0))
                .optional()?;
            if existing.is_some() {
                return Ok(false);
            }
            tx.prepare_cached(
                "INSERT INTO links (ticket_id, kind, target, title) VALUES (?, ?, ?, ?)",
            )?
            .execute(params![ticket_id, kind.as_str(), target, title])?;
            tx.prepare_cached(
                "UPDATE tickets SET updated_at = ?, revision = revision + 1 WHERE id = ?",
            )?
            .execute(params![actor.now.max(t.updated_at), ticket_id])?;
            append_event(
                tx,
                &NewEvent {
                    ticket_id,
                    kind: EventKind::Updated,
                    actor: actor.name,
                    at: actor.now,
                    recorded_at: actor.now,
                    origin: actor.origin,
                    data: json!({ "changes": { "link": {
                        "from": null,
                        "to": format!("{}: {}", kind.as_str(), title.unwrap_or(target)),
                    } } }),
                },
            )?;
            Ok(true)
        })
    }
}

impl StreamingReader<'_> {
    /// `(id, revision)` of the resolved or closed tickets (the past cases the index must hold)
    /// with ids from `from` on, in id order, at most `limit` of them: one batch of a walk over
    /// every past case (the next batch starts after the last id returned).
    pub fn done_ticket_revisions(
        &self,
        from: TicketId,
        limit: usize,
    ) -> Result<Vec<(TicketId, i64)>> {
        self.read(|c| {
            let rows = c
                .prepare_cached(
                    "SELECT id, revision FROM tickets WHERE id >= ? AND state IN ('resolved','closed') \
                     ORDER BY id LIMIT ?",
                )?
                .query_map(params![from, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// The highest ticket id (0 without tickets): how far a walk in id order has to go.
    pub fn max_ticket_id(&self) -> Result<TicketId> {
        self.read(
            |c| Ok(c.query_row("SELECT coalesce(max(id), 0) FROM tickets", [], |r| r.get(0))?),
        )
    }

    /// A ticket with its comments, links and attachments (as [`Store::ticket`]).
    pub fn ticket(&self, id: TicketId) -> Result<TicketDetail> {
        self.read(|c| load_detail(c, id))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::temp_store;
    use super::*;
    use crate::model::{NewTicket, TicketPatch, TicketState};
    use crate::store::Origin;

    fn actor() -> Actor<'static> {
        Actor {
            name: "amy",
            origin: Origin::App,
            now: 1_000,
        }
    }

    #[test]
    fn sources_are_added_once_listed_scanned_and_removed() {
        let (_d, store) = temp_store();
        let a = store.kb_add_source("/srv/runbooks", 5).unwrap();
        let again = store.kb_add_source("/srv/runbooks", 9).unwrap();
        assert_eq!(a.id, again.id);
        assert_eq!(again.added_at, 5);
        store
            .kb_record_scan(
                a.id,
                10,
                3,
                &json!([{"path": "x.md", "reason": "binary file"}]),
            )
            .unwrap();
        let rows = store.kb_sources().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].files_seen, rows[0].last_scan_at), (3, Some(10)));
        assert_eq!(rows[0].skipped[0]["reason"], "binary file");
        assert!(store.kb_add_source("  ", 1).is_err());
        assert!(store.kb_remove_source(a.id).unwrap());
        assert!(!store.kb_remove_source(a.id).unwrap());
        assert!(store.kb_sources().unwrap().is_empty());
    }

    #[test]
    fn links_are_recorded_once_with_history() {
        let (_d, store) = temp_store();
        let t = store
            .create_ticket(NewTicket::local("vpn down"), &actor())
            .unwrap();
        assert!(
            store
                .add_link(
                    t.id,
                    LinkKind::KnownIssue,
                    "INC001",
                    Some("VPN outage"),
                    &actor()
                )
                .unwrap()
        );
        assert!(
            !store
                .add_link(t.id, LinkKind::KnownIssue, "INC001", None, &actor())
                .unwrap()
        );
        let d = store.ticket(t.id).unwrap();
        assert_eq!(d.links.len(), 1);
        assert_eq!(d.links[0].kind, LinkKind::KnownIssue);
        assert_eq!(d.ticket.revision, t.revision + 1);
        let ev = store.events_for(t.id).unwrap();
        assert!(ev.last().unwrap().data.to_string().contains("VPN outage"));
        assert!(
            store
                .add_link(t.id, LinkKind::Related, " ", None, &actor())
                .is_err()
        );
        assert!(matches!(
            store.add_link(999, LinkKind::Related, "x", None, &actor()),
            Err(StoreError::TicketNotFound(_))
        ));
    }

    #[test]
    fn done_tickets_are_listed_with_revisions_in_batches_by_id() {
        let (_d, store) = temp_store();
        let resolve = TicketPatch {
            state: Some(TicketState::Resolved),
            ..Default::default()
        };
        let close = TicketPatch {
            state: Some(TicketState::Closed),
            ..Default::default()
        };
        let mut done = Vec::new();
        for i in 0..7 {
            let t = store
                .create_ticket(NewTicket::local(format!("t{i}")), &actor())
                .unwrap();
            // Every other ticket is done, resolved or closed; the others stay open.
            let patch = match i % 4 {
                0 => &resolve,
                2 => &close,
                _ => continue,
            };
            let t = store.update_ticket(t.id, None, patch, &actor()).unwrap();
            done.push((t.id, t.revision));
        }
        let r = store.streaming_reader().unwrap();
        assert_eq!(r.done_ticket_revisions(i64::MIN, 100).unwrap(), done);
        // Two per batch: each batch starts after the last id of the one before.
        let first = r.done_ticket_revisions(i64::MIN, 2).unwrap();
        assert_eq!(first, done[..2]);
        let second = r.done_ticket_revisions(first[1].0 + 1, 2).unwrap();
        assert_eq!(second, done[2..]);
        assert!(
            r.done_ticket_revisions(done[3].0 + 1, 2)
                .unwrap()
                .is_empty()
        );
        assert_eq!(r.max_ticket_id().unwrap(), 7);
        assert_eq!(r.ticket(done[1].0).unwrap().ticket.title, "t2");
        assert!(matches!(r.ticket(99), Err(StoreError::TicketNotFound(_))));
    }

    #[test]
    fn a_streaming_reader_maps_nothing_and_keeps_a_small_cache() {
        let (_d, store) = temp_store();
        let r = store.streaming_reader().unwrap();
        let pragma = |name: &str| -> i64 {
            r.read(|c| Ok(c.query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))?))
                .unwrap()
        };
        assert_eq!(pragma("mmap_size"), 0);
        assert_eq!(pragma("cache_size"), -super::super::STREAMING_CACHE_KIB);
        // The pooled readers keep their map (the queue's reads need it).
        let pooled: i64 = store
            .read(|c| Ok(c.query_row("PRAGMA mmap_size", [], |row| row.get(0))?))
            .unwrap();
        assert_eq!(pooled, 268_435_456);
    }
}
