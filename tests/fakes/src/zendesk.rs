//! The fake Zendesk Support (+ Help Center articles), behaving like the real API:
//!
//! - `GET /api/v2/incremental/tickets/cursor.json?start_time=|cursor=` (Admins only: an agent gets
//!   403) → `tickets`, `after_cursor`, `after_url`, `before_cursor`, `end_of_stream`; tickets are
//!   selected by `generated_timestamp`; deleted tickets come back with `status: "deleted"` unless
//!   `exclude_deleted=true`; `start_time` must be at least one minute in the past; data of the most
//!   recent `export_lag_secs` (real: 60) is held back.
//! - `GET /api/v2/search/export.json?query=...&filter[type]=ticket&page[size]=&page[after]=`
//!   (Agents) ordered by `created_at`, cursor in `meta.after_cursor` / `links.next`; the query
//!   understands `type:ticket`, `updated>=|>|<|<=<ISO 8601>`, `external_id:<x>`.
//! - `GET|PUT /api/v2/tickets/{id}.json` with `safe_update` + `updated_stamp` → **409**
//!   `UpdateConflict` when the stamp is not the ticket's `updated_at`; comments through
//!   `ticket.comment` (`public: false` = internal note); `POST /api/v2/tickets.json` honours an
//!   `Idempotency-Key` header for two hours (`x-idempotency-lookup: hit|miss`); `GET /api/v2/tickets.json?
//!   external_id=`; `GET /api/v2/tickets/{id}/comments.json` with cursor pages.
//! - Every change is an audit (`GET /api/v2/tickets/{id}/audits.json`, cursor pages or one
//!   offset page): its events (`Create`, `Change`, `Comment`) and `metadata` (`system`, and
//!   `custom` = the write-only `ticket.metadata` of the update that made it, as the spec's
//!   "Setting Metadata" describes). A comment's `audit_id` names its audit; a comment's own
//!   `metadata` carries only `system` (the spec: "System information ... and comment flags").
//! - `GET /api/v2/help_center/incremental/articles.json?start_time=` (time-based, `end_time`,
//!   `next_page`).
//! - Timestamps `2024-03-01T09:00:00Z` (second precision); every answer carries `X-Rate-Limit`,
//!   `X-Rate-Limit-Remaining` and `ratelimit-*`; 429 with `Retry-After`; 401 `invalid_token`.
//!
//! - People: a directory of users ([`User`]: the signed-in agent [`AGENT_ID`], a colleague
//!   [`OTHER_ID`], the end user [`REQUESTER_ID`]) and groups ([`Group`]). Tickets and comments hold
//!   ids. `GET /api/v2/users/show_many?ids=` (at most 100 ids; unknown ids are left out),
//!   `GET /api/v2/users/search?query=` (offset pages `page`/`per_page` ≤ 100 with `next_page` and
//!   `count`; the query matches any part of a name or email address, ignoring case),
//!   `GET /api/v2/groups` (cursor pages `page[size]`/`page[after]`, or offset pages; deleted
//!   groups listed with `deleted: true` unless `exclude_deleted=true`). Writing an `assignee_id`
//!   that is not an agent's, or a `group_id` that is no group, is a 422 `RecordInvalid`.
//!
//! Paths are accepted with or without the `.json` suffix, as the real API does.

use crate::faults::{FaultPlan, lock};
use crate::server::{self, Handler, Request, RequestLog, Response, ServerHandle};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// 2024-03-01 09:00:00 UTC in seconds.
pub const T0_SECS: i64 = 1_709_283_600;

pub const AGENT_ID: u64 = 9001;
pub const AGENT_NAME: &str = "Ana Agent";
pub const OTHER_ID: u64 = 9002;
pub const OTHER_NAME: &str = "Bo Colleague";
pub const REQUESTER_ID: u64 = 9100;
pub const REQUESTER_NAME: &str = "Rita Requester";
pub const GROUP_ID: u64 = 360_001;
pub const GROUP_NAME: &str = "Support";
/// A second group.
pub const NETWORK_GROUP_ID: u64 = 360_002;
/// How long Zendesk remembers an `Idempotency-Key` (the API introduction's "Idempotency"
/// section: keys expire after two hours).
pub const IDEMPOTENCY_WINDOW_SECS: i64 = 2 * 3600;

/// A user of the account.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub email: String,
    /// `end-user`, `agent` or `admin`.
    pub role: String,
}

impl User {
    pub fn new(id: u64, name: &str, email: &str, role: &str) -> User {
        User {
            id,
            name: name.to_owned(),
            email: email.to_owned(),
            role: role.to_owned(),
        }
    }

    fn is_agent(&self) -> bool {
        self.role == "agent" || self.role == "admin"
    }
}

/// A group of agents.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: u64,
    pub name: String,
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub id: u64,
    pub body: String,
    pub public: bool,
    pub author_id: u64,
    pub created_at: i64,
    pub audit_id: u64,
}

/// One update of a ticket as Zendesk records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Audit {
    pub id: u64,
    pub author_id: u64,
    pub created_at: i64,
    /// `Create`, `Change` and `Comment` events, as the API shows them.
    pub events: Vec<Value>,
    /// The update's `ticket.metadata` (`metadata.custom` of the audit), `{}` when none.
    pub custom: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub id: u64,
    pub subject: String,
    pub status: String,
    pub priority: Option<String>,
    pub assignee_id: Option<u64>,
    pub group_id: Option<u64>,
    pub requester_id: u64,
    pub tags: Vec<String>,
    pub external_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub generated_timestamp: i64,
    pub comments: Vec<Comment>,
    pub audits: Vec<Audit>,
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    pub id: u64,
    pub title: String,
    pub body: String,
    pub draft: bool,
    pub updated_at: i64,
}

