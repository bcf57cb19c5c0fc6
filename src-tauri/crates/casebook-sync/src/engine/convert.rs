//! Mapping between the connectors' canonical remote model and the store's types.

use crate::error::SyncError;
use crate::model::{Field, FieldValues, RemoteFields, RemoteTicket, RemoteVersion};
use casebook_core::store::{PulledComment, PulledTicket};
use serde_json::{Map, Value, json};

pub fn pulled(t: &RemoteTicket) -> PulledTicket {
    PulledTicket {
        upstream_id: t.upstream_id.clone(),
        key: t.key.clone(),
        scope: t.scope.clone(),
        version: t.version.token.clone(),
        version_updated_at: t.version.updated_at,
        created_at: t.created_at,
        first_response_at: t.first_response_at,
        resolved_at: t.resolved_at,
        title: t.fields.title.clone(),
        description: t.fields.description.clone(),
        state: t.fields.state,
        state_raw: t.fields.state_raw.clone(),
        priority: t.fields.priority,
        priority_raw: t.fields.priority_raw.clone(),
        assignee: t.fields.assignee.clone(),
        assignment_group: t.fields.assignment_group.clone(),
        requester: t.fields.requester.clone(),
        organization: t.fields.organization.clone(),
        tags: t.fields.tags.clone(),
        url: t.url.clone(),
        extra: t.extra.clone(),
        comments: t
            .comments
            .iter()
            .map(|c| PulledComment {
                upstream_id: c.upstream_id.clone(),
                visibility: c.visibility,
                author: c.author.clone(),
                body: c.body.clone(),
                created_at: c.created_at,
                marker: c.marker.clone(),
            })
            .collect(),
    }
}

/// The canonical field values named in an outbox payload or base (`{"state": "open", …}`);
/// unknown names are an error (a payload this build does not understand is not guessed at).
pub fn field_values(v: &Value) -> Result<FieldValues, SyncError> {
    let mut out = FieldValues::new();
    if let Value::Object(m) = v {
        for (k, val) in m {
            let f = Field::parse(k).ok_or_else(|| {
                SyncError::Local(format!(
                    "the outbox names a field this build cannot push: {k}"
                ))
            })?;
            out.insert(f, val.clone());
        }
    }
    Ok(out)
}

pub fn field_map(v: &FieldValues) -> Map<String, Value> {
    v.iter()
        .map(|(f, val)| (f.as_str().to_owned(), val.clone()))
        .collect()
}

/// The upstream version an outbox operation was based on, if it recorded one.
pub fn base_version(base: &Value) -> Option<RemoteVersion> {
    let v = base.get("version")?.get("upstream_sync_version")?;
    Some(RemoteVersion {
        token: v.get("token")?.as_str()?.to_owned(),
        updated_at: v.get("updated_at")?.as_i64()?,
    })
}

pub fn version_json(v: &RemoteVersion) -> Value {
    json!({ "token": v.token, "updated_at": v.updated_at })
}

/// The fields of a locally created ticket (the outbox `create` payload is the ticket as stored).
pub fn fields_of_local_ticket(payload: &Value) -> Result<RemoteFields, SyncError> {
    let t: casebook_core::model::Ticket = serde_json::from_value(payload.clone())
        .map_err(|e| SyncError::Local(format!("the outbox create payload is not a ticket: {e}")))?;
    Ok(RemoteFields {
        title: t.title,
        description: t.description,
        state: t.state,
        state_raw: None,
        priority: t.priority,
        priority_raw: None,
        assignee: t.assignee,
        assignment_group: t.assignment_group,
        requester: t.requester,
        organization: t.organization,
        tags: t.tags,
    })
}
