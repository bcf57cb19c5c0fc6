//! `casebook`: the command line for scripts and headless machines. Every command goes through the
//! same façade as the desktop app.
//!
//! Exit codes: 0 success · 1 unexpected failure · 2 usage error · 3 not found · 4 invalid input ·
//! 5 conflict (the ticket changed since the given revision) · 6 workspace unavailable (locked,
//! newer schema, unreadable, key missing, keyring unavailable) · 7 import finished but some rows
//! were rejected · 8 sign-in failed.

mod args;
mod bench;
mod bench_logs;
mod bench_search;
mod bench_sla;
mod bench_sync;
mod bench_util;
mod conn_cmd;
mod escalate_cmd;
mod kb_cmd;
mod output;
mod sla_cmd;
mod sync_cmd;

use args::{Cli, Command, TicketsCmd, ViewsCmd};
use casebook_api::dto::*;
use casebook_api::{ApiError, Casebook, ErrorCode, OpenOptions};
use casebook_core::import::{Format, ImportOptions, Mapping, Preset};
use casebook_core::store::Origin;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use output::Out;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code for an import that finished with rejected rows.
const EXIT_PARTIAL_IMPORT: u8 = 7;

fn exit_code(code: ErrorCode) -> u8 {
    match code {
        ErrorCode::NotFound => 3,
        ErrorCode::InvalidInput => 4,
        ErrorCode::StaleRevision => 5,
        ErrorCode::WorkspaceLocked
        | ErrorCode::WorkspaceNewer
        | ErrorCode::WorkspaceUnreadable
        | ErrorCode::WorkspaceKeyMissing
        | ErrorCode::KeyringUnavailable => 6,
        ErrorCode::SignInFailed => 8,
        ErrorCode::Internal => 1,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CASEBOOK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let out = Out { json: cli.json };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli, &out)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            out.error(&e);
            ExitCode::from(exit_code(e.code))
        }
    }
}

async fn open(cli_home: Option<PathBuf>, create: bool) -> Result<Casebook, ApiError> {
    let home = match cli_home {
        Some(h) => h,
        None => casebook_api::default_home()?,
    };
    let mut opts = OpenOptions::new(home, Origin::Cli);
    opts.create = create;
    Casebook::open(opts).await
}

