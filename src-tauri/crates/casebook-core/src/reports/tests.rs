use super::*;
use crate::model::TicketState::{self, *};
use crate::sla::{Change, ChangeKind, SlaConfig};

const MIN: Millis = 60_000;
const H: Millis = 60 * MIN;

fn t(s: &str) -> Millis {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn st(at: &str, s: TicketState) -> Change {
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

fn tk(id: i64, created: &str, p: Priority, group: &str, changes: Vec<Change>) -> TicketFacts {
    let mut f = TicketFacts::new(id, t(created), New, p);
    f.group = Some(group.into());
    f.touches = changes.iter().map(|c| c.at).collect();
    f.changes = changes;
    f
}

/// Seven tickets whose numbers are worked out by hand in the comments (defaults: P1 24x7 15 min /
/// 4 h, P3 Mon–Fri 09–17 UTC 4 h / 24 h). The period is the week of Sunday 1 March 2026.
fn fixture() -> Vec<TicketFacts> {
    vec![
        // A: P1, answered after 10 min, resolved after 2 h: both targets met.
        tk(
            1,
            "2026-03-02T10:00:00Z",
            Priority::Critical,
            "net",
            vec![
                reply("2026-03-02T10:10:00Z"),
                st("2026-03-02T12:00:00Z", Resolved),
            ],
        ),
        // B: P3, answered after 6 business hours (breached), pending Tue 09:00 → Wed 09:00,
        // resolved Thu 12:00: 8 + 8 + 3 = 19 business hours, met. TTR 75 h.
        tk(
            2,
            "2026-03-02T09:00:00Z",
            Priority::Medium,
            "net",
            vec![
                reply("2026-03-02T15:00:00Z"),
                st("2026-03-03T09:00:00Z", Pending),
                st("2026-03-04T09:00:00Z", Open),
                st("2026-03-05T12:00:00Z", Resolved),
            ],
        ),
        // C: P3, never answered, still open: 7 + 8 + 8 + 8 = 31 business hours by the end of the
        // week, both targets breached.
        tk(3, "2026-03-03T10:00:00Z", Priority::Medium, "desk", vec![]),
        // D: P4 from February, still open: 35 days old.
        tk(4, "2026-02-01T09:00:00Z", Priority::Low, "desk", vec![]),
        // E: P2 from February, resolved, reopened, resolved again on 3 March: resolved in the
        // period (TTR 11 days) and reopened.
        tk(
            5,
            "2026-02-20T09:00:00Z",
            Priority::High,
            "desk",
            vec![
                st("2026-02-21T09:00:00Z", Resolved),
                st("2026-03-02T09:00:00Z", Open),
                st("2026-03-03T09:00:00Z", Resolved),
            ],
        ),
        // F: created after the period: not counted.
        tk(6, "2026-03-09T09:00:00Z", Priority::Medium, "net", vec![]),
        // G: P4 from 25 February, open: 11 days old.
        tk(7, "2026-02-25T09:00:00Z", Priority::Low, "desk", vec![]),
    ]
}

fn week(by: GroupBy) -> ReportFilter {
    ReportFilter {
        from: t("2026-03-01T00:00:00Z"),
        to: t("2026-03-08T00:00:00Z"),
        by,
        ..Default::default()
    }
}

#[test]
fn kpis_match_the_hand_checked_fixture() {
    let mut cfg = SlaConfig::defaults().compile().unwrap();
    let now = t("2026-03-10T00:00:00Z");
    let r = report(&fixture(), &mut cfg, &week(GroupBy::None), now).unwrap();
    assert_eq!(r.as_of, t("2026-03-08T00:00:00Z"));
    assert_eq!(r.rows.len(), 1);
    let all = &r.rows[0];
    assert_eq!((all.created, all.resolved, all.unanswered), (3, 3, 1));
    assert_eq!(
        all.first_response,
        DurationStat {
            count: 2,
            mean_ms: Some(185 * MIN),
            median_ms: Some(185 * MIN)
        }
    );
    // (2 h + 75 h + 264 h) / 3 = 113 h 40 min; median 75 h.
    assert_eq!(all.time_to_resolve.mean_ms, Some(341 * H / 3));
    assert_eq!(all.time_to_resolve.median_ms, Some(75 * H));
    let sla: Vec<_> = all
        .sla
        .iter()
        .map(|s| {
            (
                s.priority,
                s.first_response_met,
                s.first_response_breached,
                s.resolution_met,
                s.resolution_breached,
            )
        })
        .collect();
    assert_eq!(
        sla,
        vec![
            (Priority::Critical, 1, 0, 1, 0),
            (Priority::Medium, 0, 2, 1, 1)
        ]
    );
    assert_eq!(all.sla[1].resolution_pct, Some(50.0));
    assert_eq!(all.sla[1].first_response_pct, Some(0.0));
    assert_eq!(
        (
            all.backlog,
            all.backlog_over_7d,
            all.backlog_over_14d,
            all.backlog_over_30d
        ),
        (3, 2, 1, 1)
    );
    assert_eq!(all.reopened, 1);
    assert_eq!(all.reopen_rate, Some(1.0 / 3.0));
    assert_eq!((all.touches, all.touches_per_ticket), (6, Some(2.0)));

    assert_eq!(r.bucket, Bucket::Day);
    let trend: Vec<_> = r.trend.iter().map(|p| (p.created, p.resolved)).collect();
    assert_eq!(
        trend,
        vec![(0, 0), (2, 1), (1, 1), (0, 0), (0, 1), (0, 0), (0, 0)],
        "1–7 March"
    );
    assert_eq!(r.trend[0].start, t("2026-03-01T00:00:00Z"));
}

#[test]
fn grouping_and_filters_split_the_same_numbers() {
    let mut cfg = SlaConfig::defaults().compile().unwrap();
    let now = t("2026-03-10T00:00:00Z");
    let r = report(&fixture(), &mut cfg, &week(GroupBy::Group), now).unwrap();
    let rows: Vec<_> = r
        .rows
        .iter()
        .map(|x| (x.key.as_str(), x.created, x.resolved, x.backlog))
        .collect();
    assert_eq!(
        rows,
        vec![("all", 3, 3, 3), ("desk", 1, 1, 3), ("net", 2, 2, 0)]
    );
    let mut only_net = week(GroupBy::None);
    only_net.groups = vec!["net".into()];
    let r = report(&fixture(), &mut cfg, &only_net, now).unwrap();
    assert_eq!((r.rows[0].created, r.rows[0].backlog), (2, 0));
    let mut nobody = week(GroupBy::None);
    nobody.assignees = vec!["zed".into()];
    assert_eq!(
        report(&fixture(), &mut cfg, &nobody, now).unwrap().rows[0].created,
        0
    );
    // The report as of an earlier moment sees the history up to then only.
    let early = report(
        &fixture(),
        &mut cfg,
        &week(GroupBy::None),
        t("2026-03-02T11:00:00Z"),
    )
    .unwrap();
    assert_eq!((early.rows[0].created, early.rows[0].resolved), (2, 0));
}

#[test]
fn bad_periods_are_refused_and_csv_has_one_number_per_line() {
    let mut cfg = SlaConfig::defaults().compile().unwrap();
    let mut backwards = week(GroupBy::None);
    std::mem::swap(&mut backwards.from, &mut backwards.to);
    let err = report(&fixture(), &mut cfg, &backwards, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the report period must end after it starts"
    );
    let r = report(
        &fixture(),
        &mut cfg,
        &week(GroupBy::Group),
        t("2026-03-10T00:00:00Z"),
    )
    .unwrap();
    let csv = to_csv(&r).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "group,metric,dimension,value");
    assert!(lines.contains(&"all,mttr_min,,6820.0"), "{csv}");
    assert!(lines.contains(&"net,created,,2"));
    assert!(lines.contains(&"all,sla_resolution_pct,medium,50.0"));
    assert!(lines.contains(&"desk,backlog_over_days,30,1"));
    assert!(lines.contains(&"all,trend_created,2026-03-02,2"));
    assert!(lines.iter().all(|l| l.split(',').count() == 4));
    // Weekly and monthly buckets for longer periods start on Mondays / the 1st.
    assert_eq!(bucket_for(0, 100 * DAY), Bucket::Week);
    assert_eq!(
        bucket_start(Bucket::Week, t("2026-03-05T13:00:00Z")),
        t("2026-03-02T00:00:00Z")
    );
    assert_eq!(
        bucket_start(Bucket::Month, t("2026-03-05T13:00:00Z")),
        t("2026-03-01T00:00:00Z")
    );
}
