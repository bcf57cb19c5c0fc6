//! Benchmark support for `casebook bench logs`: a generator of realistic log text (as a reader,
//! so hundreds of MB never sit in memory) and the naive baselines the engine is compared with.

use std::io::Read;

/// A small deterministic generator (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

const PATHS: &[&str] = &[
    "/api/orders",
    "/api/orders/{n}",
    "/api/orders/{n}/invoice",
    "/api/customers/{n}",
    "/static/app.{h}.js",
    "/health",
    "/api/search?q=printer+jam&page={n}",
    "/login",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "curl/8.5.0",
    "kube-probe/1.29",
    "okhttp/4.12.0",
];
const MESSAGES: &[&str] = &[
    "order {n} created in {n} ms",
    "cache miss for key tenant:{n}:catalog",
    "payment gateway responded {s} after {n} ms",
    "user {e} logged in from {ip}",
    "retrying call to inventory-service (attempt {d} of 3)",
    "template 'invoice-v2' rendered in {n} ms",
    "session {u} refreshed",
    "connection pool: {d} active, {n} idle",
];

/// Generates `total` bytes of mixed log text: nginx access lines, application lines with
/// request ids and UUIDs, JSON lines, Java stack traces, and now and then a secret or personal
/// value (about one line in 40).
pub struct LogGen {
    rng: Rng,
    remaining: u64,
    line: Vec<u8>,
    pos: usize,
    t: u64,
}

impl LogGen {
    pub fn new(total: u64, seed: u64) -> LogGen {
        LogGen {
            rng: Rng::new(seed),
            remaining: total,
            line: Vec::with_capacity(512),
            pos: 0,
            t: 1_728_000_000,
        }
    }

    fn fill(&mut self, s: &str) {
        let mut rest = s;
        while let Some(i) = rest.find('{') {
            self.line.extend_from_slice(&rest.as_bytes()[..i]);
            let Some(j) = rest[i..].find('}') else {
                break;
            };
            let key = &rest[i + 1..i + j];
            let r = &mut self.rng;
            let v = match key {
                "n" => (r.below(100_000)).to_string(),
                "d" => (r.below(10)).to_string(),
                "h" => format!("{:08x}", r.next_u64() as u32),
                "s" => ["200", "201", "404", "500", "503"][r.below(5) as usize].to_owned(),
                "e" => format!("user{}@example.com", r.below(5_000)),
                "ip" => format!("10.{}.{}.{}", r.below(250), r.below(250), 1 + r.below(250)),
                "u" => {
                    let a = r.next_u64();
                    let b = r.next_u64();
                    format!(
                        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                        a as u32,
                        (a >> 32) as u16,
                        (a >> 48) as u16 & 0xfff,
                        b as u16 & 0xfff,
                        b >> 16
                    )
                }
                _ => String::new(),
            };
            self.line.extend_from_slice(v.as_bytes());
            rest = &rest[i + j + 1..];
        }
        self.line.extend_from_slice(rest.as_bytes());
    }

