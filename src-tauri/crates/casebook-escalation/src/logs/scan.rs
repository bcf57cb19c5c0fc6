//! Per-line extraction: request ids, W3C trace ids, UUIDs, HTTP status codes, the error level,
//! and the signature of an error line (numbers, ids and hex masked).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    RequestId,
    TraceId,
    Traceparent,
    Status,
    Http,
}

const KEYS: &[(&str, Key)] = &[
    ("request_id", Key::RequestId),
    ("request-id", Key::RequestId),
    ("requestid", Key::RequestId),
    ("req_id", Key::RequestId),
    ("req-id", Key::RequestId),
    ("correlation_id", Key::RequestId),
    ("correlation-id", Key::RequestId),
    ("correlationid", Key::RequestId),
    ("trace_id", Key::TraceId),
    ("trace-id", Key::TraceId),
    ("traceid", Key::TraceId),
    ("traceparent", Key::Traceparent),
    ("status", Key::Status),
    ("HTTP/", Key::Http),
];

/// What one line yielded.
#[derive(Debug, Default)]
pub(crate) struct LineFacts<'a> {
    pub request_ids: Vec<&'a [u8]>,
    pub trace_ids: Vec<&'a [u8]>,
    pub uuids: Vec<&'a [u8]>,
    pub status: Option<u16>,
}

pub(crate) struct Scanner {
    keys: AhoCorasick,
}

impl Scanner {
    pub fn new() -> Scanner {
        let keys = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(KEYS.iter().map(|(k, _)| k))
            .unwrap_or_else(|e| unreachable!("fixed key automaton: {e}"));
        Scanner { keys }
    }

    pub fn facts<'a>(&self, line: &'a [u8], facts: &mut LineFacts<'a>) {
        for m in self.keys.find_iter(line) {
            let (_, key) = KEYS[m.pattern().as_usize()];
            let e = m.end();
            match key {
                Key::RequestId => {
                    if let Some(v) = value_after(line, e) {
                        facts.request_ids.push(v);
                    }
                }
                Key::TraceId => {
                    if let Some(v) = value_after(line, e) {
                        // A traceparent given as trace_id: keep its trace id part.
                        facts.trace_ids.push(traceparent_trace(v).unwrap_or(v));
                    }
                }
                Key::Traceparent => {
                    // `traceparent: 00-…`, or HAR's `"name": "traceparent", "value": "00-…"`.
                    let near = &line[e..line.len().min(e + 48)];
                    let t = value_after(line, e)
                        .and_then(traceparent_trace)
                        .or_else(|| {
                            memchr::memmem::find(near, b"00-")
                                .and_then(|p| traceparent_trace(&line[e + p..]))
                        });
                    if let Some(t) = t {
                        facts.trace_ids.push(t);
                    }
                }
                Key::Status => {
                    if facts.status.is_none() {
                        facts.status = value_after(line, e).and_then(status_code);
                    }
                }
                Key::Http => {
                    // `"GET /x HTTP/1.1" 503 1234` (access logs) or `HTTP/1.1 503 Service …`.
                    if facts.status.is_none() {
                        let mut p = e;
                        while p < line.len() && (line[p].is_ascii_digit() || line[p] == b'.') {
                            p += 1;
                        }
                        if line.get(p) == Some(&b'"') {
                            p += 1;
                        }
                        if line.get(p) == Some(&b' ') {
                            facts.status = status_code(token(line, p + 1));
                        }
                    }
                }
            }
        }
        uuids(line, &mut facts.uuids);
    }
}

fn token(line: &[u8], s: usize) -> &[u8] {
    let mut e = s;
    while e < line.len()
        && (line[e].is_ascii_alphanumeric()
            || matches!(line[e], b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'='))
    {
        e += 1;
    }
    &line[s.min(line.len())..e]
}

