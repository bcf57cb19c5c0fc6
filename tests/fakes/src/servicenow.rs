//! The fake ServiceNow Table API: `/api/now/table/{incident,sys_journal_field,kb_knowledge,
//! sys_user,sys_user_group}` as the real instance answers (see the Table API docs and
//! `/work/shared/specs/servicenow-table-api-openapi.yml`):
//! - `{"result": …}` bodies, actual values as strings, date-times in UTC `YYYY-MM-DD HH:MM:SS`
//!   (second precision: many rows share one second), `sys_mod_count` bumped by every write;
//! - encoded queries with `^`, `>=`, `=`, `IN`, `LIKE`, `ORDERBY`/`ORDERBYDESC`; unknown parts are
//!   ignored (as the real API does by default);
//! - `sysparm_limit` / `sysparm_offset` pages with `Link` (first/prev/next/last) and
//!   `X-Total-Count` headers; `sysparm_limit` is applied before ACLs ("This limit is applied
//!   before ACL evaluation", `c_TableAPI.md`): rows the account may not read ([`State::hidden`])
//!   leave a page short or empty while the count and the `Link` header still include them;
//! - PATCH appends `comments` / `work_notes` to `sys_journal_field` (journal fields read back as
//!   `""` on the record); no precondition exists;
//! - errors as `{"error":{"message","detail"},"status":"failure"}`; 429 with `Retry-After` and
//!   `X-RateLimit-*` headers;
//! - reference fields (`assigned_to`, `assignment_group`, `caller_id`, …) hold sys_ids of
//!   `sys_user` / `sys_user_group` rows and answer `{"link","value"}` unless
//!   `sysparm_exclude_reference_link=true` (an empty reference is `""`); a dot-walked name in
//!   `sysparm_fields` (`assigned_to.user_name`) answers the referenced row's field under that
//!   name (`""` when the reference is empty or its row is gone). Writes store values as given
//!   (the Table API does not resolve names without `sysparm_input_display_value`), so a name
//!   written into a reference field is a dangling reference, as on a real instance. The
//!   instance starts with a small directory ([`USERS`], [`GROUPS`]).
//! - Whoever signs in is [`API_USER`]: every write through the API is attributed to it
//!   (`sys_created_by` / `sys_updated_by`), and the dynamic filter `javascript:gs.getUserID()`
//!   in an encoded query is its sys_id (as the instance evaluates it for the session user).

use crate::faults::{FaultPlan, lock};
use crate::server::{self, Handler, Request, RequestLog, Response, ServerHandle};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// 2026-11-21 09:00:00 UTC.
pub const T0_SECS: i64 = 1_795_251_600;

/// The `sys_user` rows every fake instance starts with: (user_name, full name).
pub const USERS: [(&str, &str); 7] = [
    ("ana", "Ana Lima"),
    ("bo", "Bo Berg"),
    ("cy", "Cy Chen"),
    ("bo.other", "Bo Other"),
    ("caller", "Carla Caller"),
    ("casebook.agent", "Casebook Agent"),
    ("kb.author", "Kim Author"),
];

/// The user every API request acts as (the integration account of the tests).
pub const API_USER: &str = "casebook.agent";

/// The `sys_user_group` rows every fake instance starts with.
pub const GROUPS: [&str; 3] = ["Service Desk", "Network", "Hardware"];

/// Reference columns: (column, referenced table).
const REFERENCES: [(&str, &str); 8] = [
    ("assigned_to", "sys_user"),
    ("assignment_group", "sys_user_group"),
    ("caller_id", "sys_user"),
    ("opened_by", "sys_user"),
    ("resolved_by", "sys_user"),
    ("company", "core_company"),
    ("manager", "sys_user"),
    ("task", "task"),
];

fn referenced_table(column: &str) -> Option<&'static str> {
    REFERENCES
        .iter()
        .find(|(c, _)| *c == column)
        .map(|(_, t)| *t)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub table: String,
    /// Field values as the API stores them (strings).
    pub fields: Map<String, Value>,
}

impl Record {
    pub fn get(&self, k: &str) -> &str {
        self.fields
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    pub fn sys_id(&self) -> &str {
        self.get("sys_id")
    }
}

#[derive(Debug)]
pub struct State {
    /// Seconds since the epoch (the instance clock; writes stamp it).
    pub now: i64,
    pub records: Vec<Record>,
    next_id: u64,
    next_number: u64,
    /// Answer `sysparm_limit` pages at most this big (the instance's own cap).
    pub max_limit: usize,
    /// Lookup structures over `records`, built lazily and dropped on every write (see [`Index`]).
    index: Index,
    /// Answer dot-walked names in `sysparm_fields` (`false`: an instance that ignores them as
    /// unknown fields, to exercise the connector's fallback).
    pub dot_walk: bool,
    /// `false`: the signed-in user has no read ACL on `sys_journal_field`, which the Table API
    /// answers with `200 {"result": []}`, not an error (rapid7/insightconnect-plugins#4064).
    /// Writes to the journal fields still land.
    pub journal_readable: bool,
    /// sys_ids of records the signed-in account may not read (row ACLs): left out of list pages
    /// after the page window is taken (the count still includes them), 404 on a GET by sys_id.
    pub hidden: std::collections::HashSet<String>,
    next_directory_id: u64,
}

impl State {
    fn new_sys_id(&mut self) -> String {
        self.next_id += 1;
        format!("{:032x}", 0x5e7_0000_0000u64 + self.next_id)
    }

    /// A record to change. Callers change fields but never `table` or `sys_id` (writes skip
    /// `sys_` fields), so positions and ids stay valid; the orders and the journal lookup may not.
    fn find_mut(&mut self, table: &str, sys_id: &str) -> Option<&mut Record> {
        self.index.sorted.clear();
        self.index.by_element = None;
        let i = self.position(table, sys_id)?;
        self.records.get_mut(i)
    }

    fn position(&mut self, table: &str, sys_id: &str) -> Option<usize> {
        self.ensure_ids()
            .get(&(table.to_owned(), sys_id.to_owned()))
            .copied()
    }

    /// Builds the `(table, sys_id)` lookup if it is not built.
    fn ensure_ids(&mut self) -> &HashMap<(String, String), usize> {
        let records = &self.records;
        self.index.by_id.get_or_insert_with(|| {
            records
                .iter()
                .enumerate()
                .map(|(i, r)| ((r.table.clone(), r.sys_id().to_owned()), i))
                .collect()
        })
    }

