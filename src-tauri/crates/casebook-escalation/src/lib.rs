//! Escalation packages: everything that happens on the machine before a Tier-3 hand-off leaves
//! it — redaction of secrets and personal data, log analysis, the package model with its
//! completeness check, and the exports (Markdown, self-contained HTML, zip bundle).
//!
//! Nothing here talks to the network: pushing a package to Jira goes through the sync crate's
//! connector and the outbox.

pub mod bench;
pub mod drafts;
pub mod export;
pub mod logs;
pub mod package;
pub mod redact;
pub mod similar;
