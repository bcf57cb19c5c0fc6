//! The SLA engine: a pure function from a ticket's history, the policies and `now` to the state of
//! each target. No clock is read here; the same inputs always give the same result.
//!
//! Rules (documented in docs/sla.md):
//! - The policy is the one for the ticket's source and its priority **at `now`**, applied from the
//!   ticket's creation (retroactively), so a priority change re-targets the ticket while the
//!   paused time it accumulated is kept (pauses come from the state history, whatever the
//!   priority).
//! - Clocks run in the policy calendar's business time, except while the ticket is in one of the
//!   policy's pause states or is resolved/closed.
//! - First response: from creation to the first public reply by an agent (or the first
//!   resolution, whichever comes first).
//! - Next update: after each public agent reply, the next one is due within the cadence while
//!   the ticket is open; every late cycle counts as a miss.
//! - Resolution: from creation to the final resolution; a reopened ticket's clock resumes where
//!   it stopped.
//! - A target is met when its business time used is at most the target.

use super::calendar::CompiledCalendar;
use super::facts::{ChangeKind, TicketFacts};
use super::format::{duration, time};
use super::policy::CompiledConfig;
use crate::model::{Millis, Priority, TicketId, TicketState};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    FirstResponse,
    NextUpdate,
    Resolution,
}

impl TargetKind {
    pub fn label(self) -> &'static str {
        match self {
            TargetKind::FirstResponse => "first response",
            TargetKind::NextUpdate => "next update",
            TargetKind::Resolution => "resolution",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum TargetState {
    /// The clock is running and the target is not yet missed.
    Running,
    /// The clock is stopped while the ticket waits (pending, on hold).
    Paused,
    /// Done within the target.
    Met,
    /// The target was missed (the clock may still be running).
    Breached,
}

/// One target of one ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct TargetStatus {
    pub kind: TargetKind,
    pub state: TargetState,
    /// The target, in business time (ms).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub target_ms: i64,
    /// When the clock started (creation, or the last public reply for the next update).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub started_at: Millis,
    /// When the target was fulfilled (the reply, the resolution); `None` while it runs.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub stopped_at: Option<Millis>,
    /// Business time used (ms), pauses excluded.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub elapsed_ms: i64,
    /// Business time left (ms); negative once breached.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub remaining_ms: i64,
    /// When the target falls due if the clock keeps running (`None` while paused or stopped).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub due_at: Option<Millis>,
    /// When the target was missed.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub breached_at: Option<Millis>,
    /// Next update: cycles answered late (including the current one when overdue).
    pub missed: u32,
    pub explanation: String,
}

/// A stretch of time in a pause state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct PausedInterval {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub from: Millis,
    /// `None`: still paused.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub to: Option<Millis>,
    pub state: TicketState,
}

/// What the upstream says about the SLA, beside the local result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct UpstreamSla {
    /// Where the upstream verdict comes from (`made_sla`, `jira: time to resolution`,
    /// `servicenow: task_sla`, `zendesk: sla policy metric`).
    pub field: String,
    pub made_sla: bool,
    /// The local verdict for the same question (resolution target not breached).
    pub local_made_sla: bool,
    pub agrees: bool,
}

/// The SLA of one ticket at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct TicketSla {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub ticket_id: TicketId,
    pub key: String,
    pub priority: Priority,
    /// `source/priority` of the policy applied, `None` when no policy matches.
    pub policy: Option<String>,
    pub calendar: Option<String>,
    pub targets: Vec<TargetStatus>,
    pub paused: Vec<PausedInterval>,
    /// Wall-clock time spent paused (ms).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub paused_ms: i64,
    pub paused_now: bool,
    /// The earliest due time among running targets that are not yet breached.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub next_due_at: Option<Millis>,
    pub breached: bool,
    pub upstream: Option<UpstreamSla>,
    /// One line for a person: the most urgent target and the pauses.
    pub summary: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub computed_at: Millis,
}

impl TicketSla {
    pub fn target(&self, kind: TargetKind) -> Option<&TargetStatus> {
        self.targets.iter().find(|t| t.kind == kind)
    }
}

/// The state history of a ticket up to a moment: who was in which state when.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    /// Consecutive `[from, to)` stretches in one state, from creation to `as_of`.
    pub segments: Vec<(Millis, Millis, TicketState)>,
    pub state_now: TicketState,
    pub priority_now: Priority,
    /// Public agent replies (and the upstream first response when the log has none).
    pub replies: Vec<Millis>,
    /// The first time the ticket became resolved or closed.
    pub first_done_at: Option<Millis>,
    /// The start of the current resolved/closed stretch, when the ticket is done now.
    pub resolved_at: Option<Millis>,
    /// Times the ticket went from done back to open.
    pub reopens: u32,
}

