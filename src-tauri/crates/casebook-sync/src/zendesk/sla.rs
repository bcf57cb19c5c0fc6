//! Zendesk's own SLA state: the ticket's SLA policy metrics, sideloaded with `include=slas` on
//! the same requests that read the ticket (no extra request), kept in `extra.sla` in the
//! vendor-neutral shape the SLA facts read (`casebook_core::sla::upstream_cycle`):
//! `{source: "zendesk", name, target, stage, breached, breach_at, completed, paused}`.
//!
//! - `metric`: `first_reply_time` is the response target; `agent_work_time` (time in new/open)
//!   is the resolution target, `requester_wait_time` stands in for it when the policy has no
//!   agent work time; the update metrics (`next_reply_time`, `periodic_update_time`,
//!   `pausable_update_time`) are kept as `update`.
//! - `stage`: `active` (running), `paused`, `achieved` (stopped). The sideload has no breach
//!   flag: `breached` stays null and the facts judge it from `breach_at` (a running metric past
//!   it is breached; an achieved one is met when the ticket was solved by it).
//! - A ticket without the sideload (an account without SLA policies, or an endpoint that ignores
//!   it) keeps no `extra.sla`: the local computation stands alone.

use super::parse_timestamp;
use crate::connector::SyncResult;
use crate::error::SyncError;
use serde_json::{Value, json};

/// The ticket's policy metrics in the vendor-neutral shape; `None` when the ticket carries none.
pub(super) fn policy_metrics(ticket: &Value) -> SyncResult<Option<Value>> {
    let Some(list) = ticket["slas"]["policy_metrics"].as_array() else {
        return Ok(None);
    };
    let has_agent_work = list
        .iter()
        .any(|m| m["metric"].as_str() == Some("agent_work_time"));
    let mut out = Vec::with_capacity(list.len());
    for m in list {
        let metric = m["metric"].as_str().unwrap_or_default();
        let target = match metric {
            "first_reply_time" => "response",
            "agent_work_time" => "resolution",
            "requester_wait_time" if !has_agent_work => "resolution",
            "requester_wait_time" => "requester_wait",
            "next_reply_time" | "periodic_update_time" | "pausable_update_time" => "update",
            _ => "other",
        };
        let stage = m["stage"].as_str().unwrap_or_default().to_ascii_lowercase();
        let breach_at = match &m["breach_at"] {
            Value::Null => None,
            Value::String(s) => Some(parse_timestamp("slas.breach_at", s)?),
            other => {
                return Err(SyncError::BadTimestamp {
                    field: "slas.breach_at".into(),
                    value: other.to_string().chars().take(40).collect(),
                });
            }
        };
        out.push(json!({
            "source": "zendesk",
            "name": metric,
            "target": target,
            "stage": stage,
            "breached": Value::Null,
            "breach_at": breach_at,
            "completed": stage == "achieved",
            "paused": stage == "paused",
        }));
    }
    Ok(Some(Value::Array(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_metrics_map_to_the_vendor_neutral_cycles() {
        let t = json!({ "slas": { "policy_metrics": [
            { "breach_at": "2026-11-21T10:00:00Z", "stage": "achieved", "metric": "first_reply_time", "hours": 0, "minutes": 0, "days": 0 },
            { "breach_at": "2026-11-21T17:00:00Z", "stage": "active", "metric": "requester_wait_time", "hours": 3, "minutes": 10, "days": 0 },
            { "breach_at": null, "stage": "paused", "metric": "agent_work_time" },
        ]}});
        let v = policy_metrics(&t).unwrap().unwrap();
        let targets: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["target"].as_str().unwrap())
            .collect();
        assert_eq!(targets, ["response", "requester_wait", "resolution"]);
        assert_eq!(v[0]["completed"], true);
        assert_eq!(v[1]["breach_at"], 1_795_280_400_000i64);
        assert_eq!(
            (v[2]["paused"].clone(), v[2]["breach_at"].clone()),
            (json!(true), Value::Null)
        );
        // Without agent work time, requester wait time is the resolution metric.
        let t = json!({ "slas": { "policy_metrics": [
            { "breach_at": "2026-11-21T17:00:00Z", "stage": "active", "metric": "requester_wait_time" },
        ]}});
        assert_eq!(
            policy_metrics(&t).unwrap().unwrap()[0]["target"],
            "resolution"
        );
        assert_eq!(policy_metrics(&json!({ "id": 1 })).unwrap(), None);
        let bad = json!({ "slas": { "policy_metrics": [{ "breach_at": "tomorrow", "stage": "active", "metric": "agent_work_time" }]}});
        assert!(matches!(
            policy_metrics(&bad),
            Err(SyncError::BadTimestamp { .. })
        ));
    }
}
