//! "Test connection": can the instance be reached, is its certificate trusted, are the
//! credentials accepted, who is the account, and what may it do — in plain words.

use crate::auth::tokens::TokenManager;
use crate::auth::{AuthError, Credentials};
use crate::http::{self, Transport};
use casebook_core::connection::{Connection, ConnectionStatus, Vendor};
use casebook_core::model::Millis;
use serde_json::Value;

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    pub status: ConnectionStatus,
    /// One sentence: the outcome.
    pub summary: String,
    pub account_name: Option<String>,
    /// What the account may do, one plain sentence each.
    pub capabilities: Vec<String>,
    pub checks: Vec<Check>,
    /// Whether the Zendesk account may use the incremental export (admins only).
    pub zendesk_admin: Option<bool>,
    pub access_expires_at: Option<Millis>,
}

enum Call {
    Ok(Value),
    Status(u16),
    Transport(Transport, String),
    NotJson,
}

async fn get_json(tm: &TokenManager, creds: Option<&Credentials>, url: &str, base: &str) -> Call {
    let mut req = tm.http().get(url).header("Accept", "application/json");
    if let Some(c) = creds {
        req = c.apply(req);
    }
    match req.send().await {
        Err(e) => {
            let (t, m) = http::explain(&e, base);
            Call::Transport(t, m)
        }
        Ok(resp) if resp.status().is_success() => match resp.json::<Value>().await {
            Ok(v) => Call::Ok(v),
            Err(_) => Call::NotJson,
        },
        Ok(resp) => Call::Status(resp.status().as_u16()),
    }
}

fn account_url(conn: &Connection) -> String {
    let b = conn.base_url.trim_end_matches('/');
    match conn.vendor {
        Vendor::Zendesk => format!("{b}/api/v2/users/me.json"),
        Vendor::Jira => format!("{b}/rest/api/3/myself"),
        Vendor::ServiceNow => format!(
            "{b}/api/now/table/sys_user?sysparm_query=sys_id%3Djavascript:gs.getUserID()\
             &sysparm_fields=user_name%2Cname&sysparm_limit=1"
        ),
    }
}

fn transport_report(t: Transport, msg: String, mut checks: Vec<Check>) -> ProbeReport {
    let (reach, tls) = match t {
        Transport::Tls => (true, false),
        _ => (false, false),
    };
    checks.push(Check {
        name: "reachable",
        ok: reach,
        detail: if reach {
            "the instance answered".into()
        } else {
            msg.clone()
        },
    });
    if t == Transport::Tls {
        checks.push(Check {
            name: "tls",
            ok: tls,
            detail: msg.clone(),
        });
    }
    ProbeReport {
        status: ConnectionStatus::Unreachable,
        summary: msg,
        account_name: None,
        capabilities: Vec::new(),
        checks,
        zendesk_admin: None,
        access_expires_at: None,
    }
}

