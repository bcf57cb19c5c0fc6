//! Redaction preview and the exports: Markdown, a self-contained HTML file, and a zip bundle
//! (package.md + redacted extracts + manifest.json with SHA-256 checksums).
//!
//! Fail closed: every export redacts the whole package with one [`Redactor`] (consistent
//! pseudonyms across sections and extracts), then re-scans the result with a fresh redactor. If
//! the redactor cannot be built (a bad custom rule) or the re-scan still finds something, there is
//! no export — an error, and no bytes.

use crate::package::PackageContent;
use crate::redact::{AuditSummary, RedactError, RedactOptions, Redactor, Span};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::io::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Markdown,
    Html,
    Zip,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Markdown => "md",
            ExportFormat::Html => "html",
            ExportFormat::Zip => "zip",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("redaction failed, nothing was exported: {0}")]
    Redaction(#[from] RedactError),
    #[error(
        "redaction left {0} sensitive value(s) in the output, nothing was exported; add a custom rule or edit the text"
    )]
    Residue(u64),
    #[error("building the bundle: {0}")]
    Bundle(String),
}

/// One redacted text field of the package, for the preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct SectionPreview {
    /// Which field: `summary`, `steps[2]`, `evidence.extracts[0]`, …
    pub section: String,
    /// Spans are byte ranges in the field's current text.
    pub spans: Vec<Span>,
    pub redacted: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    /// Only the fields where something was redacted.
    pub sections: Vec<SectionPreview>,
    pub audit: AuditSummary,
}

/// The bytes of an export and what redaction did (kinds and counts, never values).
#[derive(Debug, Clone)]
pub struct Exported {
    pub format: ExportFormat,
    pub file_name: String,
    pub bytes: Vec<u8>,
    pub audit: AuditSummary,
}

/// Calls `f` on every text field of the package, with its name.
fn for_each_text(c: &mut PackageContent, mut f: impl FnMut(String, &mut String)) {
    f("title".into(), &mut c.title);
    f("summary".into(), &mut c.summary);
    f("impact.who".into(), &mut c.impact.who);
    f("impact.howMany".into(), &mut c.impact.how_many);
    f("impact.business".into(), &mut c.impact.business);
    let e = &mut c.environment;
    for (name, v) in [
        ("environment.productVersion", &mut e.product_version),
        ("environment.region", &mut e.region),
        ("environment.tenant", &mut e.tenant),
        ("environment.os", &mut e.os),
        ("environment.browser", &mut e.browser),
        ("environment.integration", &mut e.integration),
    ] {
        f(name.into(), v);
    }
    for (i, s) in c.steps_to_reproduce.iter_mut().enumerate() {
        f(format!("steps[{i}]"), s);
    }
    f("expected".into(), &mut c.expected);
    f("actual".into(), &mut c.actual);
    for (i, x) in c.evidence.extracts.iter_mut().enumerate() {
        f(format!("evidence.extracts[{i}].source"), &mut x.source);
        f(format!("evidence.extracts[{i}]"), &mut x.text);
        f(format!("evidence.extracts[{i}].note"), &mut x.note);
    }
    for (i, id) in c.evidence.ids.iter_mut().enumerate() {
        f(format!("evidence.ids[{i}]"), &mut id.value);
    }
    for (i, a) in c.evidence.attachments.iter_mut().enumerate() {
        f(format!("evidence.attachments[{i}]"), a);
    }
    for (i, t) in c.timeline.iter_mut().enumerate() {
        f(format!("timeline[{i}]"), &mut t.text);
    }
    f("workaround.tried".into(), &mut c.workaround.tried);
    f("workaround.result".into(), &mut c.workaround.result);
    for (i, r) in c.related.iter_mut().enumerate() {
        f(format!("related[{i}].target"), &mut r.target);
        f(format!("related[{i}].title"), &mut r.title);
    }
    f("communication".into(), &mut c.communication);
}

/// What the export would redact, field by field, with the package's redaction settings.
pub fn preview(content: &PackageContent) -> Result<Preview, RedactError> {
    let mut r = Redactor::new(&content.redaction)?;
    let mut c = content.clone();
    let mut sections = Vec::new();
    for_each_text(&mut c, |name, text| {
        let out = r.redact(text);
        if !out.spans.is_empty() {
            sections.push(SectionPreview {
                section: name,
                spans: out.spans,
                redacted: out.text,
            });
        }
    });
    Ok(Preview {
        sections,
        audit: r.audit().clone(),
    })
}

/// Redacts every field of the package (one pseudonym table for all of them) and verifies the
/// result with a fresh redactor. Returns the redacted package and the audit summary.
pub fn redact_package(
    content: &PackageContent,
) -> Result<(PackageContent, AuditSummary), ExportError> {
    let mut r = Redactor::new(&content.redaction)?;
    let mut c = content.clone();
    for_each_text(&mut c, |_, text| {
        *text = r.redact(text).text;
    });
    // The redaction settings hold the agent's allow list and custom patterns: they are not part
    // of what leaves the machine.
    c.redaction = RedactOptions::default();
    verify(&mut c, &content.redaction)?;
    Ok((c, r.audit().clone()))
}

