#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::package::*;
use crate::redact::CustomRule;
use proptest::prelude::*;
use std::io::Read;

fn package() -> PackageContent {
    PackageContent {
        title: "[INC0042] Invoices fail for alice@example.com".into(),
        summary: "Invoice PDF generation returns 503 since the 4.2 rollout.".into(),
        severity: Severity::Sev2,
        impact: Impact {
            who: "ACME EU (call +44 20 7946 0958)".into(),
            how_many: "all 40 finance users".into(),
            since: Some(1_728_593_736_000),
            business: "month-end invoicing blocked".into(),
        },
        environment: Environment { product_version: "4.2.1".into(), region: "eu-west-1".into(), ..Default::default() },
        steps_to_reproduce: vec!["Log in as alice@example.com".into(), "Open order 1841 and click Invoice".into()],
        expected: "A PDF".into(),
        actual: "HTTP 503 after 30 s".into(),
        evidence: Evidence {
            extracts: vec![EvidenceExtract {
                source: "app.log".into(),
                first_line: 2,
                last_line: 3,
                text: "ERROR user=alice@example.com token=ghp_0123456789abcdefghijABCDEFGHIJ012345\nAuthorization: Bearer abc123def456ghi789".into(),
                note: "first failure".into(),
            }],
            ids: vec![EvidenceId { kind: IdKind::Request, value: "45c48cce2e2d7fbd".into() }],
            attachments: vec![],
        },
        timeline: vec![TimelineEntry { at: 1_728_593_739_552, text: "first 503".into(), source: TimelineSource::Log }],
        workaround: Workaround { tried: "cleared the template cache".into(), result: "no change".into() },
        related: vec![],
        communication: "- told alice@example.com we are on it".into(),
        redaction: RedactOptions::default(),
    }
}

fn unzip(bytes: &[u8]) -> Vec<(String, String)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            (f.name().unwrap().to_string(), s)
        })
        .collect()
}

#[test]
fn markdown_export_is_redacted_with_one_pseudonym_table() {
    let out = export(&package(), ExportFormat::Markdown, 0).unwrap();
    let md = String::from_utf8(out.bytes).unwrap();
    assert!(
        !md.contains("alice@example.com") && !md.contains("ghp_") && !md.contains("abc123def456"),
        "{md}"
    );
    // The same email is the same placeholder in the title, the steps, the extract and the comms.
    assert_eq!(md.matches("<email-1>").count(), 4, "{md}");
    assert!(
        md.contains("## Steps to reproduce\n\n1. Log in as \\<email-1>\n2. Open order 1841"),
        "{md}"
    );
    assert!(md.contains("**Completeness:** 100%"), "{md}");
    assert_eq!(out.audit.counts["email"], 4);
    assert_eq!(out.audit.counts["github-token"], 1);
    assert_eq!(out.file_name, "escalation-INC0042.md");
}

#[test]
fn html_export_is_self_contained_and_sanitized() {
    let mut p = package();
    p.summary = "<script>alert(1)</script> see ![x](https://evil.example/pixel.png) <img src=x onerror=alert(2)>".into();
    let html = String::from_utf8(export(&p, ExportFormat::Html, 0).unwrap().bytes).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(
        html.contains("default-src 'none'"),
        "remote loads are blocked by the page's own CSP"
    );
    assert!(
        !html.contains("<script") && !html.contains("<img src=x"),
        "{html}"
    );
    assert!(
        !html.contains("<link") && !html.contains("<img"),
        "no external resource: {html}"
    );
    assert!(
        html.contains("href=\"https://evil.example/pixel.png\""),
        "the image is a link: {html}"
    );
    // Placeholders are shown, not swallowed as unknown tags.
    assert!(html.contains("&lt;email-1&gt;"), "{html}");
}