    #[cfg(test)]
    fn find(&mut self, table: &str, sys_id: &str) -> Option<&Record> {
        let i = self.position(table, sys_id)?;
        self.records.get(i)
    }

    /// A record by table and sys_id without building anything: from the id lookup when it is
    /// built (call [`State::position`] once first), else by a scan.
    fn lookup(&self, table: &str, sys_id: &str) -> Option<&Record> {
        if sys_id.is_empty() {
            return None;
        }
        match &self.index.by_id {
            Some(ids) => ids
                .get(&(table.to_owned(), sys_id.to_owned()))
                .and_then(|&i| self.records.get(i)),
            None => self
                .records
                .iter()
                .find(|r| r.table == table && r.sys_id() == sys_id),
        }
    }

    /// The sys_id of the `sys_user` row with this user name.
    pub fn user_id(&self, user_name: &str) -> Option<String> {
        self.records
            .iter()
            .find(|r| r.table == "sys_user" && r.get("user_name") == user_name)
            .map(|r| r.sys_id().to_owned())
    }

    /// The sys_id of the `sys_user_group` row with this name.
    pub fn group_id(&self, name: &str) -> Option<String> {
        self.records
            .iter()
            .find(|r| r.table == "sys_user_group" && r.get("name") == name)
            .map(|r| r.sys_id().to_owned())
    }

    /// Adds a `sys_user` row; returns its sys_id.
    pub fn add_user(&mut self, user_name: &str, name: &str) -> String {
        let mut m = Map::new();
        m.insert("user_name".into(), json!(user_name));
        m.insert("name".into(), json!(name));
        m.insert("active".into(), json!("true"));
        self.add_directory_row("sys_user", m)
    }

    /// Adds a `sys_user_group` row; returns its sys_id.
    pub fn add_group(&mut self, name: &str) -> String {
        let mut m = Map::new();
        m.insert("name".into(), json!(name));
        m.insert("active".into(), json!("true"));
        self.add_directory_row("sys_user_group", m)
    }

    /// Users and groups take sys_ids of their own range, so the incidents' stay as they were.
    fn add_directory_row(&mut self, table: &str, mut m: Map<String, Value>) -> String {
        self.next_directory_id += 1;
        let id = format!("{:032x}", 0xd1_0000_0000u64 + self.next_directory_id);
        let now = sn_time(self.now);
        m.insert("sys_id".into(), json!(id));
        for k in ["sys_created_on", "sys_updated_on"] {
            m.insert(k.into(), json!(now));
        }
        for k in ["sys_created_by", "sys_updated_by"] {
            m.insert(k.into(), json!("admin"));
        }
        m.insert("sys_mod_count".into(), json!("0"));
        let record = Record {
            table: table.into(),
            fields: m,
        };
        self.index.added(self.records.len(), &record);
        self.records.push(record);
        id
    }

    /// The sys_id stored for a value given by name in a seed: a user's user name or a group's
    /// name (added to the directory when missing); empty stays empty.
    fn reference_for(&mut self, column: &str, given: &str) -> String {
        if given.is_empty() {
            return String::new();
        }
        match referenced_table(column) {
            Some("sys_user") => match self.user_id(given) {
                Some(id) => id,
                None => self.add_user(given, given),
            },
            Some("sys_user_group") => match self.group_id(given) {
                Some(id) => id,
                None => self.add_group(given),
            },
            _ => given.to_owned(),
        }
    }

    /// Positions (in `records`) of the rows of `table` matching `conds`, in `order` (ties in
    /// insertion order, as a stable sort of the filtered rows gives).
    ///
    /// Same answer as filtering every record and sorting, but through the index: a query on
    /// `element_id` starts from the journal's element index; an ordered query over a whole table
    /// walks the table's cached sort for that order, starting with a binary search when the
    /// first condition is `>=` on the first (ascending) order field — so a sync's page is a
    /// range scan, not a sort of the whole table.
    /// The rows `offset..offset + limit` of [`State::select_all`]'s answer, with how many rows
    /// match in all (`X-Total-Count`), without collecting every match when the order's walk is
    /// cached.
    fn select(
        &mut self,
        table: &str,
        conds: &[Cond],
        order: &[(String, bool)],
        offset: usize,
        limit: usize,
    ) -> (usize, Vec<usize>) {
        let window = |all: Vec<usize>| {
            let page = all.iter().skip(offset).take(limit).copied().collect();
            (all.len(), page)
        };
        let Some((tail, rest)) = self.ordered_walk(table, conds, order) else {
            return window(self.select_all(table, conds, order));
        };
        let records = &self.records;
        if rest.is_empty() {
            let page = tail.iter().skip(offset).take(limit).copied().collect();
            return (tail.len(), page);
        }
        let (mut total, mut page) = (0usize, Vec::new());
        for &i in &tail {
            if rest.iter().all(|c| c.holds(&records[i])) {
                if total >= offset && page.len() < limit {
                    page.push(i);
                }
                total += 1;
            }
        }
        (total, page)
    }

    /// For an ordered query over a whole table: the cached walk from its first possible row and
    /// the conditions left to check (`None`: the query starts from another lookup).
    fn ordered_walk<'c>(
        &mut self,
        table: &str,
        conds: &'c [Cond],
        order: &[(String, bool)],
    ) -> Option<(Vec<usize>, Vec<&'c Cond>)> {
        if order.is_empty() || conds.iter().any(|c| c.is_parent_lookup()) {
            return None;
        }
        let records = &self.records;
        let index = &mut self.index;
        let tables = index.tables.get_or_insert_with(|| table_positions(records));
        let all = tables.get(table)?;
        let sorted = index
            .sorted
            .entry((table.to_owned(), order.to_vec()))
            .or_insert_with(|| {
                let mut v = all.clone();
                v.sort_by(|&a, &b| compare(&records[a], &records[b], order));
                v
            });
        let (first, desc) = &order[0];
        let mut start = None;
        let mut rest: Vec<&Cond> = Vec::with_capacity(conds.len());
        for c in conds {
            match c {
                Cond::Ge(f, v) if f == first && !desc && start.is_none() => {
                    start = Some(sorted.partition_point(|&i| records[i].get(f) < v.as_str()));
                }
                other => rest.push(other),
            }
        }
        Some((sorted[start.unwrap_or(0)..].to_vec(), rest))
    }

