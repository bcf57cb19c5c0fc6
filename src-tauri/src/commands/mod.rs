//! The IPC commands, one module per feature. Every command is `async` (a synchronous command would
//! run on the main thread and freeze the window), calls the façade and returns its
//! `{code, message}` error unchanged. No SQL or business rule lives here.

pub mod connections;
pub mod escalation;
pub mod kb;
pub mod markdown;
pub mod sla;
pub mod sync;
pub mod tickets;
pub mod views;
pub mod workspace;
