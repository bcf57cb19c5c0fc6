//! The ServiceNow connector (Table API): `incident` (and the other mirrored task tables),
//! comments and work notes through `sys_journal_field`, `kb_knowledge` articles.
//!
//! - Pull: `sysparm_query=sys_updated_on>=<UTC literal>^ORDERBYsys_updated_on^ORDERBYsys_id`,
//!   actual (UTC) values, offset pages. The cursor is `(timestamp, offset)`: after a page it
//!   restarts at the last row's timestamp with offset 0 (an overlap re-read that the engine
//!   dedupes by `sys_mod_count`), and only steps the offset while a whole page shares one
//!   second — so rows sharing the watermark second are never skipped.
//! - Push: there is no precondition in the Table API, so the record's `sys_mod_count` is re-read
//!   immediately before each PATCH and the write is refused locally ("moved") when it changed.
//! - Exactly once: a journal entry has no hidden field, and a `comments` entry is what the
//!   customer reads (the "additional comments" they are emailed), so nothing is added to the
//!   text. The entry of an operation is recognized by who wrote it (`sys_created_by` = this
//!   account's user name), on which record and journal field, and its exact text, excluding the
//!   entries that were there before the first send (the baseline, stored with the operation) and
//!   those the workspace already has. Work notes are handled the same way (no marker there
//!   either). Creations carry the marker in `correlation_id`. Entries carrying the marker line of
//!   earlier versions are still recognized (and shown without it).
//! - Timestamps must be `YYYY-MM-DD HH:MM:SS` (UTC actual values): anything else is an explicit
//!   [`SyncError::BadTimestamp`], never a guess.
//! - Assignee, assignment group and caller are reference fields: readable values (user name,
//!   group name) in the workspace, sys_ids upstream (see [`refs`]).
//! - Tags stay in the workspace: ServiceNow has none an agent can write
//!   (`Vendor::stores_tags`).
//! - The deletion sweep's id listing is keyset-paged in sys_id order
//!   (`sys_id>=<last>^ORDERBYsys_id`, `sysparm_fields=sys_id`), the order the engine merges in.
//!   `sysparm_limit` is applied before ACLs, so a short or empty page is not the end: the
//!   `Link` header's `rel="next"` (computed by the instance from its count) says whether rows
//!   remain, and a window whose rows this account cannot read is stepped over by offset.

mod map;
mod refs;
mod sla;

use crate::auth::AuthError;
use crate::connector::{Connector, CredentialSource, SyncResult, UpdateOutcome};
use crate::error::{SyncError, excerpt, looks_like_html};
use crate::model::{
    ArticlePage, Cursor, FieldValues, IdPage, NewComment, NewRemoteTicket, RemoteArticle,
    RemoteComment, RemoteTicket, RemoteVersion, TicketRef,
};
use casebook_core::connection::AuthMethod;
use casebook_core::connection::{Connection, Vendor};
use casebook_core::model::Visibility;
use casebook_core::store::comparable_comment_text;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub use map::{format_timestamp, parse_timestamp};

/// Fields read for each mirrored record. The dot-walked `assigned_to.user_name`,
/// `assigned_to.name`, `assignment_group.name` and `caller_id.user_name` bring the readable
/// values of the reference fields with the record (no `sysparm_display_value`, which would also
/// turn date-times into the user's time zone).
const FIELDS: &str = "sys_id,number,short_description,description,state,hold_reason,priority,\
    assigned_to,assigned_to.user_name,assigned_to.name,assignment_group,assignment_group.name,\
    caller_id,caller_id.user_name,company,sys_created_on,sys_updated_on,sys_mod_count,\
    sys_updated_by,correlation_id,resolved_at,active";

const KB_FIELDS: &str = "sys_id,number,short_description,text,workflow_state,sys_updated_on";

/// The start of time for a first pull.
const EPOCH: &str = "1970-01-01 00:00:00";

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct PullCursor {
    ts: String,
    offset: usize,
}

/// Where the deletion sweep's id listing goes on: the rows from `after` (a sys_id the listing
/// returned; `None`: from the start) in sys_id order, skipping `skip` rows (windows the account
/// could not read any row of).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct IdCursor {
    after: Option<String>,
    skip: usize,
}

