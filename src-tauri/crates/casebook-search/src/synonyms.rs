//! Operations synonyms and abbreviations (`data/ops-synonyms.txt`), applied at query time: a
//! query saying `disk full` also searches `no space left on device`, `oom` also `out of memory`,
//! `pvc` also `persistent volume claim`, at a lower weight than what was typed.
//!
//! Matching is exact: list phrases are compared with consecutive clauses of the query by their
//! stems (ordinary words) or their letters and digits (identifiers, which only match when the list
//! names them, e.g. `ENOSPC`, `CrashLoopBackOff`, `x509`). Nothing is fuzzed, and an identifier
//! that is not in the list (a hostname, a ticket key) is never expanded.

use crate::query::{Clause, parse};
use crate::schema::{analyze, en_analyzer};
use std::sync::OnceLock;

/// The list, compiled into the binary.
const LIST: &str = include_str!("../data/ops-synonyms.txt");
/// Most alternative phrases added to one query.
pub const MAX_EXPANSIONS: usize = 8;

/// One word of a list phrase, in the two forms a query clause may be compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    /// English stem (compared with ordinary words).
    stem: String,
    /// Lower-cased letters and digits (compared with identifiers).
    key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Phrase {
    /// The text searched when this phrase is an alternative.
    text: String,
    /// Its words without stop words (what a query must contain, consecutively, to match it).
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    /// Phrases that trigger the group.
    from: Vec<Phrase>,
    /// Phrases searched when one of `from` is in the query (minus the matched one).
    to: Vec<Phrase>,
}

/// An alternative to search: `text`, standing for the query's clauses `first..=last`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    pub first: usize,
    pub last: usize,
    pub text: String,
}

fn key_of(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A list phrase, split into clauses exactly as a query is (so `back-off` is one identifier in
/// both, and stop words are left out of both).
fn phrase(text: &str, an: &mut tantivy::tokenizer::TextAnalyzer) -> Option<Phrase> {
    let text = text.trim();
    let tokens: Vec<Token> = parse(&format!("{text} "))
        .clauses
        .iter()
        .filter_map(|c| match c {
            Clause::Word { text, .. } => Some(Token {
                stem: analyze(an, text).concat(),
                key: key_of(text),
            }),
            Clause::Identifier { parts, .. } => Some(Token {
                stem: String::new(),
                key: parts.concat(),
            }),
            Clause::Phrase { .. } => None,
        })
        .filter(|t| !t.key.is_empty())
        .collect();
    (!tokens.is_empty()).then(|| Phrase {
        text: text.to_owned(),
        tokens,
    })
}

/// Parses the list format (see the data file's header). Lines that yield no phrase are skipped.
fn parse_list(text: &str) -> Vec<Group> {
    let mut an = en_analyzer();
    let mut groups = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut side =
            |s: &str| -> Vec<Phrase> { s.split('|').filter_map(|p| phrase(p, &mut an)).collect() };
        let (from, to) = match line.split_once("=>") {
            Some((l, r)) => (side(l), side(r)),
            // A group of one phrase has nothing to add.
            None => match side(line) {
                all if all.len() > 1 => (all.clone(), all),
                _ => continue,
            },
        };
        if !from.is_empty() && !to.is_empty() {
            groups.push(Group { from, to });
        }
    }
    groups
}

static GROUPS: OnceLock<Vec<Group>> = OnceLock::new();

fn groups() -> &'static [Group] {
    GROUPS.get_or_init(|| parse_list(LIST))
}

/// Uses another list (same format) instead of the shipped one, for this process: for trying a
/// list with `casebook eval --synonyms FILE`. Fails once a search has used the list.
pub fn use_list(text: &str) -> Result<usize, String> {
    let groups = parse_list(text);
    let n = groups.len();
    GROUPS
        .set(groups)
        .map_err(|_| "the synonym list is already in use".to_owned())?;
    Ok(n)
}

/// A query clause as the list sees it.
enum Seen {
    /// An ordinary word: its stem and its text.
    Word(String, String),
    /// An identifier: its letters and digits, lower-cased.
    Ident(String),
    Other,
}

fn matches(t: &Token, c: &Seen) -> bool {
    match c {
        Seen::Word(stem, text) => (!t.stem.is_empty() && *stem == t.stem) || *text == t.key,
        Seen::Ident(key) => *key == t.key,
        Seen::Other => false,
    }
}

/// The alternatives to search for a query's clauses (at most [`MAX_EXPANSIONS`]), longest
/// matches first. `stem` is the English stem of an ordinary word (the index's analyzer).
pub fn expand(clauses: &[Clause], stem: &mut dyn FnMut(&str) -> String) -> Vec<Expansion> {
    expand_with(groups(), clauses, stem)
}