#[derive(Debug)]
pub struct State {
    /// The fake clock (seconds). Every write moves it forward by one second.
    pub now: i64,
    /// `admin` or `agent`: admins may use the incremental export.
    pub role: String,
    pub tickets: Vec<Ticket>,
    pub articles: Vec<Article>,
    /// Seconds of most recent changes the incremental export holds back (real: 60).
    pub export_lag_secs: i64,
    /// Incremental export page size (real default 1000).
    pub export_page_size: usize,
    pub article_page_size: usize,
    next_id: u64,
    next_comment: u64,
    next_audit: u64,
    /// Idempotency-Key → (canonical request body, ticket id, when it was first used, seconds).
    idempotency: HashMap<String, (String, u64, i64)>,
    /// Requests left in the current rate-limit window (shown in the headers).
    remaining: u32,
    /// When set, only this bearer token is accepted.
    pub accepted_token: Option<String>,
    /// SLA policy metrics per ticket, sideloaded with `include=slas` (see `zendesk_sla.rs`).
    pub sla_metrics: HashMap<u64, Vec<crate::zendesk_sla::PolicyMetric>>,
    /// The account's users and groups.
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    next_user: u64,
}

impl State {
    fn tick(&mut self) -> i64 {
        self.now += 1;
        self.now
    }

    fn ticket(&self, id: u64) -> Option<&Ticket> {
        self.tickets.iter().find(|t| t.id == id && !t.deleted)
    }

    fn ticket_mut(&mut self, id: u64) -> Option<&mut Ticket> {
        self.tickets.iter_mut().find(|t| t.id == id && !t.deleted)
    }

    fn touch(&mut self, id: u64) {
        let now = self.tick();
        if let Some(t) = self.tickets.iter_mut().find(|t| t.id == id) {
            t.updated_at = now;
            t.generated_timestamp = now;
        }
    }

    /// Adds a comment made by the update recorded as `audit_id`; returns its `Comment` event.
    fn add_comment(
        &mut self,
        id: u64,
        body: &str,
        public: bool,
        author: u64,
        audit_id: u64,
    ) -> Option<Value> {
        let cid = self.next_comment;
        self.next_comment += 1;
        let now = self.now;
        let c = Comment {
            id: cid,
            body: body.to_owned(),
            public,
            author_id: author,
            created_at: now,
            audit_id,
        };
        let event = comment_event(&c);
        self.ticket_mut(id)?.comments.push(c);
        Some(event)
    }

    fn new_audit_id(&mut self) -> u64 {
        self.next_audit += 1;
        self.next_audit
    }

    /// Records an update of a ticket (at the current time).
    fn record_audit(
        &mut self,
        id: u64,
        audit_id: u64,
        author: u64,
        events: Vec<Value>,
        custom: Value,
    ) {
        let now = self.now;
        if let Some(t) = self.tickets.iter_mut().find(|t| t.id == id) {
            t.audits.push(Audit {
                id: audit_id,
                author_id: author,
                created_at: now,
                events,
                custom: if custom.is_object() {
                    custom
                } else {
                    json!({})
                },
            });
        }
    }

    /// A comment by `author` as its own update.
    fn comment_update(&mut self, id: u64, body: &str, public: bool, author: u64) {
        let audit = self.new_audit_id();
        if let Some(e) = self.add_comment(id, body, public, author, audit) {
            self.record_audit(id, audit, author, vec![e], json!({}));
        }
    }
}

/// What to seed.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub subject: String,
    pub description: String,
    pub status: String,
    pub priority: Option<String>,
    pub tags: Vec<String>,
}

impl NewTicket {
    pub fn new(subject: &str, description: &str) -> NewTicket {
        NewTicket {
            subject: subject.to_owned(),
            description: description.to_owned(),
            status: "new".into(),
            priority: Some("normal".into()),
            tags: Vec::new(),
        }
    }
}

pub struct ZendeskFake {
    server: ServerHandle,
    state: Arc<Mutex<State>>,
}

struct ZendeskHandler {
    state: Arc<Mutex<State>>,
    base: Mutex<String>,
}

/// Starts a fake Zendesk account on 127.0.0.1; the signed-in user is an admin.
pub async fn start() -> std::io::Result<ZendeskFake> {
    let state = Arc::new(Mutex::new(State {
        now: T0_SECS,
        role: "admin".into(),
        tickets: Vec::new(),
        articles: Vec::new(),
        export_lag_secs: 0,
        export_page_size: 1000,
        article_page_size: 1000,
        next_id: 1,
        next_comment: 5_000_001,
        next_audit: 7_000_000,
        idempotency: HashMap::new(),
        remaining: 700,
        accepted_token: None,
        sla_metrics: HashMap::new(),
        users: vec![
            User::new(AGENT_ID, AGENT_NAME, "ana@example.test", "admin"),
            User::new(OTHER_ID, OTHER_NAME, "bo@example.test", "agent"),
            User::new(
                REQUESTER_ID,
                REQUESTER_NAME,
                "rita@customer.test",
                "end-user",
            ),
        ],
        groups: vec![
            Group {
                id: GROUP_ID,
                name: GROUP_NAME.into(),
                deleted: false,
            },
            Group {
                id: NETWORK_GROUP_ID,
                name: "Network".into(),
                deleted: false,
            },
        ],
        next_user: 9200,
    }));
    let handler = Arc::new(ZendeskHandler {
        state: state.clone(),
        base: Mutex::new(String::new()),
    });
    let server = server::serve(handler.clone()).await?;
    *lock(&handler.base) = server.base_url();
    Ok(ZendeskFake { server, state })
}

