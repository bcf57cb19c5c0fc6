//! SLA policies: targets per source and priority, measured in a calendar's business time.

use super::SlaError;
use super::calendar::{Calendar, CompiledCalendar};
use crate::model::{Priority, TicketState};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Matches tickets of any source.
pub const ANY_SOURCE: &str = "*";
/// The built-in around-the-clock calendar.
pub const CALENDAR_24X7: &str = "24x7";
/// The built-in office-hours calendar (Monday–Friday 09:00–17:00 UTC until edited).
pub const CALENDAR_BUSINESS: &str = "business";

/// Longest target accepted: a year of business time. Anything longer is a typo, not a promise.
pub const MAX_TARGET_MINUTES: i64 = 365 * 24 * 60;

/// Targets for tickets of one source (or `*`) and priority. Targets are minutes of the calendar's
/// business time; `None` means the policy sets no such target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct SlaPolicy {
    /// A source (`local`, a connection id) or `*` for any.
    pub source: String,
    pub priority: Priority,
    /// Name of the calendar the targets are measured in.
    pub calendar: String,
    /// Until the first public reply by an agent.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub first_response_minutes: Option<i64>,
    /// Between public updates once the first response was given, while the ticket is open.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub next_update_minutes: Option<i64>,
    /// Until the ticket is resolved.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub resolution_minutes: Option<i64>,
    /// States in which the clocks stop (waiting on the customer, on hold).
    pub pause_states: Vec<TicketState>,
}

impl SlaPolicy {
    pub fn validate(&self) -> Result<(), SlaError> {
        let bad = |reason: String| SlaError::Policy {
            policy: format!("{}/{}", self.source, self.priority),
            reason,
        };
        if self.source.trim().is_empty() {
            return Err(bad("the source is empty (use * for any source)".into()));
        }
        let targets = [
            ("first response", self.first_response_minutes),
            ("next update", self.next_update_minutes),
            ("resolution", self.resolution_minutes),
        ];
        for (what, t) in targets {
            match t {
                Some(m) if m <= 0 => {
                    return Err(bad(format!(
                        "the {what} target must be positive (got {m} minutes)"
                    )));
                }
                Some(m) if m > MAX_TARGET_MINUTES => {
                    return Err(bad(format!(
                        "the {what} target of {m} minutes is more than a year of business time"
                    )));
                }
                _ => {}
            }
        }
        if targets.iter().all(|(_, t)| t.is_none()) {
            return Err(bad("sets no target".into()));
        }
        if let (Some(fr), Some(res)) = (self.first_response_minutes, self.resolution_minutes)
            && fr > res
        {
            return Err(bad(format!(
                "the first response target ({fr} min) is longer than the resolution target ({res} min)"
            )));
        }
        for s in &self.pause_states {
            if !matches!(s, TicketState::Pending | TicketState::OnHold) {
                return Err(bad(format!(
                    "only pending and on_hold can pause the clock, not {s}"
                )));
            }
        }
        Ok(())
    }
}

/// All calendars and policies of a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct SlaConfig {
    pub calendars: Vec<Calendar>,
    pub policies: Vec<SlaPolicy>,
}

impl SlaConfig {
    /// The built-in defaults, following common service-desk practice:
    ///
    /// | priority | calendar | first response | next update | resolution |
    /// |---|---|---|---|---|
    /// | critical (P1/Sev1) | 24x7 | 15 min | every 30 min | 4 h |
    /// | high (P2) | 24x7 | 1 h | every 2 h | 8 h |
    /// | medium (P3) | business | 4 business h | every business day (8 h) | 3 business days (24 h) |
    /// | low (P4) | business | 1 business day (8 h) | every 3 business days | 5 business days (40 h) |
    ///
    /// `business` is Monday–Friday 09:00–17:00 UTC (edit its zone and holidays for your desk).
    /// Every policy pauses while the ticket is pending (waiting on the customer) or on hold.
    pub fn defaults() -> SlaConfig {
        let p = |priority, calendar: &str, fr, nu, res| SlaPolicy {
            source: ANY_SOURCE.into(),
            priority,
            calendar: calendar.into(),
            first_response_minutes: Some(fr),
            next_update_minutes: Some(nu),
            resolution_minutes: Some(res),
            pause_states: vec![TicketState::Pending, TicketState::OnHold],
        };
        SlaConfig {
            calendars: vec![
                Calendar::always(CALENDAR_24X7),
                Calendar::office(CALENDAR_BUSINESS, "UTC"),
            ],
            policies: vec![
                p(Priority::Critical, CALENDAR_24X7, 15, 30, 4 * 60),
                p(Priority::High, CALENDAR_24X7, 60, 2 * 60, 8 * 60),
                p(Priority::Medium, CALENDAR_BUSINESS, 4 * 60, 8 * 60, 24 * 60),
                p(Priority::Low, CALENDAR_BUSINESS, 8 * 60, 24 * 60, 40 * 60),
            ],
        }
    }

