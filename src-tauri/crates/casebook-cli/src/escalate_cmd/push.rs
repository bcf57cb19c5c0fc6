//! `casebook escalate <ticket> --push [--connection C]`, `casebook escalate <ticket> --status` and
//! `casebook escalate settings [--project KEY] [--issue-type NAME]` (issue 6, "Push to Jira").
//!
//! The push goes through the façade exactly as the app's Export tab does: the package is redacted
//! (fail-closed: nothing is queued when redaction or its re-scan fails) and queued as ONE outbox
//! operation; no network is touched. A later `casebook sync` creates the issue, attaches the
//! extracts and links the ticket.

use crate::output::Out;
use casebook_api::escalation_push::{
    EscalationJiraSettings, EscalationJiraSettingsInput, EscalationPushState, EscalationPushView,
};
use casebook_api::{ApiError, Casebook, ErrorCode};
use clap::Args;
use serde::Serialize;

#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// The Jira connection (name or id); default: the only Jira connection.
    #[arg(long)]
    pub connection: Option<String>,
    /// Set the engineering project key escalations are created in (`ENG`).
    #[arg(long, value_name = "KEY")]
    pub project: Option<String>,
    /// Set the issue type of created escalations (default `Bug`).
    #[arg(long, value_name = "NAME")]
    pub issue_type: Option<String>,
}

fn print_json<T: Serialize>(v: &T) -> Result<(), ApiError> {
    let s = serde_json::to_string_pretty(v)
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    println!("{s}");
    Ok(())
}

fn settings_text(s: &EscalationJiraSettings) -> String {
    if s.project.is_empty() {
        format!(
            "{} (connection {}): no engineering project; set one with `casebook escalate settings --project KEY`",
            s.connection_name, s.connection_id
        )
    } else {
        format!(
            "{} (connection {}): escalations become {} issues in {}",
            s.connection_name, s.connection_id, s.issue_type, s.project
        )
    }
}

/// Shows the engineering project of a Jira connection, or sets it when `--project` or
/// `--issue-type` is given (`--issue-type` alone keeps the configured project).
pub async fn settings(a: SettingsArgs, cb: &Casebook, out: &Out) -> Result<u8, ApiError> {
    let s = if a.project.is_none() && a.issue_type.is_none() {
        cb.escalation_jira_settings(a.connection).await?
    } else {
        let project = match a.project {
            Some(p) => p,
            None => {
                let cur = cb.escalation_jira_settings(a.connection.clone()).await?;
                if cur.project.is_empty() {
                    return Err(ApiError::invalid(format!(
                        "no engineering project is configured for '{}'; pass --project KEY",
                        cur.connection_name
                    )));
                }
                cur.project
            }
        };
        cb.escalation_set_jira_settings(EscalationJiraSettingsInput {
            connection: a.connection,
            project,
            issue_type: a.issue_type,
        })
        .await?
    };
    if out.json {
        print_json(&s)?;
    } else {
        println!("{}", settings_text(&s));
    }
    Ok(0)
}

fn state_word(s: EscalationPushState) -> &'static str {
    match s {
        EscalationPushState::NotPushed => "not pushed",
        EscalationPushState::Queued => "queued",
        EscalationPushState::Failed => "failed",
        EscalationPushState::Pushed => "pushed",
    }
}

fn status_text(v: &EscalationPushView, ticket_key: &str) -> String {
    let mut s = format!(
        "escalation {} of {ticket_key}: {}",
        v.escalation_id,
        state_word(v.state)
    );
    if let (Some(k), Some(u)) = (&v.key, &v.url) {
        s.push_str(&format!(" as {k} ({u})"));
    } else if let Some(k) = &v.key {
        s.push_str(&format!(" as {k}"));
    }
    if let (Some(id), Some(st)) = (v.op_id, &v.op_status)
        && v.state != EscalationPushState::Pushed
    {
        s.push_str(&format!("; outbox operation {id} is {st}"));
    }
    if let Some(e) = &v.last_error {
        s.push_str(&format!("\n  last error: {e}"));
    }
    if v.state == EscalationPushState::Failed {
        s.push_str("\n  retry it with `casebook outbox retry <id>` or drop it with `casebook outbox discard <id> --yes`");
    }
    s
}

/// Fails when escalations cannot be pushed through `connection` (no Jira connection, or no
/// engineering project configured), with the façade's words.
pub async fn check_settings(connection: Option<String>, cb: &Casebook) -> Result<(), ApiError> {
    let s = cb.escalation_jira_settings(connection).await?;
    if s.project.is_empty() {
        return Err(ApiError::invalid(format!(
            "no engineering project is configured for the jira connection '{}'; set one with `casebook escalate settings --project KEY`",
            s.connection_name
        )));
    }
    Ok(())
}

/// Queues the push of escalation `id` (of `ticket_key`) and prints the outbox operation.
pub async fn push(
    id: i64,
    ticket_key: &str,
    connection: Option<String>,
    cb: &Casebook,
    out: &Out,
) -> Result<u8, ApiError> {
    let v = cb.escalation_push(id, connection).await?;
    if out.json {
        print_json(&v)?;
    } else {
        let op = v
            .op_id
            .map(|o| format!("outbox operation {o}"))
            .unwrap_or_else(|| "the outbox".into());
        println!(
            "queued escalation {id} of {ticket_key} as {op}; `casebook sync` creates the jira issue"
        );
    }
    Ok(0)
}

/// Prints where escalation `id`'s push stands.
pub async fn status(id: i64, ticket_key: &str, cb: &Casebook, out: &Out) -> Result<u8, ApiError> {
    let v = cb.escalation_push_status(id).await?;
    if out.json {
        print_json(&v)?;
    } else {
        println!("{}", status_text(&v, ticket_key));
    }
    Ok(0)
}
