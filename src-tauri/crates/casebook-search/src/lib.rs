//! Casebook's knowledge base: a tantivy index derived from the store and runbook folders.
//!
//! - [`doc`]: the one document shape every source maps to (runbooks and their sections, past
//!   cases, upstream KB articles);
//! - [`runbook`]: folder scanning, front matter, sections, rendering;
//! - [`index`]: the index on disk, schema versioning, the single writer thread;
//! - [`query`]: query text → clauses (identifiers never fuzzed);
//! - [`search`]: ranking, filters, snippets, similar cases;
//! - [`baseline`]: the plain SQLite FTS5 BM25 baseline the evaluation and the benchmark compare
//!   against; [`eval`]: hit@1, MRR@10, recall@10.

pub mod baseline;
pub mod doc;
pub mod eval;
pub mod index;
pub mod links;
pub mod query;
pub mod runbook;
pub mod schema;
pub mod search;
pub mod stem;
pub mod synonyms;

pub use doc::{KbArticle, KbDocument, SourceKind};
pub use index::{KbIndex, OpenState, WriteOp};
pub use search::{Filters, Hit, Range, SearchRequest, SearchResults, Snippet};

/// Errors of the knowledge base.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("{what}: {source}")]
    Tantivy {
        what: String,
        #[source]
        source: tantivy::TantivyError,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the knowledge-base index is damaged: {reason}")]
    Corrupt { reason: String },
    #[error("the knowledge base is being updated by another Casebook process; try again shortly")]
    Busy,
    #[error("the index writer stopped unexpectedly")]
    WriterGone,
    #[error("{0}")]
    Invalid(String),
    #[error("baseline: {0}")]
    Baseline(#[from] rusqlite::Error),
}

impl SearchError {
    pub(crate) fn tantivy(what: &'static str) -> impl Fn(tantivy::TantivyError) -> SearchError {
        move |source| SearchError::Tantivy {
            what: what.to_owned(),
            source,
        }
    }
}

pub type Result<T, E = SearchError> = std::result::Result<T, E>;
