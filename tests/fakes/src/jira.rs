//! The fake Jira Service Management Cloud: the platform REST v3 paths the connector uses and the
//! `servicedeskapi` request endpoints, behaving like the real ones:
//!
//! - `GET|POST /rest/api/3/search/jql` with `nextPageToken` (no `total`, no `startAt`; the token
//!   is only valid for the query it came from), `fields` defaulting to `id` only, bounded JQL
//!   required. The removed `GET|POST /rest/api/3/search` answers **410 Gone** with Atlassian's
//!   message.
//! - JQL: `project = X`, `project in (X, Y)`, `key = X-1`, `labels = x`, `updated|created >= |>
//!   |<= |< <value>` joined by `AND`, `ORDER BY f [ASC|DESC], ...`. A value is epoch milliseconds
//!   or a quoted `"yyyy-MM-dd HH:mm"` / `"yyyy-MM-dd"` read **in the account's time zone** (the
//!   real trap); date resolution is the minute (the value is floored to its minute).
//! - Timestamps as Jira writes them: `2024-03-01T20:00:01.234+1100` (ms, offset without colon),
//!   in the account's zone (fixed `+11:00` by default).
//! - `PUT /rest/api/3/issue/{key}` (status changes are ignored there), transitions, create with
//!   `properties`, `servicedeskapi` comments (public / internal), platform comments
//!   (`GET|POST /rest/api/3/issue/{key}/comment`: ADF bodies, comment entity `properties` stored
//!   with the comment and the `sd.public.comment` property `{"internal": true}` making it an
//!   internal note, as JSM does; `POST /rest/api/3/comment/list` with `expand=properties`
//!   answering the properties), the request SLA, 404 and 400
//!   bodies `{"errorMessages":[...],"errors":{...}}`, 401 for a missing or rejected token, 429
//!   with `Retry-After` and the `X-RateLimit-*` / `RateLimit-Reason` headers.
//! - `POST /rest/api/3/issue/{key}/attachments`: multipart/form-data `file` parts, refused with
//!   403 without `X-Atlassian-Token: no-check`; listed in the issue's `attachment` field.
//! - The site's Confluence under `/wiki/api/v2/…` (spaces and their pages, for the knowledge
//!   base): see [`crate::confluence`].
//! - People: a directory of accounts ([`User`]; the site starts with [`AGENT_ID`], [`OTHER_ID`]
//!   and the customer [`CUSTOMER_ID`]). Issues hold account ids; user objects carry `accountId`,
//!   `displayName`, `accountType` and `emailAddress` only when the profile shows it.
//!   `GET /rest/api/3/user/assignable/search` (`project`, `issueKey` or `issueId`; `query` or
//!   `accountId`; `startAt`/`maxResults`) matches `query` against the start of the display name
//!   or of any of its words and the start of a visible email address (a hidden one only when the
//!   query is the whole address), takes the `startAt`/`maxResults` range of the matches and then
//!   drops who cannot be assigned (customers, inactive accounts), so a page may be short with more
//!   to come — as the real search documents. Assigning an account that is unknown or cannot be
//!   assigned is a 400 on the `assignee` field.

use crate::faults::{FaultPlan, lock};
use crate::server::{self, Handler, Request, RequestLog, Response, ServerHandle};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// 2024-03-01 09:00:00 UTC: where every fake clock starts.
pub const T0_MS: i64 = 1_709_283_600_000;
/// Each write moves the fake clock by this much (ms precision shows).
pub const WRITE_STEP_MS: i64 = 1_234;

/// The account the connector signs in as (email + API token, Basic).
pub const AGENT_ID: &str = "557058:0001-agent-ana";
pub const AGENT_NAME: &str = "Ana Agent";
/// "Another agent" for concurrent edits.
pub const OTHER_ID: &str = "557058:0002-agent-bo";
pub const OTHER_NAME: &str = "Bo Colleague";
pub const CUSTOMER_ID: &str = "qm:0003-customer-cy";
pub const CUSTOMER_NAME: &str = "Cy Customer";

/// The workflow: (status id, name, category key). Every status is reachable from every other by
/// the transition with the same id (global transitions).
pub const STATUSES: &[(&str, &str, &str)] = &[
    ("10001", "Waiting for support", "new"),
    ("10002", "In Progress", "indeterminate"),
    ("10003", "Waiting for customer", "indeterminate"),
    ("10004", "Escalated", "indeterminate"),
    ("10005", "Resolved", "done"),
    ("10006", "Closed", "done"),
];

pub const PRIORITIES: &[(&str, &str)] = &[
    ("1", "Highest"),
    ("2", "High"),
    ("3", "Medium"),
    ("4", "Low"),
    ("5", "Lowest"),
];

/// An Atlassian account of the site.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub account_id: String,
    pub display_name: String,
    pub email: String,
    /// Whether the profile shows the email address to others (privacy settings).
    pub email_visible: bool,
    /// `atlassian` (an agent: can be assigned) or `customer` (a JSM customer: cannot).
    pub account_type: String,
    pub active: bool,
}

impl User {
    pub fn new(account_id: &str, display_name: &str, email: &str) -> User {
        User {
            account_id: account_id.to_owned(),
            display_name: display_name.to_owned(),
            email: email.to_owned(),
            email_visible: true,
            account_type: "atlassian".into(),
            active: true,
        }
    }

    fn assignable(&self) -> bool {
        self.active && self.account_type == "atlassian"
    }

    /// The assignable-user search's `query`: the start of the display name or of one of its
    /// words, the start of a visible email address, or a hidden one given whole.
    fn matches(&self, query: &str) -> bool {
        let q = query.trim().to_lowercase();
        let name = self.display_name.to_lowercase();
        let email = self.email.to_lowercase();
        q.is_empty()
            || name.starts_with(&q)
            || name.split_whitespace().any(|w| w.starts_with(&q))
            || (self.email_visible && email.starts_with(&q))
            || (!self.email_visible && email == q)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub id: u64,
    /// Plain text (the JSM request comment body); rendered as ADF on the platform API.
    pub body: String,
    pub public: bool,
    pub author: String,
    pub created: i64,
    /// Comment entity properties (key → value), set when the comment was created through the
    /// platform API. Never part of what the customer sees.
    pub properties: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub id: u64,
    pub key: String,
    pub project: String,
    pub summary: String,
    pub description: String,
    pub status: String,
    pub priority: String,
    pub assignee: Option<String>,
    pub reporter: String,
    pub labels: Vec<String>,
    pub created: i64,
    pub updated: i64,
    pub resolutiondate: Option<i64>,
    pub comments: Vec<Comment>,
    /// Issue properties (key → value), set at creation or by `PUT .../properties/{key}`.
    pub properties: BTreeMap<String, Value>,
    /// SLA goal for "Time to resolution" (ms after creation).
    pub sla_goal_ms: i64,
}

/// A file attached to an issue (`POST /rest/api/3/issue/{key}/attachments`, multipart).
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub id: u64,
    pub issue_id: u64,
    pub filename: String,
    pub mime_type: String,
    pub content: Vec<u8>,
    pub created: i64,
}

#[derive(Debug)]
pub struct State {
    pub now: i64,
    /// The account's time zone offset in seconds (bare JQL datetimes are read in it; timestamps
    /// are written in it).
    pub tz_offset_secs: i32,
    pub issues: Vec<Issue>,
    /// The id the next issue gets (sites number issues from 10000; a test may start elsewhere,
    /// e.g. to cross a digit boundary).
    pub next_id: u64,
    next_comment: u64,
    next_number: HashMap<String, u64>,
    tokens: HashMap<String, (String, usize)>,
    next_token: u64,
    /// The page size cap when fields other than `id` are asked for (real: "fewer may be
    /// returned").
    pub page_cap: usize,
    /// Files attached to issues, in upload order.
    pub attachments: Vec<Attachment>,
    /// When set, the Basic credentials must be exactly these (`user:token`, before base64).
    pub accepted_basic: Option<String>,
    /// The site's Confluence (`/wiki/api/v2/…`), behind the same sign-in.
    pub wiki: crate::confluence::Wiki,
    /// The site's accounts.
    pub users: Vec<User>,
}

impl State {
    fn tick(&mut self) -> i64 {
        self.now += WRITE_STEP_MS;
        self.now
    }

