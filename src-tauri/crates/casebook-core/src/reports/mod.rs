//! KPI reports over the event log: first response time, time to resolution, SLA compliance by
//! priority, backlog aging, reopen rate, touches per ticket and the volume trend.
//!
//! Definitions (for the period `[from, to)`, evaluated as of `min(to, now)`):
//! - **created**: tickets created in the period. First response time, touches per ticket and SLA
//!   compliance are measured on these.
//! - **first response time**: creation to the first public agent reply (wall-clock time); tickets
//!   without a reply yet are counted apart.
//! - **resolved / MTTR**: tickets whose current resolution (the last time they became resolved
//!   or closed, if they still are) falls in the period; MTTR is the mean of creation → that
//!   resolution (wall-clock time).
//! - **SLA compliance**: per priority, targets met ÷ targets decided (met or breached; a running
//!   target already past due counts as breached).
//! - **backlog**: tickets open at the end of the period, with those older than 7, 14 and 30 days.
//! - **reopen rate**: share of the period's resolved tickets that were ever reopened.
//! - **touches per ticket**: edits and agent comments on the period's tickets, per ticket.
//!
//! Filters (source, group, assignee) and grouping use a ticket's current values.

use crate::model::{Millis, Priority};
use crate::sla::{self, CompiledConfig, SlaError, TargetKind, TargetState, TicketFacts, Timeline};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const DAY: Millis = 86_400_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    #[default]
    None,
    Group,
    Assignee,
    Source,
    Priority,
}

/// Which tickets a report covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase", default)]
pub struct ReportFilter {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub from: Millis,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub to: Millis,
    pub sources: Vec<String>,
    pub groups: Vec<String>,
    pub assignees: Vec<String>,
    pub by: GroupBy,
}

/// Count, mean and median of durations (ms).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct DurationStat {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub count: u64,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub mean_ms: Option<i64>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub median_ms: Option<i64>,
}

impl DurationStat {
    fn of(mut v: Vec<i64>) -> DurationStat {
        if v.is_empty() {
            return DurationStat::default();
        }
        v.sort_unstable();
        let n = v.len();
        let mean = v.iter().map(|&x| x as i128).sum::<i128>() / n as i128;
        let median = if !n.is_multiple_of(2) {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2
        };
        DurationStat {
            count: n as u64,
            mean_ms: Some(mean as i64),
            median_ms: Some(median),
        }
    }
}

/// SLA targets met and breached for one priority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct SlaCompliance {
    pub priority: Priority,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub first_response_met: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub first_response_breached: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub resolution_met: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub resolution_breached: u64,
    /// Resolution targets met ÷ decided, in percent (`None` when none is decided).
    pub resolution_pct: Option<f64>,
    pub first_response_pct: Option<f64>,
}

/// The KPIs of one group (or of everything).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct ReportRow {
    /// `all`, or the group / assignee / source / priority; `(none)` when the field is empty.
    pub key: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub created: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub resolved: u64,
    pub first_response: DurationStat,
    /// Created in the period and not answered yet.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub unanswered: u64,
    pub time_to_resolve: DurationStat,
    pub sla: Vec<SlaCompliance>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub backlog: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub backlog_over_7d: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub backlog_over_14d: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub backlog_over_30d: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub reopened: u64,
    pub reopen_rate: Option<f64>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub touches: u64,
    pub touches_per_ticket: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Day,
    Week,
    Month,
}

/// Tickets created and resolved in one bucket of the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct TrendPoint {
    /// Start of the bucket (UTC midnight; weeks start on Monday).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub start: Millis,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub created: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub resolved: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub filter: ReportFilter,
    /// The moment the report describes: the end of the period, or now if that is earlier.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub as_of: Millis,
    /// The totals first, then one row per group (largest first) when grouped.
    pub rows: Vec<ReportRow>,
    pub bucket: Bucket,
    pub trend: Vec<TrendPoint>,
}

