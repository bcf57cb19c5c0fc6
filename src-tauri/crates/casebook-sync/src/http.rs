//! The HTTP client every upstream call uses, and plain-words explanations of transport failures.
//!
//! TLS verification is never disabled: rustls with the OS roots and the Mozilla roots; tests add
//! their own CA as an extra trusted root instead. Redirects are not followed (a redirect must not
//! carry credentials to another host).

use std::time::Duration;

/// How the client is built.
#[derive(Debug, Clone, Default)]
pub struct HttpConfig {
    /// Extra trusted root certificates (PEM), e.g. a company CA or a test CA.
    pub extra_roots_pem: Vec<Vec<u8>>,
    /// Per-request timeout; `None`: 30 s.
    pub timeout: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpSetupError {
    #[error("a trusted root certificate is not valid PEM: {0}")]
    BadRoot(String),
    #[error("cannot set up HTTPS: {0}")]
    Build(String),
}

pub fn client(config: &HttpConfig) -> Result<reqwest::Client, HttpSetupError> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.timeout.unwrap_or(Duration::from_secs(30)))
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("Casebook/", env!("CARGO_PKG_VERSION")));
    for pem in &config.extra_roots_pem {
        let cert = reqwest::Certificate::from_pem(pem)
            .map_err(|e| HttpSetupError::BadRoot(e.to_string()))?;
        b = b.add_root_certificate(cert);
    }
    b.build().map_err(|e| HttpSetupError::Build(e.to_string()))
}

/// What kind of transport failure an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The certificate is not trusted (self-signed, unknown CA, wrong host, expired).
    Tls,
    /// The host name did not resolve or nothing answered.
    Unreachable,
    TimedOut,
    Other,
}

/// Classifies a reqwest error and says what happened in plain words, naming the host.
pub fn explain(e: &reqwest::Error, base_url: &str) -> (Transport, String) {
    let chain = chain(e);
    let lower = chain.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("unknownissuer") || lower.contains("tls") {
        let why = if lower.contains("unknownissuer")
            || lower.contains("self-signed")
            || lower.contains("self signed")
        {
            "it is self-signed or issued by an authority this computer does not trust"
        } else if lower.contains("expired") {
            "it has expired"
        } else if lower.contains("notvalidforname") || lower.contains("not valid for") {
            "it is for another host name"
        } else {
            "it could not be verified"
        };
        return (
            Transport::Tls,
            format!(
                "{base_url} presented a certificate Casebook does not trust ({why}); Casebook never \
                 skips this check — ask your administrator to install the company's root certificate \
                 in the operating system"
            ),
        );
    }
    if e.is_timeout() {
        return (
            Transport::TimedOut,
            format!("{base_url} did not answer in time; check the network or VPN"),
        );
    }
    if e.is_connect() || lower.contains("dns") || lower.contains("resolve") {
        return (
            Transport::Unreachable,
            format!("cannot reach {base_url}; check the address, the network or VPN"),
        );
    }
    (
        Transport::Other,
        format!("talking to {base_url} failed: {}", first_line(&chain)),
    )
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn first_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}
