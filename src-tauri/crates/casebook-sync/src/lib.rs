//! Casebook's link to the upstream ITSMs: connection profiles, sign-in and (later) sync.
