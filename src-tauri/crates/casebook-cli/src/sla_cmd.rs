//! `casebook report`, `casebook sla` and `casebook macro` (issue 7).

use crate::output::Out;
use casebook_api::sla::{AgreementRow, DeletePolicyInput, MacroInput, SlaBadge, macro_file_name};
use casebook_api::{ApiError, Casebook, ErrorCode};
use casebook_core::macros::Macro;
use casebook_core::model::{Millis, Priority};
use casebook_core::reports::{GroupBy, Report, ReportFilter};
use casebook_core::sla::{Calendar, SlaPolicy, TicketSla, format_duration, format_time};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

const DAY: Millis = 86_400_000;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ByArg {
    Group,
    Assignee,
    Source,
    Priority,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// First day of the period (YYYY-MM-DD, UTC) or an RFC 3339 instant; default 30 days ago.
    #[arg(long)]
    pub from: Option<String>,
    /// Last day of the period, included (YYYY-MM-DD, UTC) or an RFC 3339 instant (excluded);
    /// default today.
    #[arg(long)]
    pub to: Option<String>,
    /// One row per group, assignee, source or priority besides the totals.
    #[arg(long, value_enum)]
    pub by: Option<ByArg>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: ReportFormat,
    /// Only tickets from these sources (repeatable).
    #[arg(long)]
    pub source: Vec<String>,
    /// Only tickets of these assignment groups (repeatable).
    #[arg(long)]
    pub group: Vec<String>,
    /// Only tickets of these assignees (repeatable).
    #[arg(long)]
    pub assignee: Vec<String>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SlaArgs {
    /// Show the SLA of this ticket (key or id).
    pub ticket: Option<String>,
    #[command(subcommand)]
    pub cmd: Option<SlaCmd>,
}

#[derive(Debug, Subcommand)]
pub enum SlaCmd {
    /// Open tickets by SLA risk (breached first, then soonest due).
    Risk {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// The calendars and policies in force (defaults with this workspace's overrides).
    Policies,
    /// Add or replace a calendar from a JSON file (see docs/sla.md).
    SetCalendar { file: PathBuf },
    /// Delete a stored calendar.
    DeleteCalendar { name: String },
    /// Add or replace a policy from a JSON file (see docs/sla.md).
    SetPolicy { file: PathBuf },
    /// Delete a stored policy (for source `*` the default applies again).
    DeletePolicy {
        source: String,
        #[arg(value_enum)]
        priority: crate::args::PriorityArg,
    },
    /// Compare local resolution verdicts with the upstream's `made_sla` flag on done tickets.
    /// With --uci, on the UCI ServiceNow incident log imported into a temporary workspace.
    Agreement {
        /// The UCI `incident_event_log.csv` (default: ../shared/corpora/incidents-uci-servicenow/).
        #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "")]
        uci: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum MacroCmd {
    /// List macros (stored and built-in).
    List,
    /// Print a macro as a Markdown file.
    Show { name: String },
    /// Fill a macro for a ticket and apply it (field changes + reply). Refused while any
    /// placeholder cannot be filled.
    Apply {
        ticket: String,
        name: String,
        /// Use this text (Markdown, placeholders allowed) instead of the macro's template.
        #[arg(long, value_name = "FILE")]
        text: Option<PathBuf>,
        /// IANA zone for times in the text (default UTC).
        #[arg(long)]
        time_zone: Option<String>,
        /// Only show what would be sent.
        #[arg(long)]
        dry_run: bool,
    },
    /// Import macro files (Markdown with front matter); a macro of the same name is replaced.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Export one macro (to --out or stdout), or all of them into --dir.
    Export {
        name: Option<String>,
        #[arg(long, value_name = "FILE", conflicts_with = "dir")]
        out: Option<PathBuf>,
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Delete a stored macro (a built-in of the same name comes back).
    Delete { name: String },
}

/// Parses `YYYY-MM-DD` (UTC midnight; `end` moves to the next midnight so the day is included)
/// or an RFC 3339 instant.
pub fn parse_when(s: &str, end: bool) -> Result<Millis, ApiError> {
    let s = s.trim();
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        let d = if end {
            d.tomorrow()
                .map_err(|e| ApiError::invalid(format!("'{s}': {e}")))?
        } else {
            d
        };
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp().as_millisecond())
            .map_err(|e| ApiError::invalid(format!("'{s}': {e}")));
    }
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| {
            ApiError::invalid(format!(
                "'{s}' is not a date (YYYY-MM-DD) or an RFC 3339 time"
            ))
        })
}

fn today_end() -> Millis {
    let now = jiff::Timestamp::now().as_millisecond();
    (now.div_euclid(DAY) + 1) * DAY
}

pub async fn report(a: ReportArgs, cb: &Casebook, out: &Out) -> Result<u8, ApiError> {
    let to = match &a.to {
        Some(s) => parse_when(s, true)?,
        None => today_end(),
    };
    let from = match &a.from {
        Some(s) => parse_when(s, false)?,
        None => to - 30 * DAY,
    };
    let filter = ReportFilter {
        from,
        to,
        sources: a.source,
        groups: a.group,
        assignees: a.assignee,
        by: match a.by {
            None => GroupBy::None,
            Some(ByArg::Group) => GroupBy::Group,
            Some(ByArg::Assignee) => GroupBy::Assignee,
            Some(ByArg::Source) => GroupBy::Source,
            Some(ByArg::Priority) => GroupBy::Priority,
        },
    };
    let format = if out.json {
        ReportFormat::Json
    } else {
        a.format
    };
    match format {
        ReportFormat::Csv => print!("{}", cb.report_csv(filter).await?),
        ReportFormat::Json => print_json(&cb.report(filter).await?),
        ReportFormat::Table => print_report(&cb.report(filter).await?),
    }
    Ok(0)
}

fn print_json<T: Serialize>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot serialize the output: {e}"),
    }
}