/// What one ticket contributes, before grouping.
#[derive(Default)]
struct Acc {
    created: u64,
    resolved: u64,
    fr: Vec<i64>,
    unanswered: u64,
    ttr: Vec<i64>,
    sla: [[u64; 4]; 4],
    backlog: u64,
    backlog_age: [u64; 3],
    reopened: u64,
    touches: u64,
}

impl Acc {
    fn add(&mut self, o: &Acc) {
        self.created += o.created;
        self.resolved += o.resolved;
        self.fr.extend_from_slice(&o.fr);
        self.unanswered += o.unanswered;
        self.ttr.extend_from_slice(&o.ttr);
        for (a, b) in self.sla.iter_mut().zip(o.sla.iter()) {
            for (x, y) in a.iter_mut().zip(b.iter()) {
                *x += y;
            }
        }
        self.backlog += o.backlog;
        for (a, b) in self.backlog_age.iter_mut().zip(o.backlog_age.iter()) {
            *a += b;
        }
        self.reopened += o.reopened;
        self.touches += o.touches;
    }

    fn row(self, key: String) -> ReportRow {
        let pct = |met: u64, breached: u64| {
            (met + breached > 0).then(|| 100.0 * met as f64 / (met + breached) as f64)
        };
        let sla = Priority::ALL
            .iter()
            .zip(self.sla.iter())
            .filter(|(_, c)| c.iter().any(|&x| x > 0))
            .map(|(p, c)| SlaCompliance {
                priority: *p,
                first_response_met: c[0],
                first_response_breached: c[1],
                resolution_met: c[2],
                resolution_breached: c[3],
                first_response_pct: pct(c[0], c[1]),
                resolution_pct: pct(c[2], c[3]),
            })
            .collect();
        ReportRow {
            key,
            created: self.created,
            resolved: self.resolved,
            first_response: DurationStat::of(self.fr),
            unanswered: self.unanswered,
            time_to_resolve: DurationStat::of(self.ttr),
            sla,
            backlog: self.backlog,
            backlog_over_7d: self.backlog_age[0],
            backlog_over_14d: self.backlog_age[1],
            backlog_over_30d: self.backlog_age[2],
            reopened: self.reopened,
            reopen_rate: (self.resolved > 0).then(|| self.reopened as f64 / self.resolved as f64),
            touches: self.touches,
            touches_per_ticket: (self.created > 0)
                .then(|| self.touches as f64 / self.created as f64),
        }
    }
}

fn bucket_for(from: Millis, to: Millis) -> Bucket {
    let days = (to - from) / DAY;
    if days <= 62 {
        Bucket::Day
    } else if days <= 2 * 366 {
        Bucket::Week
    } else {
        Bucket::Month
    }
}

/// The start of the bucket holding `t` (UTC).
fn bucket_start(b: Bucket, t: Millis) -> Millis {
    let day = t.div_euclid(DAY) * DAY;
    match b {
        Bucket::Day => day,
        Bucket::Week => {
            // 1970-01-01 was a Thursday: Monday-based weeks start 3 days before epoch days ≡ 0.
            let days = t.div_euclid(DAY);
            (days - (days + 3).rem_euclid(7)) * DAY
        }
        Bucket::Month => jiff::Timestamp::from_millisecond(t)
            .ok()
            .map(|ts| {
                let d = ts.to_zoned(jiff::tz::TimeZone::UTC).date();
                d.first_of_month()
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .map(|z| z.timestamp().as_millisecond())
                    .unwrap_or(day)
            })
            .unwrap_or(day),
    }
}

fn group_key(f: &TicketFacts, tl: &Timeline, by: GroupBy) -> String {
    let none = || "(none)".to_owned();
    match by {
        GroupBy::None => "all".into(),
        GroupBy::Group => f.group.clone().unwrap_or_else(none),
        GroupBy::Assignee => f.assignee.clone().unwrap_or_else(none),
        GroupBy::Source => f.source.clone(),
        GroupBy::Priority => tl.priority_now.to_string(),
    }
}

