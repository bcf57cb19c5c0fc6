//! Runbook folders: scanning (recursive, with a per-file reason for every file skipped), front
//! matter, mapping a file to one document plus one per section, and rendering for the runbook view.

use crate::doc::{KbDocument, SourceKind, html_to_text};
use crate::links::{self, LINK_HREF_PREFIX, RunbookLink};
use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Largest runbook file indexed (bytes). Larger files are skipped with a reason: a runbook that
/// big is a log dump or generated output, and one file must not stall indexing.
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;
/// Most files taken from one folder; the rest are reported, not indexed.
pub const MAX_FILES_PER_FOLDER: usize = 50_000;
/// Deepest folder nesting followed.
const MAX_DEPTH: usize = 32;

/// Front matter fields Casebook reads (all optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FrontMatter {
    pub title: Option<String>,
    pub tags: Vec<String>,
    pub service: Option<String>,
    pub owner: Option<String>,
    /// Alert names the runbook answers (`alerts:` or `alert:`).
    pub alerts: Vec<String>,
}

/// A heading of a runbook, in document order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionRef {
    pub level: u8,
    pub title: String,
    /// The anchor, unique in the file (`diagnosis`, `diagnosis-1`).
    pub anchor: String,
}

/// A runbook file parsed into what is indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRunbook {
    pub front: FrontMatter,
    pub title: String,
    pub sections: Vec<(SectionRef, String)>,
    /// Text before the first heading.
    pub preamble: String,
    pub warnings: Vec<String>,
}

/// Splits off a YAML-style front matter block (`---` … `---`). Returns the fields, the rest of the
/// text and a warning when a block was opened but never closed (then nothing is taken from it).
pub fn split_front_matter(text: &str) -> (FrontMatter, &str, Option<String>) {
    let t = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(after) = t
        .strip_prefix("---")
        .filter(|a| a.starts_with('\n') || a.starts_with("\r\n"))
    else {
        return (FrontMatter::default(), t, None);
    };
    let mut offset = 0;
    let mut end = None;
    for line in after.split_inclusive('\n') {
        if offset > 0 && matches!(line.trim_end(), "---" | "...") {
            end = Some((offset, offset + line.len()));
            break;
        }
        offset += line.len();
    }
    let Some((block_end, rest_start)) = end else {
        return (
            FrontMatter::default(),
            t,
            Some("front matter is not closed by '---'; it was read as text".into()),
        );
    };
    (
        parse_front_matter(&after[..block_end]),
        &after[rest_start..],
        None,
    )
}

fn parse_front_matter(block: &str) -> FrontMatter {
    let mut fm = FrontMatter::default();
    let mut list_key: Option<String> = None;
    for line in block.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(item) = trimmed.strip_prefix("- ") {
            if let Some(k) = &list_key {
                push_value(&mut fm, k, unquote(item));
            }
            continue;
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            list_key = None;
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim();
        if value.is_empty() {
            list_key = Some(key);
            continue;
        }
        list_key = None;
        if let Some(inner) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
            for item in inner.split(',') {
                push_value(&mut fm, &key, unquote(item));
            }
        } else {
            push_value(&mut fm, &key, unquote(value));
        }
    }
    fm
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    let s = s
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(s);
    s.trim().to_owned()
}

fn push_value(fm: &mut FrontMatter, key: &str, value: String) {
    if value.is_empty() {
        return;
    }
    match key {
        "title" => fm.title = Some(value),
        "tags" | "tag" | "keywords" => fm.tags.push(value),
        "service" | "services" | "component" if fm.service.is_none() => fm.service = Some(value),
        "owner" | "owners" | "team" if fm.owner.is_none() => fm.owner = Some(value),
        "alert" | "alerts" | "alertname" => fm.alerts.push(value),
        _ => {}
    }
}

/// GitHub-style anchor: lower-case letters, digits, `-` and `_`; spaces become `-`.
pub fn slugify(heading: &str) -> String {
    let mut s = String::with_capacity(heading.len());
    for c in heading.trim().chars() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            s.extend(c.to_lowercase());
        } else if c.is_whitespace() {
            s.push('-');
        }
    }
    if s.is_empty() { "section".into() } else { s }
}

