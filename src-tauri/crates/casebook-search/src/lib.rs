//! Casebook's knowledge base: a tantivy index derived from the store and runbook folders.
