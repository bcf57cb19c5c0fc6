use super::*;
use crate::model::NewTicket;
use crate::store::Origin;
use crate::store::test_support::temp_store;

fn t(s: &str) -> Millis {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn values(name: &str) -> Option<String> {
    match name {
        "ticket.key" => Some("CB-7".into()),
        "requester.name" => Some("Zoë".into()),
        "ticket.title" => Some("braces {{in}} title".into()),
        _ => None,
    }
}

#[test]
fn placeholders_fill_fall_back_and_place_the_cursor() {
    let r = render(
        "Hi {{ requester.name }}, über {{ticket.key}}: {{cursor}}\nBye {{agent.name | the team}}",
        &values,
    );
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.text, "Hi Zoë, über CB-7: \nBye the team");
    // UTF-16 units before the caret: "Hi Zoë, über CB-7: " is 19 characters.
    assert_eq!(r.cursor, Some(19));
    // A value that contains braces is escaped, so no raw `{{` reaches the reply.
    let r = render("{{ticket.title}}", &values);
    assert_eq!(r.text, "braces \\{\\{in\\}\\} title");
    assert!(!r.text.contains("{{"));
}

#[test]
fn problems_are_reported_with_their_positions() {
    let tpl = "Hello {{requester.nmae}},\nticket {{ticket.key}} {{agent.name}}\n{{}} {{cursor}}{{cursor}}\nend {{ticket.key";
    let r = render(tpl, &values);
    let got: Vec<(ProblemKind, &str, u32, u32)> = r
        .problems
        .iter()
        .map(|p| (p.kind, p.text.as_str(), p.line, p.column))
        .collect();
    assert_eq!(
        got,
        vec![
            (ProblemKind::Unknown, "{{requester.nmae}}", 1, 7),
            (ProblemKind::NoValue, "{{agent.name}}", 2, 23),
            (ProblemKind::Malformed, "{{}}", 3, 1),
            (ProblemKind::ExtraCursor, "{{cursor}}", 3, 16),
            (ProblemKind::Malformed, "{{ticket.key", 4, 5),
        ]
    );
    let p = &r.problems[0];
    assert_eq!(&tpl[p.start as usize..p.end as usize], "{{requester.nmae}}");
    assert_eq!(p.message, "unknown placeholder 'requester.nmae'");
}

#[test]
fn macros_with_unknown_placeholders_or_nothing_to_do_are_refused() {
    let mut m = Macro::builtins().remove(0);
    m.body = "Dear {{customer.name}}".into();
    let err = m.validate().unwrap_err().to_string();
    assert!(
        err.contains("line 1 column 6: unknown placeholder 'customer.name'"),
        "{err}"
    );
    let mut empty = m.clone();
    empty.body = "  ".into();
    assert!(
        empty
            .validate()
            .unwrap_err()
            .to_string()
            .contains("has no text and changes no field")
    );
    let mut unnamed = m;
    unnamed.name = " ".into();
    assert!(unnamed.validate().is_err());
}

#[test]
fn macro_files_round_trip_and_bad_files_say_where() {
    for m in Macro::builtins() {
        let file = m.to_file();
        assert_eq!(Macro::from_file(&file).unwrap(), m, "{file}");
    }
    let mut tagged = Macro::builtins().remove(1);
    tagged.add_tags = vec!["waiting".into(), "vpn".into()];
    tagged.remove_tags = vec!["triage".into()];
    tagged.set_priority = Some(Priority::High);
    assert_eq!(Macro::from_file(&tagged.to_file()).unwrap(), tagged);

    let cases = [
        ("Hello", "line 1: a macro file starts with a '---' line"),
        (
            "---\nname: x\nbody",
            "line 3: expected 'key: value', got 'body'",
        ),
        (
            "---\nname: x\ncolour: red\n---\nhi",
            "line 3: unknown key 'colour'",
        ),
        (
            "---\nname: x\nstate: snoozed\n---\nhi",
            "line 3: unknown TicketState 'snoozed'",
        ),
        (
            "---\nname: x\nvisibility: secret\n---\nhi",
            "visibility must be public or internal",
        ),
        ("---\nname: x\n", "line 2: the front matter is not closed"),
        (
            "---\nname: x\n---\n{{bogus}}",
            "unknown placeholder 'bogus'",
        ),
    ];
    for (text, want) in cases {
        let err = Macro::from_file(text).unwrap_err().to_string();
        assert!(err.contains(want), "{err:?} should contain {want:?}");
    }
}

