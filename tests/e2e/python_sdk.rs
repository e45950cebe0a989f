//! Interoperability with the official MCP Python SDK (`pip install -r tests/python/requirements.txt`).

use std::process::Command;

use crate::util::{TestDir, docward_bin};

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
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
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
        !stderr.contains("No module named 'mcp'"),
        "the MCP Python SDK is missing: run `pip install -r tests/python/requirements.txt`"
    );
    assert!(
        output.status.success(),
        "python smoke test failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("3 sessions passed"), "{stdout}");
}
