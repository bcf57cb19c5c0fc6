//! SLA, macros and reports through the façade (issue 7): per-ticket SLA, the queue's risk order
//! and badges, calendars and policies, macros (list, save, preview, apply, import/export) and KPI
//! reports. DTOs are the core types (serde + ts-rs under the core's `ts` feature) plus the few
//! shapes below.

use crate::dto::TicketView;
use crate::error::{ApiError, ErrorCode};
use crate::{Casebook, Inner, Result, agent_name};
use casebook_core::macros::{self, Macro, MacroError, PlaceholderInfo, Problem};
use casebook_core::model::{Priority, TicketId};
use casebook_core::reports::{self, Report, ReportFilter};
use casebook_core::sla::{
    self, Calendar, SlaConfig, SlaError, SlaPolicy, TargetKind, TargetState, TicketSla,
};
use serde::{Deserialize, Serialize};
use std::sync::{Mutex, PoisonError};
use ts_rs::TS;

/// The core types these commands return, re-exported for the shell (which depends on the façade
/// only).
pub use casebook_core::macros::Macro as MacroDef;
pub use casebook_core::reports::{Report as KpiReport, ReportFilter as KpiReportFilter};
pub use casebook_core::sla::TicketSla as TicketSlaView;

/// The workspace's SLA facts, kept between reports and risk orderings (see [`sla::FactsCache`]),
/// and the queue's risk values beside them (see [`sla::RiskCache`]).
#[derive(Debug, Default)]
pub(crate) struct SlaState {
    facts: sla::FactsCache,
    risk: sla::RiskCache,
}

pub(crate) type SlaSlot = Mutex<SlaState>;

/// Runs `f` on the current facts of every ticket (refreshed from the event log first).
fn with_facts<T>(i: &Inner, f: impl FnOnce(&[sla::TicketFacts]) -> Result<T>) -> Result<T> {
    let mut slot = i.sla.lock().unwrap_or_else(PoisonError::into_inner);
    let facts = slot.facts.refresh(&i.store)?;
    f(facts)
}

/// Runs `f` with the facts and the risk values brought up to date at `now`.
fn with_risk<T>(
    i: &Inner,
    now: i64,
    f: impl FnOnce(&sla::FactsCache, &sla::RiskCache) -> Result<T>,
) -> Result<T> {
    let config = i.store.sla_config()?;
    let mut slot = i.sla.lock().unwrap_or_else(PoisonError::into_inner);
    let SlaState { facts, risk } = &mut *slot;
    facts.refresh(&i.store)?;
    risk.update(facts, &config, now)?;
    f(facts, risk)
}

/// The settings key of the breach warning time.
const NOTIFY_BEFORE_KEY: &str = "sla.notify_before_minutes";

/// When breach warnings are sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SlaNotifySettings {
    /// Minutes before a target breaches; 0 turns warnings off.
    pub before_minutes: u32,
}

/// Whether breach warnings can be shown as desktop notifications (the shell finds out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct NotificationStatus {
    pub available: bool,
    /// Why not, for a person.
    pub reason: Option<String>,
}

/// A breach warning for the desktop shell to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SlaNotice {
    #[ts(type = "number")]
    pub ticket_id: i64,
    /// `CB-12: first response due in 9 min`.
    pub title: String,
    /// The ticket's title.
    pub body: String,
    #[ts(type = "number")]
    pub due_at: i64,
}

impl From<SlaError> for ApiError {
    fn from(e: SlaError) -> Self {
        match e {
            SlaError::Store(s) => s.into(),
            SlaError::NotFound(_) => ApiError::new(ErrorCode::NotFound, e.to_string()),
            other => ApiError::invalid(other.to_string()),
        }
    }
}

impl From<MacroError> for ApiError {
    fn from(e: MacroError) -> Self {
        match e {
            MacroError::Store(s) => s.into(),
            MacroError::Sla(s) => s.into(),
            MacroError::NotFound(_) => ApiError::new(ErrorCode::NotFound, e.to_string()),
            other => ApiError::invalid(other.to_string()),
        }
    }
}