/// Validates a filter: a period that ends after it starts and is at most 20 years long.
pub fn check_filter(f: &ReportFilter) -> Result<(), SlaError> {
    if f.to <= f.from {
        return Err(SlaError::Invalid(
            "the report period must end after it starts".into(),
        ));
    }
    if f.to - f.from > 20 * 366 * DAY {
        return Err(SlaError::Invalid(
            "the report period is longer than 20 years".into(),
        ));
    }
    Ok(())
}

/// Computes a report over `facts` (all tickets; the filter picks).
pub fn report(
    facts: &[TicketFacts],
    cfg: &mut CompiledConfig,
    filter: &ReportFilter,
    now: Millis,
) -> Result<Report, SlaError> {
    check_filter(filter)?;
    let (from, to) = (filter.from, filter.to);
    let as_of = to.min(now);
    let bucket = bucket_for(from, to);
    let mut trend: BTreeMap<Millis, (u64, u64)> = BTreeMap::new();
    let mut b = bucket_start(bucket, from);
    while b < to && trend.len() < 2_000 {
        trend.insert(b, (0, 0));
        b = match bucket {
            Bucket::Day => b + DAY,
            Bucket::Week => b + 7 * DAY,
            Bucket::Month => bucket_start(Bucket::Month, b + 32 * DAY),
        };
    }
    let keep = |list: &[String], v: Option<&str>| {
        list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x == v))
    };
    let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
    for f in facts {
        if f.created_at > as_of
            || !keep(&filter.sources, Some(&f.source))
            || !keep(&filter.groups, f.group.as_deref())
            || !keep(&filter.assignees, f.assignee.as_deref())
        {
            continue;
        }
        let tl = Timeline::build(f, as_of);
        let mut a = Acc::default();
        let created_in = f.created_at >= from && f.created_at < to;
        if created_in {
            a.created = 1;
            match tl.replies.first() {
                Some(&r) => a.fr.push(r - f.created_at),
                None => a.unanswered = 1,
            }
            a.touches = f.touches.iter().filter(|&&t| t <= as_of).count() as u64;
            let s = sla::compute_quiet(f, &tl, cfg, as_of);
            let p = (s.priority.rank() - 1).clamp(0, 3) as usize;
            for t in &s.targets {
                let col = match t.kind {
                    TargetKind::FirstResponse => 0,
                    TargetKind::Resolution => 2,
                    TargetKind::NextUpdate => continue,
                };
                match t.state {
                    TargetState::Met => a.sla[p][col] += 1,
                    TargetState::Breached => a.sla[p][col + 1] += 1,
                    _ => {}
                }
            }
            if let Some(e) = trend.get_mut(&bucket_start(bucket, f.created_at)) {
                e.0 += 1;
            }
        }
        if let Some(r) = tl.resolved_at
            && r >= from
            && r < to
        {
            a.resolved = 1;
            a.ttr.push(r - f.created_at);
            a.reopened = u64::from(tl.reopens > 0);
            if let Some(e) = trend.get_mut(&bucket_start(bucket, r)) {
                e.1 += 1;
            }
        }
        if !tl.state_now.is_done() {
            a.backlog = 1;
            let age = as_of - f.created_at;
            for (i, days) in [7, 14, 30].iter().enumerate() {
                if age > days * DAY {
                    a.backlog_age[i] = 1;
                }
            }
        }
        if a.created + a.resolved + a.backlog == 0 {
            continue;
        }
        let key = group_key(f, &tl, filter.by);
        groups.entry(key).or_default().add(&a);
    }
    let mut total = Acc::default();
    for g in groups.values() {
        total.add(g);
    }
    let mut rows = vec![total.row("all".into())];
    if filter.by != GroupBy::None {
        let mut per: Vec<ReportRow> = groups.into_iter().map(|(k, a)| a.row(k)).collect();
        per.sort_by(|a, b| {
            (b.created + b.backlog)
                .cmp(&(a.created + a.backlog))
                .then_with(|| a.key.cmp(&b.key))
        });
        rows.extend(per);
    }
    Ok(Report {
        filter: filter.clone(),
        as_of,
        rows,
        bucket,
        trend: trend
            .into_iter()
            .map(|(start, (created, resolved))| TrendPoint {
                start,
                created,
                resolved,
            })
            .collect(),
    })
}

