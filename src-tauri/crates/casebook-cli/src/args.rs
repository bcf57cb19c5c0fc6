//! Command-line arguments.

use casebook_api::ApiError;
use casebook_api::dto::{SortKey, TicketFilter, TicketQuery};
use casebook_core::model::{Priority, TicketState};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "casebook",
    version,
    about = "Casebook from the command line: tickets, import, views, benchmarks"
)]
#[command(
    after_help = "Exit codes: 0 ok, 1 unexpected failure, 2 usage, 3 not found, 4 invalid input, \
5 conflict (ticket changed since the given revision), 6 workspace unavailable, 7 import with rejected rows"
)]
pub struct Cli {
    /// Data directory of the workspace (default: $CASEBOOK_HOME, else the platform data directory).
    #[arg(long, global = true, env = "CASEBOOK_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, show, create, edit and comment on tickets.
    #[command(subcommand)]
    Tickets(TicketsCmd),
    /// Saved queue views.
    #[command(subcommand)]
    Views(ViewsCmd),
    /// Import tickets from a CSV or JSON file (see docs/import.md for the column mapping).
    Import(ImportArgs),
    /// Fill the workspace with the bundled sample data (real, openly licensed tickets).
    Sample,
    /// Show the workspace: where it is, how many tickets, pending changes.
    Workspace,
    /// Measure import, queue queries and store open against their baselines (`bench sla`: SLA
    /// recompute, KPI report and the UCI made_sla agreement).
    Bench(BenchArgs),
    /// Knowledge-base search speed (55k and 1M documents) against SQLite FTS5 ranked OR.
    BenchSearch(crate::bench_search::BenchSearchArgs),
    /// Redact secrets and personal data from a file or standard input (`-`) to standard output.
    Redact(crate::escalate_cmd::RedactArgs),
    /// Log analysis: timestamps, ids, status codes, error signatures.
    #[command(subcommand)]
    Logs(crate::escalate_cmd::LogsCmd),
    /// A ticket's escalation package, redacted: export it (Markdown, HTML or zip) or push it to
    /// Jira; `escalate settings` names the Jira engineering project.
    Escalate(crate::escalate_cmd::EscalateArgs),
    /// KPI report: first response, MTTR, SLA compliance, backlog aging, reopen rate, volume.
    Report(crate::sla_cmd::ReportArgs),
    /// A ticket's SLA (`casebook sla CB-3`), the queue by risk, policies and calendars.
    Sla(crate::sla_cmd::SlaArgs),
    /// Reply macros: list, apply, import, export.
    #[command(subcommand)]
    Macro(crate::sla_cmd::MacroCmd),
    /// The knowledge base: runbook folders and reindexing.
    #[command(subcommand)]
    Kb(crate::kb_cmd::KbCmd),
    /// Search runbooks, past cases and knowledge-base articles.
    Search(crate::kb_cmd::SearchArgs),
    /// Search quality on judged queries (hit@1, MRR@10, recall@10) against an FTS5 baseline.
    Eval(crate::kb_cmd::EvalArgs),
    /// Upstream connections: add, list, test, rename, remove.
    #[command(subcommand)]
    Connections(crate::conn_cmd::ConnectionsCmd),
    /// Sign in to a connection (prints the address to open when no browser is available).
    Login(crate::conn_cmd::LoginArgs),
    /// Sign out of a connection: delete its stored password or tokens.
    Logout { connection: String },
    /// Write every unsynced local change to a JSON file (see docs/security.md).
    ExportOutbox(crate::conn_cmd::ExportOutboxArgs),
    /// Sync now: push local changes, pull upstream changes (ServiceNow), with a progress bar.
    Sync(crate::sync_cmd::SyncArgs),
    /// Local changes waiting to be pushed: list, retry, discard.
    #[command(subcommand)]
    Outbox(crate::sync_cmd::OutboxCmd),
    /// Fields changed both here and upstream: list, resolve.
    #[command(subcommand)]
    Conflicts(crate::sync_cmd::ConflictsCmd),
}

