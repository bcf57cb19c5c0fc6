//! ServiceNow JSON ↔ the canonical model.

use crate::error::SyncError;
use crate::model::{
    Field, FieldValues, RemoteArticle, RemoteComment, RemoteFields, RemoteTicket, RemoteVersion,
    extract_marker,
};
use casebook_core::model::{Millis, Priority, TicketState, Visibility};
use serde_json::{Map, Value, json};

/// Parses an actual (UTC) ServiceNow date-time, `YYYY-MM-DD HH:MM:SS`. Any other shape (an
/// offset, `T`, fractions, a display value in the user's zone) is refused, never guessed.
pub fn parse_timestamp(field: &str, s: &str) -> Result<Millis, SyncError> {
    let bad = || SyncError::BadTimestamp {
        field: field.to_owned(),
        value: s.chars().take(40).collect(),
    };
    let b = s.as_bytes();
    let shape_ok = b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(bad());
    }
    let dt = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", s).map_err(|_| bad())?;
    let ts = dt.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| bad())?;
    Ok(ts.timestamp().as_millisecond())
}

/// Formats UTC ms as an actual ServiceNow date-time (second precision).
pub fn format_timestamp(ms: Millis) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => "1970-01-01 00:00:00".into(),
    }
}

fn s<'a>(r: &'a Value, k: &str) -> &'a str {
    match r.get(k) {
        Some(Value::String(v)) => v,
        // A reference field when the link was not excluded.
        Some(Value::Object(o)) => o.get("value").and_then(Value::as_str).unwrap_or_default(),
        _ => "",
    }
}

fn opt(r: &Value, k: &str) -> Option<String> {
    let v = s(r, k).trim();
    (!v.is_empty()).then(|| v.to_owned())
}

fn required<'a>(r: &'a Value, k: &str, what: &str) -> Result<&'a str, SyncError> {
    let v = s(r, k);
    if v.is_empty() {
        return Err(SyncError::MalformedJson {
            what: format!("{what} without {k}"),
        });
    }
    Ok(v)
}

/// A reference field as the workspace shows it: the dot-walked readable value (user name, group
/// name), or the sys_id when the referenced record could not be read (deleted, or no read
/// access to it: the Table API then answers an empty dot-walked value).
fn reference(r: &Value, column: &str, readable: &str) -> Option<String> {
    opt(r, readable).or_else(|| opt(r, column))
}

pub fn version(r: &Value) -> Result<RemoteVersion, SyncError> {
    let count = required(r, "sys_mod_count", "a record")?;
    let updated = required(r, "sys_updated_on", "a record")?;
    Ok(RemoteVersion {
        token: count.to_owned(),
        updated_at: parse_timestamp("sys_updated_on", updated)?,
    })
}

/// Incident `state` (+ `hold_reason`) → normalized state. 3 with hold reason 1 ("awaiting
/// caller") is pending; other holds are on hold.
fn state(r: &Value) -> TicketState {
    match s(r, "state") {
        "1" => TicketState::New,
        "2" => TicketState::Open,
        "3" if s(r, "hold_reason") == "1" => TicketState::Pending,
        "3" => TicketState::OnHold,
        "6" => TicketState::Resolved,
        "7" | "8" => TicketState::Closed,
        other => TicketState::from_upstream_label(other).unwrap_or(TicketState::Open),
    }
}

fn priority(r: &Value) -> Priority {
    match s(r, "priority") {
        "1" => Priority::Critical,
        "2" => Priority::High,
        "3" => Priority::Medium,
        "4" | "5" => Priority::Low,
        other => Priority::from_upstream_label(other).unwrap_or(Priority::Medium),
    }
}

pub fn comment(j: &Value) -> Result<RemoteComment, SyncError> {
    let (body, marker) = extract_marker(s(j, "value"));
    Ok(RemoteComment {
        upstream_id: required(j, "sys_id", "a journal entry")?.to_owned(),
        visibility: if s(j, "element") == "comments" {
            Visibility::Public
        } else {
            Visibility::Internal
        },
        author: opt(j, "sys_created_by").unwrap_or_else(|| "servicenow".into()),
        body,
        created_at: parse_timestamp(
            "sys_created_on",
            required(j, "sys_created_on", "a journal entry")?,
        )?,
        marker,
    })
}

