//! Bulk insertion of imported tickets. One transaction per batch: a batch is either entirely in
//! the store or not at all, so an import killed half-way leaves only whole tickets behind.

use super::events::{EventKind, NewEvent, Origin, append_event};
use super::tickets::{insert_ticket_unless_key_exists, validate_ticket_text};
use super::{Result, Store};
use crate::model::{Millis, NewTicket};
use serde_json::{Value, json};

/// One change in an imported ticket's history (for example a row of a ServiceNow audit export).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedUpdate {
    pub at: Millis,
    pub actor: String,
    /// `{ field: { "from": …, "to": … } }`
    pub changes: serde_json::Map<String, Value>,
}

/// A ticket as an importer produced it, with its history.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedTicket {
    pub ticket: NewTicket,
    /// Who opened it (the `created` event's actor).
    pub created_by: Option<String>,
    pub history: Vec<ImportedUpdate>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportBatchReport {
    pub inserted: u64,
    /// Keys that were already in the store (re-importing a file changes nothing).
    pub duplicates: Vec<String>,
}

impl Store {
    /// Inserts a batch of imported tickets in one transaction. Tickets whose key is already present
    /// are skipped and reported; imported history becomes events with origin `import` and creates
    /// no outbox operation.
    pub fn import_batch(
        &self,
        batch: &[ImportedTicket],
        importer: &str,
        now: Millis,
    ) -> Result<ImportBatchReport> {
        for t in batch {
            validate_ticket_text(&t.ticket.title, &t.ticket.description)?;
        }
        self.write(|tx| {
            let mut report = ImportBatchReport::default();
            for item in batch {
                let Some(key) = item.ticket.key.as_deref() else {
                    return Err(super::StoreError::Invalid(
                        "an imported ticket needs a key".into(),
                    ));
                };
                let Some(id) = insert_ticket_unless_key_exists(tx, &item.ticket, key, now)? else {
                    report.duplicates.push(key.to_owned());
                    continue;
                };
                let created_at = item.ticket.created_at.unwrap_or(now);
                let actor = item.created_by.as_deref().unwrap_or(importer);
                append_event(
                    tx,
                    &NewEvent {
                        ticket_id: id,
                        kind: EventKind::Created,
                        actor,
                        at: created_at,
                        recorded_at: now,
                        origin: Origin::Import,
                        data: json!({ "key": key, "title": item.ticket.title }),
                    },
                )?;
                for u in &item.history {
                    append_event(
                        tx,
                        &NewEvent {
                            ticket_id: id,
                            kind: EventKind::Updated,
                            actor: &u.actor,
                            at: u.at,
                            recorded_at: now,
                            origin: Origin::Import,
                            data: json!({ "changes": u.changes }),
                        },
                    )?;
                }
                report.inserted += 1;
            }
            Ok(report)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::temp_store;

    fn item(key: &str) -> ImportedTicket {
        let mut t = NewTicket::local(format!("ticket {key}"));
        t.key = Some(key.into());
        t.created_at = Some(100);
        ImportedTicket {
            ticket: t,
            created_by: Some("caller-7".into()),
            history: vec![ImportedUpdate {
                at: 200,
                actor: "agent-3".into(),
                changes: json!({"state": {"from": "new", "to": "open"}})
                    .as_object()
                    .unwrap()
                    .clone(),
            }],
        }
    }

    #[test]
    fn batches_insert_history_and_skip_duplicates() {
        let (_d, s) = temp_store();
        let r = s
            .import_batch(&[item("INC1"), item("INC2")], "importer", 1_000)
            .unwrap();
        assert_eq!(r.inserted, 2);
        let r2 = s
            .import_batch(&[item("INC2"), item("INC3")], "importer", 2_000)
            .unwrap();
        assert_eq!(
            (r2.inserted, r2.duplicates.clone()),
            (1, vec!["INC2".to_owned()])
        );
        let id = s.resolve_key("inc1").unwrap();
        let ev = s.events_for(id).unwrap();
        let kinds: Vec<_> = ev
            .iter()
            .map(|e| (e.kind, e.actor.as_str(), e.at))
            .collect();
        assert_eq!(
            kinds,
            [
                (EventKind::Created, "caller-7", 100),
                (EventKind::Updated, "agent-3", 200)
            ]
        );
        assert_eq!(
            s.outbox_pending_count().unwrap(),
            0,
            "imports are not local edits"
        );
    }

    #[test]
    fn a_bad_ticket_rejects_the_whole_batch() {
        let (_d, s) = temp_store();
        let mut bad = item("INC9");
        bad.ticket.title = " ".into();
        assert!(s.import_batch(&[item("INC8"), bad], "importer", 1).is_err());
        assert_eq!(s.ticket_count().unwrap(), 0);
    }
}
