//! The canonical ticket model, general enough for ServiceNow incidents, Jira Service Management
//! requests and Zendesk tickets. Upstream-specific values are kept raw beside the normalized ones so
//! nothing an upstream said is lost in mapping.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Milliseconds since the Unix epoch, UTC. Every stored time uses this unit.
pub type Millis = i64;

/// Local row id of a ticket. Stable for the life of the workspace.
pub type TicketId = i64;

/// The source a ticket comes from: `local` (created here or imported from a file) or the id of an
/// upstream connection (added by the connections work).
pub const LOCAL_SOURCE: &str = "local";

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownValue { kind: stringify!($name), value: other.to_owned() }),
                }
            }
        }
    };
}

/// A value that is not one of an enum's spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{value}'")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

string_enum! {
    /// Normalized lifecycle state. The raw upstream state is stored beside it.
    TicketState {
        New => "new",
        Open => "open",
        Pending => "pending",
        OnHold => "on_hold",
        Resolved => "resolved",
        Closed => "closed",
    }
}

impl TicketState {
    /// Resolved and closed tickets are "done": they leave the working queue and become past cases.
    pub fn is_done(self) -> bool {
        matches!(self, TicketState::Resolved | TicketState::Closed)
    }

    /// Best-effort mapping of an upstream's state label (ServiceNow, Jira, Zendesk spellings).
    pub fn from_upstream_label(label: &str) -> Option<TicketState> {
        let l = label.trim().to_ascii_lowercase();
        let l = l.as_str();
        Some(match l {
            "new" | "1" | "open - new" | "to do" | "waiting for support" => TicketState::New,
            "open" | "active" | "in progress" | "work in progress" | "2" | "assigned" => {
                TicketState::Open
            }
            "pending"
            | "awaiting user info"
            | "awaiting evidence"
            | "waiting for customer"
            | "awaiting customer" => TicketState::Pending,
            "on hold" | "on_hold" | "hold" | "3" | "awaiting vendor" | "awaiting problem"
            | "awaiting change" | "escalated" => TicketState::OnHold,
            "resolved" | "solved" | "6" | "done" => TicketState::Resolved,
            "closed" | "7" | "8" | "canceled" | "cancelled" => TicketState::Closed,
            _ => return None,
        })
    }
}

string_enum! {
    /// Normalized priority / severity. ServiceNow 1–5, Jira Highest…Lowest and Zendesk
    /// urgent…low all map here; the raw value is stored beside it.
    Priority {
        Critical => "critical",
        High => "high",
        Medium => "medium",
        Low => "low",
    }
}

impl Priority {
    /// Sort rank: lower is more urgent. Stored in the database so sorting uses an index.
    pub fn rank(self) -> i64 {
        match self {
            Priority::Critical => 1,
            Priority::High => 2,
            Priority::Medium => 3,
            Priority::Low => 4,
        }
    }

    pub fn from_rank(rank: i64) -> Option<Priority> {
        Some(match rank {
            1 => Priority::Critical,
            2 => Priority::High,
            3 => Priority::Medium,
            4 => Priority::Low,
            _ => return None,
        })
    }

    pub fn from_upstream_label(label: &str) -> Option<Priority> {
        let l = label.trim().to_ascii_lowercase();
        let head = l.split([' ', '-']).next().unwrap_or("");
        Some(match (l.as_str(), head) {
            (_, "1") | ("critical" | "urgent" | "highest" | "blocker" | "sev1", _) => {
                Priority::Critical
            }
            (_, "2") | ("high" | "major" | "sev2", _) => Priority::High,
            (_, "3") | ("medium" | "normal" | "moderate" | "sev3", _) => Priority::Medium,
            (_, "4" | "5") | ("low" | "lowest" | "minor" | "trivial" | "planning" | "sev4", _) => {
                Priority::Low
            }
            _ => return None,
        })
    }
}

string_enum! {
    /// Who may see a comment: a public reply goes to the requester, an internal work note does not.
    Visibility {
        Public => "public",
        Internal => "internal",
    }
}

string_enum! {
    /// How two tickets (or a ticket and a known issue) relate.
    LinkKind {
        DuplicateOf => "duplicate_of",
        Related => "related",
        Problem => "problem",
        KnownIssue => "known_issue",
    }
}

