//! What a redaction found.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kinds of sensitive value the built-in detectors know. Custom rules carry their own label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Email,
    Phone,
    Ipv4,
    Ipv6,
    CardNumber,
    Jwt,
    BearerToken,
    BasicAuth,
    UrlPassword,
    PrivateKey,
    Cookie,
    AuthHeader,
    AwsAccessKeyId,
    AwsSecretKey,
    GithubToken,
    GitlabToken,
    SlackToken,
    GoogleApiKey,
    StripeKey,
    SendgridKey,
    NpmToken,
    OpenaiKey,
    /// A value assigned to a key named like a secret (`password=`, `"client_secret": "…"`).
    SecretAssignment,
    /// A custom rule (regex or literal) with its own label.
    Custom,
}

impl Kind {
    pub const BUILT_IN: &'static [Kind] = &[
        Kind::Email,
        Kind::Phone,
        Kind::Ipv4,
        Kind::Ipv6,
        Kind::CardNumber,
        Kind::Jwt,
        Kind::BearerToken,
        Kind::BasicAuth,
        Kind::UrlPassword,
        Kind::PrivateKey,
        Kind::Cookie,
        Kind::AuthHeader,
        Kind::AwsAccessKeyId,
        Kind::AwsSecretKey,
        Kind::GithubToken,
        Kind::GitlabToken,
        Kind::SlackToken,
        Kind::GoogleApiKey,
        Kind::StripeKey,
        Kind::SendgridKey,
        Kind::NpmToken,
        Kind::OpenaiKey,
        Kind::SecretAssignment,
    ];

    /// The label used in placeholders (`<email-1>`) and audit counts.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Ipv4 => "ipv4",
            Kind::Ipv6 => "ipv6",
            Kind::CardNumber => "card",
            Kind::Jwt => "jwt",
            Kind::BearerToken => "bearer",
            Kind::BasicAuth => "basic-auth",
            Kind::UrlPassword => "url-password",
            Kind::PrivateKey => "private-key",
            Kind::Cookie => "cookie",
            Kind::AuthHeader => "auth-header",
            Kind::AwsAccessKeyId => "aws-key-id",
            Kind::AwsSecretKey => "aws-secret",
            Kind::GithubToken => "github-token",
            Kind::GitlabToken => "gitlab-token",
            Kind::SlackToken => "slack-token",
            Kind::GoogleApiKey => "google-api-key",
            Kind::StripeKey => "stripe-key",
            Kind::SendgridKey => "sendgrid-key",
            Kind::NpmToken => "npm-token",
            Kind::OpenaiKey => "openai-key",
            Kind::SecretAssignment => "secret",
            Kind::Custom => "custom",
        }
    }

    /// When two findings overlap, the bytes of both are redacted as one span labelled with the
    /// kind of higher priority: the more specific detector names it.
    pub(crate) fn priority(self) -> u8 {
        match self {
            Kind::PrivateKey => 100,
            Kind::Custom => 95,
            Kind::Jwt => 90,
            Kind::AwsAccessKeyId
            | Kind::GithubToken
            | Kind::GitlabToken
            | Kind::SlackToken
            | Kind::GoogleApiKey
            | Kind::StripeKey
            | Kind::SendgridKey
            | Kind::NpmToken
            | Kind::OpenaiKey => 80,
            Kind::AwsSecretKey => 75,
            Kind::UrlPassword => 70,
            Kind::BearerToken | Kind::BasicAuth => 60,
            Kind::Cookie | Kind::AuthHeader => 50,
            Kind::SecretAssignment => 45,
            Kind::CardNumber => 40,
            Kind::Email => 30,
            Kind::Phone => 20,
            Kind::Ipv6 => 15,
            Kind::Ipv4 => 10,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}
