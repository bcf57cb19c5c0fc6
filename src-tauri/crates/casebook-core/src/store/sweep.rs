//! The deletion sweep (issue 5), with memory that does not grow with the mirror.
//!
//! The upstream lists a scope's ids a page at a time; each page is merged with the mirror's ids,
//! which are read in the same order from an index ([`sweep_order`], migration 0013) and never
//! held: a [`SweepWalk`] keeps only what the walk has found so far (the mirrored tickets not
//! listed, the marked ones listed again) and the listed ids the merge has not reached yet.
//!
//! - **Nothing is marked before the walk is complete.** [`Store::sweep_page`] only reads; the
//!   marks are written by [`Store::finish_sweep`], in one transaction with the sweep's time, after
//!   the last page. A listing that fails midway drops the walk: nothing marked, nothing restored,
//!   the sweep stays due.
//! - **Any listing order is correct; an ascending one is cheap.** The merge covers the mirror up
//!   to the smallest id of each page that it has not passed yet; listed ids above it wait in the
//!   walk until the merge reaches them (about one page of them when the upstream lists in
//!   [`sweep_order`]). An id listed after the merge passed it (a listing that is not quite
//!   ascending: a Jira issue moved into the project keeps its old id, a Zendesk ticket imported
//!   with an old creation date has a new id) is looked up by its own index entry and taken off
//!   the unlisted ones.
//! - **What the walk holds.** One ticket id (8 bytes) per mirrored ticket not listed so far: the
//!   tickets deleted upstream, few in a normal sweep. When a scope becomes unreadable as a
//!   whole, every mirrored ticket is one — as many ids as the change list the sweep's marks then
//!   produce anyway ([`Store::finish_sweep`] returns it).

use super::sync::{mark_deleted_ticket, set_sweep_mark};
use super::{Result, Store};
use crate::model::{Millis, TicketId};
use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, params};
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// The order of the sweep's walk: shorter ids first, then byte by byte. It is SQL's
/// `length(upstream_id), upstream_id` (characters, then the BINARY collation), which the
/// `sync_tickets_sweep` index serves. For decimal ids without leading zeros (Jira and Zendesk
/// ids) it is numeric order (9 before 10); for ids of one width (ServiceNow sys_ids) it is the
/// plain text order the upstream sorts by.
pub fn sweep_order(a: &str, b: &str) -> Ordering {
    a.chars()
        .count()
        .cmp(&b.chars().count())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// An upstream id ordered by [`sweep_order`] (its length in characters kept beside it).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SweepId {
    len: usize,
    id: String,
}

impl SweepId {
    fn new(id: String) -> SweepId {
        SweepId {
            len: id.chars().count(),
            id,
        }
    }
}

impl Ord for SweepId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.len
            .cmp(&other.len)
            .then_with(|| self.id.as_bytes().cmp(other.id.as_bytes()))
    }
}

impl PartialOrd for SweepId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A deletion sweep of one connection's scope in progress (see the module documentation).
#[derive(Debug)]
pub struct SweepWalk {
    connection_id: i64,
    scope: String,
    /// Every mirrored id up to this one (in [`sweep_order`]) has been merged; `None`: none yet.
    merged_to: Option<String>,
    /// Listed ids the merge has not reached yet.
    ahead: BTreeSet<SweepId>,
    /// Mirrored tickets (not marked) that no page has listed so far.
    unlisted: BTreeSet<TicketId>,
    /// Tickets marked deleted upstream that a page listed again.
    relisted: BTreeSet<TicketId>,
    /// Upstream ids seen, counting repeats.
    listed: u64,
}

/// What a complete sweep changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepOutcome {
    /// Tickets marked deleted upstream.
    pub marked: u64,
    /// Tickets whose mark was cleared (listed again).
    pub restored: u64,
    /// The local ids of both, for change events.
    pub changed_ids: Vec<TicketId>,
    /// Upstream ids the walk saw.
    pub listed: u64,
}

