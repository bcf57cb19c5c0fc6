//! Zendesk people and groups: a ticket's `requester_id`, `assignee_id` and `group_id` and each
//! comment's `author_id` are numbers. The workspace shows the user's `name` and the group's
//! `name`; agents type a name or an email address (a group by name).
//!
//! - **Pull**: the users of a page (requesters, assignees, comment authors) not seen yet in this
//!   sync are read with `GET /api/v2/users/show_many?ids=` (up to 100 ids a request, Agents), the
//!   groups once per sync with `GET /api/v2/groups` (cursor pages of 100). Not side-loading
//!   (`include=users,groups`): the search export the agent-level pull uses documents no
//!   side-loads, and comment authors come from another endpoint anyway; one lookup per page
//!   serves both exports. The ids stay in `extra` (`requester_id`, `assignee_id`, `group_id`). A
//!   user or group that cannot be read (deleted) shows its id.
//! - **Push**: an assignee is looked up once per sync with `GET /api/v2/users/search?query=`
//!   (offset pages of 100: a query matches any part of any user property, so the answer is
//!   filtered to agents and admins whose name or email is the value, ignoring case); a number is
//!   tried as a user id first. A group is matched by name (or id) in the group list. None, or
//!   several, is a failed operation naming the value, before anything is written; clearing writes
//!   `null`.
//! - **Merge**: [`Zendesk::readable`] brings the agent's value and the edit's base to names, so an
//!   email address and the name a colleague's change shows are the same agent, and a base recorded
//!   as an id (a workspace pulled before this mapping) compares as the name.
//!
//! Names are not unique: when the agent's value resolved to one user or group, it is remembered
//! for its name for the rest of the sync, so the write that follows uses it.

use super::Zendesk;
use crate::connector::SyncResult;
use crate::error::SyncError;
use crate::model::{Field, FieldValues, RemoteTicket};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::PoisonError;

/// Ids per `show_many` request (the API's limit).
const SHOW_MANY: usize = 100;
/// Users per page of the user search (its maximum).
const PER_PAGE: usize = 100;
/// Pages of the user search read at most for one value.
const MAX_PAGES: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
struct User {
    id: u64,
    name: String,
    email: Option<String>,
    role: String,
}

impl User {
    fn from_json(v: &Value) -> Option<User> {
        let text = |k: &str| {
            v[k].as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Some(User {
            id: v["id"].as_u64()?,
            name: text("name").unwrap_or_default(),
            email: text("email"),
            role: text("role").unwrap_or_default(),
        })
    }

    fn readable(&self) -> String {
        if self.name.is_empty() {
            self.id.to_string()
        } else {
            self.name.clone()
        }
    }

    /// Only agents and admins can be assignees.
    fn is_agent(&self) -> bool {
        self.role == "agent" || self.role == "admin"
    }

    fn named(&self, typed: &str) -> bool {
        self.name.eq_ignore_ascii_case(typed)
            || self
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(typed))
    }

