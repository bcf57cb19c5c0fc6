//! English stemming with a memo of the words already stemmed.
//!
//! Profiling the 1M-document bench put about a sixth of all indexing time in the Snowball
//! English stemmer (tantivy's `Stemmer` filter calls it for every token). Prose repeats its
//! words, so each analyzer keeps the stems it has computed: a hash lookup replaces the algorithm
//! for every word seen before. The stems are exactly the algorithm's (same `frostem` crate and
//! version tantivy uses), so the index terms do not change. tantivy clones an analyzer per field
//! and per indexing thread, so the memo needs no lock; it stops growing at [`MEMO_LIMIT`] words.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use tantivy::tokenizer::{Token, TokenFilter, TokenStream, Tokenizer};

/// Words remembered per analyzer (a few MiB at most).
pub const MEMO_LIMIT: usize = 65_536;

/// FxHash-style hasher for short words (the default SipHash costs as much as a short stem).
#[derive(Default, Clone, Copy)]
pub struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Memo = HashMap<Box<str>, Box<str>, BuildHasherDefault<WordHasher>>;

/// The English Snowball stemmer as a token filter, memoised. Tokens are expected lower-cased.
#[derive(Clone, Copy, Default)]
pub struct MemoStemmer;

impl TokenFilter for MemoStemmer {
    type Tokenizer<T: Tokenizer> = MemoStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> MemoStemmerFilter<T> {
        MemoStemmerFilter {
            inner: tokenizer,
            memo: Memo::default(),
        }
    }
}

#[derive(Clone)]
pub struct MemoStemmerFilter<T> {
    inner: T,
    memo: Memo,
}

impl<T: Tokenizer> Tokenizer for MemoStemmerFilter<T> {
    type TokenStream<'a> = MemoStemmerStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        MemoStemmerStream {
            tail: self.inner.token_stream(text),
            memo: &mut self.memo,
            stemmer: None,
        }
    }
}

pub struct MemoStemmerStream<'a, S> {
    tail: S,
    memo: &'a mut Memo,
    /// Created on the first word not in the memo.
    stemmer: Option<frostem::Stemmer>,
}

impl<S: TokenStream> TokenStream for MemoStemmerStream<'_, S> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if let Some(stem) = self.memo.get(token.text.as_str()) {
            if **stem != *token.text {
                token.text.clear();
                token.text.push_str(stem);
            }
            return true;
        }
        let stemmer = self
            .stemmer
            .get_or_insert_with(|| frostem::Stemmer::new(frostem::Algorithm::English));
        let stem: Option<String> = match stemmer.stem(&token.text) {
            Cow::Borrowed(s) if s == token.text => None,
            other => Some(other.into_owned()),
        };
        if self.memo.len() < MEMO_LIMIT {
            let value = stem.as_deref().unwrap_or(&token.text);
            self.memo.insert(token.text.as_str().into(), value.into());
        }
        if let Some(s) = stem {
            token.text = s;
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::tokenizer::{
        AsciiFoldingFilter, Language, LowerCaser, SimpleTokenizer, Stemmer, TextAnalyzer,
    };

    fn terms(a: &mut TextAnalyzer, text: &str) -> Vec<String> {
        crate::schema::analyze(a, text)
    }

    #[test]
    fn memoised_stems_equal_tantivys_stemmer() {
        let mut memo = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .filter(MemoStemmer)
            .build();
        let mut plain = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .filter(Stemmer::new(Language::English))
            .build();
        let text = "Pods crashing; the crashing pods were restarted, restarting again. \
                    Configuration configurations generously running runs ran running \
                    connection connections connected Écoles écoles a the is";
        // Twice: the second pass is answered from the memo.
        for _ in 0..2 {
            assert_eq!(terms(&mut memo, text), terms(&mut plain, text));
        }
        assert_eq!(
            terms(&mut memo, "crashing crashing pods"),
            vec!["crash", "crash", "pod"]
        );
    }

    #[test]
    fn stems_past_the_memo_limit_are_still_the_algorithms() {
        let mut memo = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(MemoStemmer)
            .build();
        let mut plain = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(Stemmer::new(Language::English))
            .build();
        let words: String = (0..MEMO_LIMIT + 500)
            .map(|i| format!("word{i}ing "))
            .collect();
        assert_eq!(terms(&mut memo, &words), terms(&mut plain, &words));
        assert_eq!(
            terms(&mut memo, "running word70000ing"),
            terms(&mut plain, "running word70000ing")
        );
    }
}