/// A ticket as stored, without its comments, links and attachments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: TicketId,
    /// Display key: the upstream key (`INC0010001`, `SUP-42`, `#1234`) or a local `CB-n`.
    pub key: String,
    pub source: String,
    pub upstream_id: Option<String>,
    pub title: String,
    pub description: String,
    pub state: TicketState,
    pub state_raw: Option<String>,
    pub priority: Priority,
    pub priority_raw: Option<String>,
    pub assignee: Option<String>,
    pub assignment_group: Option<String>,
    pub requester: Option<String>,
    pub organization: Option<String>,
    pub tags: Vec<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub first_response_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
    /// Upstream-specific fields, kept verbatim (a JSON object).
    pub extra: serde_json::Value,
    /// Local revision, bumped by every change; edits name the revision they were made on so two
    /// writers (the app and the CLI) never silently overwrite each other.
    pub revision: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub id: i64,
    pub ticket_id: TicketId,
    pub visibility: Visibility,
    pub author: String,
    pub body: String,
    pub created_at: Millis,
    pub upstream_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub id: i64,
    pub ticket_id: TicketId,
    pub kind: LinkKind,
    /// A ticket key, an upstream problem/known-error number or a URL.
    pub target: String,
    pub title: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: i64,
    pub ticket_id: TicketId,
    pub file_name: String,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub upstream_id: Option<String>,
    pub created_at: Millis,
}

/// A ticket to be created (locally or by import).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTicket {
    /// `None` lets the store assign the next local `CB-n` key.
    pub key: Option<String>,
    pub source: String,
    pub upstream_id: Option<String>,
    pub title: String,
    pub description: String,
    pub state: TicketState,
    pub state_raw: Option<String>,
    pub priority: Priority,
    pub priority_raw: Option<String>,
    pub assignee: Option<String>,
    pub assignment_group: Option<String>,
    pub requester: Option<String>,
    pub organization: Option<String>,
    pub tags: Vec<String>,
    pub created_at: Option<Millis>,
    pub updated_at: Option<Millis>,
    pub first_response_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
    pub extra: serde_json::Value,
}

impl NewTicket {
    /// A local ticket with just a title; everything else at its default.
    pub fn local(title: impl Into<String>) -> NewTicket {
        NewTicket {
            key: None,
            source: LOCAL_SOURCE.to_owned(),
            upstream_id: None,
            title: title.into(),
            description: String::new(),
            state: TicketState::New,
            state_raw: None,
            priority: Priority::Medium,
            priority_raw: None,
            assignee: None,
            assignment_group: None,
            requester: None,
            organization: None,
            tags: Vec::new(),
            created_at: None,
            updated_at: None,
            first_response_at: None,
            resolved_at: None,
            extra: serde_json::Value::Object(Default::default()),
        }
    }
}

/// A change to a ticket's editable fields. `None` leaves a field alone; `Some(None)` clears an
/// optional field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TicketPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub state: Option<TicketState>,
    pub priority: Option<Priority>,
    pub assignee: Option<Option<String>>,
    pub assignment_group: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
}

/// Normalizes a tag: trimmed, lower-case, inner whitespace turned into `-`. Empty tags are dropped.
pub fn normalize_tag(tag: &str) -> Option<String> {
    let t: String = tag
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
        .to_lowercase();
    (!t.is_empty()).then_some(t)
}

/// Normalizes, deduplicates and sorts a tag list.
pub fn normalize_tags<I, S>(tags: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out: Vec<String> = tags
        .into_iter()
        .filter_map(|t| normalize_tag(t.as_ref()))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_their_spelling() {
        for s in TicketState::ALL {
            assert_eq!(s.as_str().parse::<TicketState>().unwrap(), *s);
        }
        for p in Priority::ALL {
            assert_eq!(p.as_str().parse::<Priority>().unwrap(), *p);
            assert_eq!(Priority::from_rank(p.rank()), Some(*p));
        }
        let err = "urgent".parse::<TicketState>().unwrap_err();
        assert_eq!(err.to_string(), "unknown TicketState 'urgent'");
    }

    #[test]
    fn upstream_labels_map_to_normalized_values() {
        assert_eq!(
            TicketState::from_upstream_label("Awaiting User Info"),
            Some(TicketState::Pending)
        );
        assert_eq!(
            TicketState::from_upstream_label("Active"),
            Some(TicketState::Open)
        );
        assert_eq!(
            TicketState::from_upstream_label("Awaiting Vendor"),
            Some(TicketState::OnHold)
        );
        assert_eq!(
            TicketState::from_upstream_label("solved"),
            Some(TicketState::Resolved)
        );
        assert_eq!(TicketState::from_upstream_label("-100"), None);
        assert_eq!(
            Priority::from_upstream_label("1 - Critical"),
            Some(Priority::Critical)
        );
        assert_eq!(Priority::from_upstream_label("3"), Some(Priority::Medium));
        assert_eq!(
            Priority::from_upstream_label("5 - Planning"),
            Some(Priority::Low)
        );
        assert_eq!(
            Priority::from_upstream_label("Highest"),
            Some(Priority::Critical)
        );
        assert_eq!(
            Priority::from_upstream_label("urgent"),
            Some(Priority::Critical)
        );
        assert_eq!(Priority::from_upstream_label("whenever"), None);
    }

    #[test]
    fn tags_are_normalized_sorted_and_unique() {
        assert_eq!(
            normalize_tags(["  VPN ", "vpn", "Access Request", "", "b"]),
            vec!["access-request", "b", "vpn"]
        );
    }
}
