//! Log analysis: plain logs, JSON lines and HAR files, pasted or read from disk.
//!
//! Streamed line by line with bounded memory: a line longer than `max_line_bytes` is cut (and
//! counted), the signature and id tables have caps (what does not fit is counted, not kept), and
//! nothing else grows with the input. Bad input never stops the analysis: binary lines, invalid
//! UTF-8, cut lines and malformed JSON/HAR are reported in `problems` and the rest is processed.

mod har;
mod scan;
pub mod time;

use crate::redact::{RedactOptions, Redactor};
use scan::{LineFacts, Scanner};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Read;
pub use time::{TimeFormat, rfc3339};

/// How to read the timestamps and how much to keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeOptions {
    /// The year of syslog timestamps (they carry none).
    pub syslog_year: i32,
    /// IANA zone (`Europe/Berlin`) for timestamps that name no zone; `None` reads them as UTC and
    /// says so in the notes.
    pub zone: Option<String>,
    pub max_line_bytes: u32,
    pub max_signatures: u32,
    pub max_ids: u32,
}

impl AnalyzeOptions {
    /// Defaults, with the syslog year taken from `now` (milliseconds since the epoch).
    pub fn new(now: i64) -> AnalyzeOptions {
        let year = jiff::Timestamp::from_millisecond(now)
            .map(|t| i32::from(t.to_zoned(jiff::tz::TimeZone::UTC).year()))
            .unwrap_or(1970);
        AnalyzeOptions {
            syslog_year: year,
            zone: None,
            max_line_bytes: 64 * 1024,
            max_signatures: 2_000,
            max_ids: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum InputFormat {
    Plain,
    JsonLines,
    Har,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct FormatCount {
    pub format: TimeFormat,
    pub label: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub lines: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct TimeSummary {
    /// Earliest and latest timestamp, UTC milliseconds.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub first: Option<i64>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub last: Option<i64>,
    pub first_utc: Option<String>,
    pub last_utc: Option<String>,
    pub formats: Vec<FormatCount>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub lines_with_time: u64,
    /// Timestamps without a zone read in the configured zone or as UTC.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub zoneless: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct IdCount {
    pub id: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub count: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub first_line: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct IdList {
    /// The most frequent ids (at most 50), most frequent first.
    pub top: Vec<IdCount>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub distinct: u64,
    /// More distinct ids than the table keeps: `distinct` is a lower bound.
    pub capped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct StatusCount {
    pub code: u16,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub count: u64,
}

/// A group of error lines that differ only in numbers, ids and hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct Signature {
    pub signature: String,
    pub level: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub count: u64,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub first_seen: Option<i64>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub last_seen: Option<i64>,
    /// Line numbers (1-based) of the first occurrences, for picking extracts.
    #[cfg_attr(feature = "ts", ts(type = "Array<number>"))]
    pub sample_lines: Vec<u64>,
    /// The first occurrence, redacted, cut at 500 bytes.
    pub example: String,
    /// Stack-trace lines that followed the first occurrence.
    pub continuation_lines: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    pub format: InputFormat,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub lines: u64,
    pub time: TimeSummary,
    pub status_codes: Vec<StatusCount>,
    pub request_ids: IdList,
    pub trace_ids: IdList,
    pub uuids: IdList,
    /// Most frequent first.
    pub signatures: Vec<Signature>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub error_lines: u64,
    /// Error lines not grouped because the signature table was full.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub ungrouped_errors: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub invalid_utf8_lines: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub truncated_lines: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub binary_lines: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub malformed_json_lines: u64,
    /// What was wrong with the input (and what was done about it).
    pub problems: Vec<String>,
    /// How the input was read (assumptions: zone, syslog year).
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogError {
    #[error("reading the log: {0}")]
    Read(String),
    #[error("unknown time zone '{0}'")]
    BadZone(String),
    #[error("cancelled")]
    Cancelled,
}

/// Progress report cadence (bytes).
const PROGRESS_EVERY: u64 = 4 * 1024 * 1024;
const READ_CHUNK: usize = 1024 * 1024;
/// HAR files are parsed whole; larger ones are analysed as text.
const MAX_HAR_BYTES: usize = 256 * 1024 * 1024;

struct SigState {
    level: &'static str,
    count: u64,
    first_seen: Option<i64>,
    last_seen: Option<i64>,
    sample_lines: Vec<u64>,
    example: String,
    continuation_lines: u32,
}

#[derive(Default)]
struct IdTable {
    map: HashMap<Box<[u8]>, (u64, u64)>,
    capped: bool,
}

impl IdTable {
    fn add(&mut self, id: &[u8], line: u64, cap: usize) {
        if let Some(e) = self.map.get_mut(id) {
            e.0 += 1;
        } else if self.map.len() < cap {
            self.map.insert(id.into(), (1, line));
        } else {
            self.capped = true;
        }
    }

    fn finish(self) -> IdList {
        let distinct = self.map.len() as u64;
        let mut v: Vec<IdCount> = self
            .map
            .into_iter()
            .map(|(k, (count, first_line))| IdCount {
                id: String::from_utf8_lossy(&k).into_owned(),
                count,
                first_line,
            })
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then(a.first_line.cmp(&b.first_line)));
        v.truncate(50);
        IdList {
            top: v,
            distinct,
            capped: self.capped,
        }
    }
}

/// The streaming analyser. Feed it lines; `finish` builds the [`Analysis`].
pub(crate) struct Analyzer {
    opts: AnalyzeOptions,
    zone: Option<jiff::tz::TimeZone>,
    scanner: Scanner,
    format: InputFormat,
    bytes: u64,
    lines: u64,
    time: TimeSummary,
    formats: HashMap<TimeFormat, u64>,
    status: HashMap<u16, u64>,
    request_ids: IdTable,
    trace_ids: IdTable,
    uuids: IdTable,
    sigs: HashMap<String, SigState>,
    error_lines: u64,
    ungrouped: u64,
    invalid_utf8: u64,
    truncated: u64,
    binary: u64,
    malformed_json: u64,
    first_malformed: Vec<u64>,
    problems: Vec<String>,
    /// The signature of the error event the following continuation lines belong to.
    open_event: Option<String>,
    last_time: Option<i64>,
}

impl Analyzer {
    pub fn new(opts: &AnalyzeOptions) -> Result<Analyzer, LogError> {
        let zone = match &opts.zone {
            Some(z) => Some(jiff::tz::TimeZone::get(z).map_err(|_| LogError::BadZone(z.clone()))?),
            None => None,
        };
        Ok(Analyzer {
            opts: opts.clone(),
            zone,
            scanner: Scanner::new(),
            format: InputFormat::Plain,
            bytes: 0,
            lines: 0,
            time: TimeSummary::default(),
            formats: HashMap::new(),
            status: HashMap::new(),
            request_ids: IdTable::default(),
            trace_ids: IdTable::default(),
            uuids: IdTable::default(),
            sigs: HashMap::new(),
            error_lines: 0,
            ungrouped: 0,
            invalid_utf8: 0,
            truncated: 0,
            binary: 0,
            malformed_json: 0,
            first_malformed: Vec::new(),
            problems: Vec::new(),
            open_event: None,
            last_time: None,
        })
    }

    fn note_time(&mut self, format: TimeFormat, ms: i64) {
        *self.formats.entry(format).or_default() += 1;
        self.time.lines_with_time += 1;
        self.time.first = Some(self.time.first.map_or(ms, |f| f.min(ms)));
        self.time.last = Some(self.time.last.map_or(ms, |l| l.max(ms)));
        self.last_time = Some(ms);
    }

    fn civil_to_millis(&mut self, f: &time::Found) -> i64 {
        if let Some(off) = f.offset {
            return f.civil.to_millis(off);
        }
        self.time.zoneless += 1;
        if let Some(tz) = &self.zone {
            let c = f.civil;
            let dt = jiff::civil::DateTime::new(
                c.year as i16,
                c.month as i8,
                c.day as i8,
                c.hour as i8,
                c.minute as i8,
                c.second.min(59) as i8,
                i32::from(c.millis) * 1_000_000,
            );
            if let Ok(ts) = dt.and_then(|dt| dt.to_zoned(tz.clone())) {
                return ts.timestamp().as_millisecond();
            }
        }
        f.civil.to_millis(0)
    }

    /// One line of a plain log (or a JSON line that did not parse).
    pub fn plain_line(&mut self, line: &[u8]) {
        self.lines += 1;
        if line.is_empty() {
            return;
        }
        if memchr::memchr(0, line).is_some() {
            self.binary += 1;
            self.open_event = None;
            return;
        }
        if self.open_event.is_some() && (scan::continuation(line) || scan::exception_header(line)) {
            if let Some(sig) = self.open_event.as_ref().and_then(|k| self.sigs.get_mut(k))
                && sig.count == 1
            {
                sig.continuation_lines += 1;
            }
            return;
        }
        let found = time::find(line, self.opts.syslog_year);
        let (ts, msg_start) = match found {
            Some(f) => {
                let ms = self.civil_to_millis(&f);
                self.note_time(f.format, ms);
                (Some(ms), f.end)
            }
            None => (None, 0),
        };
        let mut facts = LineFacts::default();
        self.scanner.facts(line, &mut facts);
        self.record_facts(&facts);
        let level =
            scan::error_level(line).or_else(|| facts.status.filter(|s| *s >= 500).map(|_| "error"));
        match level {
            Some(level) => {
                let msg = message_part(line, msg_start);
                self.record_error(level, msg, line, ts.or(self.last_time));
            }
            None => self.open_event = None,
        }
    }

    fn record_facts(&mut self, facts: &LineFacts<'_>) {
        let cap = self.opts.max_ids as usize;
        let line = self.lines;
        for id in &facts.request_ids {
            self.request_ids.add(id, line, cap);
        }
        for id in &facts.trace_ids {
            self.trace_ids.add(id, line, cap);
        }
        for id in &facts.uuids {
            self.uuids.add(id, line, cap);
        }
        if let Some(s) = facts.status {
            *self.status.entry(s).or_default() += 1;
        }
    }

    fn record_error(&mut self, level: &'static str, msg: &[u8], line: &[u8], ts: Option<i64>) {
        self.error_lines += 1;
        let key = scan::signature(msg);
        if let Some(sig) = self.sigs.get_mut(&key) {
            sig.count += 1;
            if let Some(t) = ts {
                sig.first_seen = Some(sig.first_seen.map_or(t, |f| f.min(t)));
                sig.last_seen = Some(sig.last_seen.map_or(t, |l| l.max(t)));
            }
            if sig.sample_lines.len() < 5 {
                sig.sample_lines.push(self.lines);
            }
        } else if self.sigs.len() < self.opts.max_signatures as usize {
            let example = String::from_utf8_lossy(&line[..cut_at(line, 500)]).into_owned();
            self.sigs.insert(
                key.clone(),
                SigState {
                    level,
                    count: 1,
                    first_seen: ts,
                    last_seen: ts,
                    sample_lines: vec![self.lines],
                    example,
                    continuation_lines: 0,
                },
            );
        } else {
            self.ungrouped += 1;
            self.open_event = None;
            return;
        }
        self.open_event = Some(key);
    }

    /// Builds the result. Examples and signatures are redacted: they go to the UI.
    pub fn finish(mut self) -> Analysis {
        let mut notes = Vec::new();
        if self.time.zoneless > 0 {
            notes.push(match &self.opts.zone {
                Some(z) => format!(
                    "{} timestamps had no zone: read as {z}",
                    self.time.zoneless
                ),
                None => format!(
                    "{} timestamps had no zone: assumed UTC (set a zone to read them as local time)",
                    self.time.zoneless
                ),
            });
        }
        if self.formats.contains_key(&TimeFormat::Syslog) {
            notes.push(format!(
                "syslog timestamps carry no year: assumed {}",
                self.opts.syslog_year
            ));
        }
        let mut problems = std::mem::take(&mut self.problems);
        if self.binary > 0 {
            problems.push(format!(
                "{} lines contain NUL bytes (binary data) and were skipped",
                self.binary
            ));
        }
        if self.invalid_utf8 > 0 {
            problems.push(format!(
                "{} lines are not valid UTF-8: invalid bytes were replaced",
                self.invalid_utf8
            ));
        }
        if self.truncated > 0 {
            problems.push(format!(
                "{} lines are longer than {} bytes and were cut",
                self.truncated, self.opts.max_line_bytes
            ));
        }
        if self.malformed_json > 0 {
            let lines: Vec<String> = self.first_malformed.iter().map(u64::to_string).collect();
            problems.push(format!(
                "{} lines are not valid JSON (first: line {}) and were read as plain text",
                self.malformed_json,
                lines.join(", ")
            ));
        }
        if self.ungrouped > 0 {
            problems.push(format!(
                "more than {} distinct error signatures: {} error lines were counted but not grouped",
                self.opts.max_signatures, self.ungrouped
            ));
        }
        let mut formats: Vec<FormatCount> = self
            .formats
            .iter()
            .map(|(f, n)| FormatCount {
                format: *f,
                label: f.label().to_owned(),
                lines: *n,
            })
            .collect();
        formats.sort_by_key(|f| std::cmp::Reverse(f.lines));
        self.time.formats = formats;
        self.time.first_utc = self.time.first.map(rfc3339);
        self.time.last_utc = self.time.last.map(rfc3339);
        let mut status_codes: Vec<StatusCount> = self
            .status
            .iter()
            .map(|(c, n)| StatusCount {
                code: *c,
                count: *n,
            })
            .collect();
        status_codes.sort_by_key(|s| s.code);
        let mut redactor = Redactor::new(&RedactOptions::default()).ok();
        let mut signatures: Vec<Signature> = self
            .sigs
            .into_iter()
            .map(|(k, s)| {
                let (signature, example) = match redactor.as_mut() {
                    Some(r) => (r.redact(&k).text, r.redact(&s.example).text),
                    // Unreachable (default options); fail closed all the same.
                    None => (k, String::from("[example withheld: redaction unavailable]")),
                };
                Signature {
                    signature,
                    level: s.level.to_owned(),
                    count: s.count,
                    first_seen: s.first_seen,
                    last_seen: s.last_seen,
                    sample_lines: s.sample_lines,
                    example,
                    continuation_lines: s.continuation_lines,
                }
            })
            .collect();
        signatures.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(a.sample_lines.first().cmp(&b.sample_lines.first()))
        });
        Analysis {
            format: self.format,
            bytes: self.bytes,
            lines: self.lines,
            time: self.time,
            status_codes,
            request_ids: self.request_ids.finish(),
            trace_ids: self.trace_ids.finish(),
            uuids: self.uuids.finish(),
            signatures,
            error_lines: self.error_lines,
            ungrouped_errors: self.ungrouped,
            invalid_utf8_lines: self.invalid_utf8,
            truncated_lines: self.truncated,
            binary_lines: self.binary,
            malformed_json_lines: self.malformed_json,
            problems,
            notes,
        }
    }
}

/// The message of a line: what follows its timestamp, without a leading `]`, level or
/// separators.
fn message_part(line: &[u8], from: usize) -> &[u8] {
    const LEVELS: &[&[u8]] = &[
        b"TRACE",
        b"DEBUG",
        b"INFO",
        b"NOTICE",
        b"WARN",
        b"WARNING",
        b"ERROR",
        b"ERR",
        b"FATAL",
        b"SEVERE",
        b"CRITICAL",
        b"CRIT",
        b"PANIC",
        b"EMERG",
        b"ALERT",
    ];
    let seps = |line: &[u8], mut p: usize| {
        while p < line.len() && matches!(line[p], b' ' | b']' | b'|' | b'-' | b',' | b'\t' | b':') {
            p += 1;
        }
        p
    };
    let mut p = seps(line, from.min(line.len()));
    // A level word, then a bracketed thread or logger (`ERROR [main]`), are not the message.
    let w = line[p..]
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    if LEVELS.contains(&&line[p..p + w]) {
        p = seps(line, p + w);
        if line.get(p) == Some(&b'[')
            && let Some(close) = memchr::memchr(b']', &line[p..])
        {
            p = seps(line, p + close + 1);
        }
    }
    &line[p..]
}

/// The longest prefix of at most `max` bytes that does not split a UTF-8 sequence.
fn cut_at(line: &[u8], max: usize) -> usize {
    if line.len() <= max {
        return line.len();
    }
    let mut e = max;
    while e > 0 && (line[e] & 0xC0) == 0x80 {
        e -= 1;
    }
    e
}

/// Reads lines from `input`, cutting lines longer than `max` bytes. `f` gets each line (without
/// its `\n`/`\r\n`), whether it was cut, and the bytes read so far; it returns `false` to stop.
fn for_each_line(
    input: &mut dyn Read,
    max: usize,
    mut f: impl FnMut(&[u8], bool, u64) -> bool,
) -> Result<u64, LogError> {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut line: Vec<u8> = Vec::new();
    let mut cut = false;
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(LogError::Read(e.to_string())),
        };
        total += n as u64;
        let mut chunk = &buf[..n];
        while !chunk.is_empty() {
            match memchr::memchr(b'\n', chunk) {
                Some(p) => {
                    let part = &chunk[..p];
                    chunk = &chunk[p + 1..];
                    let stop = if line.is_empty() && !cut {
                        // Fast path: the whole line is in the buffer.
                        let (l, c) = if part.len() > max {
                            (&part[..max], true)
                        } else {
                            (part, false)
                        };
                        !f(strip_cr(l), c, total)
                    } else {
                        let room = max.saturating_sub(line.len());
                        if part.len() > room {
                            cut = true;
                        }
                        line.extend_from_slice(&part[..part.len().min(room)]);
                        let s = !f(strip_cr(&line), cut, total);
                        line.clear();
                        cut = false;
                        s
                    };
                    if stop {
                        return Err(LogError::Cancelled);
                    }
                }
                None => {
                    let room = max.saturating_sub(line.len());
                    if chunk.len() > room {
                        cut = true;
                    }
                    line.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    chunk = &[];
                }
            }
        }
    }
    if (!line.is_empty() || cut) && !f(strip_cr(&line), cut, total) {
        return Err(LogError::Cancelled);
    }
    Ok(total)
}

fn strip_cr(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// Guesses the format from the first bytes.
fn sniff(head: &[u8]) -> InputFormat {
    let start = head.iter().position(|b| !b.is_ascii_whitespace());
    let Some(s) = start else {
        return InputFormat::Plain;
    };
    let head = &head[s..];
    if head.starts_with(b"\xEF\xBB\xBF{") || head[0] == b'{' {
        let first_line = memchr::memchr(b'\n', head).map_or(head, |p| &head[..p]);
        let win = &head[..head.len().min(64 * 1024)];
        if memchr::memmem::find(win, b"\"log\"").is_some()
            && (memchr::memmem::find(win, b"\"entries\"").is_some()
                || memchr::memmem::find(win, b"\"creator\"").is_some())
            && !first_line.trim_ascii_end().ends_with(b"}")
        {
            return InputFormat::Har;
        }
        return InputFormat::JsonLines;
    }
    InputFormat::Plain
}

/// Analyses a log from a reader. `progress(bytes_read)` is called every few MiB and returns
/// `false` to cancel.
pub fn analyze(
    mut input: impl Read,
    opts: &AnalyzeOptions,
    mut progress: impl FnMut(u64) -> bool,
) -> Result<Analysis, LogError> {
    let mut a = Analyzer::new(opts)?;
    // Sniff the format from the first 64 KiB, then replay them.
    let mut head = Vec::with_capacity(64 * 1024);
    (&mut input)
        .take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(|e| LogError::Read(e.to_string()))?;
    let format = sniff(&head);
    if format == InputFormat::Har {
        let mut all = head;
        (&mut input)
            .take(MAX_HAR_BYTES as u64)
            .read_to_end(&mut all)
            .map_err(|e| LogError::Read(e.to_string()))?;
        if all.len() >= MAX_HAR_BYTES {
            a.problems.push(format!(
                "HAR file larger than {} MiB: analysed as plain text",
                MAX_HAR_BYTES >> 20
            ));
            return lines(
                a,
                InputFormat::Plain,
                &mut std::io::Cursor::new(all).chain(input),
                opts,
                progress,
            );
        }
        a.bytes = all.len() as u64;
        match har::analyze(&mut a, &all) {
            Ok(()) => {
                a.format = InputFormat::Har;
                progress(a.bytes);
                return Ok(a.finish());
            }
            Err(reason) => {
                a.problems
                    .push(format!("malformed HAR ({reason}): analysed as plain text"));
                return lines(
                    a,
                    InputFormat::Plain,
                    &mut std::io::Cursor::new(all),
                    opts,
                    progress,
                );
            }
        }
    }
    let mut chained = std::io::Cursor::new(head).chain(input);
    lines(a, format, &mut chained, opts, progress)
}

fn lines(
    mut a: Analyzer,
    format: InputFormat,
    input: &mut dyn Read,
    opts: &AnalyzeOptions,
    mut progress: impl FnMut(u64) -> bool,
) -> Result<Analysis, LogError> {
    a.format = format;
    let mut next_report = PROGRESS_EVERY;
    let total = for_each_line(input, opts.max_line_bytes as usize, |line, cut, read| {
        if cut {
            a.truncated += 1;
        }
        let line = if std::str::from_utf8(line).is_ok() {
            line
        } else {
            a.invalid_utf8 += 1;
            line // analysed as bytes; examples are converted lossily
        };
        if format == InputFormat::JsonLines && line.first() == Some(&b'{') {
            if !har::json_line(&mut a, line) {
                a.malformed_json += 1;
                if a.first_malformed.len() < 3 {
                    a.first_malformed.push(a.lines + 1);
                }
                a.plain_line(line);
            }
        } else {
            a.plain_line(line);
        }
        if read >= next_report {
            next_report = read + PROGRESS_EVERY;
            return progress(read);
        }
        true
    })?;
    a.bytes = total;
    progress(total);
    Ok(a.finish())
}

/// Analyses text already in memory (pasted).
pub fn analyze_text(text: &str, opts: &AnalyzeOptions) -> Result<Analysis, LogError> {
    analyze(text.as_bytes(), opts, |_| true)
}

/// A chosen part of a log: lines `first_line..=last_line` (1-based).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct Extract {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub first_line: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub last_line: u64,
    /// The lines (not yet redacted: redaction runs on export).
    pub text: String,
}

/// Cuts the chosen lines with `context` lines around each (overlapping windows merge). A
/// continuation (stack trace) after a chosen line is included whole, up to 200 lines.
pub fn extracts(
    input: impl Read,
    chosen: &[u64],
    context: u32,
    max_line_bytes: u32,
) -> Result<Vec<Extract>, LogError> {
    let mut wanted: Vec<u64> = chosen.iter().copied().filter(|&l| l > 0).collect();
    wanted.sort_unstable();
    wanted.dedup();
    // Windows [first, last] before stack-trace extension.
    let c = u64::from(context);
    let mut windows: Vec<(u64, u64)> = Vec::new();
    for l in wanted {
        let (s, e) = (l.saturating_sub(c).max(1), l + c);
        match windows.last_mut() {
            Some(w) if s <= w.1 + 1 => w.1 = w.1.max(e),
            _ => windows.push((s, e)),
        }
    }
    let mut out: Vec<Extract> = Vec::new();
    let mut wi = 0;
    let mut n = 0u64;
    let mut cur: Option<Extract> = None;
    let mut trace_budget = 0u32;
    let mut input = input;
    let res = for_each_line(&mut input, max_line_bytes as usize, |line, _, _| {
        n += 1;
        let text = String::from_utf8_lossy(line);
        let in_window = windows.get(wi).is_some_and(|w| n >= w.0 && n <= w.1);
        let extend = !in_window && cur.is_some() && trace_budget > 0 && scan::continuation(line);
        if in_window || extend {
            let e = cur.get_or_insert_with(|| Extract {
                first_line: n,
                last_line: n,
                text: String::new(),
            });
            if !e.text.is_empty() {
                e.text.push('\n');
            }
            e.text.push_str(&text);
            e.last_line = n;
            if extend {
                trace_budget -= 1;
            } else {
                trace_budget = 200;
            }
        } else if let Some(e) = cur.take() {
            out.push(e);
        }
        while windows.get(wi).is_some_and(|w| n >= w.1) {
            wi += 1;
        }
        wi < windows.len() || (cur.is_some() && trace_budget > 0)
    });
    match res {
        Ok(_) | Err(LogError::Cancelled) => {}
        Err(e) => return Err(e),
    }
    if let Some(e) = cur.take() {
        out.push(e);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
