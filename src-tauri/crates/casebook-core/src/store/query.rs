//! The queue query: filters, sort orders and pages. Shared by the UI, the CLI and saved views, so
//! "open, high priority, tagged vpn" means the same thing everywhere.

use super::{Result, Store, StoreError};
use crate::model::{Millis, Priority, TicketId, TicketState};
use rusqlite::types::Value;
use rusqlite::{Connection, Row};
use serde::{Deserialize, Serialize};

/// Which tickets to show. Empty lists mean "any". Values within one list are OR-ed; the lists
/// are AND-ed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(default, rename_all = "camelCase")]
pub struct TicketFilter {
    pub states: Vec<TicketState>,
    pub priorities: Vec<Priority>,
    pub assignees: Vec<String>,
    /// Also match tickets with no assignee.
    pub unassigned: bool,
    pub groups: Vec<String>,
    /// A ticket must carry every one of these tags.
    pub tags: Vec<String>,
    pub sources: Vec<String>,
    /// Free text over key, title and description: every word must match; the last word matches as
    /// a prefix so results follow typing.
    pub text: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Most urgent first, then most recently updated.
    Priority,
    #[default]
    Updated,
    Created,
    /// Most urgent SLA first: the earliest breach or due time, then paused tickets by business
    /// time left, then tickets with no running SLA (by last update). The values come from the SLA
    /// layer (see [`Store::query_tickets_ranked`]).
    Risk,
}

/// The [`SortKey::Risk`] value of a ticket without one (sorts last).
pub const NO_RISK: i64 = i64::MAX;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(default, rename_all = "camelCase")]
pub struct TicketQuery {
    pub filter: TicketFilter,
    pub sort: SortKey,
    /// Reverse the sort's natural direction (oldest first, least urgent first).
    pub reverse: bool,
    pub offset: u32,
    pub limit: u32,
}

impl Default for TicketQuery {
    fn default() -> Self {
        TicketQuery {
            filter: TicketFilter::default(),
            sort: SortKey::default(),
            reverse: false,
            offset: 0,
            limit: 50,
        }
    }
}

/// Most values of one kind the filter pickers get.
const FACET_LIMIT: usize = 500;

/// Largest page a caller may ask for.
pub const MAX_PAGE: u32 = 1_000;

/// One line of the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketRow {
    pub id: TicketId,
    pub key: String,
    pub source: String,
    pub title: String,
    pub state: TicketState,
    pub priority: Priority,
    pub assignee: Option<String>,
    pub assignment_group: Option<String>,
    pub requester: Option<String>,
    pub tags: Vec<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Local changes not yet pushed upstream.
    pub pending_ops: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketPage {
    pub total: u64,
    pub offset: u32,
    pub rows: Vec<TicketRow>,
}

/// Distinct values for the filter pickers, most frequent first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facets {
    pub assignees: Vec<(String, u64)>,
    pub groups: Vec<(String, u64)>,
    pub tags: Vec<(String, u64)>,
    pub sources: Vec<(String, u64)>,
}

struct Sql {
    where_: String,
    params: Vec<Value>,
}

fn push_in(sql: &mut Sql, column: &str, values: impl IntoIterator<Item = Value>) {
    let values: Vec<Value> = values.into_iter().collect();
    if values.is_empty() {
        return;
    }
    let marks = vec!["?"; values.len()].join(",");
    sql.where_.push_str(&format!(" AND {column} IN ({marks})"));
    sql.params.extend(values);
}

/// Above this many matches a page is found faster by walking the sort index than by sorting.
const DENSE_FROM: u64 = 2_000;
/// Up to this many tickets in the tag/text intersection, those ids drive the page query.
const DRIVE_FROM_IDS_UP_TO: u64 = 5_000;

/// A set of ticket ids (the tickets a tag selects) as a bitset. Passed to SQL as a blob and tested
/// per row by `cb_in_set(blob, id)`: a bit test costs nanoseconds, so walking an index stays cheap
/// however common the tag.
#[derive(Debug, Clone, Default)]
pub(crate) struct IdSet {
    count: u64,
    bits: Vec<u8>,
}

