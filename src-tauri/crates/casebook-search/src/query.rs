//! Query text → clauses. Pure and cheap: no index access, so it can be property-tested.
//!
//! - Words are ordinary prose (`printer`, `Timeout`): lower-cased; long ones may be matched with
//!   a typo (edit distance 1 from 5 letters, 2 from 9).
//! - Identifiers are everything else (`KubePodCrashLooping`, `INC0010001`, `10.0.0.1`,
//!   `db-01.prod`, `ERR_CONN_RESET`, `0x80070005`, `ENOSPC`, trace ids, numbers): never fuzzed;
//!   one with inner punctuation is matched as the phrase of its parts.
//! - `"quoted text"` is a phrase.
//! - The last word or identifier, when the text does not end with a space, also matches as a
//!   prefix (as you type).
//! - Stop words are dropped (a query of only stop words has no clauses and matches nothing).

/// Longest query text considered (bytes); the rest is ignored.
pub const MAX_QUERY_BYTES: usize = 1_024;
/// Most clauses kept from one query.
pub const MAX_CLAUSES: usize = 24;
/// Shortest prefix expanded as you type.
pub const MIN_PREFIX_CHARS: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    /// An ordinary word (lower-cased).
    Word {
        text: String,
        fuzzy: u8,
        prefix: bool,
    },
    /// An identifier: `parts` are its lower-cased alphanumeric pieces (one or more).
    Identifier {
        raw: String,
        parts: Vec<String>,
        prefix: bool,
    },
    /// A quoted phrase: lower-cased alphanumeric pieces.
    Phrase { parts: Vec<String> },
}