    /// The defaults with `stored` calendars and policies laid over them (same calendar name or
    /// same source and priority replaces the default).
    pub fn merged(stored: SlaConfig) -> SlaConfig {
        let mut out = SlaConfig::defaults();
        for c in stored.calendars {
            match out.calendars.iter_mut().find(|d| d.name == c.name) {
                Some(d) => *d = c,
                None => out.calendars.push(c),
            }
        }
        for p in stored.policies {
            match out
                .policies
                .iter_mut()
                .find(|d| d.source == p.source && d.priority == p.priority)
            {
                Some(d) => *d = p,
                None => out.policies.push(p),
            }
        }
        out
    }

    /// Validates everything and prepares it for the engine.
    pub fn compile(&self) -> Result<CompiledConfig, SlaError> {
        let mut calendars = Vec::with_capacity(self.calendars.len());
        let mut by_name = HashMap::new();
        for c in &self.calendars {
            if by_name.contains_key(&c.name) {
                return Err(SlaError::Invalid(format!(
                    "two calendars are named '{}'",
                    c.name
                )));
            }
            by_name.insert(c.name.clone(), calendars.len());
            calendars.push(c.compile()?);
        }
        let mut policies: Vec<(SlaPolicy, usize)> = Vec::new();
        let mut by_source: HashMap<String, [Option<usize>; 4]> = HashMap::new();
        for p in &self.policies {
            p.validate()?;
            let cal = *by_name.get(&p.calendar).ok_or_else(|| SlaError::Policy {
                policy: format!("{}/{}", p.source, p.priority),
                reason: format!("calendar '{}' does not exist", p.calendar),
            })?;
            let slot = &mut by_source.entry(p.source.clone()).or_default()[rank_index(p.priority)];
            if slot.is_some() {
                return Err(SlaError::Invalid(format!(
                    "two policies for source {} and priority {}",
                    p.source, p.priority
                )));
            }
            *slot = Some(policies.len());
            policies.push((p.clone(), cal));
        }
        Ok(CompiledConfig {
            calendars,
            policies,
            by_source,
        })
    }
}

/// A validated configuration: policies looked up by source and priority.
#[derive(Debug, Clone)]
pub struct CompiledConfig {
    pub(crate) calendars: Vec<CompiledCalendar>,
    pub(crate) policies: Vec<(SlaPolicy, usize)>,
    by_source: HashMap<String, [Option<usize>; 4]>,
}

fn rank_index(p: Priority) -> usize {
    (p.rank() - 1).clamp(0, 3) as usize
}

impl CompiledConfig {
    /// The policy for a ticket: the one for its source, else the one for any source.
    pub fn policy_for(&self, source: &str, priority: Priority) -> Option<(&SlaPolicy, usize)> {
        let idx = self.policy_index(source, priority)?;
        self.policies.get(idx).map(|(p, c)| (p, *c))
    }

    pub(crate) fn policy_index(&self, source: &str, priority: Priority) -> Option<usize> {
        let i = rank_index(priority);
        self.by_source
            .get(source)
            .and_then(|s| s[i])
            .or_else(|| self.by_source.get(ANY_SOURCE).and_then(|s| s[i]))
    }
}
