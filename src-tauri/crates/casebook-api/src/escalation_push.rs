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

/// Jira's limit on a description is 32,767 characters; longer packages are cut there and
/// attached whole as `package.md`.
const MAX_DESCRIPTION_CHARS: usize = 30_000;
const MAX_SUMMARY_CHARS: usize = 255;
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
    let description_md = if md.chars().count() > MAX_DESCRIPTION_CHARS {
        let cut: String = md.chars().take(MAX_DESCRIPTION_CHARS).collect();
        attachments.push(EscalationAttachment {
            file_name: "package.md".into(),
            text: md.clone(),
        });
        format!("{cut}\n\n(cut here: the whole package is attached as package.md)\n")
    } else {
        md
    };
    let title = redacted.title.trim();
    let summary: String = if title.is_empty() {
        format!("Escalation of {ticket_key}")
    } else {
        title.to_owned()
    }
    .chars()
    .filter(|c| !c.is_control())
    .take(MAX_SUMMARY_CHARS)
    .collect();
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