    fn select_all(&mut self, table: &str, conds: &[Cond], order: &[(String, bool)]) -> Vec<usize> {
        let records = &self.records;
        let index = &mut self.index;
        let tables = index.tables.get_or_insert_with(|| table_positions(records));
        let Some(all) = tables.get(table) else {
            return Vec::new();
        };
        // A narrow start: the rows of the named parents (journal entries by element_id).
        let by_parent = conds.iter().find_map(|c| match c {
            Cond::In(f, vs) if f == "element_id" => Some(vs.iter().cloned().collect::<Vec<_>>()),
            Cond::Eq(f, v) if f == "element_id" => Some(vec![v.clone()]),
            _ => None,
        });
        if let Some(parents) = by_parent {
            let by_element = index.by_element.get_or_insert_with(HashMap::new);
            let per_table = by_element.entry(table.to_owned()).or_insert_with(|| {
                let mut m: HashMap<String, Vec<usize>> = HashMap::new();
                for &i in all {
                    let e = records[i].get("element_id");
                    if !e.is_empty() {
                        m.entry(e.to_owned()).or_default().push(i);
                    }
                }
                m
            });
            let mut rows: Vec<usize> = parents
                .iter()
                .filter_map(|p| per_table.get(p))
                .flatten()
                .copied()
                .filter(|&i| matches(&records[i], conds))
                .collect();
            rows.sort_unstable();
            rows.dedup();
            rows.sort_by(|&a, &b| compare(&records[a], &records[b], order));
            return rows;
        }
        if order.is_empty() {
            return all
                .iter()
                .copied()
                .filter(|&i| matches(&records[i], conds))
                .collect();
        }
        let sorted = index
            .sorted
            .entry((table.to_owned(), order.to_vec()))
            .or_insert_with(|| {
                let mut v = all.clone();
                v.sort_by(|&a, &b| compare(&records[a], &records[b], order));
                v
            });
        // `field>=value` on the first ascending order field: the matching rows are a suffix.
        let (first, desc) = &order[0];
        let mut start = None;
        let mut rest: Vec<&Cond> = Vec::with_capacity(conds.len());
        for c in conds {
            match c {
                Cond::Ge(f, v) if f == first && !desc && start.is_none() => {
                    start = Some(sorted.partition_point(|&i| records[i].get(f) < v.as_str()));
                }
                other => rest.push(other),
            }
        }
        sorted[start.unwrap_or(0)..]
            .iter()
            .copied()
            .filter(|&i| rest.iter().all(|c| c.holds(&records[i])))
            .collect()
    }
}

/// An `ORDERBY` list: (field, descending).
type OrderBy = Vec<(String, bool)>;

/// Lookups over [`State::records`], each built on first use and all dropped together whenever a
/// record is added, changed or removed (tests may change records directly through
/// [`ServiceNowFake::with_state`], which drops them too).
#[derive(Debug, Default)]
struct Index {
    /// Positions of each table's records, in insertion order.
    tables: Option<HashMap<String, Vec<usize>>>,
    /// A table's positions sorted by an `ORDERBY` list.
    sorted: HashMap<(String, OrderBy), Vec<usize>>,
    /// Per table: positions of the records of each `element_id` (journal entries of a record).
    by_element: Option<HashMap<String, HashMap<String, Vec<usize>>>>,
    /// `(table, sys_id)` → position.
    by_id: Option<HashMap<(String, String), usize>>,
}

/// Positions of each table's records, in insertion order.
fn table_positions(records: &[Record]) -> HashMap<String, Vec<usize>> {
    let mut m: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        m.entry(r.table.clone()).or_default().push(i);
    }
    m
}

impl Index {
    /// Keeps the lookups that are built up to date with a record appended at position `i` (the
    /// orders are dropped: the new record may sort anywhere).
    fn added(&mut self, i: usize, r: &Record) {
        self.sorted.clear();
        if let Some(t) = &mut self.tables {
            t.entry(r.table.clone()).or_default().push(i);
        }
        if let Some(ids) = &mut self.by_id {
            ids.insert((r.table.clone(), r.sys_id().to_owned()), i);
        }
        if let Some(by_element) = &mut self.by_element
            && let Some(per_table) = by_element.get_mut(&r.table)
        {
            let e = r.get("element_id");
            if !e.is_empty() {
                per_table.entry(e.to_owned()).or_default().push(i);
            }
        }
    }
}

/// The order of two records under an `ORDERBY` list (field values compared as strings).
fn compare(a: &Record, b: &Record, order: &[(String, bool)]) -> std::cmp::Ordering {
    for (f, desc) in order {
        let o = a.get(f).cmp(b.get(f));
        let o = if *desc { o.reverse() } else { o };
        if o.is_ne() {
            return o;
        }
    }
    std::cmp::Ordering::Equal
}

pub fn sn_time(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// A running fake instance.
pub struct ServiceNowFake {
    server: ServerHandle,
    state: Arc<Mutex<State>>,
}

struct SnHandler {
    state: Arc<Mutex<State>>,
    base: Mutex<String>,
}

/// An instance with its starting directory ([`USERS`], [`GROUPS`]) and nothing else.
fn new_state() -> State {
    let mut s = State {
        now: T0_SECS,
        records: Vec::new(),
        next_id: 0,
        next_number: 10_000,
        max_limit: 10_000,
        index: Index::default(),
        dot_walk: true,
        journal_readable: true,
        hidden: std::collections::HashSet::new(),
        next_directory_id: 0,
    };
    for (user_name, name) in USERS {
        s.add_user(user_name, name);
    }
    for g in GROUPS {
        s.add_group(g);
    }
    s
}

pub async fn start() -> std::io::Result<ServiceNowFake> {
    let state = Arc::new(Mutex::new(new_state()));
    let handler = Arc::new(SnHandler {
        state: state.clone(),
        base: Mutex::new(String::new()),
    });
    let server = server::serve(handler.clone()).await?;
    *lock(&handler.base) = server.base_url();
    Ok(ServiceNowFake { server, state })
}

/// An incident to seed. `assigned_to` and `caller_id` are user names and `assignment_group` a
/// group name: the seed stores their sys_ids (adding a user or group the directory lacks).
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub short_description: String,
    pub description: String,
    pub state: String,
    pub priority: String,
    pub assigned_to: String,
    pub assignment_group: String,
    pub caller_id: String,
}