    fn issue_mut(&mut self, key_or_id: &str) -> Option<&mut Issue> {
        self.issues
            .iter_mut()
            .find(|i| i.key == key_or_id || i.id.to_string() == key_or_id)
    }

    fn issue(&self, key_or_id: &str) -> Option<&Issue> {
        self.issues
            .iter()
            .find(|i| i.key == key_or_id || i.id.to_string() == key_or_id)
    }

    /// Adds a comment to an issue (bumps `updated`); `None` when there is no such issue.
    fn add_comment(
        &mut self,
        key: &str,
        body: &str,
        public: bool,
        author: &str,
        properties: BTreeMap<String, Value>,
    ) -> Option<(Issue, Comment)> {
        self.issue(key)?;
        let now = self.tick();
        let id = self.next_comment;
        self.next_comment += 1;
        let c = Comment {
            id,
            body: body.to_owned(),
            public,
            author: author.to_owned(),
            created: now,
            properties,
        };
        let i = self.issue_mut(key)?;
        i.comments.push(c.clone());
        i.updated = now;
        Some((i.clone(), c))
    }
}

/// What to seed.
#[derive(Debug, Clone)]
pub struct NewIssue {
    pub project: String,
    pub summary: String,
    pub description: String,
    pub status: String,
    pub priority: String,
    pub assignee: Option<String>,
    pub labels: Vec<String>,
}

impl NewIssue {
    pub fn new(project: &str, summary: &str) -> NewIssue {
        NewIssue {
            project: project.to_owned(),
            summary: summary.to_owned(),
            description: String::new(),
            status: "Waiting for support".into(),
            priority: "Medium".into(),
            assignee: None,
            labels: Vec::new(),
        }
    }
}

/// A running fake Jira Service Management site.
pub struct JiraFake {
    server: ServerHandle,
    state: Arc<Mutex<State>>,
}

struct JiraHandler {
    state: Arc<Mutex<State>>,
    base: Mutex<String>,
}

/// Starts a fake on 127.0.0.1 with an empty site.
pub async fn start() -> std::io::Result<JiraFake> {
    let state = Arc::new(Mutex::new(State {
        now: T0_MS,
        tz_offset_secs: 11 * 3600,
        issues: Vec::new(),
        next_id: 10_000,
        next_comment: 20_000,
        next_number: HashMap::new(),
        tokens: HashMap::new(),
        next_token: 1,
        page_cap: 100,
        attachments: Vec::new(),
        accepted_basic: None,
        wiki: crate::confluence::Wiki::new(),
        users: vec![
            User::new(AGENT_ID, AGENT_NAME, "ana@example.test"),
            User::new(OTHER_ID, OTHER_NAME, "bo@example.test"),
            User {
                account_type: "customer".into(),
                ..User::new(CUSTOMER_ID, CUSTOMER_NAME, "cy@customer.test")
            },
        ],
    }));
    let handler = Arc::new(JiraHandler {
        state: state.clone(),
        base: Mutex::new(String::new()),
    });
    let server = server::serve(handler.clone()).await?;
    *lock(&handler.base) = server.base_url();
    Ok(JiraFake { server, state })
}

impl JiraFake {
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

    /// Direct access to the state (tests that need something unusual).
    pub fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut lock(&self.state))
    }

    pub fn now(&self) -> i64 {
        lock(&self.state).now
    }

    /// Moves the site's clock forward.
    pub fn advance(&self, ms: i64) {
        lock(&self.state).now += ms;
    }

    /// Only these Basic credentials (`email:token`) are accepted from now on.
    pub fn accept_only(&self, email: &str, token: &str) {
        lock(&self.state).accepted_basic = Some(format!("{email}:{token}"));
    }

    /// Creates an issue as the customer; returns its key.
    pub fn seed(&self, new: NewIssue) -> String {
        let mut s = lock(&self.state);
        create(&mut s, new, CUSTOMER_ID, BTreeMap::new())
            .key
            .clone()
    }

    /// Changes an issue as "another agent" (bumps `updated`).
    pub fn edit_as_other(&self, key: &str, f: impl FnOnce(&mut Issue)) {
        let mut s = lock(&self.state);
        let now = s.tick();
        if let Some(i) = s.issue_mut(key) {
            f(i);
            i.updated = now;
        }
    }

    /// Adds a comment as "another agent" (bumps `updated`).
    pub fn comment_as_other(&self, key: &str, body: &str, public: bool) {
        self.comment_as(key, OTHER_ID, body, public);
    }

    /// Adds an account to the site's directory.
    pub fn add_user(&self, user: User) {
        lock(&self.state).users.push(user);
    }

    /// Adds a comment by `author` (an account id; bumps `updated`), as if written in Jira.
    pub fn comment_as(&self, key: &str, author: &str, body: &str, public: bool) {
        lock(&self.state).add_comment(key, body, public, author, BTreeMap::new());
    }

    /// The comments of an issue as stored (text exactly as shown to whoever may see them).
    pub fn comments(&self, key: &str) -> Vec<Comment> {
        lock(&self.state)
            .issue(key)
            .map(|i| i.comments.clone())
            .unwrap_or_default()
    }

    /// Deletes an issue (it stops matching any JQL; reads answer 404).
    pub fn delete(&self, key: &str) {
        lock(&self.state).issues.retain(|i| i.key != key);
    }

    pub fn issue(&self, key: &str) -> Option<Issue> {
        lock(&self.state).issue(key).cloned()
    }

    /// The files attached to an issue, in upload order.
    pub fn attachments(&self, key: &str) -> Vec<Attachment> {
        let s = lock(&self.state);
        let Some(id) = s.issue(key).map(|i| i.id) else {
            return Vec::new();
        };
        s.attachments
            .iter()
            .filter(|a| a.issue_id == id)
            .cloned()
            .collect()
    }

    pub fn issue_count(&self) -> usize {
        lock(&self.state).issues.len()
    }

    /// How many comments on `key` contain `needle` (e.g. an idempotency marker).
    pub fn comments_containing(&self, key: &str, needle: &str) -> usize {
        lock(&self.state)
            .issue(key)
            .map(|i| {
                i.comments
                    .iter()
                    .filter(|c| c.body.contains(needle))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Adds a Confluence space the account may view; returns its id.
    pub fn wiki_space(&self, key: &str, name: &str) -> u64 {
        let mut s = lock(&self.state);
        let now = s.tick();
        let id = s.wiki.take_id();
        s.wiki.spaces.push(crate::confluence::Space {
            id,
            key: key.to_owned(),
            name: name.to_owned(),
            visible: true,
            created: now,
        });
        // The space's home page id (referenced as pages' parent).
        s.wiki.take_id();
        id
    }

    /// Adds a current page (storage-format body) to a space; returns its id.
    pub fn wiki_page(&self, space_key: &str, title: &str, body: &str) -> u64 {
        let mut s = lock(&self.state);
        let now = s.tick();
        let Some(space_id) = s.wiki.space(space_key).map(|sp| sp.id) else {
            return 0;
        };
        let id = s.wiki.take_id();
        s.wiki.pages.push(crate::confluence::Page {
            id,
            space_id,
            title: title.to_owned(),
            status: "current".into(),
            body: body.to_owned(),
            version: 1,
            version_at: now,
            created: now,
        });
        id
    }

    /// Publishes a new version of a page (new title and body; `version.createdAt` moves).
    pub fn wiki_edit(&self, page_id: u64, title: &str, body: &str) {
        let mut s = lock(&self.state);
        let now = s.tick();
        if let Some(p) = s.wiki.page_mut(page_id) {
            p.title = title.to_owned();
            p.body = body.to_owned();
            p.version += 1;
            p.version_at = now;
        }
    }

    /// Moves a page to the trash (no new version: it keeps its place in a modified-date sort).
    pub fn wiki_trash(&self, page_id: u64) {
        if let Some(p) = lock(&self.state).wiki.page_mut(page_id) {
            p.status = "trashed".into();
        }
    }

    /// Takes away (or gives back) the account's permission to view a space.
    pub fn wiki_space_visible(&self, key: &str, visible: bool) {
        let mut s = lock(&self.state);
        if let Some(sp) = s.wiki.spaces.iter_mut().find(|sp| sp.key == key) {
            sp.visible = visible;
        }
    }

    /// The account may (not) use Confluence at all (403 on every `/wiki` request).
    pub fn wiki_no_access(&self, no_access: bool) {
        lock(&self.state).wiki.no_access = no_access;
    }

    /// How many issues carry `property` with this value.
    pub fn issues_with_property(&self, property: &str, value: &Value) -> usize {
        lock(&self.state)
            .issues
            .iter()
            .filter(|i| i.properties.get(property) == Some(value))
            .count()
    }
}

fn create<'a>(
    s: &'a mut State,
    new: NewIssue,
    reporter: &str,
    props: BTreeMap<String, Value>,
) -> &'a Issue {
    let now = s.tick();
    let id = s.next_id;
    s.next_id += 1;
    let n = s.next_number.entry(new.project.clone()).or_insert(0);
    *n += 1;
    let key = format!("{}-{}", new.project, n);
    let done = status_category(&new.status) == "done";
    s.issues.push(Issue {
        id,
        key,
        project: new.project,
        summary: new.summary,
        description: new.description,
        status: new.status,
        priority: new.priority,
        assignee: new.assignee,
        reporter: reporter.to_owned(),
        labels: new.labels,
        created: now,
        updated: now,
        resolutiondate: done.then_some(now),
        comments: Vec::new(),
        properties: props,
        sla_goal_ms: 8 * 3_600_000,
    });
    &s.issues[s.issues.len() - 1]
}

