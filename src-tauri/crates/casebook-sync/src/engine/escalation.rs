//! Pushing an escalation package (outbox operation [`ESCALATION_OP`]): create the issue exactly
//! once (its marker is looked up first after any earlier attempt of the operation, whatever
//! that attempt's outcome), upload each redacted extract unless the issue already has a file of
//! that name, then record the link on the source ticket and the issue key on the escalation.

use super::{OpEnd, SyncEngine, SyncReport};
use crate::error::SyncError;
use crate::escalation::{EscalationPayload, NewEscalationIssue};
use casebook_core::store::SyncOp;
use std::sync::Arc;

impl SyncEngine {
    pub(super) async fn push_escalation(
        &self,
        op: &SyncOp,
        marker: &str,
        was_unknown: bool,
        report: &mut SyncReport,
    ) -> Result<OpEnd, (SyncError, bool)> {
        let p: EscalationPayload = serde_json::from_value(op.payload.clone()).map_err(|e| {
            (
                SyncError::Local(format!("the escalation push is unreadable: {e}")),
                false,
            )
        })?;
        let issue = NewEscalationIssue {
            project: p.project.clone(),
            issue_type: p.issue_type.clone(),
            summary: p.summary.clone(),
            description_md: p.description_md.clone(),
            labels: p.labels.clone(),
            marker: marker.to_owned(),
        };
        // Any earlier attempt (lost answer, or an attachment that failed after the issue was
        // created) may have left the issue upstream: look for it before creating one.
        let look_first = was_unknown || op.attempts > 0;
        let c = Arc::clone(&self.connector);
        let created = self
            .exactly_once(
                look_first,
                report,
                || {
                    let (c, project, m) = (Arc::clone(&c), p.project.clone(), marker.to_owned());
                    async move { c.find_escalation(&project, &m).await }
                },
                || {
                    let (c, i) = (Arc::clone(&c), issue.clone());
                    async move { c.create_escalation(&i).await }
                },
            )
            .await?;
        if !p.attachments.is_empty() {
            let names = self
                .read(report, || {
                    let (c, k) = (Arc::clone(&c), created.key.clone());
                    async move { c.attachment_names(&k).await }
                })
                .await
                .map_err(|e| (e, false))?;
            for a in &p.attachments {
                if names.contains(&a.file_name) {
                    continue;
                }
                self.exactly_once(
                    false,
                    report,
                    || {
                        let (c, k, f) = (Arc::clone(&c), created.key.clone(), a.file_name.clone());
                        async move {
                            let names = c.attachment_names(&k).await?;
                            Ok(names.contains(&f).then_some(()))
                        }
                    },
                    || {
                        let (c, k, a) = (Arc::clone(&c), created.key.clone(), a.clone());
                        async move { c.add_attachment(&k, &a.file_name, a.text.as_bytes()).await }
                    },
                )
                .await?;
            }
        }
        let (id, now) = (op.id, self.now());
        let (key, url, summary) = (created.key, created.url, p.summary);
        self.db(move |s| s.escalation_pushed(id, &key, &url, &summary, now))
            .await
            .map_err(|e| (e, false))?;
        Ok(OpEnd::Done)
    }
}