impl NewIncident {
    pub fn new(short_description: &str) -> NewIncident {
        NewIncident {
            short_description: short_description.into(),
            description: String::new(),
            state: "2".into(),
            priority: "3".into(),
            assigned_to: "ana".into(),
            assignment_group: "Service Desk".into(),
            caller_id: "caller".into(),
        }
    }
}

impl ServiceNowFake {
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }
    pub fn faults(&self) -> &FaultPlan {
        self.server.faults()
    }
    pub fn requests(&self) -> &RequestLog {
        self.server.requests()
    }
    pub fn server(&self) -> &ServerHandle {
        &self.server
    }

    pub fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut s = lock(&self.state);
        // The caller may change records directly.
        s.index = Index::default();
        f(&mut s)
    }

    /// Moves the instance clock forward (seconds).
    pub fn advance(&self, secs: i64) {
        lock(&self.state).now += secs;
    }

    /// Creates an incident as the caller; returns its sys_id.
    pub fn seed(&self, n: NewIncident) -> String {
        let mut s = lock(&self.state);
        let mut m = Map::new();
        m.insert("short_description".into(), json!(n.short_description));
        m.insert("description".into(), json!(n.description));
        m.insert("state".into(), json!(n.state));
        m.insert("priority".into(), json!(n.priority));
        for (column, given) in [
            ("assigned_to", &n.assigned_to),
            ("assignment_group", &n.assignment_group),
            ("caller_id", &n.caller_id),
        ] {
            let id = s.reference_for(column, given);
            m.insert(column.into(), json!(id));
        }
        insert(&mut s, "incident", m, "caller")
    }

    /// Seeds many incidents sharing timestamps (`per_second` per second), fast.
    pub fn seed_many(&self, n: usize, per_second: usize, with_comment: bool) {
        let mut s = lock(&self.state);
        let ana = s.reference_for("assigned_to", "ana");
        let network = s.reference_for("assignment_group", "Network");
        let caller = s.reference_for("caller_id", "caller");
        for i in 0..n {
            if i % per_second.max(1) == 0 {
                s.now += 1;
            }
            let mut m = Map::new();
            m.insert(
                "short_description".into(),
                json!(format!("Incident {i}: VPN drops")),
            );
            m.insert(
                "description".into(),
                json!("The VPN disconnects every few minutes."),
            );
            m.insert("state".into(), json!(if i % 3 == 0 { "6" } else { "2" }));
            m.insert("priority".into(), json!(((i % 4) + 1).to_string()));
            m.insert("assigned_to".into(), json!(ana));
            m.insert("assignment_group".into(), json!(network));
            m.insert("caller_id".into(), json!(caller));
            let id = insert(&mut s, "incident", m, "caller");
            if with_comment {
                journal(
                    &mut s,
                    &id,
                    "comments",
                    "It happened again this morning.",
                    "caller",
                );
            }
        }
    }

    /// The sys_id of a user of the instance's directory (panics when there is none: a test
    /// naming a user the fake does not have is a broken test).
    pub fn user(&self, user_name: &str) -> String {
        match lock(&self.state).user_id(user_name) {
            Some(id) => id,
            None => panic!("the fake instance has no user {user_name:?}"),
        }
    }

    /// The sys_id of a group of the instance's directory (panics when there is none).
    pub fn group(&self, name: &str) -> String {
        match lock(&self.state).group_id(name) {
            Some(id) => id,
            None => panic!("the fake instance has no group {name:?}"),
        }
    }

    /// Adds a user to the directory; returns its sys_id.
    pub fn add_user(&self, user_name: &str, name: &str) -> String {
        lock(&self.state).add_user(user_name, name)
    }

    /// Reassigns an incident as another agent: `assigned_to` and/or `assignment_group` set to
    /// the sys_ids of the named user and group (`Some("")` clears).
    pub fn reassign_as_other(&self, sys_id: &str, user: Option<&str>, group: Option<&str>) {
        let mut fields: Vec<(&str, String)> = Vec::new();
        if let Some(u) = user {
            fields.push((
                "assigned_to",
                if u.is_empty() {
                    String::new()
                } else {
                    self.user(u)
                },
            ));
        }
        if let Some(g) = group {
            fields.push((
                "assignment_group",
                if g.is_empty() {
                    String::new()
                } else {
                    self.group(g)
                },
            ));
        }
        let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.edit_as_other(sys_id, &refs);
    }

    /// The user name an incident's `assigned_to` points at (`None`: empty or dangling).
    pub fn assignee_of(&self, sys_id: &str) -> Option<String> {
        let s = lock(&self.state);
        let r = s.lookup("incident", sys_id)?;
        s.lookup("sys_user", r.get("assigned_to"))
            .map(|u| u.get("user_name").to_owned())
    }

    /// Changes an incident as another agent: bumps `sys_mod_count` and `sys_updated_on`.
    pub fn edit_as_other(&self, sys_id: &str, fields: &[(&str, &str)]) {
        let mut s = lock(&self.state);
        s.now += 1;
        let now = s.now;
        if let Some(r) = s.find_mut("incident", sys_id) {
            for (k, v) in fields {
                r.fields.insert((*k).into(), json!(v));
            }
            touch(r, now, "bo.other");
        }
    }

    pub fn comment_as_other(&self, sys_id: &str, element: &str, text: &str) {
        self.comment_as(sys_id, element, text, "bo.other");
    }

    /// Adds a journal entry (`comments` or `work_notes`) written by the user `by` (a user name,
    /// as `sys_created_by` holds it; e.g. [`API_USER`] writing in the instance's UI) and
    /// touches the record.
    pub fn comment_as(&self, sys_id: &str, element: &str, text: &str, by: &str) {
        let mut s = lock(&self.state);
        s.now += 1;
        let now = s.now;
        journal(&mut s, sys_id, element, text, by);
        if let Some(r) = s.find_mut("incident", sys_id) {
            touch(r, now, by);
        }
    }

    /// The journal entries of a record, oldest first: (element, value, sys_created_by), the
    /// value exactly as a reader of the record sees it.
    pub fn journal_of(&self, sys_id: &str) -> Vec<(String, String, String)> {
        lock(&self.state)
            .records
            .iter()
            .filter(|r| r.table == "sys_journal_field" && r.get("element_id") == sys_id)
            .map(|r| {
                (
                    r.get("element").to_owned(),
                    r.get("value").to_owned(),
                    r.get("sys_created_by").to_owned(),
                )
            })
            .collect()
    }

    pub fn delete(&self, sys_id: &str) {
        let mut s = lock(&self.state);
        s.index = Index::default();
        s.records
            .retain(|r| r.sys_id() != sys_id && r.get("element_id") != sys_id);
    }

    /// Takes read access to a record away from the signed-in account (`false`: gives it back).
    pub fn hide(&self, sys_id: &str, hidden: bool) {
        let mut s = lock(&self.state);
        if hidden {
            s.hidden.insert(sys_id.to_owned());
        } else {
            s.hidden.remove(sys_id);
        }
    }

    pub fn incident(&self, sys_id: &str) -> Option<Record> {
        lock(&self.state)
            .records
            .iter()
            .find(|r| r.table == "incident" && r.sys_id() == sys_id)
            .cloned()
    }

    pub fn incidents(&self) -> Vec<Record> {
        lock(&self.state)
            .records
            .iter()
            .filter(|r| r.table == "incident")
            .cloned()
            .collect()
    }

    /// Journal entries of a record whose text contains `needle` (exactly-once assertions).
    pub fn journal_containing(&self, sys_id: &str, needle: &str) -> usize {
        lock(&self.state)
            .records
            .iter()
            .filter(|r| {
                r.table == "sys_journal_field"
                    && r.get("element_id") == sys_id
                    && r.get("value").contains(needle)
            })
            .count()
    }

    pub fn add_article(&self, title: &str, html: &str, published: bool) -> String {
        let mut s = lock(&self.state);
        let mut m = Map::new();
        m.insert("short_description".into(), json!(title));
        m.insert("text".into(), json!(html));
        m.insert(
            "workflow_state".into(),
            json!(if published { "published" } else { "retired" }),
        );
        m.insert("latest".into(), json!("true"));
        insert(&mut s, "kb_knowledge", m, "kb.author")
    }
}