async fn run(cli: Cli, out: &Out) -> Result<u8, ApiError> {
    match cli.command {
        Command::Bench(mut b) => {
            match b.what.take() {
                Some(bench_sla::BenchWhat::Sla(a)) => bench_sla::run(a, out)?,
                Some(bench_sla::BenchWhat::Logs(a)) => bench_logs::run(a, out)?,
                Some(bench_sla::BenchWhat::Sync(a)) => bench_sync::run(a, out)?,
                None => bench::run(b, out)?,
            }
            Ok(0)
        }
        Command::Redact(a) => escalate_cmd::redact(a),
        Command::Logs(cmd) => escalate_cmd::logs(cmd, out),
        Command::Escalate(a) => escalate_cmd::escalate(a, &open(cli.home, false).await?, out).await,
        Command::Report(a) => sla_cmd::report(a, &open(cli.home, false).await?, out).await,
        Command::Sla(a) => sla_cmd::sla(a, cli.home, out).await,
        Command::Macro(cmd) => sla_cmd::macros(cmd, cli.home, out).await,
        Command::Workspace => {
            let cb = open(cli.home, true).await?;
            out.workspace(&cb.workspace_info().await?);
            Ok(0)
        }
        Command::Sample => {
            let cb = open(cli.home, true).await?;
            let bar = progress_bar(out, "sample");
            let b = bar.clone();
            let report = cb.open_sample(move |p| update_bar(&b, &p)).await?;
            bar.finish_and_clear();
            out.import_report(&report);
            if !out.json {
                // The sample's runbooks (added to the knowledge base by `open_sample`).
                for s in cb.kb_list_sources().await? {
                    if s.path.ends_with("sample-runbooks") {
                        println!(
                            "{} sample runbook(s) in {}: try `casebook search crashloop`",
                            s.files_seen, s.path
                        );
                    }
                }
            }
            Ok(0)
        }
        Command::Import(a) => {
            let format = match a.format {
                Some(f) => f.into(),
                None => Format::from_path(&a.file).ok_or_else(|| {
                    ApiError::invalid(format!(
                        "cannot tell the format of {} from its extension: pass --format csv or json",
                        a.file.display()
                    ))
                })?,
            };
            let mapping = match (&a.preset, &a.mapping) {
                (Some(p), None) => Preset::from_name(p)
                    .ok_or_else(|| {
                        ApiError::invalid(format!(
                            "unknown preset '{p}' (known: {})",
                            Preset::NAMES.join(", ")
                        ))
                    })?
                    .mapping(),
                (None, Some(m)) => {
                    let text = std::fs::read_to_string(m).map_err(|e| {
                        ApiError::invalid(format!("cannot read the mapping {}: {e}", m.display()))
                    })?;
                    Mapping::from_json(&text)
                        .map_err(|e| ApiError::invalid(format!("{}: {e}", m.display())))?
                }
                _ => {
                    return Err(ApiError::invalid(
                        "pass exactly one of --preset or --mapping",
                    ));
                }
            };
            let cb = open(cli.home, true).await?;
            let bar = progress_bar(out, "import");
            let b = bar.clone();
            let report = cb
                .import_file(a.file, ImportOptions { format, mapping }, move |p| {
                    update_bar(&b, &p)
                })
                .await?;
            bar.finish_and_clear();
            out.import_report(&report);
            Ok(
                if report.problems.is_empty() && report.problems_not_listed == 0 {
                    0
                } else {
                    EXIT_PARTIAL_IMPORT
                },
            )
        }
        Command::Kb(cmd) => kb_cmd::kb(cmd, &open(cli.home, true).await?, out).await,
        Command::Search(a) => kb_cmd::search(a, &open(cli.home, false).await?, out).await,
        Command::Eval(a) => kb_cmd::eval(a, out),
        Command::BenchSearch(a) => bench_search::run(a, out).map(|()| 0),
        Command::Connections(cmd) => {
            conn_cmd::connections(cmd, &open(cli.home, true).await?, out).await
        }
        Command::Login(a) => conn_cmd::login(a, &open(cli.home, false).await?, out).await,
        Command::Logout { connection } => {
            conn_cmd::logout(connection, &open(cli.home, false).await?, out).await
        }
        Command::ExportOutbox(a) => {
            conn_cmd::export_outbox(a, &open(cli.home, false).await?, out).await
        }
        Command::Sync(a) => sync_cmd::sync(a, &open(cli.home, false).await?, out).await,
        Command::Outbox(cmd) => sync_cmd::outbox(cmd, &open(cli.home, false).await?, out).await,
        Command::Conflicts(cmd) => {
            sync_cmd::conflicts(cmd, &open(cli.home, false).await?, out).await
        }
        Command::Tickets(cmd) => tickets(cmd, cli.home, out).await,
        Command::Views(cmd) => views(cmd, cli.home, out).await,
    }
}

