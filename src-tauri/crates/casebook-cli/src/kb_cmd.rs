//! `casebook kb …`, `casebook search` and `casebook eval`: the knowledge base from the command
//! line.

use crate::output::Out;
use casebook_api::kb::dto::*;
use casebook_api::{ApiError, Casebook, ErrorCode};
use casebook_core::model::TicketState;
use casebook_search::baseline::Fts5Baseline;
use casebook_search::eval::{self, MetricsAcc};
use casebook_search::index::{KbIndex, WriteOp};
use casebook_search::search::Ranking;
use casebook_search::{Filters, KbDocument, SearchRequest, runbook};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Subcommand)]
pub enum KbCmd {
    /// Add a folder of Markdown runbooks (searched recursively) and index it.
    Add { dir: PathBuf },
    /// List the runbook folders, with the files the last scan skipped.
    List,
    /// Remove a runbook folder (by id, see `kb list`) from the knowledge base.
    Remove { id: i64 },
    /// Rescan the folders and the past cases; changed files only, unless --full.
    Reindex {
        /// Empty the index and index everything again.
        #[arg(long)]
        full: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SourceArg {
    Runbook,
    Case,
    Article,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query: words, "quoted phrases", alert names, error strings.
    pub query: String,
    /// Only these sources (repeatable).
    #[arg(long, value_enum)]
    pub source: Vec<SourceArg>,
    #[arg(long)]
    pub tag: Vec<String>,
    #[arg(long)]
    pub service: Vec<String>,
    /// Past cases in these states (resolved, closed).
    #[arg(long)]
    pub state: Vec<String>,
    #[arg(long, default_value_t = 10)]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Judged queries, one JSON object per line: {"query", "relevant": [paths], "category"}.
    pub queries: PathBuf,
    /// Folder of runbooks the relevant paths are relative to (default: the in-repo fixtures,
    /// tests/fixtures/kb).
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// Also print the per-query ranks of the misses.
    #[arg(long)]
    pub verbose: bool,
    /// Try other ranking parameters for the first row (`title=3,headings=1.5,names=3,body=1,
    /// coord=2,whole=1,synonyms=0.5,fuzzy=1`): for tuning, reported as in docs/search.md.
    #[arg(long, value_name = "K=V,...")]
    pub ranking: Option<String>,
    /// Try another synonym list (the format of casebook-search/data/ops-synonyms.txt) instead of
    /// the shipped one: for tuning.
    #[arg(long, value_name = "FILE")]
    pub synonyms: Option<PathBuf>,
}

fn parse_ranking(spec: &str) -> Result<Ranking, ApiError> {
    let mut r = Ranking::default();
    for kv in spec.split(',').filter(|s| !s.trim().is_empty()) {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| ApiError::invalid(format!("--ranking: expected k=v, got '{kv}'")))?;
        let v: f32 = v
            .trim()
            .parse()
            .map_err(|_| ApiError::invalid(format!("--ranking: '{v}' is not a number")))?;
        match k.trim() {
            "title" => r.title = v,
            "headings" => r.headings = v,
            "names" => r.names = v,
            "body" => r.body = v,
            "coord" => r.coord_power = v,
            "whole" => r.whole_doc = v,
            "fuzzy" => r.fuzzy = v != 0.0,
            "synonyms" => r.synonyms = v,
            other => {
                return Err(ApiError::invalid(format!(
                    "--ranking: unknown key '{other}'"
                )));
            }
        }
    }
    Ok(r)
}

pub async fn kb(cmd: KbCmd, cb: &Casebook, out: &Out) -> Result<u8, ApiError> {
    match cmd {
        KbCmd::Add { dir } => {
            let bar = bar(out);
            let b = bar.clone();
            let report = cb
                .kb_add_folder(dir.display().to_string(), move |p| progress(&b, &p))
                .await?;
            bar.finish_and_clear();
            print_report(out, &report);
        }
        KbCmd::List => {
            let sources = cb.kb_list_sources().await?;
            if out.json {
                print_json(&sources);
            } else if sources.is_empty() {
                println!("no runbook folders (add one with `casebook kb add <dir>`)");
            } else {
                for s in &sources {
                    println!(
                        "{:>4}  {}{}  ({} files, {} skipped)",
                        s.id,
                        s.path,
                        if s.available { "" } else { "  [missing]" },
                        s.files_seen,
                        s.skipped.len()
                    );
                    for k in &s.skipped {
                        println!("        skipped {}: {}", k.path, k.reason);
                    }
                }
            }
        }
        KbCmd::Remove { id } => {
            cb.kb_remove_folder(id).await?;
            if out.json {
                print_json(&serde_json::json!({ "removed": id }));
            } else {
                println!("removed folder {id}");
            }
        }
        KbCmd::Reindex { full } => {
            let bar = bar(out);
            let b = bar.clone();
            let report = cb.kb_reindex(full, move |p| progress(&b, &p)).await?;
            bar.finish_and_clear();
            print_report(out, &report);
        }
    }
    Ok(0)
}

pub async fn search(a: SearchArgs, cb: &Casebook, out: &Out) -> Result<u8, ApiError> {
    let mut states = Vec::new();
    for s in &a.state {
        states.push(
            s.parse::<TicketState>()
                .map_err(|e| ApiError::invalid(e.to_string()))?,
        );
    }
    let res = cb
        .kb_search(KbSearchInput {
            query: a.query,
            filters: KbFilters {
                kinds: a
                    .source
                    .iter()
                    .map(|s| match s {
                        SourceArg::Runbook => KbSourceKind::Runbook,
                        SourceArg::Case => KbSourceKind::PastCase,
                        SourceArg::Article => KbSourceKind::KbArticle,
                    })
                    .collect(),
                tags: a.tag,
                services: a.service,
                ticket_states: states,
            },
            limit: Some(a.limit),
        })
        .await?;
    if out.json {
        print_json(&res);
        return Ok(0);
    }
    if res.state == KbIndexState::Rebuilding {
        println!("(the index is being rebuilt: results may be incomplete)");
    }
    if res.empty_query {
        println!("nothing to search for (only stop words or punctuation)");
    } else if res.hits.is_empty() {
        println!("no results");
    }
    for (i, h) in res.hits.iter().enumerate() {
        let what = match h.kind {
            KbSourceKind::PastCase => format!("case {}", h.ticket_key.clone().unwrap_or_default()),
            KbSourceKind::KbArticle => "article".into(),
            _ => "runbook".into(),
        };
        println!("{:>2}. {}  [{}]", i + 1, h.title, what);
        if !h.path.is_empty() {
            match &h.section {
                Some(s) => println!("    {} § {}", h.path, s.title),
                None => println!("    {}", h.path),
            }
        }
        if !h.snippet.text.is_empty() {
            println!("    {}", with_brackets(&h.snippet.text, &h.snippet.ranges));
        }
    }
    Ok(0)
}

/// Marks highlighted ranges with [brackets] for the terminal.
fn with_brackets(text: &str, ranges: &[KbRange]) -> String {
    let units: Vec<u16> = text.encode_utf16().collect();
    let mut out = String::new();
    let mut pos = 0usize;
    for r in ranges {
        let (s, e) = (r.start as usize, r.end as usize);
        if s < pos || e > units.len() {
            continue;
        }
        out.push_str(&String::from_utf16_lossy(&units[pos..s]));
        out.push('[');
        out.push_str(&String::from_utf16_lossy(&units[s..e]));
        out.push(']');
        pos = e;
    }
    out.push_str(&String::from_utf16_lossy(&units[pos..]));
    out
}

fn print_json<T: Serialize>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot serialize the output: {e}"),
    }
}

