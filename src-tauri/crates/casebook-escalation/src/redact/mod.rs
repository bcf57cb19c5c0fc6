//! Redaction of personal data and secrets, on the machine, before anything leaves it.
//!
//! A [`Redactor`] is made once per package: it hands out consistent pseudonyms (the same email is
//! `<email-1>` in every section and extract of the package), so the evidence stays correlatable.
//! Every call returns the spans it replaced (kind, byte range in the original, placeholder) for a
//! preview, and the redactor keeps an [`AuditSummary`] of kinds and counts — never values.
//!
//! Speed: see [`detect`] — one `memchr` pass, one Aho-Corasick pass over trigger literals and one
//! token loop for the numeric shapes, instead of a regex per kind over every line.

mod detect;
mod kind;

pub use kind::Kind;

use detect::{Candidate, DetectOptions, Detector};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};

/// A rule the agent adds: a regular expression (or a literal) and the label its placeholder gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct CustomRule {
    /// Lower-case letters, digits and `-` (it appears in placeholders: `<customer-id-1>`).
    pub label: String,
    pub pattern: String,
    /// Match `pattern` as plain text rather than a regular expression.
    #[serde(default)]
    pub literal: bool,
}

/// What to redact beyond the always-on kinds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct RedactOptions {
    pub ipv4: bool,
    pub ipv6: bool,
    /// Keep loopback, unspecified and broadcast addresses (127.0.0.1, ::1, 0.0.0.0): they name no
    /// one.
    pub keep_loopback: bool,
    pub custom_rules: Vec<CustomRule>,
    /// Values the agent decided are not sensitive (undo of a redaction): never replaced.
    pub allow: Vec<String>,
}

impl Default for RedactOptions {
    fn default() -> Self {
        RedactOptions {
            ipv4: true,
            ipv6: true,
            keep_loopback: true,
            custom_rules: Vec::new(),
            allow: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RedactError {
    #[error("custom rule '{label}': {reason}")]
    BadRule { label: String, reason: String },
    #[error("reading the input: {0}")]
    Read(String),
    #[error("writing the output: {0}")]
    Write(String),
    #[error("cancelled")]
    Cancelled,
}

/// One replaced range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub kind: Kind,
    /// The placeholder label (`email`, or a custom rule's label).
    pub label: String,
    /// Byte range in the original text.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub start: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub end: u64,
    pub placeholder: String,
}

/// Kinds and counts of what was redacted — never the values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct AuditSummary {
    /// Redactions per label (`email`, `jwt`, custom labels).
    #[cfg_attr(feature = "ts", ts(type = "Record<string, number>"))]
    pub counts: BTreeMap<String, u64>,
    /// Distinct values per label (how many different emails, …).
    #[cfg_attr(feature = "ts", ts(type = "Record<string, number>"))]
    pub distinct: BTreeMap<String, u64>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total: u64,
}

/// The result of redacting one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    pub spans: Vec<Span>,
}

/// Bytes of lookahead a chunk's detectors may read past the chunk's cut (a private key, a HAR
/// cookie array split across the cut is still found whole).
const LOOKAHEAD: usize = 64 * 1024;
/// Chunk size for streaming.
const CHUNK: usize = 4 * 1024 * 1024;

struct Rule {
    label: String,
    re: regex::bytes::Regex,
}

/// One label's pseudonym table. Keys are 64-bit keyed hashes of the values (SipHash with this
/// redactor's random keys), not the values: the table costs a few dozen bytes per distinct value
/// however long the values are, and holds no value a memory dump could show. Two values
/// colliding would share a placeholder (about 1 in 10^7 for a million distinct values) — a
/// correlation error, never a leak.
#[derive(Default)]
struct Pseudonyms {
    next: u32,
    seen: HashMap<u64, u32, BuildNoHash>,
}

/// The keys are already hashes.
#[derive(Default, Clone, Copy)]
struct BuildNoHash;

impl std::hash::BuildHasher for BuildNoHash {
    type Hasher = NoHash;
    fn build_hasher(&self) -> NoHash {
        NoHash(0)
    }
}

struct NoHash(u64);

impl std::hash::Hasher for NoHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Redacts text for one package. Not `Sync`: one per package, used from one thread at a time.
pub struct Redactor {
    detector: Detector,
    rules: Vec<Rule>,
    allow: Vec<Box<[u8]>>,
    names: HashMap<String, Pseudonyms>,
    hasher: std::collections::hash_map::RandomState,
    audit: AuditSummary,
    scratch: Vec<Candidate>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the pseudonym table: it holds the values.
        f.debug_struct("Redactor")
            .field("audit", &self.audit)
            .finish_non_exhaustive()
    }
}