impl ZendeskFake {
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
        f(&mut lock(&self.state))
    }
    pub fn now(&self) -> i64 {
        lock(&self.state).now
    }
    pub fn advance(&self, secs: i64) {
        lock(&self.state).now += secs;
    }
    /// `admin` or `agent`.
    pub fn set_role(&self, role: &str) {
        let mut s = lock(&self.state);
        s.role = role.to_owned();
        if let Some(u) = s.users.iter_mut().find(|u| u.id == AGENT_ID) {
            u.role = role.to_owned();
        }
    }

    /// Adds a user to the account; returns its id.
    pub fn add_user(&self, name: &str, email: &str, role: &str) -> u64 {
        let mut s = lock(&self.state);
        let id = s.next_user;
        s.next_user += 1;
        s.users.push(User::new(id, name, email, role));
        id
    }

    /// Adds a group; returns its id.
    pub fn add_group(&self, name: &str) -> u64 {
        let mut s = lock(&self.state);
        let id = 360_100 + s.groups.len() as u64;
        s.groups.push(Group {
            id,
            name: name.to_owned(),
            deleted: false,
        });
        id
    }

    /// Only this bearer token is accepted from now on.
    pub fn accept_only(&self, token: &str) {
        lock(&self.state).accepted_token = Some(token.to_owned());
    }

    /// Creates a ticket as the requester; returns its id.
    pub fn seed(&self, new: NewTicket) -> u64 {
        let mut s = lock(&self.state);
        create(&mut s, new, REQUESTER_ID, None, true, json!({}))
    }

    /// Changes a ticket as "another agent" (moves `updated_at`).
    pub fn edit_as_other(&self, id: u64, f: impl FnOnce(&mut Ticket)) {
        let mut s = lock(&self.state);
        if let Some(t) = s.ticket_mut(id) {
            f(t);
        }
        s.touch(id);
    }

    pub fn comment_as_other(&self, id: u64, body: &str, public: bool) {
        self.comment_as(id, OTHER_ID, body, public);
    }

    /// Adds a comment by `author` as its own update (moves `updated_at`), as if written in
    /// Zendesk (no metadata).
    pub fn comment_as(&self, id: u64, author: u64, body: &str, public: bool) {
        let mut s = lock(&self.state);
        s.touch(id);
        s.comment_update(id, body, public, author);
    }

    /// The comments of a ticket as stored (the text exactly as the requester is sent it).
    pub fn comments(&self, id: u64) -> Vec<Comment> {
        self.ticket(id).map(|t| t.comments).unwrap_or_default()
    }

    /// Deletes a ticket (soft delete: the incremental export reports it as `deleted`).
    pub fn delete(&self, id: u64) {
        let mut s = lock(&self.state);
        s.touch(id);
        if let Some(t) = s.tickets.iter_mut().find(|t| t.id == id) {
            t.deleted = true;
        }
    }

    pub fn ticket(&self, id: u64) -> Option<Ticket> {
        lock(&self.state)
            .tickets
            .iter()
            .find(|t| t.id == id)
            .cloned()
    }

    pub fn ticket_count(&self) -> usize {
        lock(&self.state)
            .tickets
            .iter()
            .filter(|t| !t.deleted)
            .count()
    }

    /// How many comments on the ticket contain `needle` (e.g. an idempotency marker).
    pub fn comments_containing(&self, id: u64, needle: &str) -> usize {
        lock(&self.state)
            .tickets
            .iter()
            .find(|t| t.id == id)
            .map(|t| {
                t.comments
                    .iter()
                    .filter(|c| c.body.contains(needle))
                    .count()
            })
            .unwrap_or(0)
    }

    pub fn tickets_with_external_id(&self, external_id: &str) -> usize {
        lock(&self.state)
            .tickets
            .iter()
            .filter(|t| !t.deleted && t.external_id.as_deref() == Some(external_id))
            .count()
    }

    /// Adds or replaces a Help Center article (moves its `updated_at` to now).
    pub fn put_article(&self, id: u64, title: &str, body: &str, draft: bool) {
        let mut s = lock(&self.state);
        let now = s.tick();
        s.articles.retain(|a| a.id != id);
        s.articles.push(Article {
            id,
            title: title.to_owned(),
            body: body.to_owned(),
            draft,
            updated_at: now,
        });
    }
}

fn create(
    s: &mut State,
    new: NewTicket,
    requester: u64,
    external_id: Option<String>,
    public: bool,
    custom: Value,
) -> u64 {
    let now = s.tick();
    let id = s.next_id;
    s.next_id += 1;
    let (subject, status) = (new.subject.clone(), new.status.clone());
    s.tickets.push(Ticket {
        id,
        subject: new.subject,
        status: new.status,
        priority: new.priority,
        assignee_id: None,
        group_id: Some(GROUP_ID),
        requester_id: requester,
        tags: new.tags,
        external_id,
        created_at: now,
        updated_at: now,
        generated_timestamp: now,
        comments: Vec::new(),
        audits: Vec::new(),
        deleted: false,
    });
    let audit = s.new_audit_id();
    let mut events = vec![
        json!({ "id": audit * 10 + 1, "type": "Create", "field_name": "subject", "value": subject }),
        json!({ "id": audit * 10 + 2, "type": "Create", "field_name": "status", "value": status }),
    ];
    events.extend(s.add_comment(id, &new.description, public, requester, audit));
    s.record_audit(id, audit, requester, events, custom);
    id
}