/// The most ids the sweep asks for per page (the Table API's default `sysparm_limit`).
const ID_PAGE_MAX: usize = 10_000;

pub struct ServiceNow {
    http: reqwest::Client,
    tokens: Arc<dyn CredentialSource>,
    conn: Connection,
    base: String,
    /// Users and groups looked up during this sync (a connector lives for one sync).
    refs: std::sync::Mutex<refs::RefCache>,
    /// The account's user name (`sys_created_by` of what it writes), once looked up:
    /// `Some(None)` when the instance would not say.
    me: tokio::sync::OnceCell<Option<String>>,
}

enum Method {
    Get,
    Post,
    Patch,
}

impl ServiceNow {
    pub fn new(
        http: reqwest::Client,
        tokens: Arc<dyn CredentialSource>,
        conn: Connection,
    ) -> ServiceNow {
        let base = conn.base_url.trim_end_matches('/').to_owned();
        ServiceNow {
            http,
            tokens,
            conn,
            base,
            refs: std::sync::Mutex::default(),
            me: tokio::sync::OnceCell::new(),
        }
    }

    fn table_url(&self, table: &str) -> String {
        format!("{}/api/now/table/{table}", self.base)
    }

    /// One request with credentials and the error classification of the connector contract.
    async fn call(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> SyncResult<(Value, reqwest::header::HeaderMap)> {
        let creds = self
            .tokens
            .credentials(&self.conn)
            .await
            .map_err(|e| match e {
                AuthError::NeedsSignIn(m) => SyncError::AuthExpired(m),
                AuthError::Unreachable(m) => SyncError::Offline(m),
                other => SyncError::Local(other.to_string()),
            })?;
        let is_write = !matches!(method, Method::Get);
        let mut req = match method {
            Method::Get => self.http.get(url),
            Method::Post => self.http.post(url),
            Method::Patch => self.http.patch(url),
        }
        .query(query)
        .header("Accept", "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = creds.apply(req).send().await.map_err(|e| {
            let (kind, msg) = crate::http::explain(&e, &self.base);
            match kind {
                crate::http::Transport::Unreachable | crate::http::Transport::Tls => {
                    SyncError::Offline(msg)
                }
                _ if is_write => SyncError::UnknownOutcome(msg),
                crate::http::Transport::TimedOut => SyncError::Timeout(msg),
                _ => SyncError::Offline(msg),
            }
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let ctype = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = resp.bytes().await.map_err(|e| {
            if is_write {
                SyncError::UnknownOutcome(format!("the answer was cut off: {e}"))
            } else {
                SyncError::MalformedJson {
                    what: format!("the answer was cut off ({e})"),
                }
            }
        })?;
        match status {
            200..=299 => {
                if looks_like_html(ctype.as_deref(), &bytes) {
                    return Err(SyncError::HtmlInsteadOfJson(format!(
                        "{url}; a login page or a proxy answered, check the instance address and the sign-in"
                    )));
                }
                if bytes.is_empty() {
                    return Ok((Value::Null, headers));
                }
                let v = serde_json::from_slice(&bytes).map_err(|e| SyncError::MalformedJson {
                    what: format!("{} ({e})", path_of(url)),
                })?;
                Ok((v, headers))
            }
            401 => Err(SyncError::AuthExpired(format!(
                "{} rejected the credentials; sign in again",
                self.conn.name
            ))),
            429 => Err(SyncError::RateLimited {
                retry_after: headers
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs),
            }),
            _ => {
                let message = error_message(&bytes, ctype.as_deref());
                match status {
                    404 => Err(SyncError::NotFound(message)),
                    409 => Err(SyncError::Conflict(message)),
                    _ => Err(SyncError::HttpStatus {
                        code: status,
                        body: message,
                    }),
                }
            }
        }
    }

    async fn get_rows(&self, table: &str, query: &[(&str, String)]) -> SyncResult<Vec<Value>> {
        let (v, _) = self
            .call(Method::Get, &self.table_url(table), query, None)
            .await?;
        match v.get("result") {
            Some(Value::Array(rows)) => Ok(rows.clone()),
            _ => Err(SyncError::MalformedJson {
                what: format!("{table}: no result list"),
            }),
        }
    }

    /// The journal entries (comments and work notes) of some records, oldest first.
    async fn journal(&self, ids: &[String]) -> SyncResult<Vec<Value>> {
        self.journal_where(ids, "elementINcomments,work_notes")
            .await
    }

    /// The journal entries of some records matching `filter` (an encoded-query condition),
    /// oldest first.
    async fn journal_where(&self, ids: &[String], filter: &str) -> SyncResult<Vec<Value>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = format!("element_idIN{}^{filter}", ids.join(","));
        q.push_str("^ORDERBYsys_created_on^ORDERBYsys_id");
        let mut out = Vec::new();
        let limit = 1000usize;
        loop {
            let rows = self
                .get_rows(
                    "sys_journal_field",
                    &[
                        ("sysparm_query", q.clone()),
                        (
                            "sysparm_fields",
                            "sys_id,element_id,element,value,sys_created_on,sys_created_by".into(),
                        ),
                        ("sysparm_limit", limit.to_string()),
                        ("sysparm_offset", out.len().to_string()),
                    ],
                )
                .await?;
            let n = rows.len();
            out.extend(rows);
            if n < limit {
                return Ok(out);
            }
        }
    }

