use super::{T0, open_at};
use casebook_api::dto::*;
use casebook_api::{Casebook, ErrorCode, OpenOptions};
use casebook_core::FixedClock;
use casebook_core::model::{Priority, TicketState, Visibility};
use casebook_core::store::{EventKind, Origin};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn new_ticket(title: &str) -> NewTicketInput {
    NewTicketInput {
        title: title.into(),
        description: "Users on floor 3 lose the VPN every **10 minutes**.".into(),
        priority: Some(Priority::High),
        state: None,
        assignee: None,
        assignment_group: Some("Network".into()),
        requester: Some("Dana".into()),
        tags: vec!["VPN".into(), "floor-3".into()],
    }
}

#[tokio::test]
async fn an_agent_works_a_ticket_and_everything_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FixedClock::new(T0));
    let cb = open_at(dir.path(), Origin::App, clock.clone()).await;
    cb.update_settings(SettingsInput {
        agent_name: Some("Ana".into()),
        onboarded: Some(true),
    })
    .await
    .unwrap();
    let mut changes = cb.subscribe();

    let t = cb.create_ticket(new_ticket("VPN drops")).await.unwrap();
    assert_eq!(
        (t.key.as_str(), t.state, t.priority),
        ("CB-1", TicketState::New, Priority::High)
    );
    assert_eq!(t.tags, ["floor-3", "vpn"]);
    assert!(t.description_html.contains("<strong>10 minutes</strong>"));
    let batch = changes.recv().await.unwrap();
    assert_eq!(
        (batch.kind, batch.ids.clone()),
        (ChangeKind::Tickets, vec![t.id])
    );

    clock.advance(60_000);
    let edited = cb
        .update_ticket(UpdateTicketInput {
            id: t.id,
            expected_revision: Some(t.revision),
            state: Some(TicketState::Open),
            assignee: Some("Ana".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (edited.state, edited.assignee.as_deref()),
        (TicketState::Open, Some("Ana"))
    );

    // A second edit made on the old revision (another window, the CLI) is refused, not applied.
    let stale = cb
        .update_ticket(UpdateTicketInput {
            id: t.id,
            expected_revision: Some(t.revision),
            state: Some(TicketState::Closed),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code, ErrorCode::StaleRevision);

    clock.advance(60_000);
    let with_note = cb
        .add_comment(AddCommentInput {
            ticket_id: t.id,
            body: "Checked the concentrator: <script>alert(1)</script> **flapping**".into(),
            visibility: Visibility::Internal,
        })
        .await
        .unwrap();
    let note = &with_note.comments[0];
    assert_eq!(
        (note.visibility, note.author.as_str()),
        (Visibility::Internal, "Ana")
    );
    assert!(!note.body_html.contains("<script"), "{}", note.body_html);
    assert_eq!(
        with_note.first_response_at, None,
        "an internal note is no first response"
    );

    clock.advance(60_000);
    let replied = cb
        .add_comment(AddCommentInput {
            ticket_id: t.id,
            body: "We are on it.".into(),
            visibility: Visibility::Public,
        })
        .await
        .unwrap();
    assert_eq!(replied.first_response_at, Some(T0 + 180_000));
    assert_eq!(
        replied.pending_ops, 4,
        "create, update and two comments wait in the outbox"
    );

    let counts = cb
        .count_tickets(vec![
            TicketFilter::default(),
            TicketFilter {
                states: vec![TicketState::Open],
                ..Default::default()
            },
            TicketFilter {
                text: Some("concentrator".into()),
                ..Default::default()
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        counts,
        [1, 1, 0],
        "comments are not part of the queue's text filter"
    );

    let info = cb.workspace_info().await.unwrap();
    assert_eq!(
        (
            info.ticket_count,
            info.pending_ops,
            info.agent_name.as_str()
        ),
        (1, 4, "Ana")
    );
    drop(cb);

    // Restart: a new handle on the same folder sees everything.
    let cb = open_at(dir.path(), Origin::App, clock.clone()).await;
    let t2 = cb.find_ticket("cb-1".into()).await.unwrap();
    assert_eq!(t2.state, TicketState::Open);
    assert_eq!(t2.comments.len(), 2);
    let history = cb.ticket_history(t.id).await.unwrap();
    let kinds: Vec<EventKind> = history.iter().map(|h| h.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Created,
            EventKind::Updated,
            EventKind::Commented,
            EventKind::Commented
        ]
    );
    let upd = &history[1];
    assert_eq!(
        (upd.actor.as_str(), upd.at, upd.origin),
        ("Ana", T0 + 60_000, Origin::App)
    );
    let fields: Vec<&str> = upd.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["assignee", "state"]);
    assert_eq!(history[2].visibility, Some(Visibility::Internal));
}

#[tokio::test]
async fn errors_cross_the_boundary_as_codes() {
    let dir = tempfile::tempdir().unwrap();
    let cb = open_at(dir.path(), Origin::App, Arc::new(FixedClock::new(T0))).await;
    let e = cb.get_ticket(42).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    let e = cb.create_ticket(new_ticket("   ")).await.unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::InvalidInput, "a ticket needs a title")
    );
    let e = cb
        .list_tickets(TicketQuery {
            limit: 5_000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    let e = cb
        .update_settings(SettingsInput {
            agent_name: Some(" ".into()),
            onboarded: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(
        json.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["code", "message"]
    );
}

#[tokio::test]
async fn the_sample_workspace_opens_through_the_importer() {
    let dir = tempfile::tempdir().unwrap();
    let cb = open_at(dir.path(), Origin::App, Arc::new(FixedClock::new(T0))).await;
    let seen = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let s2 = Arc::clone(&seen);
    let report = cb
        .open_sample(move |p| s2.lock().unwrap().push(p))
        .await
        .unwrap();
    assert_eq!(
        report.tickets_imported,
        4_500,
        "{:?}",
        report.problems.first()
    );
    assert_eq!(report.rows_read, 17_667 + 2_000);
    let stages: Vec<String> = {
        let mut s: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|p| p.stage.clone())
            .collect();
        s.dedup();
        s
    };
    assert_eq!(stages.len(), 2, "{stages:?}");
    let last = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(Some(last.done), last.total, "progress ends at 100%");

    let info = cb.workspace_info().await.unwrap();
    assert!(info.sample_loaded && info.onboarded);
    assert_eq!(info.ticket_count, 4_500);
    assert_eq!(info.pending_ops, 0, "imported data is not a local edit");

    let page = cb
        .list_tickets(TicketQuery {
            filter: TicketFilter {
                states: vec![TicketState::New, TicketState::Open],
                ..Default::default()
            },
            sort: SortKey::Priority,
            ..Default::default()
        })
        .await
        .unwrap();
    // The incident log is history (every incident ends closed); the help-desk tickets are new work.
    assert_eq!(page.total, 2_000);
    let all = cb
        .list_tickets(TicketQuery {
            sort: SortKey::Priority,
            limit: 1_000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        all.rows.windows(2).all(|w| w[0].priority <= w[1].priority),
        "sorted by priority"
    );
    assert_eq!(
        all.rows[0].priority,
        casebook_core::model::Priority::Critical
    );
    let facets = cb.facets().await.unwrap();
    assert!(facets.groups.len() > 10);
    assert!(facets.tags.iter().any(|t| t.value == "hardware"));

    // The sample's runbooks are written into the workspace and searchable at once.
    let sources = cb.kb_list_sources().await.unwrap();
    assert_eq!(sources.len(), 1, "{sources:?}");
    assert!(sources[0].path.ends_with("sample-runbooks"), "{sources:?}");
    assert!(sources[0].files_seen >= 100, "{sources:?}");
    assert!(sources[0].skipped.is_empty(), "{:?}", sources[0].skipped);
    let crash = dir
        .path()
        .join("sample-runbooks/prometheus-operator/kubernetes/KubePodCrashLooping.md");
    assert!(crash.is_file());
    let hits = crate::support::kb_search(&cb, "KubePodCrashLooping")
        .await
        .hits;
    assert_eq!(
        hits.first().map(|h| h.title.as_str()),
        Some("Kube Pod Crash Looping"),
        "{hits:?}"
    );

    // Opening the sample again imports nothing twice, keeps an edited runbook and adds no
    // second folder.
    std::fs::write(&crash, "# KubePodCrashLooping\n\nOur own notes.\n").unwrap();
    let again = cb.open_sample(|_| {}).await.unwrap();
    assert_eq!((again.tickets_imported, again.duplicates), (0, 4_500));
    assert_eq!(cb.kb_list_sources().await.unwrap().len(), 1);
    assert!(
        std::fs::read_to_string(&crash)
            .unwrap()
            .contains("Our own notes.")
    );
}

#[tokio::test]
async fn views_are_saved_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let cb = open_at(dir.path(), Origin::App, Arc::new(FixedClock::new(T0))).await;
    cb.create_ticket(new_ticket("VPN drops")).await.unwrap();
    let mut other = new_ticket("Printer on fire");
    other.tags = vec!["printer".into()];
    cb.create_ticket(other).await.unwrap();
    let mut changes = cb.subscribe();
    let v = cb
        .save_view(SaveViewInput {
            name: "VPN".into(),
            filter: TicketFilter {
                tags: vec!["vpn".into()],
                ..Default::default()
            },
            sort: SortKey::Priority,
        })
        .await
        .unwrap();
    assert_eq!(changes.recv().await.unwrap().kind, ChangeKind::Views);
    let views = cb.list_views().await.unwrap();
    assert_eq!(views, vec![v.clone()]);
    let counts = cb
        .count_tickets(views.iter().map(|v| v.filter.clone()).collect())
        .await
        .unwrap();
    assert_eq!(counts, [1]);
    cb.delete_view(v.id).await.unwrap();
    assert_eq!(
        cb.delete_view(v.id).await.unwrap_err().code,
        ErrorCode::NotFound
    );
}

#[tokio::test]
async fn writes_by_another_process_are_announced() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FixedClock::new(T0));
    let app = open_at(dir.path(), Origin::App, clock.clone()).await;
    let cli = open_at(dir.path(), Origin::Cli, clock.clone()).await;
    let mut changes = app.subscribe();
    let watcher = app.watch_external_changes(Duration::from_millis(20));
    tokio::time::sleep(Duration::from_millis(60)).await;

    // The app's own write is announced as local, once.
    app.create_ticket(new_ticket("from the app")).await.unwrap();
    assert_eq!(changes.recv().await.unwrap().origin, ChangeOrigin::Local);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        changes.try_recv().is_err(),
        "our own write is not reported again as external"
    );

    cli.create_ticket(new_ticket("from the cli")).await.unwrap();
    let batch = tokio::time::timeout(Duration::from_secs(5), changes.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (batch.kind, batch.origin),
        (ChangeKind::Workspace, ChangeOrigin::External)
    );
    // By the time the app hears of it, its queue (the in-memory queue index) shows it.
    let text = |t: &str| TicketQuery {
        filter: TicketFilter {
            text: Some(t.into()),
            ..TicketFilter::default()
        },
        ..TicketQuery::default()
    };
    let page = app.list_tickets(text("cli")).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.rows[0].title, "from the cli");
    assert_eq!(app.list_tickets(text("fro")).await.unwrap().total, 2);
    watcher.abort();
}

#[tokio::test]
async fn a_workspace_that_does_not_exist_is_not_created_when_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("nowhere");
    let mut opts = OpenOptions::for_tests(&home, Origin::Cli);
    opts.create = false;
    let e = Casebook::open(opts).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(!home.exists());
}