impl Timeline {
    /// Replays `facts` up to `as_of` (changes after it are ignored).
    pub fn build(f: &TicketFacts, as_of: Millis) -> Timeline {
        let mut segments = Vec::new();
        let mut state = f.initial_state;
        let mut priority = f.initial_priority;
        let mut seg_start = f.created_at;
        let mut replies = Vec::new();
        let mut first_done_at = state.is_done().then_some(f.created_at);
        let mut done_since = first_done_at;
        let mut reopens = 0;
        for c in &f.changes {
            if c.at > as_of {
                break;
            }
            let at = c.at.max(f.created_at);
            match c.kind {
                ChangeKind::State(s) if s != state => {
                    if at > seg_start {
                        segments.push((seg_start, at, state));
                        seg_start = at;
                    }
                    match (state.is_done(), s.is_done()) {
                        (false, true) => {
                            first_done_at.get_or_insert(at);
                            done_since = Some(at);
                        }
                        (true, false) => {
                            reopens += 1;
                            done_since = None;
                        }
                        _ => {}
                    }
                    state = s;
                }
                ChangeKind::State(_) => {}
                ChangeKind::Priority(p) => priority = p,
                ChangeKind::PublicReply => replies.push(at),
            }
        }
        if as_of > seg_start {
            segments.push((seg_start, as_of, state));
        }
        if let Some(fr) = f.first_response_at
            && fr <= as_of
            && replies.first().is_none_or(|&r| fr < r)
        {
            replies.insert(0, fr.max(f.created_at));
        }
        Timeline {
            segments,
            state_now: state,
            priority_now: priority,
            replies,
            first_done_at,
            resolved_at: done_since,
            reopens,
        }
    }
}

struct Measure {
    elapsed: Millis,
    breached_at: Option<Millis>,
}

/// Business time the clock ran inside `[start, end)` and when it passed `target`.
fn measure(
    cal: &mut CompiledCalendar,
    running: &[(Millis, Millis)],
    start: Millis,
    end: Millis,
    target: Millis,
) -> Measure {
    let mut elapsed = 0;
    let mut breached_at = None;
    let from = running.partition_point(|r| r.1 <= start);
    for &(a, b) in &running[from..] {
        let a = a.max(start);
        let b = b.min(end);
        if a >= end {
            break;
        }
        if b <= a {
            continue;
        }
        let w = cal.working_between(a, b);
        if breached_at.is_none() && elapsed + w > target {
            breached_at = cal.add_working(a, target - elapsed);
        }
        elapsed += w;
    }
    Measure {
        elapsed,
        breached_at,
    }
}

fn pause_reason(s: TicketState) -> &'static str {
    match s {
        TicketState::Pending => "waiting on the customer",
        TicketState::OnHold => "on hold",
        _ => "paused",
    }
}

/// Computes the SLA of one ticket at `now`.
pub fn compute(f: &TicketFacts, cfg: &mut CompiledConfig, now: Millis) -> TicketSla {
    let tl = Timeline::build(f, now);
    compute_with(f, &tl, cfg, now)
}

/// [`compute`] with a timeline already built (reports build it once for several uses).
pub fn compute_with(
    f: &TicketFacts,
    tl: &Timeline,
    cfg: &mut CompiledConfig,
    now: Millis,
) -> TicketSla {
    compute_inner(f, tl, cfg, now, true)
}

/// [`compute_with`] without the text (explanations and summary empty, policy and calendar names
/// `None`): the same numbers and states, for bulk work (reports, ordering the whole queue) where
/// no one reads the text.
pub fn compute_quiet(
    f: &TicketFacts,
    tl: &Timeline,
    cfg: &mut CompiledConfig,
    now: Millis,
) -> TicketSla {
    compute_inner(f, tl, cfg, now, false)
}

