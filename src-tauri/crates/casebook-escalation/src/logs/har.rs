//! HAR files and JSON lines.

use super::Analyzer;
use super::scan::{self, LineFacts};
use super::time;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Har {
    log: HarLog,
}

#[derive(Deserialize)]
struct HarLog {
    #[serde(default)]
    entries: Vec<HarEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HarEntry {
    #[serde(default)]
    started_date_time: String,
    #[serde(default)]
    request: HarRequest,
    #[serde(default)]
    response: HarResponse,
}

#[derive(Deserialize, Default)]
struct HarRequest {
    #[serde(default)]
    method: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    headers: Vec<HarHeader>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct HarResponse {
    #[serde(default)]
    status: i64,
    #[serde(default)]
    status_text: String,
    #[serde(default)]
    headers: Vec<HarHeader>,
}

#[derive(Deserialize)]
struct HarHeader {
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: String,
}

const REQUEST_ID_HEADERS: &[&str] = &[
    "x-request-id",
    "request-id",
    "x-correlation-id",
    "x-amzn-requestid",
    "x-amz-request-id",
    "cf-ray",
];

/// Analyses a whole HAR document; `Err` names what is malformed.
pub(super) fn analyze(a: &mut Analyzer, bytes: &[u8]) -> Result<(), String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let har: Har = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    for e in har.log.entries {
        a.lines += 1;
        let ts = time::find(e.started_date_time.as_bytes(), a.opts.syslog_year).map(|f| {
            let ms = a.civil_to_millis(&f);
            a.note_time(f.format, ms);
            ms
        });
        let mut facts = LineFacts::default();
        for h in e.request.headers.iter().chain(&e.response.headers) {
            let name = h.name.to_ascii_lowercase();
            if REQUEST_ID_HEADERS.contains(&name.as_str()) && !h.value.is_empty() {
                facts.request_ids.push(h.value.as_bytes());
            } else if name == "traceparent"
                && let Some(t) = scan::traceparent_trace(h.value.as_bytes())
            {
                facts.trace_ids.push(t);
            }
        }
        let mut url_facts = LineFacts::default();
        a.scanner.facts(e.request.url.as_bytes(), &mut url_facts);
        facts.uuids = url_facts.uuids;
        facts.request_ids.extend(url_facts.request_ids);
        facts.trace_ids.extend(url_facts.trace_ids);
        let status = u16::try_from(e.response.status)
            .ok()
            .filter(|s| (100..=599).contains(s));
        facts.status = status;
        a.record_facts(&facts);
        if let Some(s) = status.filter(|s| *s >= 400) {
            // The path without its query (ids and tokens live there).
            let path = e.request.url.split(['?', '#']).next().unwrap_or("");
            let msg = format!(
                "{} {} -> {} {}",
                e.request.method, path, s, e.response.status_text
            );
            let line = format!(
                "{} {} {} {} {}",
                e.started_date_time, e.request.method, e.request.url, s, e.response.status_text
            );
            a.record_error(
                if s >= 500 { "error" } else { "warning" },
                msg.as_bytes(),
                line.as_bytes(),
                ts,
            );
        } else {
            a.open_event = None;
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct JsonLine {
    #[serde(
        alias = "timestamp",
        alias = "@timestamp",
        alias = "ts",
        alias = "date",
        alias = "datetime",
        alias = "t"
    )]
    time: Option<Value>,
    #[serde(
        alias = "severity",
        alias = "lvl",
        alias = "levelname",
        alias = "log.level"
    )]
    level: Option<Value>,
    #[serde(alias = "msg", alias = "text")]
    message: Option<Value>,
    error: Option<Value>,
}

/// One JSON line; `false` if it is not a JSON object.
pub(super) fn json_line(a: &mut Analyzer, line: &[u8]) -> bool {
    let Ok(j) = serde_json::from_slice::<JsonLine>(line) else {
        return false;
    };
    a.lines += 1;
    let ts = match &j.time {
        Some(Value::String(s)) => time::find(s.as_bytes(), a.opts.syslog_year).map(|f| {
            let ms = a.civil_to_millis(&f);
            a.note_time(f.format, ms);
            ms
        }),
        Some(Value::Number(n)) => n.as_f64().and_then(time::epoch).map(|(fmt, ms)| {
            a.note_time(fmt, ms);
            ms
        }),
        _ => None,
    };
    let mut facts = LineFacts::default();
    a.scanner.facts(line, &mut facts);
    a.record_facts(&facts);
    let level = match &j.level {
        Some(Value::String(l)) => match l.to_ascii_lowercase().as_str() {
            "error" | "err" | "severe" => Some("error"),
            "fatal" | "panic" | "emerg" | "emergency" => Some("fatal"),
            "critical" | "crit" | "alert" => Some("critical"),
            _ => None,
        },
        // Numeric levels (pino/bunyan): 50 error, 60 fatal.
        Some(Value::Number(n)) => match n.as_u64() {
            Some(50..=59) => Some("error"),
            Some(60..) => Some("fatal"),
            _ => None,
        },
        _ => None,
    }
    .or_else(|| facts.status.filter(|s| *s >= 500).map(|_| "error"));
    match level {
        Some(level) => {
            let text = |v: &Option<Value>| match v {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Object(o)) => o
                    .get("message")
                    .or_else(|| o.get("msg"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                _ => None,
            };
            let msg = text(&j.message)
                .or_else(|| text(&j.error))
                .unwrap_or_default();
            a.record_error(level, msg.as_bytes(), line, ts.or(a.last_time));
        }
        None => a.open_event = None,
    }
    true
}
