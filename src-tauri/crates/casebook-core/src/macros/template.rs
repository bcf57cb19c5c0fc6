//! Reply templates: Markdown with typed `{{placeholders}}`, optional fallbacks
//! (`{{requester.name | there}}`) and a `{{cursor}}` mark.
//!
//! Rendering never lets a raw `{{…}}` through: a placeholder that is unknown, malformed or has no
//! value (and no fallback) is a [`Problem`] with its position, and a macro with problems cannot be
//! applied. Values that themselves contain `{{` are escaped (`\{\{`, which Markdown shows as `{{`).

use crate::model::Millis;
use serde::{Deserialize, Serialize};

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum PlaceholderType {
    Text,
    /// An instant, written in the agent's time zone.
    Time,
    /// A length of (business) time, such as `3 h 10 min`.
    Duration,
    /// Where the caret goes after inserting the text.
    Cursor,
}

/// A placeholder a template may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct PlaceholderInfo {
    pub name: String,
    pub kind: PlaceholderType,
    pub description: String,
}

/// Every placeholder, with its type and meaning.
pub const PLACEHOLDERS: &[(&str, PlaceholderType, &str)] = &[
    (
        "ticket.key",
        PlaceholderType::Text,
        "the ticket's key (INC0010001, CB-12)",
    ),
    ("ticket.title", PlaceholderType::Text, "the ticket's title"),
    (
        "ticket.state",
        PlaceholderType::Text,
        "the state after the macro's changes",
    ),
    (
        "ticket.priority",
        PlaceholderType::Text,
        "the priority after the macro's changes",
    ),
    (
        "ticket.source",
        PlaceholderType::Text,
        "where the ticket comes from",
    ),
    (
        "ticket.group",
        PlaceholderType::Text,
        "the assignment group",
    ),
    ("ticket.assignee", PlaceholderType::Text, "the assignee"),
    ("requester.name", PlaceholderType::Text, "who asked"),
    ("agent.name", PlaceholderType::Text, "you"),
    (
        "now",
        PlaceholderType::Time,
        "the time the macro is applied",
    ),
    (
        "sla.next_update_due",
        PlaceholderType::Time,
        "when the next update is due once this reply is sent",
    ),
    (
        "sla.resolution_due",
        PlaceholderType::Time,
        "when the resolution target falls due",
    ),
    (
        "sla.resolution_left",
        PlaceholderType::Duration,
        "business time left to the resolution target",
    ),
    (
        "cursor",
        PlaceholderType::Cursor,
        "where the caret is placed",
    ),
];

pub fn placeholders() -> Vec<PlaceholderInfo> {
    PLACEHOLDERS
        .iter()
        .map(|(n, k, d)| PlaceholderInfo {
            name: (*n).into(),
            kind: *k,
            description: (*d).into(),
        })
        .collect()
}

fn placeholder_type(name: &str) -> Option<PlaceholderType> {
    PLACEHOLDERS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, k, _)| *k)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Not a placeholder Casebook knows.
    Unknown,
    /// `{{` without a closing `}}`, or an empty `{{}}`.
    Malformed,
    /// Known, but this ticket has no value for it (and no fallback was given).
    NoValue,
    /// More than one `{{cursor}}`.
    ExtraCursor,
}

/// A placeholder that cannot be filled, with where it is in the template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    pub kind: ProblemKind,
    /// The placeholder as written (`{{ticket.nmae}}`).
    pub text: String,
    /// Byte offsets in the template, `[start, end)`.
    pub start: u32,
    pub end: u32,
    /// 1-based line and column (in characters).
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// A value for each placeholder; `None` when the ticket has none.
pub trait Values {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Values for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// A rendered template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct Rendered {
    /// The text with every placeholder filled; where a placeholder could not be filled it is left
    /// as written (for the preview). Never sent while `problems` is not empty.
    pub text: String,
    /// Caret position in `text`, in UTF-16 code units (what a text field's selection uses).
    pub cursor: Option<u32>,
    pub problems: Vec<Problem>,
}