fn status_category(name: &str) -> &'static str {
    STATUSES
        .iter()
        .find(|(_, n, _)| *n == name)
        .map(|(_, _, c)| *c)
        .unwrap_or("indeterminate")
}

/// Jira's timestamp format: `2024-03-01T20:00:01.234+1100`.
pub fn jira_time(ms: i64, offset_secs: i32) -> String {
    let Ok(ts) = jiff::Timestamp::from_millisecond(ms) else {
        return String::new();
    };
    let Ok(off) = jiff::tz::Offset::from_seconds(offset_secs) else {
        return String::new();
    };
    ts.to_zoned(jiff::tz::TimeZone::fixed(off))
        .strftime("%Y-%m-%dT%H:%M:%S%.3f%z")
        .to_string()
}

/// The error body every Jira endpoint uses.
pub fn error_body(messages: &[&str], errors: Value) -> Value {
    json!({ "errorMessages": messages, "errors": errors })
}

/// Jira's limit on a multi-line text field such as `description`: 32,767 characters, counted as
/// Java counts them (UTF-16 code units). The fake measures the text of the document it was
/// given (real Jira measures its stored rendition, which is at least that long).
pub const TEXT_FIELD_LIMIT: usize = 32_767;

/// The 400 Jira answers for a description over [`TEXT_FIELD_LIMIT`], if `text` is one.
fn description_too_long(text: &str) -> Option<Response> {
    let units: usize = text.chars().map(char::len_utf16).sum();
    (units > TEXT_FIELD_LIMIT).then(|| {
        Response::json(
            400,
            &error_body(
                &[],
                json!({ "description": "The entered text is too long. It exceeds the allowed limit of 32,767 characters." }),
            ),
        )
    })
}

fn err(status: u16, msg: &str) -> Response {
    Response::json(status, &error_body(&[msg], json!({})))
}

fn not_found() -> Response {
    err(
        404,
        "Issue does not exist or you do not have permission to see it.",
    )
}

/// Atlassian Document Format for plain text: paragraphs split on blank lines, line breaks as
/// `hardBreak`.
pub fn adf(text: &str) -> Value {
    let paras: Vec<Value> = text
        .split("\n\n")
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut content = Vec::new();
            for (k, line) in p.split('\n').enumerate() {
                if k > 0 {
                    content.push(json!({ "type": "hardBreak" }));
                }
                if !line.is_empty() {
                    content.push(json!({ "type": "text", "text": line }));
                }
            }
            json!({ "type": "paragraph", "content": content })
        })
        .collect();
    json!({ "type": "doc", "version": 1, "content": paras })
}

/// Plain text from ADF (the inverse of [`adf`] for what it produces).
pub fn adf_text(v: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v["type"].as_str() {
            Some("text") => out.push_str(v["text"].as_str().unwrap_or("")),
            Some("hardBreak") => out.push('\n'),
            _ => {
                if let Some(c) = v["content"].as_array() {
                    for x in c {
                        walk(x, out);
                    }
                }
            }
        }
    }
    match v {
        Value::String(s) => s.clone(),
        Value::Object(_) => {
            let paras: Vec<String> = v["content"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            let mut s = String::new();
                            walk(p, &mut s);
                            s
                        })
                        .collect()
                })
                .unwrap_or_default();
            paras.join("\n\n")
        }
        _ => String::new(),
    }
}

/// A user object as the platform API answers it: `emailAddress` only when the profile shows it.
/// An account the directory does not have answers its id as display name.
fn user(base: &str, s: &State, id: &str) -> Value {
    let u = s.users.iter().find(|u| u.account_id == id);
    let mut v = json!({
        "self": format!("{base}/rest/api/3/user?accountId={id}"),
        "accountId": id,
        "displayName": u.map_or(id, |u| u.display_name.as_str()),
        "active": u.is_none_or(|u| u.active),
        "accountType": u.map_or("atlassian", |u| u.account_type.as_str()),
        "timeZone": "Australia/Sydney",
    });
    if let Some(u) = u.filter(|u| u.email_visible) {
        v["emailAddress"] = json!(u.email);
    }
    v
}

/// Why an `assignee` value cannot be written (`None`: it can).
fn unassignable(s: &State, v: &Value) -> Option<String> {
    if v.is_null() {
        return None;
    }
    let Some(id) = v["accountId"].as_str() else {
        return Some("Specify a valid value for assignee".into());
    };
    match s.users.iter().find(|u| u.account_id == id) {
        Some(u) if u.assignable() => None,
        _ => Some(format!("User '{id}' cannot be assigned issues.")),
    }
}

fn status_json(base: &str, name: &str) -> Value {
    let (id, _, cat) = STATUSES
        .iter()
        .find(|(_, n, _)| *n == name)
        .copied()
        .unwrap_or(("10002", "In Progress", "indeterminate"));
    let (cat_id, cat_name, color) = match cat {
        "new" => (2, "To Do", "blue-gray"),
        "done" => (3, "Done", "green"),
        _ => (4, "In Progress", "yellow"),
    };
    json!({
        "self": format!("{base}/rest/api/3/status/{id}"),
        "id": id,
        "name": name,
        "description": "",
        "iconUrl": format!("{base}/images/icons/statuses/generic.png"),
        "statusCategory": {
            "self": format!("{base}/rest/api/3/statuscategory/{cat_id}"),
            "id": cat_id, "key": cat, "colorName": color, "name": cat_name
        }
    })
}

fn priority_json(base: &str, name: &str) -> Value {
    let id = PRIORITIES
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(i, _)| *i)
        .unwrap_or("3");
    json!({ "self": format!("{base}/rest/api/3/priority/{id}"), "id": id, "name": name,
            "iconUrl": format!("{base}/images/icons/priorities/{}.svg", name.to_ascii_lowercase()) })
}

/// A platform `Comment`; its `properties` only when asked for (`expand=properties`).
fn platform_comment_with(
    base: &str,
    s: &State,
    i: &Issue,
    c: &Comment,
    with_properties: bool,
) -> Value {
    let mut v = platform_comment(base, s, i, c);
    if with_properties {
        v["properties"] = Value::Array(
            c.properties
                .iter()
                .map(|(k, v)| json!({ "key": k, "value": v }))
                .collect(),
        );
    }
    v
}

fn platform_comment(base: &str, s: &State, i: &Issue, c: &Comment) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/issue/{}/comment/{}", i.id, c.id),
        "id": c.id.to_string(),
        "author": user(base, s, &c.author),
        "updateAuthor": user(base, s, &c.author),
        "body": adf(&c.body),
        "created": jira_time(c.created, s.tz_offset_secs),
        "updated": jira_time(c.created, s.tz_offset_secs),
        "jsdPublic": c.public,
    })
}

