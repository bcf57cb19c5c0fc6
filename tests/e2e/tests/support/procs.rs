//! Finding and signalling the processes a test started, by pid (never by name): tests run in
//! parallel and each must only touch its own tauri-driver, WebKitWebDriver and app.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Parent pid from `/proc/<pid>/stat` (the field after the parenthesised command name).
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// All live descendants of `pid`, parents before children.
pub fn descendants(pid: u32) -> Vec<u32> {
    let all: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter_map(|p| Some((p, parent(p)?)))
                .collect()
        })
        .unwrap_or_default();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let current = found[i];
        found.extend(all.iter().filter(|(_, pp)| *pp == current).map(|(p, _)| *p));
        i += 1;
    }
    found.remove(0);
    found
}

pub fn alive(pid: u32) -> bool {
    // A zombie has exited; only its parent's wait is missing.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .map(|i| s[i + 1..].trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

pub fn name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

pub fn exe(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// Sends `SIG<signal>` to `pid` (the workspace forbids `unsafe`, so no `libc::kill`).
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("sh")
        .args(["-c", &format!("kill -s {signal} {pid} 2>/dev/null")])
        .status();
    if let Err(e) = status {
        eprintln!("cannot signal {pid}: {e}");
    }
}

/// Waits up to `timeout` for a child to exit; true when it did.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() > deadline => return false,
            Ok(None) => pause(Duration::from_millis(50)),
        }
    }
}

/// A blocking sleep, for cleanup in `Drop` (which cannot await).
#[allow(clippy::disallowed_methods)]
pub fn pause(d: Duration) {
    std::thread::sleep(d);
}

/// Waits up to `timeout` for a process that is not our child to be gone.
pub async fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// When the kernel started `pid` (`starttime` in `/proc/<pid>/stat`, in clock ticks since boot),
/// as wall-clock time: boot time is now minus `/proc/uptime`, both to 10 ms.
pub fn started_at(pid: u32) -> Option<std::time::SystemTime> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Fields after the name start at field 3 (state); starttime is field 22.
    let ticks: u64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
    let hz: u64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100);
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let boot = std::time::SystemTime::now().checked_sub(Duration::from_secs_f64(uptime))?;
    boot.checked_add(Duration::from_millis(ticks * 1000 / hz))
}