    async fn with_comments(
        &self,
        scope: &str,
        mut rows: Vec<Value>,
    ) -> SyncResult<Vec<RemoteTicket>> {
        self.fill_readable(&mut rows).await?;
        let ids: Vec<String> = rows
            .iter()
            .filter_map(|r| r.get("sys_id").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let journal = self.journal(&ids).await?;
        let mut tickets = rows
            .iter()
            .map(|r| map::ticket(scope, r, &journal, &self.base))
            .collect::<SyncResult<Vec<_>>>()?;
        self.with_slas(&mut tickets).await?;
        Ok(tickets)
    }

    /// The entries of one record's journal field (`comments` or `work_notes`), oldest first.
    async fn journal_entries(
        &self,
        t: &TicketRef,
        visibility: Visibility,
    ) -> SyncResult<Vec<RemoteComment>> {
        let filter = format!("element={}", journal_element(visibility));
        self.journal_where(std::slice::from_ref(&t.upstream_id), &filter)
            .await?
            .iter()
            .map(map::comment)
            .collect()
    }

    /// The user name this connection writes as (`sys_created_by` of its journal entries): the
    /// Basic sign-in name, or for OAuth the signed-in user's `user_name` (looked up once, as the
    /// connection test does). `None` when the instance does not answer it (a query ACL): entries
    /// are then matched without their author.
    async fn own_user_name(&self) -> SyncResult<Option<String>> {
        if self.conn.auth_method == AuthMethod::Basic
            && let Some(u) = self.conn.username.as_deref().map(str::trim)
            && !u.is_empty()
        {
            return Ok(Some(u.to_owned()));
        }
        self.me
            .get_or_try_init(|| async {
                let rows = self
                    .get_rows(
                        "sys_user",
                        &[
                            ("sysparm_query", "sys_id=javascript:gs.getUserID()".into()),
                            ("sysparm_fields", "user_name".into()),
                            ("sysparm_limit", "1".into()),
                        ],
                    )
                    .await?;
                let name = rows
                    .first()
                    .and_then(|r| r.get("user_name"))
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned);
                if name.is_none() {
                    tracing::warn!(
                        connection = self.conn.id,
                        "the instance did not name the signed-in user; comments are recognized without their author"
                    );
                }
                Ok(name)
            })
            .await
            .cloned()
    }

    /// The entry `c` created, among one record's entries of its journal field: one carrying its
    /// marker line (written by earlier versions), else the oldest entry by this account with
    /// exactly its text that is neither in the baseline (there before the first send) nor known
    /// to the workspace, and carries no other operation's marker.
    fn pick_ours(
        entries: Vec<RemoteComment>,
        c: &NewComment,
        me: Option<&str>,
    ) -> Option<RemoteComment> {
        if let Some(old) = entries
            .iter()
            .find(|e| e.marker.as_deref() == Some(c.marker.as_str()))
        {
            return Some(old.clone());
        }
        let before = baseline_ids(c.baseline.as_ref());
        let text = comparable_comment_text(&c.body);
        entries.into_iter().find(|e| {
            e.marker.is_none()
                && me.is_none_or(|m| e.author.eq_ignore_ascii_case(m))
                && !before.contains(&e.upstream_id)
                && !c.known.contains(&e.upstream_id)
                && comparable_comment_text(&e.body) == text
        })
    }

