//! Interoperability with the official MCP Python SDK (`pip install -r tests/python/requirements.txt`).

use std::process::Command;

use crate::util::{TestDir, docward_bin};

/// The interpreter the Python tests run: `PYTHON` (e.g. `.venv/bin/python`), else `python3`.
pub fn python() -> String {
    std::env::var("PYTHON")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "python3".to_owned())
}

/// [`python`] when it can import the MCP Python SDK. Otherwise the test fails under CI (`CI`
/// or `DOCWARD_REQUIRE_ALL` set) and is skipped, with the reason and the fix, locally.
pub fn python_with_sdk() -> Option<String> {
    let python = python();
    let probe = Command::new(&python).args(["-c", "import mcp"]).output();
    let problem = match probe {
        Ok(out) if out.status.success() => return Some(python),
        Ok(out) => format!(
            "{python} cannot import the MCP Python SDK ({})",
            String::from_utf8_lossy(&out.stderr)
                .trim()
                .lines()
                .last()
                .unwrap_or("")
        ),
        Err(e) => format!("{python} could not be run ({e})"),
    };
    let fix = "create the test venv and point PYTHON at it: `python3 -m venv .venv && .venv/bin/pip install -r tests/python/requirements.txt`, then `PYTHON=\"$PWD/.venv/bin/python\" cargo test`";
    if std::env::var_os("CI").is_some() || std::env::var_os("DOCWARD_REQUIRE_ALL").is_some() {
        panic!("{problem}: {fix}");
    }
    eprintln!("skipped: {problem}; {fix}");
    None
}

#[test]
fn the_official_python_sdk_lists_calls_and_is_refused_over_stdio() {
    let dir = TestDir::new();
    dir.tenant("acme", "pro");
    dir.sample_docs("handbook");
    dir.repo("handbook", "acme", "test", "handbook");
    let full = dir.key(
        "acme",
        "test",
        &["mcp:search", "mcp:get_doc", "mcp:list_repos"],
    );
    let search_only = dir.key("acme", "test", &["mcp:search"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/smoke_stdio.py");
    let Some(python) = python_with_sdk() else {
        return;
    };
    let output = Command::new(&python)
        .arg(script)
        .env("DOCWARD_BIN", docward_bin())
        .env("DOCWARD_DATA_DIR", dir.data_dir())
        .env("DOCWARD_TEST_KEY_FULL", &full)
        .env("DOCWARD_TEST_KEY_SEARCH", &search_only)
        .output()
        .unwrap_or_else(|e| panic!("could not run {python}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python smoke test failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("3 sessions passed"), "{stdout}");
}