fn md_options() -> Options {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    opts
}

fn level_num(l: HeadingLevel) -> u8 {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Parses a runbook's Markdown into a title, sections and their plain text.
pub fn parse(text: &str, file_stem: &str) -> ParsedRunbook {
    let (front, body, warning) = split_front_matter(text);
    let mut warnings: Vec<String> = warning.into_iter().collect();
    let mut sections: Vec<(SectionRef, String)> = Vec::new();
    let mut preamble = String::new();
    let mut used: HashMap<String, usize> = HashMap::new();
    let mut in_heading: Option<(u8, String)> = None;
    for event in Parser::new_ext(body, md_options()) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                in_heading = Some((level_num(level), String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, title)) = in_heading.take() {
                    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
                    let base = slugify(&title);
                    let n = used.entry(base.clone()).or_insert(0);
                    let anchor = if *n == 0 {
                        base.clone()
                    } else {
                        format!("{base}-{n}")
                    };
                    *n += 1;
                    sections.push((
                        SectionRef {
                            level,
                            title,
                            anchor,
                        },
                        String::new(),
                    ));
                }
            }
            Event::Text(t) | Event::Code(t) | Event::InlineMath(t) | Event::DisplayMath(t) => {
                push_text(&mut in_heading, &mut sections, &mut preamble, &t);
            }
            Event::Html(h) | Event::InlineHtml(h) => {
                let t = html_to_text(&h);
                push_text(&mut in_heading, &mut sections, &mut preamble, &t);
            }
            Event::SoftBreak | Event::HardBreak => {
                push_text(&mut in_heading, &mut sections, &mut preamble, " ");
            }
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Item
                | TagEnd::CodeBlock
                | TagEnd::TableRow
                | TagEnd::BlockQuote(_),
            ) => {
                push_text(&mut in_heading, &mut sections, &mut preamble, "\n");
            }
            Event::End(TagEnd::TableCell) => {
                push_text(&mut in_heading, &mut sections, &mut preamble, " | ");
            }
            _ => {}
        }
    }
    let title = front
        .title
        .clone()
        .or_else(|| {
            sections
                .iter()
                .find(|(s, _)| s.level == 1)
                .or_else(|| sections.first())
                .map(|(s, _)| s.title.clone())
        })
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| file_stem.to_owned());
    if sections.is_empty() && preamble.trim().is_empty() && front.title.is_none() {
        warnings.push("no text".into());
    }
    ParsedRunbook {
        front,
        title,
        sections,
        preamble,
        warnings,
    }
}

fn push_text(
    in_heading: &mut Option<(u8, String)>,
    sections: &mut [(SectionRef, String)],
    preamble: &mut String,
    t: &str,
) {
    if let Some((_, h)) = in_heading {
        h.push_str(t);
    } else if let Some((_, body)) = sections.last_mut() {
        body.push_str(t);
    } else {
        preamble.push_str(t);
    }
}

/// Splits a CamelCase or snake/kebab identifier into words: `KubePodCrashLooping` →
/// `Kube Pod Crash Looping`, `etcd_mvcc_db` → `etcd mvcc db`. Returns `None` when there is
/// nothing to split.
pub fn split_identifier(s: &str) -> Option<String> {
    // Fast path (most words): nothing to split without punctuation or an inner capital.
    if s.chars().all(char::is_alphanumeric) && !s.chars().skip(1).any(char::is_uppercase) {
        return None;
    }
    let mut out = String::with_capacity(s.len() + 8);
    let chars: Vec<char> = s.chars().collect();
    let mut split = false;
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
            split = true;
            continue;
        }
        if i > 0 && c.is_uppercase() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push(' ');
                split = true;
            }
        }
        out.push(c);
    }
    split.then(|| out.trim().to_owned())
}

