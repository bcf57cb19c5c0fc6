//! Casebook's link to the upstream ITSMs: connection profiles, sign-in, connectors and sync.

pub mod auth;
pub mod backoff;
pub mod connector;
pub mod engine;
pub mod error;
pub mod escalation;
pub mod http;
pub mod jira;
pub mod model;
pub mod probe;
pub mod rest;
pub mod servicenow;
pub mod zendesk;
