//! Breach warnings: which targets to tell the agent about, a set time before they breach, once
//! per target. Pure (no clock, no I/O): the façade passes `now`, the targets and what was
//! already notified; the desktop shell only delivers.
//!
//! A target is identified by its ticket, its kind and when its clock started (a ticket's
//! resolution target is one target for its whole life, reopens included; each next-update cycle
//! is a target of its own). It is announced while `due - lead <= now < due` and its clock runs,
//! and never while the agent has that very ticket open in the focused app window. A target
//! whose whole window passed while the app was closed is not announced afterwards (the queue
//! shows it overdue).

use super::engine::{TargetKind, TargetState, TicketSla};
use super::format::duration;
use crate::model::{Millis, TicketId};
use crate::store::{Result, Store};
use rusqlite::params;

/// Default warning time before a breach.
pub const DEFAULT_NOTIFY_BEFORE_MINUTES: u32 = 15;
/// Longest warning time accepted (a day).
pub const MAX_NOTIFY_BEFORE_MINUTES: u32 = 24 * 60;

/// One target to announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub ticket_id: TicketId,
    pub key: String,
    pub kind: TargetKind,
    /// When the target's clock started (part of its identity).
    pub started_at: Millis,
    pub due_at: Millis,
    /// `CB-12: first response due in 9 min`.
    pub headline: String,
}

/// The notices due at `now` among `slas` (each the SLA of one ticket at `now`).
///
/// `notified(ticket, kind, started_at)` tells whether a target was announced before; `focused`
/// is the ticket the agent has open in the focused window, if any.
pub fn due_notices(
    slas: &[TicketSla],
    lead: Millis,
    now: Millis,
    focused: Option<TicketId>,
    notified: &dyn Fn(TicketId, TargetKind, Millis) -> bool,
) -> Vec<Notice> {
    let mut out = Vec::new();
    for s in slas {
        if Some(s.ticket_id) == focused {
            continue;
        }
        for t in &s.targets {
            let Some(due) = t.due_at else { continue };
            if t.state != TargetState::Running || now < due.saturating_sub(lead) || now >= due {
                continue;
            }
            if notified(s.ticket_id, t.kind, t.started_at) {
                continue;
            }
            out.push(Notice {
                ticket_id: s.ticket_id,
                key: s.key.clone(),
                kind: t.kind,
                started_at: t.started_at,
                due_at: due,
                headline: format!(
                    "{}: {} due in {}",
                    s.key,
                    t.kind.label(),
                    duration(round_up_to_minute(due - now))
                ),
            });
        }
    }
    out.sort_by_key(|n| (n.due_at, n.ticket_id));
    out
}

fn round_up_to_minute(ms: Millis) -> Millis {
    (ms + 59_999) / 60_000 * 60_000
}

fn kind_name(k: TargetKind) -> &'static str {
    match k {
        TargetKind::FirstResponse => "first_response",
        TargetKind::NextUpdate => "next_update",
        TargetKind::Resolution => "resolution",
    }
}

