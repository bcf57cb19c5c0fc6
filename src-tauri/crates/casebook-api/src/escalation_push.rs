//! "Push to Jira" (issue 6, part 6): an escalation package becomes an issue in a configured
//! engineering project, through the outbox.
//!
//! - **Settings**: per Jira connection, the engineering project key and issue type (default
//!   `Bug`), kept in the workspace settings (`escalation.jira.<connection id>`).
//! - **Push**: redacts exactly as the exports do (one redactor for the whole package, then a
//!   re-scan; if either fails nothing is queued), renders the package Markdown and the extracts,
//!   and queues ONE outbox operation (`escalation`) with that redacted payload, the audit entry
//!   and an event on the ticket — in one transaction, without touching the network. The sync of
//!   the connection creates the issue exactly once, attaches the extracts once each and links
//!   the ticket to it (see `casebook_sync::engine`).

use crate::error::{ApiError, ErrorCode};
use crate::{Casebook, Inner, Result};
use casebook_core::connection::{Connection, Vendor};
use casebook_core::store::EscalationPushRow;
use casebook_escalation::drafts;
use casebook_escalation::export::{redact_package, to_markdown};
use casebook_sync::escalation::{ESCALATION_LABEL, EscalationAttachment, EscalationPayload};
use casebook_sync::jira::valid_project_key;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Jira refuses a description over 32,767 characters — Java string length, so UTF-16 code units
/// (an emoji counts two) — with `400 {"errors":{"description":"The entered text is too long. It
/// exceeds the allowed limit of 32,767 characters."}}`, and it measures its own stored rendition
/// (wiki markup: `h2. ` for `## `, `{code}` for a fence), which can be a little longer than the
/// Markdown. A package over this budget goes in the description cut at a line (an open code
/// block closed, a pointer added) and whole as the attachment [`PACKAGE_FILE`]: nothing is lost.
const MAX_DESCRIPTION_UTF16: usize = 30_000;
/// Jira's limit on a summary (UTF-16 code units as well).
const MAX_SUMMARY_UTF16: usize = 255;
/// The attachment holding the whole package when the description had to be cut.
pub const PACKAGE_FILE: &str = "package.md";
const DEFAULT_ISSUE_TYPE: &str = "Bug";

fn setting_key(connection_id: i64) -> String {
    format!("escalation.jira.{connection_id}")
}

