use super::*;
use crate::FixedClock;
use crate::store::test_support::temp_store;
use crate::store::{EventKind, TicketFilter, TicketQuery};

const UCI: &str = include_str!("fixtures/uci-excerpt.csv");
const ENDAVA: &str = include_str!("fixtures/endava-excerpt.csv");
const NOW: Millis = 1_700_000_000_000;

fn run(store: &Store, input: &[u8], opts: &ImportOptions) -> Result<ImportSummary, ImportError> {
    let clock = FixedClock::new(NOW);
    let mut calls = 0;
    let r = import_reader(store, input, opts, "tester", &clock, &mut |_| calls += 1);
    if r.is_ok() {
        assert!(calls >= 1, "progress is reported at least once");
    }
    r
}

fn csv_opts(mapping: Mapping) -> ImportOptions {
    ImportOptions {
        format: Format::Csv,
        mapping,
    }
}

fn simple_mapping() -> Mapping {
    Mapping::from_json(
        r#"{"fields": {"key": "id", "title": "subject", "description": "body", "state": "status",
            "priority": "prio", "createdAt": "created"}, "tags": ["labels"]}"#,
    )
    .unwrap()
}

#[test]
fn the_uci_servicenow_log_imports_with_its_history() {
    let (_d, s) = temp_store();
    let r = run(
        &s,
        UCI.as_bytes(),
        &ImportOptions::preset(Preset::UciServicenow),
    )
    .unwrap();
    assert_eq!(r.rows_read, 11);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    // The excerpt holds the rows of incidents 45 and 47: one ticket each.
    let keys: Vec<String> = s
        .query_tickets(&TicketQuery {
            sort: crate::store::SortKey::Created,
            reverse: true,
            ..Default::default()
        })
        .unwrap()
        .rows
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(r.tickets_imported as usize, keys.len());
    assert_eq!(keys[0], "INC0000045");

    let d = s.ticket(s.resolve_key("INC0000045").unwrap()).unwrap();
    // Its last row is Closed with priority 3, group 56, opened 29/2/2016 01:16.
    assert_eq!(d.ticket.state, crate::model::TicketState::Closed);
    assert_eq!(d.ticket.state_raw.as_deref(), Some("Closed"));
    assert_eq!(d.ticket.priority, Priority::Medium);
    assert_eq!(d.ticket.assignment_group.as_deref(), Some("Group 56"));
    assert_eq!(d.ticket.assignee, None, "'?' is no value");
    assert_eq!(d.ticket.requester.as_deref(), Some("Caller 2403"));
    assert_eq!(d.ticket.created_at, 1_456_708_560_000);
    assert_eq!(d.ticket.tags, ["phone"]);
    assert_eq!(d.ticket.extra["made_sla"], "true");
    assert_eq!(
        d.ticket.extra["category_2"], "170",
        "the repeated header is renamed"
    );
    assert!(
        d.ticket.title.starts_with("Category 55 · subcategory 170"),
        "{}",
        d.ticket.title
    );

    let ev = s.events_for(d.ticket.id).unwrap();
    assert_eq!(ev[0].kind, EventKind::Created);
    assert_eq!(ev[0].actor, "Agent 8");
    let states: Vec<_> = ev
        .iter()
        .filter_map(|e| {
            e.data["changes"]
                .get("state")
                .map(|c| c["to"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(
        states,
        ["resolved", "closed"],
        "New → Resolved → Resolved → Closed"
    );
    let closing = ev
        .iter()
        .find(|e| e.data["changes"]["state"]["to"] == "closed")
        .unwrap();
    assert_eq!(closing.actor, "Agent 908");
    assert_eq!(
        closing.at, 1_457_179_200_000,
        "5/3/2016 12:00 UTC: the action time, not the import time"
    );
    assert_eq!(closing.recorded_at, NOW);
}

#[test]
fn the_endava_tickets_import_with_titles_and_tags() {
    let (_d, s) = temp_store();
    let r = run(
        &s,
        ENDAVA.as_bytes(),
        &ImportOptions::preset(Preset::EndavaHelpdesk),
    )
    .unwrap();
    assert_eq!((r.rows_read, r.tickets_imported), (5, 5));
    let d = s.ticket(s.resolve_key("HD-1").unwrap()).unwrap();
    assert_eq!(
        d.ticket.title,
        "connection with icon icon dear please setup icon per icon"
    );
    assert!(d.ticket.description.ends_with("thanks lead"));
    assert_eq!(d.ticket.tags, ["hardware"]);
    assert_eq!(d.ticket.state, crate::model::TicketState::New);
    assert_eq!(
        d.ticket.created_at, NOW,
        "no timestamp in the data: the import time"
    );
    let hw = s
        .count_tickets(&[TicketFilter {
            tags: vec!["hardware".into()],
            ..Default::default()
        }])
        .unwrap();
    assert!(hw[0] >= 2);
}

#[test]
fn reimporting_the_same_file_changes_nothing() {
    let (_d, s) = temp_store();
    let opts = ImportOptions::preset(Preset::EndavaHelpdesk);
    run(&s, ENDAVA.as_bytes(), &opts).unwrap();
    let again = run(&s, ENDAVA.as_bytes(), &opts).unwrap();
    assert_eq!((again.tickets_imported, again.duplicates), (0, 5));
    assert_eq!(s.ticket_count().unwrap(), 5);
}

#[test]
fn bad_rows_are_reported_by_line_and_good_rows_imported() {
    let (_d, s) = temp_store();
    let mut data: Vec<u8> = Vec::new();
    data.extend_from_slice(b"id,subject,body,status,prio,created,labels\n");
    data.extend_from_slice(b"T1,Printer jam,paper stuck,open,high,2024-05-01T10:00:00Z,printer\n"); // line 2 ok
    data.extend_from_slice(b"T2,Too few fields\n"); // line 3
    data.extend_from_slice(b"T3,Bad state,x,exploded,low,2024-05-01T10:00:00Z,\n"); // line 4
    data.extend_from_slice(b"T4,Bad date,x,open,low,last tuesday,\n"); // line 5
    data.extend_from_slice(b"T5,Bad \xff\xfe utf8,x,open,low,2024-05-01T10:00:00Z,\n"); // line 6
    data.extend_from_slice(b"T6,\"multi\nline title\",y,new,low,2024-05-01T10:00:00Z,a;b\n"); // line 7-8
    let huge = "w ".repeat(600);
    data.extend_from_slice(format!("T7,{huge},x,open,low,2024-05-01T10:00:00Z,\n").as_bytes()); // line 9
    data.extend_from_slice(b",No key,x,open,low,2024-05-01T10:00:00Z,\n"); // line 10
    data.extend_from_slice(b"T8,Fine again,x,closed,critical,1714557600,\n"); // line 11

    let r = run(&s, &data, &csv_opts(simple_mapping())).unwrap();
    let lines: Vec<(u64, &str)> = r
        .problems
        .iter()
        .map(|p| (p.line, p.reason.as_str()))
        .collect();
    assert_eq!(r.rows_read, 9);
    assert_eq!(r.tickets_imported, 3, "{lines:?}");
    let at = |l: u64| {
        lines
            .iter()
            .find(|(n, _)| *n == l)
            .map(|(_, r)| *r)
            .unwrap_or_else(|| panic!("no problem at line {l}: {lines:?}"))
    };
    assert!(at(3).contains("2 fields, the header has 7"));
    assert!(at(4).contains("unknown state 'exploded'"));
    assert!(at(5).contains("created_at") && at(5).contains("not a date"));
    assert!(at(6).contains("subject is not valid UTF-8"));
    assert!(at(9).contains("over the limit of 1000"));
    assert!(at(10).contains("key is empty"));
    assert_eq!(lines.len(), 6);
    let t6 = s.ticket(s.resolve_key("T6").unwrap()).unwrap().ticket;
    assert_eq!(t6.title, "multi\nline title");
    assert_eq!(t6.tags, ["a", "b"]);
    let t8 = s.ticket(s.resolve_key("T8").unwrap()).unwrap().ticket;
    assert_eq!(
        (t8.created_at, t8.resolved_at.is_some()),
        (1_714_557_600_000, true)
    );
    assert_eq!(s.integrity_check().unwrap(), "ok");
}

#[test]
fn a_mapping_naming_a_missing_column_fails_before_importing_anything() {
    let (_d, s) = temp_store();
    let mut m = simple_mapping();
    m.fields.assignee = Some("Owner {owner}".into());
    let err = run(
        &s,
        b"id,subject,body,status,prio,created,labels\nT1,a,b,open,low,,\n",
        &csv_opts(m),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("column owner not in the file"),
        "{err}"
    );
    assert_eq!(s.ticket_count().unwrap(), 0);
}

#[test]
fn history_rows_must_be_adjacent() {
    let (_d, s) = temp_store();
    let m = Mapping::from_json(
        r#"{"fields": {"key": "id", "title": "t", "state": "s"}, "history": {"at": "at", "actor": "who"}}"#,
    )
    .unwrap();
    let data = "id,t,s,at,who\nA,x,new,1700000000,u1\nA,x,open,1700000100,u2\nB,y,new,1700000000,u1\nA,x,closed,1700000200,u3\n";
    let r = run(&s, data.as_bytes(), &csv_opts(m)).unwrap();
    assert_eq!(r.tickets_imported, 2);
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].line, 5);
    assert!(r.problems[0].reason.contains("must be adjacent"));
    let a = s.ticket(s.resolve_key("A").unwrap()).unwrap().ticket;
    assert_eq!(a.state, crate::model::TicketState::Open);
    assert_eq!(a.updated_at, 1_700_000_100_000);
}

#[test]
fn json_lines_and_arrays_import_and_a_cut_off_array_keeps_what_came_before() {
    let m = Mapping::from_json(
        r#"{"fields": {"key": "id", "title": "title", "priority": "priority"}, "tags": ["tags"]}"#,
    )
    .unwrap();
    let opts = ImportOptions {
        format: Format::Json,
        mapping: m,
    };

    let (_d, s) = temp_store();
    let lines = "{\"id\": \"J1\", \"title\": \"VPN\", \"tags\": [\"vpn\", \"net\"], \"priority\": 2}\n\nnot json\n[1]\n{\"id\": \"J2\", \"title\": \"Mail\"}\n";
    let r = run(&s, lines.as_bytes(), &opts).unwrap();
    assert_eq!(r.tickets_imported, 2);
    let probs: Vec<_> = r.problems.iter().map(|p| p.line).collect();
    assert_eq!(probs, [3, 4]);
    let j1 = s.ticket(s.resolve_key("J1").unwrap()).unwrap().ticket;
    assert_eq!(
        (j1.priority, j1.tags.clone()),
        (Priority::High, vec!["net".to_owned(), "vpn".to_owned()])
    );

    let (_d2, s2) = temp_store();
    let arr = r#"[{"id": "A1", "title": "one"}, {"id": "A2", "title": "two"}, {"id": "A3", "ti"#;
    let r = run(&s2, arr.as_bytes(), &opts).unwrap();
    assert_eq!(r.tickets_imported, 2);
    assert_eq!(r.problems.len(), 1);
    assert!(
        r.problems[0].reason.contains("record 3"),
        "{:?}",
        r.problems
    );

    let (_d3, s3) = temp_store();
    let err = run(&s3, b"   hello", &opts).unwrap_err();
    assert!(err.to_string().contains("not JSON"));
}

#[test]
fn problems_beyond_the_limit_are_counted_not_listed() {
    let (_d, s) = temp_store();
    let mut data = String::from("id,subject,body,status,prio,created,labels\n");
    for i in 0..(MAX_LISTED_PROBLEMS + 50) {
        data.push_str(&format!("X{i},t,b,nonsense,low,,\n"));
    }
    let r = run(&s, data.as_bytes(), &csv_opts(simple_mapping())).unwrap();
    assert_eq!(r.problems.len(), MAX_LISTED_PROBLEMS);
    assert_eq!(r.problems_not_listed, 50);
}

#[test]
fn imports_larger_than_a_batch_commit_in_batches() {
    let (_d, s) = temp_store();
    let mut data = String::from("id,subject,body,status,prio,created,labels\n");
    let n = BATCH_SIZE * 2 + 17;
    for i in 0..n {
        data.push_str(&format!("K{i},ticket {i},body,open,low,,\n"));
    }
    let clock = FixedClock::new(NOW);
    let mut seen = Vec::new();
    let r = import_reader(
        &s,
        data.as_bytes(),
        &csv_opts(simple_mapping()),
        "t",
        &clock,
        &mut |p| seen.push((p.rows_read, p.tickets_imported)),
    )
    .unwrap();
    assert_eq!(r.tickets_imported as usize, n);
    // One report per batch handed to the writer, and one at the end. The writer works a batch
    // behind the reader, so the committed count may lag the rows read, never lead them.
    let rows: Vec<u64> = seen.iter().map(|s| s.0).collect();
    assert_eq!(rows, [BATCH_SIZE as u64, 2 * BATCH_SIZE as u64, n as u64]);
    assert!(seen.windows(2).all(|w| w[0].1 <= w[1].1), "{seen:?}");
    assert!(seen.iter().all(|(read, done)| done <= read), "{seen:?}");
    assert_eq!(seen.last().map(|s| s.1), Some(n as u64));
}
