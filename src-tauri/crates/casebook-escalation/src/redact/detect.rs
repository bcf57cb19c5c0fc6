//! The detectors. Three passes over a buffer, none of them a regex per kind:
//!
//! 1. `memchr` for `@` (emails);
//! 2. one Aho-Corasick automaton over the trigger literals (`eyJ`, `-----BEGIN`, `AKIA`, `xox`,
//!    `sk_live_`, `bearer`, `cookie`, `password`, `://`, …), each hit validated by a small
//!    hand-written matcher anchored at the hit;
//! 3. one byte loop that skips word tokens whole and tries the numeric shapes (IPv4, IPv6, card
//!    numbers with Luhn, phone numbers) only where a token starts with a digit, `+`, `(` or `:`.
//!
//! Custom rules are the only regexes, one pass each.

use super::kind::Kind;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// A finding before overlaps are resolved: bytes `start..end` of the scanned buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
    /// Index of the custom rule for [`Kind::Custom`].
    pub rule: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Jwt,
    Pem,
    AwsKeyId,
    AwsSecretContext,
    Github,
    Gitlab,
    Slack,
    Google,
    Stripe,
    Sendgrid,
    Npm,
    Openai,
    Bearer,
    Basic,
    UrlScheme,
    Header(HeaderKind),
    HarCookies,
    SecretWord,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeaderKind {
    Cookie,
    Authorization,
    ApiKey,
}

const TRIGGERS: &[(&str, Trigger)] = &[
    ("eyJ", Trigger::Jwt),
    ("-----BEGIN", Trigger::Pem),
    ("AKIA", Trigger::AwsKeyId),
    ("ASIA", Trigger::AwsKeyId),
    ("secret_access_key", Trigger::AwsSecretContext),
    ("secretaccesskey", Trigger::AwsSecretContext),
    ("aws_secret", Trigger::AwsSecretContext),
    ("ghp_", Trigger::Github),
    ("gho_", Trigger::Github),
    ("ghu_", Trigger::Github),
    ("ghs_", Trigger::Github),
    ("ghr_", Trigger::Github),
    ("github_pat_", Trigger::Github),
    ("glpat-", Trigger::Gitlab),
    ("xox", Trigger::Slack),
    ("AIza", Trigger::Google),
    ("sk_live_", Trigger::Stripe),
    ("rk_live_", Trigger::Stripe),
    ("sk_test_", Trigger::Stripe),
    ("rk_test_", Trigger::Stripe),
    ("SG.", Trigger::Sendgrid),
    ("npm_", Trigger::Npm),
    ("sk-", Trigger::Openai),
    ("bearer", Trigger::Bearer),
    ("basic", Trigger::Basic),
    ("://", Trigger::UrlScheme),
    ("cookie", Trigger::Header(HeaderKind::Cookie)),
    ("authorization", Trigger::Header(HeaderKind::Authorization)),
    ("x-api-key", Trigger::Header(HeaderKind::ApiKey)),
    ("x-auth-token", Trigger::Header(HeaderKind::ApiKey)),
    ("x-access-token", Trigger::Header(HeaderKind::ApiKey)),
    ("\"cookies\"", Trigger::HarCookies),
    ("password", Trigger::SecretWord),
    ("passwd", Trigger::SecretWord),
    ("pwd", Trigger::SecretWord),
    ("secret", Trigger::SecretWord),
    ("api_key", Trigger::SecretWord),
    ("apikey", Trigger::SecretWord),
    ("api-key", Trigger::SecretWord),
    ("access_token", Trigger::SecretWord),
    ("refresh_token", Trigger::SecretWord),
    ("auth_token", Trigger::SecretWord),
    ("session_token", Trigger::SecretWord),
    ("private_key", Trigger::SecretWord),
    ("credentials", Trigger::SecretWord),
];

/// Which optional detectors run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DetectOptions {
    pub ipv4: bool,
    pub ipv6: bool,
    /// Leave loopback, unspecified and broadcast addresses (no personal data in them).
    pub keep_loopback: bool,
}

pub(crate) struct Detector {
    ac: AhoCorasick,
    opts: DetectOptions,
}

impl Detector {
    pub fn new(opts: DetectOptions) -> Detector {
        // Leftmost-longest: `secret_access_key` wins over `secret`, `x-api-key` over `api-key`.
        // A full DFA: with case-insensitive patterns there is no literal prefilter to lean on,
        // and the DFA walks bytes several times faster than the default NFA (45 patterns: small).
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(TRIGGERS.iter().map(|(p, _)| p))
            // The patterns are fixed literals: building cannot fail.
            .unwrap_or_else(|e| unreachable!("trigger automaton: {e}"));
        Detector { ac, opts }
    }

    /// Finds every candidate in `buf`. The caller keeps those that start before its cut.
    pub fn scan(&self, buf: &[u8], out: &mut Vec<Candidate>) {
        scan_emails(buf, out);
        for m in self.ac.find_iter(buf) {
            let (_, trig) = TRIGGERS[m.pattern().as_usize()];
            run_trigger(trig, buf, m.start(), m.end(), out);
        }
        scan_tokens(buf, self.opts, out);
    }
}

