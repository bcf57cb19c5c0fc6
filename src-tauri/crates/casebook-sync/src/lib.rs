//! Casebook's link to the upstream ITSMs: connection profiles, sign-in, connectors and sync.

pub mod auth;
pub mod connector;
pub mod error;
pub mod escalation;
pub mod http;
pub mod jira;
pub mod model;
pub mod probe;
pub mod rest;
pub mod zendesk;
pub mod backoff;
pub mod engine;
pub mod servicenow;