    fn next_line(&mut self) {
        self.line.clear();
        self.pos = 0;
        self.t += self.rng.below(3);
        let t = self.t;
        let (h, m, s) = ((t / 3600) % 24, (t / 60) % 60, t % 60);
        let kind = self.rng.below(100);
        if kind < 45 {
            let ip = format!(
                "{}.{}.{}.{}",
                1 + self.rng.below(222),
                self.rng.below(256),
                self.rng.below(256),
                1 + self.rng.below(254)
            );
            let path = PATHS[self.rng.below(PATHS.len() as u64) as usize];
            let status = ["200", "200", "200", "304", "404", "503"][self.rng.below(6) as usize];
            let ua = AGENTS[self.rng.below(AGENTS.len() as u64) as usize];
            let head = format!("{ip} - - [10/Oct/2024:{h:02}:{m:02}:{s:02} +0000] \"GET ");
            self.line.extend_from_slice(head.as_bytes());
            self.fill(path);
            let tail = format!(
                " HTTP/1.1\" {status} {} \"https://shop.example.com/cart\" \"{ua}\" rt={}.{:03} request_id={:016x}",
                self.rng.below(50_000),
                self.rng.below(3),
                self.rng.below(1000),
                self.rng.next_u64()
            );
            self.line.extend_from_slice(tail.as_bytes());
        } else if kind < 85 {
            let level =
                ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"][self.rng.below(6) as usize];
            let head = format!(
                "2024-10-10T{h:02}:{m:02}:{s:02}.{:03}Z {level:<5} [http-nio-8080-exec-{}] c.a.orders.Service - request_id=req-{:08x} ",
                self.rng.below(1000),
                self.rng.below(20),
                self.rng.next_u64() as u32
            );
            self.line.extend_from_slice(head.as_bytes());
            let msg = MESSAGES[self.rng.below(MESSAGES.len() as u64) as usize];
            self.fill(msg);
            if level == "ERROR" && self.rng.below(3) == 0 {
                self.line.extend_from_slice(
                    b"\njava.lang.IllegalStateException: template not found\n\tat com.acme.orders.InvoiceService.render(InvoiceService.java:88)\n\tat com.acme.orders.InvoiceController.get(InvoiceController.java:41)",
                );
            }
        } else if kind < 97 {
            let head = format!(
                "{{\"time\":\"2024-10-10T{h:02}:{m:02}:{s:02}Z\",\"level\":\"info\",\"msg\":\"",
            );
            self.line.extend_from_slice(head.as_bytes());
            let msg = MESSAGES[self.rng.below(MESSAGES.len() as u64) as usize];
            self.fill(msg);
            let tail = format!(
                "\",\"trace_id\":\"{:016x}{:016x}\",\"duration_ms\":{}}}",
                self.rng.next_u64(),
                self.rng.next_u64(),
                self.rng.below(5000)
            );
            self.line.extend_from_slice(tail.as_bytes());
        } else {
            // A secret now and then.
            let secret = match self.rng.below(5) {
                0 => "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U".to_owned(),
                1 => format!("card=4111 1111 1111 1111 customer=+44 20 7946 {:04}", self.rng.below(10_000)),
                2 => "aws_access_key_id=AKIAIOSFODNN7EXAMPLE".to_owned(),
                3 => format!("db url postgres://app:s3cr3t{}@db.internal:5432/orders", self.rng.below(100)),
                _ => "token=ghp_0123456789abcdefghijABCDEFGHIJ012345".to_owned(),
            };
            let head = format!("2024-10-10T{h:02}:{m:02}:{s:02}Z WARN debug dump: ");
            self.line.extend_from_slice(head.as_bytes());
            self.line.extend_from_slice(secret.as_bytes());
        }
        self.line.push(b'\n');
    }
}

impl Read for LogGen {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < out.len() && self.remaining > 0 {
            if self.pos >= self.line.len() {
                self.next_line();
            }
            let take = (self.line.len() - self.pos)
                .min(out.len() - n)
                .min(self.remaining as usize);
            out[n..n + take].copy_from_slice(&self.line[self.pos..self.pos + take]);
            self.pos += take;
            n += take;
            self.remaining -= take as u64;
        }
        Ok(n)
    }
}

/// Generates `total` bytes into memory.
pub fn generate(total: usize, seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(total);
    // Reading from an in-memory generator cannot fail.
    let _ = LogGen::new(total as u64, seed).read_to_end(&mut v);
    v
}