/// The value after a key: `key=v`, `key: v`, `"key": "v"`, `key="v"`, `[key v]` is not one.
fn value_after(line: &[u8], e: usize) -> Option<&[u8]> {
    let mut p = e;
    // The rest of an identifier is not allowed (`request_ids_total` is another key).
    if line
        .get(p)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    {
        return None;
    }
    if line.get(p) == Some(&b'"') {
        p += 1;
    }
    while line.get(p) == Some(&b' ') {
        p += 1;
    }
    if !matches!(line.get(p), Some(b'=' | b':')) {
        return None;
    }
    p += 1;
    while matches!(line.get(p), Some(b' ' | b'"' | b'\'')) {
        p += 1;
    }
    let v = token(line, p);
    (v.len() >= 3 && v.len() <= 128).then_some(v)
}

fn is_hex(s: &[u8]) -> bool {
    s.iter().all(u8::is_ascii_hexdigit)
}

/// The trace id of a W3C traceparent: `00-<32 hex trace id>-<16 hex parent>-<2 hex flags>`.
pub(crate) fn traceparent_trace(v: &[u8]) -> Option<&[u8]> {
    if v.len() < 55 || v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return None;
    }
    let trace = &v[3..35];
    (is_hex(&v[..2])
        && is_hex(trace)
        && is_hex(&v[36..52])
        && is_hex(&v[53..55])
        && trace.iter().any(|&b| b != b'0'))
    .then_some(trace)
}

fn status_code(v: &[u8]) -> Option<u16> {
    if v.len() != 3 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = (v[0] - b'0') as u16 * 100 + (v[1] - b'0') as u16 * 10 + (v[2] - b'0') as u16;
    (100..=599).contains(&n).then_some(n)
}

/// UUIDs (8-4-4-4-12 hex), found from their dashes.
fn uuids<'a>(line: &'a [u8], out: &mut Vec<&'a [u8]>) {
    let mut from = 0;
    while let Some(d) = memchr::memchr(b'-', &line[from..]) {
        let d = from + d;
        from = d + 1;
        if d < 8 {
            continue;
        }
        let s = d - 8;
        let Some(cand) = line.get(s..s + 36) else {
            break;
        };
        if cand[13] == b'-'
            && cand[18] == b'-'
            && cand[23] == b'-'
            && is_hex(&cand[..8])
            && is_hex(&cand[9..13])
            && is_hex(&cand[14..18])
            && is_hex(&cand[19..23])
            && is_hex(&cand[24..36])
            && (s == 0 || !line[s - 1].is_ascii_alphanumeric())
            && line.get(s + 36).is_none_or(|b| !b.is_ascii_alphanumeric())
        {
            out.push(cand);
            from = s + 36;
        }
    }
}

/// Whether a plain line is an error line: a level word in capitals (`ERROR`, `FATAL`, `SEVERE`,
/// `CRITICAL`, `PANIC`, `EMERG`, `ALERT`, `CRIT`), a Java/Python exception header, or a Go/Rust
/// panic.
pub(crate) fn error_level(line: &[u8]) -> Option<&'static str> {
    const WORDS: &[(&[u8], &str)] = &[
        (b"ERROR", "error"),
        (b"FATAL", "fatal"),
        (b"SEVERE", "error"),
        (b"CRITICAL", "critical"),
        (b"CRIT", "critical"),
        (b"PANIC", "fatal"),
        (b"EMERG", "fatal"),
        (b"ALERT", "critical"),
        (b"ERR", "error"),
    ];
    // Level words sit in the first part of a line (after the timestamp, before the message).
    let head = &line[..line.len().min(120)];
    let mut i = 0;
    while i < head.len() {
        if head[i].is_ascii_uppercase() && (i == 0 || !head[i - 1].is_ascii_alphanumeric()) {
            let mut e = i;
            while e < head.len() && head[e].is_ascii_uppercase() {
                e += 1;
            }
            let word = &head[i..e];
            if (e == head.len() || !head[e].is_ascii_alphanumeric())
                && let Some((_, l)) = WORDS.iter().find(|(w, _)| *w == word)
            {
                return Some(l);
            }
            i = e;
        } else {
            i += 1;
        }
    }
    if exception_header(line) || line.starts_with(b"Traceback (most recent call last)") {
        return Some("error");
    }
    if memchr::memmem::find(head, b"panicked at").is_some() {
        return Some("fatal");
    }
    None
}

