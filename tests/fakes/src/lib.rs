//! Fake upstream ITSMs for the sync tests: small HTTP/1.1 servers on 127.0.0.1 that behave like
//! the real APIs (paths, pagination, timestamps and their precision, concurrency control, error
//! bodies, rate limits), with a shared [`faults::FaultPlan`] that makes any matching request fail
//! the way networks and upstreams fail, and a [`server::RequestLog`] of everything received.
//!
//! Each vendor fake (`servicenow`, `jira` — whose site also serves its `confluence` — and
//! `zendesk`) has `start().await` returning a handle with `base_url()`, ways to seed/edit/delete
//! records "as another agent", read-back helpers for assertions (e.g. how many comments carry a
//! marker), its fault plan and its request log.

pub mod confluence;
pub mod faults;
pub mod jira;
pub mod server;
pub mod servicenow;
pub mod servicenow_sla;
pub mod zendesk;
pub mod zendesk_sla;

pub use faults::{Fault, FaultPlan, FaultRule};
pub use server::{Handler, LoggedRequest, Request, RequestLog, Response, ServerHandle};
