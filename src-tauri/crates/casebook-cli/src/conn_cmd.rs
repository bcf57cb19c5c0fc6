//! `casebook connections …`, `casebook login`, `casebook logout` and `casebook export-outbox`.

use crate::output::Out;
use casebook_api::connections::{
    ConnectionTestReport, ConnectionView, NewConnectionInput, SignInStart,
};
use casebook_api::{ApiError, Casebook};
use casebook_core::connection::{AuthMethod, ConnectionStatus, Vendor};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum ConnectionsCmd {
    /// Add a connection (no secret is asked here: sign in with `casebook login`).
    Add(AddArgs),
    /// List connections with their state and account.
    List,
    /// Test reachability, certificate, sign-in and what the account may do.
    Test { connection: String },
    /// Rename a connection.
    Rename { connection: String, name: String },
    /// Change a connection's settings: the Confluence spaces behind a Jira Service Management
    /// knowledge base.
    Set(SetArgs),
    /// Remove a connection and delete its stored secrets.
    Remove { connection: String },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum VendorArg {
    Servicenow,
    Jira,
    Zendesk,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AuthArg {
    /// Browser sign-in (ServiceNow, Zendesk).
    Oauth,
    /// User name + password (ServiceNow) or email + API token (Jira).
    Basic,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[arg(value_enum)]
    pub vendor: VendorArg,
    /// Display name, unique (e.g. "Zendesk EU").
    pub name: String,
    /// Instance: `acme`, `acme.service-now.com` or `https://…`.
    #[arg(long)]
    pub instance: String,
    /// Sign-in method (default: oauth for ServiceNow and Zendesk, basic for Jira).
    #[arg(long, value_enum)]
    pub auth: Option<AuthArg>,
    /// User name (ServiceNow basic) or account email (Jira).
    #[arg(long)]
    pub user: Option<String>,
    /// The OAuth client id registered for Casebook on the instance.
    #[arg(long)]
    pub client_id: Option<String>,
    /// What to mirror (repeatable): ServiceNow tables, Jira project keys, Zendesk views.
    #[arg(long = "mirror")]
    pub mirror: Vec<String>,
    /// Jira: a Confluence space key whose pages feed the knowledge base (repeatable, e.g.
    /// `--kb-space KB`). Without one, sync pulls no articles for the connection.
    #[arg(long = "kb-space", value_name = "KEY")]
    pub kb_space: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  casebook connections set \"Acme JSM\" --kb-space KB --kb-space ITHELP
  casebook connections set \"Acme JSM\" --no-kb-space

The knowledge base of a Jira Service Management connection is pulled from the Confluence spaces
set here (Confluence Cloud on the same site, same sign-in). A space this account cannot read is
skipped at sync, with the reason in `casebook sync` and the connection's sync status; the
tickets still sync. Articles of a space removed from the list leave the local knowledge base at
once; a space added is pulled whole at the next sync.")]
pub struct SetArgs {
    /// Connection name or id.
    pub connection: String,
    /// Jira: the Confluence space keys behind the knowledge base (repeatable; replaces the
    /// current list).
    #[arg(long = "kb-space", value_name = "KEY", conflicts_with = "no_kb_space")]
    pub kb_space: Vec<String>,
    /// Jira: pull no knowledge base (clears the space list and removes its articles from the
    /// local knowledge base).
    #[arg(long)]
    pub no_kb_space: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Connection name or id.
    pub connection: String,
    /// Only print the address to open; do not try to start a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// Seconds to wait for the browser to come back (default 300).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ExportOutboxArgs {
    /// The file to write (must not exist). Not encrypted: keep it somewhere safe.
    pub file: PathBuf,
}

fn print_json<T: Serialize>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot serialize the output: {e}"),
    }
}

fn status_word(s: ConnectionStatus) -> &'static str {
    match s {
        ConnectionStatus::SignedIn => "signed in",
        ConnectionStatus::NeedsSignIn => "needs sign-in",
        ConnectionStatus::Unreachable => "unreachable",
    }
}