impl SweepWalk {
    pub fn new(connection_id: i64, scope: &str) -> SweepWalk {
        SweepWalk {
            connection_id,
            scope: scope.to_owned(),
            merged_to: None,
            ahead: BTreeSet::new(),
            unlisted: BTreeSet::new(),
            relisted: BTreeSet::new(),
            listed: 0,
        }
    }

    /// Mirrored tickets not listed so far (what a complete walk would mark).
    pub fn unlisted(&self) -> usize {
        self.unlisted.len()
    }

    /// Listed ids waiting for the merge to reach them.
    pub fn waiting(&self) -> usize {
        self.ahead.len()
    }

    /// One mirrored row met by the merge: listed or not.
    fn merged(&mut self, ticket_id: TicketId, marked: bool, listed: bool) {
        match (listed, marked) {
            (false, false) => {
                self.unlisted.insert(ticket_id);
            }
            (true, true) => {
                self.relisted.insert(ticket_id);
            }
            _ => {}
        }
    }

    /// A listed id the merge had already passed, found by its own index entry.
    fn listed_late(&mut self, ticket_id: TicketId, marked: bool) {
        self.unlisted.remove(&ticket_id);
        if marked {
            self.relisted.insert(ticket_id);
        }
    }
}

fn char_len(s: &str) -> i64 {
    s.chars().count() as i64
}

impl Store {
    /// Merges one page of upstream ids (any order; repeats are harmless) into `walk`, reading the
    /// mirror's ids through a [`StreamingReader`](super::StreamingReader). `last`: the upstream
    /// has no more pages, so the merge runs to the end of the mirror. Reads only; see
    /// [`Store::finish_sweep`].
    pub fn sweep_page(&self, walk: &mut SweepWalk, ids: Vec<String>, last: bool) -> Result<()> {
        walk.listed += ids.len() as u64;
        let merged_to = walk.merged_to.clone().map(SweepId::new);
        let mut behind = Vec::new();
        let mut low: Option<SweepId> = None;
        for id in ids {
            let id = SweepId::new(id);
            if merged_to.as_ref().is_some_and(|m| id <= *m) {
                behind.push(id.id);
                continue;
            }
            if low.as_ref().is_none_or(|l| id < *l) {
                low = Some(id.clone());
            }
            walk.ahead.insert(id);
        }
        // Up to the page's smallest new id (everything when the listing is over): below it,
        // whatever a later page lists is looked up by itself.
        let to = if last { None } else { low };
        if behind.is_empty() && !last && to.is_none() {
            return Ok(());
        }
        let reader = self.streaming_reader()?;
        reader.read(|c| {
            for id in &behind {
                if let Some((ticket_id, marked)) = mirrored(c, walk, id)? {
                    walk.listed_late(ticket_id, marked);
                }
            }
            if last || to.is_some() {
                merge(c, walk, to)?;
            }
            Ok(())
        })
    }

    /// Applies a complete walk in one transaction: marks the mirrored tickets it never listed
    /// (kept, never dropped: they may hold unsynced edits), clears the mark of those it listed
    /// again, and records the sweep at `now` (see [`Store::last_sweep_at`]). A ticket whose
    /// state changed since it was merged (marked or restored meanwhile, or gone) is left as it
    /// is.
    pub fn finish_sweep(&self, walk: SweepWalk, now: Millis) -> Result<SweepOutcome> {
        let SweepWalk {
            connection_id,
            scope,
            unlisted,
            relisted,
            listed,
            ..
        } = walk;
        self.write(|tx| {
            set_sweep_mark(tx, connection_id, &scope, now)?;
            let mut out = SweepOutcome {
                listed,
                ..SweepOutcome::default()
            };
            for ticket_id in unlisted {
                if mark_deleted_ticket(tx, connection_id, &scope, ticket_id, now)? {
                    out.marked += 1;
                    out.changed_ids.push(ticket_id);
                }
            }
            for ticket_id in relisted {
                let cleared = tx
                    .prepare_cached(
                        "UPDATE sync_tickets SET deleted_upstream_at = NULL \
                         WHERE ticket_id = ? AND connection_id = ? AND scope = ? \
                         AND deleted_upstream_at IS NOT NULL RETURNING ticket_id",
                    )?
                    .query_row(params![ticket_id, connection_id, scope], |r| {
                        r.get::<_, TicketId>(0)
                    })
                    .optional()?;
                if cleared.is_some() {
                    out.restored += 1;
                    out.changed_ids.push(ticket_id);
                }
            }
            Ok(out)
        })
    }
}