fn touch(r: &mut Record, now: i64, by: &str) {
    let n: u64 = r.get("sys_mod_count").parse().unwrap_or(0);
    r.fields
        .insert("sys_mod_count".into(), json!((n + 1).to_string()));
    r.fields
        .insert("sys_updated_on".into(), json!(sn_time(now)));
    r.fields.insert("sys_updated_by".into(), json!(by));
}

fn insert(s: &mut State, table: &str, mut m: Map<String, Value>, by: &str) -> String {
    let id = s.new_sys_id();
    let now = sn_time(s.now);
    m.insert("sys_id".into(), json!(id));
    if table == "incident" {
        s.next_number += 1;
        m.insert("number".into(), json!(format!("INC{:07}", s.next_number)));
        m.entry("active").or_insert(json!("true"));
        m.entry("correlation_id").or_insert(json!(""));
    } else if table == "kb_knowledge" {
        s.next_number += 1;
        m.insert("number".into(), json!(format!("KB{:07}", s.next_number)));
    }
    m.insert("sys_created_on".into(), json!(now));
    m.insert("sys_created_by".into(), json!(by));
    m.insert("sys_updated_on".into(), json!(now));
    m.insert("sys_updated_by".into(), json!(by));
    m.insert("sys_mod_count".into(), json!("0"));
    let record = Record {
        table: table.into(),
        fields: m,
    };
    s.index.added(s.records.len(), &record);
    s.records.push(record);
    id
}

fn journal(s: &mut State, element_id: &str, element: &str, text: &str, by: &str) {
    let mut m = Map::new();
    m.insert("element_id".into(), json!(element_id));
    m.insert("element".into(), json!(element));
    m.insert("name".into(), json!("incident"));
    m.insert("value".into(), json!(text));
    insert(s, "sys_journal_field", m, by);
}

fn sn_error(status: u16, message: &str, detail: &str) -> Response {
    Response::json(
        status,
        &json!({ "error": { "message": message, "detail": detail }, "status": "failure" }),
    )
}

/// One condition of an encoded query.
enum Cond {
    Ge(String, String),
    Eq(String, String),
    In(String, std::collections::HashSet<String>),
    Like(String, String),
}

fn parse_query(q: &str) -> (Vec<Cond>, Vec<(String, bool)>) {
    let mut conds = Vec::new();
    let mut order = Vec::new();
    for part in q.split('^').filter(|p| !p.is_empty()) {
        if let Some(f) = part.strip_prefix("ORDERBYDESC") {
            order.push((f.to_owned(), true));
        } else if let Some(f) = part.strip_prefix("ORDERBY") {
            order.push((f.to_owned(), false));
        } else {
            // The field name runs up to the operator (names are lower-case, `_`, `.`, digits),
            // so a value that contains an operator's letters (`number=INC001`) stays a value.
            let end = part
                .find(|c: char| {
                    !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
                })
                .unwrap_or(part.len());
            let (f, rest) = part.split_at(end);
            if let Some(v) = rest.strip_prefix(">=") {
                conds.push(Cond::Ge(f.into(), v.into()));
            } else if let Some(v) = rest.strip_prefix("LIKE") {
                conds.push(Cond::Like(f.into(), v.into()));
            } else if let Some(v) = rest.strip_prefix("IN") {
                conds.push(Cond::In(
                    f.into(),
                    v.split(',').map(str::to_owned).collect(),
                ));
            } else if let Some(v) = rest.strip_prefix('=') {
                conds.push(Cond::Eq(f.into(), v.into()));
            }
        }
        // Anything else is ignored, as the real instance does by default.
    }
    (conds, order)
}

impl Cond {
    /// A condition answered from the journal's `element_id` lookup.
    fn is_parent_lookup(&self) -> bool {
        matches!(self, Cond::In(f, _) | Cond::Eq(f, _) if f == "element_id")
    }

    fn holds(&self, r: &Record) -> bool {
        match self {
            Cond::Ge(f, v) => r.get(f) >= v.as_str(),
            Cond::Eq(f, v) => r.get(f) == v,
            Cond::In(f, vs) => vs.contains(r.get(f)),
            Cond::Like(f, v) => r.get(f).contains(v.as_str()),
        }
    }
}