async fn tickets(cmd: TicketsCmd, home: Option<PathBuf>, out: &Out) -> Result<u8, ApiError> {
    match cmd {
        TicketsCmd::List(a) => {
            let cb = open(home, false).await?;
            let page = cb.list_tickets(a.query()?).await?;
            out.ticket_page(&page);
        }
        TicketsCmd::Show { key, history } => {
            let cb = open(home, false).await?;
            let t = cb.find_ticket(key).await?;
            let h = if history {
                Some(cb.ticket_history(t.id).await?)
            } else {
                None
            };
            out.ticket(&t, h.as_deref());
        }
        TicketsCmd::New(a) => {
            let cb = open(home, true).await?;
            let description = match (a.description, a.description_file) {
                (Some(d), None) => d,
                (None, Some(f)) => read_text(&f)?,
                (None, None) => String::new(),
                (Some(_), Some(_)) => {
                    return Err(ApiError::invalid(
                        "pass --description or --description-file, not both",
                    ));
                }
            };
            let t = cb
                .create_ticket(NewTicketInput {
                    title: a.title,
                    description,
                    priority: a.priority.map(Into::into),
                    state: a.state.map(Into::into),
                    assignee: a.assignee,
                    assignment_group: a.group,
                    requester: a.requester,
                    tags: a.tags,
                })
                .await?;
            out.ticket_saved("created", &t);
        }
        TicketsCmd::Edit(a) => {
            let cb = open(home, false).await?;
            let current = cb.find_ticket(a.key.clone()).await?;
            let tags = if a.tags.is_some() || !a.add_tags.is_empty() || !a.remove_tags.is_empty() {
                let mut tags = a.tags.unwrap_or_else(|| current.tags.clone());
                tags.extend(a.add_tags);
                let remove: Vec<String> = casebook_core::model::normalize_tags(&a.remove_tags);
                let mut tags = casebook_core::model::normalize_tags(tags);
                tags.retain(|t| !remove.contains(t));
                Some(tags)
            } else {
                None
            };
            let input = UpdateTicketInput {
                id: current.id,
                expected_revision: Some(a.expect_revision.unwrap_or(current.revision)),
                title: a.title,
                description: a.description,
                state: a.state.map(Into::into),
                priority: a.priority.map(Into::into),
                assignee: if a.unassign {
                    Some(String::new())
                } else {
                    a.assignee
                },
                assignment_group: if a.no_group {
                    Some(String::new())
                } else {
                    a.group
                },
                tags,
            };
            let t = cb.update_ticket(input).await?;
            out.ticket_saved("saved", &t);
        }
        TicketsCmd::Comment {
            key,
            internal,
            body,
            file,
        } => {
            let text = match (body.as_deref(), file) {
                (Some("-"), None) | (None, None) => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s).map_err(|e| {
                        ApiError::invalid(format!("cannot read the comment from stdin: {e}"))
                    })?;
                    s
                }
                (Some(b), None) => b.to_owned(),
                (None, Some(f)) => read_text(&f)?,
                (Some(_), Some(_)) => {
                    return Err(ApiError::invalid("pass the text or --file, not both"));
                }
            };
            let cb = open(home, false).await?;
            let t = cb.find_ticket(key).await?;
            let visibility = if internal {
                casebook_core::model::Visibility::Internal
            } else {
                casebook_core::model::Visibility::Public
            };
            let t = cb
                .add_comment(AddCommentInput {
                    ticket_id: t.id,
                    body: text,
                    visibility,
                })
                .await?;
            out.ticket_saved(
                if internal {
                    "internal note added to"
                } else {
                    "public reply added to"
                },
                &t,
            );
        }
    }
    Ok(0)
}

async fn views(cmd: ViewsCmd, home: Option<PathBuf>, out: &Out) -> Result<u8, ApiError> {
    let cb = open(home, false).await?;
    match cmd {
        ViewsCmd::List => {
            let views = cb.list_views().await?;
            let counts = cb
                .count_tickets(views.iter().map(|v| v.filter.clone()).collect())
                .await?;
            out.views(&views, &counts);
        }
        ViewsCmd::Save { name, filter } => {
            let q = filter.query()?;
            let v = cb
                .save_view(SaveViewInput {
                    name,
                    filter: q.filter,
                    sort: q.sort,
                })
                .await?;
            out.views(
                std::slice::from_ref(&v),
                &cb.count_tickets(vec![v.filter.clone()]).await?,
            );
        }
        ViewsCmd::Delete { name } => {
            let views = cb.list_views().await?;
            let v = views.iter().find(|v| v.name == name).ok_or_else(|| {
                ApiError::new(ErrorCode::NotFound, format!("saved view {name} not found"))
            })?;
            cb.delete_view(v.id).await?;
            out.message(&format!("deleted view {name}"));
        }
    }
    Ok(0)
}

fn read_text(path: &std::path::Path) -> Result<String, ApiError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ApiError::invalid(format!("cannot read {}: {e}", path.display())))?;
    String::from_utf8(bytes).map_err(|e| {
        ApiError::invalid(format!(
            "{} is not valid UTF-8 (at byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

fn progress_bar(out: &Out, what: &str) -> ProgressBar {
    let bar = if out.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>12} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

fn update_bar(bar: &ProgressBar, p: &Progress) {
    if p.stage != "importing" {
        bar.set_message(p.stage.clone());
    }
    if let Some(t) = p.total {
        bar.set_length(t);
    }
    bar.set_position(p.done);
}