fn mins(ms: Option<i64>) -> String {
    ms.map(format_duration).unwrap_or_else(|| "—".into())
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.0}%")).unwrap_or_else(|| "—".into())
}

fn print_report(r: &Report) {
    let mut o = std::io::stdout().lock();
    let day = |ms: Millis| format_time(ms).get(..10).unwrap_or_default().to_owned();
    let _ = writeln!(
        o,
        "KPI report {} – {} (as of {})",
        day(r.filter.from),
        day(r.filter.to - 1),
        format_time(r.as_of)
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:<24} {:>7} {:>8} {:>12} {:>12} {:>10} {:>8} {:>5} {:>5} {:>5} {:>7} {:>8}",
        "group",
        "created",
        "resolved",
        "1st resp avg",
        "MTTR",
        "unanswered",
        "backlog",
        ">7d",
        ">14d",
        ">30d",
        "reopen",
        "touches"
    );
    for row in &r.rows {
        let key: String = row.key.chars().take(24).collect();
        let _ = writeln!(
            o,
            "{:<24} {:>7} {:>8} {:>12} {:>12} {:>10} {:>8} {:>5} {:>5} {:>5} {:>7} {:>8}",
            key,
            row.created,
            row.resolved,
            mins(row.first_response.mean_ms),
            mins(row.time_to_resolve.mean_ms),
            row.unanswered,
            row.backlog,
            row.backlog_over_7d,
            row.backlog_over_14d,
            row.backlog_over_30d,
            pct(row.reopen_rate.map(|x| x * 100.0)),
            row.touches_per_ticket
                .map(|x| format!("{x:.1}"))
                .unwrap_or_else(|| "—".into())
        );
    }
    if let Some(all) = r.rows.first() {
        let _ = writeln!(o, "\nSLA compliance (tickets created in the period):");
        let _ = writeln!(
            o,
            "{:<10} {:>16} {:>16}",
            "priority", "first response", "resolution"
        );
        for s in &all.sla {
            let _ = writeln!(
                o,
                "{:<10} {:>16} {:>16}",
                s.priority.as_str(),
                format!(
                    "{} ({}/{})",
                    pct(s.first_response_pct),
                    s.first_response_met,
                    s.first_response_met + s.first_response_breached
                ),
                format!(
                    "{} ({}/{})",
                    pct(s.resolution_pct),
                    s.resolution_met,
                    s.resolution_met + s.resolution_breached
                )
            );
        }
    }
    let _ = writeln!(o, "\nvolume ({:?}): created / resolved", r.bucket);
    for p in &r.trend {
        let _ = writeln!(
            o,
            "  {}  {:>6} / {:<6}",
            day(p.start),
            p.created,
            p.resolved
        );
    }
}

fn print_sla(s: &TicketSla) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(
        o,
        "{}  priority {}  policy {}  calendar {}",
        s.key,
        s.priority,
        s.policy.as_deref().unwrap_or("none"),
        s.calendar.as_deref().unwrap_or("—")
    );
    for t in &s.targets {
        let _ = writeln!(
            o,
            "  {:<15} {:<9} used {:>10} of {:<10} {}",
            t.kind.label(),
            format!("{:?}", t.state).to_lowercase(),
            format_duration(t.elapsed_ms),
            format_duration(t.target_ms),
            t.due_at
                .map(|d| format!("due {}", format_time(d)))
                .or(t
                    .breached_at
                    .map(|b| format!("breached {}", format_time(b))))
                .unwrap_or_default()
        );
        let _ = writeln!(o, "  {:<15} {}", "", t.explanation);
    }
    for p in &s.paused {
        let _ = writeln!(
            o,
            "  paused {} → {} ({})",
            format_time(p.from),
            p.to.map(format_time).unwrap_or_else(|| "now".into()),
            p.state
        );
    }
    if let Some(u) = &s.upstream {
        let _ = writeln!(
            o,
            "  upstream {} = {} · local {} · {}",
            u.field,
            u.made_sla,
            u.local_made_sla,
            if u.agrees { "agree" } else { "DISAGREE" }
        );
    }
    let _ = writeln!(o, "{}", s.summary);
}

