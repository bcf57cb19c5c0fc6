//! The fake ServiceNow's `task_sla` table: one row per SLA attached to a task, as the Table API
//! returns it with `sysparm_display_value=false` (actual values as strings, `planned_end_time`
//! in UTC `YYYY-MM-DD HH:MM:SS`, `has_breached` `"true"`/`"false"`, the definition's `name` and
//! `target` dot-walked as `sla.name` / `sla.target`). Queried through the generic table
//! listing (`taskIN…`, `ORDERBY…`, pages). Like the real instance, changing a `task_sla` row does
//! not touch its incident's `sys_updated_on`.

use crate::servicenow::{Record, ServiceNowFake, sn_time};
use serde_json::{Map, json};

/// A `task_sla` row to attach to a task.
#[derive(Debug, Clone)]
pub struct TaskSla {
    /// The SLA definition's name (`sla.name`).
    pub name: String,
    /// `response` or `resolution` (`sla.target`).
    pub target: String,
    /// `in_progress`, `paused`, `completed`, `cancelled`.
    pub stage: String,
    pub has_breached: bool,
    /// Breach time, seconds since the epoch.
    pub planned_end_secs: i64,
    pub business_percentage: f64,
}

impl TaskSla {
    pub fn resolution(stage: &str, has_breached: bool, planned_end_secs: i64) -> TaskSla {
        TaskSla {
            name: "Priority 3 resolution (8 hour)".into(),
            target: "resolution".into(),
            stage: stage.into(),
            has_breached,
            planned_end_secs,
            business_percentage: if has_breached { 112.5 } else { 40.0 },
        }
    }
}

impl ServiceNowFake {
    /// Attaches an SLA row to a task (an incident's sys_id); returns the row's sys_id.
    pub fn add_task_sla(&self, task: &str, sla: TaskSla) -> String {
        self.with_state(|s| {
            let n = s.records.iter().filter(|r| r.table == "task_sla").count() + 1;
            let sys_id = format!("{:032x}", 0x51a_0000_0000u64 + n as u64);
            let now = sn_time(s.now);
            let mut m = Map::new();
            for (k, v) in [
                ("sys_id", sys_id.clone()),
                ("task", task.to_owned()),
                ("sla.name", sla.name),
                ("sla.target", sla.target),
                ("stage", sla.stage),
                ("has_breached", sla.has_breached.to_string()),
                ("planned_end_time", sn_time(sla.planned_end_secs)),
                (
                    "business_percentage",
                    format!("{:.2}", sla.business_percentage),
                ),
                ("start_time", now.clone()),
                ("sys_created_on", now.clone()),
                ("sys_updated_on", now),
                ("sys_mod_count", "0".to_owned()),
            ] {
                m.insert(k.into(), json!(v));
            }
            s.records.push(Record {
                table: "task_sla".into(),
                fields: m,
            });
            sys_id
        })
    }

    /// Changes a `task_sla` row (the incident is not touched, as on a real instance).
    pub fn edit_task_sla(&self, sys_id: &str, fields: &[(&str, &str)]) {
        self.with_state(|s| {
            if let Some(r) = s
                .records
                .iter_mut()
                .find(|r| r.table == "task_sla" && r.sys_id() == sys_id)
            {
                for (k, v) in fields {
                    r.fields.insert((*k).into(), json!(v));
                }
            }
        })
    }
}