/// The naive baseline: one regex per kind, each run over every line.
pub struct NaiveRedactor {
    rules: Vec<(regex::Regex, &'static str)>,
}

impl NaiveRedactor {
    pub fn new() -> Result<NaiveRedactor, regex::Error> {
        let pats: &[(&str, &str)] = &[
            (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "<email>"),
            (r"\+\d[\d \-().]{7,18}\d", "<phone>"),
            (r"\(?[2-9]\d{2}\)?[-. ]\d{3}[-.]\d{4}", "<phone>"),
            (r"\b(?:\d{1,3}\.){3}\d{1,3}\b", "<ipv4>"),
            (r"\b(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{1,4}\b", "<ipv6>"),
            (r"\b(?:\d[ -]?){12,18}\d\b", "<card>"),
            (
                r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*",
                "<jwt>",
            ),
            (r"(?i)bearer\s+[A-Za-z0-9\-._~+/]{8,}=*", "<bearer>"),
            (r"(?i)basic\s+[A-Za-z0-9+/]{8,}=*", "<basic>"),
            (r"://[^/\s:@]+:[^/\s@]+@", "<url-password>"),
            (r"-----BEGIN [A-Z ]*PRIVATE KEY-----", "<private-key>"),
            (r"(?i)cookie:\s*[^\r\n]+", "<cookie>"),
            (r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", "<aws-key-id>"),
            (
                r"(?i)aws_secret_access_key\s*[=:]\s*[A-Za-z0-9/+=]{40}",
                "<aws-secret>",
            ),
            (r"gh[pousr]_[A-Za-z0-9]{36,}", "<github-token>"),
            (r"xox[abposr]-[A-Za-z0-9-]{10,}", "<slack-token>"),
            (r"AIza[A-Za-z0-9_-]{35}", "<google-api-key>"),
            (r"[rs]k_(?:live|test)_[A-Za-z0-9]{16,}", "<stripe-key>"),
            (
                r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}",
                "<sendgrid-key>",
            ),
            (
                r"(?i)(?:password|passwd|pwd|secret|api_key|apikey)\s*[=:]\s*\S+",
                "<secret>",
            ),
        ];
        let rules = pats
            .iter()
            .map(|(p, r)| regex::Regex::new(p).map(|re| (re, *r)))
            .collect::<Result<_, _>>()?;
        Ok(NaiveRedactor { rules })
    }

    /// Redacts line by line, every rule over every line. Returns the output length.
    pub fn redact(&self, text: &str) -> usize {
        let mut total = 0;
        for line in text.lines() {
            let mut cur = std::borrow::Cow::Borrowed(line);
            for (re, rep) in &self.rules {
                if let std::borrow::Cow::Owned(s) = re.replace_all(&cur, *rep) {
                    cur = std::borrow::Cow::Owned(s);
                }
            }
            total += cur.len() + 1;
        }
        total
    }
}

/// The naive analysis baseline: per line, a regex per field (timestamp formats, ids, status,
/// level), and the signature by regex replacement.
pub struct NaiveAnalyzer {
    res: Vec<regex::Regex>,
    mask: regex::Regex,
}

impl NaiveAnalyzer {
    pub fn new() -> Result<NaiveAnalyzer, regex::Error> {
        let res = [
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?",
            r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}",
            r"[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}",
            r"(?i)(?:request[_-]?id|req[_-]id|correlation[_-]?id)[=:]\s*([A-Za-z0-9-]+)",
            r"00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}",
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            r#"HTTP/\d\.\d" (\d{3})"#,
            r"\b(?:ERROR|FATAL|SEVERE|CRITICAL)\b",
        ]
        .iter()
        .map(|p| regex::Regex::new(p))
        .collect::<Result<_, _>>()?;
        Ok(NaiveAnalyzer {
            res,
            mask: regex::Regex::new(r"\b[0-9a-fA-F]*\d[0-9a-fA-F]*\b")?,
        })
    }

    /// Returns (lines, error signatures) so the work cannot be optimized away.
    pub fn analyze(&self, text: &str) -> (usize, usize) {
        let mut lines = 0;
        let mut sigs = std::collections::HashMap::<String, u64>::new();
        for line in text.lines() {
            lines += 1;
            let mut hits = 0;
            for re in &self.res {
                if re.captures(line).is_some() {
                    hits += 1;
                }
            }
            if self.res[7].is_match(line) {
                *sigs
                    .entry(self.mask.replace_all(line, "<n>").into_owned())
                    .or_default() += 1;
            }
            let _ = hits;
        }
        (lines, sigs.len())
    }
}

/// Peak resident memory of this process (VmHWM), in KiB, where /proc is available.
pub fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Current resident memory (VmRSS), in KiB.
pub fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generator_is_deterministic_and_exact_in_size() {
        let a = generate(100_000, 7);
        assert_eq!(a.len(), 100_000);
        assert_eq!(a, generate(100_000, 7));
        assert!(a.windows(4).any(|w| w == b"AKIA"), "secrets are seeded");
    }

    #[test]
    fn baselines_do_their_work() {
        let text = "2024-10-10T10:00:00Z ERROR order 42 failed for alice.smith@example.com\n";
        let n = NaiveRedactor::new().unwrap();
        assert!(n.redact(text) < text.len());
        let a = NaiveAnalyzer::new().unwrap();
        assert_eq!(a.analyze(text), (1, 1));
    }
}