/// `java.lang.IllegalStateException: …`, `ValueError: …`, `Exception in thread "main" …`.
pub(crate) fn exception_header(line: &[u8]) -> bool {
    if line.starts_with(b"Exception in thread ") {
        return true;
    }
    let mut e = 0;
    while e < line.len()
        && (line[e].is_ascii_alphanumeric() || matches!(line[e], b'.' | b'_' | b'$'))
    {
        e += 1;
    }
    let name = &line[..e];
    (name.ends_with(b"Exception") || name.ends_with(b"Error"))
        && name.first().is_some_and(u8::is_ascii_alphabetic)
        && (e == line.len() || line[e] == b':')
}

/// A stack-trace continuation: indented frames, `Caused by:`, `... 12 more`, `Suppressed:`.
pub(crate) fn continuation(line: &[u8]) -> bool {
    matches!(line.first(), Some(b' ' | b'\t'))
        || line.starts_with(b"Caused by:")
        || line.starts_with(b"... ")
        || line.starts_with(b"Suppressed:")
}

/// The signature of an error message: numbers → `<n>`, hex and mixed ids → `<id>`, UUIDs →
/// `<uuid>`, emails → `<email>`; whitespace collapsed; at most 240 bytes.
pub(crate) fn signature(msg: &[u8]) -> String {
    let mut out = String::with_capacity(msg.len().min(256));
    let mut i = 0;
    let mut last_space = true;
    while i < msg.len() && out.len() < 240 {
        let b = msg[i];
        if b.is_ascii_alphanumeric() || b == b'_' {
            let s = i;
            while i < msg.len()
                && (msg[i].is_ascii_alphanumeric()
                    || matches!(msg[i], b'_' | b'-' | b'.' | b'@' | b':'))
            {
                i += 1;
            }
            // Do not swallow trailing punctuation into the token.
            while i > s + 1 && matches!(msg[i - 1], b'.' | b':' | b'-') {
                i -= 1;
            }
            mask_token(&msg[s..i], &mut out);
            last_space = false;
        } else if b.is_ascii_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
            i += 1;
        } else {
            if b.is_ascii() {
                out.push(b as char);
            } else {
                out.push('?');
            }
            last_space = false;
            i += 1;
        }
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

fn mask_token(tok: &[u8], out: &mut String) {
    let digits = tok.iter().filter(|b| b.is_ascii_digit()).count();
    let punct = tok
        .iter()
        .filter(|&&b| matches!(b, b'.' | b':' | b'-'))
        .count();
    if tok.contains(&b'@') {
        out.push_str("<email>");
    } else if tok.len() == 36 && tok.iter().filter(|&&b| b == b'-').count() == 4 {
        out.push_str("<uuid>");
    } else if digits > 0 && digits + punct == tok.len() {
        // Numbers, versions, times, addresses: 3, 1.5, 10.0.0.1:8443, 13:55:36, 2024-05-01.
        out.push_str("<n>");
    } else if digits == 0 {
        // ASCII by construction (alphanumerics and a few marks).
        out.extend(tok.iter().map(|&b| b as char));
    } else {
        // Mixed: mask each part between separators (`req-3fa2b1c0` → `req-<id>`,
        // `tenant:42:catalog` → `tenant:<n>:catalog`).
        let mut start = 0;
        for (k, &b) in tok.iter().enumerate() {
            if matches!(b, b'-' | b'_' | b'.' | b':') {
                mask_part(&tok[start..k], out);
                out.push(b as char);
                start = k + 1;
            }
        }
        mask_part(&tok[start..], out);
    }
}

fn mask_part(part: &[u8], out: &mut String) {
    let digits = part.iter().filter(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        out.extend(part.iter().map(|&b| b as char));
    } else if digits == part.len() {
        out.push_str("<n>");
    } else if part.len() >= 6 && part.iter().all(u8::is_ascii_hexdigit)
        || digits >= 4 && digits * 3 >= part.len()
        // A long run of letters and digits is a key or token (`AKIA…`, `ghp_…`, a JWT part):
        // keeping its letters would leave most of a secret in the signature, and the masked form
        // is no longer recognised by the redactor.
        || part.len() >= 16
    {
        out.push_str("<id>");
    } else {
        // `user42`: keep the word, mask the digits.
        let mut in_digits = false;
        for &b in part {
            if b.is_ascii_digit() {
                if !in_digits {
                    out.push_str("<n>");
                    in_digits = true;
                }
            } else {
                in_digits = false;
                out.push(b as char);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_status_and_uuids() {
        let s = Scanner::new();
        let line = br#"2024-05-01T10:00:00Z ERROR request_id=req-7f3a2 traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 order 123e4567-e89b-12d3-a456-426614174000 status=503"#;
        let mut f = LineFacts::default();
        s.facts(line, &mut f);
        assert_eq!(f.request_ids, vec![b"req-7f3a2".as_slice()]);
        assert_eq!(
            f.trace_ids,
            vec![b"4bf92f3577b34da6a3ce929d0e0e4736".as_slice()]
        );
        assert_eq!(
            f.uuids,
            vec![b"123e4567-e89b-12d3-a456-426614174000".as_slice()]
        );
        assert_eq!(f.status, Some(503));
        let mut f = LineFacts::default();
        s.facts(br#"1.2.3.4 - - [x] "GET /a HTTP/1.1" 404 12 "-""#, &mut f);
        assert_eq!(f.status, Some(404));
    }

    #[test]
    fn signatures_mask_variable_parts() {
        let a = signature(b"timeout after 3000 ms calling 10.0.0.7:8443 for order 99231 (user bob@example.com) id 5f2a9c0e11");
        let b = signature(b"timeout after 2500 ms calling 10.0.0.9:8443 for order 12 (user al@example.org) id 77aa0b1c2d");
        assert_eq!(a, b);
        assert_eq!(
            a,
            "timeout after <n> ms calling <n> for order <n> (user <email>) id <id>"
        );
        assert_eq!(signature(b"user42 failed"), "user<n> failed");
        // Keys and tokens become opaque, not letters with their digits masked.
        assert_eq!(
            signature(
                b"denied for key AKIAZ3MPL3K3Y4E2E7QX token ghp_R4nd0mT0k3nV4lu3F0rE2eT3st1ngAbCdEfG \
                  jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYXJvbCJ9.c2lnbmF0dXJl"
            ),
            "denied for key <id> token ghp_<id> jwt <id>.<id>.c<n>lnbmF<n>dXJl"
        );
        assert_eq!(
            signature(b"request_id=req-3fa2b1c0 key tenant:42:catalog"),
            "request_id=req-<id> key tenant:<n>:catalog"
        );
    }

    #[test]
    fn levels_and_java_traces() {
        assert_eq!(
            error_level(b"2024-05-01 10:00:00 ERROR [main] x"),
            Some("error")
        );
        assert_eq!(
            error_level(b"2024-05-01 10:00:00 INFO no ERRORS here"),
            None
        );
        assert_eq!(
            error_level(b"java.lang.IllegalStateException: boom"),
            Some("error")
        );
        assert!(continuation(b"\tat com.acme.Foo.bar(Foo.java:10)"));
        assert!(continuation(b"Caused by: java.io.IOException: x"));
        assert!(!continuation(b"2024-05-01 INFO next"));
    }
}
