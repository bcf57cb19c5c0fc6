//! ServiceNow reference fields and tags (issue 5: "each maps to and from the canonical ticket
//! model"), against the fake instance with its `sys_user` / `sys_user_group` directory:
//! - a pull shows user and group names (dot-walked) and keeps the sys_ids in `extra`, also from
//!   an instance that ignores dot-walked fields;
//! - an edit by user name, full name or group name is pushed as the sys_id; clearing writes
//!   empty; an unknown or ambiguous name fails the operation with its reason and writes nothing;
//! - a concurrent reassignment is a conflict with readable values, a base recorded as a sys_id
//!   (pulled before names were mapped) neither makes a false conflict nor hides a real one;
//! - tags of a ServiceNow ticket stay local: nothing queued, nothing pushed, kept by pulls;
//! - the caller shows as a user name, so the caller's own reply is not the first response, and a
//!   local ticket's requester is created as the caller's sys_id.

use crate::sync_servicenow::{Env, env, ok};
use casebook_core::model::{Priority, TicketPatch};
use casebook_core::store::{OutboxStatus, Resolution};
use casebook_fakes::servicenow::NewIncident;
use serde_json::json;

const PATCH_INCIDENT: &str = "api/now/table/incident/*";

/// One incident assigned to ana in Service Desk, pulled.
async fn one_pulled(e: &Env) -> (String, i64) {
    let id = e.fake.seed(NewIncident::new("Mailbox full"));
    ok(&e.sync().await);
    (id.clone(), e.local(&id))
}

fn patch_assignee(assignee: Option<&str>) -> TicketPatch {
    TicketPatch {
        assignee: Some(assignee.map(str::to_owned)),
        ..Default::default()
    }
}

fn lookups(e: &Env, table: &str) -> usize {
    e.fake
        .requests()
        .matching("GET", &format!("api/now/table/{table}"))
        .len()
}

#[tokio::test]
async fn a_pull_shows_user_and_group_names_and_keeps_the_sys_ids() {
    let e = env().await;
    e.fake.seed_many(9, 3, false);
    let (id, local) = one_pulled(&e).await;
    let t = e.store.ticket(local).unwrap().ticket;
    assert_eq!(t.assignee.as_deref(), Some("ana"));
    assert_eq!(t.assignment_group.as_deref(), Some("Service Desk"));
    assert_eq!(t.extra["assigned_to_sys_id"], json!(e.fake.user("ana")));
    assert_eq!(t.extra["assigned_to_name"], "Ana Lima");
    assert_eq!(
        t.extra["assignment_group_sys_id"],
        json!(e.fake.group("Service Desk"))
    );
    let other = e.local(e.fake.incidents()[0].sys_id());
    let o = e.store.ticket(other).unwrap().ticket;
    assert_eq!(o.assignment_group.as_deref(), Some("Network"));
    // Names come with the records (dot-walked), date-times stay UTC actual values, and no
    // user or group was looked up one by one.
    let page = &e.fake.requests().matching("GET", "api/now/table/incident")[0];
    let fields = page.param("sysparm_fields").unwrap();
    assert!(fields.contains("assigned_to.user_name") && fields.contains("assignment_group.name"));
    assert_eq!(page.param("sysparm_display_value"), Some("false"));
    assert_eq!(
        (lookups(&e, "sys_user"), lookups(&e, "sys_user_group")),
        (0, 0)
    );
    // A colleague reassigns: the pull shows the new names.
    e.fake.reassign_as_other(&id, Some("cy"), Some("Hardware"));
    ok(&e.sync().await);
    let t = e.store.ticket(local).unwrap().ticket;
    assert_eq!(
        (t.assignee.as_deref(), t.assignment_group.as_deref()),
        (Some("cy"), Some("Hardware"))
    );
}

#[tokio::test]
async fn an_instance_that_ignores_dot_walked_fields_costs_one_lookup_per_page() {
    let e = env().await;
    e.fake.with_state(|s| s.dot_walk = false);
    e.fake.seed_many(10, 3, false);
    let r = e.sync().await; // pages of 7: two pages
    ok(&r);
    let t = e
        .store
        .ticket(e.local(e.fake.incidents()[9].sys_id()))
        .unwrap()
        .ticket;
    assert_eq!(
        (t.assignee.as_deref(), t.assignment_group.as_deref()),
        (Some("ana"), Some("Network"))
    );
    assert_eq!(t.extra["assigned_to_name"], "Ana Lima");
    assert_eq!(t.requester.as_deref(), Some("caller"));
    // One batched lookup per kind (assignee and caller are both users), then the sync's cache
    // answers.
    assert_eq!(
        (lookups(&e, "sys_user"), lookups(&e, "sys_user_group")),
        (1, 1)
    );
    let q = &e.fake.requests().matching("GET", "api/now/table/sys_user")[0];
    assert!(q.param("sysparm_query").unwrap().starts_with("sys_idIN"));
}

