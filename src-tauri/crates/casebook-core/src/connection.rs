//! Connection profiles: which upstream account an agent connected, without any secret.
//!
//! The rules here are pure (no network): the instance address is normalized and checked (https
//! only, except loopback test servers), names are checked, and each vendor has a default mirror
//! scope. Secrets live in the keyring under [`workspace_secret_name`].

use crate::model::Millis;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Vendor {
    #[serde(rename = "servicenow")]
    ServiceNow,
    Jira,
    Zendesk,
}

impl Vendor {
    pub const ALL: [Vendor; 3] = [Vendor::ServiceNow, Vendor::Jira, Vendor::Zendesk];

    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::ServiceNow => "servicenow",
            Vendor::Jira => "jira",
            Vendor::Zendesk => "zendesk",
        }
    }

    pub fn parse(s: &str) -> Option<Vendor> {
        match s.trim().to_ascii_lowercase().as_str() {
            "servicenow" | "snow" => Some(Vendor::ServiceNow),
            "jira" | "jsm" => Some(Vendor::Jira),
            "zendesk" => Some(Vendor::Zendesk),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Vendor::ServiceNow => "ServiceNow",
            Vendor::Jira => "Jira Service Management",
            Vendor::Zendesk => "Zendesk",
        }
    }

    /// The domain a bare instance name is completed with (`acme` → `acme.zendesk.com`).
    fn default_domain(self) -> &'static str {
        match self {
            Vendor::ServiceNow => "service-now.com",
            Vendor::Jira => "atlassian.net",
            Vendor::Zendesk => "zendesk.com",
        }
    }

    /// What is mirrored when the agent does not choose: ServiceNow incidents and requested items;
    /// every Jira Service Management project the account can see; every Zendesk ticket the agent
    /// can see.
    pub fn default_mirror_scope(self) -> Vec<String> {
        let s: &[&str] = match self {
            Vendor::ServiceNow => &["incident", "sc_req_item"],
            Vendor::Jira => &["*"],
            Vendor::Zendesk => &["tickets"],
        };
        s.iter().map(|x| (*x).to_owned()).collect()
    }

    /// Whether Casebook can read and write the tags of this vendor's tickets. ServiceNow cannot:
    /// incidents have no tags field, and record tags live in `label` / `label_entry`, whose
    /// `table` and `table_key` columns only the `maint` role may write, whose tags are private to
    /// their owner by default, and whose entries cannot be removed through the Table API by an
    /// agent (see docs/sync.md, "Tags on ServiceNow tickets"). Tags of such tickets stay in the
    /// workspace: they are never queued for push and a pull never overwrites them.
    pub fn stores_tags(self) -> bool {
        !matches!(self, Vendor::ServiceNow)
    }

    /// The sign-in methods the vendor supports for a desktop app (see itsm-apis.md §1.1, §2.1,
    /// §3.1): Jira 3LO has no PKCE (it needs a client secret), Zendesk API tokens are retired.
    pub fn supports(self, method: AuthMethod) -> bool {
        matches!(
            (self, method),
            (Vendor::ServiceNow, _)
                | (Vendor::Zendesk, AuthMethod::OAuth)
                | (Vendor::Jira, AuthMethod::Basic)
        )
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum AuthMethod {
    /// OAuth 2.0 authorization code with PKCE (public client) through the system browser.
    #[serde(rename = "oauth")]
    OAuth,
    /// User name (Jira: account email) and password (Jira: API token).
    Basic,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::OAuth => "oauth",
            AuthMethod::Basic => "basic",
        }
    }

    pub fn parse(s: &str) -> Option<AuthMethod> {
        match s {
            "oauth" => Some(AuthMethod::OAuth),
            "basic" => Some(AuthMethod::Basic),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum ConnectionStatus {
    SignedIn,
    NeedsSignIn,
    Unreachable,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::SignedIn => "signed_in",
            ConnectionStatus::NeedsSignIn => "needs_sign_in",
            ConnectionStatus::Unreachable => "unreachable",
        }
    }

    pub fn parse(s: &str) -> Option<ConnectionStatus> {
        match s {
            "signed_in" => Some(ConnectionStatus::SignedIn),
            "needs_sign_in" => Some(ConnectionStatus::NeedsSignIn),
            "unreachable" => Some(ConnectionStatus::Unreachable),
            _ => None,
        }
    }
}

