//! Jira people: an issue's `assignee` and `reporter` (and every comment author) are Atlassian
//! accounts named by `accountId` (`557058:…`, `5b10a2844c20165700ede21g`), which an agent can
//! neither read nor type. The workspace shows the account's `displayName`; agents type a
//! display name or an email address.
//!
//! - **Pull**: the issue JSON already carries the user objects (`fields.assignee`,
//!   `fields.reporter`, `comment.comments[].author`) with `accountId` and `displayName`
//!   (`emailAddress` only when the user's profile visibility shows it), so a page costs no extra
//!   request. The account ids go to `extra` (`assignee_account_id`, `reporter_account_id`). A
//!   user object without a display name shows its account id.
//! - **Push**: a typed value is looked up once per project and sync with
//!   `GET /rest/api/3/user/assignable/search?project=<key>&query=<value>` (users who can be
//!   assigned issues there; the query matches the prefix of display names and email addresses,
//!   so the answer is filtered to exact matches, ignoring case), then, when nothing matched,
//!   `accountId=<value>` (an account id, e.g. a value recorded before this mapping). The search
//!   takes a `startAt`/`maxResults` range of the matching users and only then drops those who
//!   cannot be assigned, so a short or even empty page does not mean the end; it reads no
//!   further than the thousandth user, so one request with `maxResults=1000` is the whole
//!   answer. An email address
//!   hidden by its owner's privacy settings comes back without `emailAddress`: a search by a whole
//!   email address that finds exactly one such user and no visible match takes that user. None,
//!   or several, is a failed operation naming the value — before anything is written. Clearing
//!   writes `"assignee": null`.
//! - **Merge**: [`Jira::readable`] brings the agent's value and the edit's base to display names,
//!   so an email address and the display name a colleague's change shows are the same person, and
//!   a base recorded as an account id (a workspace pulled before this mapping) compares as the
//!   display name.
//!
//! Display names are not unique: when the agent's value resolved to one account, that account is
//! remembered for its display name for the rest of the sync, so the write that follows uses it.

use super::Jira;
use crate::connector::SyncResult;
use crate::error::SyncError;
use crate::model::{Field, FieldValues, TicketRef};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::PoisonError;

/// The assignable-user search reads no further than the thousandth user (its documentation),
/// so one request for that many covers all it can answer.
const MAX_USERS: usize = 1000;

/// One Atlassian account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Person {
    pub(super) account_id: String,
    display_name: String,
    /// `None` when the profile hides it.
    email: Option<String>,
}

impl Person {
    pub(super) fn from_json(v: &Value) -> Option<Person> {
        let account_id = v["accountId"].as_str()?.trim();
        if account_id.is_empty() {
            return None;
        }
        let text = |k: &str| {
            v[k].as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Some(Person {
            account_id: account_id.to_owned(),
            display_name: text("displayName").unwrap_or_default(),
            email: text("emailAddress"),
        })
    }

    /// What the workspace shows: the display name, else the account id.
    pub(super) fn readable(&self) -> &str {
        if self.display_name.is_empty() {
            &self.account_id
        } else {
            &self.display_name
        }
    }

    fn named(&self, typed: &str) -> bool {
        self.display_name.eq_ignore_ascii_case(typed)
            || self
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(typed))
    }

    fn describe(&self) -> String {
        match &self.email {
            Some(e) => e.clone(),
            None => format!("{}, email hidden", self.account_id),
        }
    }
}

/// A user object (or null) as the workspace shows it.
pub(super) fn shown(v: &Value) -> Option<String> {
    Person::from_json(v).map(|p| p.readable().to_owned())
}

/// The project an issue belongs to: its key's prefix (`HD-12` → `HD`), else the ticket's scope.
pub(super) fn project_of(t: &TicketRef) -> String {
    match t.key.rsplit_once('-') {
        Some((p, n)) if !p.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => p.to_owned(),
        _ => t.scope.clone(),
    }
}

/// What a typed value names in a project.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    One(Person),
    Nothing,
    Several(Vec<Person>),
}

/// Accounts seen and lookups made during this connector's life (one sync).
#[derive(Debug, Default)]
pub(super) struct People {
    /// Every account read with an issue or found by a search.
    by_id: HashMap<String, Person>,
    /// (project, typed value) → what it names there.
    by_text: HashMap<(String, String), Found>,
    /// (project, display name) → the account the agent's value resolved to in this sync.
    chosen: HashMap<(String, String), String>,
}

fn refusal(project: &str, typed: &str, found: &Found) -> SyncError {
    SyncError::Local(match found {
        Found::Several(ps) => format!(
            "'{typed}' names {} jira users who can be assigned in {project} ({}); use the email address",
            ps.len(),
            ps.iter()
                .map(Person::describe)
                .collect::<Vec<_>>()
                .join("; ")
        ),
        _ => format!("no jira user named '{typed}' can be assigned in {project}"),
    })
}

/// A user lookup that answers 404 (an unknown project) must not read as "the ticket is gone".
fn lookup_error(e: SyncError) -> SyncError {
    match e {
        SyncError::NotFound(m) => SyncError::Local(format!("looking up a jira user: {m}")),
        other => other,
    }
}

impl Jira {
    fn people(&self) -> std::sync::MutexGuard<'_, People> {
        self.people.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers the account of a user object read with an issue; returns what the workspace
    /// shows for it.
    pub(super) fn learn(&self, v: &Value) -> Option<String> {
        let p = Person::from_json(v)?;
        let shown = p.readable().to_owned();
        self.people().by_id.insert(p.account_id.clone(), p);
        Some(shown)
    }