#[tokio::test]
async fn an_assignee_typed_by_user_name_or_full_name_is_pushed_as_the_sys_id() {
    let e = env().await;
    let (id, local) = one_pulled(&e).await;
    let patch = TicketPatch {
        assignee: Some(Some("bo".into())),
        assignment_group: Some(Some("Network".into())),
        ..Default::default()
    };
    e.store
        .update_ticket(local, None, &patch, &e.agent())
        .unwrap();
    let r = e.sync().await;
    ok(&r);
    assert_eq!(r.pushed, 1);
    let up = e.fake.incident(&id).unwrap();
    assert_eq!(up.get("assigned_to"), e.fake.user("bo"));
    assert_eq!(up.get("assignment_group"), e.fake.group("Network"));
    let sent = e.fake.requests().matching("PATCH", PATCH_INCIDENT);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&sent[0].body).unwrap(),
        json!({ "assigned_to": e.fake.user("bo"), "assignment_group": e.fake.group("Network") })
    );
    // A full name is found too; the workspace then shows the user name.
    e.store
        .update_ticket(local, None, &patch_assignee(Some("Cy Chen")), &e.agent())
        .unwrap();
    ok(&e.sync().await);
    assert_eq!(e.fake.assignee_of(&id).as_deref(), Some("cy"));
    ok(&e.sync().await);
    let t = e.store.ticket(local).unwrap().ticket;
    assert_eq!(t.assignee.as_deref(), Some("cy"));
    assert!(e.store.sync_ops(None).unwrap().is_empty());
    // Clearing writes empty.
    e.store
        .update_ticket(local, None, &patch_assignee(None), &e.agent())
        .unwrap();
    ok(&e.sync().await);
    assert_eq!(e.fake.incident(&id).unwrap().get("assigned_to"), "");
    // Each name was looked up once per sync at most.
    let by_name = e
        .fake
        .requests()
        .matching("GET", "api/now/table/sys_user")
        .iter()
        .filter(|q| q.param("sysparm_query") == Some("user_name=bo"))
        .count();
    assert_eq!(by_name, 1);
}

#[tokio::test]
async fn an_unknown_or_ambiguous_user_fails_the_operation_and_writes_nothing() {
    let e = env().await;
    let (id, local) = one_pulled(&e).await;
    let before = e.fake.incident(&id).unwrap();
    e.store
        .update_ticket(local, None, &patch_assignee(Some("zed")), &e.agent())
        .unwrap();
    let r = e.sync().await;
    assert_eq!(r.failed, 1, "{r:?}");
    let op = &e.store.sync_ops(None).unwrap()[0];
    assert_eq!(op.status, OutboxStatus::Failed);
    assert_eq!(
        op.last_error.as_deref(),
        Some("no servicenow user named 'zed'")
    );
    assert!(
        e.fake
            .requests()
            .matching("PATCH", PATCH_INCIDENT)
            .is_empty()
    );
    assert_eq!(
        e.fake.incident(&id).unwrap(),
        before,
        "nothing written upstream"
    );
    // The agent discards it; two users share a full name: ambiguous, nothing written.
    e.store.outbox_discard(op.id, &e.agent()).unwrap();
    e.fake.add_user("dpark", "Dana Park");
    e.fake.add_user("dana.park", "Dana Park");
    e.store
        .update_ticket(local, None, &patch_assignee(Some("Dana Park")), &e.agent())
        .unwrap();
    let r = e.sync().await;
    assert_eq!(r.failed, 1, "{r:?}");
    let op = &e.store.sync_ops(None).unwrap()[0];
    assert_eq!(
        op.last_error.as_deref(),
        Some("'Dana Park' names 2 servicenow users (dpark, dana.park); use the user name")
    );
    assert!(
        e.fake
            .requests()
            .matching("PATCH", PATCH_INCIDENT)
            .is_empty()
    );
    // An unknown group, likewise.
    e.store.outbox_discard(op.id, &e.agent()).unwrap();
    let group = TicketPatch {
        assignment_group: Some(Some("Facilities".into())),
        ..Default::default()
    };
    e.store
        .update_ticket(local, None, &group, &e.agent())
        .unwrap();
    let r = e.sync().await;
    assert_eq!(r.failed, 1);
    assert_eq!(
        e.store.sync_ops(None).unwrap()[0].last_error.as_deref(),
        Some("no servicenow group named 'Facilities'")
    );
    assert_eq!(e.fake.incident(&id).unwrap(), before);
}