// ---------------------------------------------------------------------------------------------
// Byte classes

const fn class_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut c = 0;
        if b.is_ascii_digit() {
            c |= DIGIT | WORD | HEX | B64;
        }
        if b.is_ascii_alphabetic() {
            c |= WORD | B64;
        }
        if matches!(b, b'a'..=b'f' | b'A'..=b'F') {
            c |= HEX;
        }
        if b == b'_' {
            c |= WORD;
        }
        if matches!(b, b'-' | b'_') {
            c |= B64URL;
        }
        if b.is_ascii_alphanumeric() {
            c |= B64URL;
        }
        if matches!(b, b'+' | b'/') {
            c |= B64;
        }
        // Start bytes of the numeric shapes (the token loop stops on these).
        if matches!(b, b'+' | b'(' | b':') {
            c |= START;
        }
        t[i] = c;
        i += 1;
    }
    t
}

const DIGIT: u8 = 1;
const WORD: u8 = 2;
const HEX: u8 = 4;
const B64: u8 = 8;
const B64URL: u8 = 16;
const START: u8 = 32;
static CLASS: [u8; 256] = class_table();

#[inline]
fn is(b: u8, class: u8) -> bool {
    CLASS[b as usize] & class != 0
}
#[inline]
fn is_word(b: u8) -> bool {
    is(b, WORD)
}
#[inline]
fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}
#[inline]
fn at(buf: &[u8], i: usize) -> u8 {
    buf.get(i).copied().unwrap_or(b' ')
}
#[inline]
fn before(buf: &[u8], i: usize) -> u8 {
    if i == 0 { b' ' } else { buf[i - 1] }
}

/// End of the run of bytes matching `pred` from `i` (at most `max` bytes).
#[inline]
fn run(buf: &[u8], i: usize, max: usize, pred: impl Fn(u8) -> bool) -> usize {
    let lim = buf.len().min(i.saturating_add(max));
    let mut e = i;
    while e < lim && pred(buf[e]) {
        e += 1;
    }
    e
}