impl IdSet {
    fn load(c: &Connection, sql: &str, param: &str) -> Result<IdSet> {
        let mut stmt = c.prepare_cached(sql)?;
        let mut rows = stmt.query([param])?;
        let mut set = IdSet::default();
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let Ok(id) = usize::try_from(id) else {
                continue;
            };
            if set.bits.len() <= id / 8 {
                set.bits.resize(id / 8 + 1 + set.bits.len() / 2, 0);
            }
            if set.bits[id / 8] & (1 << (id % 8)) == 0 {
                set.bits[id / 8] |= 1 << (id % 8);
                set.count += 1;
            }
        }
        Ok(set)
    }

    fn intersect(mut self, other: &IdSet) -> IdSet {
        self.bits.truncate(other.bits.len());
        for (a, b) in self.bits.iter_mut().zip(&other.bits) {
            *a &= b;
        }
        self.count = self.bits.iter().map(|b| u64::from(b.count_ones())).sum();
        self
    }

    fn ids(&self) -> impl Iterator<Item = usize> + '_ {
        self.bits.iter().enumerate().flat_map(|(byte, b)| {
            (0..8)
                .filter(move |bit| b & (1 << bit) != 0)
                .map(move |bit| byte * 8 + bit)
        })
    }
}

/// The tag part of a filter, resolved to one intersected id set (`None`: no tags).
fn load_sets(c: &Connection, filter: &TicketFilter) -> Result<Option<IdSet>> {
    let mut acc: Option<IdSet> = None;
    for tag in crate::model::normalize_tags(&filter.tags) {
        if acc.as_ref().is_some_and(|a| a.count == 0) {
            break;
        }
        let set = IdSet::load(c, "SELECT ticket_id FROM ticket_tags WHERE tag = ?", &tag)?;
        acc = Some(match acc {
            None => set,
            Some(a) => a.intersect(&set),
        });
    }
    Ok(acc)
}

/// Registers `cb_in_set(bits BLOB, id INTEGER)` on a connection.
pub(crate) fn register_functions(c: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    c.create_scalar_function(
        "cb_in_set",
        2,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| {
            let bits = ctx.get_raw(0).as_blob().unwrap_or(&[]);
            let id: i64 = ctx.get(1)?;
            let hit = usize::try_from(id)
                .ok()
                .and_then(|id| bits.get(id / 8).map(|b| b & (1 << (id % 8)) != 0))
                .unwrap_or(false);
            Ok(hit)
        },
    )
}

/// How the tag/text id set enters the query.
enum SetUse<'a> {
    /// Its ids drive the query (few of them).
    Drive(&'a IdSet),
    /// Each row is tested against it.
    Probe(&'a IdSet),
}

/// The attribute part of a filter (state, priority, people, source). With `hint`, the columns are
/// written `+t.col` so SQLite walks the sort order's index instead of the filter's.
fn build_where(filter: &TicketFilter, hint: bool, set: Option<SetUse<'_>>) -> Sql {
    let mut sql = Sql {
        where_: String::from("1=1"),
        params: Vec::new(),
    };
    let col = |name: &str| {
        if hint {
            format!("+t.{name}")
        } else {
            format!("t.{name}")
        }
    };
    push_in(
        &mut sql,
        &col("state"),
        filter.states.iter().map(|s| Value::Text(s.as_str().into())),
    );
    push_in(
        &mut sql,
        &col("priority"),
        filter.priorities.iter().map(|p| Value::Integer(p.rank())),
    );
    if !filter.assignees.is_empty() || filter.unassigned {
        let mut parts = Vec::new();
        if !filter.assignees.is_empty() {
            parts.push(format!(
                "{} IN ({})",
                col("assignee"),
                vec!["?"; filter.assignees.len()].join(",")
            ));
            sql.params
                .extend(filter.assignees.iter().map(|a| Value::Text(a.clone())));
        }
        if filter.unassigned {
            parts.push(format!("{} IS NULL", col("assignee")));
        }
        sql.where_
            .push_str(&format!(" AND ({})", parts.join(" OR ")));
    }
    push_in(
        &mut sql,
        &col("assignment_group"),
        filter.groups.iter().map(|g| Value::Text(g.clone())),
    );
    push_in(
        &mut sql,
        &col("source"),
        filter.sources.iter().map(|s| Value::Text(s.clone())),
    );
    match set {
        None => {}
        Some(SetUse::Drive(s)) => {
            let ids: Vec<String> = s.ids().map(|i| i.to_string()).collect();
            sql.where_
                .push_str(" AND t.id IN (SELECT value FROM json_each(?))");
            sql.params.push(Value::Text(format!("[{}]", ids.join(","))));
        }
        Some(SetUse::Probe(s)) => {
            sql.where_.push_str(" AND cb_in_set(?, t.id)");
            sql.params.push(Value::Blob(s.bits.clone()));
        }
    }
    sql
}

fn has_attributes(f: &TicketFilter) -> bool {
    !(f.states.is_empty()
        && f.priorities.is_empty()
        && f.assignees.is_empty()
        && !f.unassigned
        && f.groups.is_empty()
        && f.sources.is_empty())
}

fn order_by(sort: SortKey, reverse: bool) -> &'static str {
    match (sort, reverse) {
        (SortKey::Priority, false) => "t.priority ASC, t.updated_at DESC, t.id DESC",
        (SortKey::Priority, true) => "t.priority DESC, t.updated_at ASC, t.id ASC",
        (SortKey::Updated, false) => "t.updated_at DESC, t.id DESC",
        (SortKey::Updated, true) => "t.updated_at ASC, t.id ASC",
        (SortKey::Created, false) => "t.created_at DESC, t.id DESC",
        (SortKey::Created, true) => "t.created_at ASC, t.id ASC",
        // Never reached (a risk order always goes to the queue index); this is the order the
        // index gives when no ticket has a risk value.
        (SortKey::Risk, false) => "t.updated_at DESC, t.id DESC",
        (SortKey::Risk, true) => "t.updated_at ASC, t.id ASC",
    }
}