fn line_col(src: &str, at: usize) -> (u32, u32) {
    let before = &src[..at];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit_once('\n')
        .map_or(before, |(_, l)| l)
        .chars()
        .count()
        + 1;
    (line as u32, col as u32)
}

fn escape(v: &str) -> String {
    v.replace("{{", "\\{\\{").replace("}}", "\\}\\}")
}

/// Fills `template` from `values`. Problems are collected, not fatal: the caller shows them.
pub fn render(template: &str, values: &dyn Values) -> Rendered {
    let mut text = String::with_capacity(template.len());
    let mut problems = Vec::new();
    let mut cursor: Option<u32> = None;
    let mut rest = 0;
    let problem = |kind, start: usize, end: usize, message: String| {
        let (line, column) = line_col(template, start);
        Problem {
            kind,
            text: template[start..end].to_owned(),
            start: start as u32,
            end: end as u32,
            line,
            column,
            message,
        }
    };
    while let Some(open) = template[rest..].find("{{").map(|i| rest + i) {
        text.push_str(&template[rest..open]);
        let Some(close) = template[open + 2..].find("}}").map(|i| open + 2 + i) else {
            let end = template[open..]
                .find('\n')
                .map_or(template.len(), |i| open + i);
            problems.push(problem(
                ProblemKind::Malformed,
                open,
                end,
                "'{{' is not closed with '}}'".into(),
            ));
            text.push_str(&template[open..]);
            rest = template.len();
            break;
        };
        let end = close + 2;
        let inner = &template[open + 2..close];
        let (name, fallback) = match inner.split_once('|') {
            Some((n, f)) => (n.trim(), Some(f.trim())),
            None => (inner.trim(), None),
        };
        if name.is_empty() || name.contains("{{") || name.contains('\n') {
            problems.push(problem(
                ProblemKind::Malformed,
                open,
                end,
                "an empty or broken placeholder".into(),
            ));
            text.push_str(&template[open..end]);
        } else {
            match placeholder_type(name) {
                None => {
                    problems.push(problem(
                        ProblemKind::Unknown,
                        open,
                        end,
                        format!("unknown placeholder '{name}'"),
                    ));
                    text.push_str(&template[open..end]);
                }
                Some(PlaceholderType::Cursor) => {
                    if cursor.is_some() {
                        problems.push(problem(
                            ProblemKind::ExtraCursor,
                            open,
                            end,
                            "only one {{cursor}} is allowed".into(),
                        ));
                    } else {
                        cursor = Some(text.encode_utf16().count() as u32);
                    }
                }
                Some(_) => match values.get(name).filter(|v| !v.trim().is_empty()) {
                    Some(v) => text.push_str(&escape(&v)),
                    None => match fallback {
                        Some(f) => text.push_str(&escape(f)),
                        None => {
                            problems.push(problem(
                                ProblemKind::NoValue,
                                open,
                                end,
                                format!(
                                    "'{name}' has no value for this ticket; write {{{{{name} | fallback}}}} to give one"
                                ),
                            ));
                            text.push_str(&template[open..end]);
                        }
                    },
                },
            }
        }
        rest = end;
    }
    text.push_str(&template[rest..]);
    Rendered {
        text,
        cursor,
        problems,
    }
}

/// Formats an instant for a reply: `Mon 2 Mar 2026, 14:00 CET`, in `zone` (an IANA name; UTC when
/// absent or unknown).
pub fn format_time(ms: Millis, zone: Option<&str>) -> String {
    let tz = zone
        .and_then(|z| jiff::tz::TimeZone::get(z).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t
            .to_zoned(tz)
            .strftime("%a %-d %b %Y, %H:%M %Z")
            .to_string(),
        Err(_) => String::new(),
    }
}
