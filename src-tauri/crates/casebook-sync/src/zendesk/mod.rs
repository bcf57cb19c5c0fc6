//! The Zendesk Support connector (+ Help Center articles).
//!
//! - Pull, decided by the connection test ([`ZendeskExport`]): an administrator uses the cursor
//!   incremental export (`/api/v2/incremental/tickets/cursor.json`, resume at `after_cursor`,
//!   stop at `end_of_stream`; deleted tickets arrive with status `deleted` and become
//!   [`TicketPage::deleted`]); an agent, who may not use it, uses the search export
//!   (`/api/v2/search/export.json?query=type:ticket updated>=…`), which is ordered by creation
//!   only — so the watermark moves only after a whole walk, to the newest `updated_at` seen minus
//!   a minute of overlap (search indexing lags).
//! - Writes: every field update sends `safe_update: true` + `updated_stamp: <base updated_at>`;
//!   a 409 means the ticket moved: it is re-read and returned as [`UpdateOutcome::Moved`].
//! - Comments: through a ticket update, `public` always sent explicitly (`false` = internal
//!   note), no `safe_update` (comments never conflict). The text is exactly the agent's (a
//!   public comment is emailed to the requester); the marker travels in the update's `metadata`
//!   (`{"casebook_op": "<marker>"}`), which Zendesk stores on the update's audit as
//!   `metadata.custom` and never shows to the requester. Found again by reading the ticket's
//!   audits (`GET /api/v2/tickets/{id}/audits`) for that metadata; the audit's `Comment` event
//!   is the comment. A marker line written by earlier versions is stripped and still
//!   recognized.
//! - Creations: `Idempotency-Key: <marker>` and `external_id: casebook-op:<marker>` (found with
//!   `GET /api/v2/tickets.json?external_id=`).
//! - People and groups (requester, assignee, group, comment authors) show as names, numeric ids
//!   upstream (see [`people`]).
//! - Timestamps must be RFC 3339 with `Z` or an offset; anything else is
//!   [`SyncError::BadTimestamp`].

mod people;
mod sla;

use crate::connector::{Connector, CredentialSource, SyncResult, UpdateOutcome};
use crate::error::{SyncError, excerpt};
use crate::model::{
    ArticlePage, Cursor, Field, FieldValues, IdPage, MARKER_PREFIX, NewComment, NewRemoteTicket,
    RemoteArticle, RemoteComment, RemoteFields, RemoteTicket, RemoteVersion, TicketPage, TicketRef,
    extract_marker,
};
use crate::probe::ProbeReport;
use crate::rest::Rest;
use casebook_core::connection::{Connection, Vendor};
use casebook_core::model::{Millis, Priority, TicketState, Visibility};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;

/// How tickets are pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZendeskExport {
    /// Cursor incremental export: administrators only.
    Incremental,
    /// Search export: what an agent may use.
    Search,
}

impl ZendeskExport {
    /// From a fresh connection test.
    pub fn from_probe(report: &ProbeReport) -> ZendeskExport {
        if report.zendesk_admin == Some(true) {
            ZendeskExport::Incremental
        } else {
            ZendeskExport::Search
        }
    }

    /// From the capabilities the last connection test stored with the connection (the
    /// administrator sentence of [`crate::probe::test_connection`]); the search export when the
    /// connection was never tested.
    pub fn from_connection(conn: &Connection) -> ZendeskExport {
        if conn
            .capabilities
            .iter()
            .any(|c| c.contains("is a Zendesk administrator"))
        {
            ZendeskExport::Incremental
        } else {
            ZendeskExport::Search
        }
    }
}

/// The scope name of Zendesk tickets.
pub const SCOPE: &str = "tickets";
/// The key of a comment's marker in its update's audit metadata (`metadata.custom`).
pub const AUDIT_MARKER_KEY: &str = "casebook_op";
/// Seconds re-read at the end of a search walk (the search index lags).
const SEARCH_OVERLAP_SECS: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "m")]
enum PullCursor {
    /// Incremental export: the `after_cursor` to resume at.
    #[serde(rename = "inc")]
    Incremental { c: String },
    /// Search export: watermark (Unix seconds), the page cursor inside the current walk and the
    /// newest `updated_at` seen in it.
    #[serde(rename = "search")]
    Search {
        w: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        a: Option<String>,
        #[serde(default)]
        max: i64,
    },
}

