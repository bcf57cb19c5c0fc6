//! The knowledge base of a Jira Service Management connection: the Confluence spaces behind it
//! (issue 5, "Confluence-backed KB articles where the connection allows").
//!
//! JSM's own knowledge-base search (`/rest/servicedeskapi/knowledgebase/article`) answers search
//! hits, not an export. For an offline index the pull reads the spaces through Confluence Cloud
//! REST v2 on the same site, with the same credentials (itsm-apis.md §2.7):
//!
//! - **Space id**: `GET /wiki/api/v2/spaces?keys=KEY`. A space the account cannot view is simply
//!   not listed.
//! - **Pages, newest change first**: `GET /wiki/api/v2/spaces/{id}/pages?sort=-modified-date&
//!   body-format=storage&limit=…`, followed through the `next` link (`_links.next`, else the
//!   `Link` header). v2 has no "changed since" filter, and CQL `lastmodified` is read at minute
//!   resolution in the user's profile time zone (the JQL trap again), so the sort order is the
//!   filter: a walk stops at the first page older than the newest change of the last complete
//!   walk minus [`OVERLAP_MS`]. A space's first walk lists it whole. The cursor (one per
//!   connection, stream `kb`) keeps, per space, that watermark and the walk in progress (space
//!   id, next link, newest change seen), and the engine stores it only after the page's articles
//!   are indexed: an interrupted walk resumes where it stopped, and a page edited while walking
//!   moves ahead of the walk and is picked up by the next one (its change is newer than the
//!   watermark).
//! - **Statuses**: the default listing is `current` and `archived`; an archived page comes back
//!   with `status: archived` and is removed from the index (so is any status but `current`). A
//!   trashed page is no longer listed (reading the trash needs space-admin rights), so the
//!   **sweep** finds it gone: every current page id of each space (`status=current`, no body)
//!   is compared with the index; what the index holds and the space no longer lists is removed.
//! - **Spaces that cannot be read** (key unknown or not visible, 403, 404) are skipped with a
//!   message, their articles kept; the other spaces and the tickets still sync. 401 stops the
//!   sync (sign in again), 429 waits for `Retry-After` (the engine), an expired `next` cursor
//!   (400) restarts that space's walk.
//! - **Storage format → HTML** ([`storage_to_html`]): code macros become `<pre><code>` with
//!   their CDATA escaped, macro parameters are dropped, other `ac:`/`ri:` elements unwrapped,
//!   panels become block quotes. The result is still untrusted: it is sanitized (ammonia) when
//!   shown, like every upstream body.
//!
//! Article keys are `<space key>/<page id>` (`KB/98305`): page ids are site-wide, and the space
//! prefix lets a sweep keep the articles of a space it could not list.

use super::{enc, parse_timestamp};
use crate::connector::SyncResult;
use crate::error::{SyncError, excerpt};
use crate::model::{ArticlePage, ArticleSweep, Cursor, RemoteArticle};
use crate::rest::Rest;
use casebook_core::model::Millis;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// How far below the last walk's newest change a walk still reads (clock skew between the
/// site's nodes; re-reading a page is harmless, the index replaces it).
pub const OVERLAP_MS: Millis = 5 * 60_000;
/// Confluence v2's largest page size.
pub const MAX_LIMIT: usize = 250;
/// Every link the pull follows must stay under this path on the site.
const API_PREFIX: &str = "/wiki/api/v2/";

/// The `kb` stream's cursor.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct KbCursor {
    #[serde(default)]
    spaces: BTreeMap<String, SpaceState>,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct SpaceState {
    /// The newest change (ms) seen by the last complete walk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    w: Option<Millis>,
    /// The walk in progress, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    walk: Option<Walk>,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Walk {
    /// The space id, once resolved from the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    /// The next page's link; `None`: the walk's first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    /// The newest change seen by this walk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    top: Option<Millis>,
}

fn parse_cursor(c: Option<&Cursor>) -> KbCursor {
    match c {
        Some(c) if !c.0.trim().is_empty() => serde_json::from_str(&c.0).unwrap_or_else(|e| {
            // Only this module writes it; a cursor it cannot read costs a full re-list, nothing
            // more.
            tracing::warn!(error = %e, "unreadable knowledge-base cursor: listing the spaces again");
            KbCursor::default()
        }),
        _ => KbCursor::default(),
    }
}

/// The key prefix of a space's articles.
pub fn article_prefix(space: &str) -> String {
    format!("{space}/")
}

/// What reading one space gave.
enum Trouble {
    /// The space cannot be read by this account: skip it (the message says which and why).
    Skip(String),
    /// Anything else: the engine classifies it (retry, stop, report).
    Fail(SyncError),
}

