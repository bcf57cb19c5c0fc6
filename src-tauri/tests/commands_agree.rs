//! App commands are listed in three places: `generate_handler!` in src/lib.rs (what the app can
//! route), `COMMANDS` in build.rs (which `allow-*` permissions exist) and capabilities/main.json
//! (what the main window is granted). A command missing from one of them either cannot be called
//! or is callable without being reviewed. This test reads the files as text (no WebKit needed at
//! run time) and fails when the lists disagree. It also checks that every `#[tauri::command]` in
//! src/commands is `async` and registered.

// Test code: a failed expectation is a test failure (clippy.toml allows this only inside #[test]).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn crate_file(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The text between `start` and the first `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str, file: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{file}: `{start}` not found"))
        + start.len();
    let len = text[from..]
        .find(end)
        .unwrap_or_else(|| panic!("{file}: `{end}` not found"));
    &text[from..from + len]
}

fn without_line_comments(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Names in `tauri::generate_handler![a::b::name, ...]`.
fn handler_commands() -> BTreeSet<String> {
    let lib = without_line_comments(&crate_file("src/lib.rs"));
    between(&lib, "generate_handler![", "]", "src/lib.rs")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.rsplit("::").next().unwrap_or(p).to_owned())
        .collect()
}

/// Strings in `const COMMANDS: &[&str] = &[...]`.
fn manifest_commands() -> BTreeSet<String> {
    let build = without_line_comments(&crate_file("build.rs"));
    let list = between(&build, "const COMMANDS: &[&str] = &[", "];", "build.rs");
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .unwrap_or_else(|| panic!("build.rs: `{s}` in COMMANDS is not a string literal"))
                .to_owned()
        })
        .collect()
}

/// App-command permissions (`allow-<command>`) granted to the main window, as command names.
fn capability_commands() -> BTreeSet<String> {
    let json: serde_json::Value =
        serde_json::from_str(&crate_file("capabilities/main.json")).expect("main.json is JSON");
    json["permissions"]
        .as_array()
        .expect("main.json has a permissions array")
        .iter()
        .map(|p| p.as_str().expect("permissions are plain identifiers"))
        .filter_map(|p| p.strip_prefix("allow-"))
        .map(|p| p.replace('-', "_"))
        .collect()
}

/// Every `#[tauri::command]` function under src/commands, with whether it is `async`.
fn defined_commands() -> Vec<(String, bool)> {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("src/commands exists") {
        let path = entry.expect("readable directory entry").path();
        let text = std::fs::read_to_string(&path).expect("readable command file");
        for after in text.split("#[tauri::command]").skip(1) {
            let signature = after.split('(').next().unwrap_or("");
            let name = signature.split_whitespace().last().unwrap_or("").to_owned();
            found.push((name, signature.contains("async fn")));
        }
    }
    found
}

#[test]
fn handler_manifest_and_capability_list_the_same_commands() {
    let handler = handler_commands();
    let manifest = manifest_commands();
    let capability = capability_commands();
    assert!(
        !handler.is_empty(),
        "no commands found in generate_handler!"
    );
    assert_eq!(
        handler, manifest,
        "generate_handler! (left) and build.rs COMMANDS (right) differ"
    );
    assert_eq!(
        handler, capability,
        "generate_handler! (left) and main.json allow-* (right) differ"
    );
}

#[test]
fn every_command_is_async_and_registered() {
    let handler = handler_commands();
    let defined = defined_commands();
    assert!(
        !defined.is_empty(),
        "no #[tauri::command] found under src/commands"
    );
    for (name, is_async) in &defined {
        assert!(
            is_async,
            "command `{name}` is synchronous: it would run on the main thread"
        );
        assert!(
            handler.contains(name),
            "command `{name}` is defined but not in generate_handler!"
        );
    }
    let names: BTreeSet<_> = defined.into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names, handler,
        "commands defined (left) and registered (right) differ"
    );
}
