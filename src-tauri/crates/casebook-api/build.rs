//! Embeds the sample workspace's runbooks (`sample/runbooks/`, see `sample/README.md`): writes
//! `sample_runbooks.rs`, one `(relative path, bytes)` entry per file, sorted, so that the sample
//! folder is the only list of what ships. A build fails if the folder is missing or a path is
//! not UTF-8.

// A build script reports a broken checkout by failing the build with its message.
#![allow(clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read the sample runbooks at {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../../../sample/runbooks");
    let root = root
        .canonicalize()
        .unwrap_or_else(|e| panic!("cannot find the sample runbooks at {}: {e}", root.display()));
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    let mut src = String::from("pub(crate) const RUNBOOKS: &[(&str, &[u8])] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f.strip_prefix(&root).expect("under the root");
        let rel = rel.to_str().expect("a UTF-8 path").replace('\\', "/");
        let abs = f.to_str().expect("a UTF-8 path");
        writeln!(src, "    ({rel:?}, include_bytes!({abs:?})),").expect("write to a String");
    }
    src.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("sample_runbooks.rs");
    std::fs::write(&out, src).expect("write sample_runbooks.rs");
}
