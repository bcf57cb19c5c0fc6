//! `casebook kb`, `casebook search` and `casebook eval`, run as a user runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};

mod support;
use support::{code, json, run};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../tests/fixtures/kb")
}

#[test]
fn kb_add_list_search_and_reindex() {
    let home = tempfile::tempdir().unwrap();
    let books = fixtures().join("runbooks-prometheus-operator");
    let o = run(
        home.path(),
        &["--json", "kb", "add", books.to_str().unwrap()],
    );
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let r = json(&o);
    assert!(r["filesIndexed"].as_u64().unwrap() > 100, "{r}");
    assert!(r["skipped"].as_array().unwrap().is_empty());

    let o = run(home.path(), &["--json", "kb", "list"]);
    let list = json(&o);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["available"], true);

    let o = run(home.path(), &["--json", "search", "KubePodCrashLooping"]);
    assert_eq!(code(&o), 0);
    let r = json(&o);
    assert_eq!(
        r["hits"][0]["path"],
        "content/runbooks/kubernetes/KubePodCrashLooping.md"
    );
    assert_eq!(r["state"], "ready");
    // Text output marks the matches.
    let o = run(home.path(), &["search", "etcd no leader"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("etcdNoLeader.md"), "{text}");
    assert!(text.contains('['), "{text}");
    // Stop words only: no error, nothing to search for.
    let o = run(home.path(), &["--json", "search", "the of and"]);
    assert_eq!(code(&o), 0);
    assert_eq!(json(&o)["emptyQuery"], true);
    // A filter with no documents.
    let o = run(
        home.path(),
        &[
            "--json",
            "search",
            "KubePodCrashLooping",
            "--source",
            "case",
        ],
    );
    assert!(json(&o)["hits"].as_array().unwrap().is_empty());

    let o = run(home.path(), &["--json", "kb", "reindex"]);
    let r = json(&o);
    assert_eq!(r["filesIndexed"], 0, "{r}");
    assert!(r["filesUnchanged"].as_u64().unwrap() > 100);
}

#[test]
fn bad_input_has_clear_errors_and_exit_codes() {
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("no-such-folder");
    let o = run(home.path(), &["kb", "add", missing.to_str().unwrap()]);
    assert_eq!(code(&o), 3);
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot open the folder"));
    let o = run(home.path(), &["eval", missing.to_str().unwrap()]);
    assert_eq!(code(&o), 4);
    let bad = home.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"query\": \"x\"}\n").unwrap();
    let o = run(home.path(), &["eval", bad.to_str().unwrap()]);
    assert_eq!(code(&o), 4);
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 1"));
}

#[test]
fn eval_beats_the_fts5_baseline_on_the_judged_queries() {
    let home = tempfile::tempdir().unwrap();
    let queries = fixtures().join("queries.jsonl");
    let o = run(home.path(), &["--json", "eval", queries.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let r = json(&o);
    let rows = r["results"].as_array().unwrap();
    let get = |name: &str| {
        rows.iter()
            .find(|row| row["system"].as_str().unwrap().starts_with(name))
            .unwrap()
    };
    let cb = get("casebook");
    let fts = get("SQLite FTS5");
    assert!(cb["queries"].as_u64().unwrap() >= 60);
    for m in ["hit_at_1", "mrr_at_10", "recall_at_10"] {
        assert!(
            cb[m].as_f64().unwrap() > fts[m].as_f64().unwrap(),
            "{m}: {cb} vs {fts}"
        );
    }
}