/// Zendesk's timestamp format: `2024-03-01T09:00:00Z`.
pub fn zd_time(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn error(status: u16, error: &str, description: &str) -> Response {
    Response::json(
        status,
        &json!({ "error": error, "description": description }),
    )
}

fn not_found() -> Response {
    error(404, "RecordNotFound", "Not found")
}

fn ticket_json(base: &str, t: &Ticket, with_generated: bool) -> Value {
    let mut v = json!({
        "url": format!("{base}/api/v2/tickets/{}.json", t.id),
        "id": t.id,
        "external_id": t.external_id,
        "via": { "channel": "api", "source": { "from": {}, "to": {}, "rel": null } },
        "created_at": zd_time(t.created_at),
        "updated_at": zd_time(t.updated_at),
        "type": null,
        "subject": t.subject,
        "raw_subject": t.subject,
        "description": t.comments.first().map(|c| c.body.clone()).unwrap_or_default(),
        "priority": t.priority,
        "status": if t.deleted { "deleted" } else { t.status.as_str() },
        "recipient": null,
        "requester_id": t.requester_id,
        "submitter_id": t.requester_id,
        "assignee_id": t.assignee_id,
        "organization_id": null,
        "group_id": t.group_id,
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "forum_topic_id": null,
        "problem_id": null,
        "has_incidents": false,
        "is_public": t.comments.first().is_none_or(|c| c.public),
        "due_at": null,
        "tags": t.tags,
        "custom_fields": [],
        "satisfaction_rating": null,
        "sharing_agreement_ids": [],
        "followup_ids": [],
        "ticket_form_id": 360_000_001,
        "brand_id": 360_000_002,
        "allow_channelback": false,
        "allow_attachments": true,
        "from_messaging_channel": false,
    });
    if with_generated {
        v["generated_timestamp"] = json!(t.generated_timestamp);
    }
    v
}

fn user_json(base: &str, u: &User) -> Value {
    json!({
        "id": u.id,
        "url": format!("{base}/api/v2/users/{}.json", u.id),
        "name": u.name,
        "email": u.email,
        "role": u.role,
        "active": true,
        "verified": true,
        "suspended": false,
        "time_zone": "Europe/Lisbon",
        "iana_time_zone": "Europe/Lisbon",
        "locale": "en-US",
        "locale_id": 1,
        "organization_id": null,
        "created_at": zd_time(T0_SECS),
        "updated_at": zd_time(T0_SECS),
    })
}

fn group_json(base: &str, g: &Group) -> Value {
    json!({
        "id": g.id,
        "url": format!("{base}/api/v2/groups/{}.json", g.id),
        "name": g.name,
        "default": g.id == GROUP_ID,
        "deleted": g.deleted,
        "is_public": true,
        "created_at": zd_time(T0_SECS),
        "updated_at": zd_time(T0_SECS),
    })
}

/// Why a ticket's `assignee_id` / `group_id` cannot be written (the 422 answer), if so.
fn invalid_people(s: &State, t: &Value) -> Option<Response> {
    let mut details = serde_json::Map::new();
    if let Some(a) = t.get("assignee_id").filter(|v| !v.is_null()) {
        let ok = a
            .as_u64()
            .is_some_and(|id| s.users.iter().any(|u| u.id == id && u.is_agent()));
        if !ok {
            details.insert(
                "assignee".into(),
                json!([{ "description": "Assignee: is not an agent", "error": "InvalidValue" }]),
            );
        }
    }
    if let Some(g) = t.get("group_id").filter(|v| !v.is_null()) {
        let ok = g
            .as_u64()
            .is_some_and(|id| s.groups.iter().any(|x| x.id == id && !x.deleted));
        if !ok {
            details.insert(
                "group".into(),
                json!([{ "description": "Group: is invalid", "error": "InvalidValue" }]),
            );
        }
    }
    (!details.is_empty()).then(|| {
        Response::json(
            422,
            &json!({ "error": "RecordInvalid", "description": "Record validation errors", "details": details }),
        )
    })
}

fn comment_json(c: &Comment) -> Value {
    json!({
        "id": c.id,
        "type": "Comment",
        "author_id": c.author_id,
        "body": c.body,
        "html_body": format!("<div class=\"zd-comment\"><p>{}</p></div>", html_escape(&c.body)),
        "plain_body": c.body,
        "public": c.public,
        "attachments": [],
        "audit_id": c.audit_id,
        "via": { "channel": "api", "source": { "from": {}, "to": {}, "rel": null } },
        "created_at": zd_time(c.created_at),
        "metadata": { "system": { "client": "Casebook fake", "ip_address": "127.0.0.1" } },
    })
}

/// A comment as an audit's `Comment` event (no time of its own: the audit's).
fn comment_event(c: &Comment) -> Value {
    json!({
        "id": c.id,
        "type": "Comment",
        "author_id": c.author_id,
        "body": c.body,
        "html_body": format!("<div class=\"zd-comment\"><p>{}</p></div>", html_escape(&c.body)),
        "plain_body": c.body,
        "public": c.public,
        "attachments": [],
        "audit_id": c.audit_id,
    })
}

fn audit_json(ticket_id: u64, a: &Audit) -> Value {
    json!({
        "id": a.id,
        "ticket_id": ticket_id,
        "created_at": zd_time(a.created_at),
        "author_id": a.author_id,
        "events": a.events,
        "metadata": {
            "custom": a.custom,
            "system": { "client": "Casebook fake", "ip_address": "127.0.0.1" },
        },
        "via": { "channel": "api", "source": { "from": {}, "to": {}, "rel": null } },
    })
}

/// Percent-encodes a query value for a `next_page` link.
fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Parses an ISO 8601 datetime with `Z` or an offset (the search syntax).
fn parse_iso(v: &str) -> Option<i64> {
    v.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// A search condition on a ticket.
type Cond = Box<dyn Fn(&Ticket) -> bool>;

/// Cursors are opaque to clients; here: `<generated_timestamp>.<id>` in hex, prefixed.
fn encode_cursor(ts: i64, id: u64) -> String {
    format!("MTU{ts:x}x{id:x}")
}

fn decode_cursor(c: &str) -> Option<(i64, u64)> {
    let rest = c.strip_prefix("MTU")?;
    let (a, b) = rest.split_once('x')?;
    Some((
        i64::from_str_radix(a, 16).ok()?,
        u64::from_str_radix(b, 16).ok()?,
    ))
}

/// One page of a list with cursor pagination, as Zendesk pages: `page[size]` (default 100, at most
/// `max`) items after the id that `page[after]` names, in the list's order.
struct CursorPage<'a, T> {
    items: Vec<&'a T>,
    size: usize,
    has_more: bool,
    after_cursor: Option<String>,
}

/// Reads `page[size]` and `page[after]` and takes that page of `list`; `key` gives each item's
/// (time, id) for its cursor. A cursor the fake did not issue is Zendesk's 400.
fn cursor_page<'a, T: 'a>(
    req: &Request,
    max: usize,
    list: impl IntoIterator<Item = &'a T>,
    key: impl Fn(&T) -> (i64, u64),
) -> Result<CursorPage<'a, T>, Response> {
    let size = req
        .param("page[size]")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, max);
    let after: u64 = match req.param("page[after]") {
        Some(c) => match decode_cursor(c) {
            Some((_, id)) => id,
            None => {
                return Err(error(
                    400,
                    "InvalidPaginationParameter",
                    "page[after] is invalid",
                ));
            }
        },
        None => 0,
    };
    let rest: Vec<&T> = list.into_iter().filter(|t| key(t).1 > after).collect();
    let has_more = rest.len() > size;
    let items: Vec<&T> = rest.into_iter().take(size).collect();
    let after_cursor = items.last().map(|t| {
        let (ts, id) = key(t);
        encode_cursor(ts, id)
    });
    Ok(CursorPage {
        items,
        size,
        has_more,
        after_cursor,
    })
}

