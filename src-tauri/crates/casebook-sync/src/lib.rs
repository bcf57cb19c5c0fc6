//! Casebook's link to the upstream ITSMs: connection profiles, sign-in and (later) sync.

pub mod auth;
pub mod http;
pub mod probe;