impl From<SyncError> for Trouble {
    fn from(e: SyncError) -> Trouble {
        Trouble::Fail(e)
    }
}

fn cannot_read(space: &str, e: &SyncError) -> Option<String> {
    match e {
        SyncError::NotFound(m) => Some(format!(
            "the Confluence space {space} cannot be read by this account (not found, or no permission to view it: {m}); its articles were not updated"
        )),
        SyncError::HttpStatus { code: 403, body } => Some(format!(
            "the Confluence space {space} cannot be read by this account (access denied: {body}); its articles were not updated"
        )),
        _ => None,
    }
}

/// The id of the space with this key.
async fn space_id(rest: &Rest, key: &str) -> Result<String, Trouble> {
    let a = rest
        .call(
            Method::GET,
            "/wiki/api/v2/spaces",
            &[("keys", key.to_owned()), ("limit", "10".into())],
            None,
            &[],
        )
        .await
        .map_err(|e| match &e {
            SyncError::NotFound(_) => Trouble::Skip(format!(
                "this site answers no Confluence API (/wiki/api/v2/spaces: not found), so the space {key} cannot be pulled; its articles were not updated"
            )),
            SyncError::HttpStatus { code: 403, body } => Trouble::Skip(format!(
                "this account may not use Confluence on this site (access denied: {body}), so the space {key} cannot be pulled; its articles were not updated"
            )),
            _ => Trouble::Fail(e),
        })?;
    let Some(list) = a.json["results"].as_array() else {
        return Err(Trouble::Fail(SyncError::MalformedJson {
            what: "/wiki/api/v2/spaces: no results list".into(),
        }));
    };
    list.iter()
        .find(|s| s["key"].as_str() == Some(key))
        .and_then(|s| id_of(&s["id"]))
        .ok_or_else(|| {
            Trouble::Skip(format!(
                "the Confluence space {key} does not exist or this account cannot view it; its articles were not updated"
            ))
        })
}

fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The next page's link of a v2 list answer: `_links.next`, else the `Link` header; refused
/// unless it stays under the site's `/wiki/api/v2/`.
fn next_link(rest: &Rest, json: &Value, header: Option<&str>) -> SyncResult<Option<String>> {
    let link = json["_links"]["next"].as_str().or(header);
    let Some(link) = link.filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    let relative = link.strip_prefix(rest.base.as_str()).unwrap_or(link);
    if !relative.starts_with(API_PREFIX) || relative.contains("..") {
        return Err(SyncError::MalformedJson {
            what: format!(
                "a Confluence next-page link leaves the API: {}",
                excerpt(link)
            ),
        });
    }
    Ok(Some(relative.to_owned()))
}

/// One page of a space's list (first page from `first`, or the stored next link).
async fn list_page(
    rest: &Rest,
    id: &str,
    next: Option<&str>,
    query: &[(&str, String)],
) -> SyncResult<crate::rest::Answer> {
    match next {
        Some(link) => rest.call(Method::GET, link, &[], None, &[]).await,
        None => {
            let path = format!("/wiki/api/v2/spaces/{}/pages", enc(id));
            rest.call(Method::GET, &path, query, None, &[]).await
        }
    }
}

/// Maps one v2 page (`PageBulk`) to an article. Refuses a page without its id, status, title
/// or version time (the whole answer is then malformed: nothing of it is indexed).
fn article(rest: &Rest, space: &str, v: &Value) -> SyncResult<RemoteArticle> {
    let id = id_of(&v["id"]).ok_or_else(|| SyncError::MalformedJson {
        what: format!("a page of the Confluence space {space} without an id"),
    })?;
    let bad = |what: &str| SyncError::MalformedJson {
        what: format!("Confluence page {id} of {space}: {what}"),
    };
    let status = v["status"].as_str().ok_or_else(|| bad("no status"))?;
    let title = v["title"].as_str().ok_or_else(|| bad("no title"))?;
    let at = v["version"]["createdAt"]
        .as_str()
        .ok_or_else(|| bad("no version.createdAt"))?;
    let updated_at = parse_timestamp("version.createdAt", at)?;
    let body = match &v["body"]["storage"]["value"] {
        Value::String(s) => s.as_str(),
        Value::Null => "",
        _ => return Err(bad("body.storage.value is not text")),
    };
    let url = v["_links"]["webui"]
        .as_str()
        .filter(|w| w.starts_with('/'))
        .map(|w| format!("{}/wiki{w}", rest.base));
    Ok(RemoteArticle {
        upstream_id: id.clone(),
        key: format!("{}{id}", article_prefix(space)),
        title: title.to_owned(),
        body_html: storage_to_html(body),
        updated_at,
        url,
        retired: status != "current",
    })
}