    fn describe(&self) -> String {
        self.email
            .clone()
            .unwrap_or_else(|| format!("id {}", self.id))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    id: u64,
    name: String,
    deleted: bool,
}

impl Group {
    fn readable(&self) -> String {
        if self.name.is_empty() {
            self.id.to_string()
        } else {
            self.name.clone()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Found<T> {
    One(T),
    Nothing,
    Several(Vec<T>),
}

impl<T> Found<T> {
    fn of(mut hits: Vec<T>) -> Found<T> {
        match hits.len() {
            0 => Found::Nothing,
            1 => Found::One(hits.remove(0)),
            _ => Found::Several(hits),
        }
    }
}

/// Users and groups read during this connector's life (one sync).
#[derive(Debug, Default)]
pub(super) struct Directory {
    /// id → the user (`None`: asked for, not returned).
    users: HashMap<u64, Option<User>>,
    /// Every group, read once.
    groups: Option<Vec<Group>>,
    /// Typed value → the agents it names.
    agents_by_text: HashMap<String, Found<User>>,
    /// Name → the agent / group the agent's value resolved to in this sync.
    chosen_agents: HashMap<String, u64>,
    chosen_groups: HashMap<String, u64>,
}

fn agent_refusal(typed: &str, found: &Found<User>) -> SyncError {
    SyncError::Local(match found {
        Found::Several(us) => format!(
            "'{typed}' names {} zendesk agents ({}); use the email address",
            us.len(),
            us.iter().map(User::describe).collect::<Vec<_>>().join(", ")
        ),
        _ => format!("no zendesk agent named '{typed}'"),
    })
}

fn group_refusal(typed: &str, found: &Found<Group>) -> SyncError {
    SyncError::Local(match found {
        Found::Several(gs) => format!(
            "'{typed}' names {} zendesk groups (ids {}); use the group's id",
            gs.len(),
            gs.iter()
                .map(|g| g.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => format!("no zendesk group named '{typed}'"),
    })
}

/// A lookup that answers 404 must not read as "the ticket is gone".
fn lookup_error(e: SyncError) -> SyncError {
    match e {
        SyncError::NotFound(m) => SyncError::Local(format!("looking up zendesk users: {m}")),
        other => other,
    }
}

fn id_of(v: &Value) -> Option<u64> {
    v.as_u64()
}

impl Zendesk {
    fn directory(&self) -> std::sync::MutexGuard<'_, Directory> {
        self.people.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the users among `ids` not seen yet in this sync.
    async fn load_users(&self, ids: &BTreeSet<u64>) -> SyncResult<()> {
        let unknown: Vec<u64> = {
            let d = self.directory();
            ids.iter()
                .filter(|id| !d.users.contains_key(id))
                .copied()
                .collect()
        };
        for chunk in unknown.chunks(SHOW_MANY) {
            let list = chunk
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let a = self
                .rest
                .call(
                    Method::GET,
                    "/api/v2/users/show_many.json",
                    &[("ids", list)],
                    None,
                    &[],
                )
                .await
                .map_err(lookup_error)?;
            let Some(users) = a.json["users"].as_array() else {
                return Err(SyncError::MalformedJson {
                    what: "/api/v2/users/show_many: no users list".into(),
                });
            };
            let mut d = self.directory();
            for id in chunk {
                d.users.insert(*id, None);
            }
            for u in users.iter().filter_map(User::from_json) {
                d.users.insert(u.id, Some(u));
            }
        }
        Ok(())
    }

    /// Every group of the account (read once per sync).
    async fn groups(&self) -> SyncResult<Vec<Group>> {
        if let Some(g) = &self.directory().groups {
            return Ok(g.clone());
        }
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .cursor_page(
                    "/api/v2/groups.json",
                    "groups",
                    "/api/v2/groups",
                    Vec::new(),
                    100,
                    after.as_deref(),
                )
                .await
                .map_err(lookup_error)?;
            for g in &page.items {
                if let Some(id) = g["id"].as_u64() {
                    out.push(Group {
                        id,
                        name: g["name"].as_str().unwrap_or("").trim().to_owned(),
                        deleted: g["deleted"].as_bool() == Some(true),
                    });
                }
            }
            match page.next {
                Some(c) if !page.items.is_empty() => after = Some(c),
                _ => break,
            }
        }
        self.directory().groups = Some(out.clone());
        Ok(out)
    }

    /// Names the people and groups of pulled tickets (fields and comment authors); the ids are
    /// in each ticket's `extra`. One `show_many` per 100 users not seen yet in this sync.
    pub(super) async fn name_people(&self, tickets: &mut [RemoteTicket]) -> SyncResult<()> {
        let mut ids = BTreeSet::new();
        let mut wants_groups = false;
        for t in tickets.iter() {
            ids.extend(id_of(&t.extra["requester_id"]));
            ids.extend(id_of(&t.extra["assignee_id"]));
            ids.extend(
                t.comments
                    .iter()
                    .filter_map(|c| c.author.parse::<u64>().ok()),
            );
            wants_groups |= id_of(&t.extra["group_id"]).is_some();
        }
        self.load_users(&ids).await?;
        let groups = if wants_groups {
            self.groups().await?
        } else {
            Vec::new()
        };
        let d = self.directory();
        let user = |id: u64| {
            d.users
                .get(&id)
                .cloned()
                .flatten()
                .map_or_else(|| id.to_string(), |u| u.readable())
        };
        for t in tickets.iter_mut() {
            if let Some(id) = id_of(&t.extra["requester_id"]) {
                t.fields.requester = Some(user(id));
            }
            if let Some(id) = id_of(&t.extra["assignee_id"]) {
                t.fields.assignee = Some(user(id));
            }
            if let Some(id) = id_of(&t.extra["group_id"]) {
                t.fields.assignment_group = Some(
                    groups
                        .iter()
                        .find(|g| g.id == id)
                        .map_or_else(|| id.to_string(), Group::readable),
                );
            }
            for c in &mut t.comments {
                if let Ok(id) = c.author.parse::<u64>() {
                    c.author = user(id);
                }
            }
        }
        Ok(())
    }

    /// The agents a typed value names: a user id, else an exact name or email address.
    async fn find_agent(&self, typed: &str) -> SyncResult<Found<User>> {
        if let Some(f) = self.directory().agents_by_text.get(typed) {
            return Ok(f.clone());
        }
        let mut hits = Vec::new();
        if let Ok(id) = typed.parse::<u64>() {
            self.load_users(&BTreeSet::from([id])).await?;
            hits.extend(
                self.directory()
                    .users
                    .get(&id)
                    .cloned()
                    .flatten()
                    .filter(User::is_agent),
            );
        }
        // Found by id, or every page until a second exact match (ambiguous) or the last page.
        let mut page = 1;
        let mut searching = hits.is_empty();
        while searching {
            let a = self
                .rest
                .call(
                    Method::GET,
                    "/api/v2/users/search.json",
                    &[
                        ("query", typed.to_owned()),
                        ("page", page.to_string()),
                        ("per_page", PER_PAGE.to_string()),
                    ],
                    None,
                    &[],
                )
                .await
                .map_err(lookup_error)?;
            let Some(users) = a.json["users"].as_array() else {
                return Err(SyncError::MalformedJson {
                    what: "/api/v2/users/search: no users list".into(),
                });
            };
            let found: Vec<User> = users.iter().filter_map(User::from_json).collect();
            let last = a.json["next_page"].is_null() || found.is_empty() || page >= MAX_PAGES;
            {
                let mut d = self.directory();
                for u in &found {
                    d.users.insert(u.id, Some(u.clone()));
                }
            }
            hits.extend(found.into_iter().filter(|u| u.is_agent() && u.named(typed)));
            searching = !last && hits.len() < 2;
            page += 1;
        }
        hits.dedup_by(|a, b| a.id == b.id);
        let found = Found::of(hits);
        self.directory()
            .agents_by_text
            .insert(typed.to_owned(), found.clone());
        Ok(found)
    }

    /// The groups a typed value names: an exact name (ignoring case), else an id.
    async fn find_group(&self, typed: &str) -> SyncResult<Found<Group>> {
        let groups = self.groups().await?;
        let mut hits: Vec<Group> = groups
            .iter()
            .filter(|g| !g.deleted && g.name.eq_ignore_ascii_case(typed))
            .cloned()
            .collect();
        if hits.is_empty() {
            hits = groups
                .iter()
                .filter(|g| !g.deleted && g.id.to_string() == typed)
                .cloned()
                .collect();
        }
        Ok(Found::of(hits))
    }

    /// The user id to write as the assignee for a typed value (`None` clears it).
    pub(super) async fn agent_id_for(&self, v: &Value) -> SyncResult<Option<u64>> {
        let typed = v.as_str().map(str::trim).unwrap_or_default();
        if typed.is_empty() {
            return Ok(None);
        }
        if let Some(id) = self.directory().chosen_agents.get(typed) {
            return Ok(Some(*id));
        }
        match self.find_agent(typed).await? {
            Found::One(u) => Ok(Some(u.id)),
            other => Err(agent_refusal(typed, &other)),
        }
    }

    /// The group id to write for a typed value (`None` clears it).
    pub(super) async fn group_id_for(&self, v: &Value) -> SyncResult<Option<u64>> {
        let typed = v.as_str().map(str::trim).unwrap_or_default();
        if typed.is_empty() {
            return Ok(None);
        }
        if let Some(id) = self.directory().chosen_groups.get(typed) {
            return Ok(Some(*id));
        }
        match self.find_group(typed).await? {
            Found::One(g) => Ok(Some(g.id)),
            other => Err(group_refusal(typed, &other)),
        }
    }

    /// `values` with the assignee and group as pulls show them (names). See
    /// [`crate::connector::Connector::readable_values`].
    pub(super) async fn readable(
        &self,
        values: &FieldValues,
        strict: bool,
    ) -> SyncResult<FieldValues> {
        let mut out = values.clone();
        for (field, v) in values {
            if !matches!(field, Field::Assignee | Field::AssignmentGroup) {
                continue;
            }
            let typed = v.as_str().map(str::trim).unwrap_or_default();
            if typed.is_empty() {
                out.insert(*field, Value::Null);
                continue;
            }
            // A base that cannot be looked up stays as it is; a transport error is retried by
            // the engine.
            let keep = |e: SyncError| -> SyncResult<()> {
                if strict || !matches!(e, SyncError::Local(_)) {
                    Err(e)
                } else {
                    Ok(())
                }
            };
            let shown = if *field == Field::Assignee {
                match self.find_agent(typed).await {
                    Ok(Found::One(u)) => {
                        if strict {
                            self.directory().chosen_agents.insert(u.readable(), u.id);
                        }
                        Some(u.readable())
                    }
                    Ok(other) if strict => return Err(agent_refusal(typed, &other)),
                    Ok(_) => None,
                    Err(e) => {
                        keep(e)?;
                        None
                    }
                }
            } else {
                match self.find_group(typed).await {
                    Ok(Found::One(g)) => {
                        if strict {
                            self.directory().chosen_groups.insert(g.readable(), g.id);
                        }
                        Some(g.readable())
                    }
                    Ok(other) if strict => return Err(group_refusal(typed, &other)),
                    Ok(_) => None,
                    Err(e) => {
                        keep(e)?;
                        None
                    }
                }
            };
            if let Some(s) = shown {
                out.insert(*field, json!(s));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn users_show_their_name_and_only_agents_are_assignees() {
        let u = User::from_json(&json!({"id": 7, "name": "Ana Lima", "email": "ana@x.test",
                                        "role": "agent"}))
        .unwrap();
        assert_eq!(u.readable(), "Ana Lima");
        assert!(u.is_agent() && u.named("ANA LIMA") && u.named("ana@X.test") && !u.named("Ana"));
        let end = User::from_json(&json!({"id": 8, "name": "", "role": "end-user"})).unwrap();
        assert_eq!(end.readable(), "8");
        assert!(!end.is_agent());
        assert_eq!(end.describe(), "id 8");
        assert!(User::from_json(&json!({"name": "no id"})).is_none());
    }

    #[test]
    fn refusals_name_the_value() {
        assert_eq!(
            agent_refusal("zed", &Found::Nothing).to_string(),
            SyncError::Local("no zendesk agent named 'zed'".into()).to_string()
        );
        let a = User::from_json(&json!({"id": 1, "name": "Ana", "email": "a@x", "role": "agent"}));
        let b = User::from_json(&json!({"id": 2, "name": "Ana", "role": "admin"}));
        let e = agent_refusal("Ana", &Found::Several(vec![a.unwrap(), b.unwrap()]));
        assert!(
            e.to_string()
                .contains("'Ana' names 2 zendesk agents (a@x, id 2)"),
            "{e}"
        );
    }
}