fn compute_inner(
    f: &TicketFacts,
    tl: &Timeline,
    cfg: &mut CompiledConfig,
    now: Millis,
    explain_it: bool,
) -> TicketSla {
    let mut out = TicketSla {
        ticket_id: f.id,
        key: f.key.clone(),
        priority: tl.priority_now,
        policy: None,
        calendar: None,
        targets: Vec::new(),
        paused: Vec::new(),
        paused_ms: 0,
        paused_now: false,
        next_due_at: None,
        breached: false,
        upstream: None,
        summary: String::new(),
        computed_at: now,
    };
    let Some(pidx) = cfg.policy_index(&f.source, tl.priority_now) else {
        out.summary = format!(
            "no SLA policy for source {} and priority {}",
            f.source, tl.priority_now
        );
        return out;
    };
    let Some((policy, cal_idx)) = cfg.policies.get(pidx) else {
        return out;
    };
    let Some(cal) = cfg.calendars.get_mut(*cal_idx) else {
        return out;
    };
    if explain_it {
        out.policy = Some(format!("{}/{}", policy.source, policy.priority));
        out.calendar = Some(cal.name().to_owned());
    }
    if now < f.created_at {
        out.summary = "the ticket did not exist yet".into();
        return out;
    }
    let paused_state = |s: TicketState| policy.pause_states.contains(&s);

    // Pauses (merged when one pause state follows another) and the stretches the clock runs.
    let mut running: Vec<(Millis, Millis)> = Vec::new();
    for &(a, b, s) in &tl.segments {
        if paused_state(s) {
            match out.paused.last_mut() {
                Some(p) if p.to == Some(a) && p.state == s => p.to = Some(b),
                _ => out.paused.push(PausedInterval {
                    from: a,
                    to: Some(b),
                    state: s,
                }),
            }
            out.paused_ms += b - a;
        } else if !s.is_done() {
            match running.last_mut() {
                Some(r) if r.1 == a => r.1 = b,
                _ => running.push((a, b)),
            }
        }
    }
    out.paused_now = paused_state(tl.state_now);
    if out.paused_now
        && let Some(p) = out.paused.last_mut()
    {
        p.to = None;
    }
    let done_now = tl.state_now.is_done();
    let running_now = !out.paused_now && !done_now;

    let finish = |kind: TargetKind,
                  target_min: i64,
                  started_at: Millis,
                  stopped_at: Option<Millis>,
                  m: Measure,
                  missed: u32,
                  cal: &mut CompiledCalendar| {
        let target_ms = target_min * 60_000;
        let breached = m.elapsed > target_ms || missed > 0;
        let state = match (stopped_at.is_some(), breached) {
            (_, true) => TargetState::Breached,
            (true, false) => TargetState::Met,
            (false, false) if running_now => TargetState::Running,
            (false, false) => TargetState::Paused,
        };
        let remaining = target_ms - m.elapsed;
        let due_at = match state {
            TargetState::Running => cal.add_working(now, remaining),
            _ => None,
        };
        TargetStatus {
            kind,
            state,
            target_ms,
            started_at,
            stopped_at,
            elapsed_ms: m.elapsed,
            remaining_ms: remaining,
            due_at,
            breached_at: m.breached_at,
            missed,
            explanation: String::new(),
        }
    };

    if let Some(min) = policy.first_response_minutes {
        let stop = match (tl.replies.first(), tl.first_done_at) {
            (Some(&r), Some(d)) => Some(r.min(d)),
            (r, d) => r.copied().or(d),
        };
        let m = measure(
            cal,
            &running,
            f.created_at,
            stop.unwrap_or(now),
            min * 60_000,
        );
        out.targets.push(finish(
            TargetKind::FirstResponse,
            min,
            f.created_at,
            stop,
            m,
            0,
            cal,
        ));
    }
    if let (Some(min), Some(_)) = (policy.next_update_minutes, tl.replies.first()) {
        let cadence = min * 60_000;
        let mut missed = 0;
        let mut current = None;
        for (i, &r) in tl.replies.iter().enumerate() {
            let next = tl.replies.get(i + 1).copied();
            let end = match next {
                Some(n) => n,
                None => tl.resolved_at.map_or(now, |d| d.max(r)),
            };
            let m = measure(cal, &running, r, end, cadence);
            if m.elapsed > cadence {
                missed += 1;
            }
            if next.is_none() {
                current = Some((r, m));
            }
        }
        if let Some((r, m)) = current {
            // The miss count covers every cycle; the current one's own state comes from `m`.
            let late_before = missed - u32::from(m.elapsed > cadence);
            let stopped = tl.resolved_at.map(|d| d.max(r));
            let mut st = finish(TargetKind::NextUpdate, min, r, stopped, m, 0, cal);
            st.missed = missed;
            if st.state == TargetState::Met && late_before > 0 {
                st.state = TargetState::Breached;
            }
            out.targets.push(st);
        }
    }
    if let Some(min) = policy.resolution_minutes {
        let stop = tl.resolved_at;
        let m = measure(
            cal,
            &running,
            f.created_at,
            stop.unwrap_or(now),
            min * 60_000,
        );
        out.targets.push(finish(
            TargetKind::Resolution,
            min,
            f.created_at,
            stop,
            m,
            0,
            cal,
        ));
    }

    if explain_it {
        let paused_clause = paused_clause(&out.paused, out.paused_now);
        for t in &mut out.targets {
            t.explanation = explain(t, &paused_clause, out.paused_now, tl.state_now);
        }
    }
    out.breached = out.targets.iter().any(|t| t.state == TargetState::Breached);
    out.next_due_at = out.targets.iter().filter_map(|t| t.due_at).min();
    if let Some(made) = f.upstream_made_sla {
        // A running upstream cycle past its own due time is breached by the upstream's rules too.
        let made = made && !(f.upstream_running && f.upstream_breach_at.is_some_and(|b| b <= now));
        let local = out
            .target(TargetKind::Resolution)
            .is_none_or(|t| t.state != TargetState::Breached);
        out.upstream = Some(UpstreamSla {
            field: f.upstream_field.into(),
            made_sla: made,
            local_made_sla: local,
            agrees: made == local,
        });
    }
    if explain_it {
        out.summary = summary(&out);
    }
    out
}

