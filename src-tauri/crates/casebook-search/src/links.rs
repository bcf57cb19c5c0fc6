//! Links between runbooks: a relative link to another Markdown file of the same folder
//! (`../node/NodeFilesystemSpaceFillingUp.md#mitigation`) is resolved to that file's path inside
//! the folder, so the runbook view can open it in the app instead of navigating the webview.

use serde::{Deserialize, Serialize};

/// The `href` prefix a resolved runbook link is rewritten to in rendered HTML: `#runbook-link-3`
/// is the fourth entry of [`RenderedRunbook::links`](crate::runbook::RenderedRunbook). A
/// fragment-only URL survives sanitization and does nothing if the UI does not intercept it.
pub const LINK_HREF_PREFIX: &str = "#runbook-link-";

/// A link from a runbook to another Markdown file of its folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookLink {
    /// The `href` in the rendered HTML (`#runbook-link-<n>`).
    pub href: String,
    /// The target file, relative to the folder root, `/`-separated.
    pub path: String,
    /// The heading anchor after `#`, if any.
    pub anchor: Option<String>,
}

/// Resolves a link destination written in the runbook at `from` (folder-relative, `/`-separated)
/// to a folder-relative Markdown path and an anchor. `None` for URLs with a scheme
/// (`https:`, `javascript:`), protocol-relative or pure-fragment links, links to files that are not
/// Markdown, and paths that climb out of the folder.
pub fn resolve(from: &str, dest: &str) -> Option<(String, Option<String>)> {
    let dest = dest.trim();
    if dest.is_empty() || dest.starts_with('#') || dest.starts_with("//") || dest.contains('\\') {
        return None;
    }
    let (path_part, anchor) = match dest.split_once('#') {
        Some((p, a)) => (p, Some(a)),
        None => (dest, None),
    };
    let path_part = path_part.split('?').next().unwrap_or("");
    // A scheme is letters/digits/+-. before the first ':' (and before any '/').
    if let Some(colon) = path_part.find(':')
        && !path_part[..colon].contains('/')
    {
        return None;
    }
    let decoded = percent_decode(path_part)?;
    let lower = decoded.to_ascii_lowercase();
    if !(lower.ends_with(".md") || lower.ends_with(".markdown")) {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    if !decoded.starts_with('/') {
        parts.extend(from.split('/'));
        parts.pop(); // the file itself
    }
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    if parts.is_empty() {
        return None;
    }
    let anchor = anchor
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty());
    Some((parts.join("/"), anchor))
}

/// `%XX` decoding; `None` when the result is not UTF-8 or an escape is malformed.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(from: &str, dest: &str) -> Option<(String, Option<String>)> {
        resolve(from, dest)
    }

    #[test]
    fn relative_markdown_links_resolve_inside_the_folder() {
        assert_eq!(
            r("kubernetes/KubePodCrashLooping.md", "KubeNodeNotReady.md"),
            Some(("kubernetes/KubeNodeNotReady.md".into(), None))
        );
        assert_eq!(
            r(
                "kubernetes/KubePodCrashLooping.md",
                "../node/Node%20Disk.md#mitigation"
            ),
            Some(("node/Node Disk.md".into(), Some("mitigation".into())))
        );
        assert_eq!(
            r("a/b/c.md", "./d.markdown"),
            Some(("a/b/d.markdown".into(), None))
        );
        assert_eq!(r("a/b/c.md", "/top.md"), Some(("top.md".into(), None)));
        assert_eq!(r("c.md", "x/../y.MD"), Some(("y.MD".into(), None)));
    }

    #[test]
    fn other_links_are_not_runbook_links() {
        for dest in [
            "https://example.com/x.md",
            "javascript:alert(1)//.md",
            "JavaScript:x.md",
            "mailto:a@b.md",
            "//evil.example/x.md",
            "#local",
            "image.png",
            "",
            "..\\x.md",
            "%zz.md",
        ] {
            assert_eq!(r("a/b.md", dest), None, "{dest}");
        }
        // Climbing out of the folder is refused.
        assert_eq!(r("a/b.md", "../../etc/passwd.md"), None);
        assert_eq!(r("b.md", "../x.md"), None);
    }
}
