//! The redaction corpus: recall per kind over realistic files with seeded secrets, and false
//! positives over clean logs. Run with `--nocapture` to see the table.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use casebook_escalation::bench::Rng;
use casebook_escalation::redact::{Kind, RedactOptions, Redactor};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/redaction")
        .join(sub)
}

/// A seeded value leaked if it survives whole, or if a 6-byte piece of it survives that is
/// neither in the document's other text (`background`: the original without the seeded values)
/// nor in a placeholder: a partial redaction that leaves the tail of a password is a leak.
fn leaked(output: &str, value: &str, background: &str) -> bool {
    if output.contains(value) {
        return true;
    }
    let placeholders = regex::Regex::new(r"<[a-z0-9-]+-\d+>").unwrap();
    let out = placeholders.replace_all(output, "\u{0}");
    let b = value.as_bytes();
    b.len() >= 8
        && b.windows(6).any(|w| {
            memchr::memmem::find(out.as_bytes(), w).is_some()
                && memchr::memmem::find(background.as_bytes(), w).is_none()
        })
}

#[derive(Default)]
struct Tally {
    seeded: u32,
    redacted: u32,
}

fn print_table(title: &str, t: &BTreeMap<String, Tally>) {
    println!("\n{title}\n| kind | seeded | redacted | recall |\n|---|---:|---:|---:|");
    for (k, v) in t {
        println!(
            "| {k} | {} | {} | {:.1}% |",
            v.seeded,
            v.redacted,
            100.0 * f64::from(v.redacted) / f64::from(v.seeded.max(1))
        );
    }
}

#[test]
fn seeded_corpus_recall_per_kind() {
    let expected = std::fs::read_to_string(dir("seeded/expected.tsv")).unwrap();
    let seeds: Vec<(&str, &str, &str)> = expected
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut p = l.splitn(3, '\t');
            (p.next().unwrap(), p.next().unwrap(), p.next().unwrap())
        })
        .collect();
    let mut outputs: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut tally: BTreeMap<String, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    for &(file, kind, value) in &seeds {
        let (out, background) = outputs.entry(file.to_owned()).or_insert_with(|| {
            let text = std::fs::read_to_string(dir("seeded").join(file)).unwrap();
            let mut background = text.clone();
            for (f, _, v) in &seeds {
                if *f == file {
                    background = background.replace(v, "");
                }
            }
            // One redactor per file, default options (what an export uses).
            (
                Redactor::new(&RedactOptions::default())
                    .unwrap()
                    .redact(&text)
                    .text,
                background,
            )
        });
        let t = tally.entry(kind.to_owned()).or_default();
        t.seeded += 1;
        if leaked(out, value, background) {
            misses.push(format!("{file}: {kind} {value:?}"));
        } else {
            t.redacted += 1;
        }
    }
    print_table("Seeded corpus (tests/fixtures/redaction/seeded)", &tally);
    // Every built-in kind is seeded at least once.
    for k in Kind::BUILT_IN {
        assert!(tally.contains_key(k.label()), "no seeded {k} in the corpus");
    }
    assert!(misses.is_empty(), "leaked:\n{}", misses.join("\n"));
}

#[test]
fn clean_logs_have_no_false_positives() {
    let mut total_bytes = 0;
    let mut fps: Vec<String> = Vec::new();
    for e in std::fs::read_dir(dir("clean")).unwrap() {
        let path = e.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        total_bytes += text.len();
        let out = Redactor::new(&RedactOptions::default())
            .unwrap()
            .redact(&text);
        for s in out.spans {
            fps.push(format!(
                "{}: {} {:?}",
                path.file_name().unwrap().to_string_lossy(),
                s.label,
                &text[s.start as usize..s.end as usize]
            ));
        }
    }
    println!(
        "\nClean logs: {total_bytes} bytes, {} false positives",
        fps.len()
    );
    for f in &fps {
        println!("  false positive: {f}");
    }
    assert!(fps.is_empty(), "false positives:\n{}", fps.join("\n"));
}

