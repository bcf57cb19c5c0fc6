//! `casebook sync [--connection X]`, `casebook outbox list|retry|discard`,
//! `casebook conflicts list|resolve`.

use crate::output::Out;
use casebook_api::sync::{ConflictResolutionInput, SyncProgress, SyncRunView};
use casebook_api::{ApiError, Casebook};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::sync::Arc;

/// Exit code when a sync finished with problems (conflicts, failed operations, a stopped sync).
pub const EXIT_SYNC_PROBLEMS: u8 = 3;

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only this connection (name or id); default: every connection.
    #[arg(long)]
    pub connection: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum OutboxCmd {
    /// Local changes not yet confirmed upstream, with their state and last error.
    List {
        #[arg(long)]
        connection: Option<String>,
    },
    /// Send an operation again at the next sync (skips its backoff).
    Retry { id: i64 },
    /// Drop an operation for good (a copy stays in the ticket's history).
    Discard {
        id: i64,
        /// Confirm the discard (required).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ResolveArg {
    /// Push my value over theirs.
    Mine,
    /// Take the upstream value.
    Theirs,
}

#[derive(Debug, Subcommand)]
pub enum ConflictsCmd {
    /// Fields changed here and upstream: base, mine, theirs.
    List {
        #[arg(long)]
        connection: Option<String>,
    },
    /// Settle a conflict: keep mine, take theirs, or push an edited value (`--value`, JSON or text).
    Resolve {
        id: i64,
        #[arg(value_enum, required_unless_present = "value")]
        choice: Option<ResolveArg>,
        #[arg(long, conflicts_with = "choice")]
        value: Option<String>,
    },
}

fn print_json<T: Serialize>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot serialize the output: {e}"),
    }
}

fn bar(out: &Out) -> ProgressBar {
    let bar = if out.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar
}

fn describe(p: &SyncProgress) -> String {
    match p {
        SyncProgress::Pulling {
            scope,
            pages,
            tickets,
        } => format!("pulling {scope}: {tickets} tickets in {pages} pages"),
        SyncProgress::Pushing { done, total } => format!("pushing local changes: {done}/{total}"),
        SyncProgress::Sweeping { scope } => format!("checking {scope} for deleted tickets"),
        SyncProgress::Articles { articles } => format!("knowledge base: {articles} articles"),
        SyncProgress::Waiting { reason, wait_ms } => {
            format!("waiting {:.1} s ({reason})", *wait_ms as f64 / 1000.0)
        }
        SyncProgress::Finished => "done".into(),
    }
}

fn problems(r: &SyncRunView) -> bool {
    r.stopped.is_some() || r.conflicts > 0 || r.failed > 0 || r.unknown > 0 || !r.errors.is_empty()
}

pub async fn sync(a: SyncArgs, cb: &Casebook, out: &Out) -> Result<u8, ApiError> {
    let targets: Vec<String> = match a.connection {
        Some(c) => vec![c],
        None => cb
            .sync_status()
            .await?
            .into_iter()
            .filter(|s| s.supported)
            .map(|s| s.connection_id.to_string())
            .collect(),
    };
    if targets.is_empty() {
        out.message("no connection to sync (add one with `casebook connections add`)");
        return Ok(0);
    }
    let mut runs = Vec::new();
    for t in targets {
        let bar = Arc::new(bar(out));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        let b = Arc::clone(&bar);
        let run = cb
            .sync_now(
                t,
                Some(Arc::new(move |p: SyncProgress| b.set_message(describe(&p)))),
            )
            .await;
        bar.finish_and_clear();
        let run = run?;
        if !out.json {
            println!(
                "connection {}: {} new, {} updated, {} comments; pushed {}; conflicts {}, failed {}, unknown {}, marked deleted {}, articles {}",
                run.connection_id,
                run.tickets_created,
                run.tickets_updated,
                run.comments_added,
                run.pushed,
                run.conflicts,
                run.failed,
                run.unknown,
                run.marked_deleted,
                run.articles
            );
            for e in &run.errors {
                println!("  problem: {e}");
            }
            for n in &run.notes {
                println!("  note: {n}");
            }
            if let Some(k) = &run.kb_status {
                println!("  knowledge base: {k}");
            }
            if let Some(s) = &run.stopped {
                println!("  stopped: {s}");
            }
        }
        runs.push(run);
    }
    if out.json {
        print_json(&runs);
    }
    Ok(if runs.iter().any(problems) {
        EXIT_SYNC_PROBLEMS
    } else {
        0
    })
}

pub async fn outbox(cmd: OutboxCmd, cb: &Casebook, out: &Out) -> Result<u8, ApiError> {
    match cmd {
        OutboxCmd::List { connection } => {
            let ops = cb.outbox_list(connection).await?;
            if out.json {
                print_json(&ops);
            } else if ops.is_empty() {
                println!("nothing waiting to be pushed");
            } else {
                for o in &ops {
                    let status = serde_json::to_value(o.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    println!(
                        "{:>5}  {:<12} {:<10} {:<9} {}{}",
                        o.id,
                        o.ticket_key,
                        status,
                        o.op,
                        o.summary,
                        o.last_error
                            .as_deref()
                            .map(|e| format!("  [{e}]"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        OutboxCmd::Retry { id } => {
            let o = cb.outbox_retry(id).await?;
            if out.json {
                print_json(&o);
            } else {
                println!("operation {id} will be sent at the next sync");
            }
        }
        OutboxCmd::Discard { id, yes } => {
            cb.outbox_discard(id, yes).await?;
            out.message(&format!(
                "operation {id} discarded (a copy is kept in the ticket's history)"
            ));
        }
    }
    Ok(0)
}

pub async fn conflicts(cmd: ConflictsCmd, cb: &Casebook, out: &Out) -> Result<u8, ApiError> {
    match cmd {
        ConflictsCmd::List { connection } => {
            let list = cb.conflicts_list(connection).await?;
            if out.json {
                print_json(&list);
            } else if list.is_empty() {
                println!("no conflicts");
            } else {
                for c in &list {
                    println!(
                        "{:>5}  {} {}: base {} | mine {} | theirs {}",
                        c.id, c.ticket_key, c.field, c.base, c.mine, c.theirs
                    );
                }
            }
        }
        ConflictsCmd::Resolve { id, choice, value } => {
            let input = match (choice, value) {
                (_, Some(v)) => ConflictResolutionInput::Edited {
                    value: serde_json::from_str(&v).unwrap_or(serde_json::Value::String(v)),
                },
                (Some(ResolveArg::Mine), None) => ConflictResolutionInput::KeepMine,
                (Some(ResolveArg::Theirs), None) => ConflictResolutionInput::TakeTheirs,
                (None, None) => {
                    return Err(ApiError::invalid("say mine, theirs or --value <value>"));
                }
            };
            cb.conflicts_resolve(id, input).await?;
            out.message(&format!("conflict {id} resolved"));
        }
    }
    Ok(0)
}
