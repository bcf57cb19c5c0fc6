//! What the CLI test binaries share: running `casebook` on a test workspace and reading its output.
#![allow(dead_code)] // each test binary uses its own part

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_casebook");

/// The database key of a test workspace: a key file outside it (never the user's keyring; the
/// keyring path has its own tests in tests/connections.rs).
pub fn key_file(home: &Path) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-keys");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(home.to_string_lossy().replace(['/', '\\', ':'], "_"))
}

/// `casebook --home <home> <args>`, with the workspace's key file and no `$CASEBOOK_HOME`.
pub fn command(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--home")
        .arg(home)
        .args(args)
        .env_remove("CASEBOOK_HOME")
        .env("CASEBOOK_KEY_FILE", key_file(home));
    c
}

pub fn run(home: &Path, args: &[&str]) -> Output {
    command(home, args).output().unwrap()
}

pub fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}