impl<T> CursorPage<'_, T> {
    /// `meta` of the answer.
    fn meta(&self) -> Value {
        json!({ "has_more": self.has_more, "after_cursor": self.after_cursor, "before_cursor": null })
    }

    /// `links` of the answer: `url` (with its own query, if any) and this page's cursor while
    /// more remain.
    fn links(&self, url: &str) -> Value {
        let next = match (&self.after_cursor, self.has_more) {
            (Some(a), true) => {
                let sep = if url.contains('?') { '&' } else { '?' };
                json!(format!(
                    "{url}{sep}page%5Bafter%5D={a}&page%5Bsize%5D={}",
                    self.size
                ))
            }
            _ => Value::Null,
        };
        json!({ "next": next, "prev": null })
    }
}

impl ZendeskHandler {
    fn base(&self) -> String {
        lock(&self.base).clone()
    }

    fn authorized(&self, req: &Request) -> bool {
        let Some(h) = req.header("authorization") else {
            return false;
        };
        let Some((scheme, val)) = h.split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return false;
        }
        match &lock(&self.state).accepted_token {
            Some(t) => t == val.trim(),
            None => true,
        }
    }

    fn incremental(&self, req: &Request) -> Response {
        let base = self.base();
        let s = lock(&self.state);
        if s.role != "admin" {
            return error(
                403,
                "Forbidden",
                "You do not have access to this page. Please contact the account owner of this help desk for further help.",
            );
        }
        let after: (i64, u64) = if let Some(c) = req.param("cursor") {
            match decode_cursor(c) {
                Some(p) => p,
                None => return error(400, "InvalidPaginationParameter", "cursor is invalid"),
            }
        } else if let Some(st) = req.param("start_time") {
            let Ok(st) = st.parse::<i64>() else {
                return error(
                    400,
                    "InvalidValue",
                    "start_time is not a valid Unix epoch time",
                );
            };
            if st > s.now - 60 {
                return error(
                    400,
                    "InvalidValue",
                    "Too recent start_time. Use a start_time at least one minute in the past",
                );
            }
            (st - 1, u64::MAX)
        } else {
            return error(400, "InvalidValue", "start_time or cursor is required");
        };
        let per_page = req
            .param("per_page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(s.export_page_size)
            .clamp(1, 1000);
        let exclude_deleted = req.param("exclude_deleted") == Some("true");
        let horizon = s.now - s.export_lag_secs;
        let mut eligible: Vec<&Ticket> = s
            .tickets
            .iter()
            .filter(|t| (t.generated_timestamp, t.id) > after && t.generated_timestamp <= horizon)
            .filter(|t| !(exclude_deleted && t.deleted))
            .collect();
        eligible.sort_by_key(|t| (t.generated_timestamp, t.id));
        let page: Vec<&Ticket> = eligible.iter().take(per_page).copied().collect();
        let end_of_stream = page.len() == eligible.len();
        let last = page
            .last()
            .map(|t| (t.generated_timestamp, t.id))
            .unwrap_or(after);
        let after_cursor = encode_cursor(last.0, last.1);
        Response::json(
            200,
            &json!({
                "tickets": page.iter().map(|t| ticket_json(&base, t, true)).collect::<Vec<_>>(),
                "after_cursor": after_cursor,
                "after_url": format!("{base}/api/v2/incremental/tickets/cursor.json?cursor={after_cursor}"),
                "before_cursor": null,
                "before_url": null,
                "end_of_stream": end_of_stream,
            }),
        )
    }

    fn search_export(&self, req: &Request) -> Response {
        let base = self.base();
        let s = lock(&self.state);
        if req.param("filter[type]") != Some("ticket") {
            return error(
                400,
                "InvalidValue",
                "filter[type] is required (ticket, user, organization or group)",
            );
        }
        let query = req.param("query").unwrap_or("");
        let mut conds: Vec<Cond> = Vec::new();
        for term in query.split_whitespace() {
            if term == "type:ticket" {
                continue;
            }
            if let Some(v) = term.strip_prefix("external_id:") {
                let v = v.trim_matches('"').to_owned();
                conds.push(Box::new(move |t| {
                    t.external_id.as_deref() == Some(v.as_str())
                }));
                continue;
            }
            if let Some(rest) = term.strip_prefix("updated") {
                let (op, val) = if let Some(v) = rest.strip_prefix(">=") {
                    (">=", v)
                } else if let Some(v) = rest.strip_prefix("<=") {
                    ("<=", v)
                } else if let Some(v) = rest.strip_prefix('>') {
                    (">", v)
                } else if let Some(v) = rest.strip_prefix('<') {
                    ("<", v)
                } else {
                    return error(400, "InvalidValue", "unsupported updated condition");
                };
                let Some(at) = parse_iso(val) else {
                    return error(
                        400,
                        "InvalidValue",
                        &format!("invalid date in query: {val}"),
                    );
                };
                conds.push(Box::new(move |t| match op {
                    ">=" => t.updated_at >= at,
                    "<=" => t.updated_at <= at,
                    ">" => t.updated_at > at,
                    _ => t.updated_at < at,
                }));
                continue;
            }
            return error(
                400,
                "InvalidValue",
                &format!("this fake does not understand '{term}'"),
            );
        }
        let mut hits: Vec<&Ticket> = s
            .tickets
            .iter()
            .filter(|t| !t.deleted && conds.iter().all(|c| c(t)))
            .collect();
        // Ordered by created_at only (ids grow with it).
        hits.sort_by_key(|t| (t.created_at, t.id));
        let page = match cursor_page(req, 1000, hits, |t| (t.created_at, t.id)) {
            Ok(p) => p,
            Err(e) => return e,
        };
        let results: Vec<Value> = page
            .items
            .iter()
            .map(|t| {
                let mut v = ticket_json(&base, t, false);
                v["result_type"] = json!("ticket");
                v
            })
            .collect();
        let url = format!(
            "{base}/api/v2/search/export.json?filter%5Btype%5D=ticket&query={}",
            url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
        );
        Response::json(
            200,
            &json!({
                "results": results,
                "facets": null,
                "meta": page.meta(),
                "links": page.links(&url),
            }),
        )
    }

    fn show(&self, id: u64) -> Response {
        let base = self.base();
        let s = lock(&self.state);
        match s.ticket(id) {
            Some(t) => Response::json(200, &json!({ "ticket": ticket_json(&base, t, false) })),
            None => not_found(),
        }
    }

    fn update(&self, id: u64, req: &Request) -> Response {
        let base = self.base();
        let Ok(b) = req.json() else {
            return error(400, "InvalidJSON", "the request body is not valid JSON");
        };
        let t = &b["ticket"];
        if !t.is_object() {
            return error(400, "InvalidValue", "ticket is required");
        }
        let mut s = lock(&self.state);
        let Some(cur) = s.ticket(id).cloned() else {
            return not_found();
        };
        // `safe_update` present (true or false) + `updated_stamp`: the update happens only if
        // the stamp is the ticket's updated_at.
        if t.get("safe_update").is_some() {
            let stamp = t["updated_stamp"].as_str().and_then(parse_iso);
            if let Some(stamp) = stamp
                && stamp != cur.updated_at
            {
                return error(
                    409,
                    "UpdateConflict",
                    "Safe Update prevented the update due to outdated ticket data. Please fetch the latest ticket data and try again.",
                );
            }
        }
        if let Some(st) = t["status"].as_str()
            && !["new", "open", "pending", "hold", "solved", "closed"].contains(&st)
        {
            return Response::json(
                422,
                &json!({ "error": "RecordInvalid", "description": "Record validation errors",
                         "details": { "status": [{ "description": format!("Status: {st} is not valid") }] } }),
            );
        }
        if cur.status == "closed" {
            return Response::json(
                422,
                &json!({ "error": "RecordInvalid", "description": "Record validation errors",
                         "details": { "status": [{ "description": "Status: closed prevents ticket update" }] } }),
            );
        }
        let comment = t.get("comment").filter(|c| c.is_object()).map(|c| {
            (
                c["body"]
                    .as_str()
                    .or(c["html_body"].as_str())
                    .unwrap_or("")
                    .to_owned(),
                c["public"].as_bool(),
            )
        });
        if let Some((body, _)) = &comment
            && body.trim().is_empty()
        {
            return error(422, "RecordInvalid", "Comment: body cannot be blank");
        }
        if let Some(r) = invalid_people(&s, t) {
            return r;
        }
        s.touch(id);
        let audit_id = s.new_audit_id();
        let mut events = Vec::new();
        if let Some(tk) = s.ticket_mut(id) {
            let before = tk.clone();
            if let Some(v) = t["subject"].as_str() {
                tk.subject = v.to_owned();
            }
            if let Some(v) = t["status"].as_str() {
                tk.status = v.to_owned();
            }
            if let Some(v) = t.get("priority") {
                tk.priority = v.as_str().map(str::to_owned);
            }
            if let Some(v) = t.get("assignee_id") {
                tk.assignee_id = v.as_u64();
            }
            if let Some(v) = t.get("group_id") {
                tk.group_id = v.as_u64();
            }
            if let Some(v) = t["tags"].as_array() {
                tk.tags = v
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect();
            }
            let changes = [
                ("subject", json!(before.subject), json!(tk.subject)),
                ("status", json!(before.status), json!(tk.status)),
                ("priority", json!(before.priority), json!(tk.priority)),
                (
                    "assignee_id",
                    json!(before.assignee_id),
                    json!(tk.assignee_id),
                ),
                ("group_id", json!(before.group_id), json!(tk.group_id)),
                ("tags", json!(before.tags), json!(tk.tags)),
            ];
            for (k, (field, from, to)) in changes.into_iter().enumerate() {
                if from != to {
                    events.push(json!({ "id": audit_id * 10 + k as u64, "type": "Change",
                                        "field_name": field, "previous_value": from, "value": to }));
                }
            }
        }
        if let Some((body, public)) = comment {
            // An omitted `public` keeps the ticket's initial visibility.
            let public = public.unwrap_or(cur.comments.first().is_none_or(|c| c.public));
            events.extend(s.add_comment(id, &body, public, AGENT_ID, audit_id));
        }
        // `ticket.metadata` is write-only: it becomes the audit's `metadata.custom`.
        s.record_audit(id, audit_id, AGENT_ID, events, t["metadata"].clone());
        let Some(now) = s.ticket(id).cloned() else {
            return not_found();
        };
        let audit = now
            .audits
            .last()
            .map(|a| audit_json(id, a))
            .unwrap_or(Value::Null);
        Response::json(
            200,
            &json!({ "ticket": ticket_json(&base, &now, false), "audit": audit }),
        )
    }

    /// `GET /api/v2/tickets/{id}/audits`: cursor pages (`page[size]` ≤ 100, `page[after]`,
    /// `meta` + `links`) or, without `page[size]`, one offset page (`count`, `next_page`).
    fn audits(&self, id: u64, req: &Request) -> Response {
        let base = self.base();
        let s = lock(&self.state);
        let Some(t) = s.ticket(id) else {
            return not_found();
        };
        if req.param("page[size]").is_none() {
            return Response::json(
                200,
                &json!({
                    "audits": t.audits.iter().map(|a| audit_json(id, a)).collect::<Vec<_>>(),
                    "count": t.audits.len(), "next_page": null, "previous_page": null,
                }),
            );
        }
        let page = match cursor_page(req, 100, &t.audits, |a| (a.created_at, a.id)) {
            Ok(p) => p,
            Err(e) => return e,
        };
        Response::json(
            200,
            &json!({
                "audits": page.items.iter().map(|a| audit_json(id, a)).collect::<Vec<_>>(),
                "meta": page.meta(),
                "links": page.links(&format!("{base}/api/v2/tickets/{id}/audits.json")),
            }),
        )
    }

    fn create_ticket(&self, req: &Request) -> Response {
        let base = self.base();
        let Ok(b) = req.json() else {
            return error(400, "InvalidJSON", "the request body is not valid JSON");
        };
        let t = &b["ticket"];
        let body = t["comment"]["body"].as_str().unwrap_or("").to_owned();
        if body.trim().is_empty() {
            return error(422, "RecordInvalid", "Description: cannot be blank");
        }
        let key = req.header("idempotency-key").map(str::to_owned);
        let canon = serde_json::to_string(&b).unwrap_or_default();
        let mut s = lock(&self.state);
        // Zendesk keeps a key (and its answer) for two hours; after that the same key is a new
        // request and creates another ticket.
        let now = s.now;
        s.idempotency
            .retain(|_, (_, _, at)| now - *at < IDEMPOTENCY_WINDOW_SECS);
        if let Some(k) = &key
            && let Some((prev_body, id, _)) = s.idempotency.get(k).cloned()
        {
            if prev_body != canon {
                return error(
                    400,
                    "IdempotentRequestError",
                    "The idempotency key was used with a different request body",
                );
            }
            let Some(tk) = s.tickets.iter().find(|x| x.id == id) else {
                return not_found();
            };
            return Response::json(201, &json!({ "ticket": ticket_json(&base, tk, false) }))
                .with_header("x-idempotency-lookup", "hit");
        }
        if let Some(r) = invalid_people(&s, t) {
            return r;
        }
        let mut new = NewTicket::new(t["subject"].as_str().unwrap_or(""), &body);
        if let Some(st) = t["status"].as_str() {
            new.status = st.to_owned();
        }
        new.priority = t["priority"].as_str().map(str::to_owned);
        if let Some(v) = t["tags"].as_array() {
            new.tags = v
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect();
        }
        let public = t["comment"]["public"].as_bool().unwrap_or(true);
        let id = create(
            &mut s,
            new,
            AGENT_ID,
            t["external_id"].as_str().map(str::to_owned),
            public,
            t["metadata"].clone(),
        );
        if let Some(tk) = s.ticket_mut(id) {
            tk.assignee_id = t["assignee_id"].as_u64();
            if let Some(g) = t.get("group_id") {
                tk.group_id = g.as_u64();
            }
        }
        if let Some(k) = key {
            let at = s.now;
            s.idempotency.insert(k, (canon, id, at));
        }
        let Some(tk) = s.ticket(id) else {
            return not_found();
        };
        Response::json(201, &json!({ "ticket": ticket_json(&base, tk, false) }))
            .with_header("x-idempotency-lookup", "miss")
    }

    fn list_tickets(&self, req: &Request) -> Response {
        let base = self.base();
        let s = lock(&self.state);
        let ext = req.param("external_id");
        let listed = s
            .tickets
            .iter()
            .filter(|t| !t.deleted && ext.is_none_or(|e| t.external_id.as_deref() == Some(e)));
        let page = match cursor_page(req, 100, listed, |t| (t.created_at, t.id)) {
            Ok(p) => p,
            Err(e) => return e,
        };
        Response::json(
            200,
            &json!({
                "tickets": page.items.iter().map(|t| ticket_json(&base, t, false)).collect::<Vec<_>>(),
                "meta": page.meta(),
                "links": page.links(&format!("{base}/api/v2/tickets.json")),
            }),
        )
    }

    fn comments(&self, id: u64, req: &Request) -> Response {
        let base = self.base();
        let s = lock(&self.state);
        let Some(t) = s.ticket(id) else {
            return not_found();
        };
        let page = match cursor_page(req, 100, &t.comments, |c| (c.created_at, c.id)) {
            Ok(p) => p,
            Err(e) => return e,
        };
        Response::json(
            200,
            &json!({
                "comments": page.items.iter().map(|c| comment_json(c)).collect::<Vec<_>>(),
                "meta": page.meta(),
                "links": page.links(&format!("{base}/api/v2/tickets/{id}/comments.json")),
            }),
        )
    }

    fn show_many_users(&self, req: &Request) -> Response {
        let base = self.base();
        let s = lock(&self.state);
        let Some(ids) = req.param("ids") else {
            return error(400, "InvalidValue", "ids or external_ids is required");
        };
        let ids: Vec<&str> = ids.split(',').filter(|x| !x.trim().is_empty()).collect();
        if ids.len() > 100 {
            return error(
                400,
                "InvalidValue",
                "ids: a maximum of 100 values is allowed",
            );
        }
        let users: Vec<Value> = s
            .users
            .iter()
            .filter(|u| ids.iter().any(|i| i.trim() == u.id.to_string()))
            .map(|u| user_json(&base, u))
            .collect();
        Response::json(200, &json!({ "users": users }))
    }

    fn search_users(&self, req: &Request) -> Response {
        let base = self.base();
        let s = lock(&self.state);
        let (query, external) = (req.param("query"), req.param("external_id"));
        if query.is_none() && external.is_none() {
            return error(400, "InvalidValue", "query or external_id is required");
        }
        let per_page = req
            .param("per_page")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(100)
            .clamp(1, 100);
        let page = req
            .param("page")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let q = query.unwrap_or("").trim().to_lowercase();
        let hits: Vec<&User> = s
            .users
            .iter()
            .filter(|u| {
                external.is_none()
                    && (u.name.to_lowercase().contains(&q) || u.email.to_lowercase().contains(&q))
            })
            .collect();
        let users: Vec<Value> = hits
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|u| user_json(&base, u))
            .collect();
        let url = |p: usize| {
            json!(format!(
                "{base}/api/v2/users/search.json?page={p}&per_page={per_page}&query={}",
                url_escape(query.unwrap_or(""))
            ))
        };
        Response::json(
            200,
            &json!({
                "users": users,
                "next_page": if page * per_page < hits.len() { url(page + 1) } else { Value::Null },
                "previous_page": if page > 1 { url(page - 1) } else { Value::Null },
                "count": hits.len(),
            }),
        )
    }

    fn list_groups(&self, req: &Request) -> Response {
        let base = self.base();
        let s = lock(&self.state);
        let all: Vec<&Group> = s
            .groups
            .iter()
            .filter(|g| req.param("exclude_deleted") != Some("true") || !g.deleted)
            .collect();
        if req.param("page[size]").is_some() {
            let page = match cursor_page(req, 100, all.iter().copied(), |g| (0, g.id)) {
                Ok(p) => p,
                Err(e) => return e,
            };
            return Response::json(
                200,
                &json!({
                    "groups": page.items.iter().map(|g| group_json(&base, g)).collect::<Vec<_>>(),
                    "meta": page.meta(),
                    "links": page.links(&format!("{base}/api/v2/groups.json")),
                }),
            );
        }
        let per_page = req
            .param("per_page")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(100)
            .clamp(1, 100);
        let page = req
            .param("page")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let groups: Vec<Value> = all
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|g| group_json(&base, g))
            .collect();
        Response::json(
            200,
            &json!({
                "groups": groups,
                "next_page": if page * per_page < all.len() {
                    json!(format!("{base}/api/v2/groups.json?page={}&per_page={per_page}", page + 1))
                } else {
                    Value::Null
                },
                "previous_page": null,
                "count": all.len(),
            }),
        )
    }

    fn articles(&self, req: &Request) -> Response {
        let base = self.base();
        let s = lock(&self.state);
        let Some(start) = req.param("start_time").and_then(|v| v.parse::<i64>().ok()) else {
            return error(400, "InvalidValue", "start_time is required");
        };
        let mut list: Vec<&Article> = s
            .articles
            .iter()
            .filter(|a| a.updated_at >= start)
            .collect();
        list.sort_by_key(|a| (a.updated_at, a.id));
        let page: Vec<&Article> = list.iter().take(s.article_page_size).copied().collect();
        let more = list.len() > page.len();
        let end_time = page.last().map(|a| a.updated_at).unwrap_or(start);
        Response::json(
            200,
            &json!({
                "articles": page.iter().map(|a| json!({
                    "id": a.id,
                    "url": format!("{base}/api/v2/help_center/en-us/articles/{}.json", a.id),
                    "html_url": format!("{base}/hc/en-us/articles/{}", a.id),
                    "title": a.title,
                    "body": a.body,
                    "locale": "en-us",
                    "source_locale": "en-us",
                    "section_id": 360_100,
                    "author_id": AGENT_ID,
                    "draft": a.draft,
                    "promoted": false,
                    "position": 0,
                    "vote_sum": 0,
                    "vote_count": 0,
                    "comments_disabled": false,
                    "outdated": false,
                    "label_names": [],
                    "created_at": zd_time(a.updated_at),
                    "updated_at": zd_time(a.updated_at),
                    "edited_at": zd_time(a.updated_at),
                })).collect::<Vec<_>>(),
                "count": page.len(),
                "end_time": end_time,
                "next_page": if more { json!(format!("{base}/api/v2/help_center/incremental/articles.json?start_time={end_time}")) } else { Value::Null },
            }),
        )
    }
}

