//! The knowledge base's UI contract (serde `camelCase`, exported to `ui/src/bindings/`).

use casebook_core::model::{LinkKind, TicketState};
use casebook_search::SourceKind;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Where a knowledge-base document comes from. Filtering on `runbook` includes its sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum KbSourceKind {
    Runbook,
    RunbookSection,
    PastCase,
    KbArticle,
}

impl From<SourceKind> for KbSourceKind {
    fn from(k: SourceKind) -> Self {
        match k {
            SourceKind::Runbook => KbSourceKind::Runbook,
            SourceKind::RunbookSection => KbSourceKind::RunbookSection,
            SourceKind::PastCase => KbSourceKind::PastCase,
            SourceKind::KbArticle => KbSourceKind::KbArticle,
        }
    }
}

impl From<KbSourceKind> for SourceKind {
    fn from(k: KbSourceKind) -> Self {
        match k {
            KbSourceKind::Runbook => SourceKind::Runbook,
            KbSourceKind::RunbookSection => SourceKind::RunbookSection,
            KbSourceKind::PastCase => SourceKind::PastCase,
            KbSourceKind::KbArticle => SourceKind::KbArticle,
        }
    }
}

/// A file of a runbook folder that was not indexed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KbSkippedFile {
    pub path: String,
    pub reason: String,
}

/// A runbook folder of the knowledge base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KbSource {
    #[ts(type = "number")]
    pub id: i64,
    pub path: String,
    #[ts(type = "number")]
    pub added_at: i64,
    #[ts(type = "number | null")]
    pub last_scan_at: Option<i64>,
    /// Markdown files found by the last scan (indexed or skipped).
    #[ts(type = "number")]
    pub files_seen: i64,
    /// Files the last scan skipped, with the reason.
    pub skipped: Vec<KbSkippedFile>,
    /// `false` when the folder no longer exists or cannot be read.
    pub available: bool,
}

/// What a scan or reindex did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KbScanReport {
    #[ts(type = "number")]
    pub files_seen: u64,
    /// New or changed files (re)indexed.
    #[ts(type = "number")]
    pub files_indexed: u64,
    #[ts(type = "number")]
    pub files_unchanged: u64,
    /// Files gone since the last scan (their documents were removed).
    #[ts(type = "number")]
    pub files_removed: u64,
    pub skipped: Vec<KbSkippedFile>,
    /// Past cases (resolved/closed tickets) added or updated.
    #[ts(type = "number")]
    pub cases_indexed: u64,
    #[ts(type = "number")]
    pub cases_removed: u64,
    /// Documents in the index afterwards (runbook sections count separately).
    #[ts(type = "number")]
    pub documents: u64,
    #[ts(type = "number")]
    pub elapsed_ms: u64,
}

/// Search filters; empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
#[ts(export)]
pub struct KbFilters {
    pub kinds: Vec<KbSourceKind>,
    pub tags: Vec<String>,
    pub services: Vec<String>,
    pub ticket_states: Vec<TicketState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KbSearchInput {
    /// What the user typed. Without a trailing space, the last word also matches as a prefix.
    pub query: String,
    #[serde(default)]
    pub filters: KbFilters,
    /// 1 to 100 (default 10).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// A highlighted range in UTF-16 code units (JavaScript string indices) of the text it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KbRange {
    pub start: u32,
    pub end: u32,
}

/// An excerpt with its matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KbSnippet {
    pub text: String,
    pub ranges: Vec<KbRange>,
    /// The excerpt as safe HTML: the document's text escaped, matches wrapped in `<mark>`.
    pub html: String,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KbHit {
    /// Pass to `kb_get_document` / `kb_link`.
    pub doc_id: String,
    /// `runbook` for a runbook or one of its sections (see `section`).
    pub kind: KbSourceKind,
    pub title: String,
    pub title_ranges: Vec<KbRange>,
    /// Runbook path inside its folder.
    pub path: String,
    /// For runbooks: the best-matching section.
    pub section: Option<KbSectionRef>,
    pub snippet: KbSnippet,
    pub tags: Vec<String>,
    pub service: Option<String>,
    /// Past cases: the ticket and its state.
    #[ts(type = "number | null")]
    pub ticket_id: Option<i64>,
    pub ticket_key: Option<String>,
    pub ticket_state: Option<TicketState>,
    /// Articles: the upstream URL.
    pub url: Option<String>,
    pub score: f32,
    /// The query words (or, for similar cases, the ticket's terms) this result matched.
    pub matched_terms: Vec<String>,
}

/// A heading of a runbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KbSectionRef {
    pub title: String,
    /// The anchor; the heading's element id in `KbDocumentView.html` is `section-<anchor>`.
    pub anchor: String,
    pub level: u8,
}

/// The state of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum KbIndexState {
    Ready,
    /// Being (re)built: results may be incomplete.
    Rebuilding,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KbSearchResult {
    pub hits: Vec<KbHit>,
    pub state: KbIndexState,
    /// The query had nothing to search for (empty, punctuation or stop words only).
    pub empty_query: bool,
    #[ts(type = "number")]
    pub took_us: u64,
}

/// A document opened from a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KbDocumentView {
    pub doc_id: String,
    pub kind: KbSourceKind,
    pub title: String,
    /// Sanitized HTML, safe to insert. Runbook headings carry `id="section-<anchor>"`.
    pub html: String,
    /// Runbooks: the headings, for navigation.
    pub sections: Vec<KbSectionRef>,
    /// The section the result pointed at (scroll to it).
    pub anchor: Option<String>,
    pub path: String,
    pub tags: Vec<String>,
    pub service: Option<String>,
    pub owner: Option<String>,
    #[ts(type = "number | null")]
    pub ticket_id: Option<i64>,
    pub ticket_key: Option<String>,
    pub url: Option<String>,
    /// Runbooks: links to other runbooks of the folder. Their `href` in `html` is `href` here.
    pub links: Vec<KbDocLink>,
}

/// A link from a runbook to another Markdown file of its folder, resolved by the façade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KbDocLink {
    /// The `href` attribute in the document's HTML (`#runbook-link-<n>`).
    pub href: String,
    /// The target's path inside the folder.
    pub path: String,
    /// The target's document id; `null` when that file is not in the knowledge base.
    pub doc_id: Option<String>,
    /// The heading to scroll to (its element id is `section-<anchor>`).
    pub anchor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KbLinkInput {
    #[ts(type = "number")]
    pub ticket_id: i64,
    pub doc_id: String,
    /// `related` or `known_issue` (any link kind is accepted).
    pub kind: LinkKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KbStatus {
    pub state: KbIndexState,
    #[ts(type = "number")]
    pub documents: u64,
    #[ts(type = "number")]
    pub size_bytes: u64,
    pub sources: Vec<KbSource>,
}
