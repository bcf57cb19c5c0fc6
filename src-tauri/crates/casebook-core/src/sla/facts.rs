//! What the SLA engine and the reports need to know about a ticket, read from the event log.
//!
//! Everything is derived from the log's **action times** (`at`), never from when a change was
//! recorded or synced, so the same history gives the same result on every machine.

use crate::model::{Millis, Priority, Ticket, TicketId, TicketState};
use crate::store::{Event, EventKind, Result, Store};
use rusqlite::Connection;

/// A change that matters to the SLA clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    State(TicketState),
    Priority(Priority),
    /// A public reply by an agent (anyone but the requester).
    PublicReply,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub at: Millis,
    pub kind: ChangeKind,
}

/// One ticket's SLA-relevant history.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketFacts {
    pub id: TicketId,
    pub key: String,
    pub source: String,
    pub requester: Option<String>,
    pub assignee: Option<String>,
    pub group: Option<String>,
    pub created_at: Millis,
    /// State and priority when the ticket was created (before its first recorded change).
    pub initial_state: TicketState,
    pub initial_priority: Priority,
    /// Changes in action-time order.
    pub changes: Vec<Change>,
    /// The ticket's first-response time as the upstream reported it (used when the log holds no
    /// public reply, for example for tickets whose comments were not synced).
    pub first_response_at: Option<Millis>,
    /// The upstream's verdict on the resolution SLA, when it has one: ServiceNow's `made_sla`
    /// flag, or the "time to resolution" cycle of Jira Service Management's request SLA (as the
    /// Jira connector keeps it in `extra.sla`). See [`upstream_resolution_sla`].
    pub upstream_made_sla: Option<bool>,
    /// Where [`Self::upstream_made_sla`] came from (`made_sla`, `jira: time to resolution`,
    /// `servicenow: task_sla`, `zendesk: sla policy metric`).
    pub upstream_field: &'static str,
    /// When the upstream's resolution cycle breaches (its own due time), when it said so.
    pub upstream_breach_at: Option<Millis>,
    /// The upstream's resolution cycle was still running (not paused, not stopped) when it was
    /// read: its "met" turns into "breached" once `now` passes [`Self::upstream_breach_at`]
    /// (the engine judges that with its `now`; the upstream would say the same on a re-read).
    pub upstream_running: bool,
    /// Action times of edits and comments (not the creation), for "touches per ticket".
    pub touches: Vec<Millis>,
    /// The ticket row's revision when these facts were read (for [`super::FactsCache`]).
    pub revision: i64,
}

impl TicketFacts {
    /// A ticket created at `created_at` with no history yet.
    pub fn new(id: TicketId, created_at: Millis, state: TicketState, priority: Priority) -> Self {
        TicketFacts {
            id,
            key: format!("T-{id}"),
            source: crate::model::LOCAL_SOURCE.into(),
            requester: None,
            assignee: None,
            group: None,
            created_at,
            initial_state: state,
            initial_priority: priority,
            changes: Vec::new(),
            first_response_at: None,
            upstream_made_sla: None,
            upstream_field: MADE_SLA,
            upstream_breach_at: None,
            upstream_running: false,
            touches: Vec::new(),
            revision: 0,
        }
    }
}

const MADE_SLA: &str = "made_sla";
const JIRA_RESOLUTION: &str = "jira: time to resolution";
const SERVICENOW_TASK_SLA: &str = "servicenow: task_sla";
const ZENDESK_POLICY_METRIC: &str = "zendesk: sla policy metric";

/// The upstream's resolution cycle as a connector keeps it in `extra.sla`: one vendor-neutral
/// array of `{source, name, target, stage, breached, breach_at, completed, paused}` items (Jira:
/// the request SLA, without `source`; ServiceNow: `task_sla` rows; Zendesk: the ticket's SLA
/// policy metrics). See [`upstream_cycle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamCycle {
    /// The upstream's own breach flag, when it has one (Zendesk's policy metrics have none).
    pub breached: Option<bool>,
    /// The upstream's due time for it.
    pub breach_at: Option<Millis>,
    /// Stopped (met, achieved, completed): its verdict no longer changes.
    pub completed: bool,
    pub paused: bool,
    /// `jira: time to resolution`, `servicenow: task_sla`, `zendesk: sla policy metric`.
    pub field: &'static str,
}