#[derive(Debug, Subcommand)]
pub enum TicketsCmd {
    /// List tickets (one page) with the same filters as the queue.
    List(ListArgs),
    /// Show one ticket by key (CB-3, INC0000045) or id.
    Show {
        key: String,
        /// Include the history (event log).
        #[arg(long)]
        history: bool,
    },
    /// Create a local ticket.
    New(NewArgs),
    /// Change fields of a ticket.
    Edit(EditArgs),
    /// Add a public reply (default) or an internal work note. The text comes from the argument,
    /// --file, or standard input (`-` or nothing).
    Comment {
        key: String,
        /// An internal work note (not visible to the requester).
        #[arg(long)]
        internal: bool,
        body: Option<String>,
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ViewsCmd {
    /// List saved views with their counts.
    List,
    /// Save (or replace) a view from filters.
    Save {
        name: String,
        #[command(flatten)]
        filter: ListArgs,
    },
    /// Delete a saved view by name.
    Delete { name: String },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StateArg {
    New,
    Open,
    Pending,
    OnHold,
    Resolved,
    Closed,
}

impl From<StateArg> for TicketState {
    fn from(s: StateArg) -> Self {
        match s {
            StateArg::New => TicketState::New,
            StateArg::Open => TicketState::Open,
            StateArg::Pending => TicketState::Pending,
            StateArg::OnHold => TicketState::OnHold,
            StateArg::Resolved => TicketState::Resolved,
            StateArg::Closed => TicketState::Closed,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PriorityArg {
    Critical,
    High,
    Medium,
    Low,
}

impl From<PriorityArg> for Priority {
    fn from(p: PriorityArg) -> Self {
        match p {
            PriorityArg::Critical => Priority::Critical,
            PriorityArg::High => Priority::High,
            PriorityArg::Medium => Priority::Medium,
            PriorityArg::Low => Priority::Low,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SortArg {
    Priority,
    Updated,
    Created,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Csv,
    Json,
}

impl From<FormatArg> for casebook_core::import::Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Csv => casebook_core::import::Format::Csv,
            FormatArg::Json => casebook_core::import::Format::Json,
        }
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only these states (repeatable).
    #[arg(long, value_enum)]
    pub state: Vec<StateArg>,
    /// Only these priorities (repeatable).
    #[arg(long, value_enum)]
    pub priority: Vec<PriorityArg>,
    #[arg(long)]
    pub assignee: Vec<String>,
    /// Include tickets with no assignee.
    #[arg(long)]
    pub unassigned: bool,
    #[arg(long)]
    pub group: Vec<String>,
    /// Tickets must carry every given tag.
    #[arg(long)]
    pub tag: Vec<String>,
    #[arg(long)]
    pub source: Vec<String>,
    /// Free text over key, title and description (the last word matches as a prefix).
    #[arg(long)]
    pub text: Option<String>,
    #[arg(long, value_enum, default_value = "updated")]
    pub sort: SortArg,
    /// Reverse the sort (oldest / least urgent first).
    #[arg(long)]
    pub reverse: bool,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[arg(long, default_value_t = 0)]
    pub offset: u32,
}

impl ListArgs {
    pub fn query(&self) -> Result<TicketQuery, ApiError> {
        if self.limit == 0 || self.limit > 1_000 {
            return Err(ApiError::invalid("--limit must be between 1 and 1000"));
        }
        Ok(TicketQuery {
            filter: TicketFilter {
                states: self.state.iter().map(|s| (*s).into()).collect(),
                priorities: self.priority.iter().map(|p| (*p).into()).collect(),
                assignees: self.assignee.clone(),
                unassigned: self.unassigned,
                groups: self.group.clone(),
                tags: self.tag.clone(),
                sources: self.source.clone(),
                text: self.text.clone(),
            },
            sort: match self.sort {
                SortArg::Priority => SortKey::Priority,
                SortArg::Updated => SortKey::Updated,
                SortArg::Created => SortKey::Created,
            },
            reverse: self.reverse,
            offset: self.offset,
            limit: self.limit,
        })
    }
}

#[derive(Debug, Args)]
pub struct NewArgs {
    #[arg(long)]
    pub title: String,
    #[arg(long)]
    pub description: Option<String>,
    /// Read the description (Markdown) from a file.
    #[arg(long, value_name = "FILE")]
    pub description_file: Option<PathBuf>,
    #[arg(long, value_enum)]
    pub priority: Option<PriorityArg>,
    #[arg(long, value_enum)]
    pub state: Option<StateArg>,
    #[arg(long)]
    pub assignee: Option<String>,
    #[arg(long)]
    pub group: Option<String>,
    #[arg(long)]
    pub requester: Option<String>,
    /// Tags (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    pub key: String,
    /// Refuse the edit if the ticket's revision is no longer this one (exit code 5).
    #[arg(long, value_name = "REVISION")]
    pub expect_revision: Option<i64>,
    #[arg(long)]
    pub title: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    #[arg(long, value_enum)]
    pub state: Option<StateArg>,
    #[arg(long, value_enum)]
    pub priority: Option<PriorityArg>,
    #[arg(long, conflicts_with = "unassign")]
    pub assignee: Option<String>,
    /// Remove the assignee.
    #[arg(long)]
    pub unassign: bool,
    #[arg(long, conflicts_with = "no_group")]
    pub group: Option<String>,
    /// Remove the assignment group.
    #[arg(long)]
    pub no_group: bool,
    /// Replace all tags (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub tags: Option<Vec<String>>,
    #[arg(long = "add-tag")]
    pub add_tags: Vec<String>,
    #[arg(long = "remove-tag")]
    pub remove_tags: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    pub file: PathBuf,
    /// A built-in mapping: uci-servicenow, endava-helpdesk.
    #[arg(long, conflicts_with = "mapping")]
    pub preset: Option<String>,
    /// A JSON mapping file (see docs/import.md).
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// csv or json (default: from the file extension).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Tickets in the benchmark store.
    #[arg(long, default_value_t = 100_000)]
    pub tickets: usize,
    /// Queue queries to time.
    #[arg(long, default_value_t = 2_000)]
    pub queries: usize,
    /// Folder with the corpora (incidents-uci-servicenow/, tickets-endava-helpdesk/); the bundled
    /// sample is used when absent.
    #[arg(long, value_name = "DIR")]
    pub corpora: Option<PathBuf>,
    /// Keep the benchmark workspace in this folder instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    #[command(subcommand)]
    pub what: Option<crate::bench_sla::BenchWhat>,
}