fn valid_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 40
        && l.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Redactor {
    pub fn new(opts: &RedactOptions) -> Result<Redactor, RedactError> {
        let mut rules = Vec::with_capacity(opts.custom_rules.len());
        for r in &opts.custom_rules {
            let bad = |reason: String| RedactError::BadRule {
                label: r.label.clone(),
                reason,
            };
            if !valid_label(&r.label) {
                return Err(bad(
                    "the label must be 1–40 lower-case letters, digits or '-'".into(),
                ));
            }
            if r.pattern.is_empty() {
                return Err(bad("the pattern is empty".into()));
            }
            let pattern = if r.literal {
                regex::escape(&r.pattern)
            } else {
                r.pattern.clone()
            };
            let re = regex::bytes::RegexBuilder::new(&pattern)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| bad(format!("invalid pattern: {e}")))?;
            if re.is_match(b"") {
                return Err(bad("the pattern matches empty text".into()));
            }
            rules.push(Rule {
                label: r.label.clone(),
                re,
            });
        }
        Ok(Redactor {
            detector: Detector::new(DetectOptions {
                ipv4: opts.ipv4,
                ipv6: opts.ipv6,
                keep_loopback: opts.keep_loopback,
            }),
            rules,
            allow: opts
                .allow
                .iter()
                .filter(|a| !a.is_empty())
                .map(|a| a.as_bytes().into())
                .collect(),
            names: HashMap::new(),
            hasher: std::collections::hash_map::RandomState::new(),
            audit: AuditSummary::default(),
            scratch: Vec::new(),
        })
    }

    /// What has been redacted so far by this redactor.
    pub fn audit(&self) -> &AuditSummary {
        &self.audit
    }

    /// Redacts a text; spans are byte ranges in `text`.
    pub fn redact(&mut self, text: &str) -> Redacted {
        let mut out = Vec::with_capacity(text.len());
        let mut spans = Vec::new();
        self.redact_region(text.as_bytes(), text.len(), 0, &mut out, Some(&mut spans));
        // Placeholders are ASCII and every span boundary found by the detectors lies on an ASCII
        // byte or the end of a UTF-8 sequence, except in custom regex matches: a lossy pass is a
        // no-op for valid output and can only replace broken bytes, never reveal any.
        let text = match String::from_utf8(out) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Redacted { text, spans }
    }

    /// Redacts raw bytes (invalid UTF-8 passes through unchanged).
    pub fn redact_bytes(&mut self, input: &[u8]) -> (Vec<u8>, Vec<Span>) {
        let mut out = Vec::with_capacity(input.len());
        let mut spans = Vec::new();
        self.redact_region(input, input.len(), 0, &mut out, Some(&mut spans));
        (out, spans)
    }

    /// Streams `input` to `output` in chunks, with bounded memory. `progress` gets the bytes read
    /// so far and returns `false` to cancel.
    pub fn redact_stream(
        &mut self,
        mut input: impl Read,
        mut output: impl Write,
        mut progress: impl FnMut(u64) -> bool,
    ) -> Result<u64, RedactError> {
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + LOOKAHEAD);
        let mut out = Vec::with_capacity(CHUNK + LOOKAHEAD);
        let mut offset = 0u64;
        let mut eof = false;
        let mut read_total = 0u64;
        loop {
            while !eof && buf.len() < CHUNK + LOOKAHEAD {
                let old = buf.len();
                buf.resize(CHUNK + LOOKAHEAD, 0);
                match input.read(&mut buf[old..]) {
                    Ok(0) => {
                        buf.truncate(old);
                        eof = true;
                    }
                    Ok(n) => {
                        buf.truncate(old + n);
                        read_total += n as u64;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => buf.truncate(old),
                    Err(e) => return Err(RedactError::Read(e.to_string())),
                }
            }
            if buf.is_empty() {
                break;
            }
            // Cut after the last newline before the lookahead (a line is never split unless it is
            // longer than a chunk).
            let cut = if eof {
                buf.len()
            } else {
                let lim = buf.len() - LOOKAHEAD;
                memchr::memrchr(b'\n', &buf[..lim]).map_or(lim, |p| p + 1)
            };
            out.clear();
            let consumed = self.redact_region(&buf, cut, offset, &mut out, None);
            output
                .write_all(&out)
                .map_err(|e| RedactError::Write(e.to_string()))?;
            buf.drain(..consumed);
            offset += consumed as u64;
            if !progress(read_total) {
                return Err(RedactError::Cancelled);
            }
            if eof && buf.is_empty() {
                break;
            }
        }
        output
            .flush()
            .map_err(|e| RedactError::Write(e.to_string()))?;
        Ok(offset)
    }

    /// Redacts `buf[..cut]` (the detectors may read all of `buf`) into `out`. Returns how many
    /// bytes of `buf` were consumed: `cut`, or more when a span that starts before the cut ends
    /// after it.
    fn redact_region(
        &mut self,
        buf: &[u8],
        cut: usize,
        base: u64,
        out: &mut Vec<u8>,
        mut spans: Option<&mut Vec<Span>>,
    ) -> usize {
        let mut cands = std::mem::take(&mut self.scratch);
        cands.clear();
        self.detector.scan(buf, &mut cands);
        for (idx, rule) in self.rules.iter().enumerate() {
            for m in rule.re.find_iter(buf) {
                if m.start() >= cut {
                    break;
                }
                if m.end() > m.start() {
                    cands.push(Candidate {
                        start: m.start(),
                        end: m.end(),
                        kind: Kind::Custom,
                        rule: idx as u16,
                    });
                }
            }
        }
        cands.retain(|c| c.start < cut);
        let resolved = resolve(&mut cands);
        let mut pos = 0;
        for c in resolved {
            let value = &buf[c.start..c.end];
            // Already a placeholder (text redacted before, re-scanned): nothing to hide.
            if is_placeholder(value) || self.allow.iter().any(|a| **a == *value) {
                continue;
            }
            out.extend_from_slice(&buf[pos..c.start]);
            let label: &str = match c.kind {
                Kind::Custom => &self.rules[c.rule as usize].label,
                k => k.label(),
            };
            let key = std::hash::BuildHasher::hash_one(&self.hasher, value);
            let n = pseudonym(&mut self.names, &mut self.audit, label, key);
            let at = out.len();
            write_placeholder(out, label, n);
            if let Some(s) = spans.as_deref_mut() {
                s.push(Span {
                    kind: c.kind,
                    label: label.to_owned(),
                    start: base + c.start as u64,
                    end: base + c.end as u64,
                    placeholder: String::from_utf8_lossy(&out[at..]).into_owned(),
                });
            }
            pos = c.end;
        }
        let consumed = cut.max(pos);
        out.extend_from_slice(&buf[pos..consumed]);
        self.scratch = cands;
        consumed
    }
}