impl Clause {
    /// The clause's pieces (what is looked up in the index).
    pub fn parts(&self) -> Vec<&str> {
        match self {
            Clause::Word { text, .. } => vec![text.as_str()],
            Clause::Identifier { parts, .. } | Clause::Phrase { parts } => {
                parts.iter().map(String::as_str).collect()
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    pub clauses: Vec<Clause>,
    /// Stop words left out.
    pub stop_words: usize,
    /// Whether the text was cut at [`MAX_QUERY_BYTES`] or [`MAX_CLAUSES`].
    pub truncated: bool,
}

impl ParsedQuery {
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }
}

/// English stop words (short function words that carry no meaning in a search).
pub const STOP_WORDS: &[&str] = &[
    "a", "about", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do",
    "does", "for", "from", "had", "has", "have", "he", "her", "his", "how", "i", "if", "in",
    "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "she", "so",
    "such", "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "was",
    "we", "were", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you",
    "your",
];

pub fn is_stop_word(w: &str) -> bool {
    STOP_WORDS.binary_search(&w).is_ok()
}

/// Edit distance allowed for an ordinary word of this many characters.
pub fn fuzzy_distance(chars: usize) -> u8 {
    match chars {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

fn alnum_parts(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        // Lower-casing can add a combining mark (`İ` → `i̇`): keep the letters and digits.
        .map(|p| p.to_lowercase().replace(|c: char| !c.is_alphanumeric(), ""))
        .filter(|p| !p.is_empty())
        .collect()
}

/// Whether a token (with no surrounding punctuation) is an ordinary word: letters only, and
/// either all lower-case or capitalized (`Printer`). CamelCase, ALL-CAPS (error names such as
/// `ENOSPC`), digits or inner punctuation make it an identifier.
fn is_ordinary_word(tok: &str) -> bool {
    let mut chars = tok.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    first.is_alphabetic() && chars.all(|c| c.is_alphabetic() && c.is_lowercase())
}

/// Parses query text. Never fails: anything unusable is ignored.
pub fn parse(text: &str) -> ParsedQuery {
    let mut truncated = false;
    let mut text = text;
    if text.len() > MAX_QUERY_BYTES {
        let mut cut = MAX_QUERY_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text = &text[..cut];
        truncated = true;
    }
    let typing = !text.ends_with(|c: char| c.is_whitespace() || c == '"');
    let mut out = ParsedQuery::default();
    let mut rest = text;
    let mut pending: Vec<(Clause, bool)> = Vec::new(); // (clause, is the text's last token)
    while !rest.is_empty() {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        if let Some(after) = rest.strip_prefix('"') {
            let (inner, next) = match after.find('"') {
                Some(end) => (&after[..end], &after[end + 1..]),
                None => (after, ""),
            };
            rest = next;
            let parts = alnum_parts(inner);
            match parts.len() {
                0 => {}
                1 => pending.push((classify(inner.trim(), &parts), false)),
                _ => pending.push((Clause::Phrase { parts }, false)),
            }
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '"')
            .unwrap_or(rest.len());
        let tok = &rest[..end];
        rest = &rest[end..];
        let core = tok.trim_matches(|c: char| !c.is_alphanumeric());
        let parts = alnum_parts(core);
        if parts.is_empty() {
            continue;
        }
        let last = rest.is_empty();
        pending.push((classify(core, &parts), last));
    }
    for (clause, last) in pending {
        if out.clauses.len() >= MAX_CLAUSES {
            truncated = true;
            break;
        }
        let clause = match clause {
            Clause::Word { text, .. } if is_stop_word(&text) => {
                out.stop_words += 1;
                continue;
            }
            Clause::Word { text, fuzzy, .. } => Clause::Word {
                prefix: last && typing && text.chars().count() >= MIN_PREFIX_CHARS,
                text,
                fuzzy,
            },
            Clause::Identifier { raw, parts, .. } => Clause::Identifier {
                prefix: last
                    && typing
                    && parts.len() == 1
                    && parts[0].chars().count() >= MIN_PREFIX_CHARS,
                raw,
                parts,
            },
            phrase => phrase,
        };
        if !out.clauses.contains(&clause) {
            out.clauses.push(clause);
        }
    }
    out.truncated = truncated;
    out
}

fn classify(core: &str, parts: &[String]) -> Clause {
    if parts.len() == 1 && is_ordinary_word(core) {
        let text = parts[0].clone();
        let fuzzy = fuzzy_distance(text.chars().count());
        Clause::Word {
            text,
            fuzzy,
            prefix: false,
        }
    } else {
        Clause::Identifier {
            raw: core.to_owned(),
            parts: parts.to_vec(),
            prefix: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn word(t: &str, fuzzy: u8, prefix: bool) -> Clause {
        Clause::Word {
            text: t.into(),
            fuzzy,
            prefix,
        }
    }

    #[test]
    fn lower_casing_keeps_parts_alphanumeric() {
        // `İ` lower-cases to `i` and a combining dot (found by the property test below).
        assert_eq!(
            parse("İstanbul VPN ").clauses[0],
            word("istanbul", 1, false)
        );
        assert_eq!(parse("İ").clauses.len(), 0, "a lone `i` is a stop word");
    }

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        let mut s = STOP_WORDS.to_vec();
        s.sort();
        assert_eq!(s, STOP_WORDS);
    }

    #[test]
    fn words_phrases_and_prefix() {
        let q = parse("the Printer is \"paper jam\" offlin");
        assert_eq!(
            q.clauses,
            vec![
                word("printer", 1, false),
                Clause::Phrase {
                    parts: vec!["paper".into(), "jam".into()]
                },
                word("offlin", 1, true),
            ]
        );
        assert_eq!(q.stop_words, 2);
        // A trailing space ends the word: no prefix.
        assert_eq!(parse("offline ").clauses, vec![word("offline", 1, false)]);
    }

    #[test]
    fn identifiers_are_never_fuzzy() {
        for id in [
            "KubePodCrashLooping",
            "INC0010001",
            "10.0.0.1",
            "db-01.prod.example.com",
            "ERR_CONNECTION_RESET",
            "0x80070005",
            "ENOSPC",
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "12345",
            "etcdHighNumberOfFailedGRPCRequests",
        ] {
            let q = parse(&format!("{id} "));
            assert_eq!(q.clauses.len(), 1, "{id}");
            assert!(
                matches!(&q.clauses[0], Clause::Identifier { .. }),
                "{id} → {:?}",
                q.clauses
            );
        }
        let q = parse("10.0.0.1 ");
        assert_eq!(q.clauses[0].parts(), vec!["10", "0", "0", "1"]);
    }

    #[test]
    fn degenerate_queries_have_no_clauses() {
        assert!(parse("").is_empty());
        assert!(parse("the of and to a").is_empty());
        assert!(parse("?!... --- ;;; \"\"").is_empty());
        let long = "word ".repeat(2_000);
        let q = parse(&long);
        assert!(q.truncated);
        assert!(q.clauses.len() <= MAX_CLAUSES);
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_respects_limits(s in "\\PC{0,300}") {
            let q = parse(&s);
            prop_assert!(q.clauses.len() <= MAX_CLAUSES);
            for c in &q.clauses {
                prop_assert!(!c.parts().is_empty());
                for p in c.parts() {
                    prop_assert!(!p.is_empty());
                    prop_assert!(p.chars().all(char::is_alphanumeric));
                }
            }
        }

        #[test]
        fn tokens_with_digits_or_inner_capitals_are_never_fuzzy(
            head in "[a-z]{1,6}",
            tail in "[A-Z0-9][a-zA-Z0-9]{0,8}",
        ) {
            let q = parse(&format!("{head}{tail} "));
            for c in &q.clauses {
                let fuzzy_word = matches!(c, Clause::Word { fuzzy, .. } if *fuzzy > 0);
                prop_assert!(!fuzzy_word, "{:?}", c);
            }
        }

        #[test]
        fn dotted_and_dashed_identifiers_keep_all_parts(
            parts in proptest::collection::vec("[a-z0-9]{1,5}", 2..5),
            sep in "[-._:/]",
        ) {
            let text = parts.join(&sep);
            let q = parse(&format!("{text} "));
            prop_assert_eq!(q.clauses.len(), 1);
            prop_assert!(
                matches!(&q.clauses[0], Clause::Identifier { parts: p, .. } if *p == parts),
                "{:?}", q.clauses
            );
        }
    }
}