/// A stored connection profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: i64,
    pub vendor: Vendor,
    pub name: String,
    /// Normalized origin, e.g. `https://acme.zendesk.com`.
    pub base_url: String,
    pub auth_method: AuthMethod,
    pub username: Option<String>,
    pub oauth_client_id: Option<String>,
    pub mirror_scope: Vec<String>,
    /// Jira Service Management: the keys of the Confluence spaces that back its knowledge base
    /// (pulled into the local knowledge base by sync). Empty: no knowledge-base pull. Other
    /// vendors have their own knowledge base and leave it empty.
    pub kb_spaces: Vec<String>,
    pub status: ConnectionStatus,
    pub status_detail: Option<String>,
    pub account_name: Option<String>,
    /// What the account may do, as the last test found it (plain words).
    pub capabilities: Vec<String>,
    pub access_expires_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// What the agent enters to add a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConnection {
    pub vendor: Vendor,
    pub name: String,
    /// An instance name (`acme`), host (`acme.service-now.com`) or URL.
    pub instance: String,
    pub auth_method: AuthMethod,
    pub username: Option<String>,
    pub oauth_client_id: Option<String>,
    /// `None`: the vendor's default.
    pub mirror_scope: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConnectionInputError(pub String);

fn invalid(msg: impl Into<String>) -> ConnectionInputError {
    ConnectionInputError(msg.into())
}

/// Checks a display name: 1–80 characters, no control characters.
pub fn validate_name(name: &str) -> Result<String, ConnectionInputError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 80 {
        return Err(invalid("the connection name must have 1 to 80 characters"));
    }
    if n.chars().any(char::is_control) {
        return Err(invalid(
            "the connection name must not contain control characters",
        ));
    }
    Ok(n.to_owned())
}

/// Normalizes what the agent typed into the instance's https origin.
///
/// `acme` → `https://acme.<vendor domain>`; a host or URL keeps its host (custom domains are
/// allowed) and loses any path. Refused: other schemes, `http://` to anything but a loopback
/// address (test servers), user names or passwords in the URL, query strings, malformed hosts.
pub fn normalize_instance_url(vendor: Vendor, input: &str) -> Result<String, ConnectionInputError> {
    let raw = input.trim();
    if raw.is_empty() {
        return Err(invalid(format!(
            "enter the {} instance (e.g. acme or https://acme.{})",
            vendor.label(),
            vendor.default_domain()
        )));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(format!(
            "{raw:?} is not a valid instance address: it contains spaces"
        )));
    }
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else if is_bare_name(raw) {
        format!(
            "https://{}.{}",
            raw.to_ascii_lowercase(),
            vendor.default_domain()
        )
    } else {
        format!("https://{raw}")
    };
    let url = url::Url::parse(&with_scheme)
        .map_err(|e| invalid(format!("{raw:?} is not a valid instance address: {e}")))?;
    let host = match url.host() {
        Some(h) => h,
        None => return Err(invalid(format!("{raw:?} has no host name"))),
    };
    let loopback = match &host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(invalid(format!(
                "{raw:?} uses http://, which would send your credentials unencrypted: use https://"
            )));
        }
        other => {
            return Err(invalid(format!(
                "{raw:?} uses the scheme {other}: only https:// instance addresses are supported"
            )));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "do not put a user name or password in the instance address; enter them when signing in",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(format!(
            "{raw:?} has a query or fragment; enter just the instance address"
        )));
    }
    if let url::Host::Domain(d) = &host
        && !loopback
        && (!d.contains('.') || d.split('.').any(|label| label.is_empty()))
    {
        return Err(invalid(format!("{raw:?} is not a complete host name")));
    }
    let mut origin = format!("{}://{}", url.scheme(), host);
    if let Some(port) = url.port() {
        origin.push_str(&format!(":{port}"));
    }
    Ok(origin)
}

