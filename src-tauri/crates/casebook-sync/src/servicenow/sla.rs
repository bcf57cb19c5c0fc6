//! ServiceNow's own SLA verdicts: the `task_sla` rows of the records of one page, read with ONE
//! query per page (`taskIN<sys_id,…>`, paged like the journal), never one per record, and kept
//! in the ticket's `extra.sla` in the vendor-neutral shape the SLA facts read
//! (`casebook_core::sla::upstream_cycle`):
//! `{source: "servicenow", name, target, stage, breached, breach_at, completed, paused,
//! business_percentage}`.
//!
//! - `sla.name` / `sla.target` are dot-walked from the SLA definition (`contract_sla`; target
//!   `response` or `resolution`); `stage` is `in_progress`, `paused`, `completed`, `cancelled`
//!   (or `breached` on the legacy 2010 engine); `has_breached` the breach flag;
//!   `planned_end_time` the breach time (an actual UTC value, refused when malformed).
//! - Without read access to `task_sla` (403, or the documented empty answer of a missing ACL)
//!   the tickets carry no upstream SLA: the local computation stands alone, the pull goes on.

use super::{Method, ServiceNow, map};
use crate::connector::SyncResult;
use crate::error::SyncError;
use crate::model::RemoteTicket;
use serde_json::{Value, json};
use std::collections::HashMap;

const SLA_FIELDS: &str = "sys_id,task,sla.name,sla.target,stage,has_breached,planned_end_time,\
    business_percentage,start_time";

/// Rows per request.
const LIMIT: usize = 1000;

impl ServiceNow {
    /// The `task_sla` rows of these records, grouped by record sys_id, oldest first.
    async fn task_slas(&self, ids: &[String]) -> SyncResult<HashMap<String, Vec<Value>>> {
        let mut by_task: HashMap<String, Vec<Value>> = HashMap::new();
        if ids.is_empty() {
            return Ok(by_task);
        }
        let q = format!("taskIN{}^ORDERBYstart_time^ORDERBYsys_id", ids.join(","));
        let mut read = 0usize;
        loop {
            let answer = self
                .call(
                    Method::Get,
                    &self.table_url("task_sla"),
                    &[
                        ("sysparm_query", q.clone()),
                        ("sysparm_fields", SLA_FIELDS.into()),
                        ("sysparm_display_value", "false".into()),
                        ("sysparm_exclude_reference_link", "true".into()),
                        ("sysparm_limit", LIMIT.to_string()),
                        ("sysparm_offset", read.to_string()),
                    ],
                    None,
                )
                .await;
            let rows = match answer {
                Ok((v, _)) => match v.get("result") {
                    Some(Value::Array(rows)) => rows.clone(),
                    _ => {
                        return Err(SyncError::MalformedJson {
                            what: "task_sla: no result list".into(),
                        });
                    }
                },
                // No read access to task_sla: no upstream verdicts, the local ones stand.
                Err(SyncError::HttpStatus { code: 403, .. }) | Err(SyncError::NotFound(_)) => {
                    tracing::info!("task_sla is not readable: upstream SLA verdicts skipped");
                    return Ok(HashMap::new());
                }
                Err(e) => return Err(e),
            };
            let n = rows.len();
            read += n;
            for r in rows {
                let task = text(&r, "task");
                if !task.is_empty() {
                    by_task.entry(task.to_owned()).or_default().push(r);
                }
            }
            if n < LIMIT {
                return Ok(by_task);
            }
        }
    }

    /// Adds each ticket's SLA cycles to its `extra.sla` (one query for all of them).
    pub(super) async fn with_slas(&self, tickets: &mut [RemoteTicket]) -> SyncResult<()> {
        let ids: Vec<String> = tickets.iter().map(|t| t.upstream_id.clone()).collect();
        let mut by_task = self.task_slas(&ids).await?;
        for t in tickets {
            if let Some(rows) = by_task.remove(&t.upstream_id) {
                let items = rows.iter().map(cycle).collect::<SyncResult<Vec<Value>>>()?;
                if let Value::Object(extra) = &mut t.extra {
                    extra.insert("sla".into(), Value::Array(items));
                }
            }
        }
        Ok(())
    }
}

fn text<'a>(r: &'a Value, k: &str) -> &'a str {
    match r.get(k) {
        Some(Value::String(s)) => s.trim(),
        Some(Value::Object(o)) => o.get("value").and_then(Value::as_str).unwrap_or_default(),
        _ => "",
    }
}

/// One `task_sla` row in the vendor-neutral shape.
pub(super) fn cycle(r: &Value) -> SyncResult<Value> {
    let stage = text(r, "stage").to_ascii_lowercase().replace(' ', "_");
    let breached = match text(r, "has_breached") {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    };
    // The legacy engine's stage says it.
    let breached = if stage == "breached" {
        Some(true)
    } else {
        breached
    };
    let breach_at = match text(r, "planned_end_time") {
        "" => None,
        v => Some(map::parse_timestamp("planned_end_time", v)?),
    };
    let target = text(r, "sla.target").to_ascii_lowercase();
    Ok(json!({
        "source": "servicenow",
        "name": text(r, "sla.name"),
        "target": if target.is_empty() { Value::Null } else { json!(target) },
        "stage": stage,
        "breached": breached,
        "breach_at": breach_at,
        "completed": !matches!(stage.as_str(), "in_progress" | "paused"),
        "paused": stage == "paused",
        "business_percentage": text(r, "business_percentage").parse::<f64>().ok(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_sla_rows_map_to_the_vendor_neutral_cycle() {
        let row = json!({
            "sys_id": "s1", "task": "t1", "sla.name": "Priority 3 resolution (5 days)",
            "sla.target": "resolution", "stage": "in_progress", "has_breached": "false",
            "planned_end_time": "2026-11-21 17:00:00", "business_percentage": "41.5",
        });
        let c = cycle(&row).unwrap();
        assert_eq!(c["target"], "resolution");
        assert_eq!(c["breached"], false);
        assert_eq!(c["completed"], false);
        assert_eq!(c["breach_at"], 1_795_280_400_000i64);
        assert_eq!(c["business_percentage"], 41.5);
        let legacy = json!({ "stage": "Breached", "has_breached": "" });
        let c = cycle(&legacy).unwrap();
        assert_eq!(
            (c["breached"].clone(), c["completed"].clone()),
            (json!(true), json!(true))
        );
        assert_eq!(c["breach_at"], Value::Null);
        // A display value in the user's zone is refused, never guessed.
        let bad = json!({ "stage": "completed", "planned_end_time": "21/11/2026 17:00" });
        assert!(matches!(cycle(&bad), Err(SyncError::BadTimestamp { .. })));
    }
}
