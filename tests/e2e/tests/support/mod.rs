//! Drives the real app: tauri-driver (one per test, on free ports) in front of WebKitWebDriver,
//! which launches the built `casebook-app` with a data directory of the test's own.
//!
//! Missing tools (tauri-driver, WebKitWebDriver, a display, the built app) fail the test when `CI`
//! or `CASEBOOK_E2E_REQUIRED` is set, and skip it with the reason otherwise.

#![allow(dead_code)] // each test binary uses a different part of the helpers

pub mod procs;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long to wait for the UI to reach an expected state before failing.
pub const UI_TIMEOUT: Duration = Duration::from_secs(20);

/// The workspace root (tests run with the package folder as working directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// Where test artifacts (screenshots) go: `<workspace>/artifacts`.
pub fn artifacts_dir() -> PathBuf {
    let dir = workspace_root().join("artifacts");
    std::fs::create_dir_all(&dir).expect("create artifacts/");
    dir
}

/// What the e2e tests need, found on this machine.
pub struct Tools {
    pub app: PathBuf,
    pub tauri_driver: PathBuf,
}

/// Whether missing tools fail the tests (`CI`, `CASEBOOK_E2E_REQUIRED`) instead of skipping them.
pub fn required() -> bool {
    ["CI", "CASEBOOK_E2E_REQUIRED"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty() && s != "false" && s != "0"))
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// The built app: `$CASEBOOK_APP`, else `<target>/debug/casebook-app`.
fn app_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CASEBOOK_APP").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_absolute() {
            p
        } else {
            workspace_root().join(p)
        };
    }
    target_dir().join("debug/casebook-app")
}

