//! Casebook's core: the ticket model, the SQLite store with its event log and outbox, importers
//! and Markdown rendering. No UI, no network, no async: everything here is plain, testable Rust.

pub mod clock;
pub mod connection;
pub mod import;
pub mod macros;
pub mod markdown;
pub mod model;
pub mod reports;
pub mod secrets;
pub mod sla;
pub mod store;

pub use clock::{Clock, FixedClock, SystemClock};
pub use store::{OpenMode, Store, StoreError};