    /// The entry of a comment whose PATCH was answered 2xx (it is stored): [`Self::pick_ours`];
    /// failing that, the only new entry by this account in that journal field (the instance
    /// stored the text otherwise than it was sent). Failing both (the account cannot read
    /// `sys_journal_field`: an ACL answers an empty list), it is still stored, so the operation
    /// must not be sent again: the comment is linked to a placeholder id and a warning logged
    /// (if the entry becomes readable, a pull shows it beside the local one, never twice
    /// upstream).
    fn landed_entry(
        entries: Vec<RemoteComment>,
        c: &NewComment,
        me: Option<&str>,
        key: &str,
    ) -> RemoteComment {
        let ours = |mut e: RemoteComment| {
            e.marker = Some(c.marker.clone());
            e
        };
        let before = baseline_ids(c.baseline.as_ref());
        let fresh: Vec<&RemoteComment> = entries
            .iter()
            .filter(|e| {
                e.marker.is_none()
                    && me.is_some_and(|m| e.author.eq_ignore_ascii_case(m))
                    && !before.contains(&e.upstream_id)
                    && !c.known.contains(&e.upstream_id)
            })
            .collect();
        let only = (fresh.len() == 1).then(|| fresh[0].clone());
        if let Some(found) = Self::pick_ours(entries.clone(), c, me) {
            return ours(found);
        }
        if let Some(found) = only {
            tracing::warn!(
                ticket = key,
                "the instance stored the comment's text otherwise than it was sent; linked to the only new entry"
            );
            return ours(found);
        }
        tracing::warn!(
            ticket = key,
            "the comment was stored but its journal entry cannot be read back (sys_journal_field access?); not sent again"
        );
        RemoteComment {
            upstream_id: format!("{UNREAD_ENTRY_PREFIX}{}", c.marker),
            visibility: c.visibility,
            author: me.unwrap_or_default().to_owned(),
            body: c.body.clone(),
            created_at: 0,
            marker: Some(c.marker.clone()),
        }
    }

    /// One page of a table ordered by `(sys_updated_on, sys_id)` from a cursor.
    async fn page(
        &self,
        table: &str,
        filter: &str,
        fields: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> SyncResult<(Vec<Value>, Cursor, bool)> {
        let cur = match cursor {
            Some(c) if !c.0.is_empty() => serde_json::from_str::<PullCursor>(&c.0)
                .map_err(|e| SyncError::Local(format!("stored cursor is not readable: {e}")))?,
            _ => PullCursor {
                ts: EPOCH.into(),
                offset: 0,
            },
        };
        parse_timestamp("cursor", &cur.ts)?;
        let mut q = format!("sys_updated_on>={}", cur.ts);
        if !filter.is_empty() {
            q = format!("{filter}^{q}");
        }
        q.push_str("^ORDERBYsys_updated_on^ORDERBYsys_id");
        let limit = limit.max(1);
        let rows = self
            .get_rows(
                table,
                &[
                    ("sysparm_query", q),
                    ("sysparm_fields", fields.into()),
                    ("sysparm_display_value", "false".into()),
                    ("sysparm_exclude_reference_link", "true".into()),
                    ("sysparm_limit", limit.to_string()),
                    ("sysparm_offset", cur.offset.to_string()),
                ],
            )
            .await?;
        // Every timestamp must parse before anything of the page is used.
        let mut last = cur.ts.clone();
        let mut same = 0usize;
        for r in &rows {
            let ts = r
                .get("sys_updated_on")
                .and_then(Value::as_str)
                .ok_or_else(|| SyncError::MalformedJson {
                    what: format!("{table}: a row without sys_updated_on"),
                })?;
            let parsed = parse_timestamp("sys_updated_on", ts)?;
            if parsed < parse_timestamp("cursor", &last)? {
                return Err(SyncError::MalformedJson {
                    what: format!("{table}: rows not ordered by sys_updated_on"),
                });
            }
            if ts == last {
                same += 1;
            } else {
                last = ts.to_owned();
                same = 1;
            }
        }
        let has_more = rows.len() >= limit;
        let next = if !has_more {
            // Caught up: the next run re-reads the last second (rows that arrive later within
            // it, with a smaller sys_id, are not skipped).
            PullCursor {
                ts: last,
                offset: 0,
            }
        } else if last == cur.ts {
            // The whole page shares the cursor's second: step through it by offset.
            PullCursor {
                ts: last,
                offset: cur.offset + rows.len(),
            }
        } else if has_more && same == rows.len() {
            PullCursor {
                ts: last,
                offset: same,
            }
        } else {
            // Restart at the last second (overlap: its rows come again and are deduplicated).
            PullCursor {
                ts: last,
                offset: 0,
            }
        };
        let next =
            Cursor(serde_json::to_string(&next).map_err(|e| SyncError::Local(e.to_string()))?);
        Ok((rows, next, has_more))
    }
}

/// The `sysparm_offset` of a `Link` target (`…?sysparm_offset=40&sysparm_limit=20`).
fn offset_of(url: &str) -> Option<usize> {
    let query = url.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "sysparm_offset")
        .and_then(|(_, v)| v.parse().ok())
}

