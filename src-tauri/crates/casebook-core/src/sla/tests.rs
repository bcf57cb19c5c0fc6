use super::*;
use crate::model::{Millis, NewTicket, Priority, TicketPatch, TicketState, Visibility};
use crate::store::test_support::temp_store;
use crate::store::{Actor, Origin};
use proptest::prelude::*;

const MIN: Millis = 60_000;
const H: Millis = 60 * MIN;

/// An RFC 3339 instant as milliseconds.
fn t(s: &str) -> Millis {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn office(tz: &str) -> Calendar {
    Calendar::office("office", tz)
}

fn config_with(cal: Calendar, policy: SlaPolicy) -> CompiledConfig {
    SlaConfig {
        calendars: vec![cal],
        policies: vec![policy],
    }
    .compile()
    .unwrap()
}

fn policy(priority: Priority, fr: i64, nu: Option<i64>, res: i64) -> SlaPolicy {
    SlaPolicy {
        source: ANY_SOURCE.into(),
        priority,
        calendar: "office".into(),
        first_response_minutes: Some(fr),
        next_update_minutes: nu,
        resolution_minutes: Some(res),
        pause_states: vec![TicketState::Pending, TicketState::OnHold],
    }
}

fn state(at: &str, s: TicketState) -> Change {
    Change {
        at: t(at),
        kind: ChangeKind::State(s),
    }
}

fn reply(at: &str) -> Change {
    Change {
        at: t(at),
        kind: ChangeKind::PublicReply,
    }
}

fn ticket(created: &str, p: Priority, changes: Vec<Change>) -> TicketFacts {
    let mut f = TicketFacts::new(1, t(created), TicketState::New, p);
    f.changes = changes;
    f
}

// ---- calendars -------------------------------------------------------------------------------

#[test]
fn bad_calendars_are_refused_with_the_reason() {
    let mut no_hours = office("UTC");
    no_hours.hours.clear();
    let mut backwards = office("UTC");
    backwards.hours[0].end = "08:00".into();
    let mut bad_zone = office("Mars/Olympus");
    bad_zone.name = "mars".into();
    let mut bad_time = office("UTC");
    bad_time.hours[0].start = "25:00".into();
    let mut overlap_hours = office("UTC");
    overlap_hours.hours.push(WorkingHours {
        days: vec![Day::Mon],
        start: "16:00".into(),
        end: "18:00".into(),
    });
    let mut overlap_holidays = office("UTC");
    overlap_holidays.holidays = vec![
        Holiday {
            name: "Christmas".into(),
            from: "2026-12-24".into(),
            to: "2026-12-26".into(),
        },
        Holiday {
            name: "Boxing day".into(),
            from: "2026-12-26".into(),
            to: "2026-12-26".into(),
        },
    ];
    let mut bad_date = office("UTC");
    bad_date.holidays = vec![Holiday {
        name: "x".into(),
        from: "2026-13-01".into(),
        to: "2026-13-01".into(),
    }];
    let cases: Vec<(Calendar, &str)> = vec![
        (no_hours, "calendar 'office': has no working hours"),
        (backwards, "working hours 09:00–08:00 end before they start"),
        (bad_zone, "unknown time zone 'Mars/Olympus'"),
        (bad_time, "'25:00' is not a time of day"),
        (
            overlap_hours,
            "working hours overlap on mon: 09:00–17:00 and 16:00–18:00",
        ),
        (
            overlap_holidays,
            "holidays 'Christmas' and 'Boxing day' overlap",
        ),
        (bad_date, "'2026-13-01' is not a date"),
    ];
    for (cal, want) in cases {
        let err = cal.compile().unwrap_err().to_string();
        assert!(err.contains(want), "{err:?} should contain {want:?}");
    }
}

#[test]
fn business_time_follows_hours_weekends_holidays_and_dst() {
    let mut berlin = office("Europe/Berlin");
    berlin.holidays.push(Holiday {
        name: "Easter Monday".into(),
        from: "2026-04-06".into(),
        to: "2026-04-06".into(),
    });
    let mut b = berlin.compile().unwrap();
    // (from, to, business time)
    let cases = [
        // Within one day: 10:00–12:00 CET.
        ("2026-03-02T09:00:00Z", "2026-03-02T11:00:00Z", 2 * H),
        // Before opening and after closing count nothing.
        ("2026-03-02T05:00:00Z", "2026-03-02T08:00:00Z", 0),
        // Friday 16:00 CET → Monday 10:00 CET: 1 h + 1 h over a weekend.
        ("2026-02-27T15:00:00Z", "2026-03-02T09:00:00Z", 2 * H),
        // Friday 16:00 CET → Monday 10:00 CEST across the spring-forward weekend (clocks moved
        // on Sunday 29 March): still 1 h + 1 h of office time.
        ("2026-03-27T15:00:00Z", "2026-03-30T08:00:00Z", 2 * H),
        // Thursday 16:00 CEST → Tuesday 10:00 CEST over Good Friday (a working day here) and the
        // Easter Monday holiday: 1 h Thu + 8 h Fri + 1 h Tue.
        ("2026-04-02T14:00:00Z", "2026-04-07T08:00:00Z", 10 * H),
        // Across the fall-back weekend (25 October): Friday 16:00 CEST → Monday 10:00 CET.
        ("2026-10-23T14:00:00Z", "2026-10-26T09:00:00Z", 2 * H),
    ];
    for (from, to, want) in cases {
        assert_eq!(b.working_between(t(from), t(to)), want, "{from} → {to}");
    }
    // Friday 16:30 CET plus 1 h of business time: Monday 09:30 CET.
    assert_eq!(
        b.add_working(t("2026-02-27T15:30:00Z"), H),
        Some(t("2026-03-02T08:30:00Z"))
    );
    // A ticket opened on Saturday starts counting on Monday at 09:00.
    assert_eq!(
        b.add_working(t("2026-02-28T12:00:00Z"), 4 * H),
        Some(t("2026-03-02T12:00:00Z"))
    );
}

#[test]
fn daylight_saving_days_are_shorter_or_longer_in_a_24_hour_local_calendar() {
    let cal = Calendar {
        name: "sundays".into(),
        time_zone: "Europe/Berlin".into(),
        hours: vec![WorkingHours {
            days: vec![Day::Sun],
            start: "00:00".into(),
            end: "24:00".into(),
        }],
        holidays: vec![],
    };
    let mut c = cal.compile().unwrap();
    let week = |from: &str, to: &str, c: &mut CompiledCalendar| c.working_between(t(from), t(to));
    assert_eq!(
        week("2026-03-23T00:00:00Z", "2026-03-31T00:00:00Z", &mut c),
        23 * H,
        "spring forward"
    );
    assert_eq!(
        week("2026-10-19T00:00:00Z", "2026-10-27T00:00:00Z", &mut c),
        25 * H,
        "fall back"
    );
    // Working hours inside the spring-forward gap: 01:00–04:00 local is 2 real hours that night.
    let night = Calendar {
        name: "night".into(),
        time_zone: "Europe/Berlin".into(),
        hours: vec![WorkingHours {
            days: vec![Day::Sun],
            start: "01:00".into(),
            end: "04:00".into(),
        }],
        holidays: vec![],
    };
    let mut n = night.compile().unwrap();
    assert_eq!(
        n.working_between(t("2026-03-28T00:00:00Z"), t("2026-03-30T00:00:00Z")),
        2 * H
    );
    // New York moves its clocks on a different Sunday (8 March): office hours stay 09:00–17:00
    // local, so Friday 16:00 EST → Monday 10:00 EDT is still 2 h.
    let mut ny = office("America/New_York").compile().unwrap();
    assert_eq!(
        ny.working_between(t("2026-03-06T21:00:00Z"), t("2026-03-09T14:00:00Z")),
        2 * H
    );
}

// ---- policies --------------------------------------------------------------------------------

#[test]
fn bad_policies_are_refused_with_the_reason() {
    let base = policy(Priority::High, 60, Some(120), 480);
    let mut negative = base.clone();
    negative.first_response_minutes = Some(-5);
    let mut absurd = base.clone();
    absurd.resolution_minutes = Some(MAX_TARGET_MINUTES + 1);
    let mut inverted = base.clone();
    inverted.first_response_minutes = Some(600);
    let mut pause_open = base.clone();
    pause_open.pause_states = vec![TicketState::Open];
    let mut empty = base.clone();
    empty.first_response_minutes = None;
    empty.next_update_minutes = None;
    empty.resolution_minutes = None;
    let cases = [
        (
            negative,
            "the first response target must be positive (got -5 minutes)",
        ),
        (absurd, "more than a year of business time"),
        (
            inverted,
            "first response target (600 min) is longer than the resolution target",
        ),
        (
            pause_open,
            "only pending and on_hold can pause the clock, not open",
        ),
        (empty, "sets no target"),
    ];
    for (p, want) in cases {
        let err = p.validate().unwrap_err().to_string();
        assert!(err.contains(want), "{err:?} should contain {want:?}");
        assert!(err.starts_with("policy */high:"), "{err}");
    }
    let mut missing_cal = base;
    missing_cal.calendar = "nope".into();
    let err = SlaConfig {
        calendars: vec![office("UTC")],
        policies: vec![missing_cal],
    }
    .compile()
    .unwrap_err();
    assert!(
        err.to_string().contains("calendar 'nope' does not exist"),
        "{err}"
    );
}

#[test]
fn defaults_compile_and_match_common_practice() {
    let mut cfg = SlaConfig::defaults().compile().unwrap();
    let (p1, _) = cfg.policy_for("local", Priority::Critical).unwrap();
    assert_eq!(
        (p1.calendar.as_str(), p1.first_response_minutes),
        (CALENDAR_24X7, Some(15))
    );
    let (p2, _) = cfg.policy_for("jira-1", Priority::High).unwrap();
    assert_eq!(p2.first_response_minutes, Some(60));
    let (p3, _) = cfg.policy_for("local", Priority::Medium).unwrap();
    assert_eq!(
        (p3.calendar.as_str(), p3.first_response_minutes),
        (CALENDAR_BUSINESS, Some(240))
    );
    // A Sev1 opened on Saturday night is due 15 minutes later; a P3 on Monday at 13:00 UTC.
    let sat = "2026-02-28T22:00:00Z";
    let sev1 = compute(&ticket(sat, Priority::Critical, vec![]), &mut cfg, t(sat));
    assert_eq!(sev1.next_due_at, Some(t(sat) + 15 * MIN));
    let p3 = compute(&ticket(sat, Priority::Medium, vec![]), &mut cfg, t(sat));
    assert_eq!(
        p3.target(TargetKind::FirstResponse).unwrap().due_at,
        Some(t("2026-03-02T13:00:00Z"))
    );
}

// ---- the engine ------------------------------------------------------------------------------

struct Case {
    name: &'static str,
    facts: TicketFacts,
    now: &'static str,
    kind: TargetKind,
    state: TargetState,
    elapsed: Millis,
    paused: Millis,
}

#[test]
fn engine_table() {
    use TicketState::*;
    let cases = vec![
        Case {
            name: "created on Saturday: the clock waits for Monday 09:00",
            facts: ticket("2026-02-28T10:00:00Z", Priority::Medium, vec![]),
            now: "2026-03-02T10:30:00Z",
            kind: TargetKind::FirstResponse,
            state: TargetState::Running,
            elapsed: 90 * MIN,
            paused: 0,
        },
        Case {
            name: "a pause over the night and a weekend counts nothing",
            facts: ticket(
                "2026-02-27T09:00:00Z",
                Priority::Medium,
                vec![
                    reply("2026-02-27T09:30:00Z"),
                    state("2026-02-27T16:00:00Z", Pending),
                    state("2026-03-02T11:00:00Z", Open),
                ],
            ),
            now: "2026-03-02T12:00:00Z",
            kind: TargetKind::Resolution,
            state: TargetState::Running,
            elapsed: 7 * H + H,
            paused: 67 * H,
        },
        Case {
            name: "reopened after resolution: the clock resumes where it stopped",
            facts: ticket(
                "2026-03-02T09:00:00Z",
                Priority::Medium,
                vec![
                    reply("2026-03-02T09:10:00Z"),
                    state("2026-03-02T11:00:00Z", Resolved),
                    state("2026-03-03T10:00:00Z", Open),
                ],
            ),
            now: "2026-03-03T12:00:00Z",
            kind: TargetKind::Resolution,
            state: TargetState::Running,
            elapsed: 4 * H,
            paused: 0,
        },
        Case {
            name: "resolved within target",
            facts: ticket(
                "2026-03-02T09:00:00Z",
                Priority::Medium,
                vec![
                    reply("2026-03-02T09:10:00Z"),
                    state("2026-03-02T11:00:00Z", Resolved),
                    state("2026-03-05T11:00:00Z", Closed),
                ],
            ),
            now: "2026-03-09T12:00:00Z",
            kind: TargetKind::Resolution,
            state: TargetState::Met,
            elapsed: 2 * H,
            paused: 0,
        },
        Case {
            name: "no reply after 5 business hours: first response breached",
            facts: ticket("2026-03-02T09:00:00Z", Priority::Medium, vec![]),
            now: "2026-03-02T14:00:00Z",
            kind: TargetKind::FirstResponse,
            state: TargetState::Breached,
            elapsed: 5 * H,
            paused: 0,
        },
        Case {
            name: "resolving without a reply stops the first-response clock",
            facts: ticket(
                "2026-03-02T09:00:00Z",
                Priority::Medium,
                vec![state("2026-03-02T10:00:00Z", Resolved)],
            ),
            now: "2026-03-02T14:00:00Z",
            kind: TargetKind::FirstResponse,
            state: TargetState::Met,
            elapsed: H,
            paused: 0,
        },
        Case {
            name: "paused now: the clock is stopped, nothing is due",
            facts: ticket(
                "2026-03-02T09:00:00Z",
                Priority::Medium,
                vec![
                    reply("2026-03-02T09:05:00Z"),
                    state("2026-03-02T10:00:00Z", OnHold),
                ],
            ),
            now: "2026-03-04T10:00:00Z",
            kind: TargetKind::Resolution,
            state: TargetState::Paused,
            elapsed: H,
            paused: 48 * H,
        },
    ];
    for c in cases {
        let mut cfg = config_with(
            office("UTC"),
            policy(Priority::Medium, 240, Some(480), 1440),
        );
        let sla = compute(&c.facts, &mut cfg, t(c.now));
        let target = sla.target(c.kind).unwrap();
        assert_eq!(
            (target.state, target.elapsed_ms, sla.paused_ms),
            (c.state, c.elapsed, c.paused),
            "{}: {target:?}",
            c.name
        );
        assert_eq!(
            target.remaining_ms,
            target.target_ms - target.elapsed_ms,
            "{}",
            c.name
        );
        // Replaying the same history gives the same answer.
        assert_eq!(compute(&c.facts, &mut cfg, t(c.now)), sla, "{}", c.name);
    }
}

#[test]
fn a_priority_change_retargets_but_keeps_the_pause_time() {
    use TicketState::*;
    let history = vec![
        reply("2026-03-02T09:05:00Z"),
        state("2026-03-02T10:00:00Z", Pending),
        state("2026-03-02T13:10:00Z", Open),
    ];
    let mut cfg = SlaConfig::defaults().compile().unwrap();
    let before = ticket("2026-03-02T09:00:00Z", Priority::Medium, history.clone());
    let now = t("2026-03-02T14:00:00Z");
    let a = compute(&before, &mut cfg, now);
    let mut after = before.clone();
    after.changes.push(Change {
        at: t("2026-03-02T13:30:00Z"),
        kind: ChangeKind::Priority(Priority::Critical),
    });
    let b = compute(&after, &mut cfg, now);
    assert_eq!(
        (a.priority, b.priority),
        (Priority::Medium, Priority::Critical)
    );
    assert_eq!(a.paused_ms, 3 * H + 10 * MIN);
    assert_eq!(b.paused_ms, a.paused_ms, "the pause survives the change");
    let res_a = a.target(TargetKind::Resolution).unwrap();
    let res_b = b.target(TargetKind::Resolution).unwrap();
    // Same running time (1 h before the pause + 50 min after), judged against the new target.
    assert_eq!(res_a.elapsed_ms, H + 50 * MIN);
    assert_eq!(res_b.elapsed_ms, H + 50 * MIN);
    assert_eq!(res_b.target_ms, 4 * H);
    assert_eq!(res_b.due_at, Some(now + 4 * H - (H + 50 * MIN)));
    assert_eq!(
        res_a.explanation,
        "paused 3 h 10 min while waiting on the customer; resolution: 22 h 10 min of business \
         time left, due 2026-03-05 12:10 UTC"
    );
}

#[test]
fn next_update_cadence_counts_late_updates() {
    let mut cfg = config_with(
        office("UTC"),
        policy(Priority::Medium, 240, Some(120), 2400),
    );
    let f = ticket(
        "2026-03-02T09:00:00Z",
        Priority::Medium,
        vec![
            reply("2026-03-02T09:30:00Z"),
            reply("2026-03-02T11:00:00Z"), // 1 h 30 min: on time
            reply("2026-03-02T14:00:00Z"), // 3 h: late
        ],
    );
    let s = compute(&f, &mut cfg, t("2026-03-02T15:00:00Z"));
    let nu = s.target(TargetKind::NextUpdate).unwrap();
    assert_eq!((nu.missed, nu.started_at), (1, t("2026-03-02T14:00:00Z")));
    assert_eq!(
        nu.state,
        TargetState::Running,
        "the current cycle is on time"
    );
    assert_eq!(nu.due_at, Some(t("2026-03-02T16:00:00Z")));
    let later = compute(&f, &mut cfg, t("2026-03-02T16:30:00Z"));
    let nu = later.target(TargetKind::NextUpdate).unwrap();
    assert_eq!((nu.state, nu.missed), (TargetState::Breached, 2));
    assert_eq!(nu.breached_at, Some(t("2026-03-02T16:00:00Z")));
    assert_eq!(
        later.next_due_at,
        Some(t("2026-03-06T17:00:00Z")),
        "resolution: 40 business hours from Monday 09:00 end on Friday at 17:00"
    );
}

#[test]
fn upstream_made_sla_is_shown_and_disagreement_flagged() {
    let mut cfg = config_with(office("UTC"), policy(Priority::Medium, 60, None, 120));
    let mut f = ticket(
        "2026-03-02T09:00:00Z",
        Priority::Medium,
        vec![state("2026-03-02T14:00:00Z", TicketState::Resolved)],
    );
    f.upstream_made_sla = Some(true);
    let s = compute(&f, &mut cfg, t("2026-03-03T00:00:00Z"));
    let up = s.upstream.unwrap();
    assert_eq!(
        (up.made_sla, up.local_made_sla, up.agrees),
        (true, false, false)
    );
    f.upstream_made_sla = Some(false);
    assert!(
        compute(&f, &mut cfg, t("2026-03-03T00:00:00Z"))
            .upstream
            .unwrap()
            .agrees
    );
}

#[test]
fn a_jira_request_sla_is_the_upstream_verdict_when_there_is_no_made_sla() {
    use super::facts::upstream_resolution_sla;
    let jira = |breached: serde_json::Value| {
        serde_json::json!({ "sla": [
            { "name": "Time to first response", "breached": false, "completed": true },
            { "name": "Time to resolution", "breached": breached, "completed": false },
        ]})
    };
    assert_eq!(
        upstream_resolution_sla(&jira(true.into())),
        Some((false, "jira: time to resolution"))
    );
    assert_eq!(
        upstream_resolution_sla(&jira(false.into())),
        Some((true, "jira: time to resolution"))
    );
    // Unreadable or absent: no verdict, never a guess.
    assert_eq!(upstream_resolution_sla(&jira("soon".into())), None);
    assert_eq!(
        upstream_resolution_sla(&serde_json::json!({ "sla": [] })),
        None
    );
    assert_eq!(upstream_resolution_sla(&serde_json::json!({})), None);
    // ServiceNow's flag wins when both are present.
    let mut both = jira(true.into());
    both["made_sla"] = "true".into();
    assert_eq!(upstream_resolution_sla(&both), Some((true, "made_sla")));

    // Beside the local result: Jira says breached, the local clock says met.
    let mut cfg = config_with(office("UTC"), policy(Priority::Medium, 60, None, 120));
    let mut f = ticket("2026-03-02T09:00:00Z", Priority::Medium, vec![]);
    let (made, field) = upstream_resolution_sla(&jira(true.into())).unwrap();
    f.upstream_made_sla = Some(made);
    f.upstream_field = field;
    let up = compute(&f, &mut cfg, t("2026-03-02T09:30:00Z"))
        .upstream
        .unwrap();
    assert_eq!(up.field, "jira: time to resolution");
    assert_eq!(
        (up.made_sla, up.local_made_sla, up.agrees),
        (false, true, false)
    );
}

#[test]
fn risk_order_puts_breaches_first_then_the_soonest_due() {
    let cfg = SlaConfig::defaults().compile().unwrap();
    let now = t("2026-03-02T12:00:00Z");
    let mk = |id, created: &str, p, changes| {
        let mut f = ticket(created, p, changes);
        f.id = id;
        compute(&f, &mut cfg.clone(), now)
    };
    let all = vec![
        mk(1, "2026-03-02T11:50:00Z", Priority::Medium, vec![]),
        mk(2, "2026-03-02T11:55:00Z", Priority::Critical, vec![]),
        mk(3, "2026-03-02T11:00:00Z", Priority::Critical, vec![]),
        mk(
            4,
            "2026-03-02T09:00:00Z",
            Priority::Medium,
            vec![state("2026-03-02T10:00:00Z", TicketState::Resolved)],
        ),
        mk(
            5,
            "2026-03-02T09:00:00Z",
            Priority::Low,
            vec![state("2026-03-02T09:30:00Z", TicketState::Pending)],
        ),
    ];
    let order: Vec<_> = risk_order(&all).into_iter().map(|(id, _)| id).collect();
    assert_eq!(order, vec![3, 2, 1, 5]);
    assert!(matches!(risk_key(&all[0]), Some(RiskKey::Due(_))));
}

// ---- the store -------------------------------------------------------------------------------

#[test]
fn every_loader_reads_the_upstream_verdict_from_servicenow_and_jira_fields() {
    let (_d, s) = temp_store();
    let actor = Actor {
        name: "ana",
        origin: Origin::App,
        now: t("2026-03-02T09:00:00Z"),
    };
    let with_extra = |title: &str, extra: serde_json::Value| {
        let mut n = NewTicket::local(title);
        n.extra = extra;
        s.create_ticket(n, &actor).unwrap()
    };
    let jira = with_extra(
        "jira request",
        serde_json::json!({ "sla": [{ "name": "Time to resolution", "breached": true }] }),
    );
    let snow = with_extra("incident", serde_json::json!({ "made_sla": "true" }));
    let plain = with_extra("local", serde_json::json!({}));
    let verdicts = |all: Vec<TicketFacts>| -> Vec<(i64, Option<bool>, &'static str)> {
        all.into_iter()
            .map(|f| (f.id, f.upstream_made_sla, f.upstream_field))
            .collect()
    };
    let expected = vec![
        (jira.id, Some(false), "jira: time to resolution"),
        (snow.id, Some(true), "made_sla"),
        (plain.id, None, "made_sla"),
    ];
    assert_eq!(verdicts(s.sla_facts_all().unwrap()), expected);
    assert_eq!(
        verdicts(s.sla_facts_all_from_event_log().unwrap()),
        expected
    );
    let one = s.sla_facts(jira.id).unwrap().unwrap();
    let detail = s.ticket(jira.id).unwrap();
    assert_eq!(
        TicketFacts::from_events(&detail.ticket, &s.events_for(jira.id).unwrap()),
        one
    );
}

#[test]
fn the_engine_reads_real_edits_and_policy_changes_recompute_history() {
    let (_d, s) = temp_store();
    let actor = |now| Actor {
        name: "ana",
        origin: Origin::App,
        now,
    };
    let t0 = t("2026-03-02T09:00:00Z");
    let mut n = NewTicket::local("VPN down");
    n.requester = Some("carl".into());
    n.priority = Priority::High;
    let tk = s.create_ticket(n, &actor(t0)).unwrap();
    // An internal note and a reply by the requester are not a first response.
    s.add_comment(
        tk.id,
        Visibility::Internal,
        "looking",
        &actor(t0 + 10 * MIN),
    )
    .unwrap();
    s.add_comment(
        tk.id,
        Visibility::Public,
        "any news?",
        &Actor {
            name: "carl",
            origin: Origin::App,
            now: t0 + 20 * MIN,
        },
    )
    .unwrap();
    s.add_comment(tk.id, Visibility::Public, "on it", &actor(t0 + 70 * MIN))
        .unwrap();
    let patch = |st| TicketPatch {
        state: Some(st),
        ..Default::default()
    };
    s.update_ticket(
        tk.id,
        None,
        &patch(TicketState::Pending),
        &actor(t0 + 2 * H),
    )
    .unwrap();
    s.update_ticket(tk.id, None, &patch(TicketState::Open), &actor(t0 + 5 * H))
        .unwrap();
    let facts = s.sla_facts(tk.id).unwrap().unwrap();
    assert_eq!(facts.initial_state, TicketState::New);
    assert_eq!(facts.touches.len(), 4, "two agent comments and two edits");
    // The bulk loader, the one-ticket loader and the per-event path agree.
    assert_eq!(s.sla_facts_all().unwrap(), vec![facts.clone()]);
    assert_eq!(
        s.sla_facts_all_from_event_log().unwrap(),
        vec![facts.clone()],
        "the compact table and the event log's JSON disagree"
    );
    let detail = s.ticket(tk.id).unwrap();
    assert_eq!(
        TicketFacts::from_events(&detail.ticket, &s.events_for(tk.id).unwrap()),
        facts
    );
    let now = t0 + 6 * H;
    let mut cfg = s.sla_config().unwrap().compile().unwrap();
    let sla = compute(&facts, &mut cfg, now);
    let fr = sla.target(TargetKind::FirstResponse).unwrap();
    assert_eq!(
        (fr.state, fr.stopped_at),
        (TargetState::Breached, Some(t0 + 70 * MIN)),
        "the default P2 first response is 1 h"
    );
    assert_eq!(sla.paused_ms, 3 * H);

    // A laxer P2 policy for local tickets turns the same history into a met first response.
    let mut lax = SlaConfig::defaults().policies[1].clone();
    lax.source = "local".into();
    lax.first_response_minutes = Some(90);
    s.save_policy(&lax, now).unwrap();
    let mut cfg = s.sla_config().unwrap().compile().unwrap();
    let again = compute(&facts, &mut cfg, now);
    assert_eq!(
        again.target(TargetKind::FirstResponse).unwrap().state,
        TargetState::Met
    );
    assert_eq!(again.policy.as_deref(), Some("local/high"));
    s.delete_policy("local", Priority::High).unwrap();
    assert!(s.delete_policy("local", Priority::High).is_err());
}

#[test]
fn invalid_configuration_is_refused_and_nothing_is_stored() {
    let (_d, s) = temp_store();
    let mut cal = office("Europe/Berlin");
    cal.hours.clear();
    let err = s.save_calendar(&cal, 1).unwrap_err();
    assert_eq!(err.to_string(), "calendar 'office': has no working hours");
    let mut p = SlaConfig::defaults().policies[0].clone();
    p.calendar = "office".into();
    let err = s.save_policy(&p, 1).unwrap_err();
    assert!(
        err.to_string().contains("calendar 'office' does not exist"),
        "{err}"
    );
    assert_eq!(
        s.sla_stored().unwrap(),
        SlaConfig {
            calendars: vec![],
            policies: vec![]
        }
    );
    // A valid calendar and a policy using it; then the calendar cannot be deleted.
    s.save_calendar(&office("Europe/Berlin"), 1).unwrap();
    s.save_policy(&p, 1).unwrap();
    let err = s.delete_calendar("office").unwrap_err();
    assert!(
        err.to_string().contains("calendar 'office' does not exist"),
        "{err}"
    );
    assert_eq!(s.sla_stored().unwrap().calendars.len(), 1);
    let merged = s.sla_config().unwrap();
    assert_eq!(
        merged.policies.len(),
        4,
        "the stored */critical replaced the default"
    );
    assert_eq!(merged.policies[0].calendar, "office");
}

// ---- properties ------------------------------------------------------------------------------

fn any_calendar() -> impl Strategy<Value = Calendar> {
    let zones = prop::sample::select(vec![
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
    ]);
    (
        zones,
        0u16..12,
        1u16..12,
        prop::collection::vec(0usize..7, 1..7),
        any::<bool>(),
    )
        .prop_map(|(tz, start, len, days, holiday)| {
            let mut days: Vec<Day> = days.into_iter().map(|d| Day::ALL[d]).collect();
            days.sort();
            days.dedup();
            Calendar {
                name: "p".into(),
                time_zone: tz.into(),
                hours: vec![WorkingHours {
                    days,
                    start: format!("{:02}:00", start),
                    end: format!("{:02}:30", start + len),
                }],
                holidays: if holiday {
                    vec![Holiday {
                        name: "h".into(),
                        from: "2026-03-28".into(),
                        to: "2026-04-02".into(),
                    }]
                } else {
                    vec![]
                },
            }
        })
}

/// Instants around the 2026 DST changes (both hemispheres), minute precision.
fn instant() -> impl Strategy<Value = Millis> {
    let base = t("2026-03-20T00:00:00Z");
    (0i64..(60 * 24 * 60)).prop_map(move |m| base + m * MIN)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn business_time_is_additive_and_bounded(cal in any_calendar(), a in instant(), b in instant(), c in instant()) {
        let mut v = [a, b, c];
        v.sort();
        let [a, b, c] = v;
        let mut k = cal.compile().unwrap();
        let ab = k.working_between(a, b);
        let bc = k.working_between(b, c);
        prop_assert_eq!(ab + bc, k.working_between(a, c));
        prop_assert!(ab >= 0 && ab <= b - a);
    }

    #[test]
    fn the_day_table_agrees_with_day_by_day_counting(cal in any_calendar(), a in instant(), b in instant(), mins in 0i64..(60 * 60)) {
        let mut k = cal.compile().unwrap();
        let (a, b) = (a.min(b), a.max(b));
        prop_assert_eq!(k.working_between(a, b), k.working_between_slow(a, b));
        prop_assert_eq!(k.add_working(a, mins * MIN), k.add_working_slow(a, mins * MIN));
        // Far from the span tabulated so far (the table grows), and back.
        let later = b + 400 * 24 * H;
        prop_assert_eq!(k.working_between(a, later), k.working_between_slow(a, later));
        prop_assert_eq!(k.add_working(later, mins * MIN), k.add_working_slow(later, mins * MIN));
    }

    #[test]
    fn adding_business_time_is_the_inverse_of_measuring_it(cal in any_calendar(), a in instant(), mins in 0i64..(40 * 60)) {
        let mut k = cal.compile().unwrap();
        let end = k.add_working(a, mins * MIN).unwrap();
        prop_assert!(end >= a);
        prop_assert_eq!(k.working_between(a, end), mins * MIN);
    }

    #[test]
    fn the_engine_is_deterministic_monotonic_and_never_counts_pauses(
        cal in any_calendar(),
        steps in prop::collection::vec((1i64..(3 * 24 * 60), 0usize..6, any::<bool>()), 0..12),
        extra in 0i64..(5 * 24 * 60),
    ) {
        let created = t("2026-03-25T08:00:00Z");
        let mut at = created;
        let mut changes = Vec::new();
        for (gap, s, is_reply) in steps {
            at += gap * MIN;
            changes.push(if is_reply {
                Change { at, kind: ChangeKind::PublicReply }
            } else {
                Change { at, kind: ChangeKind::State(TicketState::ALL[s]) }
            });
        }
        let f = ticket("2026-03-25T08:00:00Z", Priority::Medium, changes);
        let mut cal = cal;
        cal.name = "office".into();
        let mut cfg = config_with(cal, policy(Priority::Medium, 240, Some(480), 2400));
        let now = at + extra * MIN;
        let a = compute(&f, &mut cfg, now);
        prop_assert_eq!(&compute(&f, &mut cfg.clone(), now), &a);
        let later = compute(&f, &mut cfg, now + 7 * H);
        for (x, y) in a.targets.iter().zip(&later.targets) {
            if x.kind == y.kind && x.kind != TargetKind::NextUpdate {
                prop_assert!(y.elapsed_ms >= x.elapsed_ms, "{:?} → {:?}", x, y);
            }
        }
        let res = a.target(TargetKind::Resolution).unwrap();
        prop_assert!(res.elapsed_ms + a.paused_ms <= now - created);
        if res.state == TargetState::Running {
            let due = res.due_at.unwrap();
            prop_assert!(due >= now);
        }
    }
}

#[test]
fn the_facts_cache_follows_the_event_log_and_catches_silent_changes() {
    let (_d, s) = temp_store();
    let actor = |now| Actor {
        name: "ana",
        origin: Origin::App,
        now,
    };
    let a = s.create_ticket(NewTicket::local("one"), &actor(1)).unwrap();
    s.create_ticket(NewTicket::local("two"), &actor(2)).unwrap();
    let mut cache = FactsCache::new();
    assert_eq!(cache.refresh(&s).unwrap().len(), 2);
    assert_eq!((cache.full_loads, cache.incremental), (1, 0));
    // Nothing changed: nothing is read.
    cache.refresh(&s).unwrap();
    assert_eq!((cache.full_loads, cache.incremental), (1, 0));
    // An edit and a new ticket: only those are re-read, and the result equals a full load.
    s.update_ticket(
        a.id,
        None,
        &TicketPatch {
            state: Some(TicketState::Pending),
            ..Default::default()
        },
        &actor(3),
    )
    .unwrap();
    s.create_ticket(NewTicket::local("three"), &actor(4))
        .unwrap();
    let mut got = cache.refresh(&s).unwrap().to_vec();
    assert_eq!((cache.full_loads, cache.incremental), (1, 1));
    got.sort_by_key(|f| f.id);
    assert_eq!(got, s.sla_facts_all().unwrap());
    // The compact table (migration 0009) says what the event log's JSON says.
    assert_eq!(got, s.sla_facts_all_from_event_log().unwrap());
    // A change that wrote no event is caught by the revision check.
    s.write(|tx| {
        tx.execute(
            "UPDATE tickets SET assignment_group = 'net', revision = revision + 1 WHERE id = ?",
            [a.id],
        )?;
        Ok(())
    })
    .unwrap();
    let got = cache.refresh(&s).unwrap();
    assert_eq!(got[0].group.as_deref(), Some("net"));
    assert_eq!(cache.full_loads, 2);
}

#[test]
fn the_compact_facts_survive_encryption_in_place() {
    // sqlcipher_export copies tables, then creates triggers: the copy must not run the facts
    // trigger a second time over copied events (a duplicate would fail the export).
    let (dir, s) = temp_store();
    let actor = |now| Actor {
        name: "ana",
        origin: Origin::App,
        now,
    };
    let tk = s.create_ticket(NewTicket::local("VPN"), &actor(1)).unwrap();
    s.add_comment(tk.id, Visibility::Public, "on it", &actor(2))
        .unwrap();
    s.update_ticket(
        tk.id,
        None,
        &TicketPatch {
            state: Some(TicketState::Pending),
            ..Default::default()
        },
        &actor(3),
    )
    .unwrap();
    let before = s.sla_facts_all().unwrap();
    let path = s.path().to_owned();
    drop(s);
    let key = crate::store::DatabaseKey::generate().unwrap();
    crate::store::Store::encrypt_in_place(&path, &key).unwrap();
    let s = crate::store::Store::open_encrypted(&path, crate::store::OpenMode::MustExist, &key)
        .unwrap();
    assert_eq!(s.sla_facts_all().unwrap(), before);
    // New events still reach the table after the copy.
    s.add_comment(tk.id, Visibility::Public, "more", &actor(4))
        .unwrap();
    assert_eq!(
        s.sla_facts_all().unwrap(),
        s.sla_facts_all_from_event_log().unwrap()
    );
    drop(dir);
}

#[test]
fn risk_values_stay_put_as_time_passes_and_only_changed_tickets_are_recomputed() {
    let (_d, s) = temp_store();
    let actor = |now| Actor {
        name: "ana",
        origin: Origin::App,
        now,
    };
    let t0 = t("2026-03-02T09:00:00Z");
    let mut p1 = NewTicket::local("core switch");
    p1.priority = Priority::Critical;
    let a = s.create_ticket(p1, &actor(t0)).unwrap();
    let b = s
        .create_ticket(NewTicket::local("printer"), &actor(t0))
        .unwrap();
    let config = s.sla_config().unwrap();
    let values = |now: Millis| {
        let mut facts = FactsCache::new();
        facts.refresh(&s).unwrap();
        let mut risk = RiskCache::new();
        risk.update(&facts, &config, now).unwrap();
        (risk.value(&facts, a.id), risk.value(&facts, b.id))
    };
    // The P1's response is due 09:15; before, at and after the breach the value is that instant.
    let due = t0 + 15 * MIN;
    for now in [t0, t0 + 5 * MIN, due, t0 + 2 * H] {
        assert_eq!(values(now).0, due, "at {now}");
    }
    assert!(values(t0).0 < values(t0).1, "the P1 before the P3");
    assert_eq!(risk_instant(values(t0).0), Some(due));

    let mut facts = FactsCache::new();
    let mut risk = RiskCache::new();
    facts.refresh(&s).unwrap();
    risk.update(&facts, &config, t0).unwrap();
    assert_eq!(risk.computed, 2);
    facts.refresh(&s).unwrap();
    risk.update(&facts, &config, t0 + MIN).unwrap();
    assert_eq!(risk.computed, 2, "nothing changed, nothing recomputed");
    // A pause: only that ticket is recomputed, and it goes behind every running ticket.
    s.update_ticket(
        a.id,
        None,
        &TicketPatch {
            state: Some(TicketState::Pending),
            ..Default::default()
        },
        &actor(t0 + 2 * MIN),
    )
    .unwrap();
    facts.refresh(&s).unwrap();
    risk.update(&facts, &config, t0 + 3 * MIN).unwrap();
    assert_eq!(risk.computed, 3);
    assert!(risk.value(&facts, a.id) > risk.value(&facts, b.id));
    assert_eq!(risk_instant(risk.value(&facts, a.id)), None);
    // A policy change recomputes everything.
    let mut changed = config.clone();
    changed.policies[0].first_response_minutes = Some(5);
    risk.update(&facts, &changed, t0 + 4 * MIN).unwrap();
    assert_eq!(risk.computed, 5);
    // A resolved ticket has no value.
    s.update_ticket(
        b.id,
        None,
        &TicketPatch {
            state: Some(TicketState::Resolved),
            ..Default::default()
        },
        &actor(t0 + 5 * MIN),
    )
    .unwrap();
    facts.refresh(&s).unwrap();
    risk.update(&facts, &changed, t0 + 6 * MIN).unwrap();
    assert_eq!(risk.value(&facts, b.id), crate::store::NO_RISK);
}

// ---- upstream SLA cycles: ServiceNow task_sla and Zendesk policy metrics ----------------------

fn cycle_item(
    source: &str,
    stage: &str,
    breached: serde_json::Value,
    breach_at: Millis,
) -> serde_json::Value {
    serde_json::json!({
        "source": source, "name": "resolution", "target": "resolution", "stage": stage,
        "breached": breached, "breach_at": breach_at,
        "completed": matches!(stage, "completed" | "achieved"), "paused": stage == "paused",
    })
}

#[test]
fn a_running_servicenow_task_sla_turns_breached_when_now_passes_its_breach_time() {
    let due = t("2026-03-02T11:00:00Z");
    let extra = |stage: &str| {
        serde_json::json!({ "sla": [
            { "source": "servicenow", "name": "P3 response", "target": "response",
              "stage": "completed", "breached": true, "breach_at": due },
            cycle_item("servicenow", stage, false.into(), due),
        ]})
    };
    let c = upstream_cycle(&extra("in_progress")["sla"]).unwrap();
    assert_eq!(
        (c.breached, c.breach_at, c.completed, c.paused, c.field),
        (Some(false), Some(due), false, false, "servicenow: task_sla")
    );
    // The response SLA's breach is not the resolution verdict.
    assert_eq!(
        upstream_resolution_sla(&extra("in_progress")),
        Some((true, "servicenow: task_sla"))
    );

    let mut cfg = config_with(office("UTC"), policy(Priority::Medium, 60, None, 600));
    let mut f = ticket("2026-03-02T09:00:00Z", Priority::Medium, vec![]);
    f.upstream_made_sla = Some(true);
    f.upstream_field = c.field;
    f.upstream_breach_at = c.breach_at;
    f.upstream_running = true;
    let up = |f: &TicketFacts, cfg: &mut CompiledConfig, now: &str| {
        compute(f, cfg, t(now)).upstream.unwrap()
    };
    let before = up(&f, &mut cfg, "2026-03-02T10:59:00Z");
    assert_eq!((before.made_sla, before.agrees), (true, true));
    // Past the upstream's due time, local 10 h target still running: they disagree.
    let after = up(&f, &mut cfg, "2026-03-02T11:00:00Z");
    assert_eq!(
        (after.made_sla, after.local_made_sla, after.agrees),
        (false, true, false)
    );
    // A paused cycle does not breach while paused.
    f.upstream_running = false;
    assert!(up(&f, &mut cfg, "2026-03-02T12:00:00Z").made_sla);
}

#[test]
fn cancelled_cycles_are_skipped_and_unreadable_ones_give_no_verdict() {
    let due = t("2026-03-02T11:00:00Z");
    let sla = serde_json::json!([
        cycle_item("servicenow", "completed", true.into(), due),
        cycle_item("servicenow", "cancelled", false.into(), due),
    ]);
    // The cancelled one (attached last) is skipped: the completed, breached one decides.
    assert_eq!(upstream_cycle(&sla).unwrap().breached, Some(true));
    let only_cancelled =
        serde_json::json!([cycle_item("servicenow", "cancelled", false.into(), due)]);
    assert_eq!(upstream_cycle(&only_cancelled), None);
    let unreadable =
        serde_json::json!([cycle_item("servicenow", "completed", "maybe".into(), due)]);
    assert_eq!(upstream_cycle(&unreadable), None);
    let nothing =
        serde_json::json!([{ "source": "zendesk", "target": "resolution", "stage": "active" }]);
    assert_eq!(upstream_cycle(&nothing), None);
}

#[test]
fn an_achieved_zendesk_metric_is_met_when_the_ticket_was_resolved_by_its_breach_time() {
    let (_d, s) = temp_store();
    let t0 = t("2026-03-02T09:00:00Z");
    let actor = |now| Actor {
        name: "ana",
        origin: Origin::App,
        now,
    };
    let resolved_at = t0 + 2 * H;
    let mk = |title: &str, breach_at: Millis| {
        let mut n = NewTicket::local(title);
        n.extra = serde_json::json!({ "sla": [
            { "source": "zendesk", "name": "first_reply_time", "target": "response",
              "stage": "achieved", "breached": null, "breach_at": t0, "completed": true, "paused": false },
            cycle_item("zendesk", "achieved", serde_json::Value::Null, breach_at),
        ]});
        let tk = s.create_ticket(n, &actor(t0)).unwrap();
        let patch = TicketPatch {
            state: Some(TicketState::Resolved),
            ..Default::default()
        };
        s.update_ticket(tk.id, None, &patch, &actor(resolved_at))
            .unwrap();
        tk.id
    };
    let met = mk("resolved in time", resolved_at + MIN);
    let late = mk("resolved late", resolved_at - MIN);
    let verdicts = |all: Vec<TicketFacts>| -> Vec<(i64, Option<bool>, &'static str, bool)> {
        all.into_iter()
            .map(|f| {
                (
                    f.id,
                    f.upstream_made_sla,
                    f.upstream_field,
                    f.upstream_running,
                )
            })
            .collect()
    };
    let expected = vec![
        (met, Some(true), "zendesk: sla policy metric", false),
        (late, Some(false), "zendesk: sla policy metric", false),
    ];
    assert_eq!(verdicts(s.sla_facts_all().unwrap()), expected);
    assert_eq!(
        verdicts(s.sla_facts_all_from_event_log().unwrap()),
        expected
    );
    for id in [met, late] {
        let detail = s.ticket(id).unwrap();
        assert_eq!(
            TicketFacts::from_events(&detail.ticket, &s.events_for(id).unwrap()),
            s.sla_facts(id).unwrap().unwrap()
        );
    }
    // Without the resolution time the wrapper cannot tell: no verdict, never a guess.
    let detail = s.ticket(met).unwrap();
    assert_eq!(upstream_resolution_sla(&detail.ticket.extra), None);
}

/// A ticket pulled before connectors mapped people holds comments recorded with the requester's
/// upstream id as their author, while the ticket (from its next upstream change on) shows the
/// requester's name. A reply by the requester in either form is not a first response.
#[test]
fn the_requester_named_by_upstream_id_or_by_name_is_never_a_first_response() {
    let (_d, s) = temp_store();
    let t0 = t("2026-03-02T09:00:00Z");
    let by = |name, now| Actor {
        name,
        origin: Origin::Sync,
        now,
    };
    for (extra, id) in [
        (
            serde_json::json!({ "reporter_account_id": "qm:cy" }),
            "qm:cy",
        ),
        (serde_json::json!({ "requester_id": 9100 }), "9100"),
        (
            serde_json::json!({ "caller_id_sys_id": "5e700000000000000000000000000003" }),
            "5e700000000000000000000000000003",
        ),
    ] {
        let mut n = NewTicket::local("Mail bounces");
        n.requester = Some("Cy Customer".into());
        n.extra = extra;
        let tk = s.create_ticket(n, &by("ana", t0)).unwrap();
        s.add_comment(tk.id, Visibility::Public, "any news?", &by(id, t0 + MIN))
            .unwrap();
        s.add_comment(
            tk.id,
            Visibility::Public,
            "still broken",
            &by("Cy Customer", t0 + 2 * MIN),
        )
        .unwrap();
        s.add_comment(tk.id, Visibility::Public, "on it", &by("ana", t0 + 3 * MIN))
            .unwrap();
        let facts = s.sla_facts(tk.id).unwrap().unwrap();
        let replies: Vec<Millis> = facts
            .changes
            .iter()
            .filter(|c| c.kind == ChangeKind::PublicReply)
            .map(|c| c.at)
            .collect();
        assert_eq!(replies, [t0 + 3 * MIN], "requester id {id}");
        assert_eq!(
            facts.touches,
            [t0 + 3 * MIN],
            "the requester's replies are no touches"
        );
        // The per-ticket path reads the id from `extra` the same way.
        let detail = s.ticket(tk.id).unwrap();
        assert_eq!(
            TicketFacts::from_events(&detail.ticket, &s.events_for(tk.id).unwrap()),
            facts
        );
    }
}