// -------------------------------------------------------------------------------------------
// Generated: 200 values per kind in varied surroundings, for a recall figure with some weight.

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn s(r: &mut Rng, n: usize, alpha: &[u8]) -> String {
    (0..n)
        .map(|_| alpha[r.below(alpha.len() as u64) as usize] as char)
        .collect()
}

fn luhn_complete(mut d: Vec<u8>) -> String {
    let sum: u32 = d
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
    d.push(((10 - sum % 10) % 10) as u8);
    d.iter().map(|x| char::from(b'0' + x)).collect()
}

/// (kind label, text to embed, the secret part)
fn generated(r: &mut Rng, kind: Kind) -> (String, String) {
    let b64u: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let b64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let lower: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    let digits: &[u8] = b"0123456789";
    let same = |v: String| (v.clone(), v);
    match kind {
        Kind::Email => same(format!(
            "{}.{}@{}.{}",
            s(r, 5, lower),
            s(r, 6, lower),
            s(r, 7, lower),
            ["com", "org", "io", "de", "co.uk"][r.below(5) as usize]
        )),
        Kind::Phone => same(match r.below(3) {
            0 => format!(
                "+{} {} {} {}",
                1 + r.below(98),
                s(r, 3, digits),
                s(r, 3, digits),
                s(r, 4, digits)
            ),
            1 => format!(
                "({}{}) {}{}-{}",
                2 + r.below(8),
                s(r, 2, digits),
                2 + r.below(8),
                s(r, 2, digits),
                s(r, 4, digits)
            ),
            _ => format!(
                "{}{}-{}{}-{}",
                2 + r.below(8),
                s(r, 2, digits),
                2 + r.below(8),
                s(r, 2, digits),
                s(r, 4, digits)
            ),
        }),
        Kind::Ipv4 => same(
            format!(
                "{}.{}.{}.{}",
                1 + r.below(222),
                r.below(256),
                r.below(256),
                1 + r.below(254)
            )
            .replace("127.", "128."),
        ),
        Kind::Ipv6 => same(format!(
            "2001:db8:{:x}:{:x}::{:x}",
            r.below(65535),
            r.below(65535),
            1 + r.below(65534)
        )),
        Kind::CardNumber => {
            let (prefix, len): (&[u8], usize) = match r.below(4) {
                0 => (&[4], 16),
                1 => (&[5, 1 + r.below(5) as u8], 16),
                2 => (&[3, 7], 15),
                _ => (&[6, 0, 1, 1], 16),
            };
            let mut d = prefix.to_vec();
            while d.len() < len - 1 {
                d.push(r.below(10) as u8);
            }
            let n = luhn_complete(d);
            same(if r.below(2) == 0 {
                n
            } else {
                n.as_bytes()
                    .chunks(4)
                    .map(|c| std::str::from_utf8(c).unwrap())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
        }
        Kind::Jwt => same(format!(
            "eyJ{}.eyJ{}.{}",
            s(r, 20, b64u),
            s(r, 40, b64u),
            s(r, 43, b64u)
        )),
        Kind::BearerToken => {
            let t = format!("{}{}", s(r, 30, ALNUM), r.below(10));
            (format!("Authorization: Bearer {t}"), t)
        }
        Kind::BasicAuth => {
            let creds = format!("{}:{}", s(r, 6, lower), s(r, 10, ALNUM));
            let enc = b64_encode(creds.as_bytes());
            (format!("Authorization: Basic {enc}"), enc)
        }
        Kind::UrlPassword => {
            let p = s(r, 14, ALNUM);
            (
                format!(
                    "https://{}:{p}@{}.example.com/x",
                    s(r, 5, lower),
                    s(r, 6, lower)
                ),
                p,
            )
        }
        Kind::PrivateKey => {
            let body = s(r, 64, b64);
            (
                format!(
                    "-----BEGIN EC PRIVATE KEY-----\n{body}\n{}==\n-----END EC PRIVATE KEY-----",
                    s(r, 30, b64)
                ),
                body,
            )
        }
        Kind::Cookie => {
            let v = s(r, 24, ALNUM);
            (format!("Cookie: {}={v}; theme=dark", s(r, 6, lower)), v)
        }
        Kind::AuthHeader => {
            let v = s(r, 24, ALNUM);
            (format!("X-Api-Key: {v}"), v)
        }
        Kind::AwsAccessKeyId => same(format!(
            "AKIA{}",
            s(r, 16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        )),
        Kind::AwsSecretKey => {
            let v = s(r, 40, b64);
            (format!("aws_secret_access_key = {v}"), v)
        }
        Kind::GithubToken => same(format!("ghp_{}", s(r, 36, ALNUM))),
        Kind::GitlabToken => same(format!("glpat-{}", s(r, 20, b64u))),
        Kind::SlackToken => same(format!(
            "xoxp-{}-{}-{}",
            s(r, 12, digits),
            s(r, 12, digits),
            s(r, 32, ALNUM)
        )),
        Kind::GoogleApiKey => same(format!("AIza{}", s(r, 35, b64u))),
        Kind::StripeKey => same(format!("sk_live_{}", s(r, 24, ALNUM))),
        Kind::SendgridKey => same(format!("SG.{}.{}", s(r, 22, b64u), s(r, 43, b64u))),
        Kind::NpmToken => same(format!("npm_{}", s(r, 36, ALNUM))),
        Kind::OpenaiKey => same(format!("sk-{}{}", s(r, 46, ALNUM), r.below(10))),
        Kind::SecretAssignment => {
            let v = s(r, 16, ALNUM);
            (
                format!(
                    "{}={v}",
                    [
                        "password",
                        "db_password",
                        "client_secret",
                        "api_key",
                        "access_token"
                    ][r.below(5) as usize]
                ),
                v,
            )
        }
        Kind::Custom => same(String::new()),
    }
}

fn b64_encode(b: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                out.push(T[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const CONTEXTS: &[(&str, &str)] = &[
    (
        "2024-10-10T20:55:36.101Z INFO  [main] c.a.Svc - value ",
        " seen",
    ),
    ("{\"level\":\"debug\",\"msg\":\"", "\",\"duration_ms\":12}"),
    (
        "198.51.100.0 - - [10/Oct/2024:13:55:36 -0700] \"GET /x?v=",
        " HTTP/1.1\" 200 5",
    ),
    ("Oct 11 22:14:15 host app[812]: ", ""),
    ("    ", ","),
];

#[test]
fn generated_recall_per_kind() {
    let mut r = Rng::new(2024);
    let mut tally: BTreeMap<String, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    for &kind in Kind::BUILT_IN {
        for _ in 0..200 {
            let (text, secret) = generated(&mut r, kind);
            let (pre, post) = CONTEXTS[r.below(CONTEXTS.len() as u64) as usize];
            let doc = format!("{pre}{text}{post}\n");
            let out = Redactor::new(&RedactOptions::default())
                .unwrap()
                .redact(&doc)
                .text;
            let t = tally.entry(kind.label().to_owned()).or_default();
            t.seeded += 1;
            if leaked(&out, &secret, &doc.replace(&secret, "")) {
                if misses.len() < 20 {
                    misses.push(format!("{kind}: {doc:?} -> {out:?}"));
                }
            } else {
                t.redacted += 1;
            }
        }
    }
    print_table("Generated (200 per kind, 5 surroundings)", &tally);
    let worst = tally
        .values()
        .map(|t| f64::from(t.redacted) / f64::from(t.seeded))
        .fold(1.0, f64::min);
    assert!(
        misses.is_empty(),
        "recall {worst:.3}; leaked:\n{}",
        misses.join("\n")
    );
}