    /// The assignable-user search (one request: see [`MAX_USERS`]).
    async fn assignable_page(
        &self,
        project: &str,
        by: (&'static str, &str),
    ) -> SyncResult<Vec<Person>> {
        let a = self
            .rest
            .call(
                Method::GET,
                "/rest/api/3/user/assignable/search",
                &[
                    ("project", project.to_owned()),
                    (by.0, by.1.to_owned()),
                    ("startAt", "0".to_owned()),
                    ("maxResults", MAX_USERS.to_string()),
                ],
                None,
                &[],
            )
            .await
            .map_err(lookup_error)?;
        let Some(users) = a.json.as_array() else {
            return Err(SyncError::MalformedJson {
                what: "/rest/api/3/user/assignable/search: no list of users".into(),
            });
        };
        let found: Vec<Person> = users.iter().filter_map(Person::from_json).collect();
        let mut people = self.people();
        for p in &found {
            people.by_id.insert(p.account_id.clone(), p.clone());
        }
        Ok(found)
    }

    /// What a typed value names among the users who can be assigned in `project`.
    async fn find_person(&self, project: &str, typed: &str) -> SyncResult<Found> {
        let key = (project.to_owned(), typed.to_owned());
        if let Some(f) = self.people().by_text.get(&key) {
            return Ok(f.clone());
        }
        let known = self.people().by_id.get(typed).cloned();
        let found = match known {
            Some(p) => Found::One(p),
            None => self.search_people(project, typed).await?,
        };
        self.people().by_text.insert(key, found.clone());
        Ok(found)
    }

    async fn search_people(&self, project: &str, typed: &str) -> SyncResult<Found> {
        let mut exact: Vec<Person> = Vec::new();
        let mut hidden: Vec<Person> = Vec::new();
        for p in self.assignable_page(project, ("query", typed)).await? {
            if p.named(typed) {
                exact.push(p);
            } else if p.email.is_none() {
                hidden.push(p);
            }
        }
        if exact.is_empty() && typed.contains('@') {
            // The whole address of a user who hides it: the search matched the hidden address.
            exact = hidden;
        }
        if exact.is_empty() {
            exact = self
                .assignable_page(project, ("accountId", typed))
                .await?
                .into_iter()
                .filter(|p| p.account_id == typed)
                .collect();
        }
        exact.dedup_by(|a, b| a.account_id == b.account_id);
        Ok(match exact.len() {
            0 => Found::Nothing,
            1 => Found::One(exact.remove(0)),
            _ => Found::Several(exact),
        })
    }

    /// The account id to write for a typed value in `project` (`None` clears the field).
    pub(super) async fn account_id_for(
        &self,
        project: &str,
        v: &Value,
    ) -> SyncResult<Option<String>> {
        let typed = v.as_str().map(str::trim).unwrap_or_default();
        if typed.is_empty() {
            return Ok(None);
        }
        let chosen = self
            .people()
            .chosen
            .get(&(project.to_owned(), typed.to_owned()))
            .cloned();
        if let Some(id) = chosen {
            return Ok(Some(id));
        }
        match self.find_person(project, typed).await? {
            Found::One(p) => Ok(Some(p.account_id)),
            other => Err(refusal(project, typed, &other)),
        }
    }

    /// `values` with the assignee as pulls show it (the display name). See
    /// [`crate::connector::Connector::readable_values`].
    pub(super) async fn readable(
        &self,
        ticket: &TicketRef,
        values: &FieldValues,
        strict: bool,
    ) -> SyncResult<FieldValues> {
        let project = project_of(ticket);
        let mut out = values.clone();
        for (field, v) in values {
            if *field != Field::Assignee {
                continue;
            }
            let typed = v.as_str().map(str::trim).unwrap_or_default();
            if typed.is_empty() {
                out.insert(*field, Value::Null);
                continue;
            }
            let found = match self.find_person(&project, typed).await {
                Ok(f) => f,
                // A base that cannot be looked up stays as it is; a transport error is retried
                // by the engine.
                Err(e) if strict || !matches!(e, SyncError::Local(_)) => return Err(e),
                Err(_) => Found::Nothing,
            };
            match found {
                Found::One(p) => {
                    if strict {
                        self.people().chosen.insert(
                            (project.clone(), p.readable().to_owned()),
                            p.account_id.clone(),
                        );
                    }
                    out.insert(*field, json!(p.readable()));
                }
                other if strict => return Err(refusal(&project, typed, &other)),
                _ => {}
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
    fn a_person_shows_the_display_name_or_else_the_account_id() {
        let p = Person::from_json(&json!({"accountId": "557058:1", "displayName": "Ana Lima",
                                          "emailAddress": "ana@example.test"}))
        .unwrap();
        assert_eq!(p.readable(), "Ana Lima");
        assert!(p.named("ana lima") && p.named("ANA@example.test") && !p.named("Ana"));
        let hidden =
            Person::from_json(&json!({"accountId": "557058:2", "displayName": ""})).unwrap();
        assert_eq!(hidden.readable(), "557058:2");
        assert_eq!(hidden.describe(), "557058:2, email hidden");
        assert!(Person::from_json(&Value::Null).is_none());
        assert_eq!(
            shown(&json!({"accountId": "x", "displayName": "Bo"})).as_deref(),
            Some("Bo")
        );
    }

    #[test]
    fn the_project_comes_from_the_issue_key() {
        let t = |key: &str, scope: &str| TicketRef {
            upstream_id: "1".into(),
            key: key.into(),
            scope: scope.into(),
        };
        assert_eq!(project_of(&t("HD-12", "*")), "HD");
        assert_eq!(project_of(&t("MY-OPS-3", "MY-OPS")), "MY-OPS");
        assert_eq!(project_of(&t("", "HD")), "HD");
        assert_eq!(project_of(&t("weird", "HD")), "HD");
    }
}
