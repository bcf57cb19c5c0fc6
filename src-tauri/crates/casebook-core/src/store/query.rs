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
}

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

/// Turns free text into a safe FTS5 query: each word quoted (so no user input is FTS syntax), all
/// words required, the last one as a prefix. `None` when the text has no searchable word.
pub fn fts_query(text: &str) -> Option<String> {
    // Bound the work for pasted walls of text: the first 32 words are plenty for a filter.
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(32)
        .collect();
    let (last, rest) = words.split_last()?;
    let mut q = String::new();
    for w in rest {
        q.push('"');
        q.push_str(w);
        q.push_str("\" ");
    }
    q.push('"');
    q.push_str(last);
    q.push_str("\"*");
    Some(q)
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

/// A set of ticket ids (the tickets a tag or a free-text filter selects) as a bitset. Passed to SQL
/// as a blob and tested per row by `cb_in_set(blob, id)`: a bit test costs nanoseconds where an
/// FTS5 probe costs microseconds (a prefix is expanded on every probe), so walking an index stays
/// cheap however common the word or tag.
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

/// The tag and text parts of a filter, resolved to one intersected id set (`None`: no such part).
fn load_sets(c: &Connection, filter: &TicketFilter) -> Result<Option<IdSet>> {
    let mut acc: Option<IdSet> = None;
    if let Some(q) = filter.text.as_deref().and_then(fts_query) {
        acc = Some(IdSet::load(
            c,
            "SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ?",
            &q,
        )?);
    }
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
    pub fn query_tickets(&self, q: &TicketQuery) -> Result<TicketPage> {
        if q.limit > MAX_PAGE {
            return Err(StoreError::Invalid(format!(
                "page size {} is over {MAX_PAGE}",
                q.limit
            )));
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

    #[test]
    fn fts_query_quotes_words_and_prefixes_the_last() {
        assert_eq!(fts_query("vpn  drops"), Some("\"vpn\" \"drops\"*".into()));
        assert_eq!(fts_query("INC0010001"), Some("\"INC0010001\"*".into()));
        assert_eq!(fts_query("  ?!  "), None);
        assert_eq!(
            fts_query("AND OR NOT \"x"),
            Some("\"AND\" \"OR\" \"NOT\" \"x\"*".into())
        );
    }

    proptest! {
        #[test]
        fn fts_query_never_lets_syntax_through(text in ".{0,200}") {
            if let Some(q) = fts_query(&text) {
                // Only quoted alphanumeric words, spaces and the final star.
                let stripped: String = q.chars().filter(|c| !c.is_alphanumeric()).collect();
                prop_assert!(stripped.chars().all(|c| c == '"' || c == ' ' || c == '*'));
                prop_assert!(q.ends_with("\"*"));
            }
        }
    }
}
