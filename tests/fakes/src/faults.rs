//! The fault plan shared by all fakes: rules that make matching requests fail the way networks
//! and upstreams fail. A rule matches by method and path pattern, may skip the first `skip`
//! matches (e.g. "fail the second page"), and fires once, `n` times or always.
//!
//! Where a fault sits relative to the upstream's commit matters for exactly-once tests:
//! - [`Fault::DropBeforeCommit`], [`Fault::Status`], [`Fault::RateLimited`],
//!   [`Fault::HtmlLogin`], [`Fault::Unauthorized`] answer (or hang up) **without** running the
//!   handler: nothing changes upstream.
//! - [`Fault::DropAfterCommit`], [`Fault::Slow`], [`Fault::TruncatedJson`],
//!   [`Fault::MalformedJson`], [`Fault::CutMidBody`] run the handler first (the write is
//!   committed), then spoil or withhold the answer: the client cannot know it succeeded.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The connection is closed after the request is read, before the upstream acts on it.
    DropBeforeCommit,
    /// The upstream acts on the request (the write is stored), then the connection is closed
    /// without an answer.
    DropAfterCommit,
    /// An error status (500, 502, 503, 504, ...) with a body like the vendor's; nothing stored.
    Status(u16),
    /// 429 with `Retry-After: <secs>` and the vendor's rate-limit headers; nothing stored.
    RateLimited { retry_after_secs: u64 },
    /// The upstream acts on the request, then waits this long before answering (a client with a
    /// shorter timeout gives up: outcome unknown).
    Slow(Duration),
    /// The answer's JSON body is cut in half (Content-Length matches the cut body, as a proxy that
    /// buffered a broken stream would send).
    TruncatedJson,
    /// The answer's body is not valid JSON (status 200, `Content-Type: application/json`).
    MalformedJson,
    /// Content-Length announces the whole body, half of it is sent, then the connection closes.
    CutMidBody,
    /// A 200 HTML login page (an SSO proxy or captive portal) instead of JSON; nothing stored.
    HtmlLogin,
    /// 401 as the vendor answers an expired or revoked token; nothing stored.
    Unauthorized,
}

impl Fault {
    /// Whether the handler runs (the upstream commits) before the fault spoils the answer.
    pub fn commits(&self) -> bool {
        matches!(
            self,
            Fault::DropAfterCommit
                | Fault::Slow(_)
                | Fault::TruncatedJson
                | Fault::MalformedJson
                | Fault::CutMidBody
        )
    }
}

/// How many times a rule fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    Once,
    N(u32),
    Always,
}

/// One rule: which requests, which fault, how often.
#[derive(Debug, Clone)]
pub struct FaultRule {
    /// `None`: any method.
    pub method: Option<String>,
    /// A path pattern: segments separated by `/`; `*` matches one segment, a trailing `**`
    /// matches the rest (zero or more segments). The query string is not part of the path.
    pub path: String,
    pub fault: Fault,
    pub times: Times,
    /// Matching requests let through before the rule starts firing.
    pub skip: u32,
    fired: u32,
    seen: u32,
}

impl FaultRule {
    /// A one-shot rule for `method` (e.g. "POST", or "*" for any) on `path`.
    pub fn new(method: &str, path: &str, fault: Fault) -> FaultRule {
        FaultRule {
            method: (method != "*").then(|| method.to_ascii_uppercase()),
            path: path.to_owned(),
            fault,
            times: Times::Once,
            skip: 0,
            fired: 0,
            seen: 0,
        }
    }

    pub fn times(mut self, n: u32) -> FaultRule {
        self.times = Times::N(n);
        self
    }

    pub fn always(mut self) -> FaultRule {
        self.times = Times::Always;
        self
    }

    /// Lets the first `n` matching requests through.
    pub fn skip(mut self, n: u32) -> FaultRule {
        self.skip = n;
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        if let Some(m) = &self.method
            && !m.eq_ignore_ascii_case(method)
        {
            return false;
        }
        path_matches(&self.path, path)
    }

