//! Markdown to safe HTML. Ticket text, comments and (later) runbooks are untrusted: whatever HTML
//! they contain is sanitized by ammonia after pulldown-cmark renders it, so the webview only ever
//! receives inert markup.

use pulldown_cmark::{Options, Parser, html};

/// Renders Markdown to sanitized HTML: no scripts, no event handlers, no `javascript:` URLs, no
/// styles; links open with `rel="noopener noreferrer"`.
pub fn render(markdown: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    let parser = Parser::new_ext(markdown, opts);
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, parser);
    sanitize(&out)
}

/// Sanitizes untrusted HTML (for example an upstream ticket body).
pub fn sanitize(html: &str) -> String {
    ammonia::Builder::default()
        .url_schemes(["http", "https", "mailto"].into())
        .link_rel(Some("noopener noreferrer"))
        .add_tag_attributes("input", ["type", "checked", "disabled"])
        .add_tags(["input"])
        .clean(html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_basic_structure() {
        let html = render("# Title\n\n- [x] done\n- [ ] todo\n\n`code` and **bold**");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<code>code</code>") && html.contains("<strong>bold</strong>"));
        assert!(html.contains("checkbox"), "{html}");
    }

    #[test]
    fn hostile_html_is_inert() {
        let hostile = r#"<script>alert(1)</script><img src=x onerror="alert(2)">
<a href="javascript:alert(3)">click</a><svg onload="alert(4)"><circle/></svg>
<iframe src="https://evil.example"></iframe><style>body{display:none}</style>
<a href="https://ok.example" target="_self">ok</a>

[md link](javascript:alert(5)) and <a href="JaVaScRiPt:alert(6)">mixed case</a>"#;
        let html = render(hostile);
        for bad in [
            "<script",
            "onerror",
            "href=\"javascript:",
            "<svg",
            "onload",
            "<iframe",
            "<style",
        ] {
            assert!(
                !html.to_lowercase().contains(bad),
                "{bad} survived in {html}"
            );
        }
        assert!(html.contains(r#"href="https://ok.example""#), "{html}");
        assert!(html.contains("noopener"), "{html}");
        assert!(
            html.contains("md link"),
            "the link text stays, without its href: {html}"
        );
    }
}