/// One step of the pull: one list page of the first space with a walk in progress.
pub(super) async fn pull(
    rest: &Rest,
    spaces: &[String],
    cursor: Option<&Cursor>,
    limit: usize,
) -> SyncResult<ArticlePage> {
    let mut st = parse_cursor(cursor);
    st.spaces.retain(|k, _| spaces.contains(k));
    if !st.spaces.values().any(|s| s.walk.is_some()) {
        // A new round: every space walks down from its newest change.
        for k in spaces {
            st.spaces.entry(k.clone()).or_default().walk = Some(Walk::default());
        }
    }
    let current = spaces
        .iter()
        .find(|k| st.spaces.get(*k).is_some_and(|s| s.walk.is_some()))
        .cloned();
    let mut articles = Vec::new();
    let mut skipped = Vec::new();
    if let Some(key) = current {
        let state = st.spaces.entry(key.clone()).or_default();
        let walk = state.walk.clone().unwrap_or_default();
        match step(rest, &key, state.w, walk, limit, &mut articles).await {
            Ok(StepEnd::Continue(walk)) => state.walk = Some(walk),
            Ok(StepEnd::Done { top }) => {
                state.walk = None;
                if let Some(top) = top {
                    state.w = Some(state.w.map_or(top, |w| w.max(top)));
                }
            }
            Err(Trouble::Skip(why)) => {
                articles.clear();
                state.walk = None;
                skipped.push(why);
            }
            Err(Trouble::Fail(e)) => return Err(e),
        }
    }
    let has_more = st.spaces.values().any(|s| s.walk.is_some());
    let next = serde_json::to_string(&st)
        .map_err(|e| SyncError::Local(format!("saving the knowledge-base cursor: {e}")))?;
    Ok(ArticlePage {
        articles,
        next: Cursor(next),
        has_more,
        skipped,
    })
}

/// How one step of a walk ended.
enum StepEnd {
    /// More to read: the walk as it continues.
    Continue(Walk),
    /// The walk is complete; `top` is the newest change it saw (the next watermark).
    Done { top: Option<Millis> },
}

/// Reads one page of `space`'s walk into `out`.
async fn step(
    rest: &Rest,
    space: &str,
    watermark: Option<Millis>,
    mut walk: Walk,
    limit: usize,
    out: &mut Vec<RemoteArticle>,
) -> Result<StepEnd, Trouble> {
    let id = match walk.id.clone() {
        Some(id) => id,
        None => space_id(rest, space).await?,
    };
    walk.id = Some(id.clone());
    let query = [
        ("sort", "-modified-date".to_owned()),
        ("body-format", "storage".to_owned()),
        ("limit", limit.clamp(1, MAX_LIMIT).to_string()),
    ];
    let answer = match list_page(rest, &id, walk.next.as_deref(), &query).await {
        Ok(a) => a,
        Err(SyncError::HttpStatus { code: 400, .. }) if walk.next.is_some() => {
            // The stored cursor is no longer accepted (expired): walk again from the top.
            tracing::info!(
                space,
                "the Confluence cursor expired; walking the space again"
            );
            walk.next = None;
            return Ok(StepEnd::Continue(walk));
        }
        Err(e) => {
            return Err(match cannot_read(space, &e) {
                Some(why) => Trouble::Skip(why),
                None => Trouble::Fail(e),
            });
        }
    };
    let Some(results) = answer.json["results"].as_array() else {
        return Err(Trouble::Fail(SyncError::MalformedJson {
            what: format!("the pages of the Confluence space {space}: no results list"),
        }));
    };
    let floor = watermark.map(|w| w - OVERLAP_MS);
    let mut reached_known = false;
    for v in results {
        let a = article(rest, space, v)?;
        if floor.is_some_and(|f| a.updated_at < f) {
            reached_known = true;
            break;
        }
        walk.top = Some(walk.top.map_or(a.updated_at, |t| t.max(a.updated_at)));
        out.push(a);
    }
    let next = next_link(rest, &answer.json, answer.link_next.as_deref())?;
    match next {
        Some(link)
            if !reached_known && !results.is_empty() && walk.next.as_deref() != Some(&link) =>
        {
            walk.next = Some(link);
            Ok(StepEnd::Continue(walk))
        }
        _ => Ok(StepEnd::Done { top: walk.top }),
    }
}