pub(crate) const ROW_COLUMNS: &str = "t.id, t.key, t.source, t.title, t.state, t.priority, \
    t.assignee, t.assignment_group, t.requester, t.tags, t.created_at, t.updated_at, \
    (SELECT count(*) FROM outbox o WHERE o.status IN ('pending','in_flight','unknown','conflict','failed') AND o.ticket_id = t.id)";

pub(crate) fn row_from_sql(r: &Row<'_>) -> rusqlite::Result<TicketRow> {
    Ok(TicketRow {
        id: r.get(0)?,
        key: r.get(1)?,
        source: r.get(2)?,
        title: r.get(3)?,
        state: parse_state(r, 4)?,
        priority: parse_priority(r, 5)?,
        assignee: r.get(6)?,
        assignment_group: r.get(7)?,
        requester: r.get(8)?,
        tags: split_tags(&r.get::<_, String>(9)?),
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
        pending_ops: r.get(12)?,
    })
}

/// Reads a text column holding one of an enum's spellings (state, visibility, link kind).
pub(crate) fn parse_text<T>(r: &Row<'_>, idx: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let s: String = r.get(idx)?;
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(crate) fn parse_state(r: &Row<'_>, idx: usize) -> rusqlite::Result<TicketState> {
    parse_text(r, idx)
}

pub(crate) fn parse_priority(r: &Row<'_>, idx: usize) -> rusqlite::Result<Priority> {
    let rank: i64 = r.get(idx)?;
    Priority::from_rank(rank).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Integer,
            format!("priority rank {rank}").into(),
        )
    })
}

pub(crate) fn split_tags(joined: &str) -> Vec<String> {
    if joined.is_empty() {
        Vec::new()
    } else {
        joined.split(',').map(str::to_owned).collect()
    }
}

impl Store {
    /// One page of the queue and the total number of tickets the filter matches.
    ///
    /// Answered from the in-memory queue index once it exists (see `queue_index.rs`); free text
    /// always needs it, so a text filter builds it if need be. Before that, attribute and tag
    /// filters are answered by SQL (the first page right after opening a workspace).
    pub fn query_tickets(&self, q: &TicketQuery) -> Result<TicketPage> {
        self.query_tickets_ranked(q, &|_| NO_RISK)
    }