fn print_connection(c: &ConnectionView) {
    println!(
        "{:>3}  {:<24} {:<10} {:<14} {}",
        c.id,
        c.name,
        c.vendor.as_str(),
        status_word(c.status),
        c.base_url
    );
    if let Some(a) = &c.account_name {
        println!("     account: {a}");
    }
    if c.vendor == Vendor::Jira {
        if c.kb_spaces.is_empty() {
            println!("     knowledge base: no Confluence space set");
        } else {
            println!("     knowledge base: Confluence {}", c.kb_spaces.join(", "));
        }
    }
}

fn print_report(out: &Out, r: &ConnectionTestReport) {
    if out.json {
        print_json(r);
        return;
    }
    println!("{}: {}", r.connection.name, r.summary);
    for c in &r.checks {
        println!(
            "  [{}] {}: {}",
            if c.ok { "ok" } else { "!!" },
            c.name,
            c.detail
        );
    }
    for cap in &r.connection.capabilities {
        println!("  - {cap}");
    }
}

pub async fn connections(cmd: ConnectionsCmd, cb: &Casebook, out: &Out) -> Result<u8, ApiError> {
    match cmd {
        ConnectionsCmd::Add(a) => {
            let vendor = match a.vendor {
                VendorArg::Servicenow => Vendor::ServiceNow,
                VendorArg::Jira => Vendor::Jira,
                VendorArg::Zendesk => Vendor::Zendesk,
            };
            // Checked before anything is stored: a refused space key adds no connection.
            casebook_core::connection::validate_kb_spaces(vendor, &a.kb_space)
                .map_err(|e| ApiError::invalid(e.0))?;
            let auth_method = match (a.auth, vendor) {
                (Some(AuthArg::Oauth), _) => AuthMethod::OAuth,
                (Some(AuthArg::Basic), _) | (None, Vendor::Jira) => AuthMethod::Basic,
                (None, _) => AuthMethod::OAuth,
            };
            let mut c = cb
                .add_connection(NewConnectionInput {
                    vendor,
                    name: a.name,
                    instance: a.instance,
                    auth_method,
                    username: a.user,
                    oauth_client_id: a.client_id,
                    mirror_scope: (!a.mirror.is_empty()).then_some(a.mirror),
                })
                .await?;
            if !a.kb_space.is_empty() {
                c = cb.set_connection_kb_spaces(c.id, a.kb_space).await?;
            }
            if out.json {
                print_json(&c);
            } else {
                println!(
                    "added {} ({}); mirrors: {}",
                    c.name,
                    c.base_url,
                    c.mirror_scope.join(", ")
                );
                if !c.kb_spaces.is_empty() {
                    println!("knowledge base: Confluence {}", c.kb_spaces.join(", "));
                }
                println!("sign in with: casebook login {:?}", c.name);
            }
        }
        ConnectionsCmd::List => {
            let list = cb.list_connections().await?;
            if out.json {
                print_json(&list);
            } else if list.is_empty() {
                println!("no connections; add one with `casebook connections add`");
            } else {
                for c in &list {
                    print_connection(c);
                }
            }
        }
        ConnectionsCmd::Test { connection } => {
            let c = cb.get_connection(connection).await?;
            let r = cb.test_connection(c.id).await?;
            print_report(out, &r);
            return Ok(if r.connection.status == ConnectionStatus::SignedIn {
                0
            } else {
                8
            });
        }
        ConnectionsCmd::Rename { connection, name } => {
            let c = cb.get_connection(connection).await?;
            let c = cb.rename_connection(c.id, name).await?;
            if out.json {
                print_json(&c);
            } else {
                println!("renamed to {}", c.name);
            }
        }
        ConnectionsCmd::Set(a) => {
            if a.kb_space.is_empty() && !a.no_kb_space {
                return Err(ApiError::invalid(
                    "nothing to set: give --kb-space KEY (repeatable) or --no-kb-space",
                ));
            }
            let c = cb.get_connection(a.connection).await?;
            let c = cb.set_connection_kb_spaces(c.id, a.kb_space).await?;
            if out.json {
                print_json(&c);
            } else if c.kb_spaces.is_empty() {
                println!("{}: no knowledge base is pulled", c.name);
            } else {
                println!(
                    "{}: the knowledge base is pulled from the Confluence space(s) {} at the next sync",
                    c.name,
                    c.kb_spaces.join(", ")
                );
            }
        }
        ConnectionsCmd::Remove { connection } => {
            let c = cb.get_connection(connection).await?;
            cb.remove_connection(c.id).await?;
            if !out.json {
                println!("removed {} and its stored secrets", c.name);
            } else {
                print_json(&serde_json::json!({ "removed": c.id }));
            }
        }
    }
    Ok(0)
}