/// All fields of an issue, or those named in `fields` (`*all`, `*navigable`, names; `-name`
/// removes one). `None`: only `id` (the `/search/jql` default).
fn issue_json(base: &str, s: &State, i: &Issue, fields: Option<&[String]>) -> Value {
    let all = json!({
        "summary": i.summary,
        "description": if i.description.is_empty() { Value::Null } else { adf(&i.description) },
        "status": status_json(base, &i.status),
        "priority": priority_json(base, &i.priority),
        "assignee": i.assignee.as_deref().map(|a| user(base, s, a)),
        "reporter": user(base, s, &i.reporter),
        "labels": i.labels,
        "created": jira_time(i.created, s.tz_offset_secs),
        "updated": jira_time(i.updated, s.tz_offset_secs),
        "resolutiondate": i.resolutiondate.map(|t| jira_time(t, s.tz_offset_secs)),
        "project": { "self": format!("{base}/rest/api/3/project/{}", i.project), "key": i.project, "name": i.project },
        "issuetype": { "id": "10100", "name": "Service Request" },
        "attachment": s.attachments.iter().filter(|a| a.issue_id == i.id)
            .map(|a| attachment_json(base, s, a)).collect::<Vec<_>>(),
        "comment": {
            "comments": i.comments.iter().map(|c| platform_comment(base, s, i, c)).collect::<Vec<_>>(),
            "maxResults": i.comments.len(), "total": i.comments.len(), "startAt": 0,
            "self": format!("{base}/rest/api/3/issue/{}/comment", i.id),
        },
    });
    let mut out = serde_json::Map::new();
    let Value::Object(all) = all else {
        return Value::Null;
    };
    match fields {
        None => {}
        Some(list) => {
            let wants_all = list.iter().any(|f| f == "*all" || f == "*navigable");
            for (k, v) in &all {
                let named = list.iter().any(|f| f == k);
                let removed = list.iter().any(|f| f.strip_prefix('-') == Some(k));
                if (wants_all || named) && !removed {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
    }
    let mut v = json!({
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": i.id.to_string(),
        "key": i.key,
        "self": format!("{base}/rest/api/3/issue/{}", i.id),
    });
    if fields.is_some() {
        v["fields"] = Value::Object(out);
    }
    v
}

fn attachment_json(base: &str, s: &State, a: &Attachment) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/attachment/{}", a.id),
        "id": a.id.to_string(),
        "filename": a.filename,
        "author": user(base, s, AGENT_ID),
        "created": jira_time(a.created, s.tz_offset_secs),
        "size": a.content.len(),
        "mimeType": a.mime_type,
        "content": format!("{base}/rest/api/3/attachment/content/{}", a.id),
    })
}

/// One file part of a multipart body: (field name, file name, content type, bytes).
pub type FilePart = (String, String, String, Vec<u8>);

/// The file parts of a multipart/form-data body.
pub fn multipart_files(content_type: &str, body: &[u8]) -> Result<Vec<FilePart>, String> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|_| content_type.trim_start().starts_with("multipart/form-data"))
        .ok_or("not multipart/form-data with a boundary")?;
    let delim = format!("--{boundary}");
    let find = |h: &[u8], n: &[u8], from: usize| {
        h.get(from..)
            .and_then(|t| t.windows(n.len()).position(|w| w == n))
            .map(|p| p + from)
    };
    let mut out = Vec::new();
    let mut at = find(body, delim.as_bytes(), 0).ok_or("no boundary in the body")?;
    loop {
        let start = at + delim.len();
        if body.get(start..start + 2) == Some(b"--") {
            return Ok(out);
        }
        let head_end = find(body, b"\r\n\r\n", start).ok_or("a part without headers")?;
        let headers = String::from_utf8_lossy(&body[start..head_end]).to_string();
        let next = find(body, format!("\r\n{delim}").as_bytes(), head_end + 4)
            .ok_or("a part without its closing boundary")?;
        let content = body[head_end + 4..next].to_vec();
        let mut name = String::new();
        let mut file = None;
        let mut ctype = "application/octet-stream".to_owned();
        for line in headers.lines() {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                for p in line.split(';').map(str::trim) {
                    if let Some(v) = p.strip_prefix("name=") {
                        name = v.trim_matches('"').to_owned();
                    } else if let Some(v) = p.strip_prefix("filename=") {
                        file = Some(v.trim_matches('"').to_owned());
                    }
                }
            } else if lower.starts_with("content-type:") {
                ctype = line["content-type:".len()..].trim().to_owned();
            }
        }
        if let Some(f) = file {
            out.push((name, f, ctype, content));
        }
        at = next + 2;
    }
}

// ---------- JQL ----------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Op(String),
    LParen,
    RParen,
    Comma,
}

fn lex(q: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let cs: Vec<char> = q.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Tok::LParen);
            i += 1;
        } else if c == ')' {
            out.push(Tok::RParen);
            i += 1;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if c == '"' || c == '\'' {
            let mut s = String::new();
            i += 1;
            while i < cs.len() && cs[i] != c {
                s.push(cs[i]);
                i += 1;
            }
            if i >= cs.len() {
                return Err("unterminated string".into());
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if "=!<>~".contains(c) {
            let mut s = c.to_string();
            if i + 1 < cs.len() && cs[i + 1] == '=' {
                s.push('=');
                i += 1;
            }
            i += 1;
            out.push(Tok::Op(s));
        } else {
            let mut s = String::new();
            while i < cs.len() && !cs[i].is_whitespace() && !"()=,!<>~\"'".contains(cs[i]) {
                s.push(cs[i]);
                i += 1;
            }
            out.push(Tok::Word(s));
        }
    }
    Ok(out)
}

#[derive(Debug)]
struct Clause {
    field: String,
    op: String,
    values: Vec<String>,
    /// Whether each value was quoted.
    quoted: Vec<bool>,
}

#[derive(Debug)]
struct Jql {
    clauses: Vec<Clause>,
    order: Vec<(String, bool)>,
}

fn parse_jql(q: &str) -> Result<Jql, String> {
    let toks = lex(q)?;
    let mut i = 0;
    let mut clauses = Vec::new();
    let mut order = Vec::new();
    let word =
        |t: Option<&Tok>, w: &str| matches!(t, Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w));
    while i < toks.len() {
        if word(toks.get(i), "order") && word(toks.get(i + 1), "by") {
            i += 2;
            loop {
                let Some(Tok::Word(f)) = toks.get(i) else {
                    return Err("Expecting a field name after 'order by'.".into());
                };
                let f = f.to_ascii_lowercase();
                i += 1;
                let mut asc = true;
                if word(toks.get(i), "asc") {
                    i += 1;
                } else if word(toks.get(i), "desc") {
                    asc = false;
                    i += 1;
                }
                order.push((f, asc));
                if toks.get(i) == Some(&Tok::Comma) {
                    i += 1;
                } else {
                    break;
                }
            }
            if i < toks.len() {
                return Err("Expecting end of query after the ORDER BY clause.".into());
            }
            break;
        }
        if !clauses.is_empty() {
            if word(toks.get(i), "and") {
                i += 1;
            } else if word(toks.get(i), "or") {
                return Err("OR is not supported by this fake".into());
            } else {
                return Err(format!("Expecting 'AND' or 'ORDER BY' at token {i}."));
            }
        }
        let field = match toks.get(i) {
            Some(Tok::Word(f)) => f.to_ascii_lowercase(),
            _ => return Err("Expecting a field name.".into()),
        };
        i += 1;
        let op = match toks.get(i) {
            Some(Tok::Op(o)) => o.clone(),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => "in".into(),
            _ => return Err(format!("Expecting an operator after '{field}'.")),
        };
        i += 1;
        let mut values = Vec::new();
        let mut quoted = Vec::new();
        if op == "in" {
            if toks.get(i) != Some(&Tok::LParen) {
                return Err("Expecting '(' after 'in'.".into());
            }
            i += 1;
            loop {
                match toks.get(i) {
                    Some(Tok::Word(w)) => {
                        values.push(w.clone());
                        quoted.push(false);
                    }
                    Some(Tok::Str(w)) => {
                        values.push(w.clone());
                        quoted.push(true);
                    }
                    _ => return Err("Expecting a value in the list.".into()),
                }
                i += 1;
                match toks.get(i) {
                    Some(Tok::Comma) => i += 1,
                    Some(Tok::RParen) => {
                        i += 1;
                        break;
                    }
                    _ => return Err("Expecting ',' or ')'.".into()),
                }
            }
        } else {
            match toks.get(i) {
                Some(Tok::Word(w)) => {
                    values.push(w.clone());
                    quoted.push(false);
                }
                Some(Tok::Str(w)) => {
                    values.push(w.clone());
                    quoted.push(true);
                }
                _ => return Err(format!("Expecting a value after '{field} {op}'.")),
            }
            i += 1;
        }
        clauses.push(Clause {
            field,
            op,
            values,
            quoted,
        });
    }
    Ok(Jql { clauses, order })
}

