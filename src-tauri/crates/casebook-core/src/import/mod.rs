//! Import of tickets from CSV or JSON files through a documented column mapping.
//!
//! A [`Mapping`] says, for each ticket field, which column (or template over columns) fills it.
//! Rows that cannot be read or mapped are reported with their line number and reason; the good
//! rows are imported. Tickets are written in batches, each batch one transaction, so an import that
//! is killed half-way leaves whole tickets only. The mapping format is documented in
//! `docs/import.md`; [`Preset`]s cover the corpora Casebook ships and tests against.

mod mapping;
mod read;
mod template;

pub use mapping::{HistoryMapping, Mapping, Preset};
pub use read::Format;

use crate::Clock;
use crate::model::{Millis, NewTicket, Priority, TicketState, normalize_tags};
use crate::store::{
    ImportedTicket, ImportedUpdate, MAX_BODY_BYTES, MAX_TITLE_CHARS, Store, StoreError,
};
use read::{Record, RecordError};
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::io::Read;
use template::Row;

/// Tickets written per transaction.
pub const BATCH_SIZE: usize = 25_000;
/// Imports of at least this many tickets refresh the query planner's statistics.
pub const ANALYZE_AFTER: u64 = 1_000;
/// Problems listed in full; the rest are counted.
pub const MAX_LISTED_PROBLEMS: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid mapping: {0}")]
    Mapping(String),
    #[error("cannot read the input: {0}")]
    Input(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub format: Format,
    pub mapping: Mapping,
}

