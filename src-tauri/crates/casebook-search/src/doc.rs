//! The document model: every source (runbook files and their sections, past cases, upstream KB
//! articles) maps to one [`KbDocument`] shape, so the index, the query and the UI know one thing.
//! Adding a source is one mapping function.

use casebook_core::model::{TicketState, Visibility};
use casebook_core::store::TicketDetail;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a document comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A whole runbook file.
    Runbook,
    /// One section (heading and its text) of a runbook file.
    RunbookSection,
    /// A resolved or closed ticket.
    PastCase,
    /// An article from an upstream knowledge base (fed by sync).
    KbArticle,
}

impl SourceKind {
    pub const ALL: [SourceKind; 4] = [
        SourceKind::Runbook,
        SourceKind::RunbookSection,
        SourceKind::PastCase,
        SourceKind::KbArticle,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Runbook => "runbook",
            SourceKind::RunbookSection => "runbook_section",
            SourceKind::PastCase => "past_case",
            SourceKind::KbArticle => "kb_article",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SourceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SourceKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown source kind '{s}'"))
    }
}

/// One searchable document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KbDocument {
    /// Stable id: `rb:<source>:<path>` (runbook), `rb:<source>:<path>#<anchor>` (section),
    /// `case:<ticket id>` (past case), `kb:<connection>:<article id>` (article).
    pub id: String,
    pub kind: SourceKind,
    /// The unit that is replaced or deleted together: a runbook file with all its sections
    /// (`file:<source>:<path>`), a ticket (`ticket:<id>`), an article (`article:<...>`).
    pub origin: String,
    /// Fingerprint of the origin's content when it was indexed (file hash, ticket revision):
    /// a rescan compares it to decide what changed.
    pub fingerprint: u64,
    pub title: String,
    /// Headings inside the document (for a section: its heading path).
    pub headings: Vec<String>,
    /// The file path relative to its folder (runbooks), empty otherwise.
    pub path: String,
    /// Alert names, ticket keys and other identifiers the document is about.
    pub identifiers: Vec<String>,
    pub tags: Vec<String>,
    pub service: Option<String>,
    pub owner: Option<String>,
    /// For past cases: the ticket's state (`resolved` or `closed`).
    pub ticket_state: Option<TicketState>,
    pub ticket_id: Option<i64>,
    /// Plain text that is searched and shown in snippets.
    pub body: String,
    /// Where it opens: a file path, an upstream URL or a ticket key.
    pub url: Option<String>,
    /// For a section: the heading anchor (`#diagnosis`).
    pub anchor: Option<String>,
    /// For a section: its heading text.
    pub section: Option<String>,
    /// Last change, ms since the epoch (0 when unknown).
    pub updated_at: i64,
    /// For articles: the upstream HTML (untrusted; sanitized when shown).
    pub html: Option<String>,
}

impl KbDocument {
    /// A document with only id, kind, origin and title set.
    pub fn new(
        id: impl Into<String>,
        kind: SourceKind,
        origin: impl Into<String>,
        title: impl Into<String>,
    ) -> KbDocument {
        KbDocument {
            id: id.into(),
            kind,
            origin: origin.into(),
            fingerprint: 0,
            title: title.into(),
            headings: Vec::new(),
            path: String::new(),
            identifiers: Vec::new(),
            tags: Vec::new(),
            service: None,
            owner: None,
            ticket_state: None,
            ticket_id: None,
            body: String::new(),
            url: None,
            anchor: None,
            section: None,
            updated_at: 0,
            html: None,
        }
    }
}

/// The origin key of a ticket's past-case document.
pub fn ticket_origin(ticket_id: i64) -> String {
    format!("ticket:{ticket_id}")
}

