//! The fake Confluence Cloud of a fake Jira site: the REST v2 paths the knowledge-base pull uses,
//! on the same host and behind the same sign-in (`/wiki/api/v2/…`), behaving like the real ones
//! (Confluence Cloud REST API v2 OpenAPI document; extract and provenance in
//! `specs/confluence-v2.json` and `specs/README.md`):
//!
//! - `GET /wiki/api/v2/spaces?keys=A,B` (also repeated `keys=`): only spaces the account may
//!   view are listed; `limit` 1–250 (default 25), cursor paging.
//! - `GET /wiki/api/v2/spaces/{id}/pages`: `sort` one of `PageSortOrder` (ties by id), `status`
//!   (default `current` + `archived`; also `trashed`, `deleted`), `body-format` `storage` |
//!   `atlas_doc_format`, `limit` 1–250 (default 25), keyset cursor paging: the next page's
//!   relative URL is both in `_links.next` and in the `Link` header (`rel="next"`), and neither
//!   is present on the last page. A space the account may not view (or that does not exist):
//!   404.
//! - `GET /wiki/api/v2/pages/{id}`: a trashed page answers 200 with `status: trashed`, a purged
//!   one 404.
//! - Errors: v2's `{"errors":[{"status","code","title","detail"}]}`; an account without
//!   Confluence access gets 403 with the v1-style body Confluence sends for it. An invalid
//!   parameter value or cursor: 400.
//! - Time stamps `YYYY-MM-DDTHH:mm:ss.sssZ` (UTC). Trashing a page does not create a version
//!   (its `version.createdAt` stays), so it does not move in a `modified-date` sort.

use crate::server::{Request, Response};
use serde_json::{Value, json};

/// A space.
#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    pub id: u64,
    pub key: String,
    pub name: String,
    /// Whether the signed-in account may view it (if not: not listed, its pages 404).
    pub visible: bool,
    pub created: i64,
}

/// A page; `body` is storage format.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub id: u64,
    pub space_id: u64,
    pub title: String,
    /// `current`, `archived`, `trashed`, `deleted`, …
    pub status: String,
    pub body: String,
    pub version: u32,
    /// When the current version was made (ms).
    pub version_at: i64,
    pub created: i64,
}

/// The wiki's state (inside the fake Jira's state: one site, one clock).
#[derive(Debug, Clone, Default)]
pub struct Wiki {
    pub spaces: Vec<Space>,
    pub pages: Vec<Page>,
    /// The account may not use Confluence at all: every `/wiki` request answers 403.
    pub no_access: bool,
    pub(crate) next_id: u64,
}

impl Wiki {
    pub fn new() -> Wiki {
        Wiki {
            next_id: 65_000,
            ..Wiki::default()
        }
    }

    pub(crate) fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn space(&self, key: &str) -> Option<&Space> {
        self.spaces.iter().find(|s| s.key == key)
    }

    pub fn page_mut(&mut self, id: u64) -> Option<&mut Page> {
        self.pages.iter_mut().find(|p| p.id == id)
    }
}

/// `2024-03-01T09:00:01.234Z`.
pub fn wiki_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// The v2 error body.
pub fn error(status: u16, code: &str, title: &str) -> Response {
    Response::json(
        status,
        &json!({ "errors": [{ "status": status, "code": code, "title": title, "detail": null }] }),
    )
}

fn not_found() -> Response {
    error(404, "NOT_FOUND", "Not Found")
}

fn bad_request(title: &str) -> Response {
    error(400, "INVALID_REQUEST_PARAMETER", title)
}

/// Every value of a multi-valued parameter (`a=1&a=2` and `a=1,2`).
fn values(req: &Request, name: &str) -> Vec<String> {
    req.query
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(',').map(|x| x.trim().to_owned()))
        .filter(|v| !v.is_empty())
        .collect()
}

fn limit(req: &Request) -> Result<usize, Response> {
    match req.param("limit") {
        None => Ok(25),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=250).contains(&n) => Ok(n),
            _ => Err(bad_request(&format!(
                "limit must be between 1 and 250, got '{v}'"
            ))),
        },
    }
}

/// A keyset cursor: the last item's sort key and id, hex-encoded (opaque to clients).
fn encode_cursor(key: &str, id: u64) -> String {
    format!("{key}|{id}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_cursor(c: &str) -> Option<(String, u64)> {
    if !c.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..c.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(c.get(i..i + 2)?, 16).ok())
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let (k, id) = text.rsplit_once('|')?;
    Some((k.to_owned(), id.parse().ok()?))
}