#[tokio::test]
async fn a_concurrent_reassignment_is_a_conflict_with_readable_values() {
    let e = env().await;
    let (id, local) = one_pulled(&e).await;
    e.store
        .update_ticket(local, None, &patch_assignee(Some("bo")), &e.agent())
        .unwrap();
    e.fake.reassign_as_other(&id, Some("cy"), None);
    let r = e.sync().await;
    assert_eq!(r.conflicts, 1, "{r:?}");
    let inbox = e.store.conflicts_open(None).unwrap();
    assert_eq!(inbox[0].field, "assignee");
    assert_eq!(
        (&inbox[0].base, &inbox[0].mine, &inbox[0].theirs),
        (&json!("ana"), &json!("bo"), &json!("cy"))
    );
    assert_eq!(
        e.fake.assignee_of(&id).as_deref(),
        Some("cy"),
        "theirs kept"
    );
    // Keep mine: bo's sys_id is written over cy's.
    e.store
        .resolve_conflict(inbox[0].id, &Resolution::KeepMine, &e.agent())
        .unwrap();
    ok(&e.sync().await);
    assert_eq!(e.fake.assignee_of(&id).as_deref(), Some("bo"));
    // A colleague makes the same reassignment I make, by another spelling: no conflict.
    e.store
        .update_ticket(local, None, &patch_assignee(Some("Cy Chen")), &e.agent())
        .unwrap();
    e.fake.reassign_as_other(&id, Some("cy"), None);
    let r = e.sync().await;
    ok(&r);
    assert_eq!(r.conflicts, 0);
    assert!(e.store.sync_ops(None).unwrap().is_empty());
}

/// A workspace pulled before names were mapped holds sys_ids as assignees; an edit made there
/// records a sys_id as its base. The merge compares it as the user name a pull shows.
#[tokio::test]
async fn a_base_recorded_as_a_sys_id_makes_no_false_conflict_and_hides_no_real_one() {
    let e = env().await;
    let (id, local) = one_pulled(&e).await;
    let ana = e.fake.user("ana");
    let as_before = |e: &Env| {
        e.store
            .write(|tx| {
                tx.execute(
                    "UPDATE tickets SET assignee = ? WHERE id = ?",
                    rusqlite::params![ana, local],
                )?;
                Ok(())
            })
            .unwrap();
    };
    // The colleague changes only the priority: my reassignment goes through, no conflict.
    as_before(&e);
    e.store
        .update_ticket(local, None, &patch_assignee(Some("bo")), &e.agent())
        .unwrap();
    assert_eq!(
        e.store.sync_ops(None).unwrap()[0].base["fields"]["assignee"],
        json!(ana)
    );
    e.fake.edit_as_other(&id, &[("priority", "2")]);
    let r = e.sync().await;
    ok(&r);
    assert_eq!((r.conflicts, r.pushed), (0, 1));
    assert_eq!(e.fake.assignee_of(&id).as_deref(), Some("bo"));
    // The colleague reassigns to cy while my base is ana's sys_id: a conflict, in names.
    ok(&e.sync().await);
    as_before(&e);
    e.store
        .update_ticket(
            local,
            None,
            &TicketPatch {
                assignee: Some(Some("bo".into())),
                priority: Some(Priority::Low),
                ..Default::default()
            },
            &e.agent(),
        )
        .unwrap();
    e.fake.reassign_as_other(&id, Some("cy"), None);
    let r = e.sync().await;
    assert_eq!(r.conflicts, 1, "{r:?}");
    let inbox = e.store.conflicts_open(None).unwrap();
    assert_eq!(
        (&inbox[0].base, &inbox[0].mine, &inbox[0].theirs),
        (&json!("ana"), &json!("bo"), &json!("cy"))
    );
    assert_eq!(
        e.fake.incident(&id).unwrap().get("priority"),
        "4",
        "the rest went through"
    );
}

#[tokio::test]
async fn a_local_ticket_is_created_with_the_assignees_sys_id() {
    let e = env().await;
    let mut new = casebook_core::model::NewTicket::local("New laptop for Dana");
    new.source = e.conn_id.to_string();
    new.assignee = Some("Ana Lima".into());
    new.assignment_group = Some("Hardware".into());
    new.requester = Some("Carla Caller".into());
    new.tags = vec!["laptop".into()];
    let t = e.store.create_ticket(new, &e.agent()).unwrap();
    ok(&e.sync().await);
    let created = e
        .fake
        .incidents()
        .into_iter()
        .find(|i| i.get("short_description") == "New laptop for Dana")
        .unwrap();
    assert_eq!(created.get("assigned_to"), e.fake.user("ana"));
    assert_eq!(created.get("assignment_group"), e.fake.group("Hardware"));
    assert_eq!(created.get("caller_id"), e.fake.user("caller"));
    ok(&e.sync().await);
    let local = e.store.ticket(t.id).unwrap();
    assert_eq!(local.ticket.assignee.as_deref(), Some("ana"));
    assert_eq!(local.ticket.requester.as_deref(), Some("caller"));
    assert_eq!(local.ticket.tags, ["laptop"], "tags stay local");
    // An unknown assignee fails the creation before anything is created.
    let mut bad = casebook_core::model::NewTicket::local("Printer on fire");
    bad.source = e.conn_id.to_string();
    bad.assignee = Some("zed".into());
    e.store.create_ticket(bad, &e.agent()).unwrap();
    let r = e.sync().await;
    assert_eq!(r.failed, 1);
    assert!(
        e.fake
            .incidents()
            .iter()
            .all(|i| i.get("short_description") != "Printer on fire")
    );
}