    /// [`Store::query_tickets`] with the values [`SortKey::Risk`] orders by: `risk(id)`, smaller
    /// is more urgent, [`NO_RISK`] for none. A risk order is always answered by the queue index.
    pub fn query_tickets_ranked(
        &self,
        q: &TicketQuery,
        risk: &dyn Fn(TicketId) -> i64,
    ) -> Result<TicketPage> {
        if q.limit > MAX_PAGE {
            return Err(StoreError::Invalid(format!(
                "page size {} is over {MAX_PAGE}",
                q.limit
            )));
        }
        let build = has_text(&q.filter) || q.sort == SortKey::Risk;
        if let Some(index) = self.queue_index(build)? {
            let (ids, total) = index.page(&q.filter, q.sort, q.reverse, q.offset, q.limit, risk);
            let rows = self.read(|c| rows_by_id(c, &ids))?;
            return Ok(TicketPage {
                total,
                offset: q.offset,
                rows,
            });
        }
        self.read(|c| {
            let set = load_sets(c, &q.filter)?;
            let total = count_with(c, &q.filter, set.as_ref())?;
            let sql = match &set {
                Some(s) if s.count <= DRIVE_FROM_IDS_UP_TO => {
                    build_where(&q.filter, false, Some(SetUse::Drive(s)))
                }
                // Many candidates: probe them per row; walk the sort index only if the combined
                // result is dense too, else let the attribute filter's index drive.
                Some(s) => build_where(&q.filter, total > DENSE_FROM, Some(SetUse::Probe(s))),
                None => build_where(&q.filter, total > DENSE_FROM, None),
            };
            let text = format!(
                "SELECT {ROW_COLUMNS} FROM tickets t WHERE {} ORDER BY {} LIMIT ? OFFSET ?",
                sql.where_,
                order_by(q.sort, q.reverse)
            );
            let mut params = sql.params;
            params.push(Value::Integer(i64::from(q.limit)));
            params.push(Value::Integer(i64::from(q.offset)));
            let mut stmt = c.prepare_cached(&text)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(params), row_from_sql)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(TicketPage {
                total,
                offset: q.offset,
                rows,
            })
        })
    }

    /// How many tickets each filter matches (the counts beside saved views), in one snapshot.
    pub fn count_tickets(&self, filters: &[TicketFilter]) -> Result<Vec<u64>> {
        if let Some(index) = self.queue_index(filters.iter().any(has_text))? {
            return Ok(filters.iter().map(|f| index.count(f)).collect());
        }
        self.read(|c| {
            filters
                .iter()
                .map(|f| {
                    let set = load_sets(c, f)?;
                    count_with(c, f, set.as_ref())
                })
                .collect()
        })
    }

    pub fn facets(&self) -> Result<Facets> {
        if let Some(index) = self.queue_index(false)? {
            return Ok(index.facets(FACET_LIMIT));
        }
        self.read(|c| {
            let top = |sql: &str| -> Result<Vec<(String, u64)>> {
                let mut stmt = c.prepare_cached(sql)?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            };
            Ok(Facets {
                assignees: top(
                    "SELECT assignee, count(*) n FROM tickets WHERE assignee IS NOT NULL \
                     GROUP BY assignee ORDER BY n DESC, assignee LIMIT 500",
                )?,
                groups: top(
                    "SELECT assignment_group, count(*) n FROM tickets WHERE assignment_group IS NOT NULL \
                     GROUP BY assignment_group ORDER BY n DESC, assignment_group LIMIT 500",
                )?,
                tags: top(
                    "SELECT tag, count(*) n FROM ticket_tags GROUP BY tag ORDER BY n DESC, tag LIMIT 500",
                )?,
                sources: top(
                    "SELECT source, count(*) n FROM tickets GROUP BY source ORDER BY n DESC, source",
                )?,
            })
        })
    }
}

fn has_text(f: &TicketFilter) -> bool {
    f.text
        .as_deref()
        .is_some_and(|t| t.chars().any(char::is_alphanumeric))
}

/// The queue rows of `ids`, in that order (a ticket deleted meanwhile is left out).
fn rows_by_id(c: &Connection, ids: &[i64]) -> Result<Vec<TicketRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {ROW_COLUMNS} FROM tickets t WHERE t.id IN (SELECT value FROM json_each(?))"
    ))?;
    let mut found: std::collections::HashMap<i64, TicketRow> = stmt
        .query_map([format!("[{}]", list.join(","))], row_from_sql)?
        .map(|r| r.map(|row| (row.id, row)))
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