/// Cargo's target directory: `$CARGO_TARGET_DIR`, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| {
            if t.is_absolute() {
                t
            } else {
                workspace_root().join(t)
            }
        })
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The tools, or `None` (after printing why) when the test should be skipped.
/// Panics with the reason instead when the tests are required (`CI`, `CASEBOOK_E2E_REQUIRED`).
pub fn tools() -> Option<Tools> {
    let mut missing = Vec::new();
    let tauri_driver = on_path("tauri-driver");
    if tauri_driver.is_none() {
        missing
            .push("tauri-driver is not on PATH (cargo install tauri-driver --locked)".to_owned());
    }
    if on_path("WebKitWebDriver").is_none() {
        missing
            .push("WebKitWebDriver is not on PATH (apt-get install webkit2gtk-driver)".to_owned());
    }
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    if !has_display {
        missing.push(
            "no display: run under xvfb-run -a -s \"-screen 0 1280x800x24\" dbus-run-session -- ..."
                .to_owned(),
        );
    }
    let app = app_path();
    if !app.is_file() {
        missing.push(format!(
            "the app is not built at {} (cargo build -p casebook-app, or set CASEBOOK_APP)",
            app.display()
        ));
    }
    if missing.is_empty() {
        return Some(Tools {
            app,
            tauri_driver: tauri_driver.expect("checked above"),
        });
    }
    let reason = missing.join("\n  - ");
    assert!(
        !required(),
        "the real-webview tests cannot run:\n  - {reason}"
    );
    eprintln!("SKIPPED (set CI or CASEBOOK_E2E_REQUIRED to make this a failure):\n  - {reason}");
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running tauri-driver. Dropping it stops tauri-driver with SIGTERM (so that it stops its
/// WebKitWebDriver) and kills whatever it started that is still alive.
pub struct Driver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Driver {
    /// Starts tauri-driver on free ports; the app it launches gets `CASEBOOK_HOME=home`.
    pub async fn start(tools: &Tools, home: &Path, log: PathBuf) -> Driver {
        Driver::start_with_env(tools, home, log, &[]).await
    }

    /// [`Driver::start`] with more environment for tauri-driver and the app it launches (for
    /// example a private session bus).
    pub async fn start_with_env(
        tools: &Tools,
        home: &Path,
        log: PathBuf,
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Driver {
        let port = free_port();
        let native_port = free_port();
        let out = File::create(&log).expect("driver log file");
        let err = out.try_clone().expect("driver log file");
        let child = Command::new(&tools.tauri_driver)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .env("CASEBOOK_HOME", home)
            // The app logs at info unless the test run asks for more (`CASEBOOK_LOG=...`).
            .env(
                "CASEBOOK_LOG",
                std::env::var("CASEBOOK_LOG").unwrap_or_else(|_| "info".into()),
            )
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start tauri-driver");
        let driver = Driver { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not listen on {port}\n{}",
                driver.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        driver
    }

    /// Opens a WebDriver session, which launches the app.
    pub async fn session(&self, app: &Path) -> Session {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "wry".into());
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": app }),
        );
        let client = ClientBuilder::native()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap_or_else(|e| {
                panic!("cannot start a WebDriver session: {e}\n{}", self.log_tail())
            });
        Session {
            client,
            driver_pid: self.child.id(),
            app: app.to_owned(),
            log: self.log.clone(),
        }
    }

    /// The last lines tauri-driver, WebKitWebDriver and the app wrote.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(40);
    format!(
        "--- driver and app log ({}):\n{}",
        log.display(),
        lines[from..].join("\n")
    )
}

impl Drop for Driver {
    fn drop(&mut self) {
        let pid = self.child.id();
        let started = procs::descendants(pid);
        procs::signal(pid, "TERM");
        if !procs::wait_exit(&mut self.child, Duration::from_secs(5)) {
            eprintln!("tauri-driver ignored SIGTERM; killing it");
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Whatever it started (WebKitWebDriver, the app, WebKit helpers) must not outlive it:
        // an orphaned WebKitWebDriver keeps its port and confuses later sessions. They get a
        // moment to exit on their own (WebKitWebDriver follows tauri-driver shortly after).
        let deadline = Instant::now() + Duration::from_secs(3);
        while started.iter().any(|p| procs::alive(*p)) && Instant::now() < deadline {
            procs::pause(Duration::from_millis(50));
        }
        for leftover in started.into_iter().filter(|p| procs::alive(*p)) {
            eprintln!(
                "killing leftover process {leftover} ({})",
                procs::name(leftover)
            );
            procs::signal(leftover, "KILL");
        }
    }
}

/// See [`Session::startup_report`].
pub struct StartupReport {
    /// `name ms, …` in ms since the page's time origin.
    pub marks: String,
    /// From the process start to the frame that painted the first rows.
    pub process_to_rows_ms: Option<f64>,
}

/// A WebDriver session on the running app.
pub struct Session {
    pub client: Client,
    driver_pid: u32,
    app: PathBuf,
    log: PathBuf,
}

pub fn css(selector: &str) -> Locator<'_> {
    Locator::Css(selector)
}

pub fn testid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

impl Session {
    /// Ends the session (the app closes).
    pub async fn end(self) {
        if let Err(e) = self.client.close().await {
            eprintln!("ending the WebDriver session: {e}");
        }
    }

    /// The pid of the running app (started by WebKitWebDriver under our tauri-driver).
    pub fn app_pid(&self) -> u32 {
        let app = self.app.canonicalize().unwrap_or_else(|_| self.app.clone());
        procs::descendants(self.driver_pid)
            .into_iter()
            .find(|p| procs::exe(*p).is_some_and(|e| e == app))
            .unwrap_or_else(|| panic!("no {} process under tauri-driver", app.display()))
    }

    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    /// Where the start-up time went: the UI's `casebook:*` marks (ui/src/lib/startup.ts) in ms
    /// since the page's time origin, and the start-up as the user sees it: from the kernel
    /// starting the app's process to the frame that painted the first queue rows (the
    /// `rows-painted` mark). Unlike a clock started when the WebDriver session is requested, it
    /// leaves out the driver's handshake and the test's polling for a row.
    pub async fn startup_report(&self) -> StartupReport {
        let marks = self
            .client
            .execute(
                "return [...performance.getEntriesByType('mark'), \
                         ...performance.getEntriesByType('navigation')] \
                   .map((m) => m.entryType === 'mark' \
                       ? `${m.name.replace('casebook:', '')} ${Math.round(m.startTime)}` \
                       : `dom-content-loaded ${Math.round(m.domContentLoadedEventEnd)}`) \
                   .concat([`now ${Math.round(performance.now())}`]).join(', ');",
                Vec::new(),
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "unavailable".into());
        // The mark is set a frame after the rows render: wait for it briefly.
        let mut painted = None;
        for _ in 0..40 {
            painted = self
                .client
                .execute(
                    "const m = performance.getEntriesByName('casebook:rows-painted')[0]; \
                     return m ? performance.timeOrigin + m.startTime : null;",
                    Vec::new(),
                )
                .await
                .ok()
                .and_then(|v| v.as_f64());
            if painted.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let started = procs::started_at(self.app_pid()).map(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64()
                * 1000.0
        });
        StartupReport {
            marks,
            process_to_rows_ms: painted.zip(started).map(|(p, s)| p - s),
        }
    }

    /// The page's visible text, for failure messages.
    pub async fn page_text(&self) -> String {
        match self
            .client
            .execute("return document.body.innerText;", Vec::new())
            .await
        {
            Ok(serde_json::Value::String(text)) => text,
            Ok(other) => format!("<no text: {other}>"),
            Err(e) => format!("<no text: {e}>"),
        }
    }

    /// Waits until `check` returns `Some`, polling every 50 ms; fails with `what`, the page text
    /// and the log after [`UI_TIMEOUT`].
    pub async fn until<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        self.until_within(UI_TIMEOUT, what, &mut check).await
    }

    pub async fn until_within<T, F, Fut>(&self, timeout: Duration, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = check().await {
                return v;
            }
            if Instant::now() > deadline {
                screenshot(&artifacts_dir().join("failure.png"));
                let text = self.page_text().await;
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n--- page text:\n{}\n{}",
                    text.chars().take(3000).collect::<String>(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The first element matching `selector`, once there is one.
    pub async fn wait_for(&self, selector: &str) -> Element {
        self.wait_for_within(UI_TIMEOUT, selector).await
    }

    pub async fn wait_for_within(&self, timeout: Duration, selector: &str) -> Element {
        let what = format!("an element matching {selector}");
        self.until_within(timeout, &what, || async {
            self.client.find(css(selector)).await.ok()
        })
        .await
    }

    /// The element with `data-testid=id`, once there is one.
    pub async fn by_testid(&self, id: &str) -> Element {
        self.wait_for(&testid(id)).await
    }

    /// Clicks an element as a user would: scrolled to the middle of its scroll container first
    /// (the ticket pane scrolls; WebKitWebDriver scrolls only until the element's edge shows, where
    /// a transient toast may cover it). A click that still lands on something else says what.
    pub async fn click_testid(&self, id: &str) {
        let el = self.by_testid(id).await;
        let arg = serde_json::to_value(&el).expect("an element reference");
        self.client
            .execute(
                "arguments[0].scrollIntoView({block: 'center', inline: 'center'});",
                vec![arg.clone()],
            )
            .await
            .expect("scroll the element into view");
        if let Err(e) = el.click().await {
            let cover = self
                .client
                .execute(
                    "const r = arguments[0].getBoundingClientRect();
                     const at = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                     return at ? at.outerHTML.slice(0, 200) : 'nothing';",
                    vec![arg],
                )
                .await
                .unwrap_or_default();
            panic!("click on {id} failed ({e}); the element at its centre is {cover}");
        }
    }

    pub async fn all(&self, selector: &str) -> Vec<Element> {
        self.client
            .find_all(css(selector))
            .await
            .unwrap_or_default()
    }

    /// The number `queue-total` shows now, if it shows one.
    pub async fn queue_total_now(&self) -> Option<u64> {
        let el = self.client.find(css(&testid("queue-total"))).await.ok()?;
        parse_count(&el.text().await.ok()?)
    }

    /// The number shown by `queue-total`, once it shows one.
    pub async fn queue_total(&self) -> u64 {
        self.until("a number in queue-total", || self.queue_total_now())
            .await
    }

    /// Elements whose `style` attribute the CSP refused (`style-src` without 'unsafe-inline'
    /// blocks style attributes parsed from markup; styles set through the CSSOM still apply): the
    /// attribute is there, the style is not.
    pub async fn csp_blocked_styles(&self) -> Vec<String> {
        let script = "return [...document.querySelectorAll('[style]')]
            .filter((e) => e.getAttribute('style').trim() !== '' && e.style.length === 0)
            .map((e) => e.outerHTML.slice(0, 160));";
        let found = self
            .client
            .execute(script, Vec::new())
            .await
            .expect("run a script in the page");
        serde_json::from_value(found).expect("a list of strings")
    }

    /// The security settings of tauri.conf.json as the page experiences them.
    pub async fn security_posture(&self) -> serde_json::Value {
        let script = "
            let evalBlocked = false;
            try { new Function('return 1')(); } catch (e) { evalBlocked = true; }
            return {
              evalBlocked,
              prototypeFrozen: Object.isFrozen(Object.prototype),
              globalTauri: typeof window.__TAURI__ !== 'undefined',
              isolationFrame: document.getElementById('__tauri_isolation__') !== null,
            };";
        self.client
            .execute(script, Vec::new())
            .await
            .expect("run a script in the page")
    }

    /// `data-key` of every rendered queue row.
    pub async fn row_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        for row in self.all(&testid("queue-row")).await {
            if let Ok(Some(k)) = row.attr("data-key").await {
                keys.push(k);
            }
        }
        keys
    }
}

/// "1,234", "1 234" or "1234 tickets" → 1234.
pub fn parse_count(text: &str) -> Option<u64> {
    let digits: String = text
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Saves the whole (virtual) screen with ImageMagick's `import`: WebDriver screenshots of WebKit
/// can be stale or black. Only warns on failure: a picture is an artifact, not an assertion.
pub fn screenshot(path: &Path) {
    match Command::new("import")
        .args(["-window", "root"])
        .arg(path)
        .status()
    {
        Ok(s) if s.success() => eprintln!("screenshot saved: {}", path.display()),
        Ok(s) => eprintln!("warning: import -window root failed ({s}); no screenshot"),
        Err(e) => eprintln!("warning: cannot run import (imagemagick): {e}; no screenshot"),
    }
}
