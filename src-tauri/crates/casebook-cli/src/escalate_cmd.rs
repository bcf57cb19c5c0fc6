//! `casebook redact`, `casebook logs analyze` and `casebook escalate` (issue 6).
//!
//! `redact` and `logs analyze` need no workspace: they read a file or standard input and run the
//! escalation engine directly. `escalate` goes through the façade (drafts live in the workspace).

use crate::output::Out;
use casebook_api::escalation::ExportInput;
use casebook_api::{ApiError, Casebook, ErrorCode};
use casebook_escalation::export::ExportFormat;
use casebook_escalation::logs::{self, Analysis, AnalyzeOptions};
use casebook_escalation::redact::{AuditSummary, CustomRule, RedactError, RedactOptions, Redactor};
use clap::{Args, Subcommand, ValueEnum};
use std::io::{Read, Write};
use std::path::PathBuf;

mod push;

#[derive(Debug, Args)]
pub struct RedactArgs {
    /// The file to redact, or `-` for standard input. The result goes to standard output.
    pub file: String,
    /// Print the kinds and counts redacted to standard error.
    #[arg(long)]
    pub report: bool,
    /// Leave IPv4 addresses.
    #[arg(long)]
    pub keep_ipv4: bool,
    /// Leave IPv6 addresses.
    #[arg(long)]
    pub keep_ipv6: bool,
    /// A custom rule `LABEL=REGEX` (repeatable): `--rule customer-id='CUST-\d{6}'`.
    #[arg(long = "rule", value_name = "LABEL=REGEX")]
    pub rules: Vec<String>,
    /// A value never to redact (repeatable).
    #[arg(long = "allow", value_name = "VALUE")]
    pub allow: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum LogsCmd {
    /// Timestamps (normalized to UTC), ids, status codes and error signatures of a log (plain,
    /// JSON lines or HAR). `-` reads standard input.
    Analyze(AnalyzeArgs),
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    pub file: String,
    /// IANA zone for timestamps that carry none (default: read as UTC, and said so).
    #[arg(long)]
    pub zone: Option<String>,
    /// Year of syslog timestamps (default: the current year).
    #[arg(long)]
    pub year: Option<i32>,
    /// Signatures and ids shown in the text output.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportArg {
    Md,
    Html,
    Zip,
}

/// `casebook escalate <ticket> --export md|html|zip | --push | --status`, or
/// `casebook escalate settings ...`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct EscalateArgs {
    #[command(subcommand)]
    pub cmd: Option<EscalateCmd>,
    /// The ticket (key such as CB-3 or INC0010001, or id).
    #[arg(required = true)]
    pub ticket: Option<String>,
    /// Export the package (redacted) as Markdown, a self-contained HTML file or a zip bundle.
    #[arg(long, value_enum, required_unless_present_any = ["push", "status"])]
    pub export: Option<ExportArg>,
    /// Queue the package's push to Jira (redacted; delivered by the next `casebook sync`) and
    /// print the outbox operation.
    #[arg(long)]
    pub push: bool,
    /// The Jira connection to push through (name or id); default: the only Jira connection.
    #[arg(long, requires = "push")]
    pub connection: Option<String>,
    /// Show where the push of the ticket's most recent package stands (queued, failed, pushed
    /// with the issue key).
    #[arg(long, conflicts_with_all = ["push", "new"])]
    pub status: bool,
    /// Where to write: a file, a folder, or `-` for standard output (default: the current folder).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Start a new draft even if the ticket has one (default: the most recent draft).
    #[arg(long)]
    pub new: bool,
}

#[derive(Debug, Subcommand)]
pub enum EscalateCmd {
    /// Show or set the engineering project (and issue type) escalations are pushed to.
    Settings(push::SettingsArgs),
}

fn open_input(file: &str) -> Result<Box<dyn Read>, ApiError> {
    if file == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let f = std::fs::File::open(file).map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorCode::NotFound
        } else {
            ErrorCode::InvalidInput
        };
        ApiError::new(code, format!("cannot read {file}: {e}"))
    })?;
    Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, f)))
}

