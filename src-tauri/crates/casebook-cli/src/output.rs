//! Text and JSON output. JSON goes to stdout as one document per command; errors go to stderr
//! (as `{code, message}` JSON with `--json`).

use casebook_api::ApiError;
use casebook_api::dto::*;
use serde::Serialize;

pub struct Out {
    pub json: bool,
}

fn when(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

fn clip(s: &str, n: usize) -> String {
    let one_line = s.replace(['\n', '\r', '\t'], " ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        let mut t: String = one_line.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

impl Out {
    fn print_json<T: Serialize>(&self, v: &T) {
        match serde_json::to_string_pretty(v) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: cannot serialize the output: {e}"),
        }
    }

    pub fn error(&self, e: &ApiError) {
        if self.json {
            match serde_json::to_string(e) {
                Ok(s) => eprintln!("{s}"),
                Err(_) => eprintln!("error: {}", e.message),
            }
        } else {
            eprintln!("error: {}", e.message);
        }
    }

    pub fn message(&self, m: &str) {
        if self.json {
            self.print_json(&serde_json::json!({ "message": m }));
        } else {
            println!("{m}");
        }
    }

    pub fn workspace(&self, w: &WorkspaceInfo) {
        if self.json {
            return self.print_json(w);
        }
        println!("workspace   {}", w.home);
        println!(
            "database    {} (schema {})",
            w.database_path, w.schema_version
        );
        println!("tickets     {}", w.ticket_count);
        println!(
            "pending     {} local change(s) not yet pushed upstream",
            w.pending_ops
        );
        println!("agent       {}", w.agent_name);
    }

    pub fn ticket_page(&self, p: &TicketPage) {
        if self.json {
            return self.print_json(p);
        }
        if p.rows.is_empty() {
            println!("no tickets match ({} in total)", p.total);
            return;
        }
        println!(
            "{:<12} {:<9} {:<8} {:<14} {:<16} TITLE",
            "KEY", "STATE", "PRIORITY", "ASSIGNEE", "UPDATED"
        );
        for r in &p.rows {
            println!(
                "{:<12} {:<9} {:<8} {:<14} {:<16} {}{}",
                clip(&r.key, 12),
                r.state.as_str(),
                r.priority.as_str(),
                clip(r.assignee.as_deref().unwrap_or("-"), 14),
                when(r.updated_at).get(..16).unwrap_or(""),
                clip(&r.title, 70),
                if waits_for_sync(&r.source, r.pending_ops) {
                    "  [pending sync]"
                } else {
                    ""
                },
            );
        }
        let last = u64::from(p.offset) + p.rows.len() as u64;
        println!("{}–{} of {}", p.offset + 1, last, p.total);
    }

    pub fn ticket(&self, t: &TicketView, history: Option<&[HistoryEntry]>) {
        if self.json {
            #[derive(Serialize)]
            struct WithHistory<'a> {
                #[serde(flatten)]
                ticket: &'a TicketView,
                #[serde(skip_serializing_if = "Option::is_none")]
                history: Option<&'a [HistoryEntry]>,
            }
            return self.print_json(&WithHistory { ticket: t, history });
        }
        println!("{}  {}", t.key, t.title);
        println!(
            "state {}{} · priority {}{} · revision {}",
            t.state.as_str(),
            t.state_raw
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            t.priority.as_str(),
            t.priority_raw
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            t.revision
        );
        println!(
            "assignee {} · group {} · requester {}",
            t.assignee.as_deref().unwrap_or("-"),
            t.assignment_group.as_deref().unwrap_or("-"),
            t.requester.as_deref().unwrap_or("-")
        );
        if !t.tags.is_empty() {
            println!("tags {}", t.tags.join(", "));
        }
        println!(
            "created {} · updated {}",
            when(t.created_at),
            when(t.updated_at)
        );
        if waits_for_sync(&t.source, t.pending_ops) {
            println!("{} local change(s) waiting to sync", t.pending_ops);
        }
        if !t.description.is_empty() {
            println!("\n{}", t.description);
        }
        for c in &t.comments {
            let label = match c.visibility {
                casebook_core::model::Visibility::Public => "public reply",
                casebook_core::model::Visibility::Internal => "INTERNAL NOTE",
            };
            println!(
                "\n--- {label} · {} · {}\n{}",
                c.author,
                when(c.created_at),
                c.body
            );
        }
        if let Some(h) = history {
            println!("\nhistory:");
            for e in h {
                let what = match e.kind {
                    casebook_core::store::EventKind::Created => "created".to_owned(),
                    casebook_core::store::EventKind::Commented => match e.visibility {
                        Some(casebook_core::model::Visibility::Internal) => {
                            "added an internal note".into()
                        }
                        _ => "replied publicly".into(),
                    },
                    casebook_core::store::EventKind::Updated => e
                        .changes
                        .iter()
                        .map(|c| format!("{}: {} → {}", c.field, c.from, c.to))
                        .collect::<Vec<_>>()
                        .join("; "),
                };
                println!("  {}  {:<14} {}", when(e.at), clip(&e.actor, 14), what);
            }
        }
    }

    pub fn ticket_saved(&self, verb: &str, t: &TicketView) {
        if self.json {
            return self.print_json(t);
        }
        println!("{verb} {} (revision {})", t.key, t.revision);
    }

    pub fn views(&self, views: &[SavedView], counts: &[u64]) {
        if self.json {
            #[derive(Serialize)]
            struct Row<'a> {
                #[serde(flatten)]
                view: &'a SavedView,
                count: u64,
            }
            let rows: Vec<Row<'_>> = views
                .iter()
                .zip(counts)
                .map(|(view, count)| Row {
                    view,
                    count: *count,
                })
                .collect();
            return self.print_json(&rows);
        }
        if views.is_empty() {
            println!("no saved views");
        }
        for (v, n) in views.iter().zip(counts) {
            println!("{:<30} {n:>8}", v.name);
        }
    }

    pub fn import_report(&self, r: &ImportReport) {
        if self.json {
            return self.print_json(r);
        }
        println!(
            "imported {} ticket(s) from {} row(s) in {:.1} s; {} already present; {} row(s) rejected",
            r.tickets_imported,
            r.rows_read,
            r.elapsed_ms as f64 / 1000.0,
            r.duplicates,
            r.problems.len() as u64 + r.problems_not_listed
        );
        for p in r.problems.iter().take(50) {
            eprintln!("  line {}: {}", p.line, p.reason);
        }
        let more = r.problems.len().saturating_sub(50) as u64 + r.problems_not_listed;
        if more > 0 {
            eprintln!("  … and {more} more (use --json for the full list)");
        }
    }
}

/// Whether a ticket has changes waiting for an upstream: a local-only ticket's edits are in the
/// outbox too, but nothing will ever sync them (the UI's `waitsForSync`).
fn waits_for_sync(source: &str, pending_ops: i64) -> bool {
    source != casebook_core::model::LOCAL_SOURCE && pending_ops > 0
}