fn print_report(out: &Out, r: &KbScanReport) {
    if out.json {
        print_json(r);
        return;
    }
    println!(
        "{} files: {} indexed, {} unchanged, {} removed, {} skipped; {} past cases indexed, {} removed; {} documents ({} ms)",
        r.files_seen,
        r.files_indexed,
        r.files_unchanged,
        r.files_removed,
        r.skipped.len(),
        r.cases_indexed,
        r.cases_removed,
        r.documents,
        r.elapsed_ms
    );
    for s in &r.skipped {
        println!("  skipped {}: {}", s.path, s.reason);
    }
}

fn bar(out: &Out) -> ProgressBar {
    let bar = if out.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

fn progress(bar: &ProgressBar, p: &casebook_api::dto::Progress) {
    bar.set_message(p.stage.clone());
    if let Some(t) = p.total {
        bar.set_length(t);
    }
    bar.set_position(p.done);
}

fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::Internal, format!("{what}: {e}"))
}

/// The in-repo fixtures folder, found from the working directory or the source tree.
pub fn default_corpus() -> Option<PathBuf> {
    let candidates = [
        PathBuf::from("tests/fixtures/kb"),
        PathBuf::from("../tests/fixtures/kb"),
        PathBuf::from("../../tests/fixtures/kb"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../tests/fixtures/kb"),
    ];
    candidates.into_iter().find(|p| p.is_dir())
}

/// Reads a folder of runbooks into documents (the same mapping the app uses), with the files
/// skipped.
pub fn load_runbooks(root: &Path) -> Result<(Vec<Vec<KbDocument>>, usize), ApiError> {
    let (files, skipped) = runbook::list_markdown(root)
        .map_err(|e| ApiError::invalid(format!("cannot read {}: {e}", root.display())))?;
    let mut out = Vec::with_capacity(files.len());
    let mut n_skipped = skipped.len();
    for f in files {
        let Ok(text) = runbook::read_text(&f.full_path, f.size) else {
            n_skipped += 1;
            continue;
        };
        let stem = Path::new(&f.rel_path)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("");
        let parsed = runbook::parse(&text, stem);
        out.push(runbook::documents(
            1,
            &f.rel_path,
            &f.full_path,
            &parsed,
            runbook::fingerprint(text.as_bytes()),
            f.mtime_ms,
        ));
    }
    Ok((out, n_skipped))
}

#[derive(Debug, Serialize)]
struct EvalRow {
    system: String,
    queries: usize,
    hit_at_1: f64,
    mrr_at_10: f64,
    recall_at_10: f64,
}

/// `casebook eval`: Casebook's ranking (and the variants that show what each choice adds) vs
/// plain SQLite FTS5 BM25 over the same documents.
pub fn eval(a: EvalArgs, out: &Out) -> Result<u8, ApiError> {
    let text = std::fs::read_to_string(&a.queries)
        .map_err(|e| ApiError::invalid(format!("cannot read {}: {e}", a.queries.display())))?;
    let queries = eval::parse_jsonl(&text)
        .map_err(|e| ApiError::invalid(format!("{}: {e}", a.queries.display())))?;
    if let Some(path) = &a.synonyms {
        let list = std::fs::read_to_string(path)
            .map_err(|e| ApiError::invalid(format!("cannot read {}: {e}", path.display())))?;
        let n = casebook_search::synonyms::use_list(&list).map_err(ApiError::invalid)?;
        eprintln!("synonyms: {n} groups from {}", path.display());
    }
    let corpus = match a.corpus.clone().or_else(default_corpus) {
        Some(c) if c.is_dir() => c,
        _ => {
            eprintln!(
                "skipped: no runbook corpus (pass --corpus DIR; the in-repo fixtures are tests/fixtures/kb)"
            );
            return Ok(0);
        }
    };
    let (files, skipped) = load_runbooks(&corpus)?;
    let n_files = files.len();
    let dir = tempfile::tempdir().map_err(|e| internal("creating a scratch folder", e))?;
    let (index, _) = KbIndex::open(dir.path())?;
    let mut baseline = Fts5Baseline::create(None).map_err(|e| internal("baseline", e))?;
    let mut ops = Vec::with_capacity(files.len());
    let mut n_docs = 0;
    for docs in files {
        baseline.add(&docs).map_err(|e| internal("baseline", e))?;
        n_docs += docs.len();
        ops.push(WriteOp::Replace {
            origin: docs[0].origin.clone(),
            docs,
        });
    }
    index.apply(ops)?;
    // Queries name files by path; the same file must exist in the corpus.
    let missing: Vec<&String> = queries
        .iter()
        .flat_map(|q| &q.relevant)
        .filter(|p| !corpus.join(p).is_file())
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::invalid(format!(
            "{} relevant paths are not in {}: {}",
            missing.len(),
            corpus.display(),
            missing
                .iter()
                .take(5)
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let variants: Vec<(&str, Ranking)> = vec![
        (
            "casebook",
            match &a.ranking {
                Some(spec) => parse_ranking(spec)?,
                None => Ranking::default(),
            },
        ),
        (
            "  plain BM25 (same index, no boosts/coord/typos)",
            Ranking::plain(),
        ),
        (
            "  without field boosts",
            Ranking {
                title: 1.0,
                headings: 1.0,
                names: 1.0,
                ..Ranking::default()
            },
        ),
        (
            "  without more-terms preference",
            Ranking {
                coord_power: 0.0,
                ..Ranking::default()
            },
        ),
        (
            "  without typo expansion",
            Ranking {
                fuzzy: false,
                ..Ranking::default()
            },
        ),
        (
            "  without synonyms/abbreviations",
            Ranking {
                synonyms: 0.0,
                ..Ranking::default()
            },
        ),
    ];
    let mut rows = Vec::new();
    let started = Instant::now();
    for (name, ranking) in &variants {
        let mut acc = MetricsAcc::default();
        for q in &queries {
            let res = index.search_with(
                &SearchRequest {
                    text: q.query.clone(),
                    filters: Filters::default(),
                    limit: 10,
                },
                ranking,
            )?;
            let ranked: Vec<String> = res.hits.iter().map(|h| h.path.clone()).collect();
            if a.verbose
                && *name == "casebook"
                && ranked.first().is_none_or(|r| !q.relevant.contains(r))
            {
                let pos = ranked.iter().position(|r| q.relevant.contains(r));
                eprintln!(
                    "miss [{}] {:?}: relevant {:?} at {:?}; top {:?}",
                    q.category,
                    q.query,
                    q.relevant,
                    pos.map(|p| p + 1),
                    ranked.iter().take(3).collect::<Vec<_>>()
                );
            }
            acc.add(&ranked, &q.relevant);
        }
        let m = acc.finish();
        rows.push(EvalRow {
            system: name.to_string(),
            queries: m.queries,
            hit_at_1: m.hit_at_1,
            mrr_at_10: m.mrr_at_10,
            recall_at_10: m.recall_at_10,
        });
    }
    let mut acc = MetricsAcc::default();
    for q in &queries {
        let hits = baseline
            .search(&q.query, 10)
            .map_err(|e| internal("baseline search", e))?;
        let ranked: Vec<String> = hits.into_iter().map(|h| h.path).collect();
        acc.add(&ranked, &q.relevant);
    }
    let m = acc.finish();
    rows.push(EvalRow {
        system: "SQLite FTS5 BM25 (baseline)".into(),
        queries: m.queries,
        hit_at_1: m.hit_at_1,
        mrr_at_10: m.mrr_at_10,
        recall_at_10: m.recall_at_10,
    });
    if out.json {
        print_json(&serde_json::json!({
            "corpus": corpus.display().to_string(),
            "files": n_files,
            "skipped": skipped,
            "documents": n_docs,
            "results": rows,
        }));
    } else {
        println!(
            "corpus {}: {} runbook files ({} skipped), {} documents; {} judged queries",
            corpus.display(),
            n_files,
            skipped,
            n_docs,
            queries.len()
        );
        println!(
            "{:<52} {:>7} {:>7} {:>10}",
            "system", "hit@1", "MRR@10", "recall@10"
        );
        for r in &rows {
            println!(
                "{:<52} {:>7.3} {:>7.3} {:>10.3}",
                r.system, r.hit_at_1, r.mrr_at_10, r.recall_at_10
            );
        }
        println!("({} ms)", started.elapsed().as_millis());
    }
    Ok(0)
}