#[test]
fn zip_bundle_has_package_extracts_and_checksummed_manifest() {
    let out = export(&package(), ExportFormat::Zip, 1_728_600_000_000).unwrap();
    let files = unzip(&out.bytes);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "package.md",
            "extracts/01-app.log-L2-3.log",
            "manifest.json"
        ]
    );
    let manifest: serde_json::Value = serde_json::from_str(&files[2].1).unwrap();
    for (i, f) in manifest["files"].as_array().unwrap().iter().enumerate() {
        assert_eq!(f["path"], files[i].0);
        assert_eq!(f["sha256"], sha256_hex(files[i].1.as_bytes()));
        assert_eq!(f["bytes"], files[i].1.len());
    }
    assert_eq!(manifest["redaction"]["counts"]["email"], 4);
    assert_eq!(manifest["generatedAt"], "2024-10-10T22:40:00.000Z");
    assert!(
        files[1]
            .1
            .starts_with("ERROR user=<email-1> token=<github-token-1>"),
        "{}",
        files[1].1
    );
    // Stored, not compressed: the raw archive contains the text as written.
    assert!(memchr::memmem::find(&out.bytes, b"token=<github-token-1>").is_some());
}

#[test]
fn export_fails_closed_when_redaction_cannot_run() {
    let mut p = package();
    p.redaction.custom_rules.push(CustomRule {
        label: "x".into(),
        pattern: "(unclosed".into(),
        literal: false,
    });
    for f in [
        ExportFormat::Markdown,
        ExportFormat::Html,
        ExportFormat::Zip,
    ] {
        let err = export(&p, f, 0).unwrap_err();
        assert!(matches!(err, ExportError::Redaction(_)), "{err}");
        assert!(
            err.to_string()
                .starts_with("redaction failed, nothing was exported"),
            "{err}"
        );
    }
}

#[test]
fn allowed_values_and_custom_rules_are_honoured_and_not_exported() {
    let mut p = package();
    p.summary
        .push_str(" Host 10.1.2.3 is our public status page; project FALCON-7 affected.");
    p.redaction.allow.push("10.1.2.3".into());
    p.redaction.custom_rules.push(CustomRule {
        label: "project".into(),
        pattern: r"FALCON-\d+".into(),
        literal: false,
    });
    let (red, audit) = redact_package(&p).unwrap();
    assert!(
        red.summary.contains("Host 10.1.2.3") && red.summary.contains("<project-1>"),
        "{}",
        red.summary
    );
    assert_eq!(audit.counts["project"], 1);
    assert_eq!(
        red.redaction,
        RedactOptions::default(),
        "the agent's rules stay on the machine"
    );
}

#[test]
fn preview_lists_spans_per_section_in_original_offsets() {
    let p = package();
    let pv = preview(&p).unwrap();
    let ex = pv
        .sections
        .iter()
        .find(|s| s.section == "evidence.extracts[0]")
        .unwrap();
    let text = &p.evidence.extracts[0].text;
    let kinds: Vec<&str> = ex.spans.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(kinds, vec!["email", "github-token", "bearer"]);
    for s in &ex.spans {
        let v = &text[s.start as usize..s.end as usize];
        assert!(!v.is_empty() && !ex.redacted.contains(v), "{v}");
    }
    assert!(pv.sections.iter().any(|s| s.section == "title"));
    assert!(
        !pv.sections.iter().any(|s| s.section == "expected"),
        "nothing to redact there"
    );
}

// ---------------------------------------------------------------------------------------------
// Property: for any package seeded with secrets, the zip's raw bytes contain none of them.

fn luhn_card() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(0u8..10, 14),
        prop_oneof![Just(""), Just(" "), Just("-")],
    )
        .prop_map(|(mut d, sep)| {
            let mut digits = vec![4u8];
            digits.append(&mut d);
            // Check digit.
            let sum: u32 = digits
                .iter()
                .rev()
                .enumerate()
                .map(|(k, &x)| {
                    let mut v = u32::from(x);
                    if k % 2 == 0 {
                        v *= 2;
                        if v > 9 {
                            v -= 9;
                        }
                    }
                    v
                })
                .sum();
            digits.push(((10 - sum % 10) % 10) as u8);
            let s: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
            if sep.is_empty() {
                s
            } else {
                s.as_bytes()
                    .chunks(4)
                    .map(|c| std::str::from_utf8(c).unwrap())
                    .collect::<Vec<_>>()
                    .join(sep)
            }
        })
}

