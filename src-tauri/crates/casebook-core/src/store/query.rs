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

fn build_where(filter: &TicketFilter) -> Sql {
    let mut sql = Sql { where_: String::from("1=1"), params: Vec::new() };
    push_in(&mut sql, "t.state", filter.states.iter().map(|s| Value::Text(s.as_str().into())));
    push_in(&mut sql, "t.priority", filter.priorities.iter().map(|p| Value::Integer(p.rank())));
    if !filter.assignees.is_empty() || filter.unassigned {
        let mut parts = Vec::new();
        if !filter.assignees.is_empty() {
            parts.push(format!("t.assignee IN ({})", vec!["?"; filter.assignees.len()].join(",")));
            sql.params.extend(filter.assignees.iter().map(|a| Value::Text(a.clone())));
        }
        if filter.unassigned {
            parts.push("t.assignee IS NULL".to_owned());
        }
        sql.where_.push_str(&format!(" AND ({})", parts.join(" OR ")));
    }
    push_in(&mut sql, "t.assignment_group", filter.groups.iter().map(|g| Value::Text(g.clone())));
    push_in(&mut sql, "t.source", filter.sources.iter().map(|s| Value::Text(s.clone())));
    for tag in crate::model::normalize_tags(&filter.tags) {
        sql.where_.push_str(
            " AND EXISTS (SELECT 1 FROM ticket_tags g WHERE g.tag = ? AND g.ticket_id = t.id)",
        );
        sql.params.push(Value::Text(tag));
    }
    if let Some(q) = filter.text.as_deref().and_then(fts_query) {
        sql.where_
            .push_str(" AND t.id IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ?)");
        sql.params.push(Value::Text(q));
    }
    sql
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

pub(crate) fn parse_state(r: &Row<'_>, idx: usize) -> rusqlite::Result<TicketState> {
    let s: String = r.get(idx)?;
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
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
            return Err(StoreError::Invalid(format!("page size {} is over {MAX_PAGE}", q.limit)));
        }
        self.read(|c| {
            let total = count_with(c, &q.filter)?;
            let sql = build_where(&q.filter);
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
            Ok(TicketPage { total, offset: q.offset, rows })
        })
    }

    /// How many tickets each filter matches (the counts beside saved views), in one snapshot.
    pub fn count_tickets(&self, filters: &[TicketFilter]) -> Result<Vec<u64>> {
        self.read(|c| filters.iter().map(|f| count_with(c, f)).collect())
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

fn count_with(c: &Connection, filter: &TicketFilter) -> Result<u64> {
    let sql = build_where(filter);
    let text = format!("SELECT count(*) FROM tickets t WHERE {}", sql.where_);
    let mut stmt = c.prepare_cached(&text)?;
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
        assert_eq!(fts_query("AND OR NOT \"x"), Some("\"AND\" \"OR\" \"NOT\" \"x\"*".into()));
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