pub fn ticket(
    scope: &str,
    r: &Value,
    journal: &[Value],
    base_url: &str,
) -> Result<RemoteTicket, SyncError> {
    let sys_id = required(r, "sys_id", "a record")?.to_owned();
    let number = opt(r, "number").unwrap_or_else(|| sys_id.clone());
    let comments = journal
        .iter()
        .filter(|j| s(j, "element_id") == sys_id)
        .map(comment)
        .collect::<Result<Vec<_>, _>>()?;
    let created_at = parse_timestamp("sys_created_on", required(r, "sys_created_on", "a record")?)?;
    let resolved_at = match opt(r, "resolved_at") {
        Some(v) => Some(parse_timestamp("resolved_at", &v)?),
        None => None,
    };
    let mut extra = Map::new();
    for k in [
        "sys_mod_count",
        "sys_updated_on",
        "sys_updated_by",
        "correlation_id",
    ] {
        if let Some(v) = opt(r, k) {
            extra.insert(k.into(), json!(v));
        }
    }
    extra.insert("table".into(), json!(scope));
    for (k, from) in [
        ("assigned_to_sys_id", "assigned_to"),
        ("assigned_to_name", "assigned_to.name"),
        ("assignment_group_sys_id", "assignment_group"),
        ("caller_id_sys_id", "caller_id"),
    ] {
        if let Some(v) = opt(r, from) {
            extra.insert(k.into(), json!(v));
        }
    }
    // The caller as journal entries name their authors (`sys_created_by` is a user name): a
    // reply by the caller is not a first response.
    let requester = reference(r, "caller_id", "caller_id.user_name");
    Ok(RemoteTicket {
        upstream_id: sys_id.clone(),
        key: number.clone(),
        scope: scope.to_owned(),
        version: version(r)?,
        created_at,
        first_response_at: comments
            .iter()
            .find(|c| c.visibility == Visibility::Public && requester.as_deref() != Some(&c.author))
            .map(|c| c.created_at),
        resolved_at,
        fields: RemoteFields {
            title: s(r, "short_description").to_owned(),
            description: s(r, "description").to_owned(),
            state: state(r),
            state_raw: opt(r, "state"),
            priority: priority(r),
            priority_raw: opt(r, "priority"),
            assignee: reference(r, "assigned_to", "assigned_to.user_name"),
            assignment_group: reference(r, "assignment_group", "assignment_group.name"),
            requester,
            organization: opt(r, "company"),
            tags: Vec::new(),
        },
        comments,
        url: Some(format!(
            "{base_url}/nav_to.do?uri={scope}.do?sys_id={sys_id}"
        )),
        extra: Value::Object(extra),
    })
}

/// Canonical field values → the Table API body, without the reference fields (assignee and
/// group: resolved to sys_ids by the connector, see `refs`) and without tags (they stay in the
/// workspace: `Vendor::stores_tags`).
pub fn fields_to_servicenow(changes: &FieldValues) -> Result<Value, SyncError> {
    let mut m = Map::new();
    for (f, v) in changes {
        let text = || v.as_str().unwrap_or_default().to_owned();
        match f {
            Field::Title => {
                m.insert("short_description".into(), json!(text()));
            }
            Field::Description => {
                m.insert("description".into(), json!(text()));
            }
            Field::State => {
                let st: TicketState = serde_json::from_value(v.clone())
                    .map_err(|e| SyncError::Local(format!("state: {e}")))?;
                let (code, hold) = match st {
                    TicketState::New => ("1", None),
                    TicketState::Open => ("2", None),
                    TicketState::Pending => ("3", Some("1")),
                    TicketState::OnHold => ("3", Some("3")),
                    TicketState::Resolved => ("6", None),
                    TicketState::Closed => ("7", None),
                };
                m.insert("state".into(), json!(code));
                if let Some(h) = hold {
                    m.insert("hold_reason".into(), json!(h));
                }
            }
            Field::Priority => {
                let p: Priority = serde_json::from_value(v.clone())
                    .map_err(|e| SyncError::Local(format!("priority: {e}")))?;
                m.insert("priority".into(), json!(p.rank().to_string()));
            }
            Field::Assignee | Field::AssignmentGroup | Field::Tags => {}
        }
    }
    Ok(Value::Object(m))
}