fn expand_with(
    groups: &[Group],
    clauses: &[Clause],
    stem: &mut dyn FnMut(&str) -> String,
) -> Vec<Expansion> {
    let seen: Vec<Seen> = clauses
        .iter()
        .map(|c| match c {
            Clause::Word { text, .. } => Seen::Word(stem(text), key_of(text)),
            Clause::Identifier { parts, .. } => Seen::Ident(parts.concat()),
            Clause::Phrase { .. } => Seen::Other,
        })
        .collect();
    // (words matched, first clause, group, matched phrase)
    let mut found: Vec<(usize, usize, &Group, &Phrase)> = Vec::new();
    for g in groups {
        for p in &g.from {
            let n = p.tokens.len();
            if n > seen.len() {
                continue;
            }
            for start in 0..=seen.len() - n {
                if p.tokens
                    .iter()
                    .zip(&seen[start..start + n])
                    .all(|(t, c)| matches(t, c))
                {
                    found.push((n, start, g, p));
                }
            }
        }
    }
    found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<Expansion> = Vec::new();
    for (n, start, g, matched) in found {
        for alt in &g.to {
            if alt == matched || out.iter().any(|e| e.text == alt.text) {
                continue;
            }
            // Already said in the query: nothing to add.
            let said = alt
                .tokens
                .iter()
                .all(|t| seen.iter().any(|c| matches(t, c)));
            if said {
                continue;
            }
            if out.len() >= MAX_EXPANSIONS {
                return out;
            }
            out.push(Expansion {
                first: start,
                last: start + n - 1,
                text: alt.text.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;

    fn stemmer() -> impl FnMut(&str) -> String {
        let mut an = en_analyzer();
        move |w| analyze(&mut an, w).concat()
    }

    fn alts(q: &str) -> Vec<(usize, usize, String)> {
        expand(&parse(q).clauses, &mut stemmer())
            .into_iter()
            .map(|e| (e.first, e.last, e.text))
            .collect()
    }

    #[test]
    fn the_shipped_list_parses_into_groups() {
        let g = groups();
        assert!(g.len() > 50, "{}", g.len());
        // Every line of the file that is not a comment became a group.
        let lines = LIST
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim().starts_with('#'))
            .count();
        assert_eq!(g.len(), lines);
    }

    #[test]
    fn words_and_phrases_expand_both_ways_by_their_stems() {
        let a = alts("disk full on node ");
        assert!(
            a.contains(&(0, 1, "no space left on device".into())),
            "{a:?}"
        );
        assert!(a.contains(&(0, 1, "enospc".into())), "{a:?}");
        // Stemmed: "certificates" matches the list's "certificates", "expiring" is not listed.
        let a = alts("kubelet cert expiring ");
        assert!(a.contains(&(1, 1, "certificate".into())), "{a:?}");
        let a = alts("No space left on device");
        assert!(
            a.iter().any(|e| e.2 == "disk full" && (e.0, e.1) == (0, 2)),
            "{a:?}"
        );
    }

    #[test]
    fn identifiers_expand_only_when_listed_exactly() {
        let a = alts("CrashLoopBackOff ");
        assert!(a.iter().any(|e| e.2 == "crash loop"), "{a:?}");
        let a = alts("ENOSPC ");
        assert!(a.iter().any(|e| e.2 == "no space left on device"), "{a:?}");
        // One way: x509 → certificate, not certificate → x509.
        assert!(alts("x509: expired ").iter().any(|e| e.2 == "certificate"));
        assert!(!alts("certificate ").iter().any(|e| e.2 == "x509"));
        // Never near matches of identifiers, nor unlisted ones.
        assert!(alts("CrashLoopBackOf ").is_empty());
        assert!(alts("db-01.prod INC0012345 10.0.0.1 ").is_empty());
        // A quoted phrase is taken as typed.
        assert!(alts("\"disk full\" ").is_empty());
        // A pasted kubelet event: `Back-off` is one identifier in the query and in the list.
        let a = alts("Back-off restarting failed container");
        assert!(
            a.iter()
                .any(|e| e.2 == "crash loop" && (e.0, e.1) == (0, 3)),
            "{a:?}"
        );
    }

    #[test]
    fn nothing_already_in_the_query_is_added_and_expansions_are_capped() {
        let a = alts("pvc persistent volume claim ");
        assert!(!a.iter().any(|e| e.2 == "persistent volume claim"), "{a:?}");
        let many = alts("oom cert pvc hpa k8s ntp mtu nic vm osd mds cvo mcd ");
        assert_eq!(many.len(), MAX_EXPANSIONS);
    }

    #[test]
    fn one_way_and_symmetric_lines_are_parsed() {
        let g = parse_list("# c\nx | y z\n500 | 503 => 5xx\nlonely\nthe | disk\n");
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].from.len(), 2);
        assert_eq!(g[0].from, g[0].to);
        assert_eq!(g[1].from.len(), 2);
        assert_eq!(g[1].to.len(), 1);
        assert_eq!(g[1].to[0].text, "5xx");
        // `lonely` has nothing to add, and `the` is only a stop word: neither makes a group.
    }
}
