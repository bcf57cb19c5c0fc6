//! Escalation packages pushed to an engineering tracker (issue 6, "Push to Jira").
//!
//! The façade redacts the package and queues one outbox operation of kind
//! [`casebook_core::store::ESCALATION_OP`] whose payload is an [`EscalationPayload`]: nothing in
//! it is unredacted. The engine ([`crate::engine`]) creates the issue with the operation's marker
//! (looked up first after any earlier attempt), uploads each attachment unless the issue already
//! has a file of that name, then records the link on the source ticket.

use serde::{Deserialize, Serialize};

/// The label every escalation issue carries (besides its marker label).
pub const ESCALATION_LABEL: &str = "casebook-escalation";

/// One redacted log extract, uploaded as a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationAttachment {
    pub file_name: String,
    /// Redacted text.
    pub text: String,
}

/// The outbox payload of an escalation push (already redacted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationPayload {
    pub escalation_id: i64,
    /// The engineering project key (`ENG`).
    pub project: String,
    /// The issue type name (`Bug`).
    pub issue_type: String,
    pub summary: String,
    /// The package as Markdown (redacted); the connector converts it to the tracker's format.
    pub description_md: String,
    pub labels: Vec<String>,
    pub attachments: Vec<EscalationAttachment>,
}

/// An issue to create in an engineering project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEscalationIssue {
    pub project: String,
    pub issue_type: String,
    pub summary: String,
    pub description_md: String,
    pub labels: Vec<String>,
    /// Unique per outbox operation; findable through
    /// [`crate::connector::Connector::find_escalation`].
    pub marker: String,
}

/// An issue created (or found) in an engineering project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationIssue {
    pub id: String,
    pub key: String,
    /// The issue in the tracker's UI.
    pub url: String,
}
