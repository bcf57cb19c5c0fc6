//! ServiceNow reference fields: `assigned_to` and `caller_id` (→ `sys_user`) and
//! `assignment_group` (→ `sys_user_group`) hold 32-hex sys_ids; agents read and type user names
//! and group names.
//!
//! - **Pull**: the readable value comes with the record, dot-walked in `sysparm_fields`
//!   (`assigned_to.user_name`, `assignment_group.name`, `caller_id.user_name`; the Table API
//!   returns them under those keys, and `sysparm_display_value` stays `false` so date-times stay
//!   UTC actual values). The sys_id is kept in the ticket's `extra`. An instance that ignores
//!   the dot-walked names (the Table API ignores fields it does not know) costs one batched
//!   lookup per page instead. The caller shows as its user name too, the name journal entries
//!   carry as `sys_created_by`, so a reply by the caller is told from an agent's.
//! - **Push**: what the agent typed (a user name, a full name, a group name, or a sys_id) is
//!   looked up once per sync (`sys_user?sysparm_query=user_name=…`, then `name=…`) and written as
//!   the sys_id. No match, or more than one, is a failed operation naming the value; nothing is
//!   written. An empty value clears the field. A locally created ticket's requester is written
//!   to `caller_id` the same way.
//! - **Merge**: the engine compares base, mine and theirs as readable values
//!   ([`ServiceNow::readable`]): a base recorded as a sys_id (pulled before this mapping) or a
//!   full name typed by the agent is brought to the user name first, so the same person is never
//!   a conflict and a different one never slips through.

use super::ServiceNow;
use crate::connector::SyncResult;
use crate::error::SyncError;
use crate::model::{Field, FieldValues};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::PoisonError;

/// The two reference fields an agent edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum RefKind {
    User,
    Group,
}

impl RefKind {
    pub(super) const ALL: [RefKind; 2] = [RefKind::User, RefKind::Group];

    pub(super) fn of(field: Field) -> Option<RefKind> {
        match field {
            Field::Assignee => Some(RefKind::User),
            Field::AssignmentGroup => Some(RefKind::Group),
            _ => None,
        }
    }

    /// The column on the task record.
    pub(super) fn column(self) -> &'static str {
        match self {
            RefKind::User => "assigned_to",
            RefKind::Group => "assignment_group",
        }
    }

    /// The referenced table.
    fn table(self) -> &'static str {
        match self {
            RefKind::User => "sys_user",
            RefKind::Group => "sys_user_group",
        }
    }

    /// The referenced record's field shown to agents (unique for users).
    fn readable_field(self) -> &'static str {
        match self {
            RefKind::User => "user_name",
            RefKind::Group => "name",
        }
    }

    fn what(self) -> &'static str {
        match self {
            RefKind::User => "user",
            RefKind::Group => "group",
        }
    }
}

/// The reference columns of a task record whose readable values a pull shows: the two an agent
/// edits, and the caller (the requester: shown, compared with journal authors, set on
/// creation).
const COLUMNS: [(RefKind, &str); 3] = [
    (RefKind::User, "assigned_to"),
    (RefKind::Group, "assignment_group"),
    (RefKind::User, "caller_id"),
];

/// The dot-walked name under which a column's readable value comes back
/// (`caller_id.user_name`).
fn dot_walk(kind: RefKind, column: &str) -> String {
    format!("{column}.{}", kind.readable_field())
}

/// One referenced record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    sys_id: String,
    /// User name or group name (the sys_id when the record has none).
    readable: String,
    /// A user's full name (empty for groups).
    name: String,
}

/// What a typed value names upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    One(Target),
    Nothing,
    Several(Vec<Target>),
}

/// Lookups made during this connector's life (one sync): each typed value and each sys_id is
/// asked for once.
#[derive(Debug, Default)]
pub(super) struct RefCache {
    by_text: HashMap<(RefKind, String), Found>,
    by_id: HashMap<(RefKind, String), Option<Target>>,
}

pub(super) fn is_sys_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn text(r: &Value, k: &str) -> String {
    match r.get(k) {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Object(o)) => o
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned(),
        _ => String::new(),
    }
}

fn target(kind: RefKind, r: &Value) -> Option<Target> {
    let sys_id = text(r, "sys_id");
    if sys_id.is_empty() {
        return None;
    }
    let readable = text(r, kind.readable_field());
    Some(Target {
        readable: if readable.is_empty() {
            sys_id.clone()
        } else {
            readable
        },
        name: if kind == RefKind::User {
            text(r, "name")
        } else {
            String::new()
        },
        sys_id,
    })
}