/// The query string of a next link: every parameter as sent, `cursor` replaced.
fn next_query(req: &Request, cursor: &str) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in req.query.iter().filter(|(k, _)| k != "cursor") {
        q.append_pair(k, v);
    }
    q.append_pair("cursor", cursor);
    q.finish()
}

/// A list answer: results, `_links` and (when there is more) the `Link` header.
fn list(
    base: &str,
    path: &str,
    req: &Request,
    results: Vec<Value>,
    next: Option<String>,
) -> Response {
    let wiki = format!("{base}/wiki");
    let mut links = json!({ "base": wiki });
    let next_url = next.map(|c| format!("{path}?{}", next_query(req, &c)));
    if let Some(n) = &next_url {
        links["next"] = json!(n);
    }
    let r = Response::json(200, &json!({ "results": results, "_links": links }));
    match next_url {
        Some(n) => r.with_header(
            "Link",
            format!("<{n}>; rel=\"next\", <{wiki}>; rel=\"base\""),
        ),
        None => r,
    }
}

fn space_json(s: &Space) -> Value {
    json!({
        "id": s.id.to_string(),
        "key": s.key,
        "name": s.name,
        "type": "global",
        "status": "current",
        "authorId": crate::jira::AGENT_ID,
        "createdAt": wiki_time(s.created),
        "homepageId": (s.id + 1).to_string(),
        "_links": { "webui": format!("/spaces/{}", s.key) },
    })
}

fn slug(title: &str) -> String {
    title
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '+' })
        .collect()
}

/// `PageBulk` (also the answer for one page: `PageSingle` adds only fields the fake omits).
fn page_json(w: &Wiki, p: &Page, body_format: Option<&str>) -> Value {
    let key = w
        .spaces
        .iter()
        .find(|s| s.id == p.space_id)
        .map(|s| s.key.clone())
        .unwrap_or_default();
    let body = match body_format {
        Some("storage") => json!({ "storage": { "representation": "storage", "value": p.body } }),
        Some("atlas_doc_format") => json!({ "atlas_doc_format": {
            "representation": "atlas_doc_format",
            "value": json!({ "type": "doc", "version": 1, "content": [] }).to_string() } }),
        _ => json!({}),
    };
    json!({
        "id": p.id.to_string(),
        "status": p.status,
        "title": p.title,
        "spaceId": p.space_id.to_string(),
        "parentId": (p.space_id + 1).to_string(),
        "parentType": "page",
        "position": 0,
        "authorId": crate::jira::AGENT_ID,
        "ownerId": crate::jira::AGENT_ID,
        "lastOwnerId": null,
        "createdAt": wiki_time(p.created),
        "version": {
            "createdAt": wiki_time(p.version_at),
            "message": "",
            "number": p.version,
            "minorEdit": false,
            "authorId": crate::jira::AGENT_ID,
        },
        "body": body,
        "_links": {
            "webui": format!("/spaces/{key}/pages/{}/{}", p.id, slug(&p.title)),
            "editui": format!("/pages/resumedraft.action?draftId={}", p.id),
            "tinyui": format!("/x/{}", p.id),
        },
    })
}

const SORTS: &[&str] = &[
    "id",
    "-id",
    "created-date",
    "-created-date",
    "modified-date",
    "-modified-date",
    "title",
    "-title",
];
const PAGE_STATUSES: &[&str] = &["current", "archived", "deleted", "trashed"];

/// The sort key of a page (fixed-width numbers so keys compare as text).
fn sort_key(p: &Page, field: &str) -> String {
    match field {
        "created-date" => format!("{:020}", p.created),
        "modified-date" => format!("{:020}", p.version_at),
        "title" => p.title.to_lowercase(),
        _ => format!("{:020}", p.id),
    }
}