impl UpstreamCycle {
    /// The verdict as far as the upstream's data tells it without a clock: `Some(met)`, or
    /// `None` when it needs the ticket's resolution time (a stopped cycle without a breach
    /// flag: met when resolved by its due time).
    fn verdict(&self, resolved_at: Option<Millis>) -> Option<bool> {
        match (self.breached, self.completed) {
            (Some(b), _) => Some(!b),
            (None, false) => Some(true),
            (None, true) => Some(resolved_at? <= self.breach_at?),
        }
    }
}

/// The upstream's own verdict on the resolution SLA in a ticket's upstream fields: ServiceNow's
/// `made_sla`, else the resolution cycle of `extra.sla` (met = not breached; for a running cycle:
/// not breached so far). `None` when neither is there or readable, or when the verdict needs the
/// ticket's resolution time (see [`upstream_cycle`]).
pub fn upstream_resolution_sla(extra: &serde_json::Value) -> Option<(bool, &'static str)> {
    match extra.get("made_sla") {
        Some(serde_json::Value::Bool(b)) => return Some((*b, MADE_SLA)),
        Some(serde_json::Value::String(s)) => {
            return parse_bool(Some(s.clone())).map(|b| (b, MADE_SLA));
        }
        _ => {}
    }
    let c = upstream_cycle(extra.get("sla")?)?;
    c.verdict(None).map(|b| (b, c.field))
}

/// The resolution cycle in a connector's `extra.sla` array: the last item that is about
/// resolution (`target: "resolution"`, or a name with "resolution" in it) and not cancelled
/// (ServiceNow cancels an SLA and attaches a new one when the priority changes). `None` when
/// there is none, or when it carries neither a readable breach flag nor a due time.
pub fn upstream_cycle(sla: &serde_json::Value) -> Option<UpstreamCycle> {
    let item = sla.as_array()?.iter().rev().find(|c| {
        let about_resolution = match c.get("target").and_then(|t| t.as_str()) {
            Some(t) => t == "resolution",
            None => c
                .get("name")
                .and_then(|n| n.as_str())
                .is_some_and(|n| n.to_ascii_lowercase().contains("resolution")),
        };
        about_resolution && c.get("stage").and_then(|s| s.as_str()) != Some("cancelled")
    })?;
    let field = match item.get("source").and_then(|s| s.as_str()) {
        Some("servicenow") => SERVICENOW_TASK_SLA,
        Some("zendesk") => ZENDESK_POLICY_METRIC,
        _ => JIRA_RESOLUTION,
    };
    let breached = match item.get("breached") {
        Some(serde_json::Value::Bool(b)) => Some(*b),
        None | Some(serde_json::Value::Null) => None,
        // Something else (text, a number): unreadable, never a guess.
        Some(_) => return None,
    };
    let breach_at = item.get("breach_at").and_then(|b| b.as_i64());
    if breached.is_none() && breach_at.is_none() {
        return None;
    }
    let flag = |k: &str| item.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
    Some(UpstreamCycle {
        breached,
        breach_at,
        completed: flag("completed"),
        paused: flag("paused"),
        field,
    })
}