pub struct Zendesk {
    rest: Rest,
    export: ZendeskExport,
    /// Users and groups read during this sync (a connector lives for one sync).
    people: std::sync::Mutex<people::Directory>,
}

/// One page of a list with cursor pagination ([`Zendesk::cursor_page`]).
struct CursorPage {
    items: Vec<Value>,
    /// The `after_cursor` of the next page; `None`: this was the last.
    next: Option<String>,
}

impl Zendesk {
    pub fn new(
        http: reqwest::Client,
        tokens: Arc<dyn CredentialSource>,
        conn: Connection,
        export: ZendeskExport,
    ) -> Zendesk {
        Zendesk {
            rest: Rest::new(http, tokens, conn),
            export,
            people: std::sync::Mutex::default(),
        }
    }

    pub fn export(&self) -> ZendeskExport {
        self.export
    }

    fn ticket_id(t: &TicketRef) -> SyncResult<u64> {
        t.upstream_id.parse().map_err(|_| {
            SyncError::Local(format!("'{}' is not a zendesk ticket id", t.upstream_id))
        })
    }

    /// One page of a list with cursor pagination (`page[size]` ≤ 100, `page[after]`; the answer's
    /// `meta.has_more` and `meta.after_cursor`): the items under `key` and the cursor of the next
    /// page (`None`: this was the last). `what` names the list in errors; `query` holds the
    /// list's own parameters.
    async fn cursor_page(
        &self,
        path: &str,
        key: &str,
        what: &str,
        mut query: Vec<(&'static str, String)>,
        size: usize,
        after: Option<&str>,
    ) -> SyncResult<CursorPage> {
        query.push(("page[size]", size.clamp(1, 100).to_string()));
        if let Some(a) = after {
            query.push(("page[after]", a.to_owned()));
        }
        let mut a = self.rest.call(Method::GET, path, &query, None, &[]).await?;
        let items = match a.json.get_mut(key).map(Value::take) {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(SyncError::MalformedJson {
                    what: format!("{what}: no {key} list"),
                });
            }
        };
        let next = match (
            a.json["meta"]["has_more"].as_bool(),
            a.json["meta"]["after_cursor"].as_str(),
        ) {
            (Some(true), Some(c)) => Some(c.to_owned()),
            (Some(true), None) => {
                return Err(SyncError::MalformedJson {
                    what: format!("{what}: has_more without an after_cursor"),
                });
            }
            _ => None,
        };
        Ok(CursorPage { items, next })
    }