fn space_pages(w: &Wiki, base: &str, id: &str, req: &Request) -> Response {
    let Some(space) = id
        .parse::<u64>()
        .ok()
        .and_then(|id| w.spaces.iter().find(|s| s.id == id))
        .filter(|s| s.visible)
    else {
        return not_found();
    };
    let limit = match limit(req) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let sort = req.param("sort").unwrap_or("id");
    if !SORTS.contains(&sort) {
        return bad_request(&format!("invalid sort '{sort}'"));
    }
    let mut statuses = values(req, "status");
    if statuses.is_empty() {
        statuses = vec!["current".into(), "archived".into()];
    }
    if let Some(bad) = statuses
        .iter()
        .find(|s| !PAGE_STATUSES.contains(&s.as_str()))
    {
        return bad_request(&format!("invalid status '{bad}'"));
    }
    let format = req.param("body-format");
    if format.is_some_and(|f| f != "storage" && f != "atlas_doc_format") {
        return bad_request("invalid body-format");
    }
    let (desc, field) = match sort.strip_prefix('-') {
        Some(f) => (true, f),
        None => (false, sort),
    };
    let mut pages: Vec<&Page> = w
        .pages
        .iter()
        .filter(|p| p.space_id == space.id && statuses.contains(&p.status))
        .filter(|p| req.param("title").is_none_or(|t| p.title == t))
        .collect();
    pages.sort_by(|a, b| {
        let o = (sort_key(a, field), a.id).cmp(&(sort_key(b, field), b.id));
        if desc { o.reverse() } else { o }
    });
    if let Some(c) = req.param("cursor") {
        let Some(after) = decode_cursor(c) else {
            return bad_request("invalid cursor");
        };
        pages.retain(|p| {
            let k = (sort_key(p, field), p.id);
            if desc { k < after } else { k > after }
        });
    }
    let more = pages.len() > limit;
    pages.truncate(limit);
    let next = more
        .then(|| {
            pages
                .last()
                .map(|p| encode_cursor(&sort_key(p, field), p.id))
        })
        .flatten();
    let results = pages.iter().map(|p| page_json(w, p, format)).collect();
    list(
        base,
        &format!("/wiki/api/v2/spaces/{}/pages", space.id),
        req,
        results,
        next,
    )
}

fn spaces(w: &Wiki, base: &str, req: &Request) -> Response {
    let limit = match limit(req) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let keys = values(req, "keys");
    let mut list_: Vec<&Space> = w
        .spaces
        .iter()
        .filter(|s| s.visible && (keys.is_empty() || keys.contains(&s.key)))
        .collect();
    list_.sort_by_key(|s| s.id);
    if let Some(c) = req.param("cursor") {
        let Some((_, after)) = decode_cursor(c) else {
            return bad_request("invalid cursor");
        };
        list_.retain(|s| s.id > after);
    }
    let more = list_.len() > limit;
    list_.truncate(limit);
    let next = more
        .then(|| list_.last().map(|s| encode_cursor("", s.id)))
        .flatten();
    let results = list_.iter().map(|s| space_json(s)).collect();
    list(base, "/wiki/api/v2/spaces", req, results, next)
}

/// Answers a `/wiki/…` request (the account is signed in).
pub fn handle(w: &Wiki, base: &str, req: &Request) -> Response {
    if w.no_access {
        return Response::json(
            403,
            &json!({ "statusCode": 403, "data": { "authorized": false, "valid": true, "errors": [], "successful": false },
                     "message": "Current user not permitted to use Confluence" }),
        );
    }
    let seg = req.segments();
    match (req.method.as_str(), seg.as_slice()) {
        ("GET", ["wiki", "api", "v2", "spaces"]) => spaces(w, base, req),
        ("GET", ["wiki", "api", "v2", "spaces", id, "pages"]) => space_pages(w, base, id, req),
        ("GET", ["wiki", "api", "v2", "pages", id]) => {
            let page = id
                .parse::<u64>()
                .ok()
                .and_then(|id| w.pages.iter().find(|p| p.id == id))
                .filter(|p| w.spaces.iter().any(|s| s.id == p.space_id && s.visible));
            match page {
                Some(p) => {
                    let mut v = page_json(w, p, req.param("body-format"));
                    v["_links"]["base"] = json!(format!("{base}/wiki"));
                    Response::json(200, &v)
                }
                None => not_found(),
            }
        }
        _ => not_found(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cursors_are_opaque_and_round_trip() {
        let c = encode_cursor("00000000001709283600000", 65_001);
        assert!(c.bytes().all(|b| b.is_ascii_hexdigit()), "{c}");
        assert_eq!(
            decode_cursor(&c),
            Some(("00000000001709283600000".to_owned(), 65_001))
        );
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor("abc"), None);
    }

    #[test]
    fn times_are_utc_with_milliseconds() {
        assert_eq!(wiki_time(1_709_283_601_234), "2024-03-01T09:00:01.234Z");
    }
}