/// Where escalations pushed through a Jira connection go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct EscalationJiraSettings {
    #[ts(type = "number")]
    pub connection_id: i64,
    pub connection_name: String,
    /// The engineering project key (`ENG`); empty when not configured.
    pub project: String,
    pub issue_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct EscalationJiraSettingsInput {
    /// A Jira connection's name or id; `None`: the only Jira connection.
    #[serde(default)]
    pub connection: Option<String>,
    pub project: String,
    /// `None` or empty: `Bug`.
    #[serde(default)]
    pub issue_type: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum EscalationPushState {
    /// Never pushed.
    NotPushed,
    /// In the outbox, waiting for the connection's sync (or retrying).
    Queued,
    /// The sync gave up on it; the outbox says why (retry or discard it there).
    Failed,
    /// The issue exists; `key` and `url` name it.
    Pushed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct EscalationPushView {
    #[ts(type = "number")]
    pub escalation_id: i64,
    pub state: EscalationPushState,
    #[ts(type = "number | null")]
    pub op_id: Option<i64>,
    /// The outbox status (`pending`, `in_flight`, `unknown`, `failed`, `done`).
    pub op_status: Option<String>,
    pub last_error: Option<String>,
    pub key: Option<String>,
    pub url: Option<String>,
    #[ts(type = "number | null")]
    pub pushed_at: Option<i64>,
}

impl From<EscalationPushRow> for EscalationPushView {
    fn from(r: EscalationPushRow) -> Self {
        let state = if r.pushed_key.is_some() {
            EscalationPushState::Pushed
        } else {
            match r.op_status.as_deref() {
                None | Some("done") => EscalationPushState::NotPushed,
                Some("failed") | Some("conflict") => EscalationPushState::Failed,
                Some(_) => EscalationPushState::Queued,
            }
        };
        EscalationPushView {
            escalation_id: r.escalation_id,
            state,
            op_id: r.op_id,
            op_status: r.op_status,
            last_error: r.last_error,
            key: r.pushed_key,
            url: r.pushed_url.filter(|u| !u.is_empty()),
            pushed_at: r.pushed_at,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredSettings {
    project: String,
    issue_type: String,
}

/// The Jira connection named (or the only one), refusing other vendors with a reason.
fn jira_connection(i: &Inner, name: Option<&str>) -> Result<Connection> {
    if let Some(n) = name.map(str::trim).filter(|n| !n.is_empty()) {
        let c = i.store.find_connection(n)?;
        if c.vendor != Vendor::Jira {
            return Err(ApiError::invalid(format!(
                "'{}' is a {:?} connection; escalations are pushed to a jira connection",
                c.name, c.vendor
            )));
        }
        return Ok(c);
    }
    let jira: Vec<Connection> = i
        .store
        .connections()?
        .into_iter()
        .filter(|c| c.vendor == Vendor::Jira)
        .collect();
    match jira.len() {
        0 => Err(ApiError::invalid(
            "no jira connection is configured; add one to push escalations to jira",
        )),
        1 => Ok(jira.into_iter().next().ok_or_else(|| {
            ApiError::new(ErrorCode::Internal, "the jira connection disappeared")
        })?),
        _ => Err(ApiError::invalid(format!(
            "several jira connections ({}); name the one to push to",
            jira.iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn stored_settings(i: &Inner, conn: &Connection) -> Result<Option<StoredSettings>> {
    let Some(raw) = i.store.setting(&setting_key(conn.id))? else {
        return Ok(None);
    };
    let s: StoredSettings = serde_json::from_str(&raw)
        .map_err(|e| ApiError::internal("reading the escalation settings", &e))?;
    Ok(Some(s).filter(|s| !s.project.is_empty()))
}

fn settings_view(conn: &Connection, s: Option<StoredSettings>) -> EscalationJiraSettings {
    let s = s.unwrap_or_default();
    EscalationJiraSettings {
        connection_id: conn.id,
        connection_name: conn.name.clone(),
        project: s.project,
        issue_type: if s.issue_type.is_empty() {
            DEFAULT_ISSUE_TYPE.to_owned()
        } else {
            s.issue_type
        },
    }
}

/// A file name made of safe characters (as the zip bundle names its extracts).
fn safe_name(s: &str) -> String {
    let t: String = s
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    let t = t.trim_matches('.').to_owned();
    if t.is_empty() { "extract".into() } else { t }
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// The longest prefix of `s` of at most `max` UTF-16 code units, on a character boundary.
fn take_utf16(s: &str, max: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.len_utf16();
        if used > max {
            return &s[..i];
        }
    }
    s
}

/// `None` when `md` fits in `max` UTF-16 code units; else its beginning, cut at a line end (or
/// inside a single over-long line), with an open code fence closed and a pointer to
/// [`PACKAGE_FILE`], all within `max`.
fn cut_description(md: &str, max: usize) -> Option<String> {
    if utf16_len(md) <= max {
        return None;
    }
    let total = md.chars().count();
    // The pointer and a closing fence must fit too; 200 units is more than both take.
    let budget = max.saturating_sub(200);
    let mut out = String::with_capacity(md.len().min(budget * 2));
    let mut used = 0;
    let mut fence: Option<String> = None;
    for line in md.split_inclusive('\n') {
        let n = utf16_len(line);
        if used + n > budget {
            let room = budget - used;
            // Part of a long line rather than nothing when most of the budget would be left.
            if room > budget / 4 {
                out.push_str(take_utf16(line, room));
                out.push('\n');
            }
            break;
        }
        out.push_str(line);
        used += n;
        let t = line.trim();
        let ticks = t.chars().take_while(|&c| c == '`').count();
        if ticks >= 3 {
            fence = match fence {
                Some(f) if t == f => None,
                Some(f) => Some(f),
                None => Some(t[..ticks].to_owned()),
            };
        }
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    if let Some(f) = fence {
        out.push_str(&f);
        out.push('\n');
    }
    let shown = out.chars().count();
    out.push_str(&format!(
        "\n(Cut here: the package has {total} characters and Jira takes at most 32,767 in a \
         description; these are the first {shown}. The whole package is attached as \
         {PACKAGE_FILE}.)\n"
    ));
    Some(out)
}

/// The redacted outbox payload of a package (fails closed: no payload if redaction fails).
fn payload(
    escalation_id: i64,
    ticket_key: &str,
    content: &casebook_escalation::package::PackageContent,
    settings: &StoredSettings,
) -> Result<(EscalationPayload, serde_json::Value)> {
    let (redacted, audit) = redact_package(content)?;
    let md = to_markdown(&redacted);
    let mut attachments: Vec<EscalationAttachment> = redacted
        .evidence
        .extracts
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let mut text = x.text.clone();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            EscalationAttachment {
                file_name: format!(
                    "{:02}-{}-L{}-{}.log",
                    i + 1,
                    safe_name(&x.source),
                    x.first_line,
                    x.last_line
                ),
                text,
            }
        })
        .collect();
    let description_md = match cut_description(&md, MAX_DESCRIPTION_UTF16) {
        Some(cut) => {
            attachments.push(EscalationAttachment {
                file_name: PACKAGE_FILE.into(),
                text: md,
            });
            cut
        }
        None => md,
    };
    let title = redacted.title.trim();
    let title = if title.is_empty() {
        format!("Escalation of {ticket_key}")
    } else {
        title.to_owned()
    };
    let summary = take_utf16(
        &title
            .chars()
            .filter(|c| !c.is_control())
            .collect::<String>(),
        MAX_SUMMARY_UTF16,
    )
    .to_owned();
    let audit = serde_json::to_value(&audit)
        .map_err(|e| ApiError::internal("recording the redaction audit", &e))?;
    Ok((
        EscalationPayload {
            escalation_id,
            project: settings.project.clone(),
            issue_type: settings.issue_type.clone(),
            summary,
            description_md,
            labels: vec![ESCALATION_LABEL.to_owned()],
            attachments,
        },
        audit,
    ))
}

impl Casebook {
    /// The engineering project of a Jira connection (`connection`: name or id; `None`: the only
    /// Jira connection). `project` is empty when none is configured.
    pub async fn escalation_jira_settings(
        &self,
        connection: Option<String>,
    ) -> Result<EscalationJiraSettings> {
        self.blocking("reading the escalation settings", move |i| {
            let conn = jira_connection(i, connection.as_deref())?;
            let s = stored_settings(i, &conn)?;
            Ok(settings_view(&conn, s))
        })
        .await
    }

    /// Sets the engineering project (a Jira project key: `ENG`) and issue type (default `Bug`)
    /// escalations are pushed to through a Jira connection.
    pub async fn escalation_set_jira_settings(
        &self,
        input: EscalationJiraSettingsInput,
    ) -> Result<EscalationJiraSettings> {
        let project = input.project.trim().to_owned();
        if !valid_project_key(&project) || project.len() > 32 {
            return Err(ApiError::invalid(format!(
                "'{project}' is not a jira project key (capital letters, digits and _, starting with a letter: ENG)"
            )));
        }
        let issue_type = input
            .issue_type
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or(DEFAULT_ISSUE_TYPE)
            .to_owned();
        if issue_type.chars().count() > 60 || issue_type.chars().any(char::is_control) {
            return Err(ApiError::invalid(
                "the issue type must be a name of at most 60 characters (e.g. Bug)",
            ));
        }
        self.blocking("saving the escalation settings", move |i| {
            let conn = jira_connection(i, input.connection.as_deref())?;
            let s = StoredSettings {
                project,
                issue_type,
            };
            let raw = serde_json::to_string(&s)
                .map_err(|e| ApiError::internal("saving the escalation settings", &e))?;
            i.store.set_setting(&setting_key(conn.id), &raw)?;
            Ok(settings_view(&conn, Some(s)))
        })
        .await
    }

    /// Queues the push of an escalation to its Jira connection's engineering project
    /// (`connection`: name or id; `None`: the only Jira connection). Returns at once: the
    /// connection's next sync creates the issue. Nothing is queued if redaction fails, no Jira
    /// connection or project is configured, or the escalation was already pushed or queued.
    pub async fn escalation_push(
        &self,
        escalation_id: i64,
        connection: Option<String>,
    ) -> Result<EscalationPushView> {
        let (view, ticket_id) = self
            .blocking("queuing the escalation push", move |i| {
                let conn = jira_connection(i, connection.as_deref())?;
                let settings = stored_settings(i, &conn)?.ok_or_else(|| {
                    ApiError::invalid(format!(
                        "no engineering project is configured for the jira connection '{}'; set one first",
                        conn.name
                    ))
                })?;
                let settings = StoredSettings {
                    issue_type: if settings.issue_type.is_empty() {
                        DEFAULT_ISSUE_TYPE.to_owned()
                    } else {
                        settings.issue_type
                    },
                    ..settings
                };
                let draft = drafts::get(&i.store, escalation_id)?;
                let (payload, audit) =
                    payload(escalation_id, &draft.ticket_key, &draft.content, &settings)?;
                let payload = serde_json::to_value(&payload)
                    .map_err(|e| ApiError::internal("queuing the escalation push", &e))?;
                let name = crate::agent_name(&i.store)?;
                i.store.enqueue_escalation_push(
                    escalation_id,
                    &conn.id.to_string(),
                    payload,
                    &audit,
                    &i.actor(&name),
                )?;
                let row = i.store.escalation_push_state(escalation_id)?.ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::NotFound,
                        format!("escalation {escalation_id} not found"),
                    )
                })?;
                Ok((EscalationPushView::from(row), draft.ticket_id))
            })
            .await?;
        self.publish(crate::dto::ChangeKind::Tickets, vec![ticket_id]);
        Ok(view)
    }

    /// Where an escalation's push stands: not pushed, queued, failed, or pushed with its key.
    pub async fn escalation_push_status(&self, escalation_id: i64) -> Result<EscalationPushView> {
        self.blocking("reading the escalation push", move |i| {
            let row = i
                .store
                .escalation_push_state(escalation_id)?
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::NotFound,
                        format!("escalation {escalation_id} not found"),
                    )
                })?;
            Ok(row.into())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn fences(s: &str) -> usize {
        s.lines()
            .filter(|l| l.trim_start().starts_with("```"))
            .count()
    }

    #[test]
    fn a_description_within_the_limit_is_left_alone() {
        let md = "# T\n\n".to_owned() + &"x".repeat(1000);
        assert_eq!(cut_description(&md, 2000), None);
        // Exactly at the limit, counted in UTF-16 code units: an emoji is two.
        let md = "😀".repeat(1000);
        assert_eq!(cut_description(&md, 2000), None);
        assert!(cut_description(&md, 1999).is_some());
    }

    #[test]
    fn a_long_package_is_cut_at_a_line_within_the_limit_with_its_code_block_closed() {
        let mut md = String::from("# Title\n\n## Evidence\n\n```text\n");
        for i in 0..5000 {
            md.push_str(&format!(
                "2024-10-10T20:55:{:02}Z ERROR 😀 line {i}\n",
                i % 60
            ));
        }
        md.push_str("```\n\n## Timeline\n\nthe end\n");
        let cut = cut_description(&md, 30_000).unwrap();
        assert!(utf16_len(&cut) <= 30_000, "{}", utf16_len(&cut));
        assert!(utf16_len(&cut) > 29_000, "most of the budget is used");
        assert_eq!(fences(&cut) % 2, 0, "the open code block is closed");
        assert!(cut.ends_with("The whole package is attached as package.md.)\n"));
        assert!(cut.contains(&format!(
            "the package has {} characters",
            md.chars().count()
        )));
        // Whole lines only, taken from the start.
        let body = cut.split("```\n\n(Cut here").next().unwrap();
        assert!(
            body.ends_with('\n') && md.starts_with(body),
            "whole lines from the start of the package"
        );
        assert!(!cut.contains("## Timeline"));
    }

    #[test]
    fn a_single_gigantic_line_is_cut_inside_it() {
        let md = format!("# T\n\n{}\n", "é".repeat(100_000));
        let cut = cut_description(&md, 30_000).unwrap();
        assert!(utf16_len(&cut) <= 30_000);
        assert!(cut.matches('é').count() > 29_000);
        assert_eq!(fences(&cut), 0);
    }

    #[test]
    fn a_summary_is_cut_to_255_utf16_units_on_a_character_boundary() {
        let s = "😀".repeat(200);
        let t = take_utf16(&s, MAX_SUMMARY_UTF16);
        assert_eq!(utf16_len(t), 254);
        assert_eq!(t.chars().count(), 127);
        assert_eq!(take_utf16("short", 255), "short");
    }
}