    /// All comments of a ticket, oldest first (cursor pages of 100).
    async fn comments(&self, id: u64) -> SyncResult<Vec<RemoteComment>> {
        let path = format!("/api/v2/tickets/{id}/comments.json");
        let what = format!("comments of #{id}");
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .cursor_page(&path, "comments", &what, Vec::new(), 100, after.as_deref())
                .await?;
            for c in &page.items {
                out.push(map_comment(c)?);
            }
            match page.next {
                // An empty page that claims more would never end.
                Some(c) if !page.items.is_empty() => after = Some(c),
                _ => return Ok(out),
            }
        }
    }

    /// The comment an operation added, from the ticket's audits: the `Comment` event of the
    /// audit whose custom metadata carries `marker` (or, for an operation queued before the
    /// upgrade, a `Comment` event whose text ends with its marker line). Cursor pages of 100.
    async fn comment_by_audit(&self, id: u64, marker: &str) -> SyncResult<Option<RemoteComment>> {
        let path = format!("/api/v2/tickets/{id}/audits.json");
        let what = format!("audits of #{id}");
        let mut after: Option<String> = None;
        loop {
            let page = self
                .cursor_page(&path, "audits", &what, Vec::new(), 100, after.as_deref())
                .await?;
            for audit in &page.items {
                let tagged = audit["metadata"]["custom"][AUDIT_MARKER_KEY].as_str() == Some(marker);
                for ev in audit["events"].as_array().into_iter().flatten() {
                    if ev["type"] != "Comment" {
                        continue;
                    }
                    let c = audit_comment(audit, ev)?;
                    if tagged || c.marker.as_deref() == Some(marker) {
                        return Ok(Some(RemoteComment {
                            marker: Some(marker.to_owned()),
                            ..c
                        }));
                    }
                }
            }
            match page.next {
                Some(c) if !page.items.is_empty() => after = Some(c),
                _ => return Ok(None),
            }
        }
    }

    fn map_ticket(&self, v: &Value) -> SyncResult<RemoteTicket> {
        let Some(id) = v["id"].as_u64() else {
            return Err(SyncError::MalformedJson {
                what: "a ticket without an id".into(),
            });
        };
        let updated_raw = v["updated_at"].as_str().unwrap_or("");
        let updated = parse_timestamp("updated_at", updated_raw)?;
        let created = parse_timestamp("created_at", v["created_at"].as_str().unwrap_or(""))?;
        let status = v["status"].as_str().unwrap_or("").to_owned();
        let state = match status.as_str() {
            "new" => TicketState::New,
            "open" => TicketState::Open,
            "pending" => TicketState::Pending,
            "hold" => TicketState::OnHold,
            "solved" => TicketState::Resolved,
            "closed" => TicketState::Closed,
            other => {
                return Err(SyncError::MalformedJson {
                    what: format!("ticket #{id} has an unknown status '{}'", excerpt(other)),
                });
            }
        };
        let prio_raw = v["priority"].as_str().map(str::to_owned);
        let priority = match prio_raw.as_deref() {
            Some("urgent") => Priority::Critical,
            Some("high") => Priority::High,
            Some("low") => Priority::Low,
            _ => Priority::Medium,
        };
        let id_str = |x: &Value| x.as_u64().map(|n| n.to_string());
        Ok(RemoteTicket {
            upstream_id: id.to_string(),
            key: format!("#{id}"),
            scope: SCOPE.into(),
            version: RemoteVersion {
                token: updated_raw.to_owned(),
                updated_at: updated,
            },
            created_at: created,
            first_response_at: None,
            resolved_at: None,
            fields: RemoteFields {
                title: v["subject"].as_str().unwrap_or("").to_owned(),
                description: v["description"].as_str().unwrap_or("").to_owned(),
                state,
                state_raw: Some(status),
                priority,
                priority_raw: prio_raw,
                assignee: id_str(&v["assignee_id"]),
                assignment_group: id_str(&v["group_id"]),
                requester: id_str(&v["requester_id"]),
                organization: id_str(&v["organization_id"]),
                tags: v["tags"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            comments: Vec::new(),
            url: Some(format!("{}/agent/tickets/{id}", self.rest.base)),
            extra: {
                // The ids behind the names `people::name_people` puts in the fields.
                let mut extra = json!({
                    "external_id": v["external_id"],
                    "via": v["via"]["channel"],
                    "requester_id": v["requester_id"],
                    "assignee_id": v["assignee_id"],
                    "group_id": v["group_id"],
                });
                if let Some(sla) = sla::policy_metrics(v)? {
                    extra["sla"] = sla;
                }
                extra
            },
        })
    }

    async fn with_comments(&self, mut t: RemoteTicket) -> SyncResult<RemoteTicket> {
        let id: u64 = t
            .upstream_id
            .parse()
            .map_err(|_| SyncError::MalformedJson {
                what: "a ticket id that is not a number".into(),
            })?;
        t.comments = self.comments(id).await?;
        Ok(t)
    }

    async fn show(&self, id: u64) -> SyncResult<RemoteTicket> {
        let a = self
            .rest
            .call(
                Method::GET,
                &format!("/api/v2/tickets/{id}.json"),
                &[("include", "slas".to_owned())],
                None,
                &[],
            )
            .await?;
        let t = self.map_ticket(&a.json["ticket"])?;
        let mut t = [self.with_comments(t).await?];
        self.name_people(&mut t).await?;
        let [t] = t;
        Ok(t)
    }

    async fn pull_incremental(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> SyncResult<TicketPage> {
        let mut q = vec![
            ("per_page", limit.clamp(1, 1000).to_string()),
            // The SLA policy metrics, sideloaded into each ticket (see `sla.rs`).
            ("include", "slas".to_owned()),
        ];
        match after {
            Some(c) => q.push(("cursor", c)),
            None => q.push(("start_time", "0".into())),
        }
        let a = self
            .rest
            .call(
                Method::GET,
                "/api/v2/incremental/tickets/cursor.json",
                &q,
                None,
                &[],
            )
            .await?;
        let Some(list) = a.json["tickets"].as_array() else {
            return Err(SyncError::MalformedJson {
                what: "incremental export: no tickets list".into(),
            });
        };
        let Some(next) = a.json["after_cursor"].as_str() else {
            return Err(SyncError::MalformedJson {
                what: "incremental export: no after_cursor".into(),
            });
        };
        let Some(end) = a.json["end_of_stream"].as_bool() else {
            return Err(SyncError::MalformedJson {
                what: "incremental export: no end_of_stream".into(),
            });
        };
        let mut tickets = Vec::new();
        let mut deleted = Vec::new();
        for v in list {
            if v["status"].as_str() == Some("deleted") {
                match v["id"].as_u64() {
                    Some(id) => deleted.push(id.to_string()),
                    None => {
                        return Err(SyncError::MalformedJson {
                            what: "a deleted ticket without an id".into(),
                        });
                    }
                }
                continue;
            }
            let t = self.map_ticket(v)?;
            tickets.push(self.with_comments(t).await?);
        }
        self.name_people(&mut tickets).await?;
        let cursor = serde_json::to_string(&PullCursor::Incremental { c: next.to_owned() })
            .map_err(|e| SyncError::Local(format!("cannot store the zendesk cursor ({e})")))?;
        Ok(TicketPage {
            tickets,
            deleted,
            next: Cursor(cursor),
            has_more: !end,
        })
    }

    async fn pull_search(
        &self,
        w: i64,
        after: Option<String>,
        max: i64,
        limit: usize,
    ) -> SyncResult<TicketPage> {
        let since = jiff::Timestamp::from_second(w)
            .map_err(|e| SyncError::Local(format!("bad zendesk watermark ({e})")))?
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let query = vec![
            ("query", format!("type:ticket updated>={since}")),
            ("filter[type]", "ticket".to_owned()),
            ("include", "slas".to_owned()),
        ];
        let page = self
            .cursor_page(
                "/api/v2/search/export.json",
                "results",
                "search export",
                query,
                limit,
                after.as_deref(),
            )
            .await?;
        let mut tickets = Vec::new();
        let mut newest = max;
        for v in &page.items {
            if v["result_type"].as_str().is_some_and(|r| r != "ticket") {
                continue;
            }
            let t = self.map_ticket(v)?;
            newest = newest.max(t.version.updated_at / 1000);
            tickets.push(self.with_comments(t).await?);
        }
        self.name_people(&mut tickets).await?;
        let has_more = page.next.is_some();
        let next = match page.next {
            Some(c) => PullCursor::Search {
                w,
                a: Some(c),
                max: newest,
            },
            None => PullCursor::Search {
                w: if newest > 0 {
                    (newest - SEARCH_OVERLAP_SECS).max(w)
                } else {
                    w
                },
                a: None,
                max: 0,
            },
        };
        let cursor = serde_json::to_string(&next)
            .map_err(|e| SyncError::Local(format!("cannot store the zendesk cursor ({e})")))?;
        Ok(TicketPage {
            tickets,
            deleted: Vec::new(),
            next: Cursor(cursor),
            has_more,
        })
    }

    async fn put_ticket(&self, id: u64, ticket: Value) -> SyncResult<Value> {
        let a = self
            .rest
            .call(
                Method::PUT,
                &format!("/api/v2/tickets/{id}.json"),
                &[],
                Some(&json!({ "ticket": ticket })),
                &[],
            )
            .await?;
        Ok(a.json)
    }
}

/// Zendesk timestamps: RFC 3339 with `Z` or an explicit offset. Anything else:
/// [`SyncError::BadTimestamp`].
pub fn parse_timestamp(field: &str, s: &str) -> SyncResult<Millis> {
    let ok_shape = s.len() >= 20 && s.as_bytes().get(10) == Some(&b'T');
    match s.parse::<jiff::Timestamp>() {
        Ok(t) if ok_shape => Ok(t.as_millisecond()),
        _ => Err(SyncError::BadTimestamp {
            field: field.to_owned(),
            value: excerpt(s),
        }),
    }
}

fn map_comment(c: &Value) -> SyncResult<RemoteComment> {
    let (body, marker) = extract_marker(c["body"].as_str().unwrap_or(""));
    Ok(RemoteComment {
        upstream_id: c["id"].as_u64().map(|n| n.to_string()).unwrap_or_default(),
        visibility: if c["public"].as_bool() == Some(false) {
            Visibility::Internal
        } else {
            Visibility::Public
        },
        author: c["author_id"]
            .as_u64()
            .map(|n| n.to_string())
            .unwrap_or_default(),
        body,
        created_at: parse_timestamp("comment created_at", c["created_at"].as_str().unwrap_or(""))?,
        marker,
    })
}

/// A `Comment` event of an audit as a comment: the event has no time of its own (the audit's)
/// and may omit its author (the audit's).
fn audit_comment(audit: &Value, ev: &Value) -> SyncResult<RemoteComment> {
    let mut ev = ev.clone();
    if ev["created_at"].is_null() {
        ev["created_at"] = audit["created_at"].clone();
    }
    if ev["author_id"].is_null() {
        ev["author_id"] = audit["author_id"].clone();
    }
    map_comment(&ev)
}

fn status_value(s: TicketState) -> &'static str {
    match s {
        TicketState::New => "new",
        TicketState::Open => "open",
        TicketState::Pending => "pending",
        TicketState::OnHold => "hold",
        TicketState::Resolved => "solved",
        TicketState::Closed => "closed",
    }
}

fn priority_value(p: Priority) -> &'static str {
    match p {
        Priority::Critical => "urgent",
        Priority::High => "high",
        Priority::Medium => "normal",
        Priority::Low => "low",
    }
}