/// The id a comment is linked to when it was stored but its journal entry cannot be read.
const UNREAD_ENTRY_PREFIX: &str = "unread-entry:";

/// The journal field of a visibility: `comments` (customer-visible "additional comments") or
/// `work_notes` (internal).
fn journal_element(v: Visibility) -> &'static str {
    match v {
        Visibility::Public => "comments",
        Visibility::Internal => "work_notes",
    }
}

/// The entry ids a baseline (see `comment_baseline`) lists.
fn baseline_ids(b: Option<&Value>) -> Vec<String> {
    b.and_then(|b| b.get("entries"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn path_of(url: &str) -> String {
    url.split("/api/")
        .nth(1)
        .map_or_else(|| url.to_owned(), |p| format!("/api/{p}"))
}

/// The message of a ServiceNow error body `{"error":{"message","detail"},"status":"failure"}`.
fn error_message(bytes: &[u8], ctype: Option<&str>) -> String {
    if looks_like_html(ctype, bytes) {
        return "an html page (a proxy or login page) instead of a servicenow error".into();
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => {
            let m = v["error"]["message"].as_str().unwrap_or_default();
            let d = v["error"]["detail"].as_str().unwrap_or_default();
            let joined = match (m.is_empty(), d.is_empty()) {
                (false, false) => format!("{m}: {d}"),
                (false, true) => m.to_owned(),
                (true, false) => d.to_owned(),
                (true, true) => excerpt(&String::from_utf8_lossy(bytes)),
            };
            excerpt(&joined).to_lowercase()
        }
        Err(_) => excerpt(&String::from_utf8_lossy(bytes)),
    }
}

#[async_trait::async_trait]
impl Connector for ServiceNow {
    fn vendor(&self) -> Vendor {
        Vendor::ServiceNow
    }

    fn scopes(&self) -> Vec<String> {
        // Requested items etc. are mirrored when named; `kb_knowledge` is pulled as articles.
        let s: Vec<String> = self
            .conn
            .mirror_scope
            .iter()
            .filter(|t| t.as_str() != "kb_knowledge")
            .cloned()
            .collect();
        if s.is_empty() {
            vec!["incident".into()]
        } else {
            s
        }
    }

    async fn pull_tickets(
        &self,
        scope: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> SyncResult<crate::model::TicketPage> {
        let (rows, next, has_more) = self.page(scope, "", FIELDS, cursor, limit).await?;
        let tickets = self.with_comments(scope, rows).await?;
        Ok(crate::model::TicketPage {
            tickets,
            deleted: Vec::new(),
            next,
            has_more,
        })
    }

    async fn fetch_ticket(&self, t: &TicketRef) -> SyncResult<RemoteTicket> {
        let url = format!("{}/{}", self.table_url(&t.scope), t.upstream_id);
        let (v, _) = self
            .call(
                Method::Get,
                &url,
                &[
                    ("sysparm_fields", FIELDS.into()),
                    ("sysparm_exclude_reference_link", "true".into()),
                ],
                None,
            )
            .await?;
        let row = v
            .get("result")
            .cloned()
            .ok_or_else(|| SyncError::MalformedJson {
                what: format!("{}: no result", t.key),
            })?;
        let mut all = self.with_comments(&t.scope, vec![row]).await?;
        all.pop()
            .ok_or_else(|| SyncError::NotFound(format!("{} not found", t.key)))
    }

    async fn update_fields(
        &self,
        t: &TicketRef,
        base: &RemoteVersion,
        changes: &FieldValues,
    ) -> SyncResult<UpdateOutcome> {
        // Users and groups are resolved first: an unknown name fails here, nothing is written.
        let body = self.write_body(changes).await?;
        // No precondition in the Table API: re-read the version right before writing.
        let url = format!("{}/{}", self.table_url(&t.scope), t.upstream_id);
        let (v, _) = self
            .call(
                Method::Get,
                &url,
                &[("sysparm_fields", "sys_mod_count,sys_updated_on".into())],
                None,
            )
            .await?;
        let now = map::version(&v["result"])?;
        if now.token != base.token {
            return Ok(UpdateOutcome::Moved(Box::new(self.fetch_ticket(t).await?)));
        }
        let (v, _) = self
            .call(
                Method::Patch,
                &url,
                &[("sysparm_exclude_reference_link", "true".into())],
                Some(&body),
            )
            .await?;
        Ok(UpdateOutcome::Applied(map::version(&v["result"])?))
    }

    async fn comment_baseline(&self, t: &TicketRef, c: &NewComment) -> SyncResult<Option<Value>> {
        // The entries with this text already there (usually none): never taken for ours.
        let text = comparable_comment_text(&c.body);
        let ids: Vec<String> = self
            .journal_entries(t, c.visibility)
            .await?
            .into_iter()
            .filter(|e| comparable_comment_text(&e.body) == text)
            .map(|e| e.upstream_id)
            .collect();
        Ok(Some(json!({ "entries": ids })))
    }

    async fn add_comment(&self, t: &TicketRef, c: &NewComment) -> SyncResult<RemoteComment> {
        let element = journal_element(c.visibility);
        let url = format!("{}/{}", self.table_url(&t.scope), t.upstream_id);
        // Exactly the agent's text: a `comments` entry is what the customer reads.
        let body = json!({ element: c.body });
        self.call(
            Method::Patch,
            &url,
            &[("sysparm_fields", "sys_id,sys_mod_count".into())],
            Some(&body),
        )
        .await?;
        // The journal entry's id (needed to recognize it on the next pull). The write has
        // landed: whatever goes wrong reading it back (a 429, an expired token, a spoiled
        // answer) is an unknown outcome, so the retry looks for the entry instead of writing
        // the comment a second time.
        let read_back = async {
            let me = self.own_user_name().await?;
            let entries = self.journal_entries(t, c.visibility).await?;
            Ok::<_, SyncError>((me, entries))
        };
        let (me, entries) = read_back.await.map_err(|e| {
            SyncError::UnknownOutcome(format!(
                "{}: the comment was accepted; reading it back failed: {e}",
                t.key
            ))
        })?;
        Ok(Self::landed_entry(entries, c, me.as_deref(), &t.key))
    }

    async fn find_comment(
        &self,
        t: &TicketRef,
        c: &NewComment,
    ) -> SyncResult<Option<RemoteComment>> {
        let me = self.own_user_name().await?;
        let entries = self.journal_entries(t, c.visibility).await?;
        Ok(Self::pick_ours(entries, c, me.as_deref()).map(|mut found| {
            found.marker = Some(c.marker.clone());
            found
        }))
    }

    async fn create_ticket(&self, new: &NewRemoteTicket) -> SyncResult<RemoteTicket> {
        let mut body = self.write_body(&new.fields.values()).await?;
        if let Value::Object(m) = &mut body {
            m.insert("correlation_id".into(), json!(new.marker));
            if let Some(r) = &new.fields.requester {
                // The caller is a reference to sys_user like the assignee: a user name typed
                // locally is written as the user's sys_id (an unknown one fails the creation).
                let id = self.sys_id_for(refs::RefKind::User, &json!(r)).await?;
                m.insert("caller_id".into(), json!(id));
            }
        }
        let (v, _) = self
            .call(
                Method::Post,
                &self.table_url(&new.scope),
                &[
                    ("sysparm_fields", FIELDS.into()),
                    ("sysparm_exclude_reference_link", "true".into()),
                ],
                Some(&body),
            )
            .await?;
        // The record exists: an answer that cannot be read is an unknown outcome (the retry
        // looks for `correlation_id`), never "not created".
        let row = v.get("result").cloned().ok_or_else(|| {
            SyncError::UnknownOutcome("the record was created but the answer has no result".into())
        })?;
        let mut rows = vec![row];
        self.fill_readable(&mut rows).await.map_err(|e| {
            SyncError::UnknownOutcome(format!(
                "the record was created; reading its assignee back failed: {e}"
            ))
        })?;
        map::ticket(&new.scope, &rows[0], &[], &self.base).map_err(|e| {
            SyncError::UnknownOutcome(format!(
                "the record was created; its answer could not be read: {e}"
            ))
        })
    }

    async fn find_created(&self, scope: &str, marker: &str) -> SyncResult<Option<RemoteTicket>> {
        let rows = self
            .get_rows(
                scope,
                &[
                    ("sysparm_query", format!("correlation_id={marker}")),
                    ("sysparm_fields", FIELDS.into()),
                    ("sysparm_exclude_reference_link", "true".into()),
                    ("sysparm_limit", "2".into()),
                ],
            )
            .await?;
        match rows.first() {
            None => Ok(None),
            Some(r) => Ok(self.with_comments(scope, vec![r.clone()]).await?.pop()),
        }
    }

    async fn list_ids_page(
        &self,
        scope: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> SyncResult<IdPage> {
        let cur = match cursor {
            Some(c) => serde_json::from_str::<IdCursor>(&c.0).map_err(|e| {
                SyncError::Local(format!("the id listing's cursor is not readable: {e}"))
            })?,
            None => IdCursor {
                after: None,
                skip: 0,
            },
        };
        let limit = limit.clamp(1, ID_PAGE_MAX);
        // `>=` and the last id again (dropped below) rather than `>`: the operator the pull
        // already relies on. No `sysparm_no_count`: the `Link` header comes from the count.
        let query = match &cur.after {
            Some(a) => format!("sys_id>={a}^ORDERBYsys_id"),
            None => "ORDERBYsys_id".to_owned(),
        };
        let (v, headers) = self
            .call(
                Method::Get,
                &self.table_url(scope),
                &[
                    ("sysparm_query", query),
                    ("sysparm_fields", "sys_id".into()),
                    ("sysparm_limit", limit.to_string()),
                    ("sysparm_offset", cur.skip.to_string()),
                ],
                None,
            )
            .await?;
        let Some(rows) = v.get("result").and_then(Value::as_array) else {
            return Err(SyncError::MalformedJson {
                what: format!("{scope}: no result list"),
            });
        };
        let mut ids = Vec::with_capacity(rows.len());
        for r in rows {
            let id = r.get("sys_id").and_then(Value::as_str).ok_or_else(|| {
                SyncError::MalformedJson {
                    what: format!("{scope}: a row without sys_id"),
                }
            })?;
            // A sys_id is what the next query is built from: `^` would end its condition.
            if id.is_empty() || id.contains('^') {
                return Err(SyncError::MalformedJson {
                    what: format!("{scope}: a sys_id that cannot be queried ({id:?})"),
                });
            }
            if cur.after.as_deref() != Some(id) {
                ids.push(id.to_owned());
            }
        }
        let link = headers
            .get(reqwest::header::LINK)
            .and_then(|h| h.to_str().ok());
        // Rows left after this window, by the instance's own count (before ACLs). Without a
        // `Link` header, only a window with no new row ends the listing.
        let more = match link {
            Some(h) => crate::rest::link_next(h),
            None => (!ids.is_empty()).then(String::new),
        };
        let next = match (more, ids.last()) {
            (None, _) => None,
            (Some(_), Some(last)) => Some(IdCursor {
                after: Some(last.clone()),
                skip: 0,
            }),
            // A whole window this account cannot read: step over it.
            (Some(url), None) => Some(IdCursor {
                after: cur.after.clone(),
                skip: offset_of(&url).unwrap_or(cur.skip + limit),
            }),
        };
        let next = match next {
            Some(n) => Some(Cursor(
                serde_json::to_string(&n).map_err(|e| SyncError::Local(e.to_string()))?,
            )),
            None => None,
        };
        Ok(IdPage { ids, next })
    }

    fn has_knowledge_base(&self) -> bool {
        true
    }

    async fn readable_values(
        &self,
        _ticket: &TicketRef,
        values: &FieldValues,
        strict: bool,
    ) -> SyncResult<FieldValues> {
        self.readable(values, strict).await
    }

    async fn pull_articles(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> SyncResult<ArticlePage> {
        let (rows, next, has_more) = self
            .page("kb_knowledge", "latest=true", KB_FIELDS, cursor, limit)
            .await?;
        let articles = rows
            .iter()
            .map(|r| map::article(r, &self.base))
            .collect::<SyncResult<Vec<RemoteArticle>>>()?;
        Ok(ArticlePage {
            articles,
            next,
            has_more,
            skipped: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(id: &str, author: &str, body: &str) -> RemoteComment {
        let (body, marker) = crate::model::extract_marker(body);
        RemoteComment {
            upstream_id: id.into(),
            visibility: Visibility::Public,
            author: author.into(),
            body,
            created_at: 0,
            marker,
        }
    }

    fn op(body: &str, baseline: &[&str], known: &[&str]) -> NewComment {
        NewComment {
            baseline: Some(json!({ "entries": baseline })),
            known: known.iter().map(|k| (*k).to_owned()).collect(),
            ..NewComment::new(Visibility::Public, body, "ws-9")
        }
    }

    fn pick(entries: &[RemoteComment], c: &NewComment, me: Option<&str>) -> Option<String> {
        ServiceNow::pick_ours(entries.to_vec(), c, me).map(|e| e.upstream_id)
    }

    #[test]
    fn an_entry_is_ours_by_author_text_and_being_new() {
        let entries = vec![
            entry("a", "casebook.agent", "Thanks"),
            entry("b", "bo.other", "Thanks"),
            entry("c", "Casebook.Agent", "Thanks\n"),
            entry("d", "casebook.agent", "Thanks"),
        ];
        let me = Some("casebook.agent");
        // Not in the baseline (there before the first send), not known, by this account (user
        // names compare without case), the text as the instance may reformat it.
        assert_eq!(
            pick(&entries, &op("Thanks", &["a"], &[]), me).as_deref(),
            Some("c")
        );
        assert_eq!(
            pick(&entries, &op("Thanks", &["a"], &["c"]), me).as_deref(),
            Some("d")
        );
        assert_eq!(
            pick(&entries, &op("Thanks", &["a", "c", "d"], &[]), me),
            None
        );
        assert_eq!(pick(&entries, &op("Thanks!", &[], &[]), me), None);
        // Without the account's name, any author.
        assert_eq!(
            pick(&entries, &op("Thanks", &["a"], &[]), None).as_deref(),
            Some("b")
        );
    }

    #[test]
    fn marker_lines_of_earlier_versions_decide() {
        let entries = vec![
            entry("a", "casebook.agent", "Thanks\n\n[casebook-op:ws-8]"),
            entry("b", "casebook.agent", "Thanks\n\n[casebook-op:ws-9]"),
        ];
        let c = op("Thanks", &[], &[]);
        // Its own marker wins even where the baseline or the known ids would exclude it (an
        // operation sent by an earlier version has neither).
        assert_eq!(
            pick(
                &entries,
                &op("Thanks", &["b"], &["b"]),
                Some("casebook.agent")
            )
            .as_deref(),
            Some("b")
        );
        // Another operation's marker is never ours.
        assert_eq!(pick(&entries[..1], &c, Some("casebook.agent")), None);
    }

    #[test]
    fn a_stored_comment_is_linked_even_when_its_entry_reads_back_otherwise() {
        let me = Some("casebook.agent");
        let c = op("Thanks", &["a"], &[]);
        let landed = |entries: &[RemoteComment]| {
            ServiceNow::landed_entry(entries.to_vec(), &c, me, "INC1").upstream_id
        };
        // The text stored otherwise: the only new entry by this account.
        assert_eq!(
            landed(&[
                entry("a", "casebook.agent", "Thanks"),
                entry("b", "casebook.agent", "Thanks (edited)")
            ]),
            "b"
        );
        // Nothing readable (a journal ACL): a placeholder, never "not sent".
        assert_eq!(landed(&[]), "unread-entry:ws-9");
        // Two candidates and no exact one: no guess.
        assert_eq!(
            landed(&[
                entry("b", "casebook.agent", "x"),
                entry("c", "casebook.agent", "y")
            ]),
            "unread-entry:ws-9"
        );
    }
}