fn parse_bool(v: Option<String>) -> Option<bool> {
    match v?.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

struct Row {
    facts: TicketFacts,
    /// The requester's upstream id (see [`requester_id`]): comments pulled before names were
    /// mapped carry it as their author.
    requester_id: Option<String>,
    state_now: TicketState,
    priority_now: Priority,
    first_state: Option<TicketState>,
    first_priority: Option<Priority>,
    has_comments: bool,
    /// The upstream's resolution cycle, judged in [`finish`] (it may need the resolution time).
    cycle: Option<UpstreamCycle>,
}

// Most tickets have no upstream fields: their `extra` is not parsed.
const TICKET_SQL: &str = "SELECT id, key, source, requester, assignee, assignment_group, state, \
    priority, created_at, first_response_at, \
    CASE WHEN extra = '{}' THEN NULL ELSE extra ->> '$.made_sla' END, revision, \
    CASE WHEN extra = '{}' OR extra ->> '$.made_sla' IS NOT NULL THEN NULL ELSE extra -> '$.sla' END, \
    CASE WHEN extra = '{}' THEN NULL ELSE coalesce(extra ->> '$.reporter_account_id', \
    CAST(extra ->> '$.requester_id' AS TEXT), extra ->> '$.caller_id_sys_id') END \
    FROM tickets";

/// The requester's upstream id as the connectors keep it in `extra` (Jira
/// `reporter_account_id`, Zendesk `requester_id`, ServiceNow `caller_id_sys_id`; the same
/// choice as [`TICKET_SQL`]). The requester shows as a name since connectors map people; a
/// comment pulled before that was recorded with the author's id, which must still read as the
/// requester's (else the requester's own reply would count as the first response).
fn requester_id(extra: &serde_json::Value) -> Option<String> {
    ["reporter_account_id", "requester_id", "caller_id_sys_id"]
        .iter()
        .find_map(|k| match extra.get(*k)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

// The event log's SLA-relevant part, one narrow row per edit or comment (migration 0009), in
// ticket order: read without parsing any JSON.
const FACT_SQL: &str = "SELECT ticket_id, kind, at, state_from, state_to, priority_from, \
    priority_to, public, actor FROM sla_event_facts";

fn ticket_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let state: String = r.get(6)?;
    let state_now = state.parse().unwrap_or(TicketState::Open);
    let priority_now = Priority::from_rank(r.get(7)?).unwrap_or(Priority::Medium);
    let made: Option<rusqlite::types::Value> = r.get(10)?;
    let mut cycle = None;
    let made = match made {
        Some(rusqlite::types::Value::Text(s)) => parse_bool(Some(s)).map(|b| (b, MADE_SLA)),
        Some(rusqlite::types::Value::Integer(i)) => Some((i != 0, MADE_SLA)),
        // Only tickets with an upstream SLA array get here with text.
        _ => {
            cycle = r
                .get::<_, Option<String>>(12)?
                .and_then(|sla| serde_json::from_str(&sla).ok())
                .and_then(|sla| upstream_cycle(&sla));
            None
        }
    };
    let facts = TicketFacts {
        id: r.get(0)?,
        key: r.get(1)?,
        source: r.get(2)?,
        requester: r.get(3)?,
        assignee: r.get(4)?,
        group: r.get(5)?,
        created_at: r.get(8)?,
        initial_state: state_now,
        initial_priority: priority_now,
        changes: Vec::with_capacity(4),
        first_response_at: r.get(9)?,
        upstream_made_sla: made.map(|(b, _)| b),
        upstream_field: made.map_or(MADE_SLA, |(_, field)| field),
        upstream_breach_at: None,
        upstream_running: false,
        touches: Vec::with_capacity(4),
        revision: r.get(11)?,
    };
    Ok(Row {
        facts,
        requester_id: r.get(13)?,
        state_now,
        priority_now,
        first_state: None,
        first_priority: None,
        has_comments: false,
        cycle,
    })
}

/// One event, reduced to what matters here (borrowed from the row or the event).
struct Ev<'a> {
    kind: &'a str,
    actor: &'a str,
    at: Millis,
    state_from: Option<&'a str>,
    state_to: Option<&'a str>,
    priority_from: Option<&'a str>,
    priority_to: Option<&'a str>,
    visibility: Option<&'a str>,
}

fn add_fact(row: &mut Row, r: &rusqlite::Row<'_>) -> rusqlite::Result<()> {
    let kind = match r.get::<_, i64>(1)? {
        1 => "updated",
        2 => "commented",
        _ => return Ok(()),
    };
    // A value that is not text (a number or null in the event's JSON) is no SLA change.
    let text = |i: usize| -> rusqlite::Result<Option<&str>> { Ok(r.get_ref(i)?.as_str().ok()) };
    let public: bool = r.get(7)?;
    let ev = Ev {
        kind,
        actor: text(8)?.unwrap_or_default(),
        at: r.get(2)?,
        state_from: text(3)?,
        state_to: text(4)?,
        priority_from: text(5)?,
        priority_to: text(6)?,
        visibility: public.then_some("public"),
    };
    add(row, ev);
    Ok(())
}

fn add(row: &mut Row, ev: Ev<'_>) {
    let at = ev.at;
    match ev.kind {
        "updated" => {
            row.facts.touches.push(at);
            let s_from = ev.state_from;
            let s_to = ev.state_to;
            let p_from = ev.priority_from;
            let p_to = ev.priority_to;
            if let Some(to) = s_to.and_then(|s| s.parse::<TicketState>().ok()) {
                if row.first_state.is_none() {
                    row.first_state = s_from.and_then(|s| s.parse().ok()).or(Some(to));
                }
                row.facts.changes.push(Change {
                    at,
                    kind: ChangeKind::State(to),
                });
            }
            if let Some(to) = p_to.and_then(|s| s.parse::<Priority>().ok()) {
                if row.first_priority.is_none() {
                    row.first_priority = p_from.and_then(|s| s.parse().ok()).or(Some(to));
                }
                row.facts.changes.push(Change {
                    at,
                    kind: ChangeKind::Priority(to),
                });
            }
        }
        "commented" => {
            row.has_comments = true;
            let by_requester = row.facts.requester.as_deref() == Some(ev.actor)
                || row.requester_id.as_deref() == Some(ev.actor);
            if !by_requester {
                row.facts.touches.push(at);
            }
            if ev.visibility == Some("public") && !by_requester {
                row.facts.changes.push(Change {
                    at,
                    kind: ChangeKind::PublicReply,
                });
            }
        }
        _ => {}
    }
}

fn finish(mut row: Row) -> TicketFacts {
    // Events arrive in log order; action times decide (a stable sort keeps log order on ties).
    row.facts.changes.sort_by_key(|c| c.at);
    row.facts.touches.sort_unstable();
    row.facts.initial_state = row.first_state.unwrap_or(row.state_now);
    row.facts.initial_priority = row.first_priority.unwrap_or(row.priority_now);
    if row.has_comments {
        // The log has the comments: it decides (the stored column counts any public comment,
        // the requester's included).
        row.facts.first_response_at = None;
    }
    if let Some(c) = row.cycle {
        // When the ticket was last resolved (and not reopened since), from the log.
        let mut resolved_at = None;
        for ch in &row.facts.changes {
            if let ChangeKind::State(s) = ch.kind {
                resolved_at = s.is_done().then_some(ch.at);
            }
        }
        let f = &mut row.facts;
        f.upstream_made_sla = c.verdict(resolved_at);
        if f.upstream_made_sla.is_some() {
            f.upstream_field = c.field;
            f.upstream_breach_at = c.breach_at;
            f.upstream_running = !c.completed && !c.paused;
        }
    }
    row.facts
}

pub(crate) fn load(c: &Connection, one: Option<TicketId>) -> Result<Vec<TicketFacts>> {
    let filter = |column: &str| match one {
        Some(_) => format!("{column} = ?1"),
        None => "?1 IS NULL".to_owned(),
    };
    let mut rows: Vec<Row> = Vec::new();
    {
        let sql = format!("{TICKET_SQL} WHERE {} ORDER BY id", filter("id"));
        let mut stmt = c.prepare_cached(&sql)?;
        let mut q = stmt.query([one])?;
        while let Some(r) = q.next()? {
            rows.push(ticket_row(r)?);
        }
    }
    // Both lists are in ticket order: one merge, no lookups.
    let sql = format!(
        "{FACT_SQL} WHERE {} ORDER BY ticket_id, event_id",
        filter("ticket_id")
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let mut q = stmt.query([one])?;
    let mut i = 0;
    while let Some(r) = q.next()? {
        let id: TicketId = r.get(0)?;
        while rows.get(i).is_some_and(|row| row.facts.id < id) {
            i += 1;
        }
        match rows.get_mut(i) {
            Some(row) if row.facts.id == id => add_fact(row, r)?,
            // Events of a ticket that no longer exists.
            _ => {}
        }
    }
    Ok(rows.into_iter().map(finish).collect())
}

impl TicketFacts {
    /// The facts of a ticket from its row and its events as the store returns them (the per-ticket
    /// path: the benchmark's baseline, and a cross-check of the bulk loader).
    pub fn from_events(t: &Ticket, events: &[Event]) -> TicketFacts {
        let mut row = Row {
            facts: TicketFacts::new(t.id, t.created_at, t.state, t.priority),
            requester_id: requester_id(&t.extra),
            state_now: t.state,
            priority_now: t.priority,
            first_state: None,
            first_priority: None,
            has_comments: false,
            cycle: None,
        };
        let f = &mut row.facts;
        f.key = t.key.clone();
        f.source = t.source.clone();
        f.requester = t.requester.clone();
        f.assignee = t.assignee.clone();
        f.group = t.assignment_group.clone();
        f.first_response_at = t.first_response_at;
        f.revision = t.revision;
        match upstream_resolution_sla(&t.extra) {
            Some((made, MADE_SLA)) => f.upstream_made_sla = Some(made),
            _ => row.cycle = t.extra.get("sla").and_then(upstream_cycle),
        }
        fn text(v: Option<&serde_json::Value>) -> Option<&str> {
            v.and_then(|v| v.as_str())
        }
        for e in events {
            let change = |field: &str, end: &str| {
                text(
                    e.data
                        .get("changes")
                        .and_then(|c| c.get(field))
                        .and_then(|c| c.get(end)),
                )
            };
            let ev = Ev {
                kind: match e.kind {
                    EventKind::Created => "created",
                    EventKind::Updated => "updated",
                    EventKind::Commented => "commented",
                },
                actor: &e.actor,
                at: e.at,
                state_from: change("state", "from"),
                state_to: change("state", "to"),
                priority_from: change("priority", "from"),
                priority_to: change("priority", "to"),
                visibility: text(e.data.get("visibility")),
            };
            add(&mut row, ev);
        }
        finish(row)
    }
}

/// Writes the compact SLA facts of one event (migration 0009's table) beside it: called by the
/// store for every event it appends, in the same transaction. Edits and comments only; the same
/// values the JSON path reads.
pub(crate) fn record_event(
    tx: &Connection,
    event_id: i64,
    ticket_id: TicketId,
    kind: &str,
    actor: &str,
    at: Millis,
    data: &serde_json::Value,
) -> rusqlite::Result<()> {
    let kind_code = match kind {
        "updated" => 1,
        "commented" => 2,
        _ => return Ok(()),
    };
    let change = |field: &str, end: &str| {
        data.get("changes")
            .and_then(|c| c.get(field))
            .and_then(|c| c.get(end))
            .and_then(|v| v.as_str())
    };
    let public =
        kind_code == 2 && data.get("visibility").and_then(|v| v.as_str()) == Some("public");
    tx.prepare_cached(
        "INSERT INTO sla_event_facts (ticket_id, event_id, at, kind, state_from, state_to, \
         priority_from, priority_to, public, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(rusqlite::params![
        ticket_id,
        event_id,
        at,
        kind_code,
        change("state", "from"),
        change("state", "to"),
        change("priority", "from"),
        change("priority", "to"),
        public,
        (kind_code == 2).then_some(actor),
    ])?;
    Ok(())
}

// ---- The previous bulk loader: the event log's JSON, parsed per event --------------------------
// Kept as the benchmark's baseline for the compact table and as a cross-check of it.

const EVENT_SQL: &str = "SELECT ticket_id, kind, CASE kind WHEN 'commented' THEN actor END, at, \
    data FROM events WHERE kind != 'created' ORDER BY id";

/// The parts of an event's `data` the SLA reads; everything else is skipped unparsed.
#[derive(serde::Deserialize, Default)]
struct Data<'a> {
    #[serde(borrow, default)]
    changes: Option<Changes<'a>>,
    #[serde(borrow, default)]
    visibility: Option<std::borrow::Cow<'a, str>>,
}