fn external_id(marker: &str) -> String {
    format!("{MARKER_PREFIX}{marker}")
}

#[async_trait::async_trait]
impl Connector for Zendesk {
    fn vendor(&self) -> Vendor {
        Vendor::Zendesk
    }

    fn scopes(&self) -> Vec<String> {
        vec![SCOPE.into()]
    }

    async fn pull_tickets(
        &self,
        scope: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> SyncResult<TicketPage> {
        if scope != SCOPE {
            return Err(SyncError::Local(format!("zendesk has no scope '{scope}'")));
        }
        let cur = match cursor {
            Some(c) if !c.0.is_empty() => {
                Some(serde_json::from_str::<PullCursor>(&c.0).map_err(|e| {
                    SyncError::Local(format!("the stored zendesk cursor is not readable ({e})"))
                })?)
            }
            _ => None,
        };
        match (self.export, cur) {
            (ZendeskExport::Incremental, Some(PullCursor::Incremental { c })) => {
                self.pull_incremental(Some(c), limit).await
            }
            // First pull, or the account became an administrator: start the export over
            // (the engine dedupes by version).
            (ZendeskExport::Incremental, _) => self.pull_incremental(None, limit).await,
            (ZendeskExport::Search, Some(PullCursor::Search { w, a, max })) => {
                self.pull_search(w, a, max, limit).await
            }
            (ZendeskExport::Search, _) => self.pull_search(0, None, 0, limit).await,
        }
    }

    async fn fetch_ticket(&self, ticket: &TicketRef) -> SyncResult<RemoteTicket> {
        self.show(Self::ticket_id(ticket)?).await
    }

    async fn update_fields(
        &self,
        ticket: &TicketRef,
        base: &RemoteVersion,
        changes: &FieldValues,
    ) -> SyncResult<UpdateOutcome> {
        let id = Self::ticket_id(ticket)?;
        let mut t = serde_json::Map::new();
        for (field, value) in changes {
            match field {
                Field::Title => {
                    t.insert("subject".into(), json!(value.as_str().unwrap_or("")));
                }
                Field::Description => {
                    return Err(SyncError::Local(
                        "a zendesk ticket's description is its first comment and cannot be edited; add a comment instead".into(),
                    ));
                }
                Field::State => {
                    let s: TicketState = serde_json::from_value(value.clone()).map_err(|_| {
                        SyncError::Local(format!("'{value}' is not a ticket state"))
                    })?;
                    t.insert("status".into(), json!(status_value(s)));
                }
                Field::Priority => {
                    let p: Priority = serde_json::from_value(value.clone())
                        .map_err(|_| SyncError::Local(format!("'{value}' is not a priority")))?;
                    t.insert("priority".into(), json!(priority_value(p)));
                }
                // Names are looked up first: one that finds nobody (or several) fails here,
                // before the write.
                Field::Assignee => {
                    t.insert("assignee_id".into(), json!(self.agent_id_for(value).await?));
                }
                Field::AssignmentGroup => {
                    t.insert("group_id".into(), json!(self.group_id_for(value).await?));
                }
                Field::Tags => {
                    t.insert("tags".into(), value.clone());
                }
            }
        }
        t.insert("safe_update".into(), json!(true));
        t.insert("updated_stamp".into(), json!(base.token));
        match self.put_ticket(id, Value::Object(t)).await {
            Ok(v) => {
                let after = self.map_ticket(&v["ticket"])?;
                Ok(UpdateOutcome::Applied(after.version))
            }
            Err(SyncError::Conflict(_)) => {
                let now = self.show(id).await?;
                Ok(UpdateOutcome::Moved(Box::new(now)))
            }
            Err(e) => Err(e),
        }
    }

    async fn add_comment(
        &self,
        ticket: &TicketRef,
        comment: &NewComment,
    ) -> SyncResult<RemoteComment> {
        let id = Self::ticket_id(ticket)?;
        // The text is exactly the agent's (the requester is emailed a public one); the marker
        // goes to the update's audit metadata, which only the API shows.
        let v = self
            .put_ticket(
                id,
                json!({
                    "comment": {
                        "body": comment.body,
                        "public": comment.visibility == Visibility::Public,
                    },
                    "metadata": { AUDIT_MARKER_KEY: comment.marker },
                }),
            )
            .await?;
        // The audit's Comment event is the new comment; its time is the audit's.
        if let Some(ev) = v["audit"]["events"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["type"] == "Comment"))
            && let Ok(c) = audit_comment(&v["audit"], ev)
            && !c.upstream_id.is_empty()
        {
            return Ok(RemoteComment {
                marker: Some(comment.marker.clone()),
                ..c
            });
        }
        // The update landed (2xx): reading the comment back may fail (a 429, an expired token),
        // which is an unknown outcome — the retry looks for the marker instead of adding the
        // comment a second time.
        self.find_comment(ticket, comment)
            .await
            .map_err(|e| {
                SyncError::UnknownOutcome(format!(
                    "#{id}: the comment was accepted; reading it back failed: {e}"
                ))
            })?
            .ok_or_else(|| {
                SyncError::UnknownOutcome(format!(
                    "#{id}: the comment was accepted but is not among the ticket's audits yet"
                ))
            })
    }