fn print_badges(b: &[SlaBadge]) {
    for x in b {
        println!(
            "{:<14} {:<8} {:<15} {:<9} {}",
            x.key,
            x.priority.as_str(),
            x.kind.map(|k| k.label()).unwrap_or("—"),
            x.state
                .map(|s| format!("{s:?}").to_lowercase())
                .unwrap_or_default(),
            x.summary
        );
    }
}

pub fn print_agreement(rows: &[AgreementRow]) {
    println!(
        "{:<10} {:>8} {:>9} {:>13} {:>17} {:>14} {:>10}",
        "priority",
        "compared",
        "both met",
        "both breached",
        "only upstream met",
        "only local met",
        "agreement"
    );
    for r in rows.iter().filter(|r| r.compared > 0) {
        println!(
            "{:<10} {:>8} {:>9} {:>13} {:>17} {:>14} {:>10}",
            r.key,
            r.compared,
            r.both_met,
            r.both_breached,
            r.only_upstream_met,
            r.only_local_met,
            r.agreement_pct
                .map(|p| format!("{p:.1}%"))
                .unwrap_or_default()
        );
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ApiError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ApiError::invalid(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| ApiError::invalid(format!("{}: {e}", path.display())))
}

pub async fn sla(a: SlaArgs, home: Option<PathBuf>, out: &Out) -> Result<u8, ApiError> {
    let cmd = match (a.ticket, a.cmd) {
        (_, Some(c)) => c,
        (Some(key), None) => {
            let cb = crate::open(home, false).await?;
            let t = cb.find_ticket(key).await?;
            let s = cb.ticket_sla(t.id).await?;
            if out.json {
                print_json(&s);
            } else {
                print_sla(&s);
            }
            return Ok(0);
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "name a ticket (casebook sla CB-3) or a subcommand (risk, policies, agreement, ...)",
            ));
        }
    };
    if let SlaCmd::Agreement { uci: Some(path) } = &cmd {
        let rows = crate::bench_sla::uci_agreement(path, out)?;
        match rows {
            Some(rows) if out.json => print_json(&rows),
            Some(rows) => print_agreement(&rows),
            None => {}
        }
        return Ok(0);
    }
    let cb = crate::open(home, false).await?;
    match cmd {
        SlaCmd::Risk { limit } => {
            let b = cb.sla_risk(Some(limit)).await?;
            if out.json {
                print_json(&b);
            } else {
                print_badges(&b);
            }
        }
        SlaCmd::Policies => {
            let s = cb.sla_settings().await?;
            if out.json {
                print_json(&s);
            } else {
                for c in &s.effective.calendars {
                    let hours: Vec<String> = c
                        .hours
                        .iter()
                        .map(|h| {
                            let days: Vec<String> = h
                                .days
                                .iter()
                                .map(|d| format!("{d:?}").to_lowercase())
                                .collect();
                            format!("{} {}–{}", days.join(","), h.start, h.end)
                        })
                        .collect();
                    println!(
                        "calendar {:<12} {:<18} {} ({} holidays)",
                        c.name,
                        c.time_zone,
                        hours.join("; "),
                        c.holidays.len()
                    );
                }
                for p in &s.effective.policies {
                    // Business time in hours: "24 h" is three office days, not one day.
                    let m = |v: Option<i64>| match v {
                        Some(m) if m % 60 == 0 => format!("{} h", m / 60),
                        Some(m) if m > 60 => format!("{} h {} min", m / 60, m % 60),
                        Some(m) => format!("{m} min"),
                        None => "—".into(),
                    };
                    println!(
                        "policy {:<14} calendar {:<10} first response {:<8} next update {:<8} resolution {:<8} pauses {}",
                        format!("{}/{}", p.source, p.priority),
                        p.calendar,
                        m(p.first_response_minutes),
                        m(p.next_update_minutes),
                        m(p.resolution_minutes),
                        p.pause_states
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(",")
                    );
                }
            }
        }
        SlaCmd::SetCalendar { file } => {
            let c: Calendar = read_json(&file)?;
            let name = c.name.clone();
            cb.save_calendar(c).await?;
            out.message(&format!("saved calendar {name}"));
        }
        SlaCmd::DeleteCalendar { name } => {
            cb.delete_calendar(name.clone()).await?;
            out.message(&format!("deleted calendar {name}"));
        }
        SlaCmd::SetPolicy { file } => {
            let p: SlaPolicy = read_json(&file)?;
            let name = format!("{}/{}", p.source, p.priority);
            cb.save_policy(p).await?;
            out.message(&format!("saved policy {name}"));
        }
        SlaCmd::DeletePolicy { source, priority } => {
            let priority: Priority = priority.into();
            cb.delete_policy(DeletePolicyInput {
                source: source.clone(),
                priority,
            })
            .await?;
            out.message(&format!("deleted policy {source}/{priority}"));
        }
        SlaCmd::Agreement { .. } => {
            let rows = cb.sla_agreement().await?;
            if out.json {
                print_json(&rows);
            } else if rows[0].compared == 0 {
                println!("no done ticket carries an upstream made_sla flag");
            } else {
                print_agreement(&rows);
            }
        }
    }
    Ok(0)
}

