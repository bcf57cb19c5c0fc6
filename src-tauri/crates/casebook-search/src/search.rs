//! Ranking and results: BM25 over boosted fields, OR with a strong preference for documents that
//! match more of the query's clauses, phrases, prefix and typo expansion, filters, results
//! collapsed per runbook file with the best section, highlighted snippets, and similar cases.

use crate::doc::SourceKind;
use crate::index::KbIndex;
use crate::query::{self, Clause, ParsedQuery};
use crate::schema::{Fields, analyze, en_analyzer, ident_analyzer};
use crate::{Result, SearchError};
use casebook_core::model::TicketState;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::time::Instant;
use tantivy::collector::TopDocs;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, DocSet, Searcher, TantivyDocument, Term};

/// Ranking parameters. The defaults are what the evaluation supports (docs/search.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    pub title: f32,
    pub headings: f32,
    pub names: f32,
    pub body: f32,
    /// Final score = BM25 × (matched clauses / clauses)^coord_power.
    pub coord_power: f32,
    /// Typo expansion of unknown ordinary words.
    pub fuzzy: bool,
    /// Collapse a runbook and its sections into one result.
    pub collapse: bool,
    /// Weight of a whole runbook relative to its sections.
    pub whole_doc: f32,
    /// Weight of the synonyms and abbreviations of `data/ops-synonyms.txt` relative to what was
    /// typed (0: not searched).
    pub synonyms: f32,
}

/// What the evaluation supports for [`Ranking::synonyms`] (docs/search.md).
pub const SYNONYM_WEIGHT: f32 = 0.5;

impl Default for Ranking {
    fn default() -> Self {
        Ranking {
            title: 3.0,
            headings: 1.5,
            names: 3.0,
            body: 1.0,
            coord_power: 1.0,
            fuzzy: true,
            collapse: true,
            whole_doc: 1.4,
            synonyms: SYNONYM_WEIGHT,
        }
    }
}