/// What the queue shows for a ticket: its most urgent SLA target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SlaBadge {
    #[ts(type = "number")]
    pub ticket_id: i64,
    pub key: String,
    pub priority: Priority,
    /// The target the badge is about (`None`: no policy applies).
    pub kind: Option<TargetKind>,
    pub state: Option<TargetState>,
    /// When it falls due (running targets).
    #[ts(type = "number | null")]
    pub due_at: Option<i64>,
    #[ts(type = "number | null")]
    pub breached_at: Option<i64>,
    /// Business time left (ms), negative once breached.
    #[ts(type = "number | null")]
    pub remaining_ms: Option<i64>,
    pub paused: bool,
    pub summary: String,
}

impl SlaBadge {
    pub fn of(s: &TicketSla) -> SlaBadge {
        let open: Vec<_> = s
            .targets
            .iter()
            .filter(|t| t.stopped_at.is_none())
            .collect();
        let pick = open
            .iter()
            .filter(|t| t.state == TargetState::Breached)
            .min_by_key(|t| t.breached_at)
            .or_else(|| {
                open.iter()
                    .filter(|t| t.due_at.is_some())
                    .min_by_key(|t| t.due_at)
            })
            .or_else(|| open.iter().min_by_key(|t| t.remaining_ms))
            .copied()
            .or_else(|| s.target(TargetKind::Resolution))
            .or_else(|| s.targets.last());
        SlaBadge {
            ticket_id: s.ticket_id,
            key: s.key.clone(),
            priority: s.priority,
            kind: pick.map(|t| t.kind),
            state: pick.map(|t| t.state),
            due_at: pick.and_then(|t| t.due_at),
            breached_at: pick.and_then(|t| t.breached_at),
            remaining_ms: pick.map(|t| t.remaining_ms),
            paused: s.paused_now,
            summary: pick
                .map(|t| t.explanation.clone())
                .unwrap_or_else(|| s.summary.clone()),
        }
    }
}

/// Effective SLA configuration (defaults with overrides) and what is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SlaSettings {
    pub effective: SlaConfig,
    /// The overrides stored in this workspace (deleting one restores the default).
    pub stored: SlaConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DeletePolicyInput {
    pub source: String,
    pub priority: Priority,
}

/// Which macro to preview or apply on which ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct MacroInput {
    #[ts(type = "number")]
    pub ticket_id: i64,
    /// A stored or built-in macro by name.
    pub name: String,
    /// The text as the agent edited it after the preview; placeholders left in it are filled (or
    /// refused) like the template's. `None`: the macro's own template.
    #[serde(default)]
    pub text: Option<String>,
    /// IANA zone to write times in (the agent's); UTC when absent.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// For apply: the ticket revision the agent saw.
    #[serde(default)]
    #[ts(type = "number | null")]
    pub expected_revision: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct MacroPreview {
    /// The filled text (placeholders that could not be filled are left as written).
    pub text: String,
    /// The text rendered to sanitized HTML.
    pub html: String,
    /// Caret position in `text` (UTF-16 code units).
    pub cursor: Option<u32>,
    /// Placeholders that block sending, with their positions in the template.
    pub problems: Vec<Problem>,
    /// The field changes the macro makes, in words (`state → pending`).
    pub changes: Vec<String>,
    /// The SLA once the macro is applied.
    pub sla_after: Option<TicketSla>,
}

/// A macro file's text (Markdown with front matter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct MacroFile {
    pub file_name: String,
    pub text: String,
}

/// How local SLA verdicts compare with the upstream's `made_sla` flags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct AgreementRow {
    /// `all` or a priority.
    pub key: String,
    #[ts(type = "number")]
    pub compared: u64,
    #[ts(type = "number")]
    pub both_met: u64,
    #[ts(type = "number")]
    pub both_breached: u64,
    /// Upstream met, local breached.
    #[ts(type = "number")]
    pub only_upstream_met: u64,
    /// Upstream breached, local met.
    #[ts(type = "number")]
    pub only_local_met: u64,
    pub agreement_pct: Option<f64>,
}