impl Store {
    /// A report over this workspace's tickets, with its SLA configuration, as of `now`.
    pub fn report(&self, filter: &ReportFilter, now: Millis) -> Result<Report, SlaError> {
        check_filter(filter)?;
        let facts = self.sla_facts_all()?;
        let mut cfg = self.sla_config()?.compile()?;
        report(&facts, &mut cfg, filter, now)
    }
}

fn ms_to_min(v: Option<i64>) -> String {
    v.map(|ms| format!("{:.1}", ms as f64 / 60_000.0))
        .unwrap_or_default()
}

fn opt_f(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}")).unwrap_or_default()
}

/// The report as CSV in long form (`group,metric,dimension,value`): one line per number, easy to
/// pivot in a spreadsheet. Durations are minutes, rates are fractions, compliance is percent.
pub fn to_csv(r: &Report) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["group", "metric", "dimension", "value"])?;
    for row in &r.rows {
        let k = row.key.as_str();
        let mut put = |metric: &str, dim: &str, v: String| w.write_record([k, metric, dim, &v]);
        put("created", "", row.created.to_string())?;
        put("resolved", "", row.resolved.to_string())?;
        put(
            "first_response_count",
            "",
            row.first_response.count.to_string(),
        )?;
        put(
            "first_response_mean_min",
            "",
            ms_to_min(row.first_response.mean_ms),
        )?;
        put(
            "first_response_median_min",
            "",
            ms_to_min(row.first_response.median_ms),
        )?;
        put("unanswered", "", row.unanswered.to_string())?;
        put("mttr_min", "", ms_to_min(row.time_to_resolve.mean_ms))?;
        put(
            "ttr_median_min",
            "",
            ms_to_min(row.time_to_resolve.median_ms),
        )?;
        for s in &row.sla {
            let p = s.priority.as_str();
            put(
                "sla_first_response_met",
                p,
                s.first_response_met.to_string(),
            )?;
            put(
                "sla_first_response_breached",
                p,
                s.first_response_breached.to_string(),
            )?;
            put("sla_first_response_pct", p, opt_f(s.first_response_pct, 1))?;
            put("sla_resolution_met", p, s.resolution_met.to_string())?;
            put(
                "sla_resolution_breached",
                p,
                s.resolution_breached.to_string(),
            )?;
            put("sla_resolution_pct", p, opt_f(s.resolution_pct, 1))?;
        }
        put("backlog", "", row.backlog.to_string())?;
        put("backlog_over_days", "7", row.backlog_over_7d.to_string())?;
        put("backlog_over_days", "14", row.backlog_over_14d.to_string())?;
        put("backlog_over_days", "30", row.backlog_over_30d.to_string())?;
        put("reopened", "", row.reopened.to_string())?;
        put("reopen_rate", "", opt_f(row.reopen_rate, 3))?;
        put("touches", "", row.touches.to_string())?;
        put("touches_per_ticket", "", opt_f(row.touches_per_ticket, 2))?;
    }
    for p in &r.trend {
        let day = sla::format_time(p.start);
        let day = day.get(..10).unwrap_or(&day).to_owned();
        w.write_record(["all", "trend_created", &day, &p.created.to_string()])?;
        w.write_record(["all", "trend_resolved", &day, &p.resolved.to_string()])?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests;