fn push(out: &mut Vec<Candidate>, start: usize, end: usize, kind: Kind) {
    if end > start {
        out.push(Candidate {
            start,
            end,
            kind,
            rule: 0,
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Emails

fn scan_emails(buf: &[u8], out: &mut Vec<Candidate>) {
    for at_sign in memchr::memchr_iter(b'@', buf) {
        if let Some((s, e)) = email_at(buf, at_sign) {
            push(out, s, e, Kind::Email);
        }
    }
}

fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

fn email_at(buf: &[u8], at_sign: usize) -> Option<(usize, usize)> {
    let mut s = at_sign;
    while s > 0 && at_sign - s < 64 && is_local(buf[s - 1]) {
        s -= 1;
    }
    while s < at_sign && matches!(buf[s], b'.' | b'-' | b'+') {
        s += 1;
    }
    if s == at_sign {
        return None;
    }
    let mut e = run(buf, at_sign + 1, 253, is_domain);
    while e > at_sign + 1 && matches!(buf[e - 1], b'.' | b'-') {
        e -= 1;
    }
    let domain = &buf[at_sign + 1..e];
    let tld_start = domain.iter().rposition(|&b| b == b'.')? + 1;
    let tld = &domain[tld_start..];
    if tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) || !is_alnum(domain[0]) {
        return None;
    }
    if domain.windows(2).any(|w| w == b"..") {
        return None;
    }
    // `scheme://user:password@host`: the URL detector owns userinfo (the host is not an address).
    if in_url_authority(buf, s) {
        return None;
    }
    Some((s, e))
}

/// Whether `pos` lies in the authority part of a URL (`scheme://` before it, no `/?#` between).
fn in_url_authority(buf: &[u8], pos: usize) -> bool {
    let lo = pos.saturating_sub(256);
    let mut i = pos;
    while i > lo {
        let b = buf[i - 1];
        if b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'<' | b'>' | b'?' | b'#') {
            return false;
        }
        if b == b'/' {
            return i >= 3 && &buf[i - 3..i] == b"://";
        }
        i -= 1;
    }
    false
}

// ---------------------------------------------------------------------------------------------
// Trigger validators

fn run_trigger(trig: Trigger, buf: &[u8], s: usize, e: usize, out: &mut Vec<Candidate>) {
    match trig {
        Trigger::Jwt => jwt(buf, s, out),
        Trigger::Pem => pem(buf, s, e, out),
        Trigger::AwsKeyId => aws_key_id(buf, s, out),
        Trigger::AwsSecretContext => aws_secret(buf, s, e, out),
        Trigger::Github => prefixed(buf, (s, e), (30, 255), is_word, Kind::GithubToken, out),
        Trigger::Gitlab => prefixed(
            buf,
            (s, e),
            (20, 64),
            |b| is(b, B64URL),
            Kind::GitlabToken,
            out,
        ),
        Trigger::Slack => slack(buf, s, e, out),
        Trigger::Google => prefixed(
            buf,
            (s, e),
            (35, 35),
            |b| is(b, B64URL),
            Kind::GoogleApiKey,
            out,
        ),
        Trigger::Stripe => prefixed(buf, (s, e), (16, 255), is_alnum, Kind::StripeKey, out),
        Trigger::Sendgrid => sendgrid(buf, s, e, out),
        Trigger::Npm => prefixed(buf, (s, e), (36, 36), is_alnum, Kind::NpmToken, out),
        Trigger::Openai => openai(buf, s, e, out),
        Trigger::Bearer => bearer(buf, s, e, out),
        Trigger::Basic => basic(buf, s, e, out),
        Trigger::UrlScheme => url_password(buf, e, out),
        Trigger::Header(h) => header(buf, s, e, h, out),
        Trigger::HarCookies => har_cookies(buf, e, out),
        Trigger::SecretWord => secret_assignment(buf, s, e, out),
    }
}

/// Prefix literal (matched case-insensitively by the automaton) must match exactly.
fn exact(buf: &[u8], s: usize, e: usize) -> Option<&'static str> {
    let lit = &buf[s..e];
    TRIGGERS
        .iter()
        .find(|(p, _)| p.as_bytes() == lit)
        .map(|(p, _)| *p)
}

fn prefixed(
    buf: &[u8],
    (s, e): (usize, usize),
    (min, max): (usize, usize),
    body: impl Fn(u8) -> bool,
    kind: Kind,
    out: &mut Vec<Candidate>,
) {
    // Token prefixes are case-sensitive (`ghp_`, `AIza`, `sk_live_`).
    if is_alnum(before(buf, s)) || exact(buf, s, e).is_none() {
        return;
    }
    let end = run(buf, e, max + 1, &body);
    let n = end - e;
    if (min..=max).contains(&n) {
        push(out, s, end, kind);
    }
}

fn jwt(buf: &[u8], s: usize, out: &mut Vec<Candidate>) {
    if is(before(buf, s), B64URL) || &buf[s..s + 3] != b"eyJ" {
        return;
    }
    let seg = |i: usize| run(buf, i, 16 * 1024, |b| is(b, B64URL));
    let e1 = seg(s);
    if e1 - s < 10 || at(buf, e1) != b'.' {
        return;
    }
    let e2 = seg(e1 + 1);
    if e2 - (e1 + 1) < 10 || at(buf, e2) != b'.' {
        return;
    }
    let e3 = seg(e2 + 1);
    let sig = e3 - (e2 + 1);
    if sig != 0 && sig < 8 {
        return;
    }
    push(out, s, if sig == 0 { e2 + 1 } else { e3 }, Kind::Jwt);
}

fn pem(buf: &[u8], s: usize, e: usize, out: &mut Vec<Candidate>) {
    if &buf[s..e] != b"-----BEGIN" {
        return;
    }
    // The label up to the closing dashes on the same line: "-----BEGIN RSA PRIVATE KEY-----".
    let line_end = run(buf, e, 100, |b| b != b'\n' && b != b'\r');
    let header = &buf[e..line_end];
    let Some(close) = memchr::memmem::find(header, b"-----") else {
        return;
    };
    let label = &header[..close];
    if memchr::memmem::find(label, b"PRIVATE KEY").is_none() {
        return;
    }
    let body_start = e + close + 5;
    let window = &buf[body_start..buf.len().min(body_start + 64 * 1024)];
    if let Some(end_at) = memchr::memmem::find(window, b"-----END") {
        let after = body_start + end_at + 8;
        let tail = run(buf, after, 100, |b| b != b'\n' && b != b'\r' && b != b'"');
        let close = memchr::memmem::find(&buf[after..tail], b"-----")
            .map(|c| after + c + 5)
            .unwrap_or(tail);
        push(out, s, close, Kind::PrivateKey);
    } else {
        // Truncated key (no END line): redact the base64 body that follows, lines and `\n`
        // escapes included, so not one line of it survives.
        let end = run(buf, body_start, 64 * 1024, |b| {
            is(b, B64)
                || b == b'='
                || b.is_ascii_whitespace()
                || b == b'\\'
                || b == b':'
                || b == b'-'
                || b == b','
        });
        push(out, s, end, Kind::PrivateKey);
    }
}

fn aws_key_id(buf: &[u8], s: usize, out: &mut Vec<Candidate>) {
    if is_alnum(before(buf, s)) || !matches!(&buf[s..s + 4], b"AKIA" | b"ASIA") {
        return;
    }
    let end = run(buf, s + 4, 17, |b| {
        b.is_ascii_uppercase() || b.is_ascii_digit()
    });
    if end - (s + 4) == 16 && !is_alnum(at(buf, end)) {
        push(out, s, end, Kind::AwsAccessKeyId);
    }
}

/// After a key name: optional rest of the identifier, quotes, spaces, then `=` or `:` (or `=>`),
/// spaces and an optional opening quote. Returns where the value starts and its quote.
fn after_assignment(buf: &[u8], e: usize) -> Option<(usize, Option<u8>)> {
    let mut i = run(buf, e, 24, |b| is_word(b) || b == b'.' || b == b'-');
    if matches!(at(buf, i), b'"' | b'\'') {
        i += 1;
    }
    i = run(buf, i, 8, |b| b == b' ' || b == b'\t');
    match at(buf, i) {
        b'=' if at(buf, i + 1) == b'>' => i += 2,
        b'=' if at(buf, i + 1) != b'=' => i += 1,
        b':' if at(buf, i + 1) != b':' => i += 1,
        _ => return None,
    }
    i = run(buf, i, 8, |b| b == b' ' || b == b'\t');
    let quote = match at(buf, i) {
        q @ (b'"' | b'\'') => {
            i += 1;
            Some(q)
        }
        _ => None,
    };
    Some((i, quote))
}

fn aws_secret(buf: &[u8], s: usize, e: usize, out: &mut Vec<Candidate>) {
    let Some((v, _)) = after_assignment(buf, e) else {
        return;
    };
    let end = run(buf, v, 41, |b| is(b, B64) || b == b'=');
    if end - v == 40 {
        push(out, v, end, Kind::AwsSecretKey);
    } else {
        // Not the 40-character shape: still a value assigned to a secret-named key.
        secret_assignment(buf, s, e, out);
    }
}

fn slack(buf: &[u8], s: usize, e: usize, out: &mut Vec<Candidate>) {
    if is_alnum(before(buf, s)) || &buf[s..e] != b"xox" {
        return;
    }
    if !matches!(at(buf, e), b'a' | b'b' | b'p' | b'r' | b's' | b'e' | b'o')
        || at(buf, e + 1) != b'-'
    {
        return;
    }
    let end = run(buf, e + 2, 255, |b| is_alnum(b) || b == b'-');
    if end - (e + 2) >= 10 {
        push(out, s, end, Kind::SlackToken);
    }
}

fn sendgrid(buf: &[u8], s: usize, e: usize, out: &mut Vec<Candidate>) {
    if is_alnum(before(buf, s)) || &buf[s..e] != b"SG." {
        return;
    }
    let e1 = run(buf, e, 23, |b| is(b, B64URL));
    if e1 - e != 22 || at(buf, e1) != b'.' {
        return;
    }
    let e2 = run(buf, e1 + 1, 44, |b| is(b, B64URL));
    if e2 - (e1 + 1) == 43 {
        push(out, s, e2, Kind::SendgridKey);
    }
}

fn openai(buf: &[u8], s: usize, e: usize, out: &mut Vec<Candidate>) {
    if is_alnum(before(buf, s)) || &buf[s..e] != b"sk-" {
        return;
    }
    let end = run(buf, e, 256, |b| is(b, B64URL));
    let body = &buf[e..end];
    if body.len() >= 32
        && body.iter().any(u8::is_ascii_digit)
        && body.iter().any(u8::is_ascii_alphabetic)
    {
        push(out, s, end, Kind::OpenaiKey);
    }
}

fn token_char(b: u8) -> bool {
    is_alnum(b) || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

fn bearer(buf: &[u8], s: usize, e: usize, out: &mut Vec<Candidate>) {
    if is_alnum(before(buf, s)) {
        return;
    }
    let v = run(buf, e, 8, |b| b == b' ' || b == b'\t');
    if v == e {
        return;
    }
    let mut end = run(buf, v, 16 * 1024, token_char);
    end = run(buf, end, 3, |b| b == b'=');
    let tok = &buf[v..end];
    if tok.len() >= 8 && tok.iter().any(u8::is_ascii_digit) && tok[0] != b'<' {
        push(out, v, end, Kind::BearerToken);
    }
}

fn basic(buf: &[u8], s: usize, e: usize, out: &mut Vec<Candidate>) {
    if is_alnum(before(buf, s)) {
        return;
    }
    let v = run(buf, e, 8, |b| b == b' ' || b == b'\t');
    if v == e {
        return;
    }
    let mut end = run(buf, v, 4096, |b| is(b, B64));
    end = run(buf, end, 2, |b| b == b'=');
    if end - v < 8 || is_word(at(buf, end)) {
        return;
    }
    // Only real credentials: base64 of printable `user:password`.
    match base64_decode(&buf[v..end]) {
        Some(d) if d.contains(&b':') && d.iter().all(|b| (0x20..0x7f).contains(b)) => {
            push(out, v, end, Kind::BasicAuth)
        }
        _ => {}
    }
}

fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &b in s {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn url_password(buf: &[u8], e: usize, out: &mut Vec<Candidate>) {
    // Authority: up to the first '/', '?', '#', space or quote.
    let end = run(buf, e, 512, |b| {
        !(b.is_ascii_whitespace() || matches!(b, b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>'))
    });
    let auth = &buf[e..end];
    let Some(at_sign) = memchr::memrchr(b'@', auth) else {
        return;
    };
    let Some(colon) = memchr::memchr(b':', &auth[..at_sign]) else {
        return;
    };
    if colon + 1 < at_sign {
        push(out, e + colon + 1, e + at_sign, Kind::UrlPassword);
    }
}

/// `Cookie: a=1; b=2`, `"Authorization": "…"` (JSON objects) and HAR's
/// `{"name": "Cookie", "value": "…"}`.
fn header(buf: &[u8], s: usize, e: usize, h: HeaderKind, out: &mut Vec<Candidate>) {
    let pre = before(buf, s);
    if is_alnum(pre) {
        return;
    }
    let set_cookie =
        h == HeaderKind::Cookie && s >= 4 && buf[s - 4..s].eq_ignore_ascii_case(b"set-");
    if pre == b'-' && !set_cookie {
        return;
    }
    if is_word(at(buf, e)) || at(buf, e) == b'-' {
        return;
    }
    let Some((v, quote)) = header_value_start(buf, e) else {
        return;
    };
    let end = match quote {
        Some(q) => string_end(buf, v, q, 64 * 1024),
        None => run(buf, v, 64 * 1024, |b| b != b'\n' && b != b'\r'),
    };
    if end <= v {
        return;
    }
    match h {
        HeaderKind::Cookie => cookie_values(buf, v, end, set_cookie, out),
        HeaderKind::Authorization => {
            let val = &buf[v..end];
            // `Bearer …` and `Basic …` are found by their own detectors; other schemes (Digest,
            // AWS4-HMAC-SHA256, Token, Negotiate) keep the scheme name and lose the rest.
            let scheme_end = memchr::memchr(b' ', val).map(|i| v + i + 1).unwrap_or(v);
            let start = run(buf, scheme_end, 8, |b| b == b' ');
            push(out, start, end, Kind::AuthHeader);
        }
        HeaderKind::ApiKey => push(out, v, end, Kind::AuthHeader),
    }
}

fn header_value_start(buf: &[u8], e: usize) -> Option<(usize, Option<u8>)> {
    let mut i = e;
    let quoted_name = at(buf, i) == b'"';
    if quoted_name {
        i += 1;
    }
    let ws = |i: usize| run(buf, i, 64, |b| b.is_ascii_whitespace());
    i = ws(i);
    match at(buf, i) {
        b':' => {
            i = ws(i + 1);
            if at(buf, i) == b'"' {
                return Some((i + 1, Some(b'"')));
            }
            if quoted_name {
                return None; // `"Cookie": 3` or an object: not a header string
            }
            Some((i, None))
        }
        // HAR: "name": "Cookie", "value": "…"
        b',' if quoted_name => {
            i = ws(i + 1);
            if !buf[i..].starts_with(b"\"value\"") {
                return None;
            }
            i = ws(i + 7);
            if at(buf, i) != b':' {
                return None;
            }
            i = ws(i + 1);
            (at(buf, i) == b'"').then_some((i + 1, Some(b'"')))
        }
        _ => None,
    }
}

/// End of a quoted string's content starting at `v` (backslash escapes honoured).
fn string_end(buf: &[u8], v: usize, quote: u8, max: usize) -> usize {
    let lim = buf.len().min(v + max);
    let mut i = v;
    while i < lim {
        match buf[i] {
            b'\\' => i += 2,
            b if b == quote => return i,
            b'\n' => return i,
            _ => i += 1,
        }
    }
    lim.min(buf.len())
}

fn cookie_values(buf: &[u8], v: usize, end: usize, set_cookie: bool, out: &mut Vec<Candidate>) {
    let mut i = v;
    while i < end {
        let pair_end = memchr::memchr(b';', &buf[i..end]).map_or(end, |p| i + p);
        let pair = &buf[i..pair_end];
        match memchr::memchr(b'=', pair) {
            Some(eq) => {
                let vs = run(buf, i + eq + 1, 8, |b| b == b' ');
                push(out, vs, pair_end, Kind::Cookie);
            }
            None => {
                let s = run(buf, i, 8, |b| b == b' ');
                push(out, s, pair_end, Kind::Cookie);
            }
        }
        if set_cookie {
            break; // attributes (Path, Expires, HttpOnly) follow the one cookie
        }
        i = pair_end + 1;
    }
}

/// HAR `"cookies": [{"name": "sid", "value": "…"}, …]`: every value in the array.
fn har_cookies(buf: &[u8], e: usize, out: &mut Vec<Candidate>) {
    let ws = |i: usize| run(buf, i, 64, |b| b.is_ascii_whitespace());
    let mut i = ws(e);
    if at(buf, i) != b':' {
        return;
    }
    i = ws(i + 1);
    if at(buf, i) != b'[' {
        return;
    }
    let lim = buf.len().min(i + 1024 * 1024);
    let mut depth = 0usize;
    while i < lim {
        match buf[i] {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            b'"' => {
                let s_end = string_end(buf, i + 1, b'"', 64 * 1024);
                if &buf[i + 1..s_end] == b"value" {
                    let mut j = ws(s_end + 1);
                    if at(buf, j) == b':' {
                        j = ws(j + 1);
                        if at(buf, j) == b'"' {
                            let ve = string_end(buf, j + 1, b'"', 64 * 1024);
                            push(out, j + 1, ve, Kind::Cookie);
                            i = ve + 1;
                            continue;
                        }
                    }
                }
                i = s_end + 1;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
}

const NOT_SECRETS: &[&[u8]] = &[
    b"null",
    b"none",
    b"true",
    b"false",
    b"nil",
    b"undefined",
    b"required",
    b"optional",
    b"changeme",
];

fn secret_assignment(buf: &[u8], s: usize, e: usize, out: &mut Vec<Candidate>) {
    // The key may be part of an identifier (`db_password`, `spring.datasource.password`).
    let Some((v, quote)) = after_assignment(buf, e) else {
        return;
    };
    let end = match quote {
        Some(q) => string_end(buf, v, q, 4096),
        None => run(buf, v, 4096, |b| {
            !(b.is_ascii_whitespace()
                || matches!(b, b',' | b';' | b'&' | b'}' | b')' | b']' | b'"' | b'\''))
        }),
    };
    let val = &buf[v..end];
    if val.len() < 3
        || val[0] == b'<'
        || val[0] == b'$' // a shell or template reference (`$VAR`, `${X}`, `$(cmd)`), not a value
        || val.starts_with(b"{{")
        || val.iter().all(|&b| b == b'*' || b == b'x' || b == b'X')
        || NOT_SECRETS.iter().any(|n| val.eq_ignore_ascii_case(n))
    {
        return;
    }
    // `password: ` followed by prose ("password: reset link sent") is not an assignment: a value
    // with spaces is only taken when quoted.
    let _ = s;
    push(out, v, end, Kind::SecretAssignment);
}

// ---------------------------------------------------------------------------------------------
// Numeric shapes: one pass over tokens

fn scan_tokens(buf: &[u8], opts: DetectOptions, out: &mut Vec<Candidate>) {
    let n = buf.len();
    let mut i = 0;
    while i < n {
        let b = buf[i];
        let c = CLASS[b as usize];
        if c & (WORD | START) == 0 {
            i += 1;
            continue;
        }
        let prev = before(buf, i);
        if c & WORD != 0 && (is_alnum(prev) || prev == b'_') {
            // mid-token (after a detector skipped partially): skip the rest
            i = run(buf, i, usize::MAX, is_word);
            continue;
        }
        let found = if b.is_ascii_digit() {
            try_digit_token(buf, i, opts)
        } else if c & HEX != 0 || b == b':' {
            let hl = run(buf, i, 5, |b| is(b, HEX)) - i;
            if opts.ipv6
                && !is_alnum(prev)
                && prev != b':'
                && prev != b'.'
                && hl <= 4
                && at(buf, i + hl) == b':'
            {
                ipv6(buf, i, opts)
            } else {
                None
            }
        } else if b == b'+' && !is_alnum(prev) {
            phone_plus(buf, i)
        } else if b == b'(' && !is_alnum(prev) {
            nanp(buf, i)
        } else {
            None
        };
        match found {
            Some((s, e, kind)) => {
                push(out, s, e, kind);
                i = e.max(i + 1);
            }
            None => {
                i = if c & WORD != 0 {
                    run(buf, i, usize::MAX, is_word)
                } else {
                    i + 1
                };
            }
        }
    }
}

fn try_digit_token(buf: &[u8], i: usize, opts: DetectOptions) -> Option<(usize, usize, Kind)> {
    let prev = before(buf, i);
    if prev == b'.' || prev == b'-' {
        return None;
    }
    // Cheap shape checks on the digit run first: most numbers in a log (times, sizes, counts)
    // fit none of the shapes and cost one look at the byte after them.
    let dl = run(buf, i, 20, |b| b.is_ascii_digit()) - i;
    let nx = at(buf, i + dl);
    // `Chrome/124.0.0.0`, `v/1.2.3.4`: a version after a word and a slash, not an address.
    let version = prev == b'/' && i >= 2 && is_alnum(buf[i - 2]);
    if opts.ipv4
        && dl <= 3
        && nx == b'.'
        && !version
        && let Some(e) = ipv4(buf, i, opts.keep_loopback)
    {
        return Some((i, e, Kind::Ipv4));
    }
    // `group 0@6061696424008232163` (an id after `@`) is not a card.
    if prev != b'@'
        && (dl >= 13
            || ((3..=6).contains(&dl)
                && matches!(nx, b' ' | b'-')
                && at(buf, i + dl + 1).is_ascii_digit()))
        && let Some(e) = card(buf, i)
    {
        return Some((i, e, Kind::CardNumber));
    }
    if dl == 3
        && matches!(nx, b'-' | b'.')
        && let Some((s, e, _)) = nanp(buf, i)
    {
        return Some((s, e, Kind::Phone));
    }
    if opts.ipv6 && dl <= 4 && (nx == b':' || is(nx, HEX) && !nx.is_ascii_digit()) {
        return ipv6(buf, i, opts);
    }
    None
}

fn ipv4(buf: &[u8], i: usize, keep_loopback: bool) -> Option<usize> {
    let mut p = i;
    let mut octets = [0u16; 4];
    for (k, o) in octets.iter_mut().enumerate() {
        let e = run(buf, p, 4, |b| b.is_ascii_digit());
        let len = e - p;
        if len == 0 || len > 3 {
            return None;
        }
        let mut v = 0u16;
        for &d in &buf[p..e] {
            v = v * 10 + u16::from(d - b'0');
        }
        if v > 255 {
            return None;
        }
        *o = v;
        p = e;
        if k < 3 {
            if at(buf, p) != b'.' {
                return None;
            }
            p += 1;
        }
    }
    // Not part of a longer dotted number (a version like 1.2.3.4.5) or a word.
    if is_word(at(buf, p)) || at(buf, p) == b'.' && at(buf, p + 1).is_ascii_digit() {
        return None;
    }
    if keep_loopback
        && (octets[0] == 127 || octets == [0, 0, 0, 0] || octets == [255, 255, 255, 255])
    {
        return None;
    }
    Some(p)
}

fn ipv6(buf: &[u8], i: usize, opts: DetectOptions) -> Option<(usize, usize, Kind)> {
    let e = run(buf, i, 64, |b| is(b, HEX) || b == b':' || b == b'.');
    let mut end = e;
    while end > i
        && matches!(buf[end - 1], b'.' | b':')
        && !(end - i >= 2 && &buf[end - 2..end] == b"::")
    {
        end -= 1;
    }
    let tok = &buf[i..end];
    if is_word(at(buf, e)) {
        return None;
    }
    let colons = tok.iter().filter(|&&b| b == b':').count();
    if colons < 2 {
        return None;
    }
    let has_double = memchr::memmem::find(tok, b"::").is_some();
    if !has_double && colons != 7 && !(colons == 6 && tok.contains(&b'.')) {
        return None;
    }
    let hex_digits = tok.iter().filter(|&&b| is(b, HEX)).count();
    if hex_digits < 4 || !tok.iter().any(u8::is_ascii_digit) {
        return None;
    }
    let s = std::str::from_utf8(tok).ok()?;
    let addr: std::net::Ipv6Addr = s.parse().ok()?;
    if opts.keep_loopback && (addr.is_loopback() || addr.is_unspecified()) {
        return None;
    }
    Some((i, end, Kind::Ipv6))
}

/// 13–19 digits, optionally grouped by single spaces or dashes, with a card network's prefix and
/// length and a valid Luhn check digit.
fn card(buf: &[u8], i: usize) -> Option<usize> {
    let mut digits = [0u8; 19];
    let mut n = 0;
    let mut p = i;
    let mut sep: Option<u8> = None;
    // (end position, digit count) at each group boundary
    let mut bounds: [(usize, usize); 20] = [(0, 0); 20];
    let mut nb = 0;
    loop {
        let e = run(buf, p, 20, |b| b.is_ascii_digit());
        let len = e - p;
        // Grouped card numbers come in groups of 3–6 digits (4-4-4-4, 4-6-5): a row of small
        // numbers separated by spaces is a table, not a card.
        if nb > 0 && !(3..=6).contains(&len) || nb == 1 && !(4..=6).contains(&bounds[0].1) {
            break;
        }
        if len == 0 || n + len > 19 {
            // Too long for a card: a longer digit run is some other number.
            if n + len > 19 && nb == 0 {
                return None;
            }
            break;
        }
        for &d in &buf[p..e] {
            digits[n] = d - b'0';
            n += 1;
        }
        bounds[nb] = (e, n);
        nb += 1;
        let nx = at(buf, e);
        if matches!(nx, b' ' | b'-')
            && at(buf, e + 1).is_ascii_digit()
            && sep.is_none_or(|s| s == nx)
        {
            sep = Some(nx);
            p = e + 1;
        } else {
            if is_word(nx) {
                return None;
            }
            break;
        }
    }
    for k in (0..nb).rev() {
        let (end, count) = bounds[k];
        if count < 13 {
            break;
        }
        if k == nb - 1 || sep.is_some() {
            let d = &digits[..count];
            if card_network_ok(d) && luhn(d) {
                return Some(end);
            }
        }
    }
    None
}

fn card_network_ok(d: &[u8]) -> bool {
    let n = d.len();
    let p2 = d[0] * 10 + d[1];
    let p4 = u16::from(p2) * 100 + u16::from(d[2] * 10 + d[3]);
    match d[0] {
        4 => matches!(n, 13 | 16 | 19),              // Visa
        5 => (51..=55).contains(&p2) && n == 16,     // Mastercard
        2 => (2221..=2720).contains(&p4) && n == 16, // Mastercard 2-series
        3 => {
            (matches!(p2, 34 | 37) && n == 15) || ((3528..=3589).contains(&p4) && n >= 16) // Amex, JCB
            || ((p2 == 36 || p2 == 38 || p2 == 39 || (300..=305).contains(&(p4 / 10))) && n == 14)
        } // Diners
        6 => (p4 == 6011 || p2 == 65 || (644..=649).contains(&(p4 / 10)) || p2 == 62) && n >= 16, // Discover, UnionPay
        _ => false,
    }
}

pub(crate) fn luhn(d: &[u8]) -> bool {
    let mut sum = 0u32;
    for (k, &x) in d.iter().rev().enumerate() {
        let mut v = u32::from(x);
        if k % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// `+` and 8–15 digits with single spaces, dashes, dots or parentheses between groups. A number
/// that runs on into the next one ("+49 30 1234567 2024-…") ends at the last group boundary that
/// keeps it within 15 digits (erring towards redacting a little more, never less).
fn phone_plus(buf: &[u8], i: usize) -> Option<(usize, usize, Kind)> {
    if !at(buf, i + 1).is_ascii_digit() {
        return None;
    }
    let mut p = i + 1;
    let mut n = 0;
    let mut best = None;
    while p < buf.len() && p - i < 40 {
        let b = buf[p];
        if b.is_ascii_digit() {
            n += 1;
            p += 1;
            if n > 15 {
                break;
            }
            if !at(buf, p).is_ascii_digit() && n >= 8 && !is_word(at(buf, p)) {
                best = Some(p);
            }
        } else if matches!(b, b' ' | b'-' | b'.' | b'(' | b')') {
            let nx = at(buf, p + 1);
            if nx.is_ascii_digit() || (b == b' ' && nx == b'(') || (b == b')' && nx == b' ') {
                p += 1;
            } else {
                break;
            }
        } else {
            break;
        }
    }
    best.map(|e| (i, e, Kind::Phone))
}

/// North American numbers: `(212) 555-0143`, `212-555-0143`, `212.555.0143`.
fn nanp(buf: &[u8], i: usize) -> Option<(usize, usize, Kind)> {
    let d3 = |p: usize| (0..3).all(|k| at(buf, p + k).is_ascii_digit());
    let mut p = i;
    let sep;
    if at(buf, p) == b'(' {
        if !d3(p + 1) || at(buf, p + 4) != b')' {
            return None;
        }
        p += 5;
        if matches!(at(buf, p), b' ' | b'-') {
            p += 1;
        }
        sep = b'-';
    } else {
        if !d3(p) {
            return None;
        }
        sep = at(buf, p + 3);
        if !matches!(sep, b'-' | b'.') {
            return None;
        }
        p += 4;
    }
    let area = if buf[i] == b'(' { buf[i + 1] } else { buf[i] };
    if !(b'2'..=b'9').contains(&area)
        || !d3(p)
        || !(b'2'..=b'9').contains(&buf[p])
        || at(buf, p + 3) != sep
    {
        return None;
    }
    p += 4;
    if !(0..4).all(|k| at(buf, p + k).is_ascii_digit()) {
        return None;
    }
    p += 4;
    let nx = at(buf, p);
    if is_word(nx) || (matches!(nx, b'-' | b'.') && at(buf, p + 1).is_ascii_digit()) {
        return None;
    }
    Some((i, p, Kind::Phone))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<(Kind, String)> {
        let d = Detector::new(DetectOptions {
            ipv4: true,
            ipv6: true,
            keep_loopback: true,
        });
        let mut out = Vec::new();
        d.scan(s.as_bytes(), &mut out);
        out.sort_by_key(|c| (c.start, c.end));
        out.into_iter()
            .map(|c| (c.kind, s[c.start..c.end].to_owned()))
            .collect()
    }

    #[test]
    fn luhn_and_networks() {
        let d = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
        assert!(luhn(&d("4111111111111111")));
        assert!(!luhn(&d("4111111111111112")));
        assert!(card_network_ok(&d("378282246310005")));
        assert!(!card_network_ok(&d("1700000000000"))); // epoch millis are not cards
    }

    #[test]
    fn numeric_shapes() {
        assert_eq!(
            kinds("from 10.1.2.3 ok"),
            vec![(Kind::Ipv4, "10.1.2.3".into())]
        );
        assert!(kinds("version 1.2.3.4.5 and 127.0.0.1 and 300.1.1.1").is_empty());
        assert_eq!(
            kinds("card 4111 1111 1111 1111."),
            vec![(Kind::CardNumber, "4111 1111 1111 1111".into())]
        );
        assert!(kinds("order 4111111111111112 id 1700000000000").is_empty());
        assert_eq!(
            kinds("call (212) 555-0143 now"),
            vec![(Kind::Phone, "(212) 555-0143".into())]
        );
        assert_eq!(
            kinds("tel +44 20 7946 0958;"),
            vec![(Kind::Phone, "+44 20 7946 0958".into())]
        );
        assert!(kinds("at 2024-10-11 13:55:36 took 123 ms").is_empty());
        assert_eq!(
            kinds("peer 2001:db8::8a2e:370:7334 up"),
            vec![(Kind::Ipv6, "2001:db8::8a2e:370:7334".into())]
        );
        assert!(kinds("std::vec::Vec and a::b and ::1 and 00:1a:2b:3c:4d:5e").is_empty());
    }

    #[test]
    fn references_and_ids_after_at_are_not_secrets() {
        assert!(kinds("export new_password=$(openssl rand -base64 32)").is_empty());
        assert!(kinds("DB_PASSWORD=${VAULT_DB_PASSWORD}").is_empty());
        assert!(kinds("group 0@6061696424008232163: overlap").is_empty());
        assert_eq!(kinds("DB_PASSWORD=s3cr3tvalue").len(), 1);
    }

    #[test]
    fn url_userinfo_is_a_password_not_an_email() {
        assert_eq!(
            kinds("postgres://app:s3cr3tP4ss@db.example.com:5432/x"),
            vec![(Kind::UrlPassword, "s3cr3tP4ss".into())]
        );
        assert_eq!(
            kinds("https://x.example/unsub?e=bob@example.org"),
            vec![(Kind::Email, "bob@example.org".into())]
        );
    }
}