/// Why a typed value cannot be written: it names no record, or several.
fn refusal(kind: RefKind, typed: &str, found: &Found) -> SyncError {
    SyncError::Local(match (found, kind) {
        (Found::Several(ts), RefKind::User) => format!(
            "'{typed}' names {} servicenow users ({}); use the user name",
            ts.len(),
            ts.iter()
                .map(|t| t.readable.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (Found::Several(ts), RefKind::Group) => format!(
            "'{typed}' names {} servicenow groups; use the group's sys_id",
            ts.len()
        ),
        _ => format!("no servicenow {} named '{typed}'", kind.what()),
    })
}

impl ServiceNow {
    fn cached_text(&self, kind: RefKind, typed: &str) -> Option<Found> {
        let cache = self.refs.lock().unwrap_or_else(PoisonError::into_inner);
        cache.by_text.get(&(kind, typed.to_owned())).cloned()
    }

    fn remember(&self, kind: RefKind, typed: &str, found: &Found) {
        let mut cache = self.refs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Found::One(t) = found {
            cache
                .by_id
                .insert((kind, t.sys_id.clone()), Some(t.clone()));
        }
        cache
            .by_text
            .insert((kind, typed.to_owned()), found.clone());
    }

    /// The records of `kind` whose `field` equals `value` (at most 3: enough to tell "several").
    async fn targets_where(
        &self,
        kind: RefKind,
        field: &str,
        value: &str,
    ) -> SyncResult<Vec<Target>> {
        let rows = self
            .get_rows(
                kind.table(),
                &[
                    ("sysparm_query", format!("{field}={value}")),
                    ("sysparm_fields", "sys_id,user_name,name".into()),
                    ("sysparm_exclude_reference_link", "true".into()),
                    ("sysparm_limit", "3".into()),
                ],
            )
            .await?;
        Ok(rows.iter().filter_map(|r| target(kind, r)).collect())
    }

    /// What a typed value names: a user name (or group name), else a user's full name, else a
    /// sys_id.
    async fn find(&self, kind: RefKind, typed: &str) -> SyncResult<Found> {
        if let Some(f) = self.cached_text(kind, typed) {
            return Ok(f);
        }
        // An encoded query has no escape for its separator: such a value cannot be looked up
        // (and is no user or group name ServiceNow would accept either).
        if typed.contains('^') || typed.contains(['\n', '\r']) {
            return Err(SyncError::Local(format!(
                "'{typed}' cannot be a servicenow {} name (it contains '^' or a line break)",
                kind.what()
            )));
        }
        let mut hits = self
            .targets_where(kind, kind.readable_field(), typed)
            .await?;
        if hits.is_empty() && kind == RefKind::User {
            hits = self.targets_where(kind, "name", typed).await?;
        }
        if hits.is_empty() && is_sys_id(typed) {
            hits = self.targets_where(kind, "sys_id", typed).await?;
        }
        let found = match hits.len() {
            0 => Found::Nothing,
            1 => Found::One(hits.remove(0)),
            _ => Found::Several(hits),
        };
        self.remember(kind, typed, &found);
        Ok(found)
    }

    /// The sys_id to write for a typed value (`""` clears the field).
    pub(super) async fn sys_id_for(&self, kind: RefKind, v: &Value) -> SyncResult<String> {
        let typed = v.as_str().map(str::trim).unwrap_or_default();
        if typed.is_empty() {
            return Ok(String::new());
        }
        match self.find(kind, typed).await? {
            Found::One(t) => Ok(t.sys_id),
            other => Err(refusal(kind, typed, &other)),
        }
    }

    /// `values` with the reference fields as pulls show them (user name, group name). A value
    /// that names nothing (or several records) upstream is an error when `strict` (the agent's
    /// own edit) and kept as it is otherwise (a base recorded long ago).
    pub(super) async fn readable(
        &self,
        values: &FieldValues,
        strict: bool,
    ) -> SyncResult<FieldValues> {
        let mut out = values.clone();
        for (field, v) in values {
            let Some(kind) = RefKind::of(*field) else {
                continue;
            };
            let typed = v.as_str().map(str::trim).unwrap_or_default();
            if typed.is_empty() {
                out.insert(*field, Value::Null);
                continue;
            }
            let found = match self.find(kind, typed).await {
                Ok(f) => f,
                Err(e) if strict => return Err(e),
                Err(_) => Found::Nothing,
            };
            match found {
                Found::One(t) => {
                    out.insert(*field, json!(t.readable));
                }
                other if strict => return Err(refusal(kind, typed, &other)),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Fills in the readable values of rows whose dot-walked fields did not come back (an
    /// instance that ignores them): one lookup per kind for the sys_ids not seen yet, whichever
    /// column names them (assignee and caller are both users).
    pub(super) async fn fill_readable(&self, rows: &mut [Value]) -> SyncResult<()> {
        for kind in RefKind::ALL {
            // (row, column) pairs of this kind without their dot-walked value.
            let missing: Vec<(usize, &str)> = rows
                .iter()
                .enumerate()
                .flat_map(|(i, r)| {
                    COLUMNS
                        .iter()
                        .filter(move |(k, c)| {
                            *k == kind && r.get(dot_walk(*k, c)).is_none() && !text(r, c).is_empty()
                        })
                        .map(move |(_, c)| (i, *c))
                })
                .collect();
            if missing.is_empty() {
                continue;
            }
            let wanted: HashSet<String> = missing.iter().map(|&(i, c)| text(&rows[i], c)).collect();
            let unknown: Vec<String> = {
                let cache = self.refs.lock().unwrap_or_else(PoisonError::into_inner);
                wanted
                    .iter()
                    .filter(|id| !cache.by_id.contains_key(&(kind, (*id).clone())))
                    .cloned()
                    .collect()
            };
            for chunk in unknown.chunks(100) {
                let found = self
                    .get_rows(
                        kind.table(),
                        &[
                            ("sysparm_query", format!("sys_idIN{}", chunk.join(","))),
                            ("sysparm_fields", "sys_id,user_name,name".into()),
                            ("sysparm_exclude_reference_link", "true".into()),
                            ("sysparm_limit", chunk.len().to_string()),
                        ],
                    )
                    .await?;
                let mut cache = self.refs.lock().unwrap_or_else(PoisonError::into_inner);
                for id in chunk {
                    cache.by_id.insert((kind, id.clone()), None);
                }
                for t in found.iter().filter_map(|r| target(kind, r)) {
                    cache.by_id.insert((kind, t.sys_id.clone()), Some(t));
                }
            }
            let cache = self.refs.lock().unwrap_or_else(PoisonError::into_inner);
            for (i, column) in missing {
                let id = text(&rows[i], column);
                let t = cache.by_id.get(&(kind, id)).cloned().flatten();
                if let Value::Object(m) = &mut rows[i] {
                    m.insert(
                        dot_walk(kind, column),
                        json!(t.as_ref().map(|t| t.readable.as_str()).unwrap_or_default()),
                    );
                    if column == "assigned_to" {
                        m.insert(
                            "assigned_to.name".into(),
                            json!(t.as_ref().map(|t| t.name.as_str()).unwrap_or_default()),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// The Table API body for canonical field values, reference fields resolved to sys_ids.
    pub(super) async fn write_body(&self, changes: &FieldValues) -> SyncResult<Value> {
        let mut ids = Map::new();
        for (field, v) in changes {
            if let Some(kind) = RefKind::of(*field) {
                ids.insert(kind.column().into(), json!(self.sys_id_for(kind, v).await?));
            }
        }
        let mut body = super::map::fields_to_servicenow(changes)?;
        if let Value::Object(m) = &mut body {
            m.extend(ids);
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_ids_are_32_hex_digits() {
        assert!(is_sys_id("5e700000000000000000000000000001"));
        assert!(!is_sys_id("ana"));
        assert!(!is_sys_id("5e70000000000000000000000000000g"));
        assert!(!is_sys_id("5e7000000000000000000000000001"));
    }

    #[test]
    fn a_record_without_a_readable_value_shows_its_sys_id() {
        let t = target(
            RefKind::User,
            &json!({"sys_id": "5e700000000000000000000000000001", "user_name": "", "name": "Ana Lima"}),
        )
        .unwrap();
        assert_eq!(t.readable, "5e700000000000000000000000000001");
        assert_eq!(t.name, "Ana Lima");
        let g = target(
            RefKind::Group,
            &json!({"sys_id": {"value": "5e700000000000000000000000000002", "link": "x"}, "name": "Network"}),
        )
        .unwrap();
        assert_eq!(
            (g.sys_id.as_str(), g.readable.as_str()),
            ("5e700000000000000000000000000002", "Network")
        );
        assert!(target(RefKind::Group, &json!({"name": "x"})).is_none());
    }
}