/// (text to insert, the secret part that must not survive)
fn same(s: String) -> (String, String) {
    (s.clone(), s)
}

fn secret() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        "[a-z]{3,10}\\.[a-z]{2,8}@[a-z]{3,10}\\.(com|org|io|de)".prop_map(same),
        luhn_card().prop_map(same),
        "AKIA[A-Z0-9]{16}".prop_map(same),
        "ghp_[A-Za-z0-9]{36}".prop_map(same),
        "xoxb-[0-9]{11}-[0-9]{12}-[A-Za-z0-9]{24}".prop_map(same),
        "AIza[A-Za-z0-9_-]{35}".prop_map(same),
        "sk_live_[A-Za-z0-9]{24}".prop_map(same),
        "eyJ[A-Za-z0-9_-]{12,30}\\.eyJ[A-Za-z0-9_-]{12,40}\\.[A-Za-z0-9_-]{20,43}".prop_map(same),
        "[A-Za-z0-9]{20,40}".prop_map(|t| (format!("Authorization: Bearer {t}7"), format!("{t}7"))),
        "[A-Za-z0-9]{10,16}".prop_map(|p| (
            format!("postgres://svc:{p}x@db.internal.example:5432/app"),
            format!("{p}x")
        )),
        (1u8..=223, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_filter("not loopback", |(a, ..)| *a != 127)
            .prop_map(|(a, b, c, d)| same(format!("{a}.{b}.{c}.{d}"))),
        "[0-9]{7,8}".prop_map(|n| same(format!("+49 30 {n}"))),
        "[A-Za-z0-9+/]{64}".prop_map(|b| (
            format!("-----BEGIN RSA PRIVATE KEY-----\n{b}\n{b}\n-----END RSA PRIVATE KEY-----"),
            b
        )),
        "[A-Za-z0-9]{12,24}".prop_map(|p| (format!("db_password = \"{p}\""), p)),
    ]
}

fn filler() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("2024-10-10T20:55:39Z ERROR invoice failed for order 1841 after 30000 ms".to_owned()),
        Just("GET /api/orders/77/invoice HTTP/1.1 503".to_owned()),
        Just("took 812 ms, request_id=45c48cce2e2d7fbd".to_owned()),
        "[a-z ]{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn exported_zip_bytes_contain_no_seeded_secret(
        seeds in proptest::collection::vec((secret(), filler(), 0usize..5), 1..12)
    ) {
        let mut p = package();
        let mut secrets = Vec::new();
        for ((text, secret), fill, place) in seeds {
            let line = format!("{fill} {text} {fill}");
            match place {
                0 => p.summary.push_str(&format!("\n{line}")),
                1 => p.evidence.extracts[0].text.push_str(&format!("\n{line}")),
                2 => p.steps_to_reproduce.push(line),
                3 => p.communication.push_str(&format!("\n- {line}")),
                _ => p.evidence.extracts.push(EvidenceExtract {
                    source: "pasted".into(), first_line: 1, last_line: 1, text: line, note: String::new(),
                }),
            }
            secrets.push(secret);
        }
        let out = export(&p, ExportFormat::Zip, 0).unwrap();
        for s in &secrets {
            prop_assert!(
                memchr::memmem::find(&out.bytes, s.as_bytes()).is_none(),
                "secret {s:?} found in the zip bytes"
            );
        }
    }
}

#[test]
fn preview_html_is_the_redacted_rendering() {
    let html = preview_html(&package()).unwrap();
    assert!(html.contains("<h2>Steps to reproduce</h2>"), "{html}");
    assert!(
        html.contains("&lt;email-1&gt;") && !html.contains("alice@example.com"),
        "{html}"
    );
}