    fn exhausted(&self) -> bool {
        match self.times {
            Times::Once => self.fired >= 1,
            Times::N(n) => self.fired >= n,
            Times::Always => false,
        }
    }
}

/// Matches `path` against `pattern` (see [`FaultRule::path`]).
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut i = 0;
    for (k, p) in pat.iter().enumerate() {
        if *p == "**" && k + 1 == pat.len() {
            return true;
        }
        let Some(s) = segs.get(i) else {
            return false;
        };
        if *p != "*" && p != s {
            return false;
        }
        i += 1;
    }
    i == segs.len()
}

/// The rules of one fake, shared between the test and the server. Cloning shares the plan.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    rules: Arc<Mutex<Vec<FaultRule>>>,
    fired: Arc<Mutex<Vec<(String, String, Fault)>>>,
}

impl FaultPlan {
    pub fn new() -> FaultPlan {
        FaultPlan::default()
    }

    /// Adds a rule; rules are tried in the order they were added.
    pub fn add(&self, rule: FaultRule) {
        lock(&self.rules).push(rule);
    }

    /// Shorthand: a one-shot fault for `method` + `path`.
    pub fn once(&self, method: &str, path: &str, fault: Fault) {
        self.add(FaultRule::new(method, path, fault));
    }

    /// Removes every rule (the network is healthy again).
    pub fn clear(&self) {
        lock(&self.rules).clear();
    }

    /// Rules that have not yet fired as often as asked.
    pub fn pending(&self) -> usize {
        lock(&self.rules).iter().filter(|r| !r.exhausted()).count()
    }

    /// Every fault applied so far: (method, path, fault).
    pub fn fired(&self) -> Vec<(String, String, Fault)> {
        lock(&self.fired).clone()
    }

    /// The fault for this request, if a rule fires (counts it).
    pub fn take(&self, method: &str, path: &str) -> Option<Fault> {
        let mut rules = lock(&self.rules);
        for r in rules.iter_mut() {
            if r.exhausted() || !r.matches(method, path) {
                continue;
            }
            r.seen += 1;
            if r.seen <= r.skip {
                continue;
            }
            r.fired += 1;
            let f = r.fault.clone();
            drop(rules);
            lock(&self.fired).push((method.to_owned(), path.to_owned(), f.clone()));
            return Some(f);
        }
        None
    }
}

/// Locks a mutex, recovering the data if a panicking test thread poisoned it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(path_matches(
            "/rest/api/3/search/jql",
            "/rest/api/3/search/jql"
        ));
        assert!(!path_matches(
            "/rest/api/3/search",
            "/rest/api/3/search/jql"
        ));
        assert!(path_matches(
            "/rest/servicedeskapi/request/*/comment",
            "/rest/servicedeskapi/request/SD-1/comment"
        ));
        assert!(!path_matches(
            "/rest/servicedeskapi/request/*/comment",
            "/rest/servicedeskapi/request/SD-1/sla"
        ));
        assert!(path_matches("/api/v2/**", "/api/v2/tickets/1.json"));
        assert!(path_matches("/api/v2/**", "/api/v2"));
        assert!(!path_matches("/api/v2/*", "/api/v2/tickets/1.json"));
    }

    #[test]
    fn once_n_skip_and_method() {
        let plan = FaultPlan::new();
        plan.add(
            FaultRule::new("GET", "/a", Fault::Status(503))
                .times(2)
                .skip(1),
        );
        plan.once("POST", "/a", Fault::DropAfterCommit);
        assert_eq!(plan.take("GET", "/a"), None, "first match is skipped");
        assert_eq!(plan.take("GET", "/a"), Some(Fault::Status(503)));
        assert_eq!(plan.take("GET", "/a"), Some(Fault::Status(503)));
        assert_eq!(plan.take("GET", "/a"), None, "fired twice: exhausted");
        assert_eq!(plan.take("POST", "/a"), Some(Fault::DropAfterCommit));
        assert_eq!(plan.take("POST", "/a"), None);
        assert_eq!(plan.pending(), 0);
        assert_eq!(plan.fired().len(), 3);
    }
}
