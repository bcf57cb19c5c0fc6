//! The fake ServiceNow Table API. Owned by engineer S1 (issue 5): this placeholder only reserves
//! the module so the crate layout is fixed; S1 fills it in on top of `crate::server` and
//! `crate::faults`.