    async fn find_comment(
        &self,
        ticket: &TicketRef,
        comment: &NewComment,
    ) -> SyncResult<Option<RemoteComment>> {
        let id = Self::ticket_id(ticket)?;
        self.comment_by_audit(id, &comment.marker).await
    }

    async fn create_ticket(&self, new: &NewRemoteTicket) -> SyncResult<RemoteTicket> {
        let mut t = json!({
            "subject": new.fields.title,
            "comment": { "body": new.fields.description, "public": true },
            "priority": priority_value(new.fields.priority),
            "status": status_value(new.fields.state),
            "tags": new.fields.tags,
            "external_id": external_id(&new.marker),
        });
        if let Some(a) = &new.fields.assignee {
            t["assignee_id"] = json!(self.agent_id_for(&json!(a)).await?);
        }
        if let Some(g) = &new.fields.assignment_group {
            t["group_id"] = json!(self.group_id_for(&json!(g)).await?);
        }
        let a = self
            .rest
            .call(
                Method::POST,
                "/api/v2/tickets.json",
                &[],
                Some(&json!({ "ticket": t })),
                &[("Idempotency-Key", external_id(&new.marker))],
            )
            .await?;
        // The ticket exists from here on. The Idempotency-Key only protects a retry for two
        // hours (an expired sign-in can keep the retry away much longer), so a failure to read
        // the answer or the comments back is an unknown outcome: the retry first looks for the
        // ticket by its external id.
        let created = self.map_ticket(&a.json["ticket"]).map_err(|e| {
            SyncError::UnknownOutcome(format!(
                "the ticket was created; its answer could not be read: {e}"
            ))
        })?;
        let key = created.key.clone();
        let mut created = [self.with_comments(created).await.map_err(|e| {
            SyncError::UnknownOutcome(format!(
                "{key} was created; reading its comments back failed: {e}"
            ))
        })?];
        self.name_people(&mut created).await.map_err(|e| {
            SyncError::UnknownOutcome(format!(
                "{key} was created; reading its people back failed: {e}"
            ))
        })?;
        let [created] = created;
        Ok(created)
    }