/// True for words that look like identifiers rather than prose: CamelCase inside the word, digits,
/// or `_` joining parts.
pub fn looks_like_identifier(word: &str) -> bool {
    let mut prev_lower = false;
    let mut has_alpha = false;
    for c in word.chars() {
        if c.is_ascii_digit() || c == '_' {
            return true;
        }
        if c.is_uppercase() && prev_lower {
            return true;
        }
        has_alpha |= c.is_alphabetic();
        prev_lower = c.is_lowercase();
    }
    !has_alpha
}

/// Maps a parsed runbook file to its documents: the whole file first, then one per section that
/// has text. `source_id` names the folder, `rel_path` the file inside it (with `/`).
pub fn documents(
    source_id: i64,
    rel_path: &str,
    full_path: &Path,
    parsed: &ParsedRunbook,
    fingerprint: u64,
    updated_at: i64,
) -> Vec<KbDocument> {
    let origin = format!("file:{source_id}:{rel_path}");
    let root_id = format!("rb:{source_id}:{rel_path}");
    let stem = Path::new(rel_path)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("");
    let mut identifiers: Vec<String> = parsed.front.alerts.clone();
    if looks_like_identifier(stem) || stem.chars().any(|c| c.is_uppercase()) {
        identifiers.push(stem.to_owned());
    }
    for w in parsed.title.split_whitespace() {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '_');
        if looks_like_identifier(w) && w.chars().any(|c| c.is_alphabetic()) && w.len() > 3 {
            identifiers.push(w.to_owned());
        }
    }
    identifiers.sort();
    identifiers.dedup();
    let service = parsed.front.service.clone().or_else(|| {
        Path::new(rel_path)
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str())
            .map(str::to_owned)
    });
    let tags = casebook_core::model::normalize_tags(&parsed.front.tags);
    let url = Some(full_path.display().to_string());
    let base = |id: String, kind| {
        let mut d = KbDocument::new(id, kind, origin.clone(), parsed.title.clone());
        d.fingerprint = fingerprint;
        d.path = rel_path.to_owned();
        d.identifiers = identifiers.clone();
        d.tags = tags.clone();
        d.service = service.clone();
        d.owner = parsed.front.owner.clone();
        d.url = url.clone();
        d.updated_at = updated_at;
        d
    };
    let mut whole = base(root_id.clone(), SourceKind::Runbook);
    whole.headings = parsed
        .sections
        .iter()
        .map(|(s, _)| s.title.clone())
        .collect();
    let mut body = parsed.preamble.trim().to_owned();
    for (s, text) in &parsed.sections {
        body.push_str("\n\n");
        body.push_str(&s.title);
        body.push('\n');
        body.push_str(text.trim());
    }
    whole.body = body;
    let mut out = vec![whole];
    // Heading path for each section (the titles of the enclosing headings).
    let mut stack: Vec<(u8, String)> = Vec::new();
    for (s, text) in &parsed.sections {
        while stack.last().is_some_and(|(l, _)| *l >= s.level) {
            stack.pop();
        }
        let mut headings: Vec<String> = stack
            .iter()
            .filter(|(l, _)| *l > 1)
            .map(|(_, t)| t.clone())
            .collect();
        headings.push(s.title.clone());
        stack.push((s.level, s.title.clone()));
        let text = text.trim();
        if text.is_empty() || s.level == 1 && parsed.sections.len() > 1 && text.len() < 40 {
            continue;
        }
        let mut d = base(
            format!("{root_id}#{}", s.anchor),
            SourceKind::RunbookSection,
        );
        d.headings = headings;
        d.body = text.to_owned();
        d.anchor = Some(s.anchor.clone());
        d.section = Some(s.title.clone());
        out.push(d);
    }
    out
}

/// Why a file in a runbook folder was not indexed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFile {
    pub path: String,
    pub reason: String,
}

/// A Markdown file found by a scan (not yet read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    pub full_path: PathBuf,
    /// Relative to the folder, with `/` separators.
    pub rel_path: String,
    pub size: u64,
    pub mtime_ms: i64,
}