pub fn article(r: &Value, base_url: &str) -> Result<RemoteArticle, SyncError> {
    let sys_id = required(r, "sys_id", "an article")?.to_owned();
    Ok(RemoteArticle {
        key: opt(r, "number").unwrap_or_else(|| sys_id.clone()),
        title: s(r, "short_description").to_owned(),
        body_html: s(r, "text").to_owned(),
        updated_at: parse_timestamp(
            "sys_updated_on",
            required(r, "sys_updated_on", "an article")?,
        )?,
        url: Some(format!("{base_url}/kb_view.do?sys_kb_id={sys_id}")),
        retired: s(r, "workflow_state") != "published",
        upstream_id: sys_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_utc_actual_values_are_accepted() {
        assert_eq!(
            parse_timestamp("f", "2026-11-22 10:00:01").unwrap(),
            1_795_341_601_000
        );
        assert_eq!(format_timestamp(1_795_341_601_999), "2026-11-22 10:00:01");
        for bad in [
            "2026-11-22T10:00:01Z",
            "2026-11-22 10:00:01+01:00",
            "22/11/2026 10:00:01",
            "2026-11-22 10:00",
            "2026-13-22 10:00:01",
            "",
        ] {
            let e = parse_timestamp("sys_updated_on", bad).unwrap_err();
            assert!(matches!(e, SyncError::BadTimestamp { .. }), "{bad}: {e:?}");
        }
    }

    #[test]
    fn states_round_trip_through_state_and_hold_reason() {
        for st in TicketState::ALL {
            let mut ch = FieldValues::new();
            ch.insert(Field::State, json!(st));
            let body = fields_to_servicenow(&ch).unwrap();
            assert_eq!(state(&body), *st, "{body}");
        }
        // Tags stay local and references are resolved by the connector: neither is written
        // as given.
        let mut other = FieldValues::new();
        other.insert(Field::Tags, json!(["vpn"]));
        other.insert(Field::Assignee, json!("ana"));
        other.insert(Field::Title, json!("VPN"));
        assert_eq!(
            fields_to_servicenow(&other).unwrap(),
            json!({ "short_description": "VPN" })
        );
    }

    #[test]
    fn reference_fields_show_the_dot_walked_value_and_keep_the_sys_id() {
        let row = json!({
            "sys_id": "a1", "number": "INC1", "sys_created_on": "2026-11-22 10:00:01",
            "sys_updated_on": "2026-11-22 10:00:01", "sys_mod_count": "0",
            "assigned_to": "5e700000000000000000000000000001",
            "assigned_to.user_name": "ana", "assigned_to.name": "Ana Lima",
            "assignment_group": {"link": "https://x/api/now/table/sys_user_group/5e70000000000000000000000000000a",
                                 "value": "5e70000000000000000000000000000a"},
            "assignment_group.name": "Network",
            "caller_id": "5e700000000000000000000000000003",
        });
        let t = ticket("incident", &row, &[], "https://x").unwrap();
        assert_eq!(t.fields.assignee.as_deref(), Some("ana"));
        assert_eq!(t.fields.assignment_group.as_deref(), Some("Network"));
        assert_eq!(
            t.extra["assigned_to_sys_id"],
            "5e700000000000000000000000000001"
        );
        assert_eq!(t.extra["assigned_to_name"], "Ana Lima");
        assert_eq!(
            t.extra["assignment_group_sys_id"],
            "5e70000000000000000000000000000a"
        );
        // A reference whose record cannot be read shows its sys_id; an empty one is none.
        let mut dangling = row.clone();
        dangling["assigned_to.user_name"] = json!("");
        dangling["assignment_group"] = json!("");
        dangling["assignment_group.name"] = json!("");
        let t = ticket("incident", &dangling, &[], "https://x").unwrap();
        assert_eq!(
            t.fields.assignee.as_deref(),
            Some("5e700000000000000000000000000001")
        );
        assert_eq!(t.fields.assignment_group, None);
    }

    /// The caller shows as its user name (what journal entries carry as `sys_created_by`), so
    /// the caller's own public comment is not the first response; an agent's is.
    #[test]
    fn the_caller_is_a_user_name_and_its_own_reply_is_not_a_first_response() {
        let row = json!({
            "sys_id": "a1", "number": "INC1", "sys_created_on": "2026-11-22 10:00:00",
            "sys_updated_on": "2026-11-22 10:30:00", "sys_mod_count": "2",
            "caller_id": "5e700000000000000000000000000003", "caller_id.user_name": "dana",
        });
        let entry = |id: &str, by: &str, element: &str, at: &str| {
            json!({ "sys_id": id, "element_id": "a1", "element": element, "value": "text",
                    "sys_created_on": at, "sys_created_by": by })
        };
        let journal = [
            entry("j1", "dana", "comments", "2026-11-22 10:05:00"),
            entry("j2", "ana", "work_notes", "2026-11-22 10:10:00"),
            entry("j3", "ana", "comments", "2026-11-22 10:20:00"),
        ];
        let t = ticket("incident", &row, &journal, "https://x").unwrap();
        assert_eq!(t.fields.requester.as_deref(), Some("dana"));
        assert_eq!(
            t.extra["caller_id_sys_id"],
            "5e700000000000000000000000000003"
        );
        assert_eq!(
            t.first_response_at,
            Some(parse_timestamp("t", "2026-11-22 10:20:00").unwrap())
        );
        // Only the caller has replied: no first response yet.
        let t = ticket("incident", &row, &journal[..2], "https://x").unwrap();
        assert_eq!(t.first_response_at, None);
    }
}
