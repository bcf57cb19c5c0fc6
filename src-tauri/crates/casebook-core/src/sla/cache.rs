//! Keeps the SLA facts of every ticket in memory between reports and queue orderings, and brings
//! them up to date from the event log.
//!
//! The event log is append-only and every ticket change writes an event, so the log's highest id
//! is a watermark: tickets with events above it are re-read, the others are kept. As a safety
//! net the number of tickets and the sum of their revisions must match what the cache holds
//! after the refresh; when they do not (a change that wrote no event), everything is re-read.

use super::facts::{TicketFacts, load};
use crate::model::TicketId;
use crate::store::{Result, Store};
use std::collections::HashMap;

/// Re-reading more tickets than this one by one is slower than one pass over everything.
const MAX_INCREMENTAL: usize = 2_000;

#[derive(Debug, Default)]
pub struct FactsCache {
    watermark: i64,
    facts: Vec<TicketFacts>,
    index: HashMap<TicketId, usize>,
    /// `stamps[i]`: the refresh that last (re)read `facts[i]` (see [`FactsCache::stamp`]).
    stamps: Vec<u64>,
    stamp: u64,
    /// Full reloads and incremental refreshes so far (for tests and the benchmark).
    pub full_loads: u64,
    pub incremental: u64,
}

impl FactsCache {
    pub fn new() -> FactsCache {
        FactsCache::default()
    }

    /// The facts held (as of the last refresh).
    pub fn facts(&self) -> &[TicketFacts] {
        &self.facts
    }

    /// Where a ticket's facts are in [`FactsCache::facts`].
    pub fn position(&self, id: TicketId) -> Option<usize> {
        self.index.get(&id).copied()
    }

    /// A counter that grows with every refresh that re-read something; facts re-read by it carry
    /// it (see [`FactsCache::stamp_at`]), so a consumer that remembers the stamp it has seen knows
    /// what to recompute.
    pub fn stamp(&self) -> u64 {
        self.stamp
    }

    /// The stamp of the refresh that last read `facts()[i]` (0 when out of range).
    pub fn stamp_at(&self, i: usize) -> u64 {
        self.stamps.get(i).copied().unwrap_or(0)
    }

    /// The facts of every ticket, current as of this call.
    pub fn refresh(&mut self, store: &Store) -> Result<&[TicketFacts]> {
        store.read(|c| {
            let (max_id, count, revisions): (i64, i64, i64) = c.query_row(
                "SELECT (SELECT coalesce(max(id), 0) FROM events), \
                 (SELECT count(*) FROM tickets), (SELECT coalesce(sum(revision), 0) FROM tickets)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let held = |f: &FactsCache| -> (i64, i64) {
                (
                    f.facts.len() as i64,
                    f.facts.iter().map(|x| x.revision).sum::<i64>(),
                )
            };
            if self.full_loads > 0 && max_id == self.watermark && held(self) == (count, revisions) {
                return Ok(());
            }
            let changed: Vec<TicketId> = if self.full_loads == 0 || max_id < self.watermark {
                Vec::new()
            } else {
                c.prepare_cached("SELECT DISTINCT ticket_id FROM events WHERE id > ? LIMIT ?")?
                    .query_map([self.watermark, MAX_INCREMENTAL as i64 + 1], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            };
            let incremental =
                self.full_loads > 0 && max_id >= self.watermark && changed.len() <= MAX_INCREMENTAL;
            if incremental {
                if !changed.is_empty() {
                    self.stamp += 1;
                }
                for id in changed {
                    let fresh = load(c, Some(id))?.into_iter().next();
                    match (self.index.get(&id).copied(), fresh) {
                        (Some(i), Some(f)) => {
                            self.facts[i] = f;
                            self.stamps[i] = self.stamp;
                        }
                        (None, Some(f)) => {
                            self.index.insert(id, self.facts.len());
                            self.facts.push(f);
                            self.stamps.push(self.stamp);
                        }
                        // An event for a ticket that no longer exists: the check below reloads.
                        (_, None) => {}
                    }
                }
                self.incremental += 1;
            }
            if !incremental || held(self) != (count, revisions) {
                self.facts = load(c, None)?;
                self.stamp += 1;
                self.stamps = vec![self.stamp; self.facts.len()];
                self.index = self
                    .facts
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.id, i))
                    .collect();
                self.full_loads += 1;
            }
            self.watermark = max_id;
            Ok(())
        })?;
        Ok(&self.facts)
    }
}