fn is_bare_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Checks a mirror scope: 1–50 entries of table names, project keys or view ids.
pub fn validate_mirror_scope(scope: &[String]) -> Result<Vec<String>, ConnectionInputError> {
    if scope.is_empty() || scope.len() > 50 {
        return Err(invalid(
            "choose 1 to 50 tables, projects or views to mirror",
        ));
    }
    let mut out = Vec::with_capacity(scope.len());
    for s in scope {
        let s = s.trim();
        let ok = !s.is_empty()
            && s.len() <= 80
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '*' | '.'));
        if !ok {
            return Err(invalid(format!(
                "{s:?} is not a table, project key or view id (letters, digits, '_', '-', '.')"
            )));
        }
        if !out.iter().any(|x: &String| x == s) {
            out.push(s.to_owned());
        }
    }
    Ok(out)
}

/// The most Confluence spaces one connection's knowledge base pulls.
pub const MAX_KB_SPACES: usize = 20;

/// Checks the Confluence space keys that back a Jira Service Management connection's knowledge
/// base: at most [`MAX_KB_SPACES`] keys of letters and digits (`KB`, `ITHELP`), or a personal
/// space's `~` followed by letters, digits, `-`, `_` or `:` (`~557058:ab12`). Duplicates are
/// dropped; order is kept. An empty list turns the knowledge-base pull off.
pub fn validate_kb_spaces(
    vendor: Vendor,
    keys: &[String],
) -> Result<Vec<String>, ConnectionInputError> {
    let mut out: Vec<String> = Vec::with_capacity(keys.len());
    for k in keys {
        let k = k.trim();
        let (personal, rest) = match k.strip_prefix('~') {
            Some(r) => (true, r),
            None => (false, k),
        };
        let ok = !rest.is_empty()
            && k.len() <= 255
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || (personal && matches!(c, '-' | '_' | ':')));
        if !ok {
            return Err(invalid(format!(
                "{k:?} is not a Confluence space key (letters and digits, e.g. KB; a personal space starts with ~)"
            )));
        }
        if !out.iter().any(|x| x == k) {
            out.push(k.to_owned());
        }
    }
    if !out.is_empty() && vendor != Vendor::Jira {
        return Err(invalid(format!(
            "only Jira Service Management connections pull a Confluence knowledge base; {} has its own",
            vendor.label()
        )));
    }
    if out.len() > MAX_KB_SPACES {
        return Err(invalid(format!(
            "at most {MAX_KB_SPACES} Confluence spaces per connection"
        )));
    }
    Ok(out)
}

/// Checks a new connection and fills in defaults; the result is ready to store.
pub fn validate_new(new: &NewConnection) -> Result<ValidConnection, ConnectionInputError> {
    let name = validate_name(&new.name)?;
    let base_url = normalize_instance_url(new.vendor, &new.instance)?;
    if !new.vendor.supports(new.auth_method) {
        return Err(invalid(match (new.vendor, new.auth_method) {
            (Vendor::Jira, AuthMethod::OAuth) => {
                "Jira Cloud OAuth needs a client secret that a desktop app cannot keep: sign in with your email and an API token (basic)".to_owned()
            }
            (Vendor::Zendesk, AuthMethod::Basic) => {
                "Zendesk API tokens and passwords stop working on 2027-04-30: sign in with OAuth".to_owned()
            }
            (v, m) => format!("{} does not support {} sign-in", v.label(), m.as_str()),
        }));
    }
    let clean = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let username = clean(&new.username);
    let oauth_client_id = clean(&new.oauth_client_id);
    match new.auth_method {
        AuthMethod::Basic => {
            let Some(u) = &username else {
                return Err(invalid(if new.vendor == Vendor::Jira {
                    "enter the email address of your Atlassian account"
                } else {
                    "enter the user name to sign in with"
                }));
            };
            if u.chars().count() > 200 || u.chars().any(char::is_control) {
                return Err(invalid(
                    "the user name is too long or has control characters",
                ));
            }
            if new.vendor == Vendor::Jira && !u.contains('@') {
                return Err(invalid(
                    "Jira Cloud signs in with your account email address",
                ));
            }
        }
        AuthMethod::OAuth => {
            let Some(c) = &oauth_client_id else {
                return Err(invalid(
                    "enter the OAuth client id registered for Casebook on the instance",
                ));
            };
            if c.len() > 200 || !c.chars().all(|ch| ch.is_ascii_graphic()) {
                return Err(invalid(
                    "the OAuth client id must be printable ASCII without spaces",
                ));
            }
        }
    }
    let mirror_scope = match &new.mirror_scope {
        Some(s) => validate_mirror_scope(s)?,
        None => new.vendor.default_mirror_scope(),
    };
    Ok(ValidConnection {
        vendor: new.vendor,
        name,
        base_url,
        auth_method: new.auth_method,
        username: if new.auth_method == AuthMethod::Basic {
            username
        } else {
            None
        },
        oauth_client_id: if new.auth_method == AuthMethod::OAuth {
            oauth_client_id
        } else {
            None
        },
        mirror_scope,
    })
}

