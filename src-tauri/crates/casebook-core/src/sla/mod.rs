//! Service levels: business-hours calendars, SLA policies and the engine that replays a ticket's
//! event log against them. See `docs/sla.md` for the rules and the defaults.

mod cache;
mod calendar;
mod engine;
mod facts;
mod format;
mod notify;
mod policy;
mod risk;
mod storage;
#[cfg(test)]
mod tests;

pub use cache::FactsCache;
pub use calendar::{Calendar, CompiledCalendar, Day, Holiday, WorkingHours};
pub use engine::{
    PausedInterval, RiskKey, TargetKind, TargetState, TargetStatus, TicketSla, Timeline,
    UpstreamSla, compute, compute_quiet, compute_with, risk_key, risk_order,
};
pub(crate) use facts::record_event;
pub use facts::{
    Change, ChangeKind, TicketFacts, UpstreamCycle, upstream_cycle, upstream_resolution_sla,
};
pub use format::{duration as format_duration, time as format_time};
pub use notify::{DEFAULT_NOTIFY_BEFORE_MINUTES, MAX_NOTIFY_BEFORE_MINUTES, Notice, due_notices};
pub use policy::{
    ANY_SOURCE, CALENDAR_24X7, CALENDAR_BUSINESS, CompiledConfig, MAX_TARGET_MINUTES, SlaConfig,
    SlaPolicy,
};
pub use risk::{RECOMPUTE_ALL_EVERY, RiskCache, risk_instant, risk_value};

use crate::store::StoreError;

/// Why a calendar or policy was refused, or SLA data could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SlaError {
    #[error("calendar '{name}': {reason}")]
    Calendar { name: String, reason: String },
    #[error("policy {policy}: {reason}")]
    Policy { policy: String, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}