/// Reads a password or API token from stdin (one line). Never echoes it back.
fn read_secret(prompt: &str) -> Result<String, ApiError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{prompt} (input is visible; pipe it in to avoid that): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| ApiError::invalid(format!("cannot read the secret from stdin: {e}")))?;
    let s = line.trim_end_matches(['\r', '\n']).to_owned();
    if s.is_empty() {
        return Err(ApiError::invalid("no secret given on stdin"));
    }
    Ok(s)
}

fn try_open_browser(url: &str) -> bool {
    if !url.starts_with("https://")
        && !url.starts_with("http://127.0.0.1")
        && !url.starts_with("http://localhost")
    {
        return false;
    }
    let has_display =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    let cmd = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else if has_display {
        "xdg-open"
    } else {
        return false;
    };
    std::process::Command::new(cmd)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

pub async fn login(a: LoginArgs, cb: &Casebook, out: &Out) -> Result<u8, ApiError> {
    let c = cb.get_connection(a.connection).await?;
    let report = match c.auth_method {
        AuthMethod::Basic => {
            let what = if c.vendor == Vendor::Jira {
                "API token"
            } else {
                "password"
            };
            let secret = read_secret(&format!(
                "{what} for {} on {}",
                c.username.as_deref().unwrap_or("?"),
                c.name
            ))?;
            cb.set_connection_secret(c.id, secret).await?
        }
        AuthMethod::OAuth => {
            let start: SignInStart = cb.begin_sign_in(c.id).await?;
            let opened = !a.no_browser && try_open_browser(&start.url);
            if out.json {
                print_json(&start);
            } else {
                if opened {
                    eprintln!("a browser window opened; if it did not, open this address:");
                } else {
                    eprintln!(
                        "open this address in a browser on this computer to sign in (over SSH, forward \
                         the port in it first):"
                    );
                }
                println!("{}", start.url);
                eprintln!(
                    "waiting up to {} s for the browser…",
                    a.timeout.unwrap_or(start.timeout_seconds)
                );
            }
            match a.timeout {
                Some(s) => {
                    cb.finish_sign_in_within(start.attempt_id, std::time::Duration::from_secs(s))
                        .await?
                }
                None => cb.finish_sign_in(start.attempt_id).await?,
            }
        }
    };
    print_report(out, &report);
    Ok(if report.connection.status == ConnectionStatus::SignedIn {
        0
    } else {
        8
    })
}

pub async fn logout(connection: String, cb: &Casebook, out: &Out) -> Result<u8, ApiError> {
    let c = cb.get_connection(connection).await?;
    let c = cb.delete_connection_secret(c.id).await?;
    if out.json {
        print_json(&c);
    } else {
        println!("signed out of {}; its stored secrets were deleted", c.name);
    }
    Ok(0)
}

pub async fn export_outbox(a: ExportOutboxArgs, cb: &Casebook, out: &Out) -> Result<u8, ApiError> {
    let r = cb.export_outbox(a.file).await?;
    if out.json {
        print_json(&r);
    } else {
        println!(
            "wrote {} unsynced change(s) to {} (plain JSON, not encrypted: keep it safe)",
            r.operations, r.path
        );
    }
    Ok(0)
}
