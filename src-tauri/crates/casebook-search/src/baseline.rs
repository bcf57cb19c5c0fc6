//! The named baseline: plain SQLite FTS5 with its built-in BM25, over the same documents, queried
//! with a ranked OR of the query's words (what an app gets from "just use FTS5").

use crate::Result;
use crate::doc::KbDocument;
use rusqlite::{Connection, params};
use std::path::Path;

pub struct Fts5Baseline {
    conn: Connection,
}

/// One baseline result.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineHit {
    pub origin: String,
    pub path: String,
    pub title: String,
}

impl Fts5Baseline {
    /// An FTS5 table in `path` (or in memory with `None`); porter stemming like Casebook's.
    pub fn create(path: Option<&Path>) -> Result<Fts5Baseline> {
        #[allow(clippy::disallowed_methods)] // a scratch benchmark database, not the workspace
        let conn = match path {
            Some(p) => Connection::open(p)?,
            None => Connection::open_in_memory()?,
        };
        conn.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
             CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts5(
                 origin UNINDEXED, path UNINDEXED, title, body,
                 tokenize = 'porter unicode61 remove_diacritics 2');",
        )?;
        Ok(Fts5Baseline { conn })
    }

    /// Adds documents in one transaction.
    pub fn add(&mut self, docs: &[KbDocument]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO docs (origin, path, title, body) VALUES (?, ?, ?, ?)",
            )?;
            for d in docs {
                let mut title = d.title.clone();
                for h in &d.headings {
                    title.push(' ');
                    title.push_str(h);
                }
                st.execute(params![d.origin, d.path, title, d.body])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Ranked OR of the query's words, best first, one result per origin.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<BaselineHit>> {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .take(32)
            .map(|w| format!("\"{}\"", w.to_lowercase()))
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let q = words.join(" OR ");
        let mut st = self.conn.prepare_cached(
            "SELECT origin, path, title FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT ?",
        )?;
        let rows = st.query_map(params![q, (limit * 5) as i64], |r| {
            Ok(BaselineHit {
                origin: r.get(0)?,
                path: r.get(1)?,
                title: r.get(2)?,
            })
        })?;
        let mut out: Vec<BaselineHit> = Vec::new();
        for r in rows {
            let r = r?;
            if !out.iter().any(|o| o.origin == r.origin) {
                out.push(r);
            }
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    /// Bytes of the database (0 in memory).
    pub fn size_bytes(&self) -> u64 {
        self.conn
            .query_row(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::SourceKind;

    #[test]
    fn baseline_ranks_with_bm25_and_collapses_origins() {
        let mut b = Fts5Baseline::create(None).unwrap();
        let mut a = KbDocument::new("a", SourceKind::Runbook, "file:1:a.md", "Disk full");
        a.body = "the disk is full, clean up".into();
        a.path = "a.md".into();
        let mut a2 = a.clone();
        a2.id = "a#x".into();
        a2.kind = SourceKind::RunbookSection;
        let mut c = KbDocument::new("c", SourceKind::Runbook, "file:1:c.md", "Network");
        c.body = "dns resolution fails".into();
        b.add(&[a, a2, c]).unwrap();
        let hits = b.search("disk space", 10).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].path, "a.md");
        assert!(b.search("?!", 10).unwrap().is_empty());
    }
}