fn parse_rule(s: &str) -> Result<CustomRule, ApiError> {
    let (label, pattern) = s
        .split_once('=')
        .ok_or_else(|| ApiError::invalid(format!("--rule '{s}': expected LABEL=REGEX")))?;
    Ok(CustomRule {
        label: label.trim().to_owned(),
        pattern: pattern.to_owned(),
        literal: false,
    })
}

fn redact_error(e: RedactError) -> ApiError {
    match e {
        RedactError::Write(ref m) if m.contains("Broken pipe") => {
            ApiError::new(ErrorCode::Internal, "output closed early")
        }
        other => ApiError::invalid(other.to_string()),
    }
}

pub fn redact(a: RedactArgs) -> Result<u8, ApiError> {
    let opts = RedactOptions {
        ipv4: !a.keep_ipv4,
        ipv6: !a.keep_ipv6,
        custom_rules: a
            .rules
            .iter()
            .map(|r| parse_rule(r))
            .collect::<Result<_, _>>()?,
        allow: a.allow.clone(),
        ..RedactOptions::default()
    };
    let mut r = Redactor::new(&opts).map_err(redact_error)?;
    let input = open_input(&a.file)?;
    let stdout = std::io::stdout().lock();
    let out = std::io::BufWriter::with_capacity(1 << 20, stdout);
    r.redact_stream(input, out, |_| true)
        .map_err(redact_error)?;
    if a.report {
        eprint!("{}", audit_text(r.audit()));
    }
    Ok(0)
}

fn audit_text(a: &AuditSummary) -> String {
    let mut s = format!("redacted {} value(s)\n", a.total);
    for (k, n) in &a.counts {
        let d = a.distinct.get(k).copied().unwrap_or(0);
        s.push_str(&format!("  {k:<16} {n:>8}  ({d} distinct)\n"));
    }
    s
}

pub fn logs(cmd: LogsCmd, out: &Out) -> Result<u8, ApiError> {
    let LogsCmd::Analyze(a) = cmd;
    let mut opts = AnalyzeOptions::new(jiff::Timestamp::now().as_millisecond());
    opts.zone = a.zone.clone();
    if let Some(y) = a.year {
        opts.syslog_year = y;
    }
    let input = open_input(&a.file)?;
    let analysis =
        logs::analyze(input, &opts, |_| true).map_err(|e| ApiError::invalid(e.to_string()))?;
    if out.json {
        let s = serde_json::to_string_pretty(&analysis)
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        println!("{s}");
    } else {
        print!("{}", analysis_text(&analysis, a.top));
    }
    Ok(0)
}

fn analysis_text(a: &Analysis, top: usize) -> String {
    let mut s = String::new();
    let mb = a.bytes as f64 / 1_048_576.0;
    s.push_str(&format!(
        "{:?} log: {} lines, {mb:.1} MiB\n",
        a.format, a.lines
    ));
    match (&a.time.first_utc, &a.time.last_utc) {
        (Some(f), Some(l)) => s.push_str(&format!("time (UTC): {f} .. {l}\n")),
        _ => s.push_str("time: no timestamps recognized\n"),
    }
    for f in &a.time.formats {
        s.push_str(&format!("  {:<24} {:>9} lines\n", f.label, f.lines));
    }
    for n in &a.notes {
        s.push_str(&format!("note: {n}\n"));
    }
    for p in &a.problems {
        s.push_str(&format!("problem: {p}\n"));
    }
    if !a.status_codes.is_empty() {
        let codes: Vec<String> = a
            .status_codes
            .iter()
            .map(|c| format!("{}×{}", c.code, c.count))
            .collect();
        s.push_str(&format!("HTTP status: {}\n", codes.join("  ")));
    }
    for (name, list) in [
        ("request ids", &a.request_ids),
        ("trace ids", &a.trace_ids),
        ("UUIDs", &a.uuids),
    ] {
        if list.distinct > 0 {
            let more = if list.capped { "+" } else { "" };
            let ids: Vec<String> = list
                .top
                .iter()
                .take(top.min(5))
                .map(|i| format!("{} ({})", i.id, i.count))
                .collect();
            s.push_str(&format!(
                "{name}: {}{more} distinct; top: {}\n",
                list.distinct,
                ids.join(", ")
            ));
        }
    }
    s.push_str(&format!(
        "error lines: {} in {} signatures\n",
        a.error_lines,
        a.signatures.len()
    ));
    for sig in a.signatures.iter().take(top) {
        let first = sig
            .first_seen
            .map(logs::rfc3339)
            .unwrap_or_else(|| "?".into());
        let last = sig
            .last_seen
            .map(logs::rfc3339)
            .unwrap_or_else(|| "?".into());
        let lines: Vec<String> = sig.sample_lines.iter().map(u64::to_string).collect();
        s.push_str(&format!(
            "  {:>7}× [{}] {}\n           first {first}  last {last}  lines {}\n",
            sig.count,
            sig.level,
            sig.signature,
            lines.join(",")
        ));
    }
    s
}