/// Every current page of every space, for the sweep.
pub(super) async fn sweep(rest: &Rest, spaces: &[String]) -> SyncResult<ArticleSweep> {
    let mut out = ArticleSweep::default();
    for space in spaces {
        match list_space(rest, space).await {
            Ok(keys) => out.keys.extend(keys),
            Err(Trouble::Skip(why)) => {
                out.keep_prefixes.push(article_prefix(space));
                out.skipped.push(why);
            }
            Err(Trouble::Fail(e)) => return Err(e),
        }
    }
    Ok(out)
}

async fn list_space(rest: &Rest, space: &str) -> Result<HashSet<String>, Trouble> {
    let id = space_id(rest, space).await?;
    let query = [
        ("status", "current".to_owned()),
        ("sort", "id".to_owned()),
        ("limit", MAX_LIMIT.to_string()),
    ];
    let mut keys = HashSet::new();
    let mut next: Option<String> = None;
    loop {
        let answer = list_page(rest, &id, next.as_deref(), &query)
            .await
            .map_err(|e| match cannot_read(space, &e) {
                Some(why) => Trouble::Skip(why),
                None => Trouble::Fail(e),
            })?;
        let Some(results) = answer.json["results"].as_array() else {
            return Err(Trouble::Fail(SyncError::MalformedJson {
                what: format!("the page list of the Confluence space {space}: no results list"),
            }));
        };
        for v in results {
            let id = id_of(&v["id"]).ok_or_else(|| SyncError::MalformedJson {
                what: format!("a page of the Confluence space {space} without an id"),
            })?;
            if v["status"].as_str() == Some("current") {
                keys.insert(format!("{}{id}", article_prefix(space)));
            }
        }
        match next_link(rest, &answer.json, answer.link_next.as_deref())? {
            Some(link) if !results.is_empty() => next = Some(link),
            _ => return Ok(keys),
        }
    }
}

// ---------- storage format → HTML ----------

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// The index of the `>` that ends the tag starting at `s[0] == '<'` (quoted attribute values
/// may hold `>`).
fn tag_end(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices().skip(1) {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '>' => return Some(i),
            None => {}
        }
    }
    None
}

/// (closing, lower-cased name, self-closing) of a tag such as `</ac:link>` or `<ri:page … />`.
fn tag_parts(tag: &str) -> (bool, String, bool) {
    let inner = tag.trim_start_matches('<').trim_end_matches('>');
    let closing = inner.starts_with('/');
    let name: String = inner
        .trim_start_matches('/')
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '/')
        .collect();
    (closing, name.to_ascii_lowercase(), inner.ends_with('/'))
}

/// The value of attribute `name` in a tag (`ac:name="code"`).
fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let at = lower.find(&format!("{name}="))? + name.len() + 1;
    let rest = &tag[at..];
    let q = rest.chars().next()?;
    if q != '"' && q != '\'' {
        return None;
    }
    let end = rest[1..].find(q)?;
    Some(rest[1..1 + end].to_owned())
}

/// Panels (`info`, `note`, `tip`, `warning`, `panel`) that read as a block quote.
const PANEL_MACROS: &[&str] = &["info", "note", "tip", "warning", "panel", "expand"];

/// Confluence storage format (XHTML with `ac:` macros and `ri:` resources) to plain HTML for the
/// knowledge base. Not a sanitizer: the output is sanitized where it is shown.
pub fn storage_to_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // What each open `ac:structured-macro` must close with.
    let mut macros: Vec<&'static str> = Vec::new();
    let mut rest = s;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let tail = &rest[lt..];
        if let Some(cdata) = tail.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>").unwrap_or(cdata.len());
            out.push_str(&escape(&cdata[..end]));
            rest = cdata.get(end + 3..).unwrap_or("");
            continue;
        }
        if let Some(comment) = tail.strip_prefix("<!--") {
            rest = comment
                .find("-->")
                .and_then(|e| comment.get(e + 3..))
                .unwrap_or("");
            continue;
        }
        let Some(gt) = tag_end(tail) else {
            out.push_str(&escape(tail));
            rest = "";
            break;
        };
        let tag = &tail[..=gt];
        let after = &tail[gt + 1..];
        let (closing, name, self_closing) = tag_parts(tag);
        if !(name.starts_with("ac:") || name.starts_with("ri:")) {
            out.push_str(tag);
            rest = after;
            continue;
        }
        rest = after;
        match (name.as_str(), closing) {
            ("ac:plain-text-body", false) if !self_closing => out.push_str("<pre><code>"),
            ("ac:plain-text-body", true) => out.push_str("</code></pre>"),
            ("ac:parameter", false) if !self_closing => {
                // Macro parameters (a language, a title, a page id) are settings, not text.
                rest = skip_past(after, "</ac:parameter>");
            }
            ("ac:structured-macro", false) if !self_closing => {
                let panel = attr(tag, "ac:name")
                    .is_some_and(|n| PANEL_MACROS.contains(&n.to_ascii_lowercase().as_str()));
                if panel {
                    out.push_str("<blockquote>");
                    macros.push("</blockquote>");
                } else {
                    macros.push("");
                }
            }
            ("ac:structured-macro", true) => out.push_str(macros.pop().unwrap_or("")),
            ("ac:link", false) if !self_closing => {
                let end = after.find("</ac:link>").unwrap_or(after.len());
                let inner = &after[..end];
                if !inner.contains("link-body") {
                    // A link without its own text reads as the page (or file) it names.
                    let title = attr(inner, "ri:content-title")
                        .or_else(|| attr(inner, "ri:filename"))
                        .unwrap_or_default();
                    out.push_str(&escape(&decode_basic_entities(&title)));
                    rest = skip_past(after, "</ac:link>");
                }
            }
            _ => {} // other ac:/ri: elements: unwrapped (their text stays)
        }
    }
    out.push_str(rest);
    for close in macros.into_iter().rev() {
        out.push_str(close);
    }
    out
}