impl Ranking {
    /// Plain BM25: equal field weights, no preference for more matched terms, no typo expansion.
    pub fn plain() -> Ranking {
        Ranking {
            title: 1.0,
            headings: 1.0,
            names: 1.0,
            body: 1.0,
            coord_power: 0.0,
            fuzzy: false,
            collapse: true,
            whole_doc: 1.0,
            synonyms: 0.0,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Filters {
    /// `Runbook` includes its sections.
    pub kinds: Vec<SourceKind>,
    /// Any of these tags.
    pub tags: Vec<String>,
    /// Any of these services.
    pub services: Vec<String>,
    /// Any of these ticket states (past cases).
    pub states: Vec<TicketState>,
    /// Leave out these origins (`ticket:42`: the ticket itself in "similar cases").
    pub exclude_origins: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub text: String,
    pub filters: Filters,
    pub limit: usize,
}

/// A highlighted range, in UTF-16 code units of the text it belongs to (what JavaScript's string
/// indices count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub start: u32,
    pub end: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snippet {
    /// Plain text (an excerpt of the document, `…` where cut).
    pub text: String,
    pub ranges: Vec<Range>,
    /// The same excerpt as HTML: the text escaped, matches in `<mark>`; nothing else.
    pub html: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub doc_id: String,
    pub origin: String,
    pub kind: SourceKind,
    pub title: String,
    pub title_ranges: Vec<Range>,
    pub path: String,
    /// For runbooks: the best-matching section's heading and anchor.
    pub section: Option<String>,
    pub anchor: Option<String>,
    pub snippet: Snippet,
    pub tags: Vec<String>,
    pub service: Option<String>,
    pub ticket_state: Option<TicketState>,
    pub ticket_id: Option<i64>,
    pub url: Option<String>,
    pub score: f32,
    /// The query's words (or, for similar cases, the ticket's terms) this result contains.
    pub matched_terms: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    pub hits: Vec<Hit>,
    /// The index is being rebuilt: results may be incomplete.
    pub rebuilding: bool,
    /// The query had nothing to search for (empty, punctuation or stop words only).
    pub empty_query: bool,
    pub took_us: u64,
}

/// One clause turned into index terms.
struct ClauseQ {
    label: String,
    /// Scoring queries (term queries stay bare so tantivy can prune with block-max WAND).
    queries: Vec<Box<dyn Query>>,
    /// The clause matches a document when any of these term sets is all present.
    checks: Vec<Vec<(Field, Term)>>,
    /// Analyzed (stemmed) forms to highlight.
    highlight: Vec<String>,
}

const MAX_EXPANSIONS_SCANNED: usize = 1_500;

fn boosted(q: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
    if (boost - 1.0).abs() < f32::EPSILON {
        q
    } else {
        Box::new(BoostQuery::new(q, boost))
    }
}

fn term_q(t: Term, boost: f32) -> Box<dyn Query> {
    boosted(
        Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs)),
        boost,
    )
}

struct Analyzers {
    en: TextAnalyzer,
    id: TextAnalyzer,
}

impl Analyzers {
    fn new() -> Analyzers {
        Analyzers {
            en: en_analyzer(),
            id: ident_analyzer(),
        }
    }
    fn en1(&mut self, w: &str) -> Option<String> {
        analyze(&mut self.en, w).into_iter().next()
    }
}

fn doc_freq(searcher: &Searcher, field: Field, text: &str) -> u64 {
    searcher
        .doc_freq(&Term::from_field_text(field, text))
        .unwrap_or(0)
}

/// Terms of `field` starting with `prefix`, most frequent first.
fn prefix_terms(searcher: &Searcher, field: Field, prefix: &str, k: usize) -> Vec<String> {
    let mut df: HashMap<String, u64> = HashMap::new();
    let mut upper = prefix.as_bytes().to_vec();
    upper.push(0xff);
    for seg in searcher.segment_readers() {
        let Ok(inv) = seg.inverted_index(field) else {
            continue;
        };
        let Ok(mut stream) = inv
            .terms()
            .range()
            .ge(prefix.as_bytes())
            .lt(&upper)
            .into_stream()
        else {
            continue;
        };
        let mut n = 0;
        while stream.advance() && n < MAX_EXPANSIONS_SCANNED {
            n += 1;
            if let Ok(s) = std::str::from_utf8(stream.key()) {
                *df.entry(s.to_owned()).or_default() += u64::from(stream.value().doc_freq);
            }
        }
    }
    top_k(df, k)
}

/// Terms of `field` within `distance` edits of `word`, most frequent first.
fn fuzzy_terms(
    searcher: &Searcher,
    field: Field,
    word: &str,
    distance: u8,
    k: usize,
) -> Vec<String> {
    let q = FuzzyTermQuery::new(Term::from_field_text(field, word), distance, true);
    let mut df: HashMap<String, u64> = HashMap::new();
    let Ok(automaton) = q.automaton() else {
        return Vec::new();
    };
    for seg in searcher.segment_readers() {
        let Ok(inv) = seg.inverted_index(field) else {
            continue;
        };
        let Ok(mut stream) = inv.terms().search(&automaton).into_stream() else {
            continue;
        };
        let mut n = 0;
        while stream.advance() && n < MAX_EXPANSIONS_SCANNED {
            n += 1;
            if let Ok(s) = std::str::from_utf8(stream.key()) {
                *df.entry(s.to_owned()).or_default() += u64::from(stream.value().doc_freq);
            }
        }
    }
    top_k(df, k)
}

fn top_k(df: HashMap<String, u64>, k: usize) -> Vec<String> {
    let mut v: Vec<(String, u64)> = df.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.into_iter().take(k).map(|(t, _)| t).collect()
}

/// Builds the index terms of one clause.
fn clause_q(
    searcher: &Searcher,
    f: &Fields,
    r: &Ranking,
    an: &mut Analyzers,
    clause: &Clause,
) -> Option<ClauseQ> {
    let en_fields = [
        (f.title, r.title),
        (f.headings, r.headings),
        (f.body, r.body),
    ];
    let mut cq = ClauseQ {
        label: String::new(),
        queries: Vec::new(),
        checks: Vec::new(),
        highlight: Vec::new(),
    };
    let add_term = |cq: &mut ClauseQ, field: Field, text: &str, boost: f32| {
        let t = Term::from_field_text(field, text);
        cq.queries.push(term_q(t.clone(), boost));
        cq.checks.push(vec![(field, t)]);
    };
    let single = match clause {
        Clause::Word {
            text,
            fuzzy,
            prefix,
        } => Some((text.as_str(), *fuzzy, *prefix)),
        Clause::Identifier { parts, prefix, .. } if parts.len() == 1 => {
            Some((parts[0].as_str(), 0, *prefix))
        }
        _ => None,
    };
    if let Some((word, fuzzy, prefix)) = single {
        cq.label = match clause {
            Clause::Identifier { raw, .. } => raw.clone(),
            _ => word.to_owned(),
        };
        let en = an.en1(word);
        let id = analyze(&mut an.id, word).into_iter().next();
        let mut known = false;
        if let Some(en) = &en {
            for (field, w) in en_fields {
                known |= doc_freq(searcher, field, en) > 0;
                add_term(&mut cq, field, en, w);
            }
            cq.highlight.push(en.clone());
        }
        if let Some(id) = &id {
            known |= doc_freq(searcher, f.names, id) > 0;
            add_term(&mut cq, f.names, id, r.names);
        }
        if prefix {
            let mut seen: HashSet<String> = en.iter().cloned().collect();
            let mut exp = prefix_terms(searcher, f.body, word, 5);
            if let Some(en) = &en
                && en != word
            {
                exp.extend(prefix_terms(searcher, f.body, en, 2));
            }
            // Stems shorter than the typed text ("configur" for "configura").
            let chars: Vec<char> = word.chars().collect();
            for cut in (chars.len().saturating_sub(3).max(3))..chars.len() {
                let p: String = chars[..cut].iter().collect();
                if doc_freq(searcher, f.body, &p) > 0 {
                    exp.push(p);
                }
            }
            for t in exp {
                if seen.insert(t.clone()) {
                    for (field, w) in en_fields {
                        add_term(&mut cq, field, &t, w * 0.6);
                    }
                    cq.highlight.push(t);
                }
            }
            for t in prefix_terms(searcher, f.names, word, 3) {
                if Some(&t) != id.as_ref() {
                    add_term(&mut cq, f.names, &t, r.names * 0.6);
                }
            }
        }
        if !known
            && fuzzy > 0
            && r.fuzzy
            && !prefix
            && let Some(en) = &en
        {
            let mut seen = HashSet::new();
            for t in fuzzy_terms(searcher, f.body, en, fuzzy, 3)
                .into_iter()
                .chain(fuzzy_terms(searcher, f.title, en, fuzzy, 2))
            {
                if seen.insert(t.clone()) {
                    for (field, w) in en_fields {
                        add_term(&mut cq, field, &t, w * 0.7);
                    }
                    cq.highlight.push(t);
                }
            }
        }
        if !known && prefix && fuzzy > 0 && r.fuzzy && cq.queries.len() <= 4 {
            // Nothing starts with it either: maybe a typo in a finished word.
            if let Some(en) = &en {
                for t in fuzzy_terms(searcher, f.body, en, fuzzy, 3) {
                    for (field, w) in en_fields {
                        add_term(&mut cq, field, &t, w * 0.7);
                    }
                    cq.highlight.push(t);
                }
            }
        }
    } else {
        let parts = clause.parts();
        cq.label = match clause {
            Clause::Identifier { raw, .. } => raw.clone(),
            _ => format!("\"{}\"", parts.join(" ")),
        };
        let joined = parts.join(" ");
        let en_parts = analyze(&mut an.en, &joined);
        let id_parts = analyze(&mut an.id, &joined);
        let phrase = |field: Field, terms: &[String], boost: f32, cq: &mut ClauseQ| {
            if terms.len() < 2 {
                return;
            }
            let ts: Vec<Term> = terms
                .iter()
                .map(|t| Term::from_field_text(field, t))
                .collect();
            cq.checks
                .push(ts.iter().map(|t| (field, t.clone())).collect());
            cq.queries
                .push(boosted(Box::new(PhraseQuery::new(ts)), boost));
        };
        if en_parts.len() == parts.len() {
            for (field, w) in [(f.title, r.title), (f.body, r.body)] {
                phrase(field, &en_parts, w, &mut cq);
            }
            cq.highlight.extend(en_parts.iter().cloned());
        }
        if id_parts.len() == parts.len() {
            phrase(f.names, &id_parts, r.names, &mut cq);
        }
    }
    (!cq.queries.is_empty()).then_some(cq)
}

/// Adds the list's alternatives for the query's words: each is scored (at `r.synonyms` of the
/// field weights) with the first clause it stands for, and a document containing it counts as
/// matching every clause it stands for (`disk full` ↔ `no space left on device`: both words).
fn add_synonyms(
    f: &Fields,
    r: &Ranking,
    an: &mut Analyzers,
    clauses: &[Clause],
    built: &mut [Option<ClauseQ>],
) {
    let expansions = {
        let en = &mut an.en;
        crate::synonyms::expand(clauses, &mut |w| analyze(en, w).concat())
    };
    for e in expansions {
        let en_terms = analyze(&mut an.en, &e.text);
        let id_terms = analyze(&mut an.id, &e.text);
        let mut queries: Vec<Box<dyn Query>> = Vec::new();
        let mut checks: Vec<Vec<(Field, Term)>> = Vec::new();
        let mut add = |field: Field, terms: &[String], boost: f32| {
            let ts: Vec<Term> = terms
                .iter()
                .map(|t| Term::from_field_text(field, t))
                .collect();
            match ts.len() {
                0 => return,
                1 => queries.push(term_q(ts[0].clone(), boost * r.synonyms)),
                _ => queries.push(boosted(
                    Box::new(PhraseQuery::new(ts.clone())),
                    boost * r.synonyms,
                )),
            }
            checks.push(ts.into_iter().map(|t| (field, t)).collect());
        };
        add(f.title, &en_terms, r.title);
        if en_terms.len() == 1 {
            add(f.headings, &en_terms, r.headings);
        }
        add(f.body, &en_terms, r.body);
        add(f.names, &id_terms, r.names);
        let mut first = true;
        for cq in built[e.first..=e.last].iter_mut().flatten() {
            if first {
                cq.queries.append(&mut queries);
                cq.highlight.extend(en_terms.iter().cloned());
                first = false;
            }
            cq.checks.extend(checks.iter().cloned());
        }
    }
}

fn filter_query(f: &Fields, filters: &Filters) -> Vec<(Occur, Box<dyn Query>)> {
    let mut out: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let any = |field: Field, values: Vec<String>| -> Box<dyn Query> {
        let clauses: Vec<(Occur, Box<dyn Query>)> = values
            .into_iter()
            .map(|v| {
                let q: Box<dyn Query> = Box::new(TermQuery::new(
                    Term::from_field_text(field, &v),
                    IndexRecordOption::Basic,
                ));
                (Occur::Should, q)
            })
            .collect();
        Box::new(ConstScoreQuery::new(
            Box::new(BooleanQuery::new(clauses)),
            0.0,
        ))
    };
    if !filters.kinds.is_empty() {
        let mut kinds: Vec<String> = Vec::new();
        for k in &filters.kinds {
            kinds.push(k.as_str().to_owned());
            if *k == SourceKind::Runbook {
                kinds.push(SourceKind::RunbookSection.as_str().to_owned());
            }
        }
        out.push((Occur::Must, any(f.kind, kinds)));
    }
    if !filters.tags.is_empty() {
        let tags = casebook_core::model::normalize_tags(&filters.tags);
        out.push((Occur::Must, any(f.tags, tags)));
    }
    if !filters.services.is_empty() {
        let s = filters
            .services
            .iter()
            .map(|s| s.trim().to_lowercase())
            .collect();
        out.push((Occur::Must, any(f.service, s)));
    }
    if !filters.states.is_empty() {
        let s = filters
            .states
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect();
        out.push((Occur::Must, any(f.state, s)));
    }
    for o in &filters.exclude_origins {
        out.push((
            Occur::MustNot,
            Box::new(TermQuery::new(
                Term::from_field_text(f.origin, o),
                IndexRecordOption::Basic,
            )),
        ));
    }
    out
}

/// A document in the top K: better = higher score, then lower address (tantivy's order).
#[derive(Clone, Copy, PartialEq)]
struct Ranked {
    score: f32,
    addr: DocAddress,
}

impl Eq for Ranked {}

impl Ord for Ranked {
    /// Greater is better.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.addr.cmp(&self.addr))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The `k` best documents for `query`, best first: what tantivy's
/// `TopDocs::with_limit(k).order_by_score()` returns, but with one top K for all segments.
/// tantivy collects each segment's own top K from scratch, so block-max WAND starts every segment
/// with no threshold; here a segment starts with the K-th best score of the segments searched
/// before it and skips every block that cannot beat it. tantivy keeps the segments largest first,
/// so the threshold is a good one from the second segment on. Ties keep tantivy's order (the
/// lower address wins): documents come in address order and must beat the threshold strictly.
fn top_docs(searcher: &Searcher, query: &dyn Query, k: usize) -> Result<Vec<(f32, DocAddress)>> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    if k == 0 {
        return Ok(Vec::new());
    }
    let weight = query
        .weight(tantivy::query::EnableScoring::enabled_from_searcher(
            searcher,
        ))
        .map_err(SearchError::tantivy("searching"))?;
    // Min-heap: its top is the worst of the best k.
    let mut heap: BinaryHeap<Reverse<Ranked>> = BinaryHeap::with_capacity(k + 1);
    // What a document must score more than to enter the top k.
    let threshold = |heap: &BinaryHeap<Reverse<Ranked>>| match heap.peek() {
        Some(Reverse(worst)) if heap.len() >= k => worst.score,
        _ => f32::MIN,
    };
    for (seg, reader) in searcher.segment_readers().iter().enumerate() {
        let seg = seg as u32;
        let alive = reader.alive_bitset();
        weight
            .for_each_pruning(threshold(&heap), reader, &mut |doc, score| {
                if alive.is_none_or(|a| a.is_alive(doc)) {
                    let r = Ranked {
                        score,
                        addr: DocAddress::new(seg, doc),
                    };
                    if heap.len() < k {
                        heap.push(Reverse(r));
                    } else if let Some(mut worst) = heap.peek_mut()
                        && r > worst.0
                    {
                        *worst = Reverse(r);
                    }
                }
                threshold(&heap)
            })
            .map_err(SearchError::tantivy("searching"))?;
    }
    let mut top: Vec<Ranked> = heap.into_iter().map(|Reverse(r)| r).collect();
    top.sort_by(|a, b| b.cmp(a));
    Ok(top.into_iter().map(|r| (r.score, r.addr)).collect())
}

struct Candidate {
    addr: DocAddress,
    score: f32,
    matched: Vec<bool>,
}

impl KbIndex {
    /// Searches with the default ranking.
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResults> {
        self.search_with(req, &Ranking::default())
    }