#[test]
fn stored_macros_replace_builtins_by_name() {
    let (_d, s) = temp_store();
    let names = |s: &Store| {
        s.macros()
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&s),
        ["Ask for details", "Customer update", "Resolved"]
    );
    let mut mine = Macro::builtins().remove(2);
    mine.body = "Fixed: {{cursor}}".into();
    s.save_macro(&mine, 1).unwrap();
    let mut other = mine.clone();
    other.name = "Escalate".into();
    other.set_priority = Some(Priority::Critical);
    other.body = String::new();
    s.save_macro(&other, 1).unwrap();
    assert_eq!(
        names(&s),
        ["Ask for details", "Customer update", "Escalate", "Resolved"]
    );
    assert_eq!(s.macro_named("Resolved").unwrap().body, "Fixed: {{cursor}}");
    s.delete_macro("Resolved").unwrap();
    assert!(
        s.macro_named("Resolved")
            .unwrap()
            .body
            .contains("is resolved")
    );
    assert!(matches!(
        s.delete_macro("Resolved"),
        Err(MacroError::NotFound(_))
    ));
    let mut bad = other;
    bad.body = "{{nope}}".into();
    assert!(matches!(
        s.save_macro(&bad, 2),
        Err(MacroError::Unresolved(_))
    ));
    assert!(s.macro_named("Escalate").unwrap().body.is_empty());
}

#[test]
fn applying_goes_through_the_event_log_and_outbox_or_does_nothing() {
    let (_d, s) = temp_store();
    let t0 = t("2026-03-02T09:00:00Z");
    let actor = |now| Actor {
        name: "ana",
        origin: Origin::App,
        now,
    };
    let mut n = NewTicket::local("Mailbox full");
    n.requester = Some("Carl".into());
    let tk = s.create_ticket(n, &actor(t0)).unwrap();
    let ops_before = s.outbox_open(Some(tk.id)).unwrap().len();

    // The customer update names the next update: 8 business hours after this reply (P3 default).
    let update = s.macro_named("Customer update").unwrap();
    let now = t("2026-03-02T10:00:00Z");
    let p = s
        .preview_macro(tk.id, &update, "ana", now, Some("Europe/Berlin"))
        .unwrap();
    assert!(p.rendered.problems.is_empty(), "{:?}", p.rendered.problems);
    assert!(
        p.rendered
            .text
            .contains("**When we will update again:** by Tue 3 Mar 2026, 11:00 CET"),
        "{}",
        p.rendered.text
    );
    assert!(p.rendered.text.starts_with("Hello Carl,"));

    // Ask for details: the state changes and a public reply is added, both logged and queued.
    let ask = s.macro_named("Ask for details").unwrap();
    let p = s.preview_macro(tk.id, &ask, "ana", now, None).unwrap();
    let applied = s
        .apply_macro(tk.id, Some(tk.revision), &ask, &p.rendered, &actor(now))
        .unwrap();
    assert_eq!(applied.ticket.state, TicketState::Pending);
    assert_eq!(applied.ticket.first_response_at, Some(now));
    let c = applied.comment.unwrap();
    assert_eq!(c.visibility, Visibility::Public);
    assert!(c.body.contains("To move CB-1 forward"));
    assert!(!c.body.contains("{{"));
    let kinds: Vec<_> = s
        .events_for(tk.id)
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    use crate::store::EventKind::*;
    assert_eq!(kinds, [Created, Updated, Commented]);
    let ops = s.outbox_open(Some(tk.id)).unwrap();
    assert_eq!(ops.len(), ops_before + 2);

    // A template with an unknown placeholder is refused and writes nothing.
    let mut broken = ask.clone();
    broken.body = "Hi {{customer}}".into();
    broken.set_state = Some(TicketState::Open);
    let r = render(&broken.body, &|_: &str| None);
    let rev = applied.ticket.revision;
    let err = s
        .apply_macro(tk.id, Some(rev), &broken, &r, &actor(now + 1))
        .unwrap_err();
    assert!(err.to_string().contains("nothing was sent"), "{err}");
    assert_eq!(s.events_for(tk.id).unwrap().len(), 3);
    // A stale revision is refused before anything is written.
    let ok = s.preview_macro(tk.id, &update, "ana", now, None).unwrap();
    let err = s
        .apply_macro(tk.id, Some(rev - 1), &update, &ok.rendered, &actor(now + 2))
        .unwrap_err();
    assert!(
        matches!(err, MacroError::Store(StoreError::StaleRevision { .. })),
        "{err}"
    );
    assert_eq!(s.events_for(tk.id).unwrap().len(), 3);
}