pub async fn macros(cmd: MacroCmd, home: Option<PathBuf>, out: &Out) -> Result<u8, ApiError> {
    let cb = crate::open(home, matches!(cmd, MacroCmd::Import { .. })).await?;
    match cmd {
        MacroCmd::List => {
            let list = cb.list_macros().await?;
            if out.json {
                print_json(&list);
            } else {
                for m in list {
                    println!("{:<24} {:<8} {}", m.name, m.visibility, m.description);
                }
            }
        }
        MacroCmd::Show { name } => {
            let f = cb.export_macro(name).await?;
            print!("{}", f.text);
        }
        MacroCmd::Apply {
            ticket,
            name,
            text,
            time_zone,
            dry_run,
        } => {
            let t = cb.find_ticket(ticket).await?;
            let text =
                match text {
                    Some(p) => Some(std::fs::read_to_string(&p).map_err(|e| {
                        ApiError::invalid(format!("cannot read {}: {e}", p.display()))
                    })?),
                    None => None,
                };
            let input = MacroInput {
                ticket_id: t.id,
                name,
                text,
                time_zone,
                expected_revision: Some(t.revision),
            };
            let p = cb.preview_macro(input.clone()).await?;
            if !p.problems.is_empty() {
                for pr in &p.problems {
                    eprintln!(
                        "line {} column {}: {} ({})",
                        pr.line, pr.column, pr.message, pr.text
                    );
                }
                return Err(ApiError::new(
                    ErrorCode::InvalidInput,
                    format!(
                        "{} placeholder problem{}; nothing was sent",
                        p.problems.len(),
                        if p.problems.len() == 1 { "" } else { "s" }
                    ),
                ));
            }
            if dry_run {
                if out.json {
                    print_json(&p);
                } else {
                    println!("{}", p.text);
                    println!("---\nchanges: {}", p.changes.join(", "));
                }
                return Ok(0);
            }
            let v = cb.apply_macro(input).await?;
            out.ticket_saved("macro applied to", &v);
        }
        MacroCmd::Import { files } => {
            let mut names = Vec::new();
            for f in files {
                let text = std::fs::read_to_string(&f)
                    .map_err(|e| ApiError::invalid(format!("cannot read {}: {e}", f.display())))?;
                let m = cb.import_macro(text).await.map_err(|e| {
                    ApiError::new(e.code, format!("{}: {}", f.display(), e.message))
                })?;
                names.push(m.name);
            }
            out.message(&format!("imported {}", names.join(", ")));
        }
        MacroCmd::Export {
            name,
            out: file,
            dir,
        } => match (name, dir) {
            (Some(name), None) => {
                let f = cb.export_macro(name).await?;
                match file {
                    Some(p) => {
                        std::fs::write(&p, &f.text).map_err(|e| {
                            ApiError::invalid(format!("cannot write {}: {e}", p.display()))
                        })?;
                        out.message(&format!("wrote {}", p.display()));
                    }
                    None => print!("{}", f.text),
                }
            }
            (None, Some(dir)) => {
                std::fs::create_dir_all(&dir).map_err(|e| {
                    ApiError::invalid(format!("cannot create {}: {e}", dir.display()))
                })?;
                let list: Vec<Macro> = cb.list_macros().await?;
                for m in &list {
                    let p = dir.join(macro_file_name(&m.name));
                    std::fs::write(&p, m.to_file()).map_err(|e| {
                        ApiError::invalid(format!("cannot write {}: {e}", p.display()))
                    })?;
                }
                out.message(&format!("wrote {} macros to {}", list.len(), dir.display()));
            }
            _ => {
                return Err(ApiError::invalid(
                    "name a macro (with --out FILE or to stdout), or pass --dir DIR for all",
                ));
            }
        },
        MacroCmd::Delete { name } => {
            cb.delete_macro(name.clone()).await?;
            out.message(&format!("deleted macro {name}"));
        }
    }
    Ok(0)
}