pub async fn escalate(a: EscalateArgs, cb: &Casebook, out: &Out) -> Result<u8, ApiError> {
    if let Some(EscalateCmd::Settings(s)) = a.cmd {
        return push::settings(s, cb, out).await;
    }
    let Some(ticket_ref) = a.ticket.clone() else {
        return Err(ApiError::invalid("name the ticket to escalate"));
    };
    let ticket = cb.find_ticket(ticket_ref).await?;
    let existing = if a.new {
        Vec::new()
    } else {
        cb.escalation_list(Some(ticket.id)).await?
    };
    if a.status {
        let d = existing.first().ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!("{} has no escalation package", ticket.key),
            )
        })?;
        return push::status(d.id, &ticket.key, cb, out).await;
    }
    if a.push {
        // Configuration errors first: no draft is created for a push that cannot be queued.
        push::check_settings(a.connection.clone(), cb).await?;
    }
    let id = match existing.first() {
        Some(d) => d.id,
        None => cb.escalation_create(ticket.id).await?.id,
    };
    if let Some(export) = a.export {
        let to_stdout = a.out.as_deref().is_some_and(|p| p.as_os_str() == "-");
        if a.push && (to_stdout || out.json) {
            return Err(ApiError::invalid(
                "with --out - or --json, export and push in separate commands",
            ));
        }
        export_package(id, &ticket.key, export, a.out, cb, out).await?;
    }
    if a.push {
        return push::push(id, &ticket.key, a.connection, cb, out).await;
    }
    Ok(0)
}

async fn export_package(
    id: i64,
    ticket_key: &str,
    export: ExportArg,
    out_path: Option<PathBuf>,
    cb: &Casebook,
    out: &Out,
) -> Result<u8, ApiError> {
    let format = match export {
        ExportArg::Md => ExportFormat::Markdown,
        ExportArg::Html => ExportFormat::Html,
        ExportArg::Zip => ExportFormat::Zip,
    };
    let to_stdout = out_path.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if to_stdout {
        let (_, bytes, audit) = cb.escalation_export_bytes(id, format).await?;
        let mut so = std::io::stdout().lock();
        so.write_all(&bytes)
            .and_then(|()| so.flush())
            .map_err(|e| ApiError::new(ErrorCode::Internal, format!("writing the export: {e}")))?;
        eprint!("{}", audit_text(&audit));
        return Ok(0);
    }
    let path = out_path.unwrap_or_else(|| PathBuf::from("."));
    let r = cb
        .escalation_export(ExportInput {
            id,
            format,
            path: path.display().to_string(),
        })
        .await?;
    if out.json {
        let s = serde_json::to_string_pretty(&r)
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        println!("{s}");
    } else {
        let view = cb.escalation_get(id).await?;
        println!(
            "wrote {} ({} bytes) from escalation {} of {}",
            r.path, r.bytes, id, ticket_key
        );
        println!("completeness {}%", view.completeness.score);
        for m in &view.completeness.missing_labels {
            println!("  missing: {m}");
        }
        for w in &view.completeness.warnings {
            println!("  warning: {w}");
        }
        print!("{}", audit_text(&r.redaction));
    }
    Ok(0)
}
