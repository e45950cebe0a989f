//! Helpers shared by the benches: where the corpus is, its repos, and running the CLI.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The shared corpus: `$DOCWARD_CORPUS`, default `../shared/corpus` next to the crate, if it
/// exists.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("DOCWARD_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    dir.is_dir().then_some(dir)
}

/// The `(repo name, folder)` pairs of a corpus: its visible top-level folders, sorted.
pub fn corpus_repos(corpus: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(corpus)
        .expect("read corpus dir")
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((e.file_name().to_str()?.to_owned(), e.path())))
        .filter(|(n, _)| !n.starts_with('.'))
        .collect();
    out.sort();
    out
}

/// Runs a prepared `docward` command and returns its stdout; panics on failure.
pub fn run_cli(mut command: Command, args: &[&str]) -> String {
    let out = command
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run docward");
    assert!(
        out.status.success(),
        "docward {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}