fn matches(r: &Record, conds: &[Cond]) -> bool {
    conds.iter().all(|c| c.holds(r))
}

/// How a request wants records rendered.
struct View<'a> {
    fields: Option<&'a str>,
    /// `sysparm_exclude_reference_link` is not `true`: references as `{"link","value"}`.
    links: bool,
    base: &'a str,
}

impl<'a> View<'a> {
    fn of(req: &'a Request, base: &'a str) -> View<'a> {
        View {
            fields: req.param("sysparm_fields"),
            links: req.param("sysparm_exclude_reference_link") != Some("true"),
            base,
        }
    }
}

/// One stored value as the Table API answers it: a non-empty reference as a link object unless
/// links are excluded.
fn answer(column: &str, v: &Value, view: &View<'_>) -> Value {
    match (referenced_table(column), v.as_str()) {
        (Some(table), Some(id)) if view.links && !id.is_empty() => json!({
            "link": format!("{}/api/now/table/{table}/{id}", view.base),
            "value": id,
        }),
        _ => v.clone(),
    }
}

fn project(s: &State, r: &Record, view: &View<'_>) -> Value {
    let mut out = Map::new();
    match view.fields {
        Some(list) if !list.is_empty() => {
            for f in list.split(',') {
                let f = f.trim();
                // Journal fields read back empty on the record; unknown names are ignored.
                if f == "comments" || f == "work_notes" {
                    out.insert(f.into(), json!(""));
                } else if let Some(v) = r.fields.get(f) {
                    out.insert(f.into(), answer(f, v, view));
                } else if let Some((column, field)) = f.split_once('.') {
                    // A dot-walk through a reference: the referenced row's field, `""` when the
                    // reference is empty or dangling; through anything else: an unknown field.
                    let Some(table) = referenced_table(column) else {
                        continue;
                    };
                    if !s.dot_walk {
                        continue;
                    }
                    let v = s
                        .lookup(table, r.get(column))
                        .and_then(|t| t.fields.get(field))
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    out.insert(f.into(), json!(v));
                } else if r.table == "incident" && known_incident_field(f) {
                    out.insert(f.into(), json!(""));
                }
            }
        }
        _ => {
            for (k, v) in &r.fields {
                out.insert(k.clone(), answer(k, v, view));
            }
        }
    }
    Value::Object(out)
}

fn known_incident_field(f: &str) -> bool {
    matches!(
        f,
        "hold_reason"
            | "company"
            | "resolved_at"
            | "description"
            | "assigned_to"
            | "assignment_group"
    )
}

impl SnHandler {
    fn list(&self, req: &Request, table: &str) -> Response {
        let mut s = lock(&self.state);
        let mut query = req.param("sysparm_query").unwrap_or("").to_owned();
        if query.contains("javascript:gs.getUserID()") {
            let me = s.user_id(API_USER).unwrap_or_default();
            query = query.replace("javascript:gs.getUserID()", &me);
        }
        let (conds, order) = parse_query(&query);
        if table == "sys_journal_field" && !s.journal_readable {
            return Response::json(200, &json!({ "result": [] })).with_header("X-Total-Count", "0");
        }
        let limit: usize = match req.param("sysparm_limit").map(str::parse) {
            None => 10_000,
            Some(Ok(n)) => n,
            Some(Err(_)) => return sn_error(400, "Invalid sysparm_limit", "not a number"),
        };
        let limit = limit.min(s.max_limit);
        let offset: usize = req
            .param("sysparm_offset")
            .and_then(|o| o.parse().ok())
            .unwrap_or(0);
        let (total, rows) = s.select(table, &conds, &order, offset, limit);
        let base = lock(&self.base).clone();
        let view = View::of(req, &base);
        // Dot-walks look rows up by sys_id: build that lookup once, not once per row.
        s.ensure_ids();
        // ACLs apply to the window the limit took: hidden rows leave it short.
        let page: Vec<Value> = rows
            .iter()
            .filter_map(|&i| s.records.get(i))
            .filter(|r| !s.hidden.contains(r.sys_id()))
            .map(|r| project(&s, r, &view))
            .collect();
        let link = |off: usize, rel: &str| {
            let mut q: Vec<(String, String)> = req
                .query
                .iter()
                .filter(|(k, _)| k != "sysparm_offset")
                .cloned()
                .collect();
            q.push(("sysparm_offset".into(), off.to_string()));
            let qs = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(q)
                .finish();
            format!("<{base}{}?{qs}>;rel=\"{rel}\"", req.path)
        };
        let mut links = vec![link(0, "first")];
        if offset > 0 {
            links.push(link(offset.saturating_sub(limit), "prev"));
        }
        if offset + limit < total {
            links.push(link(offset + limit, "next"));
        }
        let last = if total == 0 || limit == 0 {
            0
        } else {
            ((total - 1) / limit) * limit
        };
        links.push(link(last, "last"));
        let mut resp = Response::json(200, &json!({ "result": page }));
        if req.param("sysparm_suppress_pagination_header") != Some("true") {
            resp = resp.with_header("Link", links.join(","));
        }
        resp.with_header("X-Total-Count", total.to_string())
    }

    fn get_one(&self, req: &Request, table: &str, sys_id: &str) -> Response {
        let mut s = lock(&self.state);
        let base = lock(&self.base).clone();
        s.ensure_ids();
        match s
            .lookup(table, sys_id)
            .filter(|r| !s.hidden.contains(r.sys_id()))
        {
            Some(r) => Response::json(
                200,
                &json!({ "result": project(&s, r, &View::of(req, &base)) }),
            ),
            None => not_found(),
        }
    }

    fn patch(&self, req: &Request, table: &str, sys_id: &str) -> Response {
        let body = match req.json() {
            Ok(Value::Object(m)) => m,
            Ok(_) | Err(_) => {
                return sn_error(
                    400,
                    "Exception while reading request",
                    "The payload is not valid JSON.",
                );
            }
        };
        let mut s = lock(&self.state);
        s.now += 1;
        let now = s.now;
        if s.find_mut(table, sys_id).is_none() {
            return not_found();
        }
        for (k, v) in &body {
            let text = match v {
                Value::String(t) => t.clone(),
                other => other.to_string(),
            };
            if k == "comments" || k == "work_notes" {
                if !text.is_empty() {
                    journal(&mut s, sys_id, k, &text, API_USER);
                }
            } else if !k.starts_with("sys_")
                && let Some(r) = s.find_mut(table, sys_id)
            {
                r.fields.insert(k.clone(), json!(text));
            }
        }
        let Some(r) = s.find_mut(table, sys_id) else {
            return not_found();
        };
        touch(r, now, API_USER);
        let base = lock(&self.base).clone();
        let out = s
            .lookup(table, sys_id)
            .map(|r| project(&s, r, &View::of(req, &base)))
            .unwrap_or(Value::Null);
        Response::json(200, &json!({ "result": out }))
    }