    /// Searches with explicit ranking parameters (the evaluation compares them).
    pub fn search_with(&self, req: &SearchRequest, r: &Ranking) -> Result<SearchResults> {
        let started = Instant::now();
        let parsed = query::parse(&req.text);
        let mut res = self.run(&parsed, &req.filters, req.limit.clamp(1, 100), r)?;
        res.took_us = started.elapsed().as_micros() as u64;
        Ok(res)
    }

    fn run(
        &self,
        parsed: &ParsedQuery,
        filters: &Filters,
        limit: usize,
        r: &Ranking,
    ) -> Result<SearchResults> {
        let searcher = self.reader.searcher();
        let f = self.fields;
        let mut an = Analyzers::new();
        let mut built: Vec<Option<ClauseQ>> = parsed
            .clauses
            .iter()
            .map(|c| clause_q(&searcher, &f, r, &mut an, c))
            .collect();
        if r.synonyms > 0.0 {
            add_synonyms(&f, r, &mut an, &parsed.clauses, &mut built);
        }
        let clauses: Vec<ClauseQ> = built.into_iter().flatten().collect();
        let res = SearchResults {
            rebuilding: self.is_rebuilding(),
            empty_query: parsed.is_empty(),
            ..SearchResults::default()
        };
        if clauses.is_empty() {
            return Ok(res);
        }
        let highlight: HashSet<String> = clauses
            .iter()
            .flat_map(|c| c.highlight.iter().cloned())
            .collect();
        let labels: Vec<String> = clauses.iter().map(|c| c.label.clone()).collect();
        let checks: Vec<Vec<Vec<(Field, Term)>>> =
            clauses.iter().map(|c| c.checks.clone()).collect();
        let shoulds: Vec<(Occur, Box<dyn Query>)> = clauses
            .into_iter()
            .flat_map(|c| c.queries)
            .map(|q| (Occur::Should, q))
            .collect();
        self.collect(
            &searcher, shoulds, filters, limit, r, &checks, &labels, &highlight, &mut an, res,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn collect(
        &self,
        searcher: &Searcher,
        shoulds: Vec<(Occur, Box<dyn Query>)>,
        filters: &Filters,
        limit: usize,
        r: &Ranking,
        checks: &[Vec<Vec<(Field, Term)>>],
        labels: &[String],
        highlight: &HashSet<String>,
        an: &mut Analyzers,
        mut res: SearchResults,
    ) -> Result<SearchResults> {
        let f = self.fields;
        let main: Box<dyn Query> = Box::new(BooleanQuery::new(shoulds));
        let filter = filter_query(&f, filters);
        let q: Box<dyn Query> = if filter.is_empty() {
            main
        } else {
            let mut all = vec![(Occur::Must, main)];
            all.extend(filter);
            Box::new(BooleanQuery::new(all))
        };
        let n_candidates = 30 + limit * 2;
        let top = top_docs(searcher, &*q, n_candidates)?;
        let mut cands: Vec<Candidate> = top
            .into_iter()
            .map(|(score, addr)| Candidate {
                addr,
                score,
                matched: vec![false; checks.len()],
            })
            .collect();
        if checks.len() == 1 {
            // One clause: every candidate matched it.
            cands.iter_mut().for_each(|c| c.matched[0] = true);
        } else {
            mark_matches(searcher, checks, &mut cands)?;
        }
        let n = checks.len().max(1) as f32;
        // Kind and origin of each candidate from the fast fields (no stored document is read
        // until the final hits are known); results collapse per origin by its number.
        let columns = self.segment_columns(searcher);
        let mut scored: Vec<(f32, Candidate, SourceKind, u64)> = Vec::with_capacity(cands.len());
        for c in cands {
            let Some((kind, okey)) = columns
                .get(c.addr.segment_ord as usize)
                .and_then(Option::as_ref)
                .and_then(|cols| cols.get(c.addr.doc_id))
            else {
                continue;
            };
            let m = c.matched.iter().filter(|m| **m).count() as f32;
            let mut s = c.score * (m / n).powf(r.coord_power);
            if kind == SourceKind::Runbook {
                s *= r.whole_doc;
            }
            scored.push((s, c, kind, okey));
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        // Collapse per origin: the best document stands for its file; a runbook hit names its
        // best section.
        let mut order: Vec<(u64, usize)> = Vec::new();
        let mut groups: HashMap<(u64, usize), Vec<usize>> = HashMap::new();
        for (i, (_, _, _, okey)) in scored.iter().enumerate() {
            let key = if r.collapse { (*okey, 0) } else { (0, i + 1) };
            let g = groups.entry(key).or_default();
            if g.is_empty() {
                order.push(key);
            }
            g.push(i);
        }
        let load = |addr: DocAddress| -> Result<TantivyDocument> {
            searcher
                .doc(addr)
                .map_err(SearchError::tantivy("loading a result"))
        };
        for key in order.into_iter().take(limit) {
            let idx = &groups[&key];
            let best = idx[0];
            let section_idx = idx
                .iter()
                .copied()
                .find(|&i| scored[i].2 == SourceKind::RunbookSection);
            let (score, cand, kind, _) = &scored[best];
            let doc = load(cand.addr)?;
            let section_doc = match section_idx {
                Some(i) if i == best => None,
                Some(i) => Some(load(scored[i].1.addr)?),
                None => None,
            };
            let show = section_doc.as_ref().unwrap_or(&doc);
            let text = |d: &TantivyDocument, fld: Field| {
                d.get_first(fld).and_then(|v| v.as_str()).map(str::to_owned)
            };
            let title = text(&doc, f.title).unwrap_or_default();
            let body = text(show, f.body).unwrap_or_default();
            let mut matched: Vec<bool> = cand.matched.clone();
            if let Some(si) = section_idx {
                for (m, o) in matched.iter_mut().zip(&scored[si].1.matched) {
                    *m |= *o;
                }
            }
            res.hits.push(Hit {
                doc_id: text(&doc, f.id).unwrap_or_default(),
                origin: text(&doc, f.origin).unwrap_or_default(),
                kind: if *kind == SourceKind::RunbookSection {
                    SourceKind::Runbook
                } else {
                    *kind
                },
                title_ranges: highlight_ranges(&mut an.en, &title, highlight),
                title,
                path: text(&doc, f.path).unwrap_or_default(),
                section: text(show, f.section),
                anchor: text(show, f.anchor),
                snippet: snippet(&mut an.en, &body, highlight, 220),
                tags: doc
                    .get_all(f.tags)
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                service: text(&doc, f.service),
                ticket_state: text(&doc, f.state).and_then(|s| s.parse().ok()),
                ticket_id: doc.get_first(f.ticket_id).and_then(|v| v.as_i64()),
                url: text(&doc, f.url),
                score: *score,
                matched_terms: labels
                    .iter()
                    .zip(&matched)
                    .filter(|(_, m)| **m)
                    .map(|(l, _)| l.clone())
                    .collect(),
            });
        }
        Ok(res)
    }

    /// Similar past cases and runbooks for a ticket's text (more-like-this): the text's most
    /// distinctive terms (tf·idf against the index) searched as one OR query. Each hit lists the
    /// terms it shares with the text.
    pub fn similar(
        &self,
        text: &str,
        exclude_origin: Option<&str>,
        limit: usize,
    ) -> Result<SearchResults> {
        let started = Instant::now();
        let searcher = self.reader.searcher();
        let f = self.fields;
        let mut an = Analyzers::new();
        let text = truncate(text, 64 * 1024);
        // Count stems, remembering the most common surface form of each for display.
        let mut tf: HashMap<String, (u32, HashMap<String, u32>)> = HashMap::new();
        {
            let mut ts = an.en.token_stream(text);
            while ts.advance() {
                let tok = ts.token();
                let surface = text[tok.offset_from..tok.offset_to].to_lowercase();
                if tok.text.chars().count() < 3
                    || query::is_stop_word(&surface)
                    || tok.text.chars().all(|c| c.is_ascii_digit())
                {
                    continue;
                }
                let e = tf.entry(tok.text.clone()).or_default();
                e.0 += 1;
                *e.1.entry(surface).or_default() += 1;
            }
        }
        let n_docs = searcher.num_docs().max(1) as f32;
        let mut weighted: Vec<(String, String, f32)> = tf
            .into_iter()
            .filter_map(|(stem, (count, surfaces))| {
                let df = doc_freq(&searcher, f.body, &stem) + doc_freq(&searcher, f.title, &stem);
                // Terms in a quarter of a sizeable index say nothing about this ticket.
                if df == 0 || (n_docs > 40.0 && df as f32 > n_docs * 0.25) {
                    return None;
                }
                // BM25's idf: positive even when every document has the term.
                let df = df as f32;
                let idf = (1.0 + (n_docs - df + 0.5) / (df + 0.5)).ln();
                let surface = surfaces
                    .into_iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                    .map(|(s, _)| s)
                    .unwrap_or_else(|| stem.clone());
                Some((stem, surface, (1.0 + (count as f32).ln()) * idf))
            })
            .collect();
        weighted.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        weighted.truncate(16);
        let mut res = SearchResults {
            rebuilding: self.is_rebuilding(),
            empty_query: weighted.is_empty(),
            ..SearchResults::default()
        };
        if weighted.is_empty() {
            return Ok(res);
        }
        let max_w = weighted[0].2;
        let r = Ranking::default();
        let mut shoulds: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut checks = Vec::new();
        let mut labels = Vec::new();
        let mut highlight = HashSet::new();
        for (stem, surface, w) in &weighted {
            let rel = w / max_w;
            let mut check = Vec::new();
            for (field, b) in [
                (f.title, r.title),
                (f.headings, r.headings),
                (f.body, r.body),
            ] {
                let t = Term::from_field_text(field, stem);
                shoulds.push((Occur::Should, term_q(t.clone(), b * rel)));
                check.push(vec![(field, t)]);
            }
            checks.push(check);
            labels.push(surface.clone());
            highlight.insert(stem.clone());
        }
        let filters = Filters {
            kinds: vec![
                SourceKind::PastCase,
                SourceKind::Runbook,
                SourceKind::KbArticle,
            ],
            exclude_origins: exclude_origin
                .map(|o| vec![o.to_owned()])
                .unwrap_or_default(),
            ..Filters::default()
        };
        let relaxed = Ranking {
            coord_power: 1.0,
            ..r
        };
        res = self.collect(
            &searcher,
            shoulds,
            &filters,
            limit.clamp(1, 50),
            &relaxed,
            &checks,
            &labels,
            &highlight,
            &mut an,
            res,
        )?;
        res.took_us = started.elapsed().as_micros() as u64;
        Ok(res)
    }

    /// A stored document by id.
    pub fn document(&self, id: &str) -> Result<Option<crate::doc::KbDocument>> {
        let searcher = self.reader.searcher();
        let f = self.fields;
        let q = TermQuery::new(Term::from_field_text(f.id, id), IndexRecordOption::Basic);
        let top = searcher
            .search(&q, &TopDocs::with_limit(1).order_by_score())
            .map_err(SearchError::tantivy("loading a document"))?;
        let Some((_, addr)) = top.into_iter().next() else {
            return Ok(None);
        };
        let d: TantivyDocument = searcher
            .doc(addr)
            .map_err(SearchError::tantivy("loading a document"))?;
        let s = |fld: Field| d.get_first(fld).and_then(|v| v.as_str()).map(str::to_owned);
        let all = |fld: Field| -> Vec<String> {
            d.get_all(fld)
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        let Some(kind) = s(f.kind).and_then(|k| k.parse().ok()) else {
            return Ok(None);
        };
        let mut doc = crate::doc::KbDocument::new(
            s(f.id).unwrap_or_default(),
            kind,
            s(f.origin).unwrap_or_default(),
            s(f.title).unwrap_or_default(),
        );
        doc.fingerprint = d.get_first(f.fp).and_then(|v| v.as_u64()).unwrap_or(0);
        doc.headings = all(f.headings);
        doc.path = s(f.path).unwrap_or_default();
        doc.identifiers = all(f.identifiers);
        doc.tags = all(f.tags);
        doc.service = s(f.service);
        doc.owner = s(f.owner);
        doc.ticket_state = s(f.state).and_then(|v| v.parse().ok());
        doc.ticket_id = d.get_first(f.ticket_id).and_then(|v| v.as_i64());
        doc.body = s(f.body).unwrap_or_default();
        doc.url = s(f.url);
        doc.anchor = s(f.anchor);
        doc.section = s(f.section);
        doc.html = s(f.html);
        doc.updated_at = d.get_first(f.updated).and_then(|v| v.as_i64()).unwrap_or(0);
        Ok(Some(doc))
    }
}

/// Marks, for each candidate, which clauses it matches (postings lookups, candidates of one
/// segment in doc order).
fn mark_matches(
    searcher: &Searcher,
    checks: &[Vec<Vec<(Field, Term)>>],
    cands: &mut [Candidate],
) -> Result<()> {
    let mut by_seg: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, c) in cands.iter().enumerate() {
        by_seg.entry(c.addr.segment_ord).or_default().push(i);
    }
    for (seg, mut idx) in by_seg {
        idx.sort_by_key(|&i| cands[i].addr.doc_id);
        let reader = searcher.segment_reader(seg);
        for (ci, alts) in checks.iter().enumerate() {
            for conj in alts {
                // present[k] = candidate idx[k] has every term of conj
                let mut present = vec![true; idx.len()];
                for (field, term) in conj {
                    let inv = reader
                        .inverted_index(*field)
                        .map_err(SearchError::tantivy("reading postings"))?;
                    let postings =
                        inv.read_postings(term, IndexRecordOption::Basic)
                            .map_err(|e| SearchError::Io {
                                what: "reading postings".into(),
                                source: e,
                            })?;
                    let Some(mut p) = postings else {
                        present.iter_mut().for_each(|x| *x = false);
                        break;
                    };
                    for (k, &i) in idx.iter().enumerate() {
                        let d = cands[i].addr.doc_id;
                        if !present[k] {
                            continue;
                        }
                        if p.doc() < d {
                            p.seek(d);
                        }
                        present[k] = p.doc() == d;
                    }
                }
                for (k, &i) in idx.iter().enumerate() {
                    if present[k] {
                        cands[i].matched[ci] = true;
                    }
                }
            }
        }
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

/// Byte ranges of the tokens of `text` whose analyzed form is in `terms`. Only tokens that share
/// their first three letters with a term are analyzed (stems keep the start of the word), so a
/// long runbook costs a scan, not a stemming pass.
fn match_offsets(
    an: &mut TextAnalyzer,
    text: &str,
    terms: &HashSet<String>,
) -> Vec<(usize, usize, String)> {
    let key = |s: &str| -> String { s.chars().take(3).collect() };
    let keys: HashSet<String> = terms.iter().map(|t| key(t)).collect();
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut check = |a: usize, b: usize, out: &mut Vec<(usize, usize, String)>| {
        let tok = &text[a..b];
        if !keys.contains(&key(&tok.to_lowercase())) {
            return;
        }
        if let Some(stem) = analyze(an, tok).into_iter().next()
            && terms.contains(&stem)
        {
            out.push((a, b, stem));
        }
    };
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            start.get_or_insert(i);
        } else if let Some(a) = start.take() {
            check(a, i, &mut out);
        }
    }
    if let Some(a) = start {
        check(a, text.len(), &mut out);
    }
    out
}

fn utf16_len(s: &str) -> u32 {
    s.encode_utf16().count() as u32
}

fn to_ranges(text: &str, spans: &[(usize, usize)]) -> Vec<Range> {
    spans
        .iter()
        .map(|&(a, b)| {
            let start = utf16_len(&text[..a]);
            Range {
                start,
                end: start + utf16_len(&text[a..b]),
            }
        })
        .collect()
}

fn highlight_ranges(an: &mut TextAnalyzer, text: &str, terms: &HashSet<String>) -> Vec<Range> {
    let spans: Vec<(usize, usize)> = match_offsets(an, text, terms)
        .into_iter()
        .map(|(a, b, _)| (a, b))
        .collect();
    to_ranges(text, &spans)
}

/// Escapes text for HTML.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The excerpt of `body` (about `max` bytes) with the most distinct matched terms.
pub(crate) fn snippet(
    an: &mut TextAnalyzer,
    body: &str,
    terms: &HashSet<String>,
    max: usize,
) -> Snippet {
    let body = truncate(body, 32 * 1024);
    let matches = match_offsets(an, body, terms);
    let (start, end) = if matches.is_empty() {
        (0, floor_boundary(body, max.min(body.len())))
    } else {
        // Window starting at each match; keep the one covering the most distinct terms.
        let mut best = (0usize, 0usize);
        for (i, m) in matches.iter().enumerate() {
            let mut seen = HashSet::new();
            for n in &matches[i..] {
                if n.1 > m.0 + max {
                    break;
                }
                seen.insert(&n.2);
            }
            if seen.len() > best.0 {
                best = (seen.len(), i);
            }
        }
        let first = matches[best.1].0;
        let lead = 40.min(first);
        let mut s = floor_boundary(body, first - lead);
        if s > 0 {
            // Start at a word boundary.
            if let Some(sp) = body[s..first].find(char::is_whitespace) {
                s += sp + 1;
            }
        }
        let mut e = floor_boundary(body, (s + max).min(body.len()));
        if e < body.len()
            && let Some(sp) = body[s..e].rfind(char::is_whitespace)
            && sp > max / 2
        {
            e = s + sp;
        }
        (s, e)
    };
    let excerpt = &body[start..end];
    let lead = if start > 0 { "…" } else { "" };
    let tail = if end < body.len() { "…" } else { "" };
    let collapsed_spans: Vec<(usize, usize)> = matches
        .iter()
        .filter(|m| m.0 >= start && m.1 <= end)
        .map(|m| (m.0 - start, m.1 - start))
        .collect();
    // Normalize whitespace while keeping the spans aligned.
    let mut text = String::with_capacity(excerpt.len() + 8);
    text.push_str(lead);
    let mut spans = Vec::new();
    let mut map = Vec::with_capacity(excerpt.len() + 1); // excerpt byte → text byte
    let mut prev_space = false;
    for (i, c) in excerpt.char_indices() {
        for _ in map.len()..=i {
            map.push(text.len());
        }
        if c.is_whitespace() {
            if !prev_space {
                text.push(' ');
            }
            prev_space = true;
        } else {
            text.push(c);
            prev_space = false;
        }
    }
    for _ in map.len()..=excerpt.len() {
        map.push(text.len());
    }
    for (a, b) in collapsed_spans {
        spans.push((map[a], map[b]));
    }
    text.push_str(tail);
    let mut html = String::with_capacity(text.len() + 32);
    let mut pos = 0;
    for &(a, b) in &spans {
        html.push_str(&escape_html(&text[pos..a]));
        html.push_str("<mark>");
        html.push_str(&escape_html(&text[a..b]));
        html.push_str("</mark>");
        pos = b;
    }
    html.push_str(&escape_html(&text[pos..]));
    Snippet {
        ranges: to_ranges(&text, &spans),
        text,
        html,
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_escape_html_and_mark_matches() {
        let mut an = en_analyzer();
        let terms: HashSet<String> = ["disk".into(), "full".into()].into();
        let s = snippet(
            &mut an,
            "intro <script>alert(1)</script> the disk is full — é",
            &terms,
            200,
        );
        assert!(s.html.contains("<mark>disk</mark>"), "{}", s.html);
        assert!(s.html.contains("&lt;script&gt;"), "{}", s.html);
        assert!(!s.html.contains("<script"), "{}", s.html);
        assert_eq!(s.ranges.len(), 2);
        let r = s.ranges[0];
        let utf16: Vec<u16> = s.text.encode_utf16().collect();
        assert_eq!(
            String::from_utf16(&utf16[r.start as usize..r.end as usize]).unwrap(),
            "disk"
        );
    }

    #[test]
    fn snippet_picks_the_window_with_most_terms() {
        let mut an = en_analyzer();
        let terms: HashSet<String> = ["vpn".into(), "timeout".into()].into();
        let body = format!("vpn here. {} vpn timeout together", "filler ".repeat(100));
        let s = snippet(&mut an, &body, &terms, 60);
        assert!(s.text.contains("vpn timeout"), "{}", s.text);
        assert!(s.text.starts_with('…'));
    }
}

#[cfg(test)]
mod engine_tests {
    use crate::doc::{KbDocument, SourceKind};
    use crate::index::{KbIndex, WriteOp};

    fn case(id: i64, title: &str, body: &str) -> WriteOp {
        let mut d = KbDocument::new(
            format!("case:{id}"),
            SourceKind::PastCase,
            format!("ticket:{id}"),
            title,
        );
        d.body = body.into();
        d.ticket_id = Some(id);
        WriteOp::Replace {
            origin: d.origin.clone(),
            docs: vec![d],
        }
    }

    #[test]
    fn settle_waits_for_the_writer_and_a_later_write_starts_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let (index, _) = KbIndex::open(dir.path()).unwrap();
        // One commit per batch: several segments for the merge policy to work on.
        for id in 0..12 {
            index
                .apply(vec![case(id, &format!("printer {id} offline"), "spooler")])
                .unwrap();
        }
        // The merge policy leaves several segments; settling consolidates them as the idle
        // writer would.
        assert!(index.reader.searcher().segment_readers().len() > 1);
        let segments = index.settle().unwrap();
        assert_eq!(segments, 1);
        assert_eq!(index.num_docs(), 12);
        let req = |text: &str| super::SearchRequest {
            text: text.into(),
            filters: super::Filters::default(),
            limit: 20,
        };
        assert_eq!(
            index.search(&req("printer offline")).unwrap().hits.len(),
            12
        );
        // The writer was stopped; the next change starts another and is searchable at once.
        index
            .apply(vec![case(99, "VPN drops every ten minutes", "")])
            .unwrap();
        assert_eq!(index.search(&req("vpn")).unwrap().hits.len(), 1);
        assert!(index.settle().unwrap() >= 1);
    }

    #[test]
    fn top_docs_shares_the_threshold_across_segments_and_keeps_tantivys_top_k() {
        use tantivy::collector::TopDocs;
        use tantivy::query::{BooleanQuery, Occur, PhraseQuery, Query, TermQuery};
        use tantivy::schema::IndexRecordOption;
        let dir = tempfile::tempdir().unwrap();
        let (index, _) = KbIndex::open(dir.path()).unwrap();
        let words = [
            "printer", "spooler", "vpn", "timeout", "disk", "full", "password", "outlook",
            "driver", "queue", "restart", "service",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut pick = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        // One commit per batch: segments of different sizes (few enough for the merge policy to
        // leave them). Every batch also holds the same document (equal scores in several
        // segments: ties across segments).
        let mut id = 0;
        for size in [2, 60, 20] {
            let mut ops = Vec::new();
            for _ in 0..size {
                id += 1;
                let text = |pick: &mut dyn FnMut(usize) -> usize, n: usize| {
                    (0..n)
                        .map(|_| words[pick(words.len())])
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                let title = text(&mut pick, 3);
                let n = 4 + pick(12);
                let body = text(&mut pick, n);
                ops.push(case(id, &title, &body));
            }
            id += 1;
            ops.push(case(id, "printer offline", "spooler spooler spooler"));
            index.apply(ops).unwrap();
        }
        // One of the copies: a deleted document that would otherwise be among the best.
        index
            .apply(vec![crate::index::WriteOp::DeleteOrigin(
                "ticket:64".into(),
            )])
            .unwrap();
        let searcher = index.reader.searcher();
        let sizes: Vec<u32> = searcher
            .segment_readers()
            .iter()
            .map(|r| r.max_doc())
            .collect();
        assert!(sizes.len() >= 3, "{sizes:?}");
        let f = index.fields;
        let term = |field, w: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                tantivy::Term::from_field_text(field, w),
                IndexRecordOption::WithFreqs,
            ))
        };
        let or = |qs: Vec<Box<dyn Query>>| -> Box<dyn Query> {
            Box::new(BooleanQuery::new(
                qs.into_iter().map(|q| (Occur::Should, q)).collect(),
            ))
        };
        let queries: Vec<Box<dyn Query>> = vec![
            // One term: the copies of the same document tie exactly.
            term(f.body, "spooler"),
            or(vec![term(f.title, "printer"), term(f.body, "spooler")]),
            or(vec![
                term(f.title, "vpn"),
                term(f.body, "vpn"),
                term(f.body, "timeout"),
                term(f.title, "disk"),
            ]),
            // Not block-max WAND (a phrase in the union).
            or(vec![
                term(f.body, "driver"),
                Box::new(PhraseQuery::new(vec![
                    tantivy::Term::from_field_text(f.body, "disk"),
                    tantivy::Term::from_field_text(f.body, "full"),
                ])),
            ]),
            term(f.title, "nothing"),
        ];
        for q in &queries {
            // Every match, in tantivy's order (no truncation: score, then address).
            let all = searcher
                .search(q.as_ref(), &TopDocs::with_limit(10_000).order_by_score())
                .unwrap();
            for k in [1, 3, 6, 10, 50, 200] {
                let mine = super::top_docs(&searcher, q.as_ref(), k).unwrap();
                assert_eq!(mine, all[..k.min(all.len())], "{q:?} k={k}");
            }
        }
    }

    #[test]
    fn similar_finds_a_past_case_even_in_a_tiny_index() {
        let dir = tempfile::tempdir().unwrap();
        let (index, _) = KbIndex::open(dir.path()).unwrap();
        index
            .apply(vec![
                case(
                    1,
                    "Outlook keeps asking for the password",
                    "Cleared cached credentials.",
                ),
                case(2, "Printer offline", "Restarted the spooler."),
            ])
            .unwrap();
        let r = index
            .similar(
                "Password prompt in Outlook, asks for my password again",
                Some("ticket:9"),
                5,
            )
            .unwrap();
        assert!(!r.empty_query);
        assert_eq!(r.hits.len(), 1, "{r:?}");
        assert_eq!(r.hits[0].ticket_id, Some(1));
        assert!(
            r.hits[0].matched_terms.contains(&"outlook".to_owned()),
            "{:?}",
            r.hits[0].matched_terms
        );
    }
}
