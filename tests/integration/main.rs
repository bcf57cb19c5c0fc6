//! Integration tests: the façade driven end to end, as the shell and the CLI drive it, with
//! workspaces in temporary folders (never the user's data directory).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod connections;
mod escalation_jira;
mod facade;
mod fake_oauth;
mod kb;
mod kb_view;
mod kill;
mod sla_upstream;
mod support;
mod sync_comment_markers;
mod sync_exactly_once;
mod sync_jira;
mod sync_jira_kb;
mod sync_longrun;
mod sync_people;
mod sync_servicenow;
mod sync_servicenow_refs;
mod sync_zendesk;

use casebook_api::{Casebook, OpenOptions};
use casebook_core::FixedClock;
use casebook_core::store::Origin;
use std::path::Path;
use std::sync::Arc;

/// 2024-03-01 09:00 UTC.
pub const T0: i64 = 1_709_283_600_000;

pub async fn open_at(home: &Path, origin: Origin, clock: Arc<FixedClock>) -> Casebook {
    let mut opts = OpenOptions::for_tests(home, origin);
    opts.clock = clock;
    Casebook::open(opts).await.expect("workspace opens")
}
