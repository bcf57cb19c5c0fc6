//! The fake Zendesk's SLA policy metrics: the `slas` sideload (`include=slas`) on the reads that
//! return tickets (show, incremental export, search export), as
//! `ticket.slas.policy_metrics: [{breach_at, stage, metric, days, hours, minutes}]` (`stage`
//! `active` / `paused` / `achieved`; `breach_at` RFC 3339 UTC or null). A ticket without metrics
//! gets an empty list; without `include=slas` nothing is added. Setting metrics does not change
//! the ticket's `updated_at` (a breach is no ticket update).

use crate::faults::lock;
use crate::server::{Request, Response};
use crate::zendesk::{State, ZendeskFake, zd_time};
use serde_json::{Value, json};
use std::sync::Mutex;

/// One policy metric of a ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyMetric {
    /// `first_reply_time`, `agent_work_time`, `requester_wait_time`, `next_reply_time`, …
    pub metric: String,
    pub stage: String,
    /// Seconds since the epoch.
    pub breach_at_secs: Option<i64>,
}

impl PolicyMetric {
    pub fn new(metric: &str, stage: &str, breach_at_secs: Option<i64>) -> PolicyMetric {
        PolicyMetric {
            metric: metric.into(),
            stage: stage.into(),
            breach_at_secs,
        }
    }

    fn json(&self, now: i64) -> Value {
        // Time left (negative once breached), as the sideload shows it.
        let left = self.breach_at_secs.map_or(0, |b| b - now);
        json!({
            "breach_at": self.breach_at_secs.map(zd_time),
            "stage": self.stage,
            "metric": self.metric,
            "days": left / 86_400,
            "hours": (left % 86_400) / 3600,
            "minutes": (left % 3600) / 60,
        })
    }
}

impl ZendeskFake {
    /// Replaces a ticket's policy metrics.
    pub fn set_sla_metrics(&self, id: u64, metrics: Vec<PolicyMetric>) {
        self.with_state(|s| {
            s.sla_metrics.insert(id, metrics);
        })
    }
}

/// Adds the `slas` sideload to every ticket of a successful answer when the request asked for it.
pub(crate) fn sideload(resp: Response, req: &Request, state: &Mutex<State>) -> Response {
    let asked = req
        .param("include")
        .is_some_and(|i| i.split(',').any(|x| x.trim() == "slas"));
    if !asked || resp.status != 200 {
        return resp;
    }
    let Ok(mut body) = serde_json::from_slice::<Value>(&resp.body) else {
        return resp;
    };
    let s = lock(state);
    let add = |t: &mut Value| {
        let metrics: Vec<Value> = t["id"]
            .as_u64()
            .and_then(|id| s.sla_metrics.get(&id))
            .map(|m| m.iter().map(|p| p.json(s.now)).collect())
            .unwrap_or_default();
        if t.is_object() {
            t["slas"] = json!({ "policy_metrics": metrics });
        }
    };
    if body.get("ticket").is_some() {
        add(&mut body["ticket"]);
    }
    for list in ["tickets", "results"] {
        if let Some(Value::Array(a)) = body.get_mut(list) {
            a.iter_mut().for_each(add);
        }
    }
    Response {
        body: serde_json::to_vec(&body).unwrap_or_default(),
        ..resp
    }
}