/// A JQL date value as epoch ms, floored to the minute (JQL's resolution). Bare datetimes are
/// read in the account's time zone.
fn jql_time(v: &str, quoted: bool, tz_offset_secs: i32) -> Result<i64, String> {
    let ms = if !quoted && v.chars().all(|c| c.is_ascii_digit()) {
        v.parse::<i64>().map_err(|e| e.to_string())?
    } else {
        let norm = v.replace('/', "-");
        let dt = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", &norm)
            .or_else(|_| jiff::civil::Date::strptime("%Y-%m-%d", &norm).map(|d| d.to_datetime(jiff::civil::Time::midnight())))
            .map_err(|_| format!("Date value '{v}' for field is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."))?;
        let off = jiff::tz::Offset::from_seconds(tz_offset_secs).map_err(|e| e.to_string())?;
        dt.to_zoned(jiff::tz::TimeZone::fixed(off))
            .map_err(|e| e.to_string())?
            .timestamp()
            .as_millisecond()
    };
    Ok(ms - ms.rem_euclid(60_000))
}

fn matches(c: &Clause, i: &Issue, tz: i32) -> Result<bool, String> {
    let cmp_time = |t: i64| -> Result<bool, String> {
        let v = jql_time(&c.values[0], c.quoted[0], tz)?;
        Ok(match c.op.as_str() {
            ">=" => t >= v,
            ">" => t > v,
            "<=" => t <= v,
            "<" => t < v,
            "=" => t == v,
            o => {
                return Err(format!(
                    "The operator '{o}' is not supported by the date fields."
                ));
            }
        })
    };
    let eq_any = |actual: &str| c.values.iter().any(|v| v.eq_ignore_ascii_case(actual));
    Ok(match c.field.as_str() {
        "project" => match c.op.as_str() {
            "=" | "in" => eq_any(&i.project),
            "!=" => !eq_any(&i.project),
            o => {
                return Err(format!(
                    "The operator '{o}' is not supported by the 'project' field."
                ));
            }
        },
        "key" | "issuekey" => match c.op.as_str() {
            "=" | "in" => eq_any(&i.key),
            o => {
                return Err(format!(
                    "The operator '{o}' is not supported by the 'key' field."
                ));
            }
        },
        "labels" => match c.op.as_str() {
            "=" | "in" => i.labels.iter().any(|l| eq_any(l)),
            o => {
                return Err(format!(
                    "The operator '{o}' is not supported by the 'labels' field."
                ));
            }
        },
        "updated" => cmp_time(i.updated)?,
        "created" => cmp_time(i.created)?,
        other => {
            return Err(format!(
                "Field '{other}' does not exist or you do not have permission to view it."
            ));
        }
    })
}