    async fn find_created(&self, scope: &str, marker: &str) -> SyncResult<Option<RemoteTicket>> {
        if scope != SCOPE {
            return Ok(None);
        }
        let a = self
            .rest
            .call(
                Method::GET,
                "/api/v2/tickets.json",
                &[("external_id", external_id(marker))],
                None,
                &[],
            )
            .await?;
        match a.json["tickets"].as_array().and_then(|l| l.first()) {
            Some(v) => {
                let t = self.map_ticket(v)?;
                let mut t = [self.with_comments(t).await?];
                self.name_people(&mut t).await?;
                let [t] = t;
                Ok(Some(t))
            }
            None => Ok(None),
        }
    }

    /// `GET /api/v2/tickets.json` with cursor pagination (`page[size]` ≤ 100), as before: in
    /// creation order, which is id order but for tickets imported with an earlier date (the
    /// engine's merge takes those out of order).
    async fn list_ids_page(
        &self,
        scope: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> SyncResult<IdPage> {
        if scope != SCOPE {
            return Ok(IdPage {
                ids: Vec::new(),
                next: None,
            });
        }
        let page = self
            .cursor_page(
                "/api/v2/tickets.json",
                "tickets",
                "ticket list",
                Vec::new(),
                limit,
                cursor.map(|c| c.0.as_str()),
            )
            .await?;
        let mut ids = Vec::with_capacity(page.items.len());
        for v in &page.items {
            match v["id"].as_u64() {
                Some(id) => ids.push(id.to_string()),
                None => {
                    return Err(SyncError::MalformedJson {
                        what: "a ticket without an id in the id sweep".into(),
                    });
                }
            }
        }
        let next = page.next.map(Cursor);
        Ok(IdPage { ids, next })
    }

    async fn readable_values(
        &self,
        _ticket: &TicketRef,
        values: &FieldValues,
        strict: bool,
    ) -> SyncResult<FieldValues> {
        self.readable(values, strict).await
    }

    fn has_knowledge_base(&self) -> bool {
        true
    }

    async fn pull_articles(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> SyncResult<ArticlePage> {
        let _ = limit; // the Help Center export pages by 1000
        let start: i64 = match cursor {
            Some(c) if !c.0.is_empty() => c.0.parse().map_err(|_| {
                SyncError::Local("the stored help center cursor is not readable".into())
            })?,
            _ => 0,
        };
        let a = self
            .rest
            .call(
                Method::GET,
                "/api/v2/help_center/incremental/articles.json",
                &[("start_time", start.to_string())],
                None,
                &[],
            )
            .await?;
        let Some(list) = a.json["articles"].as_array() else {
            return Err(SyncError::MalformedJson {
                what: "help center export: no articles list".into(),
            });
        };
        let mut articles = Vec::new();
        for v in list {
            let Some(id) = v["id"].as_u64() else {
                return Err(SyncError::MalformedJson {
                    what: "an article without an id".into(),
                });
            };
            articles.push(RemoteArticle {
                upstream_id: id.to_string(),
                key: id.to_string(),
                title: v["title"].as_str().unwrap_or("").to_owned(),
                body_html: v["body"].as_str().unwrap_or("").to_owned(),
                updated_at: parse_timestamp(
                    "article updated_at",
                    v["updated_at"].as_str().unwrap_or(""),
                )?,
                url: v["html_url"].as_str().map(str::to_owned),
                retired: v["draft"].as_bool() == Some(true)
                    || v["outdated"].as_bool() == Some(true),
            });
        }
        let end = a.json["end_time"].as_i64().unwrap_or(start);
        let has_more = !a.json["next_page"].is_null() && end > start;
        Ok(ArticlePage {
            articles,
            next: Cursor(end.max(start).to_string()),
            has_more,
            skipped: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn timestamps_must_be_rfc3339_with_a_zone() {
        assert_eq!(
            parse_timestamp("updated_at", "2024-03-01T09:00:00Z").unwrap(),
            1_709_283_600_000
        );
        assert_eq!(
            parse_timestamp("updated_at", "2024-03-01T10:00:00+01:00").unwrap(),
            1_709_283_600_000
        );
        for bad in [
            "2024-03-01T09:00:00",
            "2024-03-01 09:00:00",
            "1709283600",
            "03/01/2024",
        ] {
            assert!(
                matches!(
                    parse_timestamp("updated_at", bad),
                    Err(SyncError::BadTimestamp { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn cursors_round_trip() {
        let c = PullCursor::Search {
            w: 5,
            a: Some("x".into()),
            max: 9,
        };
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<PullCursor>(&s).unwrap(), c);
        let i = serde_json::to_string(&PullCursor::Incremental { c: "abc".into() }).unwrap();
        assert_eq!(i, r#"{"m":"inc","c":"abc"}"#);
    }
}
