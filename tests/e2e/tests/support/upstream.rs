//! Upstreams for the real-webview sync tests: a fake ITSM (tests/fakes) behind a loopback
//! [`Link`] that the test can cut (connection refused, as when the network is down) and restore
//! on the same port, and the `casebook` CLI to prepare the workspace before the app starts: a
//! connection to the fake, its secret in the keyring of this session (which the app reads).
//!
//! Included with `#[path = "support/upstream.rs"] mod upstream;` by the tests that need it.

#![allow(dead_code)] // each test binary uses a different part of the helpers

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A TCP relay on 127.0.0.1 in front of an upstream. [`Link::cut`] closes the listener and every
/// relayed connection, so the app's next request is refused outright (nothing reaches the
/// upstream); [`Link::restore`] listens on the same port again.
pub struct Link {
    addr: SocketAddr,
    upstream: SocketAddr,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
    accepted: Arc<Mutex<u64>>,
}

impl Link {
    pub async fn start(upstream: SocketAddr) -> Link {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the link's port");
        let addr = listener.local_addr().expect("the link's address");
        let link = Link {
            addr,
            upstream,
            tasks: Arc::default(),
            accepted: Arc::default(),
        };
        link.serve(listener);
        link
    }

    /// `http://127.0.0.1:<port>`: what the app's connection points at.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted (and relayed) so far.
    pub fn accepted(&self) -> u64 {
        *self.accepted.lock().expect("link counter")
    }

    pub fn is_up(&self) -> bool {
        !self.tasks.lock().expect("link tasks").is_empty()
    }

    fn serve(&self, listener: TcpListener) {
        let (tasks, accepted, upstream) = (
            Arc::clone(&self.tasks),
            Arc::clone(&self.accepted),
            self.upstream,
        );
        let conns = Arc::clone(&tasks);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                *accepted.lock().expect("link counter") += 1;
                let relay = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns.lock().expect("link tasks").push(relay.abort_handle());
            }
        });
        tasks
            .lock()
            .expect("link tasks")
            .push(accept.abort_handle());
    }

    /// The network goes down: the port stops listening and open connections are closed.
    pub async fn cut(&self) {
        let tasks: Vec<AbortHandle> = std::mem::take(&mut *self.tasks.lock().expect("link tasks"));
        for t in &tasks {
            t.abort();
        }
        // The listener is closed once the aborted accept task is dropped: wait until a connect
        // is refused, so the test goes on only when the link is really down.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while TcpStream::connect(self.addr).await.is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "the link still accepts connections after being cut"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The network comes back on the same port.
    pub async fn restore(&self) {
        assert!(!self.is_up(), "the link is already up");
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("listen on the link's port again");
        self.serve(listener);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Ok(tasks) = self.tasks.lock() {
            for t in tasks.iter() {
                t.abort();
            }
        }
    }
}

/// The `casebook` CLI: `$CASEBOOK_CLI`, else `<target>/debug/casebook` (built by
/// `cargo build -p casebook-cli`, and by the Rust test step of scripts/test.sh). `None` (after
/// saying why) when it is missing and the e2e tests are not required; a failure when they are.
pub fn cli() -> Option<PathBuf> {
    let path = match std::env::var_os("CASEBOOK_CLI").filter(|p| !p.is_empty()) {
        Some(p) => crate::support::workspace_root().join(p),
        None => crate::support::target_dir().join("debug/casebook"),
    };
    if path.is_file() {
        return Some(path);
    }
    let reason = format!(
        "the casebook CLI is not built at {} (cargo build -p casebook-cli, or set CASEBOOK_CLI)",
        path.display()
    );
    assert!(
        !crate::support::required(),
        "the sync tests cannot run: {reason}"
    );
    eprintln!("SKIPPED (set CI or CASEBOOK_E2E_REQUIRED to make this a failure): {reason}");
    None
}

/// Runs the CLI on the workspace at `home` with `stdin`, as an agent would in a terminal: the
/// workspace key and the connection secrets go to the keyring of this session, where the app
/// finds them. Panics with the CLI's output unless it succeeds; returns its stdout.
///
/// Async (tokio's process): the fake and the link answer the CLI from this test's runtime.
pub async fn run_cli(cli: &Path, home: &Path, args: &[&str], stdin: &str) -> String {
    run_cli_with(cli, home, args, stdin, CLI_TIMEOUT).await
}

/// [`run_cli`] with no input and a longer time limit (an import of many tickets).
pub async fn run_cli_within(
    cli: &Path,
    home: &Path,
    args: &[&str],
    timeout: std::time::Duration,
) -> String {
    run_cli_with(cli, home, args, "", timeout).await
}

async fn run_cli_with(
    cli: &Path,
    home: &Path,
    args: &[&str],
    stdin: &str,
    timeout: std::time::Duration,
) -> String {
    let mut child = tokio::process::Command::new(cli)
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("CASEBOOK_HOME")
        .env_remove("CASEBOOK_KEY_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", cli.display()));
    let mut input = child.stdin.take().expect("the CLI's stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write to the CLI's stdin");
    drop(input);
    let out = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "casebook {} did not finish within {timeout:?}",
                args.join(" ")
            )
        })
        .expect("wait for the CLI");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "casebook {} failed ({}):\n{stdout}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// How long one CLI command may take (it opens the workspace and may test a connection).
const CLI_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// What the CLI needs to add a connection with a password or API token.
pub struct NewConnection<'a> {
    /// `servicenow` or `jira` (those sign in with a secret; Zendesk needs OAuth).
    pub vendor: &'a str,
    pub name: &'a str,
    pub instance: &'a str,
    pub user: &'a str,
    pub mirror: &'a str,
    pub secret: &'a str,
}

/// Creates the workspace at `home` (if new) with a connection, stores its secret in the keyring
/// and tests it against the upstream (which must answer): `connections add`, then `login` with
/// the secret on stdin.
pub async fn add_connection(cli: &Path, home: &Path, c: &NewConnection<'_>) {
    run_cli(
        cli,
        home,
        &[
            "connections",
            "add",
            c.vendor,
            c.name,
            "--instance",
            c.instance,
            "--auth",
            "basic",
            "--user",
            c.user,
            "--mirror",
            c.mirror,
        ],
        "",
    )
    .await;
    let login = run_cli(cli, home, &["login", c.name], &format!("{}\n", c.secret)).await;
    assert!(
        !login.contains(c.secret),
        "the CLI printed the secret: {login}"
    );
}
