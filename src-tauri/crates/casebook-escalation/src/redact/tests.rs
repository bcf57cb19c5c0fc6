#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn red(text: &str) -> Redacted {
    Redactor::new(&RedactOptions::default())
        .unwrap()
        .redact(text)
}

#[test]
fn same_value_same_placeholder_across_calls() {
    let mut r = Redactor::new(&RedactOptions::default()).unwrap();
    let a = r.redact("from alice@example.com to bob@example.org");
    let b = r.redact("reply by alice@example.com");
    assert_eq!(a.text, "from <email-1> to <email-2>");
    assert_eq!(b.text, "reply by <email-1>");
    assert_eq!(r.audit().counts["email"], 3);
    assert_eq!(r.audit().distinct["email"], 2);
    assert_eq!(r.audit().total, 3);
}

#[test]
fn spans_point_into_the_original() {
    let text = "token=ghp_0123456789abcdefghijABCDEFGHIJ0123 user a@b.io";
    let out = red(text);
    assert_eq!(out.spans.len(), 2, "{:?}", out.spans);
    let s = &out.spans[0];
    assert_eq!(s.kind, Kind::GithubToken);
    assert_eq!(
        &text[s.start as usize..s.end as usize],
        "ghp_0123456789abcdefghijABCDEFGHIJ0123"
    );
    assert_eq!(s.placeholder, "<github-token-1>");
    assert_eq!(out.spans[1].kind, Kind::Email);
}

#[test]
fn audit_never_holds_values() {
    let mut r = Redactor::new(&RedactOptions::default()).unwrap();
    r.redact("alice@example.com AKIAIOSFODNN7EXAMPLE");
    let json = serde_json::to_string(r.audit()).unwrap();
    assert!(!json.contains("alice") && !json.contains("AKIA"), "{json}");
    let dbg = format!("{r:?}");
    assert!(!dbg.contains("alice"), "{dbg}");
}

#[test]
fn overlapping_findings_are_merged_not_leaked() {
    // A JWT inside a bearer header: one span, the JWT kind names it.
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    let out = red(&format!("Authorization: Bearer {jwt}\n"));
    assert_eq!(out.text, "Authorization: Bearer <jwt-1>\n");
}

#[test]
fn undo_by_allowing_a_value_and_add_by_custom_rule() {
    let opts = RedactOptions {
        allow: vec!["10.0.0.5".into()],
        custom_rules: vec![
            CustomRule {
                label: "customer-id".into(),
                pattern: r"CUST-\d{6}".into(),
                literal: false,
            },
            CustomRule {
                label: "project".into(),
                pattern: "Project Falcon".into(),
                literal: true,
            },
        ],
        ..RedactOptions::default()
    };
    let mut r = Redactor::new(&opts).unwrap();
    let out = r.redact("host 10.0.0.5 and 10.0.0.6 for CUST-004211 in Project Falcon");
    assert_eq!(
        out.text,
        "host 10.0.0.5 and <ipv4-1> for <customer-id-1> in <project-1>"
    );
}

#[test]
fn bad_custom_rules_are_refused_with_the_reason() {
    let bad = |label: &str, pattern: &str| {
        Redactor::new(&RedactOptions {
            custom_rules: vec![CustomRule {
                label: label.into(),
                pattern: pattern.into(),
                literal: false,
            }],
            ..RedactOptions::default()
        })
        .unwrap_err()
        .to_string()
    };
    assert!(bad("x", "(").contains("invalid pattern"));
    assert!(bad("Bad Label", "x").contains("label"));
    assert!(bad("empty", "a*").contains("empty text"));
}

#[test]
fn ip_kinds_are_configurable() {
    let opts = RedactOptions {
        ipv4: false,
        ipv6: false,
        ..RedactOptions::default()
    };
    let out = Redactor::new(&opts)
        .unwrap()
        .redact("10.1.2.3 and 2001:db8::1 and x@y.com");
    assert_eq!(out.text, "10.1.2.3 and 2001:db8::1 and <email-1>");
}

#[test]
fn streaming_matches_in_memory_across_chunk_boundaries() {
    // Enough lines to cross several 4 MiB chunks, with a secret on every line.
    let mut text = String::new();
    let mut i = 0u64;
    while text.len() < 9 * 1024 * 1024 {
        text.push_str(&format!(
            "2024-05-01T10:00:{:02}Z GET /x?id={i} from 10.{}.{}.{} user{}@example.com took {} ms\n",
            i % 60,
            i % 200,
            (i / 200) % 250,
            i % 7 + 1,
            i % 1000,
            i % 500
        ));
        i += 1;
    }
    let whole = red(&text).text;
    let mut out = Vec::new();
    let mut r = Redactor::new(&RedactOptions::default()).unwrap();
    let mut calls = 0;
    let n = r
        .redact_stream(text.as_bytes(), &mut out, |_| {
            calls += 1;
            true
        })
        .unwrap();
    assert_eq!(n, text.len() as u64);
    assert!(calls >= 2, "progress reported per chunk");
    assert_eq!(String::from_utf8(out).unwrap(), whole);
}

#[test]
fn streaming_can_be_cancelled() {
    let text = "a@b.com\n".repeat(2_000_000);
    let mut r = Redactor::new(&RedactOptions::default()).unwrap();
    let err = r
        .redact_stream(text.as_bytes(), std::io::sink(), |_| false)
        .unwrap_err();
    assert_eq!(err, RedactError::Cancelled);
}

#[test]
fn invalid_utf8_passes_through_bytes() {
    let mut r = Redactor::new(&RedactOptions::default()).unwrap();
    let (out, spans) = r.redact_bytes(b"\xff\xfe mail a@b.com \xc3");
    assert_eq!(out, b"\xff\xfe mail <email-1> \xc3");
    assert_eq!(spans.len(), 1);
}