fn skip_past<'a>(s: &'a str, end: &str) -> &'a str {
    match s.find(end) {
        Some(i) => &s[i + end.len()..],
        None => "",
    }
}

/// Attribute values carry XML entities; they are escaped again on output.
fn decode_basic_entities(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn code_macros_become_escaped_preformatted_text() {
        let s = r#"<p>Restart it:</p><ac:structured-macro ac:name="code" ac:schema-version="1"><ac:parameter ac:name="language">bash</ac:parameter><ac:plain-text-body><![CDATA[kubectl rollout restart deploy/api && echo "<done>"]]></ac:plain-text-body></ac:structured-macro><p>Then wait.</p>"#;
        assert_eq!(
            storage_to_html(s),
            "<p>Restart it:</p><pre><code>kubectl rollout restart deploy/api &amp;&amp; echo &quot;&lt;done&gt;&quot;</code></pre><p>Then wait.</p>"
        );
    }

    #[test]
    fn cdata_cannot_smuggle_markup() {
        let s = "<ac:plain-text-body><![CDATA[</code></pre><script>alert(1)</script>]]></ac:plain-text-body>";
        let h = storage_to_html(s);
        assert!(!h.contains("<script"), "{h}");
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{h}");
    }

    #[test]
    fn panels_links_and_other_macros() {
        let s = concat!(
            r#"<ac:structured-macro ac:name="info"><ac:parameter ac:name="title">Heads up</ac:parameter>"#,
            r#"<ac:rich-text-body><p>VPN certs expire on Fridays.</p></ac:rich-text-body></ac:structured-macro>"#,
            r#"<p>See <ac:link><ri:page ri:content-title="Renew &amp; rotate" /></ac:link> and "#,
            r#"<ac:link><ri:page ri:content-title="Other" /><ac:plain-text-link-body><![CDATA[this page]]></ac:plain-text-link-body></ac:link>.</p>"#,
            r#"<ac:structured-macro ac:name="toc" /><ac:emoticon ac:name="smile" /><!-- hidden -->"#,
            r#"<ac:image><ri:attachment ri:filename="x.png" /></ac:image>"#,
        );
        assert_eq!(
            storage_to_html(s),
            "<blockquote><p>VPN certs expire on Fridays.</p></blockquote><p>See Renew &amp; rotate and this page.</p>"
        );
    }

    #[test]
    fn plain_html_and_broken_input_pass_through() {
        assert_eq!(
            storage_to_html(r#"<p title="a>b">x</p>"#),
            r#"<p title="a>b">x</p>"#
        );
        assert_eq!(storage_to_html("a < b"), "a &lt; b");
        assert_eq!(
            storage_to_html("<ac:structured-macro ac:name=\"note\"><p>open"),
            "<blockquote><p>open</blockquote>"
        );
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_start_over() {
        let mut c = KbCursor::default();
        c.spaces.insert(
            "KB".into(),
            SpaceState {
                w: Some(5),
                walk: Some(Walk {
                    id: Some("98".into()),
                    next: Some("/wiki/api/v2/spaces/98/pages?cursor=x".into()),
                    top: Some(9),
                }),
            },
        );
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(parse_cursor(Some(&Cursor(text))), c);
        assert_eq!(
            parse_cursor(Some(&Cursor("{not json".into()))),
            KbCursor::default()
        );
        assert_eq!(
            parse_cursor(Some(&Cursor(String::new()))),
            KbCursor::default()
        );
    }
}