/// Maps a resolved or closed ticket to its past-case document: title, description, public
/// replies, internal work notes and the resolution (from the upstream fields when present).
/// Returns `None` for a ticket that is not done (it is not a past case).
pub fn past_case(detail: &TicketDetail) -> Option<KbDocument> {
    let t = &detail.ticket;
    if !t.state.is_done() {
        return None;
    }
    let mut doc = KbDocument::new(
        format!("case:{}", t.id),
        SourceKind::PastCase,
        ticket_origin(t.id),
        t.title.clone(),
    );
    doc.fingerprint = t.revision as u64;
    doc.ticket_id = Some(t.id);
    doc.ticket_state = Some(t.state);
    doc.identifiers.push(t.key.clone());
    doc.tags = t.tags.clone();
    doc.service = t.assignment_group.clone().filter(|g| !g.trim().is_empty());
    doc.url = Some(t.key.clone());
    doc.updated_at = t.updated_at;
    let mut body = String::with_capacity(t.description.len() + 256);
    body.push_str(&t.description);
    for c in &detail.comments {
        body.push_str("\n\n");
        if c.visibility == Visibility::Internal {
            body.push_str("Work note: ");
        }
        body.push_str(&c.body);
    }
    for key in [
        "resolution",
        "close_notes",
        "resolution_notes",
        "closed_code",
    ] {
        if let Some(v) = t.extra.get(key).and_then(|v| v.as_str())
            && !v.trim().is_empty()
        {
            body.push_str("\n\nResolution: ");
            body.push_str(v);
        }
    }
    doc.body = body;
    Some(doc)
}

/// An upstream knowledge-base article as the sync feeds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KbArticle {
    /// The connection it came from (names the upstream).
    pub connection: String,
    /// The upstream's id (`KB0010001`, a Zendesk article id).
    pub article_id: String,
    pub title: String,
    /// The body as the upstream sends it: HTML or text. Tags are stripped for indexing; the
    /// view sanitizes it.
    pub body_html: String,
    pub url: Option<String>,
    pub tags: Vec<String>,
    pub service: Option<String>,
    pub updated_at: i64,
    /// The upstream's version stamp (a revision number or an update time).
    pub version: u64,
}

/// Maps an upstream article to its document.
pub fn kb_article(a: &KbArticle) -> KbDocument {
    let origin = format!("article:{}:{}", a.connection, a.article_id);
    let mut doc = KbDocument::new(
        format!("kb:{}:{}", a.connection, a.article_id),
        SourceKind::KbArticle,
        origin,
        a.title.clone(),
    );
    doc.fingerprint = a.version;
    doc.identifiers.push(a.article_id.clone());
    doc.tags = casebook_core::model::normalize_tags(&a.tags);
    doc.service = a.service.clone();
    doc.url = a.url.clone();
    doc.updated_at = a.updated_at;
    doc.body = html_to_text(&a.body_html);
    doc.html = Some(a.body_html.clone());
    doc
}

/// The text of an HTML fragment: tags removed, common entities decoded, blocks on new lines.
/// Only used for indexing (what is shown is sanitized HTML, never this).
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..lt]));
        let after = &rest[lt..];
        let Some(gt) = after.find('>') else {
            rest = "";
            break;
        };
        let tag = after[1..gt].trim_start_matches('/').to_ascii_lowercase();
        let name = tag
            .split(|c: char| !c.is_ascii_alphanumeric())
            .next()
            .unwrap_or("");
        let mut skip_to = gt + 1;
        if matches!(name, "script" | "style") {
            // Drop the element's content too.
            let close = format!("</{name}");
            if let Some(end) = after.to_ascii_lowercase().find(&close) {
                skip_to = after[end..]
                    .find('>')
                    .map(|g| end + g + 1)
                    .unwrap_or(after.len());
            } else {
                skip_to = after.len();
            }
        }
        if matches!(
            name,
            "p" | "br" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "pre"
        ) {
            out.push('\n');
        }
        rest = &after[skip_to..];
    }
    out.push_str(&decode_entities(rest));
    out
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_kinds_round_trip() {
        for k in SourceKind::ALL {
            assert_eq!(k.as_str().parse::<SourceKind>().unwrap(), k);
        }
        assert!("wiki".parse::<SourceKind>().is_err());
    }

    #[test]
    fn article_html_is_reduced_to_text_without_script_content() {
        let a = KbArticle {
            connection: "sn".into(),
            article_id: "KB0001".into(),
            title: "Reset VPN".into(),
            body_html: "<p>Open &amp; close</p><script>alert('x')</script><p>the <b>tunnel</b></p>"
                .into(),
            url: Some("https://example.com/kb/1".into()),
            tags: vec!["VPN".into()],
            service: Some("network".into()),
            updated_at: 5,
            version: 3,
        };
        let d = kb_article(&a);
        assert_eq!(d.id, "kb:sn:KB0001");
        assert_eq!(d.kind, SourceKind::KbArticle);
        assert_eq!(d.tags, vec!["vpn"]);
        assert!(d.body.contains("Open & close"), "{}", d.body);
        assert!(d.body.contains("tunnel"));
        assert!(!d.body.contains("alert"), "{}", d.body);
        assert_eq!(d.fingerprint, 3);
    }
}