fn count_with(c: &Connection, filter: &TicketFilter, set: Option<&IdSet>) -> Result<u64> {
    let sql = match set {
        // Tags and text only: the size of their intersection.
        Some(s) if !has_attributes(filter) || s.count == 0 => return Ok(s.count),
        // Few candidates: test just those.
        Some(s) if s.count <= DRIVE_FROM_IDS_UP_TO => {
            build_where(filter, false, Some(SetUse::Drive(s)))
        }
        // Many: the covering filter index is scanned and each entry tested.
        Some(s) => build_where(filter, false, Some(SetUse::Probe(s))),
        None => build_where(filter, false, None),
    };
    let mut stmt = c.prepare_cached(&format!(
        "SELECT count(*) FROM tickets t WHERE {}",
        sql.where_
    ))?;
    let n: i64 = stmt.query_row(rusqlite::params_from_iter(sql.params), |r| r.get(0))?;
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Behaviour tests of the queue query live in tickets.rs and queue_index.rs.

    use crate::model::NewTicket;
    use crate::store::test_support::temp_store;
    use crate::store::{ImportedTicket, OpenMode};

    const WORDS: &[&str] = &[
        "vpn",
        "printer",
        "outlook",
        "résumé",
        "password",
        "pass",
        "vpnclient",
    ];
    const PEOPLE: &[&str] = &["ana", "bo", "chen"];

    /// What the queue should show, computed the slow and obvious way from the table itself.
    fn oracle(store: &Store, q: &TicketQuery) -> (Vec<i64>, u64) {
        let risk = test_risk;
        type Row = (
            i64,
            String,
            String,
            String,
            i64,
            Option<String>,
            Option<String>,
            String,
            String,
            i64,
            i64,
        );
        let rows: Vec<Row> = store
            .read(|c| {
                let mut st = c.prepare(
                    "SELECT id, key || ' ' || title || ' ' || description, state, '', priority, \
                     assignee, assignment_group, source, tags, created_at, updated_at FROM tickets",
                )?;
                let v = st
                    .query_map([], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                            r.get(7)?,
                            r.get(8)?,
                            r.get(9)?,
                            r.get(10)?,
                        ))
                    })?
                    .collect::<rusqlite::Result<Vec<Row>>>()?;
                Ok(v)
            })
            .unwrap();
        let f = &q.filter;
        let mut qwords = Vec::new();
        if let Some(t) = &f.text {
            super::super::queue_index::for_each_word(t, |w| qwords.push(w.to_owned()));
        }
        let mut hits: Vec<&Row> = rows
            .iter()
            .filter(|r| {
                let mut words = Vec::new();
                super::super::queue_index::for_each_word(&r.1, |w| words.push(w.to_owned()));
                let tags = split_tags(&r.8);
                (f.states.is_empty() || f.states.iter().any(|s| s.as_str() == r.2))
                    && (f.priorities.is_empty() || f.priorities.iter().any(|p| p.rank() == r.4))
                    && ((f.assignees.is_empty() && !f.unassigned)
                        || r.5.as_ref().is_some_and(|a| f.assignees.contains(a))
                        || (f.unassigned && r.5.is_none()))
                    && (f.groups.is_empty() || r.6.as_ref().is_some_and(|g| f.groups.contains(g)))
                    && (f.sources.is_empty() || f.sources.contains(&r.7))
                    && f.tags.iter().all(|t| tags.contains(t))
                    && qwords.split_last().is_none_or(|(last, rest)| {
                        rest.iter().all(|w| words.contains(w))
                            && words.iter().any(|w| w.starts_with(last.as_str()))
                    })
            })
            .collect();
        hits.sort_by_key(|r| match (q.sort, q.reverse) {
            (SortKey::Priority, false) => (r.4, -r.10, -r.0),
            (SortKey::Priority, true) => (-r.4, r.10, r.0),
            (SortKey::Updated, false) => (-r.10, -r.0, 0),
            (SortKey::Updated, true) => (r.10, r.0, 0),
            (SortKey::Created, false) => (-r.9, -r.0, 0),
            (SortKey::Created, true) => (r.9, r.0, 0),
            (SortKey::Risk, false) => (risk(r.0), -r.10, -r.0),
            (SortKey::Risk, true) => (-risk(r.0), r.10, r.0),
        });
        let total = hits.len() as u64;
        let page = hits
            .iter()
            .skip(q.offset as usize)
            .take(q.limit as usize)
            .map(|r| r.0)
            .collect();
        (page, total)
    }

    fn ticket(i: usize, pick: &[usize]) -> ImportedTicket {
        let w = |k: usize| WORDS[pick[k] % WORDS.len()];
        let mut t = NewTicket::local(format!("{} {}", w(0), w(1)));
        t.key = Some(format!("INC{i}"));
        t.description = format!("the {} is broken", w(2));
        t.state = TicketState::ALL[pick[3] % TicketState::ALL.len()];
        t.priority = Priority::ALL[pick[4] % Priority::ALL.len()];
        t.assignee = (!pick[5].is_multiple_of(4)).then(|| PEOPLE[pick[5] % 3].to_owned());
        t.assignment_group = (!pick[6].is_multiple_of(3)).then(|| format!("g{}", pick[6] % 2));
        t.tags = (0..pick[7] % 3)
            .map(|k| format!("t{}", (pick[7] + k) % 3))
            .collect();
        t.created_at = Some((pick[8] % 20) as i64);
        t.updated_at = Some((pick[9] % 20) as i64 + 20);
        if pick[0].is_multiple_of(5) {
            t.source = "servicenow:main".into();
        }
        ImportedTicket {
            ticket: t,
            created_by: None,
            history: vec![],
        }
    }

    fn filter_from(p: &[usize]) -> TicketQuery {
        let mut f = TicketFilter::default();
        if p[0].is_multiple_of(3) {
            f.states = vec![TicketState::ALL[p[1] % 6], TicketState::Open];
        }
        if p[2].is_multiple_of(4) {
            f.priorities = vec![Priority::ALL[p[3] % 4]];
        }
        if p[4].is_multiple_of(4) {
            f.assignees = vec![PEOPLE[p[5] % 3].to_owned(), "nobody".into()];
            f.unassigned = p[5].is_multiple_of(2);
        }
        if p[6].is_multiple_of(4) {
            f.groups = vec![format!("g{}", p[7] % 3)];
        }
        if p[8].is_multiple_of(4) {
            f.tags = vec![format!("t{}", p[9] % 3)];
        }
        if p[10].is_multiple_of(5) {
            f.sources = vec!["local".into()];
        }
        if p[11].is_multiple_of(2) {
            let w = WORDS[p[12] % WORDS.len()];
            let cut = 1 + p[13] % w.chars().count();
            let prefix: String = w.chars().take(cut).collect();
            f.text = Some(if p[14].is_multiple_of(2) {
                format!("  {} {prefix}", WORDS[p[15] % WORDS.len()].to_uppercase())
            } else {
                prefix
            });
        }
        TicketQuery {
            filter: f,
            sort: [
                SortKey::Priority,
                SortKey::Updated,
                SortKey::Created,
                SortKey::Risk,
            ][p[16] % 4],
            reverse: p[17].is_multiple_of(3),
            offset: (p[18] % 4) as u32 * 3,
            limit: 1 + (p[19] % 10) as u32,
        }
    }

    /// Risk values for the property test: ties, none, and negative instants.
    fn test_risk(id: i64) -> i64 {
        match id % 5 {
            0 => NO_RISK,
            k => (id * 7_919) % 11 - 4 * k,
        }
    }

    fn page_ids(p: &TicketPage) -> Vec<i64> {
        p.rows.iter().map(|r| r.id).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// The queue index, the SQL plans and the obvious implementation agree, before and after
        /// edits, new tickets and deletions reach the index through the writer's update hook.
        #[test]
        fn index_sql_and_oracle_agree(
            seeds in proptest::collection::vec(proptest::collection::vec(0usize..1000, 10), 30..60),
            queries in proptest::collection::vec(proptest::collection::vec(0usize..1000, 20), 12),
            edits in proptest::collection::vec((0usize..60, 0usize..1000, 0usize..6), 8),
        ) {
            let (_dir, store) = temp_store();
            let batch: Vec<_> = seeds.iter().enumerate().map(|(i, p)| ticket(i, p)).collect();
            store.import_batch(&batch, "test", 1).unwrap();
            // A second handle on the same file has no index yet: it answers by SQL.
            let sql_store = Store::open(store.path(), OpenMode::MustExist).unwrap();
            store.warm_queue_index().unwrap();
            let check = |store: &Store, sql_store: Option<&Store>| -> std::result::Result<(), TestCaseError> {
                for p in &queries {
                    let q = filter_from(p);
                    let want = oracle(store, &q);
                    let got = store.query_tickets_ranked(&q, &test_risk).unwrap();
                    prop_assert_eq!((page_ids(&got), got.total), want.clone(), "index: {:?}", q);
                    prop_assert_eq!(store.count_tickets(std::slice::from_ref(&q.filter)).unwrap(), vec![want.1]);
                    // (A risk order builds the index: the SQL handle is left for the others.)
                    if let Some(s) = sql_store.filter(|_| !has_text(&q.filter) && q.sort != SortKey::Risk) {
                        let got = s.query_tickets(&q).unwrap();
                        prop_assert_eq!((page_ids(&got), got.total), want, "sql: {:?}", q);
                    }
                }
                Ok(())
            };
            check(&store, Some(&sql_store))?;
            prop_assert_eq!(store.facets().unwrap(), sql_store.facets().unwrap());
            drop(sql_store);
            for (which, v, kind) in &edits {
                let id = (*which % seeds.len()) as i64 + 1;
                store.write(|tx| {
                    match kind {
                        0 => tx.execute("UPDATE tickets SET state = ? WHERE id = ?", rusqlite::params![TicketState::ALL[v % 6].as_str(), id])?,
                        1 => tx.execute("UPDATE tickets SET assignee = ?, updated_at = ? WHERE id = ?", rusqlite::params![PEOPLE[v % 3], (*v % 40) as i64, id])?,
                        2 => tx.execute("UPDATE tickets SET title = ? WHERE id = ?", rusqlite::params![format!("{} now", WORDS[v % WORDS.len()]), id])?,
                        3 => tx.execute("UPDATE tickets SET tags = ? WHERE id = ?", rusqlite::params![format!("t{}", v % 3), id])?,
                        4 => tx.execute("DELETE FROM tickets WHERE id = ?", [id])?,
                        _ => {
                            let t = ticket(1000 + v, &[*v, v / 3, v / 7, *v, v / 2, *v, v / 5, *v, *v, v / 11]);
                            tx.execute("INSERT INTO tickets (key, source, title, description, state, priority, tags, created_at, updated_at) VALUES (?, 'local', ?, ?, ?, ?, ?, ?, ?)",
                                rusqlite::params![format!("NEW{v}-{id}"), t.ticket.title, t.ticket.description, t.ticket.state.as_str(), t.ticket.priority.rank(), t.ticket.tags.join(","), 5, 50])?
                        }
                    };
                    Ok(())
                }).unwrap();
                // A failed transaction changes nothing and must not confuse the index either.
                let _ = store.write(|tx| -> Result<()> {
                    tx.execute("UPDATE tickets SET state = 'closed'", [])?;
                    Err(StoreError::Invalid("rolled back".into()))
                });
            }
            check(&store, None)?;
        }
    }

    /// While the queue index is being built (the app warms it in the background right after
    /// opening), the first page, the view counts and the facets are answered by SQL instead of
    /// waiting for the build; a text query, which needs the index, waits for that one build.
    #[test]
    fn queries_that_can_do_without_the_index_do_not_wait_for_its_build() {
        let (_dir, store) = temp_store();
        let batch: Vec<_> = (0..40)
            .map(|i| ticket(i, &[i, i / 2, i / 3, i, i / 5, i, i / 7, i, i, i / 11]))
            .collect();
        store.import_batch(&batch, "test", 1).unwrap();
        let store = std::sync::Arc::new(store);
        let first_page = TicketQuery {
            filter: TicketFilter::default(),
            sort: SortKey::Updated,
            reverse: false,
            offset: 0,
            limit: 10,
        };
        // Stand in for a build in progress.
        let building = store.queue.building.lock().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let s = std::sync::Arc::clone(&store);
        let q = first_page.clone();
        std::thread::spawn(move || {
            let page = s.query_tickets(&q).unwrap();
            let counts = s.count_tickets(&[TicketFilter::default()]).unwrap();
            let facets = s.facets().unwrap();
            tx.send((page.total, counts, facets.sources.len())).unwrap();
        });
        let (total, counts, sources) = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the first page waited for the index build");
        assert_eq!((total, counts), (40, vec![40]));
        assert!(sources > 0);
        // A text query needs the index: it waits for the build, then builds it itself.
        let (tx, rx) = std::sync::mpsc::channel();
        let s = std::sync::Arc::clone(&store);
        let mut text = first_page.clone();
        text.filter.text = Some(WORDS[0].to_owned());
        std::thread::spawn(move || tx.send(s.query_tickets(&text).unwrap().total).unwrap());
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(300))
                .is_err()
        );
        drop(building);
        let total = rx.recv_timeout(std::time::Duration::from_secs(20)).unwrap();
        assert!(
            store.queue_index_bytes() > 0,
            "the text query built the index"
        );
        assert_eq!(
            total,
            oracle(&store, &{
                let mut q = first_page;
                q.filter.text = Some(WORDS[0].to_owned());
                q
            })
            .1
        );
    }
}