/// Lists the Markdown files under `root` (recursively; hidden folders and symlinks are not
/// followed). Files that cannot be listed are reported as skipped.
pub fn list_markdown(root: &Path) -> std::io::Result<(Vec<FoundFile>, Vec<SkippedFile>)> {
    let meta = std::fs::metadata(root)?;
    if !meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a folder",
        ));
    }
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    let mut stack = vec![(root.to_owned(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                skipped.push(SkippedFile {
                    path: rel(root, &dir),
                    reason: format!("cannot list the folder: {e}"),
                });
                continue;
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            let Ok(ft) = entry.file_type() else { continue };
            let path = entry.path();
            if ft.is_dir() {
                if depth < MAX_DEPTH {
                    stack.push((path, depth + 1));
                }
                continue;
            }
            if !ft.is_file() {
                continue;
            }
            let lower = name.to_ascii_lowercase();
            if !(lower.ends_with(".md") || lower.ends_with(".markdown")) {
                continue;
            }
            if found.len() >= MAX_FILES_PER_FOLDER {
                skipped.push(SkippedFile {
                    path: rel(root, &path),
                    reason: format!("more than {MAX_FILES_PER_FOLDER} files in the folder"),
                });
                continue;
            }
            match entry.metadata() {
                Ok(m) => found.push(FoundFile {
                    rel_path: rel(root, &path),
                    full_path: path,
                    size: m.len(),
                    mtime_ms: m
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map(|d| d.as_millis() as i64)
                        .unwrap_or(0),
                }),
                Err(e) => skipped.push(SkippedFile {
                    path: rel(root, &path),
                    reason: format!("cannot read its metadata: {e}"),
                }),
            }
        }
    }
    found.sort_by(|a, b| a.rel_path.cmp(&b.rel_path));
    Ok((found, skipped))
}

fn rel(root: &Path, p: &Path) -> String {
    let r = p.strip_prefix(root).unwrap_or(p);
    r.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads a runbook file's text, or says why it cannot be indexed (too large, binary, not UTF-8).
pub fn read_text(path: &Path, size: u64) -> Result<String, String> {
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "larger than {} MiB ({} bytes)",
            MAX_FILE_BYTES / (1024 * 1024),
            size
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "larger than {} MiB ({} bytes)",
            MAX_FILE_BYTES / (1024 * 1024),
            bytes.len()
        ));
    }
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return Err("binary file (contains NUL bytes)".into());
    }
    String::from_utf8(bytes)
        .map_err(|e| format!("not valid UTF-8 (at byte {})", e.utf8_error().valid_up_to()))
}