#[derive(serde::Deserialize, Default)]
struct Changes<'a> {
    #[serde(borrow, default)]
    state: Option<FromTo<'a>>,
    #[serde(borrow, default)]
    priority: Option<FromTo<'a>>,
}

#[derive(serde::Deserialize, Default)]
struct FromTo<'a> {
    #[serde(borrow, default)]
    from: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    to: Option<std::borrow::Cow<'a, str>>,
}

fn add_event(row: &mut Row, r: &rusqlite::Row<'_>) -> rusqlite::Result<()> {
    let kind = r.get_ref(1)?.as_str()?;
    if kind != "updated" && kind != "commented" {
        return Ok(());
    }
    let text = r.get_ref(4)?.as_str()?;
    // A document that is not what the store writes counts as an event without SLA changes.
    let data: Data<'_> = serde_json::from_str(text).unwrap_or_default();
    let (state, priority) = match &data.changes {
        Some(c) => (c.state.as_ref(), c.priority.as_ref()),
        None => (None, None),
    };
    let ev = Ev {
        kind,
        actor: r.get_ref(2)?.as_str_or_null()?.unwrap_or_default(),
        at: r.get(3)?,
        state_from: state.and_then(|c| c.from.as_deref()),
        state_to: state.and_then(|c| c.to.as_deref()),
        priority_from: priority.and_then(|c| c.from.as_deref()),
        priority_to: priority.and_then(|c| c.to.as_deref()),
        visibility: data.visibility.as_deref(),
    };
    add(row, ev);
    Ok(())
}

