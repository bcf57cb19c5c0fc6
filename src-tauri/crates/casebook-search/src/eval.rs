//! Judged queries and the metrics the evaluation prints: hit@1, MRR@10 and recall@10.

use serde::{Deserialize, Serialize};

/// One line of a `queries.jsonl` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgedQuery {
    pub query: String,
    /// Relevant runbooks, by path relative to their folder (`alerts/etcd/etcdNoLeader.md`), or
    /// document ids.
    pub relevant: Vec<String>,
    /// What kind of query it is (`alert`, `error`, `symptom`, `typo`, ...), for the breakdown.
    #[serde(default)]
    pub category: String,
}

/// Parses a JSONL file of judged queries; blank lines and `//` comments are skipped.
pub fn parse_jsonl(text: &str) -> Result<Vec<JudgedQuery>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let q: JudgedQuery =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        if q.relevant.is_empty() {
            return Err(format!("line {}: no relevant document", i + 1));
        }
        out.push(q);
    }
    Ok(out)
}

/// Metrics over a set of queries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub queries: usize,
    pub hit_at_1: f64,
    pub mrr_at_10: f64,
    pub recall_at_10: f64,
}

/// Accumulates per-query results.
#[derive(Debug, Default, Clone)]
pub struct MetricsAcc {
    n: usize,
    hit1: f64,
    rr: f64,
    recall: f64,
}

impl MetricsAcc {
    /// `ranked`: the result keys in rank order; `relevant`: the judged keys.
    pub fn add(&mut self, ranked: &[String], relevant: &[String]) {
        self.n += 1;
        let top10 = &ranked[..ranked.len().min(10)];
        if top10.first().is_some_and(|r| relevant.contains(r)) {
            self.hit1 += 1.0;
        }
        if let Some(pos) = top10.iter().position(|r| relevant.contains(r)) {
            self.rr += 1.0 / (pos as f64 + 1.0);
        }
        let found = relevant.iter().filter(|r| top10.contains(r)).count();
        self.recall += found as f64 / relevant.len().max(1) as f64;
    }

    pub fn finish(&self) -> Metrics {
        let n = self.n.max(1) as f64;
        Metrics {
            queries: self.n,
            hit_at_1: self.hit1 / n,
            mrr_at_10: self.rr / n,
            recall_at_10: self.recall / n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_computed_per_definition() {
        let mut m = MetricsAcc::default();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        m.add(&s(&["a", "b"]), &s(&["a"])); // hit, rr 1, recall 1
        m.add(&s(&["x", "b", "c"]), &s(&["c", "z"])); // rr 1/3, recall 1/2
        m.add(&s(&["x"]), &s(&["q"])); // nothing
        let r = m.finish();
        assert_eq!(r.queries, 3);
        assert!((r.hit_at_1 - 1.0 / 3.0).abs() < 1e-9);
        assert!((r.mrr_at_10 - (1.0 + 1.0 / 3.0) / 3.0).abs() < 1e-9);
        assert!((r.recall_at_10 - 0.5).abs() < 1e-9);
    }

    #[test]
    fn jsonl_is_parsed_with_clear_errors() {
        let ok = parse_jsonl("// c\n{\"query\":\"q\",\"relevant\":[\"a.md\"]}\n\n").unwrap();
        assert_eq!(ok.len(), 1);
        assert!(
            parse_jsonl("{\"query\":\"q\",\"relevant\":[]}")
                .unwrap_err()
                .contains("line 1")
        );
        assert!(parse_jsonl("nope").unwrap_err().contains("line 1"));
    }
}