/// Runs the checks. Never fails: every problem becomes part of the report.
pub async fn test_connection(tm: &TokenManager, conn: &Connection) -> ProbeReport {
    let base = conn.base_url.as_str();
    let creds = tm.credentials(conn).await;
    let (creds, expires) = match creds {
        Ok((c, e)) => (c, e),
        Err(AuthError::Unreachable(m)) => {
            return transport_report(Transport::Unreachable, m, Vec::new());
        }
        Err(e) => {
            // No usable credentials (not signed in, refresh refused, keyring unavailable): still
            // say whether the instance is reachable and its certificate trusted.
            let why = e.to_string();
            return match get_json(tm, None, base, base).await {
                Call::Transport(t, m) => transport_report(t, m, Vec::new()),
                _ => ProbeReport {
                    status: ConnectionStatus::NeedsSignIn,
                    summary: why.clone(),
                    account_name: None,
                    capabilities: Vec::new(),
                    checks: vec![
                        Check {
                            name: "reachable",
                            ok: true,
                            detail: "the instance answered".into(),
                        },
                        Check {
                            name: "tls",
                            ok: true,
                            detail: tls_detail(base),
                        },
                        Check {
                            name: "sign-in",
                            ok: false,
                            detail: why,
                        },
                    ],
                    zendesk_admin: None,
                    access_expires_at: None,
                },
            };
        }
    };
    let mut checks = Vec::new();
    let me = match get_json(tm, Some(&creds), &account_url(conn), base).await {
        Call::Transport(t, m) => return transport_report(t, m, checks),
        Call::Status(s) => {
            checks.push(Check {
                name: "reachable",
                ok: true,
                detail: "the instance answered".into(),
            });
            checks.push(Check {
                name: "tls",
                ok: true,
                detail: tls_detail(base),
            });
            let (status, why) = match s {
                401 => (
                    ConnectionStatus::NeedsSignIn,
                    "the instance rejected the stored credentials; sign in again".to_owned(),
                ),
                403 => (
                    ConnectionStatus::SignedIn,
                    "signed in, but the account may not read its own profile; ask an administrator for API access".to_owned(),
                ),
                404 => (
                    ConnectionStatus::Unreachable,
                    format!("{base} does not look like a {} instance (HTTP 404)", conn.vendor.label()),
                ),
                other => (
                    ConnectionStatus::Unreachable,
                    format!("{base} answered HTTP {other}; try again later"),
                ),
            };
            checks.push(Check {
                name: "sign-in",
                ok: status == ConnectionStatus::SignedIn,
                detail: why.clone(),
            });
            return ProbeReport {
                status,
                summary: why,
                account_name: None,
                capabilities: Vec::new(),
                checks,
                zendesk_admin: None,
                access_expires_at: expires,
            };
        }
        Call::NotJson => {
            let why = format!(
                "{base} answered, but not like a {} API",
                conn.vendor.label()
            );
            checks.push(Check {
                name: "reachable",
                ok: true,
                detail: why.clone(),
            });
            return ProbeReport {
                status: ConnectionStatus::Unreachable,
                summary: why,
                account_name: None,
                capabilities: Vec::new(),
                checks,
                zendesk_admin: None,
                access_expires_at: expires,
            };
        }
        Call::Ok(v) => v,
    };
    checks.push(Check {
        name: "reachable",
        ok: true,
        detail: "the instance answered".into(),
    });
    checks.push(Check {
        name: "tls",
        ok: true,
        detail: tls_detail(base),
    });
    let mut caps = Vec::new();
    let mut zendesk_admin = None;
    let account = match conn.vendor {
        Vendor::Zendesk => {
            let user = &me["user"];
            let role = user["role"].as_str().unwrap_or("");
            match role {
                "admin" => {
                    zendesk_admin = Some(true);
                    caps.push("is a Zendesk administrator: tickets are pulled with the incremental export".to_owned());
                }
                "agent" => {
                    zendesk_admin = Some(false);
                    caps.push("is a Zendesk agent (not an administrator): tickets are pulled with the search export, which is slower than the incremental export".to_owned());
                }
                _ => {
                    zendesk_admin = Some(false);
                    caps.push("is not a Zendesk agent: it cannot work on tickets".to_owned());
                }
            }
            name_with(&user["name"], &user["email"])
        }
        Vendor::Jira => {
            let acct = name_with(&me["displayName"], &me["emailAddress"]);
            let url = format!(
                "{}/rest/api/3/mypermissions?permissions=BROWSE_PROJECTS,EDIT_ISSUES,ADD_COMMENTS,ADMINISTER",
                base.trim_end_matches('/')
            );
            if let Call::Ok(p) = get_json(tm, Some(&creds), &url, base).await {
                let has = |k: &str| p["permissions"][k]["havePermission"].as_bool() == Some(true);
                caps.push(
                    if has("BROWSE_PROJECTS") {
                        "can browse projects"
                    } else {
                        "cannot browse any project"
                    }
                    .to_owned(),
                );
                caps.push(
                    if has("EDIT_ISSUES") {
                        "can edit issues"
                    } else {
                        "cannot edit issues"
                    }
                    .to_owned(),
                );
                caps.push(
                    if has("ADD_COMMENTS") {
                        "can comment"
                    } else {
                        "cannot comment"
                    }
                    .to_owned(),
                );
                if has("ADMINISTER") {
                    caps.push("is a Jira administrator".to_owned());
                }
            }
            // The Confluence spaces behind the knowledge base: whether each can be read, so a
            // wrong key or a missing permission shows here rather than at the next sync.
            for key in &conn.kb_spaces {
                let url = format!(
                    "{}/wiki/api/v2/spaces?keys={key}&limit=1",
                    base.trim_end_matches('/')
                );
                caps.push(match get_json(tm, Some(&creds), &url, base).await {
                    Call::Ok(v) => match v["results"].as_array().and_then(|r| r.first()) {
                        Some(space) => format!(
                            "can read the Confluence space {key} ({})",
                            space["name"].as_str().unwrap_or(key)
                        ),
                        None => format!(
                            "cannot see the Confluence space {key}: it does not exist or this account may not view it"
                        ),
                    },
                    Call::Status(403) => format!(
                        "may not use Confluence on this site, so the knowledge-base space {key} cannot be read"
                    ),
                    Call::Status(s) => {
                        format!("could not check the Confluence space {key} (HTTP {s})")
                    }
                    _ => format!("could not check the Confluence space {key}"),
                });
            }
            acct
        }
        Vendor::ServiceNow => {
            let u = &me["result"][0];
            let acct = name_with(&u["name"], &u["user_name"]);
            for table in &conn.mirror_scope {
                let url = format!(
                    "{}/api/now/table/{table}?sysparm_limit=1&sysparm_fields=sys_id",
                    base.trim_end_matches('/')
                );
                caps.push(match get_json(tm, Some(&creds), &url, base).await {
                    Call::Ok(_) => format!("can read {table}"),
                    Call::Status(403) => {
                        format!("may not read {table} (ask for the itil role or table access)")
                    }
                    Call::Status(s) => format!("could not check {table} (HTTP {s})"),
                    _ => format!("could not check {table}"),
                });
            }
            acct
        }
    };
    let summary = match &account {
        Some(a) => format!("signed in to {} as {a}", conn.name),
        None => format!("signed in to {}", conn.name),
    };
    checks.push(Check {
        name: "sign-in",
        ok: true,
        detail: summary.clone(),
    });
    ProbeReport {
        status: ConnectionStatus::SignedIn,
        summary,
        account_name: account,
        capabilities: caps,
        checks,
        zendesk_admin,
        access_expires_at: expires,
    }
}

fn tls_detail(base: &str) -> String {
    if base.starts_with("https://") {
        "the certificate is trusted".into()
    } else {
        "plain http to a loopback test server (allowed only on 127.0.0.1/localhost)".into()
    }
}

fn name_with(name: &Value, id: &Value) -> Option<String> {
    match (
        name.as_str().filter(|s| !s.is_empty()),
        id.as_str().filter(|s| !s.is_empty()),
    ) {
        (Some(n), Some(i)) if n != i => Some(format!("{n} <{i}>")),
        (Some(n), _) => Some(n.to_owned()),
        (None, Some(i)) => Some(i.to_owned()),
        (None, None) => None,
    }
}