    fn create(&self, req: &Request, table: &str) -> Response {
        let body = match req.json() {
            Ok(Value::Object(m)) => m,
            _ => {
                return sn_error(
                    400,
                    "Exception while reading request",
                    "The payload is not valid JSON.",
                );
            }
        };
        let mut s = lock(&self.state);
        s.now += 1;
        let mut m = Map::new();
        for (k, v) in body {
            if !k.starts_with("sys_") {
                let text = match v {
                    Value::String(t) => t,
                    other => other.to_string(),
                };
                m.insert(k, json!(text));
            }
        }
        let id = insert(&mut s, table, m, API_USER);
        let base = lock(&self.base).clone();
        s.ensure_ids();
        let r = s
            .lookup(table, &id)
            .map(|r| project(&s, r, &View::of(req, &base)))
            .unwrap_or(Value::Null);
        Response::json(201, &json!({ "result": r }))
            .with_header("Location", format!("{base}/api/now/table/{table}/{id}"))
    }
}

fn not_found() -> Response {
    sn_error(
        404,
        "No Record found",
        "Record doesn't exist or ACL restricts the record retrieval",
    )
}

impl Handler for SnHandler {
    fn handle(&self, req: &Request) -> Response {
        let segs = req.segments();
        if req.header("authorization").is_none() {
            return self.unauthorized();
        }
        match (req.method.as_str(), segs.as_slice()) {
            ("GET", ["api", "now", "table", table]) => self.list(req, table),
            ("GET", ["api", "now", "table", table, id]) => self.get_one(req, table, id),
            ("PATCH" | "PUT", ["api", "now", "table", table, id]) => self.patch(req, table, id),
            ("POST", ["api", "now", "table", table]) => self.create(req, table),
            _ => sn_error(
                400,
                "Requested URI does not represent any resource",
                &req.path,
            ),
        }
    }

    fn error_status(&self, status: u16) -> Response {
        sn_error(
            status,
            server::reason(status),
            "The instance could not process the request",
        )
    }

    fn rate_limited(&self, retry_after_secs: u64) -> Response {
        let reset = lock(&self.state).now + retry_after_secs as i64;
        sn_error(
            429,
            "Rate limit exceeded",
            "Rate limit of 100 requests per hour for Table API exceeded",
        )
        .with_header("Retry-After", retry_after_secs.to_string())
        .with_header("X-RateLimit-Limit", "100")
        .with_header("X-RateLimit-Reset", reset.to_string())
        .with_header("X-RateLimit-Rule", "a1b2c3d4e5f60718293a4b5c6d7e8f90")
    }

