//! The escalation package: its sections, prefilled from a ticket, the timeline, and the
//! completeness check against the escalation quality bar.

use crate::logs::{Analysis, rfc3339};
use crate::redact::RedactOptions;
use casebook_core::model::{LinkKind, Priority, Visibility};
use casebook_core::store::{Event, EventKind, TicketDetail};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Production down or data loss, no workaround.
    Sev1,
    /// Major function impaired, no acceptable workaround.
    Sev2,
    /// Function impaired, workaround exists.
    Sev3,
    /// Minor, cosmetic or question.
    Sev4,
}

impl Severity {
    pub fn from_priority(p: Priority) -> Severity {
        match p {
            Priority::Critical => Severity::Sev1,
            Priority::High => Severity::Sev2,
            Priority::Medium => Severity::Sev3,
            Priority::Low => Severity::Sev4,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Sev1 => "Sev 1 — critical",
            Severity::Sev2 => "Sev 2 — major",
            Severity::Sev3 => "Sev 3 — minor",
            Severity::Sev4 => "Sev 4 — low",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase", default)]
pub struct Impact {
    /// Who is affected (customer, tenant, user group).
    pub who: String,
    /// How many users, tenants or transactions (free text: "about 40 users", "all EU tenants").
    pub how_many: String,
    /// Since when (UTC milliseconds).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub since: Option<i64>,
    /// What it costs the business (orders lost, deadline at risk).
    pub business: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase", default)]
pub struct Environment {
    pub product_version: String,
    pub region: String,
    pub tenant: String,
    pub os: String,
    pub browser: String,
    pub integration: String,
}

impl Environment {
    fn fields(&self) -> [(&'static str, &str); 6] {
        [
            ("Product version", &self.product_version),
            ("Region", &self.region),
            ("Tenant", &self.tenant),
            ("OS", &self.os),
            ("Browser", &self.browser),
            ("Integration", &self.integration),
        ]
    }

    pub fn filled(&self) -> Vec<(&'static str, &str)> {
        self.fields()
            .into_iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .collect()
    }
}

/// A log extract chosen as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct EvidenceExtract {
    /// Where it comes from: a file name or "pasted".
    pub source: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub first_line: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub last_line: u64,
    pub text: String,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    Request,
    Trace,
    Uuid,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct EvidenceId {
    pub kind: IdKind,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase", default)]
pub struct Evidence {
    pub extracts: Vec<EvidenceExtract>,
    pub ids: Vec<EvidenceId>,
    /// Attachment file names (screenshots, exports) from the ticket.
    pub attachments: Vec<String>,
}

impl Evidence {
    pub fn is_empty(&self) -> bool {
        self.extracts.is_empty() && self.ids.is_empty() && self.attachments.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum TimelineSource {
    Ticket,
    Log,
    Manual,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    /// UTC milliseconds.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at: i64,
    pub text: String,
    pub source: TimelineSource,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase", default)]
pub struct Workaround {
    pub tried: String,
    pub result: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum ReferenceKind {
    KbArticle,
    SimilarCase,
    KnownIssue,
    Problem,
    Link,
}

/// A related knowledge-base article, similar case or known issue (filled by the knowledge base
/// or by hand).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    pub kind: ReferenceKind,
    /// A ticket key, article id or URL.
    pub target: String,
    #[serde(default)]
    pub title: String,
    /// Whether the related case or issue is still open (`None`: unknown).
    #[serde(default)]
    pub open: Option<bool>,
}

/// The package's content: what the agent edits and what is exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct PackageContent {
    pub title: String,
    pub summary: String,
    pub severity: Severity,
    #[serde(default)]
    pub impact: Impact,
    #[serde(default)]
    pub environment: Environment,
    #[serde(default)]
    pub steps_to_reproduce: Vec<String>,
    #[serde(default)]
    pub expected: String,
    #[serde(default)]
    pub actual: String,
    #[serde(default)]
    pub evidence: Evidence,
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
    #[serde(default)]
    pub workaround: Workaround,
    #[serde(default)]
    pub related: Vec<Reference>,
    /// What the customer has been told so far.
    #[serde(default)]
    pub communication: String,
    /// Redaction settings of this package: IP kinds, custom rules, values un-redacted by the agent.
    #[serde(default)]
    pub redaction: RedactOptions,
}

/// The parts of the quality bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum QualityPart {
    ReproSteps,
    ExpectedVsActual,
    Evidence,
    Impact,
    Environment,
    Workaround,
}

impl QualityPart {
    pub const ALL: [QualityPart; 6] = [
        QualityPart::ReproSteps,
        QualityPart::ExpectedVsActual,
        QualityPart::Evidence,
        QualityPart::Impact,
        QualityPart::Environment,
        QualityPart::Workaround,
    ];

    pub fn label(self) -> &'static str {
        match self {
            QualityPart::ReproSteps => "steps to reproduce",
            QualityPart::ExpectedVsActual => "expected vs actual",
            QualityPart::Evidence => "evidence (log extracts, ids or attachments)",
            QualityPart::Impact => "business impact (who, how many or since when, and the cost)",
            QualityPart::Environment => {
                "environment (product version, or two of region/tenant/OS/browser/integration)"
            }
            QualityPart::Workaround => "workaround tried and its result",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct Completeness {
    /// 0–100: the share of the quality bar met.
    pub score: u8,
    pub missing: Vec<QualityPart>,
    /// The missing parts in words, for the UI and the CLI.
    pub missing_labels: Vec<String>,
    /// Warnings that do not lower the score (a linked known issue, an open similar case).
    pub warnings: Vec<String>,
}

impl PackageContent {
    /// Checks the package against the escalation quality bar.
    pub fn completeness(&self) -> Completeness {
        let t = |s: &str| !s.trim().is_empty();
        let met = |p: QualityPart| match p {
            QualityPart::ReproSteps => self.steps_to_reproduce.iter().any(|s| t(s)),
            QualityPart::ExpectedVsActual => t(&self.expected) && t(&self.actual),
            QualityPart::Evidence => !self.evidence.is_empty(),
            QualityPart::Impact => {
                t(&self.impact.business)
                    && (t(&self.impact.who)
                        || t(&self.impact.how_many)
                        || self.impact.since.is_some())
            }
            QualityPart::Environment => {
                t(&self.environment.product_version) || self.environment.filled().len() >= 2
            }
            QualityPart::Workaround => t(&self.workaround.tried) && t(&self.workaround.result),
        };
        let missing: Vec<QualityPart> = QualityPart::ALL.into_iter().filter(|p| !met(*p)).collect();
        let score = ((QualityPart::ALL.len() - missing.len()) * 100 / QualityPart::ALL.len()) as u8;
        let mut warnings = Vec::new();
        for r in &self.related {
            match (r.kind, r.open) {
                (ReferenceKind::KnownIssue | ReferenceKind::Problem, open)
                    if open != Some(false) =>
                {
                    warnings.push(format!(
                        "known issue {} is linked: check it before escalating",
                        r.target
                    ))
                }
                (ReferenceKind::SimilarCase, Some(true)) => warnings.push(format!(
                    "similar open case {}: it may already be escalated",
                    r.target
                )),
                _ => {}
            }
        }
        if !self.evidence.extracts.is_empty() && self.timeline.is_empty() {
            warnings.push("the timeline is empty: rebuild it from the ticket and the logs".into());
        }
        Completeness {
            score,
            missing_labels: missing.iter().map(|p| p.label().to_owned()).collect(),
            missing,
            warnings,
        }
    }
}

/// Picks the environment field a ticket's extra key fills.
type EnvField = fn(&mut Environment) -> &mut String;

const ENV_KEYS: &[(&str, EnvField)] = &[
    ("product_version", |e| &mut e.product_version),
    ("version", |e| &mut e.product_version),
    ("app_version", |e| &mut e.product_version),
    ("region", |e| &mut e.region),
    ("location", |e| &mut e.region),
    ("tenant", |e| &mut e.tenant),
    ("instance", |e| &mut e.tenant),
    ("os", |e| &mut e.os),
    ("operating_system", |e| &mut e.os),
    ("browser", |e| &mut e.browser),
    ("integration", |e| &mut e.integration),
    ("cmdb_ci", |e| &mut e.integration),
];

/// Prefills a package from what the ticket already knows.
pub fn prefill(detail: &TicketDetail, events: &[Event]) -> PackageContent {
    let t = &detail.ticket;
    let (steps, expected, actual) = parse_description(&t.description);
    let mut environment = Environment::default();
    if let Some(extra) = t.extra.as_object() {
        for (k, v) in extra {
            let key = k.to_ascii_lowercase();
            let key = key.strip_prefix("upstream_").unwrap_or(&key);
            if let Some((_, field)) = ENV_KEYS.iter().find(|(n, _)| *n == key) {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    _ => continue,
                };
                let slot = field(&mut environment);
                if slot.is_empty() && !text.trim().is_empty() {
                    *slot = text.trim().to_owned();
                }
            }
        }
    }
    let related = detail
        .links
        .iter()
        .map(|l| Reference {
            kind: match l.kind {
                LinkKind::KnownIssue => ReferenceKind::KnownIssue,
                LinkKind::Problem => ReferenceKind::Problem,
                LinkKind::DuplicateOf | LinkKind::Related => ReferenceKind::SimilarCase,
            },
            target: l.target.clone(),
            title: l.title.clone().unwrap_or_default(),
            open: None,
        })
        .collect();
    let communication = detail
        .comments
        .iter()
        .filter(|c| c.visibility == Visibility::Public)
        .map(|c| {
            let body: String = c.body.split_whitespace().collect::<Vec<_>>().join(" ");
            let short: String = body.chars().take(300).collect();
            let more = if short.len() < body.len() { "…" } else { "" };
            format!("- {} — {}: {short}{more}", rfc3339(c.created_at), c.author)
        })
        .collect::<Vec<_>>()
        .join("\n");
    PackageContent {
        title: format!("[{}] {}", t.key, t.title),
        summary: first_paragraph(&t.description, 1_000),
        severity: Severity::from_priority(t.priority),
        impact: Impact {
            who: t
                .organization
                .clone()
                .or_else(|| t.requester.clone())
                .unwrap_or_default(),
            how_many: String::new(),
            since: Some(t.created_at),
            business: String::new(),
        },
        environment,
        steps_to_reproduce: steps,
        expected,
        actual,
        evidence: Evidence {
            extracts: Vec::new(),
            ids: Vec::new(),
            attachments: detail
                .attachments
                .iter()
                .map(|a| a.file_name.clone())
                .collect(),
        },
        timeline: ticket_timeline(detail, events),
        workaround: Workaround::default(),
        related,
        communication,
        redaction: RedactOptions::default(),
    }
}

fn first_paragraph(text: &str, max_chars: usize) -> String {
    let para = text
        .split("\n\n")
        .map(str::trim)
        .find(|p| !p.is_empty())
        .unwrap_or("");
    let mut out: String = para.chars().take(max_chars).collect();
    if out.len() < para.len() {
        out.push('…');
    }
    out
}

/// Steps (a numbered or bulleted list after a "steps" heading, or any numbered list), and
/// `Expected:` / `Actual:` lines, from a ticket description.
fn parse_description(desc: &str) -> (Vec<String>, String, String) {
    let mut steps = Vec::new();
    let mut expected = String::new();
    let mut actual = String::new();
    let mut in_steps = false;
    for line in desc.lines() {
        let l = line.trim();
        let lower = l.to_ascii_lowercase();
        if let Some(rest) = strip_label(
            l,
            &lower,
            &[
                "expected result",
                "expected behaviour",
                "expected behavior",
                "expected",
            ],
        ) {
            expected = rest.to_owned();
            in_steps = false;
            continue;
        }
        if let Some(rest) = strip_label(
            l,
            &lower,
            &[
                "actual result",
                "actual behaviour",
                "actual behavior",
                "actual",
            ],
        ) {
            actual = rest.to_owned();
            in_steps = false;
            continue;
        }
        if lower.starts_with("steps") || lower.contains("to reproduce") {
            in_steps = true;
            continue;
        }
        let numbered = l
            .split_once(['.', ')'])
            .filter(|(n, _)| !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit()))
            .map(|(_, rest)| rest.trim());
        let bullet = (in_steps)
            .then(|| l.strip_prefix("- ").or_else(|| l.strip_prefix("* ")))
            .flatten();
        match numbered.or(bullet) {
            Some(s) if !s.is_empty() => steps.push(s.to_owned()),
            _ if l.is_empty() => {}
            _ => in_steps = false,
        }
    }
    (steps, expected, actual)
}

fn strip_label<'a>(line: &'a str, lower: &str, labels: &[&str]) -> Option<&'a str> {
    labels.iter().find_map(|lab| {
        lower
            .starts_with(lab)
            .then(|| line[lab.len()..].trim_start())
            .and_then(|r| r.strip_prefix(':'))
            .map(str::trim)
    })
}

/// Timeline entries from the ticket's event log (times are when the action happened).
pub fn ticket_timeline(detail: &TicketDetail, events: &[Event]) -> Vec<TimelineEntry> {
    let mut out = Vec::new();
    for e in events {
        let text = match e.kind {
            EventKind::Created => format!("ticket {} opened ({})", detail.ticket.key, e.actor),
            EventKind::Commented => {
                let vis = e
                    .data
                    .get("visibility")
                    .and_then(|v| v.as_str())
                    .unwrap_or("public");
                if vis == "internal" {
                    format!("internal note by {}", e.actor)
                } else {
                    format!("reply to the customer by {}", e.actor)
                }
            }
            EventKind::Updated => {
                let Some(changes) = e.data.get("changes").and_then(|c| c.as_object()) else {
                    continue;
                };
                let parts: Vec<String> = changes
                    .iter()
                    .filter(|(f, _)| {
                        matches!(
                            f.as_str(),
                            "state" | "priority" | "assignee" | "assignment_group"
                        )
                    })
                    .map(|(f, c)| {
                        let v = |k: &str| match c.get(k) {
                            Some(serde_json::Value::String(s)) => s.clone(),
                            Some(serde_json::Value::Null) | None => "none".into(),
                            Some(other) => other.to_string(),
                        };
                        format!("{} {} → {}", f.replace('_', " "), v("from"), v("to"))
                    })
                    .collect();
                if parts.is_empty() {
                    continue;
                }
                format!("{} ({})", parts.join(", "), e.actor)
            }
        };
        out.push(TimelineEntry {
            at: e.at,
            text,
            source: TimelineSource::Ticket,
        });
    }
    out
}

/// Timeline entries from a log analysis: the span of the log and each error signature's first
/// and last occurrence.
pub fn log_timeline(source: &str, a: &Analysis) -> Vec<TimelineEntry> {
    let mut out = Vec::new();
    for s in a.signatures.iter().take(10) {
        if let Some(f) = s.first_seen {
            out.push(TimelineEntry {
                at: f,
                text: format!(
                    "{source}: first {} \"{}\" ({} in total)",
                    s.level, s.signature, s.count
                ),
                source: TimelineSource::Log,
            });
        }
        if let (Some(l), true) = (s.last_seen, s.count > 1) {
            out.push(TimelineEntry {
                at: l,
                text: format!("{source}: last {} \"{}\"", s.level, s.signature),
                source: TimelineSource::Log,
            });
        }
    }
    out
}

/// Merges freshly built entries into an edited timeline: entries the agent wrote stay, entries
/// already present are not repeated, and the result is in time order.
pub fn merge_timeline(existing: &[TimelineEntry], fresh: Vec<TimelineEntry>) -> Vec<TimelineEntry> {
    let mut out = existing.to_vec();
    for e in fresh {
        if !out.iter().any(|o| o.at == e.at && o.text == e.text) {
            out.push(e);
        }
    }
    out.sort_by_key(|a| a.at);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn empty() -> PackageContent {
        PackageContent {
            title: "t".into(),
            summary: String::new(),
            severity: Severity::Sev3,
            impact: Impact::default(),
            environment: Environment::default(),
            steps_to_reproduce: vec![],
            expected: String::new(),
            actual: String::new(),
            evidence: Evidence::default(),
            timeline: vec![],
            workaround: Workaround::default(),
            related: vec![],
            communication: String::new(),
            redaction: RedactOptions::default(),
        }
    }

    #[test]
    fn completeness_names_what_is_missing() {
        let mut p = empty();
        let c = p.completeness();
        assert_eq!((c.score, c.missing.len()), (0, 6));
        p.steps_to_reproduce = vec!["open invoice".into()];
        p.expected = "PDF".into();
        p.actual = "503".into();
        p.environment.product_version = "4.2.1".into();
        let c = p.completeness();
        assert_eq!(c.score, 50);
        assert_eq!(
            c.missing,
            vec![
                QualityPart::Evidence,
                QualityPart::Impact,
                QualityPart::Workaround
            ]
        );
        assert!(c.missing_labels[0].starts_with("evidence"));
        p.evidence.ids.push(EvidenceId {
            kind: IdKind::Request,
            value: "r1".into(),
        });
        p.impact.business = "no invoices".into();
        p.impact.how_many = "all EU tenants".into();
        p.workaround = Workaround {
            tried: "restart".into(),
            result: "no change".into(),
        };
        assert_eq!(p.completeness().score, 100);
        p.workaround.result.clear();
        assert_eq!(p.completeness().missing, vec![QualityPart::Workaround]);
        p.related.push(Reference {
            kind: ReferenceKind::KnownIssue,
            target: "KI-7".into(),
            title: String::new(),
            open: None,
        });
        assert!(p.completeness().warnings[0].contains("KI-7"));
    }

    #[test]
    fn description_parsing_finds_steps_expected_actual() {
        let (steps, exp, act) = parse_description(
            "Invoices fail.\n\nSteps to reproduce:\n1. Log in\n2) Open order 1841\n- Click Invoice\n\nExpected: a PDF\nActual result: HTTP 503 after 30 s\n",
        );
        assert_eq!(steps, vec!["Log in", "Open order 1841", "Click Invoice"]);
        assert_eq!(exp, "a PDF");
        assert_eq!(act, "HTTP 503 after 30 s");
    }

    #[test]
    fn merge_keeps_manual_entries_and_orders_by_time() {
        let e = |at, text: &str, source| TimelineEntry {
            at,
            text: text.into(),
            source,
        };
        let existing = vec![
            e(5, "customer called", TimelineSource::Manual),
            e(1, "opened", TimelineSource::Ticket),
        ];
        let merged = merge_timeline(
            &existing,
            vec![
                e(1, "opened", TimelineSource::Ticket),
                e(3, "first error", TimelineSource::Log),
            ],
        );
        let texts: Vec<&str> = merged.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, vec!["opened", "first error", "customer called"]);
    }
}