impl ImportOptions {
    pub fn preset(p: Preset) -> ImportOptions {
        ImportOptions {
            format: Format::Csv,
            mapping: p.mapping(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// 1-based line number in the file (CSV: the physical line where the record starts; JSON Lines:
    /// the line; a JSON array: the element's 1-based position).
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub rows_read: u64,
    pub tickets_imported: u64,
    pub duplicates: u64,
    pub problems: Vec<RowProblem>,
    pub problems_not_listed: u64,
}

impl ImportSummary {
    fn problem(&mut self, line: u64, reason: impl Into<String>) {
        if self.problems.len() < MAX_LISTED_PROBLEMS {
            self.problems.push(RowProblem {
                line,
                reason: reason.into(),
            });
        } else {
            self.problems_not_listed += 1;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportProgress {
    pub rows_read: u64,
    pub bytes_read: u64,
    pub tickets_imported: u64,
}

/// Imports every record of `input` into `store`.
pub fn import_reader(
    store: &Store,
    input: impl Read,
    options: &ImportOptions,
    importer: &str,
    clock: &dyn Clock,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<ImportSummary, ImportError> {
    let plan = options.mapping.compile()?;
    let mut records = read::records(input, options.format, &options.mapping)?;
    let now = clock.now();
    let _bulk = store.bulk_load()?;
    // Two stages on two threads: this one reads and maps rows into batches while a writer thread
    // stores the previous batch (parsing and mapping are a sixth of the work: off the critical
    // path, they cost nothing). One batch in flight at a time keeps memory bounded.
    std::thread::scope(|scope| {
        let (to_writer, batches) = std::sync::mpsc::sync_channel::<Vec<ImportedTicket>>(1);
        let (report, reports) = std::sync::mpsc::channel();
        scope.spawn(move || {
            for batch in batches {
                let r = store.import_batch(&batch, importer, now);
                let failed = r.is_err();
                if report.send(r).is_err() || failed {
                    break;
                }
            }
        });
        let mut writer = Writer {
            to_writer: Some(to_writer),
            reports,
        };
        let mut summary = ImportSummary::default();
        let result = read_all(
            &mut *records,
            &plan,
            now,
            &mut writer,
            &mut summary,
            progress,
        );
        // Whatever happened, wait for the batches already handed over, and report their outcome.
        let finished = writer.finish(&mut summary);
        result?;
        finished?;
        if summary.tickets_imported >= ANALYZE_AFTER {
            store.analyze()?;
        }
        progress(ImportProgress {
            rows_read: summary.rows_read,
            bytes_read: records.bytes_read(),
            tickets_imported: summary.tickets_imported,
        });
        Ok(summary)
    })
}

/// The reading side's handle on the writer thread.
struct Writer {
    to_writer: Option<std::sync::mpsc::SyncSender<Vec<ImportedTicket>>>,
    reports: std::sync::mpsc::Receiver<
        Result<crate::store::ImportBatchReport, crate::store::StoreError>,
    >,
}

impl Writer {
    /// Hands a batch over (waiting while the previous one is being written).
    fn send(
        &mut self,
        batch: &mut Vec<ImportedTicket>,
        summary: &mut ImportSummary,
    ) -> Result<(), ImportError> {
        if batch.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(batch, Vec::with_capacity(BATCH_SIZE));
        let sent = self.to_writer.as_ref().map(|w| w.send(full));
        self.collect(summary)?;
        match sent {
            Some(Ok(())) => Ok(()),
            // The writer stopped: its error was collected above, or it comes at `finish`.
            _ => self.finish(summary),
        }
    }

    /// Adds the reports of the batches written so far; the first failure is returned.
    fn collect(&mut self, summary: &mut ImportSummary) -> Result<(), ImportError> {
        while let Ok(r) = self.reports.try_recv() {
            let r = r?;
            summary.tickets_imported += r.inserted;
            summary.duplicates += r.duplicates.len() as u64;
        }
        Ok(())
    }

    /// Waits for every batch handed over to be written.
    fn finish(&mut self, summary: &mut ImportSummary) -> Result<(), ImportError> {
        self.to_writer = None;
        while let Ok(r) = self.reports.recv() {
            let r = r?;
            summary.tickets_imported += r.inserted;
            summary.duplicates += r.duplicates.len() as u64;
        }
        Ok(())
    }
}

/// Reads and maps every row, handing full batches to the writer.
fn read_all(
    records: &mut dyn read::Records,
    plan: &Plan,
    now: Millis,
    writer: &mut Writer,
    summary: &mut ImportSummary,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<(), ImportError> {
    let mut batch: Vec<ImportedTicket> = Vec::with_capacity(BATCH_SIZE);
    // Keys whose rows are finished; with history grouping a key seen again later is reported.
    let mut closed_keys: HashSet<String> = HashSet::new();
    let mut group: Option<Group> = None;
    loop {
        let next = records.next_record();
        let rec = match next {
            None => break,
            Some(Err(RecordError::Row { line, reason })) => {
                summary.rows_read += 1;
                summary.problem(line, reason);
                continue;
            }
            Some(Err(RecordError::Fatal(reason))) => {
                // The rest of the input cannot be read (for example a JSON array cut off). What was
                // read so far is still imported.
                if let Some(g) = group.take() {
                    batch.push(g.finish());
                }
                writer.send(&mut batch, summary)?;
                summary.problem(records.line(), reason);
                return Ok(());
            }
            Some(Ok(rec)) => rec,
        };
        summary.rows_read += 1;
        let line = rec.line;
        let snapshot = match plan.map_row(&rec, now) {
            Ok(s) => s,
            Err(reason) => {
                summary.problem(line, reason);
                continue;
            }
        };
        if plan.group_by_key {
            match &mut group {
                Some(g) if g.key == snapshot.key => {
                    g.push(snapshot);
                    continue;
                }
                _ => {}
            }
            if closed_keys.contains(&snapshot.key) {
                summary.problem(
                    line,
                    format!(
                        "rows of {} must be adjacent (sorted by key); this row was skipped",
                        snapshot.key
                    ),
                );
                continue;
            }
            if let Some(g) = group.replace(Group::new(snapshot)) {
                closed_keys.insert(g.key.clone());
                batch.push(g.finish());
            }
        } else {
            batch.push(Group::new(snapshot).finish());
        }
        if batch.len() >= BATCH_SIZE {
            writer.send(&mut batch, summary)?;
            progress(ImportProgress {
                rows_read: summary.rows_read,
                bytes_read: records.bytes_read(),
                tickets_imported: summary.tickets_imported,
            });
        }
    }
    if let Some(g) = group.take() {
        batch.push(g.finish());
    }
    writer.send(&mut batch, summary)
}

/// One mapped row: the ticket as this row shows it.
#[derive(Debug, Clone)]
struct Snapshot {
    key: String,
    ticket: NewTicket,
    line: u64,
    /// When this row's state was recorded (history grouping) and by whom.
    at: Option<Millis>,
    actor: Option<String>,
    created_by: Option<String>,
}

/// Successive snapshots of one ticket (an audit-log export has one row per update).
struct Group {
    key: String,
    rows: Vec<Snapshot>,
}

impl Group {
    fn new(first: Snapshot) -> Group {
        Group {
            key: first.key.clone(),
            rows: vec![first],
        }
    }

    fn push(&mut self, s: Snapshot) {
        self.rows.push(s);
    }

    /// The last row is the ticket's current state; every difference between consecutive rows in
    /// the tracked fields becomes a history event at that row's time, by that row's actor.
    fn finish(mut self) -> ImportedTicket {
        self.rows
            .sort_by_key(|r| (r.at.unwrap_or(Millis::MIN), r.line));
        let mut history = Vec::new();
        for pair in self.rows.windows(2) {
            let (a, b) = (&pair[0].ticket, &pair[1].ticket);
            let mut changes = Map::new();
            let mut diff = |field: &str, from: Value, to: Value| {
                if from != to {
                    changes.insert(field.to_owned(), json!({ "from": from, "to": to }));
                }
            };
            diff("state", json!(a.state), json!(b.state));
            diff("priority", json!(a.priority), json!(b.priority));
            diff("assignee", json!(a.assignee), json!(b.assignee));
            diff(
                "assignment_group",
                json!(a.assignment_group),
                json!(b.assignment_group),
            );
            diff("title", json!(a.title), json!(b.title));
            diff("tags", json!(a.tags), json!(b.tags));
            if !changes.is_empty() {
                history.push(ImportedUpdate {
                    at: pair[1].at.or(b.updated_at).unwrap_or_default(),
                    actor: pair[1].actor.clone().unwrap_or_else(|| "import".into()),
                    changes,
                });
            }
        }
        let first_created = self.rows.first().and_then(|r| r.ticket.created_at);
        let created_by = self.rows.first().and_then(|r| r.created_by.clone());
        let last_at = self.rows.iter().filter_map(|r| r.at).max();
        let last = self.rows.pop().map(|r| r.ticket);
        let mut ticket = last.unwrap_or_else(|| NewTicket::local("?"));
        ticket.created_at = first_created.or(ticket.created_at);
        if let Some(at) = last_at {
            ticket.updated_at = Some(ticket.updated_at.map_or(at, |u| u.max(at)));
        }
        if ticket.state.is_done() && ticket.resolved_at.is_none() {
            // Done without a resolution time in the data: the last known change is the closest
            // known bound, and reports need one.
            ticket.resolved_at = ticket.updated_at.or(ticket.created_at);
        }
        ImportedTicket {
            ticket,
            created_by,
            history,
        }
    }
}

/// A mapping made ready to run: every template parsed once.
struct Plan {
    key: template::Template,
    title: template::Template,
    description: Option<template::Template>,
    state: Option<template::Template>,
    priority: Option<template::Template>,
    assignee: Option<template::Template>,
    assignment_group: Option<template::Template>,
    requester: Option<template::Template>,
    organization: Option<template::Template>,
    tags: Vec<template::Template>,
    created_at: Option<template::Template>,
    updated_at: Option<template::Template>,
    resolved_at: Option<template::Template>,
    history_at: Option<template::Template>,
    history_actor: Option<template::Template>,
    created_by: Option<template::Template>,
    extra_columns: Vec<String>,
    group_by_key: bool,
    dates: mapping::DateParser,
    null_values: Vec<String>,
    default_state: TicketState,
    default_priority: Priority,
}

impl Mapping {
    fn compile(&self) -> Result<Plan, ImportError> {
        let t = |name: &str,
                 spec: &Option<String>|
         -> Result<Option<template::Template>, ImportError> {
            spec.as_deref()
                .map(|s| {
                    template::Template::parse(s)
                        .map_err(|e| ImportError::Mapping(format!("{name}: {e}")))
                })
                .transpose()
        };
        let f = &self.fields;
        let key = t("key", &f.key)?.ok_or_else(|| {
            ImportError::Mapping(
                "fields.key is required (a column or template such as \"HD-{_row}\")".into(),
            )
        })?;
        let title = t("title", &f.title)?
            .ok_or_else(|| ImportError::Mapping("fields.title is required".into()))?;
        let tags = self
            .tags
            .iter()
            .map(|s| {
                template::Template::parse(s).map_err(|e| ImportError::Mapping(format!("tags: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let history = self.history.as_ref();
        Ok(Plan {
            key,
            title,
            description: t("description", &f.description)?,
            state: t("state", &f.state)?,
            priority: t("priority", &f.priority)?,
            assignee: t("assignee", &f.assignee)?,
            assignment_group: t("assignment_group", &f.assignment_group)?,
            requester: t("requester", &f.requester)?,
            organization: t("organization", &f.organization)?,
            tags,
            created_at: t("created_at", &f.created_at)?,
            updated_at: t("updated_at", &f.updated_at)?,
            resolved_at: t("resolved_at", &f.resolved_at)?,
            history_at: t("history.at", &history.map(|h| h.at.clone()))?,
            history_actor: t("history.actor", &history.and_then(|h| h.actor.clone()))?,
            created_by: t("created_by", &f.created_by)?,
            extra_columns: self.extra_columns.clone(),
            group_by_key: history.is_some(),
            dates: mapping::DateParser::new(&self.date_formats, self.time_zone.as_deref())?,
            null_values: self.null_values.clone(),
            default_state: self.default_state.unwrap_or(TicketState::New),
            default_priority: self.default_priority.unwrap_or(Priority::Medium),
        })
    }
}

impl Plan {
    fn map_row(&self, rec: &Record, now: Millis) -> Result<Snapshot, String> {
        let row = Row {
            record: rec,
            null_values: &self.null_values,
        };
        let opt = |t: &Option<template::Template>| -> Result<Option<String>, String> {
            match t {
                Some(t) => t.render(&row),
                None => Ok(None),
            }
        };
        let key = self.key.render(&row)?.ok_or("the key is empty")?;
        if key.chars().count() > 200 {
            return Err("the key is longer than 200 characters".into());
        }
        let title = self.title.render(&row)?.ok_or("the title is empty")?;
        if title.chars().count() > MAX_TITLE_CHARS {
            return Err(format!(
                "the title is {} characters, over the limit of {MAX_TITLE_CHARS}",
                title.chars().count()
            ));
        }
        let description = opt(&self.description)?.unwrap_or_default();
        if description.len() > MAX_BODY_BYTES {
            return Err(format!(
                "the description is {} KiB, over the limit of {} KiB",
                description.len() / 1024,
                MAX_BODY_BYTES / 1024
            ));
        }
        let state_raw = opt(&self.state)?;
        let state = match &state_raw {
            None => self.default_state,
            Some(raw) => TicketState::from_upstream_label(raw)
                .or_else(|| raw.parse().ok())
                .ok_or_else(|| format!("unknown state '{}'", truncate(raw, 60)))?,
        };
        let priority_raw = opt(&self.priority)?;
        let priority = match &priority_raw {
            None => self.default_priority,
            Some(raw) => Priority::from_upstream_label(raw)
                .or_else(|| raw.parse().ok())
                .ok_or_else(|| format!("unknown priority '{}'", truncate(raw, 60)))?,
        };
        let date = |t: &Option<template::Template>, what: &str| -> Result<Option<Millis>, String> {
            match opt(t)? {
                None => Ok(None),
                Some(s) => self
                    .dates
                    .parse(&s)
                    .map(Some)
                    .map_err(|e| format!("{what}: {e}")),
            }
        };
        let created_at = date(&self.created_at, "created_at")?;
        let updated_at = date(&self.updated_at, "updated_at")?;
        let resolved_at = date(&self.resolved_at, "resolved_at")?;
        let at = date(&self.history_at, "history time")?;
        let mut tags = Vec::new();
        for t in &self.tags {
            if let Some(v) = t.render(&row)? {
                tags.extend(v.split([',', ';']).map(str::to_owned));
            }
        }
        let mut extra = Map::new();
        for col in &self.extra_columns {
            if let Some(v) = row.get(col)? {
                extra.insert(col.clone(), Value::String(v));
            }
        }
        let ticket = NewTicket {
            key: Some(key.clone()),
            source: crate::model::LOCAL_SOURCE.to_owned(),
            upstream_id: None,
            title,
            description,
            state,
            state_raw,
            priority,
            priority_raw,
            assignee: opt(&self.assignee)?,
            assignment_group: opt(&self.assignment_group)?,
            requester: opt(&self.requester)?,
            organization: opt(&self.organization)?,
            tags: normalize_tags(tags),
            created_at: created_at.or(at).or(Some(now)),
            updated_at: updated_at.or(at),
            first_response_at: None,
            resolved_at,
            extra: Value::Object(extra),
        };
        Ok(Snapshot {
            key,
            ticket,
            line: rec.line,
            at,
            actor: opt(&self.history_actor)?,
            created_by: opt(&self.created_by)?,
        })
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests;