    fn unauthorized(&self) -> Response {
        sn_error(
            401,
            "User Not Authenticated",
            "Required to provide Auth information",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        new_state()
    }

    /// The answer without any index: filter every record, then a stable sort per order field
    /// from the last to the first (what the fake did before it had an index).
    fn naive(s: &State, table: &str, q: &str) -> Vec<String> {
        let (conds, order) = parse_query(q);
        let mut rows: Vec<&Record> = s
            .records
            .iter()
            .filter(|r| r.table == table && matches(r, &conds))
            .collect();
        for (f, desc) in order.iter().rev() {
            rows.sort_by(|a, b| {
                let o = a.get(f).cmp(b.get(f));
                if *desc { o.reverse() } else { o }
            });
        }
        rows.iter().map(|r| r.sys_id().to_owned()).collect()
    }

    fn indexed(s: &mut State, table: &str, q: &str) -> Vec<String> {
        let (conds, order) = parse_query(q);
        let all: Vec<String> = s
            .select_all(table, &conds, &order)
            .into_iter()
            .map(|i| s.records[i].sys_id().to_owned())
            .collect();
        // Every page window answers the same rows and the same total.
        for (offset, limit) in [(0, usize::MAX), (0, 7), (5, 9), (all.len(), 3)] {
            let (total, page) = s.select(table, &conds, &order, offset, limit);
            let page: Vec<String> = page
                .into_iter()
                .map(|i| s.records[i].sys_id().to_owned())
                .collect();
            let want: Vec<String> = all.iter().skip(offset).take(limit).cloned().collect();
            assert_eq!(
                (total, page),
                (all.len(), want),
                "{table}: {q} [{offset}; {limit}]"
            );
        }
        all
    }

    fn seed(s: &mut State, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for i in 0..n {
            // Uneven seconds: many rows share one, some seconds are skipped.
            if i % 7 == 0 {
                s.now += 1 + (i % 3) as i64;
            }
            let mut m = Map::new();
            m.insert("short_description".into(), json!(format!("n{i}")));
            m.insert("priority".into(), json!(((i * 7) % 4 + 1).to_string()));
            let id = insert(s, "incident", m, "caller");
            if i % 2 == 0 {
                journal(s, &id, "comments", &format!("c{i}"), "caller");
            }
            if i % 5 == 0 {
                journal(s, &id, "work_notes", &format!("w{i}"), "agent");
            }
            ids.push(id);
        }
        ids
    }

    #[test]
    fn indexed_queries_answer_exactly_what_a_full_scan_and_sort_answers() {
        let mut s = state();
        let ids = seed(&mut s, 300);
        // Edits move rows to later seconds and out of insertion order.
        for (k, id) in ids.iter().enumerate().filter(|(k, _)| k % 11 == 0) {
            s.now += 1;
            let now = s.now;
            if let Some(r) = s.find_mut("incident", id) {
                touch(r, now, "other");
            }
            if k % 2 == 0 {
                journal(&mut s, id, "comments", "later", "other");
            }
        }
        let mid = sn_time(T0_SECS + 40);
        let some: Vec<&str> = ids.iter().step_by(13).map(String::as_str).collect();
        let queries = [
            (
                "incident",
                format!("sys_updated_on>={mid}^ORDERBYsys_updated_on^ORDERBYsys_id"),
            ),
            (
                "incident",
                "sys_updated_on>=1970-01-01 00:00:00^ORDERBYsys_updated_on^ORDERBYsys_id".into(),
            ),
            (
                "incident",
                format!("priority=2^sys_updated_on>={mid}^ORDERBYsys_updated_on^ORDERBYsys_id"),
            ),
            ("incident", "ORDERBYsys_id".into()),
            (
                "incident",
                format!("ORDERBYDESCsys_updated_on^sys_updated_on>={mid}"),
            ),
            ("incident", "priority=3".into()),
            (
                "incident",
                "sys_updated_on>=2099-01-01 00:00:00^ORDERBYsys_updated_on".into(),
            ),
            (
                "sys_journal_field",
                format!(
                    "element_idIN{}^elementINcomments,work_notes^ORDERBYsys_created_on^ORDERBYsys_id",
                    some.join(",")
                ),
            ),
            (
                "sys_journal_field",
                format!("element_id={}^element=comments", ids[4]),
            ),
            (
                "sys_journal_field",
                "valueLIKElater^ORDERBYDESCsys_created_on".into(),
            ),
            ("kb_knowledge", "ORDERBYsys_id".into()),
        ];
        for (table, q) in &queries {
            let want = naive(&s, table, q);
            assert_eq!(indexed(&mut s, table, q), want, "{table}: {q}");
            // A second time from the cached index.
            assert_eq!(indexed(&mut s, table, q), want, "{table}: {q} (cached)");
        }
        // The suffix really starts in the middle and not everything matches.
        let q = &queries[0].1;
        let n = naive(&s, "incident", q).len();
        assert!(n > 0 && n < 300, "{n}");
    }

    #[test]
    fn values_that_contain_operator_letters_stay_values() {
        let (conds, order) =
            parse_query("number=INC0010001^short_descriptionLIKEIN use^stateIN1,2^ORDERBYsys_id");
        assert_eq!(order, vec![("sys_id".to_owned(), false)]);
        assert!(matches!(&conds[0], Cond::Eq(f, v) if f == "number" && v == "INC0010001"));
        assert!(matches!(&conds[1], Cond::Like(f, v) if f == "short_description" && v == "IN use"));
        assert!(matches!(&conds[2], Cond::In(f, vs) if f == "state" && vs.len() == 2));
        assert_eq!(conds.len(), 3);
    }

    #[test]
    fn the_index_follows_writes_made_after_it_was_built() {
        let mut s = state();
        let ids = seed(&mut s, 50);
        let q = "sys_updated_on>=1970-01-01 00:00:00^ORDERBYsys_updated_on^ORDERBYsys_id";
        let before = indexed(&mut s, "incident", q);
        assert_eq!(before.first(), Some(&ids[0]));
        // Touching the first row moves it to the end.
        s.now += 10;
        let now = s.now;
        if let Some(r) = s.find_mut("incident", &ids[0]) {
            touch(r, now, "other");
        }
        let after = indexed(&mut s, "incident", q);
        assert_eq!(after.last(), Some(&ids[0]));
        assert_eq!(after, naive(&s, "incident", q));
        // A new row and a new journal entry are found.
        let mut m = Map::new();
        m.insert("short_description".into(), json!("new"));
        let new = insert(&mut s, "incident", m, "caller");
        assert_eq!(indexed(&mut s, "incident", q).last(), Some(&new));
        journal(&mut s, &new, "comments", "first", "caller");
        let jq = format!("element_idIN{new}^elementINcomments,work_notes");
        assert_eq!(indexed(&mut s, "sys_journal_field", &jq).len(), 1);
        assert!(s.find("incident", &new).is_some());
        // A deletion (as ServiceNowFake::delete does it) is gone from every lookup.
        s.index = Index::default();
        s.records
            .retain(|r| r.sys_id() != new && r.get("element_id") != new);
        assert!(indexed(&mut s, "sys_journal_field", &jq).is_empty());
        assert!(!indexed(&mut s, "incident", q).contains(&new));
        assert!(s.find("incident", &new).is_none());
    }

    #[test]
    fn references_answer_links_or_sys_ids_and_dot_walks_read_the_referenced_row() {
        let mut s = state();
        let ana = s.user_id("ana").unwrap();
        let network = s.group_id("Network").unwrap();
        let mut m = Map::new();
        m.insert("assigned_to".into(), json!(ana));
        m.insert("assignment_group".into(), json!(network));
        m.insert("caller_id".into(), json!(""));
        let id = insert(&mut s, "incident", m, "caller");
        s.ensure_ids();
        let r = s.lookup("incident", &id).unwrap().clone();
        let fields = "assigned_to,assigned_to.user_name,assigned_to.name,assignment_group.name,\
                      caller_id,caller_id.user_name,short_description.length,bogus.name";
        let links = View {
            fields: Some(fields),
            links: true,
            base: "http://sn",
        };
        let v = project(&s, &r, &links);
        assert_eq!(
            v,
            json!({
                "assigned_to": { "link": format!("http://sn/api/now/table/sys_user/{ana}"), "value": ana },
                "assigned_to.user_name": "ana",
                "assigned_to.name": "Ana Lima",
                "assignment_group.name": "Network",
                "caller_id": "",
                "caller_id.user_name": "",
            })
        );
        let plain = View {
            links: false,
            ..links
        };
        assert_eq!(project(&s, &r, &plain)["assigned_to"], json!(ana));
        // Every field when none is named, references included.
        let all = project(
            &s,
            &r,
            &View {
                fields: None,
                ..links
            },
        );
        assert_eq!(all["assignment_group"]["value"], json!(network));
        // A name written into a reference field (stored as given) dangles.
        let mut dangling = r.clone();
        dangling.fields.insert("assigned_to".into(), json!("ana"));
        assert_eq!(project(&s, &dangling, &plain)["assigned_to.user_name"], "");
        // An instance that ignores dot-walked names leaves them out.
        s.dot_walk = false;
        let v = project(&s, &r, &plain);
        assert!(v.get("assigned_to.user_name").is_none(), "{v}");
        assert_eq!(v["assigned_to"], json!(ana));
    }
}