fn run_jql(s: &State, q: &Jql) -> Result<Vec<usize>, String> {
    if q.clauses.is_empty() {
        return Err(
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
                .into(),
        );
    }
    let mut hits = Vec::new();
    for (k, i) in s.issues.iter().enumerate() {
        let mut ok = true;
        for c in &q.clauses {
            if !matches(c, i, s.tz_offset_secs)? {
                ok = false;
                break;
            }
        }
        if ok {
            hits.push(k);
        }
    }
    for (f, _) in &q.order {
        if !["updated", "created", "id", "key"].contains(&f.as_str()) {
            return Err(format!(
                "Field '{f}' does not exist or you do not have permission to view it."
            ));
        }
    }
    let order = if q.order.is_empty() {
        vec![("key".to_owned(), false)]
    } else {
        q.order.clone()
    };
    hits.sort_by(|a, b| {
        let (a, b) = (&s.issues[*a], &s.issues[*b]);
        for (f, asc) in &order {
            let o = match f.as_str() {
                "updated" => a.updated.cmp(&b.updated),
                "created" => a.created.cmp(&b.created),
                _ => a.id.cmp(&b.id),
            };
            let o = if *asc { o } else { o.reverse() };
            if o.is_ne() {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    Ok(hits)
}

// ---------- handler ----------

impl JiraHandler {
    fn authorized(&self, req: &Request) -> bool {
        let Some(h) = req.header("authorization") else {
            return false;
        };
        let s = lock(&self.state);
        match (&s.accepted_basic, h.split_once(' ')) {
            (_, None) => false,
            (None, Some((scheme, _))) => {
                scheme.eq_ignore_ascii_case("basic") || scheme.eq_ignore_ascii_case("bearer")
            }
            (Some(expected), Some((scheme, val))) => {
                scheme.eq_ignore_ascii_case("basic")
                    && decode_b64(val).as_deref() == Some(expected.as_str())
            }
        }
    }

    fn search(&self, req: &Request) -> Response {
        let base = lock(&self.base).clone();
        // GET: query parameters; POST: a JSON body.
        let (jql, token, max, fields) = if req.method == "POST" {
            let Ok(b) = req.json() else {
                return err(400, "The request body is not valid JSON.");
            };
            let fields = b["fields"].as_array().map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect::<Vec<_>>()
            });
            (
                b["jql"].as_str().unwrap_or("").to_owned(),
                b["nextPageToken"].as_str().map(str::to_owned),
                b["maxResults"].as_u64().map(|n| n as usize),
                fields,
            )
        } else {
            let fields = req.param("fields").map(|f| {
                f.split(',')
                    .map(|x| x.trim().to_owned())
                    .collect::<Vec<_>>()
            });
            let max = match req.param("maxResults") {
                Some(m) => match m.parse::<usize>() {
                    Ok(n) => Some(n),
                    Err(_) => return err(400, "maxResults must be a number."),
                },
                None => None,
            };
            (
                req.param("jql").unwrap_or("").to_owned(),
                req.param("nextPageToken").map(str::to_owned),
                max,
                fields,
            )
        };
        let id_only = fields.as_ref().is_none_or(|f| f.iter().all(|x| x == "id"));
        let mut s = lock(&self.state);
        let cap = if id_only { 5000 } else { s.page_cap };
        let limit = max.unwrap_or(50).clamp(1, cap);
        let parsed = match parse_jql(&jql) {
            Ok(q) => q,
            Err(e) => {
                return Response::json(
                    400,
                    &error_body(&[&format!("Error in the JQL Query: {e}")], json!({})),
                );
            }
        };
        let hits = match run_jql(&s, &parsed) {
            Ok(h) => h,
            Err(e) => return err(400, &e),
        };
        let offset = match &token {
            None => 0,
            Some(t) => match s.tokens.get(t) {
                Some((q, off)) if *q == jql => *off,
                _ => return err(400, "The provided next page token is invalid or expired."),
            },
        };
        let page: Vec<usize> = hits.iter().skip(offset).take(limit).copied().collect();
        let end = offset + page.len();
        let mut v = json!({
            "issues": page
                .iter()
                .map(|k| issue_json(&base, &s, &s.issues[*k], fields.as_deref().filter(|_| !id_only)))
                .collect::<Vec<_>>(),
            "isLast": end >= hits.len(),
        });
        if id_only {
            // `fields=id` still returns an (empty) fields object per issue.
            if let Some(a) = v["issues"].as_array_mut() {
                for i in a {
                    i["fields"] = json!({});
                }
            }
        }
        if end < hits.len() {
            let t = format!("Ch{:016x}", 0x5eed_0000_u64 + s.next_token);
            s.next_token += 1;
            s.tokens.insert(t.clone(), (jql, end));
            v["nextPageToken"] = json!(t);
        }
        Response::json(200, &v)
    }

    fn get_issue(&self, key: &str, req: &Request) -> Response {
        let base = lock(&self.base).clone();
        let s = lock(&self.state);
        let Some(i) = s.issue(key) else {
            return not_found();
        };
        let fields: Vec<String> = req
            .param("fields")
            .map(|f| f.split(',').map(|x| x.trim().to_owned()).collect())
            .unwrap_or_else(|| vec!["*all".to_owned()]);
        let mut v = issue_json(&base, &s, i, Some(&fields));
        if req.param("properties").is_some() {
            v["properties"] = json!(i.properties);
        }
        Response::json(200, &v)
    }

    fn edit_issue(&self, key: &str, req: &Request) -> Response {
        let Ok(b) = req.json() else {
            return err(400, "The request body is not valid JSON.");
        };
        let mut s = lock(&self.state);
        if s.issue(key).is_none() {
            return not_found();
        }
        let f = &b["fields"];
        let mut errors = serde_json::Map::new();
        if let Some(p) = f.get("priority") {
            let name = p["name"].as_str().or_else(|| {
                p["id"]
                    .as_str()
                    .and_then(|id| PRIORITIES.iter().find(|(i, _)| *i == id).map(|(_, n)| *n))
            });
            if name.is_none_or(|n| !PRIORITIES.iter().any(|(_, x)| *x == n)) {
                errors.insert(
                    "priority".into(),
                    json!("Specify the Priority (name) in the string format"),
                );
            }
        }
        if let Some(why) = f.get("assignee").and_then(|a| unassignable(&s, a)) {
            errors.insert("assignee".into(), json!(why));
        }
        if let Some(d) = f.get("description")
            && d.is_object()
            && description_too_long(&adf_text(d)).is_some()
        {
            errors.insert(
                "description".into(),
                json!("The entered text is too long. It exceeds the allowed limit of 32,767 characters."),
            );
        }
        if let Some(d) = f.get("description")
            && !d.is_null()
            && !d.is_object()
        {
            errors.insert(
                "description".into(),
                json!("Operation value must be an Atlassian Document (see the Atlassian Document Format)"),
            );
        }
        if let Some(sm) = f.get("summary")
            && sm.as_str().is_none_or(str::is_empty)
        {
            errors.insert(
                "summary".into(),
                json!("You must specify a summary of the issue."),
            );
        }
        if !errors.is_empty() {
            return Response::json(400, &error_body(&[], Value::Object(errors)));
        }
        let now = s.tick();
        let Some(i) = s.issue_mut(key) else {
            return not_found();
        };
        if let Some(x) = f["summary"].as_str() {
            i.summary = x.to_owned();
        }
        if let Some(d) = f.get("description") {
            i.description = adf_text(d);
        }
        if let Some(p) = f.get("priority") {
            let name = p["name"].as_str().map(str::to_owned).or_else(|| {
                p["id"].as_str().and_then(|id| {
                    PRIORITIES
                        .iter()
                        .find(|(i, _)| *i == id)
                        .map(|(_, n)| (*n).to_owned())
                })
            });
            if let Some(n) = name {
                i.priority = n;
            }
        }
        if let Some(a) = f.get("assignee") {
            i.assignee = a["accountId"].as_str().map(str::to_owned);
        }
        if let Some(l) = f["labels"].as_array() {
            i.labels = l
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect();
        }
        // `fields.status` is ignored here, as on the real site ("issue transition is not
        // supported and is ignored").
        i.updated = now;
        Response::empty(204)
    }

    fn transitions(&self, key: &str) -> Response {
        let base = lock(&self.base).clone();
        let s = lock(&self.state);
        let Some(i) = s.issue(key) else {
            return not_found();
        };
        let list: Vec<Value> = STATUSES
            .iter()
            .filter(|(_, n, _)| *n != i.status)
            .map(|(id, n, _)| {
                json!({
                    "id": id, "name": format!("Move to {n}"), "to": status_json(&base, n),
                    "hasScreen": false, "isGlobal": true, "isInitial": false,
                    "isAvailable": true, "isConditional": false, "isLooped": false,
                })
            })
            .collect();
        Response::json(
            200,
            &json!({ "expand": "transitions", "transitions": list }),
        )
    }

    fn do_transition(&self, key: &str, req: &Request) -> Response {
        let Ok(b) = req.json() else {
            return err(400, "The request body is not valid JSON.");
        };
        let mut s = lock(&self.state);
        let Some(cur) = s.issue(key).map(|i| i.status.clone()) else {
            return not_found();
        };
        let id = b["transition"]["id"].as_str().unwrap_or("");
        let Some((_, to, cat)) = STATUSES.iter().find(|(i, n, _)| *i == id && *n != cur) else {
            return Response::json(
                400,
                &error_body(
                    &[&format!(
                        "Transition id '{id}' is not valid for this issue."
                    )],
                    json!({}),
                ),
            );
        };
        let now = s.tick();
        if let Some(i) = s.issue_mut(key) {
            i.status = (*to).to_owned();
            i.resolutiondate = (*cat == "done").then_some(now);
            i.updated = now;
        }
        Response::empty(204)
    }

    fn create_issue(&self, req: &Request) -> Response {
        let base = lock(&self.base).clone();
        let Ok(b) = req.json() else {
            return err(400, "The request body is not valid JSON.");
        };
        let f = &b["fields"];
        let Some(project) = f["project"]["key"].as_str() else {
            return Response::json(
                400,
                &error_body(
                    &[],
                    json!({ "project": "Specify a valid project ID or key" }),
                ),
            );
        };
        let Some(summary) = f["summary"].as_str().filter(|s| !s.is_empty()) else {
            return Response::json(
                400,
                &error_body(
                    &[],
                    json!({ "summary": "You must specify a summary of the issue." }),
                ),
            );
        };
        let mut new = NewIssue::new(project, summary);
        if let Some(d) = f.get("description") {
            new.description = adf_text(d);
            if let Some(r) = description_too_long(&new.description) {
                return r;
            }
        }
        if let Some(p) = f["priority"]["name"].as_str() {
            new.priority = p.to_owned();
        }
        new.assignee = f["assignee"]["accountId"].as_str().map(str::to_owned);
        if let Some(l) = f["labels"].as_array() {
            new.labels = l
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect();
        }
        let mut props = BTreeMap::new();
        if let Some(ps) = b["properties"].as_array() {
            for p in ps {
                if let Some(k) = p["key"].as_str() {
                    props.insert(k.to_owned(), p["value"].clone());
                }
            }
        }
        let mut s = lock(&self.state);
        if let Some(why) = f.get("assignee").and_then(|a| unassignable(&s, a)) {
            return Response::json(400, &error_body(&[], json!({ "assignee": why })));
        }
        let i = create(&mut s, new, AGENT_ID, props);
        Response::json(
            201,
            &json!({ "id": i.id.to_string(), "key": i.key, "self": format!("{base}/rest/api/3/issue/{}", i.id) }),
        )
    }

    fn add_attachments(&self, key: &str, req: &Request) -> Response {
        if req.header("x-atlassian-token") != Some("no-check") {
            return err(403, "XSRF check failed");
        }
        let base = lock(&self.base).clone();
        let files = match multipart_files(req.header("content-type").unwrap_or(""), &req.body) {
            Ok(f) => f,
            Err(e) => {
                return err(
                    400,
                    &format!("The request is not a valid multipart upload: {e}"),
                );
            }
        };
        let files: Vec<_> = files.into_iter().filter(|f| f.0 == "file").collect();
        if files.is_empty() {
            return err(400, "No file was attached in the 'file' field.");
        }
        let mut s = lock(&self.state);
        let Some(issue_id) = s.issue(key).map(|i| i.id) else {
            return not_found();
        };
        let now = s.tick();
        let mut added = Vec::new();
        for (_, filename, mime_type, content) in files {
            let a = Attachment {
                id: 30_000 + s.attachments.len() as u64,
                issue_id,
                filename,
                mime_type,
                content,
                created: now,
            };
            added.push(attachment_json(&base, &s, &a));
            s.attachments.push(a);
        }
        if let Some(i) = s.issue_mut(key) {
            i.updated = now;
        }
        Response::json(200, &Value::Array(added))
    }

    fn date_dto(&self, ms: i64, tz: i32) -> Value {
        json!({
            "iso8601": jira_time(ms, tz),
            "jira": jira_time(ms, tz),
            "friendly": "Today 9:00 AM",
            "epochMillis": ms,
        })
    }

    /// `GET /rest/api/3/user/assignable/search`: see the module documentation.
    fn assignable_users(&self, req: &Request) -> Response {
        let base = lock(&self.base).clone();
        let s = lock(&self.state);
        let by_issue = req.param("issueKey").or(req.param("issueId"));
        if req.param("project").is_none() {
            match by_issue {
                None => {
                    return err(
                        400,
                        "At least one of the parameters 'project', 'issueKey' or 'issueId' is required.",
                    );
                }
                Some(k) if s.issue(k).is_none() => return not_found(),
                Some(_) => {}
            }
        }
        let (query, account) = (req.param("query"), req.param("accountId"));
        if query.is_none() && account.is_none() {
            return err(400, "The parameter 'query' or 'accountId' is required.");
        }
        let number = |name: &str, default: usize| match req.param(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| err(400, &format!("The '{name}' parameter must be a number."))),
        };
        let (start, max) = match (number("startAt", 0), number("maxResults", 50)) {
            (Ok(a), Ok(b)) => (a, b.min(1000)),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        let users: Vec<Value> = s
            .users
            .iter()
            .filter(|u| match (account, query) {
                (Some(a), _) => u.account_id == a,
                (None, Some(q)) => u.matches(q),
                (None, None) => false,
            })
            .take(1000)
            .skip(start)
            .take(max)
            .filter(|u| u.assignable())
            .map(|u| user(&base, &s, &u.account_id))
            .collect();
        Response::json(200, &Value::Array(users))
    }

    fn sd_comment(&self, base: &str, s: &State, i: &Issue, c: &Comment) -> Value {
        let u = user(base, s, &c.author);
        let mut author = json!({
            "accountId": c.author,
            "displayName": u["displayName"],
            "active": u["active"],
            "timeZone": "Australia/Sydney",
            "_links": { "self": format!("{base}/rest/api/2/user?accountId={}", c.author) },
        });
        if u.get("emailAddress").is_some() {
            author["emailAddress"] = u["emailAddress"].clone();
        }
        json!({
            "id": c.id.to_string(),
            "body": c.body,
            "public": c.public,
            "author": author,
            "created": self.date_dto(c.created, s.tz_offset_secs),
            "_links": { "self": format!("{base}/rest/servicedeskapi/request/{}/comment/{}", i.id, c.id) },
        })
    }

    fn list_comments(&self, key: &str, req: &Request) -> Response {
        let base = lock(&self.base).clone();
        let s = lock(&self.state);
        let Some(i) = s.issue(key) else {
            return not_found();
        };
        let public = req.param("public").is_none_or(|v| v != "false");
        let internal = req.param("internal").is_none_or(|v| v != "false");
        let start: usize = req.param("start").and_then(|v| v.parse().ok()).unwrap_or(0);
        let limit: usize = req
            .param("limit")
            .and_then(|v| v.parse().ok())
            .unwrap_or(50)
            .clamp(1, 100);
        let all: Vec<&Comment> = i
            .comments
            .iter()
            .filter(|c| (c.public && public) || (!c.public && internal))
            .collect();
        let values: Vec<Value> = all
            .iter()
            .skip(start)
            .take(limit)
            .map(|c| self.sd_comment(&base, &s, i, c))
            .collect();
        let last = start + values.len() >= all.len();
        let mut links = json!({
            "base": base,
            "context": "",
            "self": format!("{base}/rest/servicedeskapi/request/{key}/comment?start={start}&limit={limit}"),
        });
        if !last {
            links["next"] = json!(format!(
                "{base}/rest/servicedeskapi/request/{key}/comment?start={}&limit={limit}",
                start + limit
            ));
        }
        Response::json(
            200,
            &json!({ "size": values.len(), "start": start, "limit": limit, "isLastPage": last, "values": values, "_links": links }),
        )
    }

    fn add_comment(&self, key: &str, req: &Request) -> Response {
        let base = lock(&self.base).clone();
        let Ok(b) = req.json() else {
            return err(400, "The request body is not valid JSON.");
        };
        let Some(body) = b["body"].as_str().filter(|x| !x.trim().is_empty()) else {
            return err(400, "Comment body is required.");
        };
        let public = b["public"].as_bool().unwrap_or(true);
        let mut s = lock(&self.state);
        match s.add_comment(key, body, public, AGENT_ID, BTreeMap::new()) {
            Some((i, c)) => Response::json(201, &self.sd_comment(&base, &s, &i, &c)),
            None => not_found(),
        }
    }

    /// `POST /rest/api/3/issue/{key}/comment`: an ADF body, optional `properties`; the
    /// `sd.public.comment` property `{"internal": true}` makes an internal note (`jsdPublic:
    /// false`), anything else is public.
    fn add_platform_comment(&self, key: &str, req: &Request) -> Response {
        let base = lock(&self.base).clone();
        let Ok(b) = req.json() else {
            return err(400, "The request body is not valid JSON.");
        };
        let text = adf_text(&b["body"]);
        if text.trim().is_empty() {
            return Response::json(
                400,
                &error_body(&[], json!({ "comment": "Comment body can not be empty!" })),
            );
        }
        let mut properties = BTreeMap::new();
        for p in b["properties"].as_array().into_iter().flatten() {
            let Some(k) = p["key"].as_str().filter(|k| !k.is_empty()) else {
                return err(400, "The property key cannot be empty.");
            };
            properties.insert(k.to_owned(), p["value"].clone());
        }
        let internal = properties
            .get("sd.public.comment")
            .is_some_and(|v| v["internal"] == json!(true));
        let mut s = lock(&self.state);
        match s.add_comment(key, &text, !internal, AGENT_ID, properties) {
            Some((i, c)) => Response::json(201, &platform_comment(&base, &s, &i, &c)),
            None => not_found(),
        }
    }

    /// `GET /rest/api/3/issue/{key}/comment`: `PageOfComments`, `startAt` / `maxResults`
    /// (default 100), `orderBy=created|-created`.
    fn list_platform_comments(&self, key: &str, req: &Request) -> Response {
        let base = lock(&self.base).clone();
        let s = lock(&self.state);
        let Some(i) = s.issue(key) else {
            return not_found();
        };
        let start: usize = req
            .param("startAt")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let max: usize = req
            .param("maxResults")
            .and_then(|v| v.parse().ok())
            .unwrap_or(100)
            .clamp(1, 5000);
        let with_properties = req
            .param("expand")
            .is_some_and(|e| e.split(',').any(|x| x.trim() == "properties"));
        let mut all: Vec<&Comment> = i.comments.iter().collect();
        if req.param("orderBy") == Some("-created") {
            all.reverse();
        }
        let page: Vec<Value> = all
            .iter()
            .skip(start)
            .take(max)
            .map(|c| platform_comment_with(&base, &s, i, c, with_properties))
            .collect();
        Response::json(
            200,
            &json!({ "startAt": start, "maxResults": max, "total": all.len(), "comments": page }),
        )
    }

    /// `POST /rest/api/3/comment/list`: `{"ids": [...]}` (at most 1000) → `PageBeanComment` of
    /// the comments that exist, `expand=properties` adds their properties.
    fn comments_by_ids(&self, req: &Request) -> Response {
        let base = lock(&self.base).clone();
        let Ok(b) = req.json() else {
            return err(400, "The request body is not valid JSON.");
        };
        let Some(ids) = b["ids"].as_array() else {
            return Response::json(400, &error_body(&[], json!({ "ids": "ids is required" })));
        };
        if ids.len() > 1000 {
            return err(400, "A maximum of 1000 IDs can be specified.");
        }
        let ids: Vec<u64> = ids.iter().filter_map(Value::as_u64).collect();
        let with_properties = req
            .param("expand")
            .is_some_and(|e| e.split(',').any(|x| x.trim() == "properties"));
        let start: usize = req
            .param("startAt")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let s = lock(&self.state);
        let found: Vec<Value> = s
            .issues
            .iter()
            .flat_map(|i| i.comments.iter().map(move |c| (i, c)))
            .filter(|(_, c)| ids.contains(&c.id))
            .map(|(i, c)| platform_comment_with(&base, &s, i, c, with_properties))
            .collect();
        let max = 50usize;
        let page: Vec<Value> = found.iter().skip(start).take(max).cloned().collect();
        let last = start + page.len() >= found.len();
        Response::json(
            200,
            &json!({ "startAt": start, "maxResults": max, "total": found.len(), "isLast": last, "values": page }),
        )
    }

    fn sla(&self, key: &str) -> Response {
        let base = lock(&self.base).clone();
        let s = lock(&self.state);
        let Some(i) = s.issue(key) else {
            return not_found();
        };
        let tz = s.tz_offset_secs;
        let breach = i.created + i.sla_goal_ms;
        let dur = |ms: i64| json!({ "millis": ms, "friendly": format!("{}m", ms / 60_000) });
        let mut v = json!({
            "id": "1",
            "name": "Time to resolution",
            "_links": { "self": format!("{base}/rest/servicedeskapi/request/{}/sla/1", i.id) },
            "completedCycles": [],
        });
        match i.resolutiondate {
            Some(done) => {
                v["completedCycles"] = json!([{
                    "startTime": self.date_dto(i.created, tz),
                    "stopTime": self.date_dto(done, tz),
                    "breachTime": self.date_dto(breach, tz),
                    "breached": done > breach,
                    "goalDuration": dur(i.sla_goal_ms),
                    "elapsedTime": dur(done - i.created),
                    "remainingTime": dur(breach - done),
                }]);
            }
            None => {
                v["ongoingCycle"] = json!({
                    "startTime": self.date_dto(i.created, tz),
                    "breachTime": self.date_dto(breach, tz),
                    "breached": s.now > breach,
                    "paused": i.status == "Waiting for customer",
                    "withinCalendarHours": true,
                    "goalDuration": dur(i.sla_goal_ms),
                    "elapsedTime": dur(s.now - i.created),
                    "remainingTime": dur(breach - s.now),
                });
            }
        }
        Response::json(
            200,
            &json!({ "size": 1, "start": 0, "limit": 50, "isLastPage": true, "values": [v],
                     "_links": { "base": base, "context": "", "self": format!("{base}/rest/servicedeskapi/request/{key}/sla") } }),
        )
    }
}

fn decode_b64(s: &str) -> Option<String> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.trim().bytes().filter(|c| *c != b'=') {
        let v = A.iter().position(|x| *x == c)? as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    String::from_utf8(out).ok()
}

impl Handler for JiraHandler {
    fn handle(&self, req: &Request) -> Response {
        if !self.authorized(req) {
            return self.unauthorized();
        }
        let seg = req.segments();
        if seg.first() == Some(&"wiki") {
            let base = lock(&self.base).clone();
            return crate::confluence::handle(&lock(&self.state).wiki, &base, req);
        }
        let m = req.method.as_str();
        match (m, seg.as_slice()) {
            ("GET" | "POST", ["rest", "api", "3", "search"]) => err(
                410,
                "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
            ),
            ("GET" | "POST", ["rest", "api", "3", "search", "jql"]) => self.search(req),
            ("GET", ["rest", "api", "3", "user", "assignable", "search"]) => {
                self.assignable_users(req)
            }
            ("GET", ["rest", "api", "3", "myself"]) => {
                let base = lock(&self.base).clone();
                let mut u = user(&base, &lock(&self.state), AGENT_ID);
                u["emailAddress"] = json!("ana@example.test");
                Response::json(200, &u)
            }
            ("POST", ["rest", "api", "3", "issue"]) => self.create_issue(req),
            ("GET", ["rest", "api", "3", "issue", key]) => self.get_issue(key, req),
            ("PUT", ["rest", "api", "3", "issue", key]) => self.edit_issue(key, req),
            ("GET", ["rest", "api", "3", "issue", key, "transitions"]) => self.transitions(key),
            ("POST", ["rest", "api", "3", "issue", key, "attachments"]) => {
                self.add_attachments(key, req)
            }
            ("POST", ["rest", "api", "3", "issue", key, "transitions"]) => {
                self.do_transition(key, req)
            }
            ("GET", ["rest", "api", "3", "issue", key, "comment"]) => {
                self.list_platform_comments(key, req)
            }
            ("POST", ["rest", "api", "3", "issue", key, "comment"]) => {
                self.add_platform_comment(key, req)
            }
            ("POST", ["rest", "api", "3", "comment", "list"]) => self.comments_by_ids(req),
            ("GET", ["rest", "servicedeskapi", "request", key, "comment"]) => {
                self.list_comments(key, req)
            }
            ("POST", ["rest", "servicedeskapi", "request", key, "comment"]) => {
                self.add_comment(key, req)
            }
            ("GET", ["rest", "servicedeskapi", "request", key, "sla"]) => self.sla(key),
            _ => err(404, "null for uri: the requested resource is not available"),
        }
    }

    fn error_status(&self, status: u16) -> Response {
        let msg = match status {
            409 => "The issue could not be updated due to a conflicting update.",
            503 => "Service Unavailable",
            _ => "Internal server error",
        };
        let r = err(status, msg);
        if status == 503 {
            r.with_header("Retry-After", "5")
        } else {
            r
        }
    }

    fn rate_limited(&self, retry_after_secs: u64) -> Response {
        let reset = jira_time(lock(&self.state).now + retry_after_secs as i64 * 1000, 0);
        err(429, "Rate limit exceeded.")
            .with_header("Retry-After", retry_after_secs.to_string())
            .with_header("X-RateLimit-Limit", "100")
            .with_header("X-RateLimit-Remaining", "0")
            .with_header("X-RateLimit-Reset", reset)
            .with_header("X-RateLimit-NearLimit", "true")
            .with_header("RateLimit-Reason", "jira-burst-based")
    }

    fn unauthorized(&self) -> Response {
        err(401, "Client must be authenticated to access this resource.")
            .with_header("WWW-Authenticate", "Basic realm=\"protected-area\"")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn timestamps_have_ms_and_an_offset_without_colon() {
        assert_eq!(
            jira_time(T0_MS + 1234, 11 * 3600),
            "2024-03-01T20:00:01.234+1100"
        );
        assert_eq!(jira_time(T0_MS, 0), "2024-03-01T09:00:00.000+0000");
    }

    #[test]
    fn bare_jql_datetimes_are_read_in_the_account_zone_and_floored_to_the_minute() {
        // 20:00 in +11:00 is 09:00 UTC.
        assert_eq!(
            jql_time("2024-03-01 20:00", true, 11 * 3600).unwrap(),
            T0_MS
        );
        assert_eq!(
            jql_time(&(T0_MS + 59_999).to_string(), false, 0).unwrap(),
            T0_MS
        );
        assert!(jql_time("yesterday-ish", true, 0).is_err());
    }

    #[test]
    fn jql_parses_what_the_connector_sends() {
        let q = parse_jql(
            "project in (HD, \"OPS\") AND updated >= 1709283600000 ORDER BY updated ASC, id ASC",
        )
        .unwrap();
        assert_eq!(q.clauses.len(), 2);
        assert_eq!(q.clauses[0].values, vec!["HD", "OPS"]);
        assert_eq!(q.order, vec![("updated".into(), true), ("id".into(), true)]);
        assert!(parse_jql("project = HD OR project = X").is_err());
    }

    #[test]
    fn multipart_file_parts_are_read_whole() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.log\"\r\nContent-Type: text/plain\r\n\r\nline 1\r\nline 2\n\r\n--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nx\r\n--XyZ--\r\n";
        let files = multipart_files("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].0, "file");
        assert_eq!(files[0].1, "a.log");
        assert_eq!(files[0].2, "text/plain");
        assert_eq!(files[0].3, b"line 1\r\nline 2\n");
        assert!(multipart_files("application/json", body).is_err());
    }

    #[test]
    fn a_description_over_32767_utf16_units_is_refused_as_jira_does() {
        assert!(description_too_long(&"x".repeat(TEXT_FIELD_LIMIT)).is_none());
        assert!(description_too_long(&"x".repeat(TEXT_FIELD_LIMIT + 1)).is_some());
        // An emoji is two UTF-16 code units: 16,384 of them are over the limit.
        assert!(description_too_long(&"😀".repeat(16_383)).is_none());
        let r = description_too_long(&"😀".repeat(16_384)).unwrap();
        assert_eq!(r.status, 400);
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            body,
            json!({ "errorMessages": [], "errors": { "description": "The entered text is too long. It exceeds the allowed limit of 32,767 characters." } })
        );
    }

    #[test]
    fn adf_round_trips_plain_text() {
        let t = "Line one\nline two\n\n[casebook-op:abc]";
        assert_eq!(adf_text(&adf(t)), t);
        assert_eq!(
            decode_b64("YW5hQGV4YW1wbGUudGVzdDp0b2s=").as_deref(),
            Some("ana@example.test:tok")
        );
    }
}