#[tokio::test]
async fn tags_of_a_servicenow_ticket_stay_local() {
    let e = env().await;
    let (id, local) = one_pulled(&e).await;
    let tags = TicketPatch {
        tags: Some(vec!["vpn".into(), "mailbox".into()]),
        ..Default::default()
    };
    e.store
        .update_ticket(local, None, &tags, &e.agent())
        .unwrap();
    let d = e.store.ticket(local).unwrap();
    assert!(d.tags_local);
    assert_eq!(d.pending_ops, 0, "nothing queued");
    let r = e.sync().await;
    ok(&r);
    assert_eq!((r.pushed, r.failed), (0, 0));
    assert!(
        e.fake
            .requests()
            .matching("PATCH", PATCH_INCIDENT)
            .is_empty()
    );
    // A colleague's change comes in; the tags stay.
    e.fake.edit_as_other(&id, &[("priority", "1")]);
    ok(&e.sync().await);
    let t = e.store.ticket(local).unwrap().ticket;
    assert_eq!(
        (t.priority, t.tags.as_slice()),
        (
            Priority::Critical,
            &["mailbox".to_owned(), "vpn".to_owned()][..]
        )
    );
    // An operation queued by an earlier build (tags and priority) pushes the priority only and
    // ends done.
    e.store
        .write(|tx| {
            tx.execute(
                "INSERT INTO outbox (ticket_id, event_id, target, op, payload, base, created_at) \
                 VALUES (?1, (SELECT max(id) FROM events WHERE ticket_id = ?1), ?2, 'update', \
                 ?3, ?4, 0)",
                rusqlite::params![
                    local,
                    e.conn_id.to_string(),
                    json!({ "tags": ["x"], "priority": "low" }).to_string(),
                    json!({ "fields": { "tags": ["mailbox", "vpn"], "priority": "critical" } })
                        .to_string()
                ],
            )?;
            Ok(())
        })
        .unwrap();
    let r = e.sync().await;
    ok(&r);
    assert_eq!(r.pushed, 1);
    let sent = &e.fake.requests().matching("PATCH", PATCH_INCIDENT)[0].body;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(sent).unwrap(),
        json!({ "priority": "4" })
    );
    assert!(e.store.sync_ops(None).unwrap().is_empty());
}

/// The caller was a sys_id while journal entries name their authors by user name, so the
/// caller's own public comment counted as the first response (the connector's
/// `first_response_at` and the SLA facts both compare the requester with comment authors).
#[tokio::test]
async fn the_caller_shows_as_a_user_name_and_their_own_reply_is_not_the_first_response() {
    let e = env().await;
    let id = e.fake.seed(NewIncident::new("Mailbox full"));
    e.fake
        .comment_as(&id, "comments", "Still full this morning", "caller");
    e.fake
        .comment_as(&id, "work_notes", "Checking the quota", "ana");
    e.fake
        .comment_as(&id, "comments", "Raised the quota to 50 GB", "ana");
    ok(&e.sync().await);
    let local = e.local(&id);
    let d = e.store.ticket(local).unwrap();
    assert_eq!(d.ticket.requester.as_deref(), Some("caller"));
    assert_eq!(
        d.ticket.extra["caller_id_sys_id"],
        json!(e.fake.user("caller"))
    );
    let at = |body: &str| {
        d.comments
            .iter()
            .find(|c| c.body == body)
            .map(|c| c.created_at)
            .unwrap()
    };
    let (callers, agents) = (
        at("Still full this morning"),
        at("Raised the quota to 50 GB"),
    );
    assert!(callers < agents);
    assert_eq!(d.ticket.first_response_at, Some(agents));
    let replies: Vec<i64> = e
        .store
        .sla_facts(local)
        .unwrap()
        .unwrap()
        .changes
        .iter()
        .filter(|c| c.kind == casebook_core::sla::ChangeKind::PublicReply)
        .map(|c| c.at)
        .collect();
    assert_eq!(replies, [agents]);
}