fn verify(c: &mut PackageContent, opts: &RedactOptions) -> Result<(), ExportError> {
    let mut check = Redactor::new(opts)?;
    for_each_text(c, |_, text| {
        check.redact(text);
    });
    match check.audit().total {
        0 => Ok(()),
        n => Err(ExportError::Residue(n)),
    }
}

/// A code fence longer than any run of backticks in `text`.
fn fence(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for ch in text.chars() {
        if ch == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

fn time(ms: i64) -> String {
    crate::logs::rfc3339(ms)
}

/// The package as Markdown (the content must already be redacted).
/// Text for Markdown outside code: `<` escaped, so a placeholder such as `<email-1>` is shown as
/// written instead of being read (and dropped) as an HTML tag.
fn esc(s: &str) -> String {
    s.replace('<', "\\<")
}

pub fn to_markdown(c: &PackageContent) -> String {
    let mut md = String::with_capacity(4096);
    let none = "_(not given)_";
    let or_none = |s: &str| {
        if s.trim().is_empty() {
            none.to_owned()
        } else {
            esc(s.trim())
        }
    };
    let _ = writeln!(md, "# {}\n", esc(c.title.trim()));
    let _ = writeln!(md, "**Severity:** {}\n", c.severity.label());
    let comp = c.completeness();
    let _ = writeln!(md, "**Completeness:** {}%", comp.score);
    if !comp.missing_labels.is_empty() {
        let _ = writeln!(md, " — missing: {}", comp.missing_labels.join("; "));
    }
    md.push('\n');
    let _ = writeln!(md, "## Summary\n\n{}\n", or_none(&c.summary));
    let _ = writeln!(md, "## Business impact\n");
    let _ = writeln!(md, "- **Who:** {}", or_none(&c.impact.who));
    let _ = writeln!(md, "- **How many:** {}", or_none(&c.impact.how_many));
    let _ = writeln!(
        md,
        "- **Since:** {}",
        c.impact.since.map(time).unwrap_or_else(|| none.into())
    );
    let _ = writeln!(md, "- **Impact:** {}\n", or_none(&c.impact.business));
    let _ = writeln!(md, "## Environment\n");
    let env = c.environment.filled();
    if env.is_empty() {
        let _ = writeln!(md, "{none}");
    }
    for (k, v) in env {
        let _ = writeln!(md, "- **{k}:** {}", esc(v));
    }
    let _ = writeln!(md, "\n## Steps to reproduce\n");
    let steps: Vec<&String> = c
        .steps_to_reproduce
        .iter()
        .filter(|s| !s.trim().is_empty())
        .collect();
    if steps.is_empty() {
        let _ = writeln!(md, "{none}");
    }
    for (i, s) in steps.iter().enumerate() {
        let _ = writeln!(md, "{}. {}", i + 1, esc(s.trim()));
    }
    let _ = writeln!(md, "\n## Expected vs actual\n");
    let _ = writeln!(md, "- **Expected:** {}", or_none(&c.expected));
    let _ = writeln!(md, "- **Actual:** {}\n", or_none(&c.actual));
    let _ = writeln!(md, "## Evidence\n");
    if c.evidence.is_empty() {
        let _ = writeln!(md, "{none}\n");
    }
    if !c.evidence.ids.is_empty() {
        let _ = writeln!(md, "**Identifiers:**\n");
        for id in &c.evidence.ids {
            let _ = writeln!(md, "- {:?}: `{}`", id.kind, id.value.replace('`', "'"));
        }
        md.push('\n');
    }
    for (i, x) in c.evidence.extracts.iter().enumerate() {
        let _ = writeln!(
            md,
            "**Extract {}** — {}, lines {}–{}{}\n",
            i + 1,
            esc(&x.source),
            x.first_line,
            x.last_line,
            if x.note.trim().is_empty() {
                String::new()
            } else {
                format!(": {}", esc(x.note.trim()))
            }
        );
        let f = fence(&x.text);
        let _ = writeln!(md, "{f}text\n{}\n{f}\n", x.text.trim_end());
    }
    if !c.evidence.attachments.is_empty() {
        let _ = writeln!(
            md,
            "**Attachments on the ticket:** {}\n",
            esc(&c.evidence.attachments.join(", "))
        );
    }
    let _ = writeln!(md, "## Timeline (UTC)\n");
    if c.timeline.is_empty() {
        let _ = writeln!(md, "{none}");
    }
    for t in &c.timeline {
        let _ = writeln!(md, "- {} — {}", time(t.at), esc(t.text.trim()));
    }
    let _ = writeln!(md, "\n## Workaround\n");
    let _ = writeln!(md, "- **Tried:** {}", or_none(&c.workaround.tried));
    let _ = writeln!(md, "- **Result:** {}\n", or_none(&c.workaround.result));
    let _ = writeln!(md, "## Related articles, cases and known issues\n");
    if c.related.is_empty() {
        let _ = writeln!(md, "{none}");
    }
    for r in &c.related {
        let title = if r.title.trim().is_empty() {
            String::new()
        } else {
            format!(" — {}", esc(r.title.trim()))
        };
        let _ = writeln!(md, "- {:?}: {}{title}", r.kind, esc(&r.target));
    }
    let _ = writeln!(
        md,
        "\n## Customer communication so far\n\n{}",
        or_none(&c.communication)
    );
    md
}

const HTML_STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}\
pre{background:#f4f4f6;padding:.75rem;overflow-x:auto;font-size:13px}code{font-family:ui-monospace,monospace}\
h1{font-size:1.6rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}";

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained HTML page: sanitized body, inline style, and a CSP that forbids every
/// external load (no script, no remote image).
pub fn to_html(c: &PackageContent) -> String {
    // Images become links: a self-contained page loads nothing (and tells no server it was read).
    let body = casebook_core::markdown::render(&to_markdown(c).replace("![", "\\!["));
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
<title>{}</title><style>{HTML_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n",
        escape_html(c.title.trim())
    )
}

/// The package as the export would show it — redacted Markdown rendered to sanitized HTML — for
/// the UI's preview pane. Nothing leaves the machine, so nothing is audited.
pub fn preview_html(content: &PackageContent) -> Result<String, ExportError> {
    let (redacted, _) = redact_package(content)?;
    Ok(casebook_core::markdown::render(
        &to_markdown(&redacted).replace("![", "\\!["),
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a> {
    format: &'static str,
    title: &'a str,
    generated_at: String,
    files: Vec<ManifestFile>,
    /// Kinds and counts of what was redacted.
    redaction: &'a AuditSummary,
}

#[derive(Serialize)]
struct ManifestFile {
    path: String,
    bytes: u64,
    sha256: String,
}

fn sha256_hex(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    let mut s = String::with_capacity(64);
    for b in d {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A file name fragment: letters, digits, `-`, `_`, `.` only.
fn safe_name(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    let t = t.trim_matches('.').to_owned();
    if t.is_empty() { "extract".into() } else { t }
}

/// The zip bundle. Entries are stored uncompressed, so the archive's bytes are the files' bytes
/// (and a scan of the archive is a scan of its content).
pub fn to_zip(c: &PackageContent, audit: &AuditSummary, now: i64) -> Result<Vec<u8>, ExportError> {
    let bad = |e: &dyn std::fmt::Display| ExportError::Bundle(e.to_string());
    let mut files: Vec<(String, Vec<u8>)> =
        vec![("package.md".into(), to_markdown(c).into_bytes())];
    for (i, x) in c.evidence.extracts.iter().enumerate() {
        let name = format!(
            "extracts/{:02}-{}-L{}-{}.log",
            i + 1,
            safe_name(&x.source),
            x.first_line,
            x.last_line
        );
        let mut text = x.text.clone();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        files.push((name, text.into_bytes()));
    }
    let manifest = Manifest {
        format: "casebook-escalation/1",
        title: &c.title,
        generated_at: time(now),
        files: files
            .iter()
            .map(|(p, b)| ManifestFile {
                path: p.clone(),
                bytes: b.len() as u64,
                sha256: sha256_hex(b),
            })
            .collect(),
        redaction: audit,
    };
    let manifest = serde_json::to_vec_pretty(&manifest).map_err(|e| bad(&e))?;
    files.push(("manifest.json".into(), manifest));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .unix_permissions(0o644);
    for (name, bytes) in &files {
        zip.start_file(name.as_str(), opts).map_err(|e| bad(&e))?;
        zip.write_all(bytes).map_err(|e| bad(&e))?;
    }
    let cursor = zip.finish().map_err(|e| bad(&e))?;
    Ok(cursor.into_inner())
}

/// Redacts the package and builds the export. Nothing is returned unless redaction succeeded.
pub fn export(
    content: &PackageContent,
    format: ExportFormat,
    now: i64,
) -> Result<Exported, ExportError> {
    let (redacted, audit) = redact_package(content)?;
    let bytes = match format {
        ExportFormat::Markdown => to_markdown(&redacted).into_bytes(),
        ExportFormat::Html => to_html(&redacted).into_bytes(),
        ExportFormat::Zip => to_zip(&redacted, &audit, now)?,
    };
    let stem = safe_name(
        redacted
            .title
            .split(']')
            .next()
            .unwrap_or("")
            .trim_start_matches('['),
    );
    let stem = if stem == "extract" {
        "escalation".to_owned()
    } else {
        format!("escalation-{stem}")
    };
    Ok(Exported {
        format,
        file_name: format!("{stem}.{}", format.extension()),
        bytes,
        audit,
    })
}

#[cfg(test)]
mod tests;
