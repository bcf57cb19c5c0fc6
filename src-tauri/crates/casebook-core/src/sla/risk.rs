//! The queue's "time to breach" order: one number per ticket, smaller is more urgent, that the
//! queue index sorts by ([`crate::store::SortKey::Risk`]).
//!
//! A ticket's value is the instant its earliest open target breached or falls due (both are
//! instants: a breach in the past, a due time in the future), then paused tickets by business
//! time left, then tickets with no running target. The value does not move while time passes:
//! a running target's due time stays put while its clock runs (business time used and left
//! trade one for one), and when it passes, the breach instant is that same due time. So values
//! are recomputed only for tickets whose history changed, when the policies change, and (as a
//! safety net for changes dated in the future) every [`RECOMPUTE_ALL_EVERY`].

use super::SlaError;
use super::cache::FactsCache;
use super::engine::{RiskKey, Timeline, compute_quiet, risk_key};
use super::policy::SlaConfig;
use crate::model::{Millis, TicketId};
use crate::store::NO_RISK;

/// Paused tickets sort after every instant (instants stay far below this: 2^61 ms is 73 million
/// years) and before tickets with no running target.
const PAUSED_BASE: i64 = 1 << 61;

/// Everything is recomputed at least this often.
pub const RECOMPUTE_ALL_EVERY: Millis = 10 * 60_000;

/// The sort value of a risk key (see the module documentation).
pub fn risk_value(k: Option<RiskKey>) -> i64 {
    match k {
        Some(RiskKey::Breached(t) | RiskKey::Due(t)) => t.clamp(-PAUSED_BASE, PAUSED_BASE - 1),
        Some(RiskKey::Paused(left)) => PAUSED_BASE.saturating_add(left.max(0)).min(NO_RISK - 1),
        None => NO_RISK,
    }
}

/// The instant a value stands for, when it is one (breached or due, not paused or none).
pub fn risk_instant(v: i64) -> Option<Millis> {
    (v < PAUSED_BASE).then_some(v)
}

/// Risk values of every ticket, kept beside a [`FactsCache`] (same positions).
#[derive(Debug, Default)]
pub struct RiskCache {
    values: Vec<i64>,
    /// The facts stamp these values were computed up to.
    seen: u64,
    config: Option<SlaConfig>,
    computed_at: Millis,
    /// Values computed so far (for tests and the benchmark).
    pub computed: u64,
}

impl RiskCache {
    pub fn new() -> RiskCache {
        RiskCache::default()
    }

    /// Brings the values up to date with `facts` (refreshed by the caller) and `config` at `now`.
    pub fn update(
        &mut self,
        facts: &FactsCache,
        config: &SlaConfig,
        now: Millis,
    ) -> Result<(), SlaError> {
        let all = self.config.as_ref() != Some(config)
            || now < self.computed_at
            || now - self.computed_at >= RECOMPUTE_ALL_EVERY;
        if !all && facts.stamp() == self.seen && self.values.len() == facts.facts().len() {
            return Ok(());
        }
        let mut cfg = config.clone().compile()?;
        self.values.resize(facts.facts().len(), NO_RISK);
        for (i, f) in facts.facts().iter().enumerate() {
            if all || facts.stamp_at(i) > self.seen {
                let tl = Timeline::build(f, now);
                self.values[i] = risk_value(risk_key(&compute_quiet(f, &tl, &mut cfg, now)));
                self.computed += 1;
            }
        }
        self.seen = facts.stamp();
        if all {
            self.config = Some(config.clone());
            self.computed_at = now;
        }
        Ok(())
    }

    /// A ticket's value ([`NO_RISK`] when unknown).
    pub fn value(&self, facts: &FactsCache, id: TicketId) -> i64 {
        facts
            .position(id)
            .and_then(|i| self.values.get(i))
            .copied()
            .unwrap_or(NO_RISK)
    }

    /// Positions (in `facts`) of the tickets whose value is at most `v`.
    pub fn at_most(&self, v: i64) -> impl Iterator<Item = usize> + '_ {
        self.values
            .iter()
            .enumerate()
            .filter(move |(_, x)| **x <= v)
            .map(|(i, _)| i)
    }
}