fn load_from_event_log(c: &Connection) -> Result<Vec<TicketFacts>> {
    let mut rows: Vec<Row> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let mut stmt = c.prepare_cached(&format!("{TICKET_SQL} ORDER BY id"))?;
    let mut q = stmt.query([])?;
    while let Some(r) = q.next()? {
        let row = ticket_row(r)?;
        index.insert(row.facts.id, rows.len());
        rows.push(row);
    }
    let mut stmt = c.prepare_cached(EVENT_SQL)?;
    let mut q = stmt.query([])?;
    // Events of one ticket are mostly adjacent in the log: remember the last one looked up.
    let mut last: Option<(TicketId, usize)> = None;
    while let Some(r) = q.next()? {
        let id: TicketId = r.get(0)?;
        let i = match last {
            Some((l, i)) if l == id => Some(i),
            _ => index.get(&id).copied(),
        };
        if let Some(i) = i {
            last = Some((id, i));
            add_event(&mut rows[i], r)?;
        }
    }
    Ok(rows.into_iter().map(finish).collect())
}

impl Store {
    /// [`Store::sla_facts_all`] the way it was read before the compact table (migration 0009):
    /// every event's JSON parsed. The benchmark's baseline, and a cross-check in tests.
    pub fn sla_facts_all_from_event_log(&self) -> Result<Vec<TicketFacts>> {
        self.read(load_from_event_log)
    }

    /// The SLA facts of every ticket, in one pass over the tickets and one over the event log.
    pub fn sla_facts_all(&self) -> Result<Vec<TicketFacts>> {
        self.read(|c| load(c, None))
    }

    /// The SLA facts of one ticket (`None` when there is no such ticket).
    pub fn sla_facts(&self, id: TicketId) -> Result<Option<TicketFacts>> {
        self.read(|c| Ok(load(c, Some(id))?.into_iter().next()))
    }
}