/// FNV-1a 64: a stable content fingerprint (the same on every build and platform).
pub fn fingerprint(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A runbook rendered for the runbook view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderedRunbook {
    pub title: String,
    /// Sanitized HTML; headings carry `id="section-<anchor>"`.
    pub html: String,
    pub sections: Vec<SectionRef>,
    pub front: FrontMatter,
    /// Relative links to other Markdown files of the folder, rewritten in `html` to
    /// `#runbook-link-<n>` (see [`crate::links`]).
    pub links: Vec<RunbookLink>,
}

/// The prefix of heading ids in rendered runbooks (keeps them from clobbering page globals).
pub const ANCHOR_ID_PREFIX: &str = "section-";

/// Renders a runbook to sanitized HTML with heading anchors. Same Markdown options and the same
/// sanitization policy as `casebook_core::markdown::render`, plus `id` on headings.
pub fn render(text: &str, file_stem: &str) -> RenderedRunbook {
    render_at(text, file_stem, "")
}

/// [`render`] for the file at `rel_path` in its folder: relative links to other Markdown files
/// are resolved against it and listed in `links`; links to a heading of the same page
/// (`#diagnosis`) point at its prefixed id (`#section-diagnosis`).
pub fn render_at(text: &str, file_stem: &str, rel_path: &str) -> RenderedRunbook {
    let parsed = parse(text, file_stem);
    let mut links: Vec<RunbookLink> = Vec::new();
    let (front, body, _) = split_front_matter(text);
    let mut anchors = parsed.sections.iter().map(|(s, _)| s.anchor.clone());
    let events = Parser::new_ext(body, md_options()).map(|e| match e {
        Event::Start(Tag::Heading {
            level,
            classes,
            attrs,
            ..
        }) => Event::Start(Tag::Heading {
            level,
            id: anchors.next().map(Into::into),
            classes,
            attrs,
        }),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let dest_url = if let Some(fragment) = dest_url.strip_prefix('#') {
                format!("#{ANCHOR_ID_PREFIX}{fragment}").into()
            } else if let Some((path, anchor)) = links::resolve(rel_path, &dest_url) {
                let href = format!("{LINK_HREF_PREFIX}{}", links.len());
                links.push(RunbookLink {
                    href: href.clone(),
                    path,
                    anchor,
                });
                href.into()
            } else {
                dest_url
            };
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            })
        }
        other => other,
    });
    let mut raw = String::with_capacity(body.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut raw, events);
    let html = ammonia::Builder::default()
        .url_schemes(["http", "https", "mailto"].into())
        .link_rel(Some("noopener noreferrer"))
        .add_tag_attributes("input", ["type", "checked", "disabled"])
        .add_tags(["input"])
        .add_tag_attributes("h1", ["id"])
        .add_tag_attributes("h2", ["id"])
        .add_tag_attributes("h3", ["id"])
        .add_tag_attributes("h4", ["id"])
        .add_tag_attributes("h5", ["id"])
        .add_tag_attributes("h6", ["id"])
        .id_prefix(Some(ANCHOR_ID_PREFIX))
        .clean(&raw)
        .to_string();
    RenderedRunbook {
        title: parsed.title.clone(),
        html,
        sections: parsed.sections.into_iter().map(|(s, _)| s).collect(),
        front,
        links,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_fields_are_read() {
        let text = "---\ntitle: \"Disk full\"\ntags: [storage, Disk Space]\nservice: ceph\nowner: sre\nweight: 3\n---\n# Ignored title\ntext";
        let (fm, rest, warn) = split_front_matter(text);
        assert_eq!(fm.title.as_deref(), Some("Disk full"));
        assert_eq!(fm.tags, vec!["storage", "Disk Space"]);
        assert_eq!(fm.service.as_deref(), Some("ceph"));
        assert_eq!(fm.owner.as_deref(), Some("sre"));
        assert!(rest.starts_with("# Ignored title"));
        assert!(warn.is_none());
        let (fm, _, _) = split_front_matter("---\ntags:\n  - a\n  - 'b'\n---\nx");
        assert_eq!(fm.tags, vec!["a", "b"]);
    }

    #[test]
    fn unclosed_front_matter_is_text_with_a_warning() {
        let (fm, rest, warn) = split_front_matter("---\ntitle: x\n# Heading\n");
        assert_eq!(fm, FrontMatter::default());
        assert!(rest.contains("title: x"));
        assert!(warn.unwrap().contains("not closed"));
    }

    #[test]
    fn title_falls_back_to_first_heading_then_file_name() {
        let p = parse("intro\n\n## Meaning\nThe alert fires.\n# Real Title\n", "x");
        assert_eq!(p.title, "Real Title");
        let p = parse("just text", "MyAlert");
        assert_eq!(p.title, "MyAlert");
    }

    #[test]
    fn sections_get_unique_anchors_and_their_text() {
        let p = parse(
            "# T\n## Diagnosis\nrun `oc get pods`\n## Diagnosis\nagain\n### Step 1: Check\nok",
            "t",
        );
        let anchors: Vec<_> = p.sections.iter().map(|(s, _)| s.anchor.as_str()).collect();
        assert_eq!(anchors, ["t", "diagnosis", "diagnosis-1", "step-1-check"]);
        assert!(p.sections[1].1.contains("oc get pods"));
        let docs = documents(1, "a/KubeX.md", Path::new("/r/a/KubeX.md"), &p, 7, 0);
        assert_eq!(docs[0].kind, SourceKind::Runbook);
        assert_eq!(docs[0].id, "rb:1:a/KubeX.md");
        let step = docs
            .iter()
            .find(|d| d.anchor.as_deref() == Some("step-1-check"))
            .unwrap();
        assert_eq!(step.headings, vec!["Diagnosis", "Step 1: Check"]);
        assert_eq!(step.id, "rb:1:a/KubeX.md#step-1-check");
        assert!(docs[0].identifiers.contains(&"KubeX".to_owned()));
        assert_eq!(docs[0].service.as_deref(), Some("a"));
    }

    #[test]
    fn identifiers_split_and_detect() {
        assert_eq!(
            split_identifier("KubePodCrashLooping").as_deref(),
            Some("Kube Pod Crash Looping")
        );
        assert_eq!(
            split_identifier("etcd_mvcc_db").as_deref(),
            Some("etcd mvcc db")
        );
        assert_eq!(
            split_identifier("HTTPServerDown").as_deref(),
            Some("HTTP Server Down")
        );
        assert_eq!(split_identifier("plain"), None);
        // The fast path: a leading capital or non-ASCII letters alone split nothing; an inner
        // capital after a non-ASCII letter, or any punctuation, still does.
        assert_eq!(split_identifier("Plain"), None);
        assert_eq!(split_identifier("Ünïcode"), None);
        assert_eq!(split_identifier("élanVital").as_deref(), Some("élan Vital"));
        assert_eq!(split_identifier("a.b").as_deref(), Some("a b"));
        for id in [
            "KubePodCrashLooping",
            "INC0010001",
            "10.0.0.1",
            "err_code",
            "0x80070005",
        ] {
            assert!(looks_like_identifier(id), "{id}");
        }
        for w in ["network", "Network", "VPN", "printer"] {
            assert!(!looks_like_identifier(w), "{w}");
        }
    }

    #[test]
    fn rendering_is_sanitized_and_headings_are_anchored() {
        let r = render(
            "# Title\n## Fix it\n<script>alert(1)</script>\n<img src=x onerror=alert(2)>\n[x](javascript:alert(3))\n<svg onload=alert(4)></svg>\n",
            "f",
        );
        assert!(r.html.contains(r#"<h2 id="section-fix-it">"#), "{}", r.html);
        for bad in ["<script", "onerror", "href=\"javascript:", "<svg", "onload"] {
            assert!(!r.html.to_lowercase().contains(bad), "{bad} in {}", r.html);
        }
        assert_eq!(r.sections.len(), 2);
    }

    #[test]
    fn links_to_other_runbooks_are_resolved_and_rewritten() {
        let r = render_at(
            "# T\n## Check\nSee [the node](../node/NodeDown.md#fix), [here](#check), \
             [site](https://example.com/a.md) and [bad](javascript:alert(1)).\n",
            "T",
            "kube/T.md",
        );
        assert_eq!(
            r.links,
            vec![RunbookLink {
                href: "#runbook-link-0".into(),
                path: "node/NodeDown.md".into(),
                anchor: Some("fix".into()),
            }]
        );
        assert!(r.html.contains(r##"href="#runbook-link-0""##), "{}", r.html);
        assert!(r.html.contains(r##"href="#section-check""##), "{}", r.html);
        assert!(
            r.html.contains(r#"href="https://example.com/a.md""#),
            "{}",
            r.html
        );
        assert!(!r.html.contains("javascript"), "{}", r.html);
    }

    #[test]
    fn unreadable_files_have_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin.md");
        std::fs::write(&bin, b"abc\0def").unwrap();
        assert!(read_text(&bin, 7).unwrap_err().contains("binary"));
        let bad = dir.path().join("bad.md");
        std::fs::write(&bad, b"ok \xff\xfe").unwrap();
        assert!(read_text(&bad, 5).unwrap_err().contains("UTF-8"));
        assert!(
            read_text(&bad, MAX_FILE_BYTES + 1)
                .unwrap_err()
                .contains("larger")
        );
    }
}