/// The pseudonym number of a value (by its keyed hash) under `label`; counts it in the audit.
fn pseudonym(
    names: &mut HashMap<String, Pseudonyms>,
    audit: &mut AuditSummary,
    label: &str,
    key: u64,
) -> u32 {
    match audit.counts.get_mut(label) {
        Some(c) => *c += 1,
        None => {
            audit.counts.insert(label.to_owned(), 1);
        }
    }
    audit.total += 1;
    if !names.contains_key(label) {
        names.insert(label.to_owned(), Pseudonyms::default());
    }
    let Some(table) = names.get_mut(label) else {
        unreachable!("inserted above");
    };
    let next = table.next + 1;
    let n = *table.seen.entry(key).or_insert(next);
    if n == next {
        table.next = next;
        *audit.distinct.entry(label.to_owned()).or_default() += 1;
    }
    n
}

/// Appends `<label-n>` without allocating.
fn write_placeholder(out: &mut Vec<u8>, label: &str, n: u32) {
    out.push(b'<');
    out.extend_from_slice(label.as_bytes());
    out.push(b'-');
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut v = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.push(b'>');
}

/// `<label-N>`: what this module writes in place of a value.
fn is_placeholder(v: &[u8]) -> bool {
    let Some(inner) = v.strip_prefix(b"<").and_then(|v| v.strip_suffix(b">")) else {
        return false;
    };
    let Some(dash) = memchr::memrchr(b'-', inner) else {
        return false;
    };
    let (label, n) = (&inner[..dash], &inner[dash + 1..]);
    !label.is_empty()
        && !n.is_empty()
        && n.iter().all(u8::is_ascii_digit)
        && label
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// Sorts candidates and merges overlaps: overlapping findings become one span covering the bytes
/// of both (so no part of either survives), named by the kind of higher priority.
fn resolve(cands: &mut [Candidate]) -> Vec<Candidate> {
    cands.sort_unstable_by_key(|c| (c.start, std::cmp::Reverse(c.end)));
    let mut out: Vec<Candidate> = Vec::with_capacity(cands.len());
    for &c in cands.iter() {
        match out.last_mut() {
            Some(last) if c.start < last.end => {
                last.end = last.end.max(c.end);
                if c.kind.priority() > last.kind.priority() {
                    last.kind = c.kind;
                    last.rule = c.rule;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Redacts one text with default options (a fresh pseudonym table).
pub fn redact_text(text: &str) -> Redacted {
    match Redactor::new(&RedactOptions::default()) {
        Ok(mut r) => r.redact(text),
        // Default options have no custom rules: construction cannot fail.
        Err(e) => unreachable!("default redactor: {e}"),
    }
}

#[cfg(test)]
mod tests;