impl Store {
    /// Whether a breach warning for this target was recorded.
    pub fn sla_notified(
        &self,
        ticket: TicketId,
        kind: TargetKind,
        started_at: Millis,
    ) -> Result<bool> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT 1 FROM sla_notices WHERE ticket_id = ? AND target = ? AND started_at = ?",
            )?
            .exists(params![ticket, kind_name(kind), started_at])?)
        })
    }

    /// Records that these warnings were sent (so a restart does not repeat them).
    pub fn record_sla_notices(&self, notices: &[Notice], now: Millis) -> Result<()> {
        if notices.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut st = tx.prepare_cached(
                "INSERT INTO sla_notices (ticket_id, target, started_at, due_at, notified_at) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            )?;
            for n in notices {
                st.execute(params![
                    n.ticket_id,
                    kind_name(n.kind),
                    n.started_at,
                    n.due_at,
                    now
                ])?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Priority;
    use crate::sla::TargetStatus;

    const MIN: Millis = 60_000;

    fn target(
        kind: TargetKind,
        state: TargetState,
        started: Millis,
        due: Option<Millis>,
    ) -> TargetStatus {
        TargetStatus {
            kind,
            state,
            target_ms: 60 * MIN,
            started_at: started,
            stopped_at: None,
            elapsed_ms: 0,
            remaining_ms: 0,
            due_at: due,
            breached_at: None,
            missed: 0,
            explanation: String::new(),
        }
    }

    fn sla(id: TicketId, targets: Vec<TargetStatus>) -> TicketSla {
        TicketSla {
            ticket_id: id,
            key: format!("CB-{id}"),
            priority: Priority::High,
            policy: None,
            calendar: None,
            targets,
            paused: vec![],
            paused_ms: 0,
            paused_now: false,
            next_due_at: None,
            breached: false,
            upstream: None,
            summary: String::new(),
            computed_at: 0,
        }
    }

    #[test]
    fn announced_inside_the_window_once_and_never_for_the_focused_ticket() {
        let due = 1_000 * MIN;
        let all = vec![
            sla(
                1,
                vec![target(
                    TargetKind::FirstResponse,
                    TargetState::Running,
                    0,
                    Some(due),
                )],
            ),
            sla(
                2,
                vec![
                    target(TargetKind::FirstResponse, TargetState::Met, 0, None),
                    target(
                        TargetKind::Resolution,
                        TargetState::Running,
                        0,
                        Some(due + 5 * MIN),
                    ),
                ],
            ),
            sla(
                3,
                vec![target(TargetKind::Resolution, TargetState::Paused, 0, None)],
            ),
        ];
        let never = |_: TicketId, _: TargetKind, _: Millis| false;
        let lead = 15 * MIN;
        // Before the window: nothing.
        assert!(due_notices(&all, lead, due - 16 * MIN, None, &never).is_empty());
        // Inside it: ticket 1's response, not yet ticket 2's resolution (due 5 min later).
        let n = due_notices(&all, lead, due - 12 * MIN, None, &never);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].headline, "CB-1: first response due in 12 min");
        assert_eq!(
            (n[0].ticket_id, n[0].kind, n[0].due_at),
            (1, TargetKind::FirstResponse, due)
        );
        // Both, soonest first; a part-minute rounds up.
        let n = due_notices(&all, lead, due - 9 * MIN - 30_000, None, &never);
        assert_eq!(n.iter().map(|n| n.ticket_id).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(n[1].headline, "CB-2: resolution due in 15 min");
        // The focused ticket is left out; a notified target is not repeated.
        let n = due_notices(&all, lead, due - 9 * MIN, Some(1), &never);
        assert_eq!(n.iter().map(|n| n.ticket_id).collect::<Vec<_>>(), [2]);
        let seen = |t: TicketId, k: TargetKind, s: Millis| {
            t == 1 && k == TargetKind::FirstResponse && s == 0
        };
        let n = due_notices(&all, lead, due - 9 * MIN, None, &seen);
        assert_eq!(n.iter().map(|n| n.ticket_id).collect::<Vec<_>>(), [2]);
        // Once due, it is too late to warn: the queue shows it overdue.
        let n = due_notices(&all, lead, due, None, &never);
        assert_eq!(n.iter().map(|n| n.ticket_id).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn a_new_update_cycle_is_a_new_target() {
        let due = 500 * MIN;
        let cycle = |started| {
            sla(
                7,
                vec![target(
                    TargetKind::NextUpdate,
                    TargetState::Running,
                    started,
                    Some(due),
                )],
            )
        };
        let seen = |_: TicketId, _: TargetKind, s: Millis| s == 100 * MIN;
        assert!(due_notices(&[cycle(100 * MIN)], 30 * MIN, due - MIN, None, &seen).is_empty());
        let n = due_notices(&[cycle(200 * MIN)], 30 * MIN, due - MIN, None, &seen);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].headline, "CB-7: next update due in 1 min");
    }

    #[test]
    fn recorded_notices_survive_reopening_the_store() {
        let (dir, store) = crate::store::test_support::temp_store();
        let actor = crate::store::Actor {
            name: "ana",
            origin: crate::store::Origin::App,
            now: 0,
        };
        let id = store
            .create_ticket(crate::model::NewTicket::local("Printer"), &actor)
            .unwrap()
            .id;
        let n = Notice {
            ticket_id: id,
            key: "CB-1".into(),
            kind: TargetKind::Resolution,
            started_at: 5,
            due_at: 50,
            headline: String::new(),
        };
        assert!(!store.sla_notified(id, TargetKind::Resolution, 5).unwrap());
        store.record_sla_notices(&[n.clone(), n], 10).unwrap();
        drop(store);
        let store = Store::open(
            &dir.path().join("casebook.db"),
            crate::store::OpenMode::MustExist,
        )
        .unwrap();
        assert!(store.sla_notified(id, TargetKind::Resolution, 5).unwrap());
        assert!(!store.sla_notified(id, TargetKind::Resolution, 6).unwrap());
        assert!(
            !store
                .sla_notified(id, TargetKind::FirstResponse, 5)
                .unwrap()
        );
    }
}