fn paused_clause(paused: &[PausedInterval], paused_now: bool) -> String {
    if paused.is_empty() {
        return String::new();
    }
    let mut by_state: Vec<(TicketState, Millis)> = Vec::new();
    for p in paused {
        let len = p.to.unwrap_or(p.from) - p.from;
        match by_state.iter_mut().find(|(s, _)| *s == p.state) {
            Some(e) => e.1 += len,
            None => by_state.push((p.state, len)),
        }
    }
    let parts: Vec<String> = by_state
        .iter()
        .filter(|(_, ms)| *ms > 0 || paused_now)
        .map(|(s, ms)| format!("{} while {}", duration(*ms), pause_reason(*s)))
        .collect();
    if parts.is_empty() {
        return String::new();
    }
    format!(
        "{} {}",
        if paused_now { "paused now;" } else { "paused" },
        parts.join(" and ")
    )
}

fn explain(t: &TargetStatus, paused: &str, paused_now: bool, state: TicketState) -> String {
    let what = t.kind.label();
    let target = duration(t.target_ms);
    let head = match t.state {
        TargetState::Met => format!(
            "{what} met: {} of business time used of {target}",
            duration(t.elapsed_ms)
        ),
        TargetState::Breached if t.kind == TargetKind::NextUpdate && t.missed > 0 => format!(
            "{what} breached: {} update{} late (cadence {target})",
            t.missed,
            if t.missed == 1 { "" } else { "s" }
        ),
        TargetState::Breached => format!(
            "{what} breached{}: {} of business time used of {target}",
            t.breached_at
                .map(|b| format!(" at {}", time(b)))
                .unwrap_or_default(),
            duration(t.elapsed_ms)
        ),
        TargetState::Running => format!(
            "{what}: {} of business time left{}",
            duration(t.remaining_ms),
            t.due_at
                .map(|d| format!(", due {}", time(d)))
                .unwrap_or_default()
        ),
        TargetState::Paused if paused_now => format!(
            "{what}: clock stopped while {}; {} of business time left",
            pause_reason(state),
            duration(t.remaining_ms)
        ),
        TargetState::Paused => {
            format!("{what}: {} of business time left", duration(t.remaining_ms))
        }
    };
    if paused.is_empty() || t.kind == TargetKind::NextUpdate {
        head
    } else {
        format!("{paused}; {head}")
    }
}

fn summary(s: &TicketSla) -> String {
    let pick = s
        .targets
        .iter()
        .filter(|t| t.stopped_at.is_none())
        .min_by_key(|t| (t.state != TargetState::Breached, t.remaining_ms))
        .or_else(|| s.targets.iter().find(|t| t.state == TargetState::Breached))
        .or_else(|| s.targets.last());
    pick.map(|t| t.explanation.clone())
        .unwrap_or_else(|| "no SLA targets".into())
}

/// Tickets ordered by risk: breached first (earliest breach first), then running targets by due
/// time, then paused ones by business time left. Done tickets and tickets without a policy are
/// left out.
pub fn risk_order(all: &[TicketSla]) -> Vec<(TicketId, RiskKey)> {
    let mut v: Vec<(TicketId, RiskKey)> = all
        .iter()
        .filter_map(|s| risk_key(s).map(|k| (s.ticket_id, k)))
        .collect();
    v.sort_by_key(|(id, k)| (*k, *id));
    v
}

/// Sort key of [`risk_order`]: smaller is more urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RiskKey {
    Breached(Millis),
    Due(Millis),
    Paused(Millis),
}

pub fn risk_key(s: &TicketSla) -> Option<RiskKey> {
    let open: Vec<&TargetStatus> = s
        .targets
        .iter()
        .filter(|t| t.stopped_at.is_none())
        .collect();
    if let Some(b) = open
        .iter()
        .filter(|t| t.state == TargetState::Breached)
        .filter_map(|t| t.breached_at)
        .min()
    {
        return Some(RiskKey::Breached(b));
    }
    if let Some(d) = open.iter().filter_map(|t| t.due_at).min() {
        return Some(RiskKey::Due(d));
    }
    open.iter()
        .filter(|t| t.state == TargetState::Paused)
        .map(|t| t.remaining_ms)
        .min()
        .map(RiskKey::Paused)
}
