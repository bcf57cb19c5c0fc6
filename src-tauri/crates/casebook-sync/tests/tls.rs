//! TLS is never switched off: a server with a self-signed certificate is refused with a message that
//! says so, and the same server is accepted only once its certificate is added as a trusted root.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use casebook_core::FixedClock;
use casebook_core::connection::{
    AuthMethod, ConnectionStatus, NewConnection, Vendor, validate_new,
};
use casebook_core::secrets::MemorySecretStore;
use casebook_sync::auth::tokens::TokenManager;
use casebook_sync::http::{self, HttpConfig, Transport};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

/// A TLS server on 127.0.0.1 with a fresh self-signed certificate; answers every request with a
/// small JSON body. Returns its port and the certificate (PEM).
async fn self_signed_server() -> (u16, String) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let pem = ck.cert.pem();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.key_pair.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let body = "{\"ok\":true}";
                let _ = tls
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, pem)
}

#[tokio::test]
async fn a_self_signed_certificate_is_refused_with_a_clear_message() {
    let (port, _) = self_signed_server().await;
    let base = format!("https://127.0.0.1:{port}");
    let client = http::client(&HttpConfig::default()).unwrap();
    let err = client.get(&base).send().await.unwrap_err();
    let (kind, msg) = http::explain(&err, &base);
    assert_eq!(kind, Transport::Tls, "{msg}");
    assert!(
        msg.contains("does not trust") && msg.contains("self-signed"),
        "{msg}"
    );
    assert!(msg.contains(&base), "{msg}");
}

#[tokio::test]
async fn the_same_server_is_accepted_once_its_certificate_is_a_trusted_root() {
    let (port, pem) = self_signed_server().await;
    let base = format!("https://127.0.0.1:{port}");
    let client = http::client(&HttpConfig {
        extra_roots_pem: vec![pem.into_bytes()],
        timeout: None,
    })
    .unwrap();
    let resp = client.get(&base).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn test_connection_reports_an_untrusted_certificate_as_unreachable_in_plain_words() {
    let (port, _) = self_signed_server().await;
    let conn_input = validate_new(&NewConnection {
        vendor: Vendor::Jira,
        name: "Jira".into(),
        instance: format!("https://127.0.0.1:{port}"),
        auth_method: AuthMethod::Basic,
        username: Some("ana@example.test".into()),
        oauth_client_id: None,
        mirror_scope: None,
    })
    .unwrap();
    let conn = casebook_core::connection::Connection {
        id: 1,
        vendor: conn_input.vendor,
        name: conn_input.name,
        base_url: conn_input.base_url,
        auth_method: conn_input.auth_method,
        username: conn_input.username,
        oauth_client_id: None,
        mirror_scope: conn_input.mirror_scope,
        kb_spaces: vec![],
        status: ConnectionStatus::NeedsSignIn,
        status_detail: None,
        account_name: None,
        capabilities: vec![],
        access_expires_at: None,
        created_at: 0,
        updated_at: 0,
    };
    let tm = TokenManager::new(
        Arc::new(MemorySecretStore::new()),
        Arc::new(FixedClock::new(0)),
        http::client(&HttpConfig::default()).unwrap(),
    );
    tm.set_password(&conn, casebook_core::secrets::SecretValue::new("token"))
        .await
        .unwrap();
    let report = casebook_sync::probe::test_connection(&tm, &conn).await;
    assert_eq!(report.status, ConnectionStatus::Unreachable);
    assert!(report.summary.contains("certificate"), "{}", report.summary);
    let tls = report.checks.iter().find(|c| c.name == "tls").unwrap();
    assert!(!tls.ok);
}