impl Handler for ZendeskHandler {
    fn handle(&self, req: &Request) -> Response {
        let resp = self.route(req);
        let mut s = lock(&self.state);
        s.remaining = s.remaining.saturating_sub(1).max(1);
        let rem = s.remaining;
        resp.with_header("X-Rate-Limit", "700")
            .with_header("X-Rate-Limit-Remaining", rem.to_string())
            .with_header("ratelimit-limit", "700")
            .with_header("ratelimit-remaining", rem.to_string())
            .with_header("ratelimit-reset", "42")
    }

    fn error_status(&self, status: u16) -> Response {
        let r = error(
            status,
            "ServiceUnavailable",
            "Zendesk is temporarily unavailable",
        );
        if status == 503 {
            r.with_header("Retry-After", "5")
        } else {
            r
        }
    }

    fn rate_limited(&self, retry_after_secs: u64) -> Response {
        error(
            429,
            "APIRateLimitExceeded",
            "Number of allowed API requests per minute exceeded",
        )
        .with_header("Retry-After", retry_after_secs.to_string())
        .with_header("X-Rate-Limit", "700")
        .with_header("X-Rate-Limit-Remaining", "0")
        .with_header("ratelimit-limit", "700")
        .with_header("ratelimit-remaining", "0")
        .with_header("ratelimit-reset", retry_after_secs.to_string())
    }