/// Compares, for done tickets that carry `made_sla`, the local resolution verdict with it.
pub fn agreement(all: &[TicketSla], done: &dyn Fn(TicketId) -> bool) -> Vec<AgreementRow> {
    let mut rows: Vec<AgreementRow> = std::iter::once("all")
        .chain(Priority::ALL.iter().map(|p| p.as_str()))
        .map(|k| AgreementRow {
            key: k.to_owned(),
            ..Default::default()
        })
        .collect();
    for s in all {
        let Some(up) = &s.upstream else { continue };
        if !done(s.ticket_id) {
            continue;
        }
        let idx = 1 + (s.priority.rank() - 1).clamp(0, 3) as usize;
        for i in [0, idx] {
            let r = &mut rows[i];
            r.compared += 1;
            match (up.made_sla, up.local_made_sla) {
                (true, true) => r.both_met += 1,
                (false, false) => r.both_breached += 1,
                (true, false) => r.only_upstream_met += 1,
                (false, true) => r.only_local_met += 1,
            }
        }
    }
    for r in &mut rows {
        r.agreement_pct = (r.compared > 0)
            .then(|| 100.0 * (r.both_met + r.both_breached) as f64 / r.compared as f64);
    }
    rows
}

fn notify_before(i: &Inner) -> Result<u32> {
    Ok(i.store
        .setting(NOTIFY_BEFORE_KEY)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(sla::DEFAULT_NOTIFY_BEFORE_MINUTES))
}

fn changes_in_words(m: &Macro) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(s) = m.set_state {
        v.push(format!("state → {s}"));
    }
    if let Some(p) = m.set_priority {
        v.push(format!("priority → {p}"));
    }
    for t in &m.add_tags {
        v.push(format!("add tag {t}"));
    }
    for t in &m.remove_tags {
        v.push(format!("remove tag {t}"));
    }
    v.push(format!("{} reply", m.visibility));
    v
}

/// A file name for a macro: letters, digits and dashes, `.md`.
pub fn macro_file_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-');
    format!("{}.md", if s.is_empty() { "macro" } else { s })
}

impl Casebook {
    /// The SLA of one ticket now.
    pub async fn ticket_sla(&self, id: i64) -> Result<TicketSla> {
        self.blocking("computing the SLA", move |i| {
            let facts = i.store.sla_facts(id)?.ok_or_else(|| {
                ApiError::new(ErrorCode::NotFound, format!("ticket {id} not found"))
            })?;
            let mut cfg = i.store.sla_config()?.compile()?;
            Ok(sla::compute(&facts, &mut cfg, i.clock.now()))
        })
        .await
    }

