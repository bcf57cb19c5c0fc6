//! `casebook export-outbox`: every local change not yet pushed upstream, written to a plain JSON
//! file the agent chooses — so that nothing unsynced exists only inside the encrypted database
//! (whose key could be lost with a keyring reset). See docs/security.md.

use crate::error::ApiError;
use crate::{Casebook, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct OutboxExportReport {
    pub path: String,
    #[ts(type = "number")]
    pub operations: u64,
}

impl Casebook {
    /// Writes the open outbox operations (with their tickets' keys and titles) to `path`, which
    /// must not exist yet. The file is not encrypted: keep it somewhere safe.
    pub async fn export_outbox(&self, path: PathBuf) -> Result<OutboxExportReport> {
        self.blocking("exporting the outbox", move |i| {
            let ops = i.store.outbox_open(None)?;
            let mut items = Vec::with_capacity(ops.len());
            for op in &ops {
                let (key, title) = match i.store.ticket(op.ticket_id) {
                    Ok(d) => (Some(d.ticket.key), Some(d.ticket.title)),
                    Err(_) => (None, None),
                };
                let mut v = serde_json::to_value(op)
                    .map_err(|e| ApiError::internal("exporting the outbox", &e))?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("ticketKey".into(), key.into());
                    o.insert("ticketTitle".into(), title.into());
                }
                items.push(v);
            }
            let doc = serde_json::json!({
                "format": "casebook-outbox-export/1",
                "exportedAt": i.clock.now(),
                "workspace": i.home.display().to_string(),
                "operations": items,
            });
            let text = serde_json::to_string_pretty(&doc)
                .map_err(|e| ApiError::internal("exporting the outbox", &e))?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| {
                    ApiError::invalid(format!(
                        "cannot create {} ({e}); choose a new file name",
                        path.display()
                    ))
                })?;
            f.write_all(text.as_bytes())
                .and_then(|_| f.write_all(b"\n"))
                .and_then(|_| f.sync_all())
                .map_err(|e| ApiError::invalid(format!("cannot write {}: {e}", path.display())))?;
            Ok(OutboxExportReport {
                path: path.display().to_string(),
                operations: ops.len() as u64,
            })
        })
        .await
    }
}
