//! Escalation drafts in the workspace database (migration 0005): created from a ticket, saved as
//! the agent types (with a revision check so two windows never overwrite each other), and an
//! audit row per export with the kinds and counts redacted — never values.

use crate::export::{ExportError, ExportFormat, Exported};
use crate::logs::LogError;
use crate::package::{self, PackageContent};
use crate::redact::{AuditSummary, RedactError};
use casebook_core::Store;
use casebook_core::StoreError;
use casebook_core::model::TicketId;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// Largest package content accepted (JSON bytes).
pub const MAX_CONTENT_BYTES: usize = 8 << 20;
/// Largest single extract (bytes).
pub const MAX_EXTRACT_BYTES: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum EscalationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("escalation {0} not found")]
    NotFound(i64),
    #[error(
        "escalation {id} changed since you loaded it (revision {current}, you edited {expected}); reload and reapply"
    )]
    Stale {
        id: i64,
        expected: i64,
        current: i64,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(transparent)]
    Logs(#[from] LogError),
    #[error(transparent)]
    Redact(#[from] RedactError),
}

impl From<rusqlite::Error> for EscalationError {
    fn from(e: rusqlite::Error) -> Self {
        EscalationError::Store(StoreError::Sql(e))
    }
}

pub type Result<T, E = EscalationError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum DraftStatus {
    Draft,
    Exported,
    Pushed,
}

impl DraftStatus {
    fn as_str(self) -> &'static str {
        match self {
            DraftStatus::Draft => "draft",
            DraftStatus::Exported => "exported",
            DraftStatus::Pushed => "pushed",
        }
    }

    fn parse(s: &str) -> Option<DraftStatus> {
        Some(match s {
            "draft" => DraftStatus::Draft,
            "exported" => DraftStatus::Exported,
            "pushed" => DraftStatus::Pushed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    pub id: i64,
    pub ticket_id: TicketId,
    pub ticket_key: String,
    pub status: DraftStatus,
    pub content: PackageContent,
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftSummary {
    pub id: i64,
    pub ticket_id: TicketId,
    pub title: String,
    pub status: DraftStatus,
    pub score: u8,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: i64,
    pub action: String,
    pub redaction: AuditSummary,
}

/// Checks the limits a saved package must meet.
pub fn validate(content: &PackageContent) -> Result<String> {
    if content.title.trim().is_empty() {
        return Err(EscalationError::Invalid(
            "an escalation needs a title".into(),
        ));
    }
    if content.title.chars().count() > 300 {
        return Err(EscalationError::Invalid(
            "the title is longer than 300 characters".into(),
        ));
    }
    for (i, x) in content.evidence.extracts.iter().enumerate() {
        if x.text.len() > MAX_EXTRACT_BYTES {
            return Err(EscalationError::Invalid(format!(
                "extract {} is larger than {} KiB: choose fewer lines",
                i + 1,
                MAX_EXTRACT_BYTES >> 10
            )));
        }
        if x.first_line > x.last_line {
            return Err(EscalationError::Invalid(format!(
                "extract {}: first line {} is after last line {}",
                i + 1,
                x.first_line,
                x.last_line
            )));
        }
    }
    let json = serde_json::to_string(content)
        .map_err(|e| EscalationError::Invalid(format!("the package cannot be stored: {e}")))?;
    if json.len() > MAX_CONTENT_BYTES {
        return Err(EscalationError::Invalid(format!(
            "the package is larger than {} MiB",
            MAX_CONTENT_BYTES >> 20
        )));
    }
    Ok(json)
}

fn bad_data(what: &str) -> EscalationError {
    EscalationError::Store(StoreError::Data(what.to_owned()))
}

fn load(c: &rusqlite::Connection, id: i64) -> Result<Draft> {
    let row = c
        .prepare_cached(
            "SELECT e.id, e.ticket_id, t.key, e.status, e.content, e.revision, e.created_at, e.updated_at \
             FROM escalations e JOIN tickets t ON t.id = e.ticket_id WHERE e.id = ?",
        )?
        .query_row([id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
            ))
        })
        .optional()?;
    let Some((id, ticket_id, ticket_key, status, content, revision, created_at, updated_at)) = row
    else {
        return Err(EscalationError::NotFound(id));
    };
    Ok(Draft {
        id,
        ticket_id,
        ticket_key,
        status: DraftStatus::parse(&status).ok_or_else(|| bad_data("unknown escalation status"))?,
        content: serde_json::from_str(&content)
            .map_err(|e| bad_data(&format!("escalation {id} content: {e}")))?,
        revision,
        created_at,
        updated_at,
    })
}

/// Creates a draft prefilled from the ticket (sections, timeline from its event log, links).
pub fn create(store: &Store, ticket_id: TicketId, now: i64) -> Result<Draft> {
    let detail = store.ticket(ticket_id)?;
    let events = store.events_for(ticket_id)?;
    let content = package::prefill(&detail, &events);
    let json = validate(&content)?;
    let score = content.completeness().score;
    let id = store.write(|tx| {
        tx.execute(
            "INSERT INTO escalations (ticket_id, title, content, score, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
            params![ticket_id, content.title, json, score, now, now],
        )?;
        Ok(tx.last_insert_rowid())
    })?;
    get(store, id)
}

pub fn get(store: &Store, id: i64) -> Result<Draft> {
    let mut out = None;
    let r = store.read(|c| {
        out = Some(load(c, id));
        Ok(())
    });
    r?;
    out.unwrap_or(Err(EscalationError::NotFound(id)))
}

/// Drafts of one ticket (or all), most recently edited first.
pub fn list(store: &Store, ticket_id: Option<TicketId>) -> Result<Vec<DraftSummary>> {
    Ok(store.read(|c| {
        let mut stmt = c.prepare_cached(
            "SELECT id, ticket_id, title, status, score, updated_at FROM escalations \
             WHERE (?1 IS NULL OR ticket_id = ?1) ORDER BY updated_at DESC, id DESC",
        )?;
        let rows = stmt
            .query_map([ticket_id], |r| {
                let status: String = r.get(3)?;
                Ok(DraftSummary {
                    id: r.get(0)?,
                    ticket_id: r.get(1)?,
                    title: r.get(2)?,
                    status: DraftStatus::parse(&status).unwrap_or(DraftStatus::Draft),
                    score: r.get::<_, i64>(4)?.clamp(0, 100) as u8,
                    updated_at: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    })?)
}

/// Saves the agent's edits, refusing them if the draft changed since `expected_revision`.
pub fn save(
    store: &Store,
    id: i64,
    expected_revision: i64,
    content: &PackageContent,
    now: i64,
) -> Result<Draft> {
    let json = validate(content)?;
    let score = content.completeness().score;
    let mut outcome: Result<()> = Ok(());
    store.write(|tx| {
        let current: Option<i64> = tx
            .query_row("SELECT revision FROM escalations WHERE id = ?", [id], |r| r.get(0))
            .optional()?;
        match current {
            None => outcome = Err(EscalationError::NotFound(id)),
            Some(cur) if cur != expected_revision => {
                outcome = Err(EscalationError::Stale {
                    id,
                    expected: expected_revision,
                    current: cur,
                })
            }
            Some(_) => {
                tx.execute(
                    "UPDATE escalations SET title = ?, content = ?, score = ?, revision = revision + 1, \
                     updated_at = ? WHERE id = ?",
                    params![content.title, json, score, now, id],
                )?;
            }
        }
        Ok(())
    })?;
    outcome?;
    get(store, id)
}

pub fn delete(store: &Store, id: i64) -> Result<()> {
    let n = store.write(|tx| Ok(tx.execute("DELETE FROM escalations WHERE id = ?", [id])?))?;
    if n == 0 {
        return Err(EscalationError::NotFound(id));
    }
    Ok(())
}

/// Exports a draft (fail closed: see [`crate::export`]) and records the audit entry and the
/// status in the same transaction, so an export that happened is always audited.
pub fn export(store: &Store, id: i64, format: ExportFormat, now: i64) -> Result<Exported> {
    let draft = get(store, id)?;
    let out = crate::export::export(&draft.content, format, now)?;
    let audit = serde_json::to_string(&out.audit)
        .map_err(|e| EscalationError::Invalid(format!("audit summary: {e}")))?;
    store.write(|tx| {
        tx.execute(
            "INSERT INTO escalation_audit (escalation_id, at, action, redaction) VALUES (?, ?, ?, ?)",
            params![id, now, format!("export_{}", format.extension()), audit],
        )?;
        tx.execute(
            "UPDATE escalations SET status = ? WHERE id = ? AND status = 'draft'",
            params![DraftStatus::Exported.as_str(), id],
        )?;
        Ok(())
    })?;
    Ok(out)
}

/// The export audit of a draft, oldest first.
pub fn audit(store: &Store, id: i64) -> Result<Vec<AuditEntry>> {
    let rows: Vec<(i64, String, String)> = store.read(|c| {
        let mut stmt = c.prepare_cached(
            "SELECT at, action, redaction FROM escalation_audit WHERE escalation_id = ? ORDER BY at, id",
        )?;
        let rows = stmt
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    })?;
    rows.into_iter()
        .map(|(at, action, red)| {
            Ok(AuditEntry {
                at,
                action,
                redaction: serde_json::from_str(&red).map_err(|e| bad_data(&e.to_string()))?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use casebook_core::OpenMode;
    use casebook_core::model::{NewTicket, Priority};
    use casebook_core::store::{Actor, Origin};

    fn store_with_ticket() -> (tempfile::TempDir, Store, i64) {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open(&dir.path().join("casebook.db"), OpenMode::CreateIfMissing).unwrap();
        let mut t = NewTicket::local("Invoices fail with 503");
        t.description = "Customer bob@example.com reports invoice errors.\n\nSteps to reproduce:\n1. Open order 1841\n2. Click Invoice\n\nExpected: a PDF\nActual: HTTP 503".into();
        t.priority = Priority::High;
        t.organization = Some("ACME EU".into());
        t.extra = serde_json::json!({"product_version": "4.2.1", "region": "eu-west-1"});
        let actor = Actor {
            name: "ana",
            origin: Origin::App,
            now: 1_000,
        };
        let ticket = store.create_ticket(t, &actor).unwrap();
        (dir, store, ticket.id)
    }

    #[test]
    fn create_prefills_from_the_ticket_and_its_history() {
        let (_d, store, tid) = store_with_ticket();
        let d = create(&store, tid, 2_000).unwrap();
        assert_eq!(d.revision, 1);
        let c = &d.content;
        assert!(c.title.ends_with("Invoices fail with 503") && c.title.starts_with("[CB-"));
        assert_eq!(c.severity, package::Severity::Sev2);
        assert_eq!(
            c.steps_to_reproduce,
            vec!["Open order 1841", "Click Invoice"]
        );
        assert_eq!(
            (c.expected.as_str(), c.actual.as_str()),
            ("a PDF", "HTTP 503")
        );
        assert_eq!(c.environment.product_version, "4.2.1");
        assert_eq!(c.environment.region, "eu-west-1");
        assert_eq!(c.impact.who, "ACME EU");
        assert_eq!(c.timeline.len(), 1);
        assert_eq!(
            c.timeline[0].at, 1_000,
            "the action time from the event log"
        );
        let missing = c.completeness().missing;
        assert!(
            missing.contains(&package::QualityPart::Evidence)
                && missing.contains(&package::QualityPart::Workaround)
        );
        assert_eq!(list(&store, Some(tid)).unwrap().len(), 1);
    }

    #[test]
    fn save_checks_the_revision_and_limits() {
        let (_d, store, tid) = store_with_ticket();
        let d = create(&store, tid, 2_000).unwrap();
        let mut c = d.content.clone();
        c.workaround.tried = "restart".into();
        let saved = save(&store, d.id, 1, &c, 3_000).unwrap();
        assert_eq!((saved.revision, saved.updated_at), (2, 3_000));
        assert_eq!(saved.content.workaround.tried, "restart");
        let err = save(&store, d.id, 1, &c, 4_000).unwrap_err();
        assert!(
            matches!(
                err,
                EscalationError::Stale {
                    expected: 1,
                    current: 2,
                    ..
                }
            ),
            "{err}"
        );
        c.title = "  ".into();
        assert!(
            save(&store, d.id, 2, &c, 4_000)
                .unwrap_err()
                .to_string()
                .contains("needs a title")
        );
        assert!(matches!(
            save(&store, 999, 1, &d.content, 1).unwrap_err(),
            EscalationError::NotFound(999)
        ));
        // Nothing half-written: the stored draft is the last good save.
        assert_eq!(
            get(&store, d.id).unwrap().content.workaround.tried,
            "restart"
        );
    }

    #[test]
    fn export_is_audited_with_counts_only() {
        let (_d, store, tid) = store_with_ticket();
        let d = create(&store, tid, 2_000).unwrap();
        let out = export(&store, d.id, ExportFormat::Markdown, 5_000).unwrap();
        let md = String::from_utf8(out.bytes).unwrap();
        assert!(
            !md.contains("bob@example.com") && md.contains("\\<email-1>"),
            "{md}"
        );
        let a = audit(&store, d.id).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].at, a[0].action.as_str()), (5_000, "export_md"));
        assert_eq!(a[0].redaction.counts["email"], 1);
        assert_eq!(get(&store, d.id).unwrap().status, DraftStatus::Exported);
        let raw: String = store
            .read(|c| Ok(c.query_row("SELECT redaction FROM escalation_audit", [], |r| r.get(0))?))
            .unwrap();
        assert!(!raw.contains("bob"), "{raw}");
    }

    #[test]
    fn a_failed_export_writes_no_audit_and_keeps_the_status() {
        let (_d, store, tid) = store_with_ticket();
        let d = create(&store, tid, 2_000).unwrap();
        let mut c = d.content.clone();
        c.redaction.custom_rules.push(crate::redact::CustomRule {
            label: "x".into(),
            pattern: "(".into(),
            literal: false,
        });
        save(&store, d.id, 1, &c, 3_000).unwrap();
        let err = export(&store, d.id, ExportFormat::Zip, 4_000).unwrap_err();
        assert!(err.to_string().contains("nothing was exported"), "{err}");
        assert!(audit(&store, d.id).unwrap().is_empty());
        assert_eq!(get(&store, d.id).unwrap().status, DraftStatus::Draft);
    }
}