/// A checked [`NewConnection`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidConnection {
    pub vendor: Vendor,
    pub name: String,
    pub base_url: String,
    pub auth_method: AuthMethod,
    pub username: Option<String>,
    pub oauth_client_id: Option<String>,
    pub mirror_scope: Vec<String>,
}

/// The keyring names of a connection's secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// Basic auth: the password (ServiceNow) or API token (Jira).
    Password,
    /// OAuth: the access and refresh tokens with their expiry, stored as one entry so that a
    /// rotated refresh token and its access token are replaced together.
    OAuthTokens,
}

/// The name of a connection's secret relative to a workspace. Used on its own it is the
/// pre-namespacing (legacy) keyring name, shared by every workspace of the app: the app reads and
/// writes [`workspace_secret_name`] only, and never uses a legacy entry (see docs/security.md).
pub fn secret_name(connection_id: i64, kind: SecretKind) -> String {
    match kind {
        SecretKind::Password => format!("connection/{connection_id}/password"),
        SecretKind::OAuthTokens => format!("connection/{connection_id}/oauth"),
    }
}

/// The keyring name of a connection's secret in one workspace:
/// `workspace/<workspace id>/connection/<id>/<kind>`. Connection ids restart at 1 in every
/// workspace, so without the workspace two workspaces would read each other's secrets.
pub fn workspace_secret_name(workspace_id: &str, connection_id: i64, kind: SecretKind) -> String {
    format!(
        "workspace/{workspace_id}/{}",
        secret_name(connection_id, kind)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kb_space_keys_are_checked_and_deduplicated() {
        let keys = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            validate_kb_spaces(
                Vendor::Jira,
                &keys(&[" KB ", "ITHELP", "KB", "~557058:ab-12_c"])
            )
            .unwrap(),
            keys(&["KB", "ITHELP", "~557058:ab-12_c"])
        );
        assert_eq!(
            validate_kb_spaces(Vendor::Jira, &[]).unwrap(),
            Vec::<String>::new()
        );
        for bad in ["", "K B", "KB/../x", "~", "KB-1", "kb?x=1"] {
            let e = validate_kb_spaces(Vendor::Jira, &keys(&[bad])).unwrap_err();
            assert!(e.0.contains("Confluence space key"), "{bad}: {e}");
        }
        let many: Vec<String> = (0..=MAX_KB_SPACES).map(|n| format!("S{n}")).collect();
        assert!(validate_kb_spaces(Vendor::Jira, &many).is_err());
        let e = validate_kb_spaces(Vendor::Zendesk, &keys(&["KB"])).unwrap_err();
        assert!(e.0.contains("only Jira"), "{e}");
        // Clearing is allowed for every vendor.
        assert!(validate_kb_spaces(Vendor::ServiceNow, &[]).is_ok());
    }

    #[test]
    fn instance_addresses_are_normalized() {
        let cases = [
            (Vendor::Zendesk, "acme", "https://acme.zendesk.com"),
            (Vendor::Zendesk, "ACME", "https://acme.zendesk.com"),
            (
                Vendor::ServiceNow,
                "dev12345",
                "https://dev12345.service-now.com",
            ),
            (
                Vendor::ServiceNow,
                "https://dev1.service-now.com/now/nav/ui",
                "https://dev1.service-now.com",
            ),
            (
                Vendor::ServiceNow,
                "itsm.example.org",
                "https://itsm.example.org",
            ),
            (
                Vendor::Jira,
                "acme.atlassian.net/",
                "https://acme.atlassian.net",
            ),
            (
                Vendor::Jira,
                " https://acme.atlassian.net:443 ",
                "https://acme.atlassian.net",
            ),
            (
                Vendor::Zendesk,
                "http://127.0.0.1:8123",
                "http://127.0.0.1:8123",
            ),
            (Vendor::Zendesk, "http://localhost:9", "http://localhost:9"),
            (Vendor::Zendesk, "http://[::1]:9", "http://[::1]:9"),
        ];
        for (v, input, want) in cases {
            assert_eq!(normalize_instance_url(v, input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn bad_instance_addresses_are_refused_with_a_reason() {
        let cases = [
            ("", "enter the"),
            ("http://acme.zendesk.com", "unencrypted"),
            ("http://10.0.0.1", "unencrypted"),
            ("ftp://acme.zendesk.com", "only https"),
            ("https://user:pw@acme.zendesk.com", "user name or password"),
            ("https://acme.zendesk.com/?x=1", "query"),
            ("acme zendesk", "spaces"),
            ("https://", "not a valid"),
            ("https://acme", "not a complete host"),
            ("https://acme..com", "not a complete host"),
        ];
        for (input, why) in cases {
            let e = normalize_instance_url(Vendor::Zendesk, input).unwrap_err();
            assert!(e.0.contains(why), "{input}: {e}");
        }
    }

    fn new(vendor: Vendor, method: AuthMethod) -> NewConnection {
        NewConnection {
            vendor,
            name: " Acme ".into(),
            instance: "acme".into(),
            auth_method: method,
            username: Some("agent@acme.test".into()),
            oauth_client_id: Some("casebook-desktop".into()),
            mirror_scope: None,
        }
    }

    #[test]
    fn new_connections_get_defaults_and_keep_only_what_their_method_needs() {
        let v = validate_new(&new(Vendor::Zendesk, AuthMethod::OAuth)).unwrap();
        assert_eq!(v.name, "Acme");
        assert_eq!(v.mirror_scope, vec!["tickets"]);
        assert_eq!(v.username, None);
        assert_eq!(v.oauth_client_id.as_deref(), Some("casebook-desktop"));
        let j = validate_new(&new(Vendor::Jira, AuthMethod::Basic)).unwrap();
        assert_eq!(j.oauth_client_id, None);
        assert_eq!(j.base_url, "https://acme.atlassian.net");
        let s = validate_new(&new(Vendor::ServiceNow, AuthMethod::Basic)).unwrap();
        assert_eq!(s.mirror_scope, vec!["incident", "sc_req_item"]);
    }

    #[test]
    fn unsupported_methods_say_what_to_use_instead() {
        let e = validate_new(&new(Vendor::Jira, AuthMethod::OAuth)).unwrap_err();
        assert!(e.0.contains("API token"), "{e}");
        let e = validate_new(&new(Vendor::Zendesk, AuthMethod::Basic)).unwrap_err();
        assert!(e.0.contains("2027-04-30"), "{e}");
        let mut n = new(Vendor::Zendesk, AuthMethod::OAuth);
        n.oauth_client_id = Some("  ".into());
        assert!(validate_new(&n).unwrap_err().0.contains("client id"));
        let mut n = new(Vendor::Jira, AuthMethod::Basic);
        n.username = Some("agent".into());
        assert!(validate_new(&n).unwrap_err().0.contains("email"));
    }

    #[test]
    fn mirror_scope_is_checked_and_deduplicated() {
        let s = validate_mirror_scope(&["incident".into(), " incident ".into(), "problem".into()])
            .unwrap();
        assert_eq!(s, vec!["incident", "problem"]);
        assert!(validate_mirror_scope(&[]).is_err());
        assert!(validate_mirror_scope(&["a b".into()]).is_err());
        assert!(validate_mirror_scope(&["x'; DROP".into()]).is_err());
    }

    #[test]
    fn workspace_secret_names_differ_per_workspace() {
        let a = workspace_secret_name("aa01", 1, SecretKind::Password);
        let b = workspace_secret_name("bb02", 1, SecretKind::Password);
        assert_eq!(a, "workspace/aa01/connection/1/password");
        assert_ne!(a, b);
        assert_ne!(a, secret_name(1, SecretKind::Password));
        assert_eq!(
            workspace_secret_name("aa01", 1, SecretKind::OAuthTokens),
            "workspace/aa01/connection/1/oauth"
        );
    }

    #[test]
    fn secret_names_are_per_connection() {
        assert_eq!(
            secret_name(3, SecretKind::Password),
            "connection/3/password"
        );
        assert_ne!(
            secret_name(3, SecretKind::OAuthTokens),
            secret_name(4, SecretKind::OAuthTokens)
        );
    }
}