    /// SLA badges for the tickets the queue shows (unknown ids are skipped).
    pub async fn sla_badges(&self, ids: Vec<i64>) -> Result<Vec<SlaBadge>> {
        if ids.len() > 1_000 {
            return Err(ApiError::invalid("at most 1000 tickets at once"));
        }
        self.blocking("computing SLA badges", move |i| {
            let mut cfg = i.store.sla_config()?.compile()?;
            let now = i.clock.now();
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(f) = i.store.sla_facts(id)? {
                    out.push(SlaBadge::of(&sla::compute(&f, &mut cfg, now)));
                }
            }
            Ok(out)
        })
        .await
    }

    /// Open tickets by SLA risk: breached first (earliest breach first), then by due time, then
    /// paused ones by business time left. `limit` caps the list (default 200).
    pub async fn sla_risk(&self, limit: Option<u32>) -> Result<Vec<SlaBadge>> {
        let limit = limit.unwrap_or(200).clamp(1, 100_000) as usize;
        self.blocking("ordering the queue by SLA risk", move |i| {
            let now = i.clock.now();
            let mut cfg = i.store.sla_config()?.compile()?;
            // The kept risk values order everyone; explanations only for the tickets shown.
            with_risk(i, now, |facts, risk| {
                let mut keyed: Vec<(i64, TicketId, usize)> = facts
                    .facts()
                    .iter()
                    .enumerate()
                    .map(|(p, f)| (risk.value(facts, f.id), f.id, p))
                    .filter(|(v, _, _)| *v != casebook_core::store::NO_RISK)
                    .collect();
                if keyed.len() > limit {
                    keyed.select_nth_unstable(limit - 1);
                    keyed.truncate(limit);
                }
                keyed.sort_unstable();
                Ok(keyed
                    .iter()
                    .filter_map(|(_, _, p)| facts.facts().get(*p))
                    .map(|f| SlaBadge::of(&sla::compute(f, &mut cfg, now)))
                    .collect())
            })
        })
        .await
    }

    /// A page of the queue in SLA risk order ([`SortKey::Risk`]): the query runs on the queue
    /// index with each ticket's risk value (kept current in memory; see [`sla::RiskCache`]).
    pub async fn list_tickets_by_risk(
        &self,
        query: casebook_core::store::TicketQuery,
    ) -> Result<crate::dto::TicketPage> {
        self.blocking("loading the queue by SLA risk", move |i| {
            let now = i.clock.now();
            with_risk(i, now, |facts, risk| {
                Ok(i.store
                    .query_tickets_ranked(&query, &|id| risk.value(facts, id))?
                    .into())
            })
        })
        .await
    }

    pub async fn sla_notify_settings(&self) -> Result<SlaNotifySettings> {
        self.blocking("loading SLA warning settings", |i| {
            Ok(SlaNotifySettings {
                before_minutes: notify_before(i)?,
            })
        })
        .await
    }

    /// Sets how long before a breach the warning comes (0: none; at most a day).
    pub async fn set_sla_notify_settings(
        &self,
        settings: SlaNotifySettings,
    ) -> Result<SlaNotifySettings> {
        if settings.before_minutes > sla::MAX_NOTIFY_BEFORE_MINUTES {
            return Err(ApiError::invalid(format!(
                "the warning time must be at most {} minutes",
                sla::MAX_NOTIFY_BEFORE_MINUTES
            )));
        }
        self.blocking("saving SLA warning settings", move |i| {
            i.store
                .set_setting(NOTIFY_BEFORE_KEY, &settings.before_minutes.to_string())?;
            Ok(settings)
        })
        .await
    }

    /// The breach warnings due now, recorded as sent (each target is warned about once, across
    /// restarts). `focused`: the ticket the agent has open in the focused window (never warned
    /// about). The shell delivers what this returns.
    pub async fn take_sla_notices(&self, focused: Option<i64>) -> Result<Vec<SlaNotice>> {
        self.blocking("choosing SLA warnings", move |i| {
            let minutes = notify_before(i)?;
            if minutes == 0 {
                return Ok(Vec::new());
            }
            let lead = i64::from(minutes) * 60_000;
            let now = i.clock.now();
            let mut cfg = i.store.sla_config()?.compile()?;
            // Candidates: tickets whose earliest breach or due time is before the window ends
            // (one running target due soon makes the ticket's value at most that).
            let slas: Vec<TicketSla> = with_risk(i, now, |facts, risk| {
                Ok(risk
                    .at_most(now + lead)
                    .filter_map(|p| facts.facts().get(p))
                    .map(|f| {
                        let tl = sla::Timeline::build(f, now);
                        sla::compute_quiet(f, &tl, &mut cfg, now)
                    })
                    .collect())
            })?;
            let seen_err = std::cell::RefCell::new(None);
            let notices = sla::due_notices(&slas, lead, now, focused, &|t, k, s| {
                i.store.sla_notified(t, k, s).unwrap_or_else(|e| {
                    seen_err.borrow_mut().get_or_insert(e);
                    true
                })
            });
            if let Some(e) = seen_err.into_inner() {
                return Err(e.into());
            }
            i.store.record_sla_notices(&notices, now)?;
            notices
                .into_iter()
                .map(|n| {
                    let body = i.store.ticket(n.ticket_id)?.ticket.title;
                    Ok(SlaNotice {
                        ticket_id: n.ticket_id,
                        title: n.headline,
                        body,
                        due_at: n.due_at,
                    })
                })
                .collect()
        })
        .await
    }

    pub async fn sla_settings(&self) -> Result<SlaSettings> {
        self.blocking("loading SLA settings", |i| {
            Ok(SlaSettings {
                effective: i.store.sla_config()?,
                stored: i.store.sla_stored()?,
            })
        })
        .await
    }

    pub async fn save_calendar(&self, cal: Calendar) -> Result<SlaSettings> {
        self.blocking("saving the calendar", move |i| {
            Ok(i.store.save_calendar(&cal, i.clock.now())?)
        })
        .await?;
        self.publish(crate::dto::ChangeKind::Workspace, Vec::new());
        self.sla_settings().await
    }

    pub async fn delete_calendar(&self, name: String) -> Result<SlaSettings> {
        self.blocking("deleting the calendar", move |i| {
            Ok(i.store.delete_calendar(&name)?)
        })
        .await?;
        self.publish(crate::dto::ChangeKind::Workspace, Vec::new());
        self.sla_settings().await
    }

    pub async fn save_policy(&self, policy: SlaPolicy) -> Result<SlaSettings> {
        self.blocking("saving the policy", move |i| {
            Ok(i.store.save_policy(&policy, i.clock.now())?)
        })
        .await?;
        self.publish(crate::dto::ChangeKind::Workspace, Vec::new());
        self.sla_settings().await
    }

    pub async fn delete_policy(&self, input: DeletePolicyInput) -> Result<SlaSettings> {
        self.blocking("deleting the policy", move |i| {
            Ok(i.store.delete_policy(&input.source, input.priority)?)
        })
        .await?;
        self.publish(crate::dto::ChangeKind::Workspace, Vec::new());
        self.sla_settings().await
    }

    pub async fn list_macros(&self) -> Result<Vec<Macro>> {
        self.blocking("loading macros", |i| Ok(i.store.macros()?))
            .await
    }

    pub fn macro_placeholders(&self) -> Vec<PlaceholderInfo> {
        macros::placeholders()
    }

    pub async fn save_macro(&self, m: Macro) -> Result<Vec<Macro>> {
        self.blocking("saving the macro", move |i| {
            i.store.save_macro(&m, i.clock.now())?;
            Ok(i.store.macros()?)
        })
        .await
    }

    pub async fn delete_macro(&self, name: String) -> Result<Vec<Macro>> {
        self.blocking("deleting the macro", move |i| {
            i.store.delete_macro(&name)?;
            Ok(i.store.macros()?)
        })
        .await
    }

    /// A macro as a Markdown file.
    pub async fn export_macro(&self, name: String) -> Result<MacroFile> {
        self.blocking("exporting the macro", move |i| {
            let m = i.store.macro_named(&name)?;
            Ok(MacroFile {
                file_name: macro_file_name(&m.name),
                text: m.to_file(),
            })
        })
        .await
    }

    /// Reads a macro file, validates it and saves it (replacing a macro of the same name).
    pub async fn import_macro(&self, text: String) -> Result<Macro> {
        if text.len() > casebook_core::store::MAX_BODY_BYTES + 4096 {
            return Err(ApiError::invalid("the macro file is too large"));
        }
        self.blocking("importing the macro", move |i| {
            let m = Macro::from_file(&text)?;
            i.store.save_macro(&m, i.clock.now())?;
            Ok(m)
        })
        .await
    }

    /// Fills a macro for a ticket without changing anything.
    pub async fn preview_macro(&self, input: MacroInput) -> Result<MacroPreview> {
        self.blocking("previewing the macro", move |i| {
            let mut m = i.store.macro_named(&input.name)?;
            if let Some(t) = input.text {
                m.body = t;
            }
            let agent = agent_name(&i.store)?;
            let p = i.store.preview_macro(
                input.ticket_id,
                &m,
                &agent,
                i.clock.now(),
                input.time_zone.as_deref(),
            )?;
            Ok(MacroPreview {
                html: casebook_core::markdown::render(&p.rendered.text),
                text: p.rendered.text,
                cursor: p.rendered.cursor,
                problems: p.rendered.problems,
                changes: changes_in_words(&m),
                sla_after: p.sla_after,
            })
        })
        .await
    }

    /// Applies a macro: its field changes and its reply or note, through the ordinary edit paths
    /// (event log, outbox). Refused, with nothing written, while any placeholder cannot be filled.
    pub async fn apply_macro(&self, input: MacroInput) -> Result<TicketView> {
        let id = input.ticket_id;
        let view = self
            .blocking("applying the macro", move |i| {
                let mut m = i.store.macro_named(&input.name)?;
                if let Some(t) = input.text {
                    m.body = t;
                }
                let agent = agent_name(&i.store)?;
                let actor = i.actor(&agent);
                let p = i.store.preview_macro(
                    input.ticket_id,
                    &m,
                    &agent,
                    actor.now,
                    input.time_zone.as_deref(),
                )?;
                i.store.apply_macro(
                    input.ticket_id,
                    input.expected_revision,
                    &m,
                    &p.rendered,
                    &actor,
                )?;
                Ok(TicketView::from(i.store.ticket(input.ticket_id)?))
            })
            .await?;
        self.publish(crate::dto::ChangeKind::Tickets, vec![id]);
        Ok(view)
    }

    /// The KPI report for a period, as of now.
    pub async fn report(&self, filter: ReportFilter) -> Result<Report> {
        reports::check_filter(&filter)?;
        self.blocking("computing the report", move |i| {
            let mut cfg = i.store.sla_config()?.compile()?;
            let now = i.clock.now();
            with_facts(i, |facts| {
                Ok(reports::report(facts, &mut cfg, &filter, now)?)
            })
        })
        .await
    }

    /// The report as CSV (long form: group, metric, dimension, value).
    pub async fn report_csv(&self, filter: ReportFilter) -> Result<String> {
        let r = self.report(filter).await?;
        reports::to_csv(&r).map_err(|e| ApiError::internal("writing the CSV", &e))
    }

    /// Local SLA verdicts against the upstream's `made_sla` for every done ticket that has one.
    pub async fn sla_agreement(&self) -> Result<Vec<AgreementRow>> {
        self.blocking("comparing SLA verdicts", |i| {
            let mut cfg = i.store.sla_config()?.compile()?;
            let now = i.clock.now();
            with_facts(i, |facts| {
                let mut done = std::collections::HashSet::new();
                let all: Vec<TicketSla> = facts
                    .iter()
                    .filter(|f| f.upstream_made_sla.is_some())
                    .map(|f| {
                        let tl = sla::Timeline::build(f, now);
                        if tl.state_now.is_done() {
                            done.insert(f.id);
                        }
                        sla::compute_quiet(f, &tl, &mut cfg, now)
                    })
                    .collect();
                Ok(agreement(&all, &|id| done.contains(&id)))
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dto::{AddCommentInput, NewTicketInput};
    use crate::{OpenOptions, Origin};
    use casebook_core::FixedClock;
    use casebook_core::model::{TicketState, Visibility};
    use std::sync::Arc;

    const MIN: i64 = 60_000;

    async fn open(now: i64) -> (tempfile::TempDir, Casebook, Arc<FixedClock>) {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(FixedClock::new(now));
        let mut opts = OpenOptions::for_tests(dir.path(), Origin::App);
        opts.clock = clock.clone();
        let cb = Casebook::open(opts).await.unwrap();
        cb.update_settings(crate::dto::SettingsInput {
            agent_name: Some("ana".into()),
            onboarded: None,
        })
        .await
        .unwrap();
        (dir, cb, clock)
    }

    fn t(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    fn new_ticket(title: &str, p: Priority) -> NewTicketInput {
        NewTicketInput {
            title: title.into(),
            description: String::new(),
            priority: Some(p),
            state: None,
            assignee: None,
            assignment_group: Some("net".into()),
            requester: Some("Carl".into()),
            tags: vec![],
        }
    }

    #[tokio::test]
    async fn risk_order_badges_and_a_macro_round_trip() {
        let t0 = t("2026-03-02T09:00:00Z");
        let (_d, cb, clock) = open(t0).await;
        let p3 = cb
            .create_ticket(new_ticket("Printer", Priority::Medium))
            .await
            .unwrap();
        clock.advance(5 * MIN);
        let p1 = cb
            .create_ticket(new_ticket("Core switch down", Priority::Critical))
            .await
            .unwrap();
        clock.advance(5 * MIN);
        let risk = cb.sla_risk(None).await.unwrap();
        let order: Vec<_> = risk.iter().map(|b| b.ticket_id).collect();
        assert_eq!(
            order,
            vec![p1.id, p3.id],
            "P1 due at 09:20 before P3 at 13:00"
        );
        assert_eq!(risk[0].due_at, Some(t0 + 20 * MIN));
        assert_eq!(risk[0].kind, Some(TargetKind::FirstResponse));
        // Twenty minutes later the P1's first response is breached.
        clock.advance(20 * MIN);
        let b = cb.sla_badges(vec![p1.id, 999]).await.unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].state, Some(TargetState::Breached));
        assert!(
            b[0].summary.starts_with("first response breached"),
            "{}",
            b[0].summary
        );

        // The customer update macro: preview, then apply with the agent's text.
        let input = MacroInput {
            ticket_id: p3.id,
            name: "Customer update".into(),
            text: None,
            time_zone: None,
            expected_revision: Some(p3.revision),
        };
        let pv = cb.preview_macro(input.clone()).await.unwrap();
        assert!(pv.problems.is_empty(), "{:?}", pv.problems);
        assert!(pv.text.contains("Here is an update on CB-1 (Printer)"));
        assert!(pv.html.contains("<strong>What we know:</strong>"));
        assert_eq!(pv.changes, vec!["public reply"]);
        let mut edited = input.clone();
        edited.text = Some(pv.text.replace(
            "**What we know:** ",
            "**What we know:** toner {{ticket.nope}}",
        ));
        let err = cb.apply_macro(edited.clone()).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert!(
            err.message.contains("unknown placeholder 'ticket.nope'"),
            "{}",
            err.message
        );
        assert!(cb.get_ticket(p3.id).await.unwrap().comments.is_empty());
        edited.text = Some(
            pv.text
                .replace("**What we know:** ", "**What we know:** toner empty"),
        );
        let v = cb.apply_macro(edited).await.unwrap();
        assert_eq!(v.comments.len(), 1);
        assert!(v.comments[0].body.contains("toner empty"));
        assert!(!v.comments[0].body.contains("{{"));
        let s = cb.ticket_sla(p3.id).await.unwrap();
        assert_eq!(
            s.target(TargetKind::FirstResponse).unwrap().state,
            TargetState::Met
        );

        // Export, import under a new name, and the report sees both tickets.
        let f = cb.export_macro("Ask for details".into()).await.unwrap();
        assert_eq!(f.file_name, "ask-for-details.md");
        let renamed = f.text.replace("name: Ask for details", "name: Need logs");
        let m = cb.import_macro(renamed).await.unwrap();
        assert_eq!(m.set_state, Some(TicketState::Pending));
        assert!(
            cb.list_macros()
                .await
                .unwrap()
                .iter()
                .any(|m| m.name == "Need logs")
        );
        let r = cb
            .report(ReportFilter {
                from: t0 - 86_400_000,
                to: t0 + 86_400_000,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!((r.rows[0].created, r.rows[0].backlog), (2, 2));
        let csv = cb
            .report_csv(ReportFilter {
                from: t0,
                to: t0 - 1,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(csv.message, "the report period must end after it starts");
        let _ = cb
            .add_comment(AddCommentInput {
                ticket_id: p1.id,
                body: "on it".into(),
                visibility: Visibility::Public,
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_queue_sorts_by_time_to_breach_and_follows_edits() {
        use casebook_core::store::{SortKey, TicketQuery};
        let t0 = t("2026-03-02T09:00:00Z");
        let (_d, cb, clock) = open(t0).await;
        let p3 = cb
            .create_ticket(new_ticket("Printer", Priority::Medium))
            .await
            .unwrap();
        let p1 = cb
            .create_ticket(new_ticket("Core switch down", Priority::Critical))
            .await
            .unwrap();
        let p2 = cb
            .create_ticket(new_ticket("Mail slow", Priority::High))
            .await
            .unwrap();
        let mut done = new_ticket("Old", Priority::Critical);
        done.state = Some(TicketState::Resolved);
        let done = cb.create_ticket(done).await.unwrap();
        let q = TicketQuery {
            sort: SortKey::Risk,
            ..Default::default()
        };
        let order = |p: crate::dto::TicketPage| p.rows.iter().map(|r| r.id).collect::<Vec<_>>();
        let page = cb.list_tickets(q.clone()).await.unwrap();
        assert_eq!(page.total, 4);
        // Responses due 09:15 (P1), 10:00 (P2), 13:00 (P3); the resolved one has no clock running.
        assert_eq!(order(page), [p1.id, p2.id, p3.id, done.id]);
        let mut rev = q.clone();
        rev.reverse = true;
        assert_eq!(
            order(cb.list_tickets(rev).await.unwrap()),
            [done.id, p3.id, p2.id, p1.id]
        );
        // The P1 breaches at 09:15 and stays first; the P2 goes on hold: paused tickets come after
        // every running one.
        clock.advance(30 * MIN);
        cb.update_ticket(crate::dto::UpdateTicketInput {
            id: p2.id,
            expected_revision: Some(p2.revision),
            title: None,
            description: None,
            state: Some(TicketState::OnHold),
            priority: None,
            assignee: None,
            assignment_group: None,
            tags: None,
        })
        .await
        .unwrap();
        assert_eq!(
            order(cb.list_tickets(q.clone()).await.unwrap()),
            [p1.id, p3.id, p2.id, done.id]
        );
        // Filters and paging apply as for any other order.
        let mut one = q.clone();
        one.offset = 1;
        one.limit = 1;
        one.filter.priorities = vec![Priority::Medium, Priority::High];
        let p = cb.list_tickets(one).await.unwrap();
        assert_eq!((p.total, order(p)), (2, vec![p2.id]));
    }

    #[tokio::test]
    async fn breach_warnings_come_once_per_target_and_not_for_the_focused_ticket() {
        let t0 = t("2026-03-02T09:00:00Z");
        let (_d, cb, clock) = open(t0).await;
        assert_eq!(cb.sla_notify_settings().await.unwrap().before_minutes, 15);
        let err = cb
            .set_sla_notify_settings(SlaNotifySettings {
                before_minutes: 2_000,
            })
            .await
            .unwrap_err();
        assert_eq!(err.message, "the warning time must be at most 1440 minutes");
        cb.set_sla_notify_settings(SlaNotifySettings { before_minutes: 5 })
            .await
            .unwrap();
        let a = cb
            .create_ticket(new_ticket("Core switch down", Priority::Critical))
            .await
            .unwrap();
        let b = cb
            .create_ticket(new_ticket("Second site down", Priority::Critical))
            .await
            .unwrap();
        // Both responses are due 09:15; the warning window opens at 09:10.
        clock.advance(9 * MIN);
        assert!(cb.take_sla_notices(None).await.unwrap().is_empty());
        clock.advance(2 * MIN);
        let n = cb.take_sla_notices(Some(b.id)).await.unwrap();
        assert_eq!(n.len(), 1, "{n:?}");
        assert_eq!(n[0].ticket_id, a.id);
        assert_eq!(
            n[0].title,
            format!("{}: first response due in 4 min", a.key)
        );
        assert_eq!(n[0].body, "Core switch down");
        assert_eq!(n[0].due_at, t0 + 15 * MIN);
        // Not again for a; b once the agent looks elsewhere.
        clock.advance(MIN);
        let n = cb.take_sla_notices(None).await.unwrap();
        assert_eq!(n.iter().map(|n| n.ticket_id).collect::<Vec<_>>(), [b.id]);
        assert!(cb.take_sla_notices(None).await.unwrap().is_empty());
        // Turned off: nothing, whatever is due.
        cb.set_sla_notify_settings(SlaNotifySettings { before_minutes: 0 })
            .await
            .unwrap();
        assert!(cb.take_sla_notices(None).await.unwrap().is_empty());
    }

    /// Core types the façade returns directly (not inside a façade DTO) are exported here, so
    /// the UI gets them from the same `cargo test -p casebook-api` run.
    #[test]
    fn export_bindings_sla_core_types() {
        let cfg = ts_rs::Config::from_env();
        Report::export_all(&cfg).unwrap();
        ReportFilter::export_all(&cfg).unwrap();
        Macro::export_all(&cfg).unwrap();
        PlaceholderInfo::export_all(&cfg).unwrap();
        macros::Rendered::export_all(&cfg).unwrap();
    }

    #[tokio::test]
    async fn bad_settings_are_refused_with_invalid_input() {
        let (_d, cb, _c) = open(0).await;
        let mut cal = Calendar::office("office", "Europe/Berlin");
        cal.time_zone = "Europe/Atlantis".into();
        let err = cb.save_calendar(cal).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert_eq!(
            err.message,
            "calendar 'office': unknown time zone 'Europe/Atlantis'"
        );
        let mut p = cb.sla_settings().await.unwrap().effective.policies[2].clone();
        p.resolution_minutes = Some(-1);
        let err = cb.save_policy(p).await.unwrap_err();
        assert!(err.message.contains("must be positive"), "{}", err.message);
        let err = cb
            .delete_policy(DeletePolicyInput {
                source: "*".into(),
                priority: Priority::Low,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound);
        assert!(err.message.contains("built-in policies cannot be deleted"));
        assert_eq!(
            macro_file_name("Resolved — VPN/Cert!"),
            "resolved-vpn-cert.md"
        );
    }
}