/// A mirrored ticket of the walk's scope by its upstream id: (ticket id, marked deleted).
fn mirrored(
    c: &Connection,
    walk: &SweepWalk,
    upstream_id: &str,
) -> Result<Option<(TicketId, bool)>> {
    Ok(c.prepare_cached(
        "SELECT ticket_id, deleted_upstream_at IS NOT NULL FROM sync_tickets \
         WHERE connection_id = ? AND upstream_id = ? AND scope = ?",
    )?
    .query_row(params![walk.connection_id, upstream_id, walk.scope], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()?)
}

/// The next id length above `len` among a scope's mirrored ids.
fn next_length(c: &Connection, connection_id: i64, scope: &str, len: i64) -> Result<Option<i64>> {
    Ok(c.prepare_cached(
        "SELECT length(upstream_id) FROM sync_tickets WHERE connection_id = ? AND scope = ? \
         AND length(upstream_id) > ? ORDER BY length(upstream_id) LIMIT 1",
    )?
    .query_row(params![connection_id, scope, len], |r| r.get(0))
    .optional()?)
}

/// Merges the mirror's ids after `walk.merged_to` up to `to` (inclusive; `None`: to the end)
/// with the listed ids waiting in `walk.ahead`, one id length at a time so that every query is a
/// range of the `sync_tickets_sweep` index read in order (rows are streamed, not collected).
fn merge(c: &Connection, walk: &mut SweepWalk, to: Option<SweepId>) -> Result<()> {
    let connection_id = walk.connection_id;
    let scope = walk.scope.clone();
    let mut after = walk.merged_to.clone();
    let mut len = match &after {
        Some(a) => Some(char_len(a)),
        None => next_length(c, connection_id, &scope, -1)?,
    };
    while let Some(l) = len {
        if to.as_ref().is_some_and(|t| l > t.len as i64) {
            break;
        }
        let upto = to.as_ref().filter(|t| t.len as i64 == l).map(|t| &t.id);
        let mut sql = String::from(
            "SELECT upstream_id, ticket_id, deleted_upstream_at IS NOT NULL FROM sync_tickets \
             WHERE connection_id = ? AND scope = ? AND length(upstream_id) = ?",
        );
        let mut args: Vec<&dyn ToSql> = vec![&connection_id, &scope, &l];
        if let Some(a) = &after {
            sql.push_str(" AND upstream_id > ?");
            args.push(a);
        }
        if let Some(u) = &upto {
            sql.push_str(" AND upstream_id <= ?");
            args.push(u);
        }
        sql.push_str(" ORDER BY upstream_id");
        let mut stmt = c.prepare_cached(&sql)?;
        let mut rows = stmt.query(args.as_slice())?;
        while let Some(r) = rows.next()? {
            let key = SweepId::new(r.get(0)?);
            let (ticket_id, marked): (TicketId, bool) = (r.get(1)?, r.get(2)?);
            // Waiting ids below this row match no mirrored ticket (created upstream since the
            // last pull).
            while walk.ahead.first().is_some_and(|f| *f < key) {
                walk.ahead.pop_first();
            }
            let listed = walk.ahead.first() == Some(&key);
            if listed {
                walk.ahead.pop_first();
            }
            walk.merged(ticket_id, marked, listed);
        }
        if upto.is_some() {
            break;
        }
        len = next_length(c, connection_id, &scope, l)?;
        after = None;
    }
    match to {
        Some(t) => {
            // Waiting ids up to `to` that no mirrored row matched are not mirrored.
            let mut rest = walk.ahead.split_off(&t);
            rest.remove(&t);
            walk.ahead = rest;
            walk.merged_to = Some(t.id);
        }
        None => walk.ahead.clear(),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{Priority, TicketState};
    use crate::store::test_support::temp_store;
    use crate::store::{PulledTicket, Store};
    use proptest::prelude::*;
    use serde_json::json;
    use std::collections::{BTreeMap, HashSet};

    const CONN: i64 = 7;

    fn ticket(scope: &str, uid: &str) -> PulledTicket {
        PulledTicket {
            upstream_id: uid.into(),
            key: format!("{scope}-{uid}"),
            scope: scope.into(),
            version: "v1".into(),
            version_updated_at: 1_000,
            created_at: 500,
            first_response_at: None,
            resolved_at: None,
            title: format!("ticket {uid}"),
            description: String::new(),
            state: TicketState::Open,
            state_raw: None,
            priority: Priority::Medium,
            priority_raw: None,
            assignee: None,
            assignment_group: None,
            requester: None,
            organization: None,
            tags: vec![],
            url: None,
            extra: json!({}),
            comments: vec![],
        }
    }

    /// A store mirroring `uids` in `scope` of connection [`CONN`].
    fn mirror(scope: &str, uids: &[String]) -> (tempfile::TempDir, Store) {
        let (d, s) = temp_store();
        s.write(|tx| {
            for id in [CONN, CONN + 1] {
                tx.execute(
                    "INSERT INTO connections (id, vendor, name, base_url, auth_method, username, \
                     created_at, updated_at) VALUES (?, 'jira', ?, 'https://x.example', 'basic', \
                     'u', 0, 0)",
                    params![id, format!("c{id}")],
                )?;
            }
            Ok(())
        })
        .unwrap();
        add(&s, CONN, scope, uids);
        (d, s)
    }

    fn add(s: &Store, conn: i64, scope: &str, uids: &[String]) {
        for chunk in uids.chunks(500) {
            let rows: Vec<PulledTicket> = chunk.iter().map(|u| ticket(scope, u)).collect();
            s.apply_pulled_page(conn, scope, &rows, &[], "c", 1)
                .unwrap();
        }
    }

    /// Upstream id → (local id, marked deleted upstream), for one connection's scope.
    fn state(s: &Store, conn: i64, scope: &str) -> BTreeMap<String, (TicketId, bool)> {
        s.read(|c| {
            let mut st = c.prepare(
                "SELECT upstream_id, ticket_id, deleted_upstream_at IS NOT NULL FROM sync_tickets \
                 WHERE connection_id = ? AND scope = ?",
            )?;
            let rows = st
                .query_map(params![conn, scope], |r| {
                    Ok((r.get(0)?, (r.get(1)?, r.get(2)?)))
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .unwrap()
    }

    fn marked(s: &Store, scope: &str) -> Vec<String> {
        state(s, CONN, scope)
            .into_iter()
            .filter(|(_, (_, m))| *m)
            .map(|(u, _)| u)
            .collect()
    }

    /// Walks `pages` (the last one ends the listing) and applies the sweep.
    fn sweep(s: &Store, scope: &str, pages: &[Vec<String>], now: Millis) -> SweepOutcome {
        let mut walk = SweepWalk::new(CONN, scope);
        for (i, p) in pages.iter().enumerate() {
            s.sweep_page(&mut walk, p.clone(), i + 1 == pages.len())
                .unwrap();
        }
        s.finish_sweep(walk, now).unwrap()
    }

    fn ids(range: impl IntoIterator<Item = u32>) -> Vec<String> {
        range.into_iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn the_order_is_numeric_for_decimal_ids_and_text_for_ids_of_one_width() {
        assert_eq!(sweep_order("9", "10"), Ordering::Less);
        assert_eq!(sweep_order("10", "9"), Ordering::Greater);
        assert_eq!(sweep_order("99", "100"), Ordering::Less);
        assert_eq!(sweep_order("10001", "10001"), Ordering::Equal);
        let (a, b) = (
            "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            "0a1b2c3d4e5f60718293a4b5c6d7e8fa",
        );
        assert_eq!(sweep_order(a, b), a.cmp(b));
        let mut v = ids([10, 9, 100, 1, 11, 2]);
        v.sort_by(|a, b| sweep_order(a, b));
        assert_eq!(v, ids([1, 2, 9, 10, 11, 100]));
    }

    /// SQLite's order of the index matches `sweep_order` (the merge relies on both agreeing).
    #[test]
    fn the_index_orders_ids_as_sweep_order_does() {
        let mut uids = ids([1, 9, 10, 11, 99, 100, 101, 1000, 20, 2]);
        uids.push("é1".into()); // two characters, three bytes
        uids.push("z".into());
        let (_d, s) = mirror("HD", &uids);
        let walked: Vec<String> = s
            .read(|c| {
                let mut st = c.prepare(
                    "SELECT upstream_id FROM sync_tickets WHERE connection_id = 7 AND scope = 'HD' \
                     ORDER BY length(upstream_id), upstream_id",
                )?;
                let v = st
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(v)
            })
            .unwrap();
        let mut expected = uids.clone();
        expected.sort_by(|a, b| sweep_order(a, b));
        assert_eq!(walked, expected);
    }

    #[test]
    fn the_merge_reads_the_sweep_index_in_order_without_sorting() {
        let (_d, s) = mirror("HD", &ids(1..=3));
        let plans: Vec<String> = s
            .read(|c| {
                let mut out = Vec::new();
                for sql in [
                    "SELECT upstream_id, ticket_id, deleted_upstream_at IS NOT NULL FROM sync_tickets \
                     WHERE connection_id = ? AND scope = ? AND length(upstream_id) = ? \
                     AND upstream_id > ? AND upstream_id <= ? ORDER BY upstream_id",
                    "SELECT length(upstream_id) FROM sync_tickets WHERE connection_id = ? \
                     AND scope = ? AND length(upstream_id) > ? ORDER BY length(upstream_id) LIMIT 1",
                ] {
                    let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                    let n = st.parameter_count();
                    let args: Vec<Box<dyn ToSql>> = (0..n)
                        .map(|i| -> Box<dyn ToSql> {
                            if i < 1 { Box::new(7) } else if i == 1 { Box::new("HD") } else { Box::new(1) }
                        })
                        .collect();
                    let refs: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
                    let detail: Vec<String> = st
                        .query_map(refs.as_slice(), |r| r.get::<_, String>(3))?
                        .collect::<rusqlite::Result<_>>()?;
                    out.push(detail.join(" / "));
                }
                Ok(out)
            })
            .unwrap();
        for p in &plans {
            assert!(p.contains("USING COVERING INDEX sync_tickets_sweep"), "{p}");
            assert!(!p.contains("TEMP B-TREE"), "{p}");
        }
    }

    /// 1,000 mirrored ids over pages of 64: the ones missing at the start, in the middle, at
    /// the end and on both sides of page boundaries are marked, exactly those; one marked
    /// before and listed again is restored; another scope and another connection are left
    /// alone; a listed id the mirror lacks changes nothing.
    #[test]
    fn a_walk_over_many_pages_marks_exactly_the_missing_ids() {
        let all = ids(1..=1000);
        let (_d, s) = mirror("HD", &all);
        add(&s, CONN, "OPS", &ids(5001..=5050));
        add(&s, CONN + 1, "HD", &ids(2001..=2050));
        // Marked by an earlier sweep; listed again now.
        s.write(|tx| {
            tx.execute(
                "UPDATE sync_tickets SET deleted_upstream_at = 1 WHERE connection_id = 7 \
                 AND scope = 'HD' AND upstream_id = '500'",
                [],
            )?;
            Ok(())
        })
        .unwrap();
        // Upstream ids are unique per connection: the other scope's are 5001..=5050.
        // 64 is the last id of the first page, 65 the first of the second.
        let gone: HashSet<String> = ids([1, 2, 64, 65, 128, 129, 333, 640, 999, 1000])
            .into_iter()
            .collect();
        let mut listed: Vec<String> = all.iter().filter(|u| !gone.contains(*u)).cloned().collect();
        listed.push("1001".into()); // created upstream since the last pull
        let pages: Vec<Vec<String>> = listed.chunks(64).map(<[String]>::to_vec).collect();
        assert!(pages.len() > 10);
        let before_other = (state(&s, CONN, "OPS"), state(&s, CONN + 1, "HD"));
        let out = sweep(&s, "HD", &pages, 5);
        assert_eq!((out.marked, out.restored), (10, 1));
        assert_eq!(out.listed, listed.len() as u64);
        let mut expected: Vec<String> = gone.into_iter().collect();
        expected.sort();
        assert_eq!(marked(&s, "HD"), expected);
        assert_eq!(out.changed_ids.len(), 11);
        assert_eq!(s.last_sweep_at(CONN, "HD").unwrap(), Some(5));
        assert_eq!(
            (state(&s, CONN, "OPS"), state(&s, CONN + 1, "HD")),
            before_other
        );
        assert_eq!(
            s.ticket_count().unwrap(),
            1000 + 50 + 50,
            "marked, never dropped"
        );
        // Nothing changed upstream: a second sweep changes nothing.
        let again = sweep(&s, "HD", &pages, 6);
        assert_eq!((again.marked, again.restored), (0, 0));
    }

    /// With the upstream listing in the walk's order, the walk holds about one page of listed
    /// ids and only the missing tickets, however large the mirror.
    #[test]
    fn an_ascending_listing_keeps_one_page_of_ids_and_the_missing_ones() {
        let all = ids(1..=3000);
        let (_d, s) = mirror("HD", &all);
        let listed: Vec<String> = all.iter().filter(|u| !u.ends_with("77")).cloned().collect();
        let mut walk = SweepWalk::new(CONN, "HD");
        let pages: Vec<&[String]> = listed.chunks(100).collect();
        let mut most_waiting = 0;
        for (i, p) in pages.iter().enumerate() {
            s.sweep_page(&mut walk, p.to_vec(), i + 1 == pages.len())
                .unwrap();
            most_waiting = most_waiting.max(walk.waiting());
            assert!(walk.unlisted() <= 30, "{}", walk.unlisted());
        }
        assert!(most_waiting <= 100, "{most_waiting}");
        assert_eq!(walk.unlisted(), 30);
        assert_eq!(s.finish_sweep(walk, 2).unwrap().marked, 30);
    }

    /// A listing that is not in the walk's order (Jira lists a moved issue by its new key, a
    /// Zendesk ticket imported with an old date comes early) still marks exactly the missing
    /// ids: an id listed after the merge passed it is looked up and taken off the unlisted.
    #[test]
    fn ids_listed_out_of_order_are_still_seen() {
        let all = ids(1..=400);
        let (_d, s) = mirror("HD", &all);
        let mut listed: Vec<String> = all
            .iter()
            .filter(|u| *u != "7" && *u != "300")
            .cloned()
            .collect();
        // 399 listed first (far ahead), 5 and 150 listed last (long behind).
        listed.retain(|u| u != "399" && u != "5" && u != "150");
        listed.insert(0, "399".into());
        listed.push("150".into());
        listed.push("5".into());
        let pages: Vec<Vec<String>> = listed.chunks(50).map(<[String]>::to_vec).collect();
        let out = sweep(&s, "HD", &pages, 3);
        assert_eq!(marked(&s, "HD"), ids([300, 7]));
        assert_eq!(out.marked, 2);
    }

    #[test]
    fn a_walk_that_never_finishes_marks_nothing() {
        let all = ids(1..=300);
        let (_d, s) = mirror("HD", &all);
        let mut walk = SweepWalk::new(CONN, "HD");
        s.sweep_page(&mut walk, ids(10..=100), false).unwrap();
        s.sweep_page(&mut walk, ids(150..=200), false).unwrap();
        assert!(walk.unlisted() > 0, "the walk found missing ids so far");
        drop(walk); // the listing failed: the engine drops the walk
        assert!(marked(&s, "HD").is_empty());
        assert_eq!(s.last_sweep_at(CONN, "HD").unwrap(), None);
    }

    /// A ticket marked (by a push that found it gone) or dropped between the walk and its end is
    /// not counted twice; an empty listing marks every mirrored ticket of the scope.
    #[test]
    fn the_marks_follow_the_store_as_it_is_when_the_walk_ends() {
        let (_d, s) = mirror("HD", &ids(1..=5));
        let mut walk = SweepWalk::new(CONN, "HD");
        s.sweep_page(&mut walk, ids([1, 2]), true).unwrap();
        s.mark_deleted_upstream(CONN, "4", 2).unwrap();
        let out = s.finish_sweep(walk, 3).unwrap();
        assert_eq!(out.marked, 2, "3 and 5; 4 was marked meanwhile");
        assert_eq!(marked(&s, "HD"), ids([3, 4, 5]));
        let out = sweep(&s, "HD", &[vec![]], 4);
        assert_eq!(out.marked, 2);
        assert_eq!(marked(&s, "HD").len(), 5);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Any mirror, any listing (ids dropped, added, repeated, pages of any size, any order
        /// within and across pages): the sweep marks exactly the mirrored ids not listed and
        /// restores exactly the marked ones listed.
        #[test]
        fn the_walk_agrees_with_a_set_difference(
            mirrored in proptest::collection::btree_set(1u32..3000, 1..250),
            keep in proptest::collection::vec(any::<u8>(), 250),
            extra in proptest::collection::btree_set(1u32..3000, 0..20),
            page in 1usize..80,
            disorder in 0u8..3,
            seed in any::<u64>(),
        ) {
            let mirrored: Vec<u32> = mirrored.into_iter().collect();
            let uids: Vec<String> = mirrored.iter().map(u32::to_string).collect();
            let (_d, s) = mirror("HD", &uids);
            // A third of the mirror was marked by an earlier sweep.
            let pre: Vec<&String> = uids.iter().enumerate().filter(|(i, _)| keep[*i] % 3 == 0).map(|(_, u)| u).collect();
            for u in &pre {
                s.mark_deleted_upstream(CONN, u, 1).unwrap();
            }
            let mut listed: Vec<String> = uids.iter().enumerate().filter(|(i, _)| keep[*i] % 4 != 1).map(|(_, u)| u.clone()).collect();
            listed.extend(extra.iter().map(u32::to_string));
            listed.sort_by(|a, b| sweep_order(a, b));
            listed.dedup();
            let oracle_listed: HashSet<String> = listed.iter().cloned().collect();
            // Repeats and disorder.
            let mut rng = seed;
            let mut next = || { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; rng };
            match disorder {
                0 => {}
                1 => for i in (1..listed.len()).rev() { let j = (next() % (i as u64 + 1)) as usize; listed.swap(i, j); },
                _ => for _ in 0..(listed.len() / 8) {
                    if listed.len() > 1 { let (i, j) = ((next() % listed.len() as u64) as usize, (next() % listed.len() as u64) as usize); listed.swap(i, j); }
                    if let Some(u) = listed.get((next() % (listed.len().max(1) as u64)) as usize).cloned() { listed.push(u); }
                },
            }
            let mut pages: Vec<Vec<String>> = listed.chunks(page).map(<[String]>::to_vec).collect();
            if pages.is_empty() { pages.push(vec![]); }
            let before = state(&s, CONN, "HD");
            sweep(&s, "HD", &pages, 9);
            let after = state(&s, CONN, "HD");
            for (u, (_, was)) in &before {
                let expected = !oracle_listed.contains(u);
                prop_assert_eq!(after[u].1, expected, "{} was marked {} listed {}", u, was, !expected);
            }
        }
    }
}