    fn unauthorized(&self) -> Response {
        Response::json(
            401,
            &json!({ "error": "invalid_token", "error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons." }),
        )
        .with_header("WWW-Authenticate", "Bearer realm=\"Zendesk\", error=\"invalid_token\"")
    }
}

impl ZendeskHandler {
    fn route(&self, req: &Request) -> Response {
        if !self.authorized(req) {
            return self.unauthorized();
        }
        let segs: Vec<String> = req
            .segments()
            .iter()
            .map(|s| s.strip_suffix(".json").unwrap_or(s).to_owned())
            .collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let id = |s: &str| s.parse::<u64>().ok();
        match (req.method.as_str(), segs.as_slice()) {
            ("GET", ["api", "v2", "users", "me"]) => {
                let role = lock(&self.state).role.clone();
                Response::json(
                    200,
                    &json!({ "user": { "id": AGENT_ID, "name": AGENT_NAME, "email": "ana@example.test", "role": role,
                                        "url": format!("{}/api/v2/users/{AGENT_ID}.json", self.base()) } }),
                )
            }
            ("GET", ["api", "v2", "users", "show_many"]) => self.show_many_users(req),
            ("GET", ["api", "v2", "users", "search"]) => self.search_users(req),
            ("GET", ["api", "v2", "groups"]) => self.list_groups(req),
            ("GET", ["api", "v2", "incremental", "tickets", "cursor"]) => {
                crate::zendesk_sla::sideload(self.incremental(req), req, &self.state)
            }
            ("GET", ["api", "v2", "search", "export"]) => {
                crate::zendesk_sla::sideload(self.search_export(req), req, &self.state)
            }
            ("GET", ["api", "v2", "tickets"]) => self.list_tickets(req),
            ("POST", ["api", "v2", "tickets"]) => self.create_ticket(req),
            ("GET", ["api", "v2", "tickets", t]) => match id(t) {
                Some(i) => crate::zendesk_sla::sideload(self.show(i), req, &self.state),
                None => not_found(),
            },
            ("PUT", ["api", "v2", "tickets", t]) => match id(t) {
                Some(i) => self.update(i, req),
                None => not_found(),
            },
            ("GET", ["api", "v2", "tickets", t, "audits"]) => match id(t) {
                Some(i) => self.audits(i, req),
                None => not_found(),
            },
            ("GET", ["api", "v2", "tickets", t, "comments"]) => match id(t) {
                Some(i) => self.comments(i, req),
                None => not_found(),
            },
            ("GET", ["api", "v2", "help_center", "incremental", "articles"]) => self.articles(req),
            _ => error(404, "InvalidEndpoint", "Not found"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn times_and_cursors() {
        assert_eq!(zd_time(T0_SECS), "2024-03-01T09:00:00Z");
        assert_eq!(parse_iso("2024-03-01T20:00:00+11:00"), Some(T0_SECS));
        let c = encode_cursor(T0_SECS, 42);
        assert_eq!(decode_cursor(&c), Some((T0_SECS, 42)));
        assert_eq!(decode_cursor("garbage"), None);
    }
}
