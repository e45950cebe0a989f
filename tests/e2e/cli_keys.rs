//! End-to-end tests of the tenant and key commands (issue: API keys).
//!
//! Every test drives the real `docward` binary on its own temp data dir and checks the CLI
//! against the written specification: the token format and its one-time display, listings that
//! never leak a token or its hash (neither in output nor on disk), `key verify` and each of its
//! refusal codes, scope and plan-cap rules, durations and expiry, rotation with a grace period,
//! revocation, error reporting, and durability of admin writes across `kill -9`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::util::{Ran, TestDir, call, docward_bin, stdio_session};

const ALL_SCOPES: [&str; 5] = [
    "mcp:search",
    "mcp:get_doc",
    "mcp:list_repos",
    "repo:read",
    "repo:write",
];

const BASE62: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// ---------------------------------------------------------------------------------------------
// Private helpers
// ---------------------------------------------------------------------------------------------

/// Current Unix time in seconds.
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Parses an RFC 3339 time (independently of docward's own clock module).
fn ts(rfc3339: &str) -> i64 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("'{rfc3339}' is not RFC 3339: {e}"))
        .unix_timestamp()
}

/// The string value of a JSON field, or a panic naming it.
#[track_caller]
fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("field {field} is not a string in {v:#}"))
}

/// Sleeps until the wall clock is strictly past Unix second `at` (plus a small margin).
fn sleep_past(at: i64) {
    let target = Duration::from_secs(at as u64) + Duration::from_millis(250);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    if target > now {
        std::thread::sleep(target - now);
    }
}

/// Asserts the documented token shape: `dw_<env>_` + 43 base62 secret + 6 base62 checksum.
#[track_caller]
fn assert_token_shape(token: &str, env: &str) {
    let head = format!("dw_{env}_");
    assert!(
        token.starts_with(&head),
        "token {token} does not start with {head}"
    );
    let payload = &token[head.len()..];
    assert_eq!(
        payload.len(),
        43 + 6,
        "token {token} has a payload of the wrong length"
    );
    assert!(
        payload.chars().all(|c| BASE62.contains(c)),
        "token {token} has characters outside base62"
    );
}

/// The display prefix of a token: the first 8 characters of its secret.
fn display_prefix(token: &str) -> &str {
    // "dw_live_" and "dw_test_" are both 8 characters long.
    &token[8..16]
}

/// The token with one checksum character changed (same shape, wrong checksum).
fn with_bad_checksum(token: &str) -> String {
    let last = token.chars().last().unwrap();
    let replacement = if last == 'A' { 'B' } else { 'A' };
    format!("{}{replacement}", &token[..token.len() - 1])
}

/// Creates a key with a given name and extra flags, returning the token (plain output).
fn create(dir: &TestDir, tenant: &str, name: &str, env: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "key", "create", "--tenant", tenant, "--name", name, "--env", env,
    ];
    args.extend(extra);
    dir.cmd(&args).run().stdout_line()
}

/// Creates a restricted live key with `--scope mcp:search`, returning the `--json` object.
fn create_json(dir: &TestDir, tenant: &str, extra: &[&str]) -> Value {
    dir.key_json(
        tenant,
        "live",
        &[&["--scope", "mcp:search"], extra].concat(),
    )
}

/// `key verify --json` for a token that must be accepted.
#[track_caller]
fn verify_ok(dir: &TestDir, token: &str, extra: &[&str]) -> Value {
    let mut args = vec!["key", "verify", "--json"];
    args.extend(extra);
    let v = dir.cmd(&args).stdin(token).run().json();
    assert_eq!(v["valid"], true, "expected a valid key: {v:#}");
    assert!(v["code"].is_null(), "a valid key has no code: {v:#}");
    v
}

/// `key verify --json` for a presented text that must be refused with `code` and exit 1.
#[track_caller]
fn verify_refused(dir: &TestDir, presented: &str, code: &str, extra: &[&str]) -> Value {
    let mut args = vec!["key", "verify", "--json"];
    args.extend(extra);
    let ran = dir.cmd(&args).stdin(presented).run_fail();
    assert_eq!(ran.code(), Some(1), "a refusal exits 1\n{}", ran.dump());
    let v = ran.json();
    assert_eq!(v["valid"], false, "{v:#}");
    assert_eq!(v["code"], code, "wrong refusal code: {v:#}");
    assert!(
        v["error"].as_str().is_some_and(|e| !e.is_empty()),
        "a refusal names its cause: {v:#}"
    );
    v
}

/// `key list --json` (optionally for one tenant).
fn list_json(dir: &TestDir, tenant: Option<&str>) -> Vec<Value> {
    let mut args = vec!["key", "list", "--json"];
    if let Some(t) = tenant {
        args.extend(["--tenant", t]);
    }
    dir.cmd(&args)
        .run()
        .json()
        .as_array()
        .expect("a JSON array")
        .clone()
}

/// The entry of `key list --json` with this id.
#[track_caller]
fn listed(dir: &TestDir, id: &str) -> Value {
    list_json(dir, None)
        .into_iter()
        .find(|k| k["id"] == id)
        .unwrap_or_else(|| panic!("key {id} is not listed"))
}

/// Asserts a failed run printed exactly one `docward: error:` line mentioning every needle.
#[track_caller]
fn assert_error_line(ran: &Ran, needles: &[&str]) {
    let stderr = ran.stderr();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line\n{}", ran.dump());
    assert!(
        lines[0].starts_with("docward: error:"),
        "error line must start with 'docward: error:'\n{}",
        ran.dump()
    );
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "error line does not mention '{needle}'\n{}",
            ran.dump()
        );
    }
    assert!(
        ran.stdout().is_empty(),
        "nothing on stdout on error\n{}",
        ran.dump()
    );
}

/// Every regular file below `root`.
fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                // Sockets (the store owner's) and other special files hold no data.
                out.push(entry.path());
            }
        }
    }
    out
}

/// Whether `needle` occurs in `hay`.
fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A `docward` child with a scrubbed environment and stdout piped, for the crash tests.
fn spawn_docward(dir: &TestDir, args: &[&str]) -> std::process::Child {
    Command::new(docward_bin())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DOCWARD_DATA_DIR", dir.data_dir())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn docward")
}

/// Reads the first stdout line of `child`, then SIGKILLs it (fine if it already exited).
fn first_line_then_kill(mut child: std::process::Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    line.trim().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Tenants
// ---------------------------------------------------------------------------------------------

/// `tenant create` on each plan, with overrides, and `tenant list` in both formats.
#[test]
fn tenant_create_and_list() {
    let dir = TestDir::new();
    let free = dir
        .cmd(&["tenant", "create", "acme", "--plan", "free", "--json"])
        .run()
        .json();
    assert_eq!(free["name"], "acme");
    assert_eq!(free["plan"], "free");
    assert_eq!(free["max_keys"], 3);
    dir.tenant("globex", "pro");
    let big = dir
        .cmd(&[
            "tenant",
            "create",
            "initech",
            "--plan",
            "enterprise",
            "--daily-limit",
            "5000",
            "--max-keys",
            "50",
            "--json",
        ])
        .run()
        .json();
    assert_eq!(big["plan"], "enterprise");
    assert_eq!(big["daily_limit"], 5000);
    assert_eq!(big["max_keys"], 50);

    let list = dir.cmd(&["tenant", "list", "--json"]).run().json();
    let list = list.as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|t| s(t, "name")).collect();
    assert_eq!(names.len(), 3);
    for n in ["acme", "globex", "initech"] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let globex = list.iter().find(|t| t["name"] == "globex").unwrap();
    assert_eq!(globex["plan"], "pro");
    assert_eq!(globex["max_keys"], 10);

    // A tenant without keys lists none, successfully.
    assert!(list_json(&dir, Some("globex")).is_empty());
    let ran = dir.cmd(&["key", "list", "--tenant", "globex"]).run();
    assert!(ran.stdout().is_empty(), "{}", ran.dump());

    let table = dir.cmd(&["tenant", "list"]).run().stdout();
    for word in ["acme", "free", "globex", "pro", "initech", "enterprise"] {
        assert!(table.contains(word), "tenant table lacks {word}:\n{table}");
    }
}

/// Invalid tenant names, unknown plans and duplicate names are refused cleanly.
#[test]
fn tenant_create_refusals() {
    let dir = TestDir::new();
    for bad in ["Acme", "acme corp", "../escape", "-acme", ""] {
        let ran = dir
            .cmd(&["tenant", "create", "--plan", "free", "--", bad])
            .run_fail();
        assert_error_line(&ran, &["invalid tenant name"]);
    }
    let ran = dir
        .cmd(&["tenant", "create", "acme", "--plan", "platinum"])
        .run_fail();
    assert!(ran.stderr().contains("platinum"), "{}", ran.dump());
    dir.tenant("acme", "free");
    let ran = dir
        .cmd(&["tenant", "create", "acme", "--plan", "pro"])
        .run_fail();
    assert_error_line(&ran, &["acme"]);
    let list = dir.cmd(&["tenant", "list", "--json"]).run().json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list:#}");
    assert_eq!(
        list[0]["plan"], "free",
        "the duplicate did not overwrite the tenant"
    );
}

// ---------------------------------------------------------------------------------------------
// Creating keys
// ---------------------------------------------------------------------------------------------

/// `key create` prints the token alone on stdout and the one-time warning on stderr.
#[test]
fn create_prints_token_once_with_warning() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");
    let ran = dir
        .cmd(&[
            "key",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Production Claude Desktop",
            "--env",
            "live",
            "--scope",
            "mcp:search",
            "--scope",
            "mcp:get_doc",
            "--scope",
            "mcp:list_repos",
            "--expires-in",
            "90d",
        ])
        .run();
    let token = ran.stdout_line();
    assert_eq!(
        ran.stdout(),
        format!("{token}\n"),
        "stdout is the token alone"
    );
    assert_token_shape(&token, "live");
    let stderr = ran.stderr();
    assert!(stderr.contains("shown only once"), "{}", ran.dump());
    assert!(stderr.contains("secret manager"), "{}", ran.dump());
    assert!(
        !stderr.contains(&token),
        "the token is not repeated on stderr"
    );

    let test_token = create(&dir, "acme", "CI", "test", &["--type", "unrestricted"]);
    assert_token_shape(&test_token, "test");
    assert_ne!(token, test_token);
}

/// `key create --json` gives every documented field, consistent with the token.
#[test]
fn create_json_has_documented_fields() {
    let dir = TestDir::new();
    dir.tenant("acme", "pro");
    let before = unix_now();
    let v = dir.key_json(
        "acme",
        "live",
        &[
            "--scope",
            "mcp:get_doc",
            "--scope",
            "mcp:search",
            "--expires-in",
            "90d",
        ],
    );
    let after = unix_now();
    for field in [
        "id",
        "token",
        "prefix",
        "tenant",
        "name",
        "env",
        "type",
        "scopes",
        "created_at",
        "expires_at",
    ] {
        assert!(v.get(field).is_some(), "field {field} missing from {v:#}");
    }
    let token = s(&v, "token");
    assert_token_shape(token, "live");
    assert!(s(&v, "id").starts_with("key_"), "{v:#}");
    assert!(s(&v, "prefix").contains(display_prefix(token)), "{v:#}");
    assert!(
        !s(&v, "prefix").contains(&token[16..]),
        "prefix shows only 8 chars: {v:#}"
    );
    assert_eq!(v["tenant"], "acme");
    assert_eq!(v["name"], "test key");
    assert_eq!(v["env"], "live");
    assert_eq!(v["type"], "restricted");
    let mut scopes: Vec<&str> = v["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    scopes.sort();
    assert_eq!(scopes, ["mcp:get_doc", "mcp:search"]);
    let created = ts(s(&v, "created_at"));
    assert!(
        (before..=after).contains(&created),
        "created_at {created} not in [{before}, {after}]"
    );
    assert_eq!(ts(s(&v, "expires_at")) - created, 90 * 86_400);

    // Without an expiry, expires_at is present and null.
    let forever = dir.key_json("acme", "test", &["--type", "unrestricted"]);
    assert!(forever["expires_at"].is_null(), "{forever:#}");
    assert_token_shape(s(&forever, "token"), "test");
}

/// Restricted keys need a scope, unknown scopes are refused with the valid list, and
/// unrestricted keys take no scope but hold all of them.
#[test]
fn scope_rules() {
    let dir = TestDir::new();
    dir.tenant("acme", "pro");

    let ran = dir
        .cmd(&[
            "key", "create", "--tenant", "acme", "--name", "k", "--env", "live",
        ])
        .run_fail();
    assert!(ran.stderr().contains("scope"), "{}", ran.dump());
    assert!(ran.stderr().contains("docward: error:"), "{}", ran.dump());

    let ran = dir
        .cmd(&[
            "key",
            "create",
            "--tenant",
            "acme",
            "--name",
            "k",
            "--env",
            "live",
            "--scope",
            "mcp:admin",
        ])
        .run_fail();
    assert!(ran.stderr().contains("mcp:admin"), "{}", ran.dump());
    for scope in ALL_SCOPES {
        assert!(
            ran.stderr().contains(scope),
            "valid scope {scope} not listed\n{}",
            ran.dump()
        );
    }

    let ran = dir
        .cmd(&[
            "key",
            "create",
            "--tenant",
            "acme",
            "--name",
            "k",
            "--env",
            "live",
            "--type",
            "unrestricted",
            "--scope",
            "mcp:search",
        ])
        .run_fail();
    assert_error_line(&ran, &["unrestricted"]);
    assert!(
        list_json(&dir, None).is_empty(),
        "no key was created by a refused command"
    );

    let v = dir.key_json("acme", "live", &["--type", "unrestricted"]);
    assert_eq!(v["type"], "unrestricted");
    let scopes: Vec<&str> = v["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    for scope in ALL_SCOPES {
        assert!(
            scopes.contains(&scope),
            "unrestricted key lacks {scope}: {v:#}"
        );
    }
    let token = s(&v, "token").to_owned();
    let verdict = verify_ok(&dir, &token, &[]);
    assert_eq!(
        verdict["key"]["scopes"].as_array().unwrap().len(),
        ALL_SCOPES.len()
    );

    // Every valid scope is accepted on a restricted key.
    let mut args = vec!["--scope"];
    for (i, scope) in ALL_SCOPES.iter().enumerate() {
        if i > 0 {
            args.push("--scope");
        }
        args.push(scope);
    }
    let all = dir.key_json("acme", "test", &args);
    assert_eq!(all["type"], "restricted");
    assert_eq!(all["scopes"].as_array().unwrap().len(), ALL_SCOPES.len());
}

/// Durations 30s, 15m, 12h, 90d and absolute RFC 3339 expiries; past and bogus ones refused.
#[test]
fn expiry_durations_and_times() {
    let dir = TestDir::new();
    dir.tenant("acme", "enterprise");
    for (text, secs) in [
        ("30s", 30),
        ("15m", 900),
        ("12h", 43_200),
        ("90d", 7_776_000),
    ] {
        let v = create_json(&dir, "acme", &["--expires-in", text]);
        assert_eq!(
            ts(s(&v, "expires_at")) - ts(s(&v, "created_at")),
            secs,
            "--expires-in {text}: {v:#}"
        );
    }
    let v = dir.key_json(
        "acme",
        "test",
        &[
            "--type",
            "unrestricted",
            "--expires-at",
            "2099-03-01T00:00:00Z",
        ],
    );
    assert_eq!(ts(s(&v, "expires_at")), ts("2099-03-01T00:00:00Z"));

    let ran = dir
        .cmd(&[
            "key",
            "create",
            "--tenant",
            "acme",
            "--name",
            "old",
            "--env",
            "live",
            "--scope",
            "mcp:search",
            "--expires-at",
            "2020-01-01T00:00:00Z",
        ])
        .run_fail();
    assert_error_line(&ran, &["past"]);
    for bad in ["ninety days", "-5m", "0s"] {
        let ran = dir
            .cmd(&[
                "key",
                "create",
                "--tenant",
                "acme",
                "--name",
                "bad",
                "--env",
                "live",
                "--scope",
                "mcp:search",
                "--expires-in",
                bad,
            ])
            .run_fail();
        assert!(
            ran.stderr().contains("error"),
            "--expires-in {bad}\n{}",
            ran.dump()
        );
    }
    let ran = dir
        .cmd(&[
            "key",
            "create",
            "--tenant",
            "acme",
            "--name",
            "bad",
            "--env",
            "live",
            "--scope",
            "mcp:search",
            "--expires-at",
            "next tuesday",
        ])
        .run_fail();
    assert_error_line(&ran, &["next tuesday"]);
    assert_eq!(
        list_json(&dir, None).len(),
        5,
        "refused creations left no key behind"
    );
}

// ---------------------------------------------------------------------------------------------
// Plan caps
// ---------------------------------------------------------------------------------------------

/// The free plan allows 3 active keys; the refusal names the plan and the cap; revoking one
/// frees a slot.
#[test]
fn free_plan_caps_three_active_keys_and_revoked_do_not_count() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");
    let first = create_json(&dir, "acme", &[]);
    dir.key("acme", "test", &["mcp:search"]);
    dir.key("acme", "live", &[]);
    let ran = dir
        .cmd(&[
            "key",
            "create",
            "--tenant",
            "acme",
            "--name",
            "4th",
            "--env",
            "live",
            "--scope",
            "mcp:search",
        ])
        .run_fail();
    assert_error_line(&ran, &["free", "3"]);
    assert_eq!(list_json(&dir, Some("acme")).len(), 3);

    dir.cmd(&["key", "revoke", s(&first, "id")]).run();
    let token = create(&dir, "acme", "4th", "live", &["--scope", "mcp:search"]);
    verify_ok(&dir, &token, &[]);
    let ran = dir
        .cmd(&[
            "key",
            "create",
            "--tenant",
            "acme",
            "--name",
            "5th",
            "--env",
            "live",
            "--scope",
            "mcp:search",
        ])
        .run_fail();
    assert_error_line(&ran, &["free", "3"]);
}

/// Runs `n` `key create` processes on `tenant` at once; returns each one's (success, stdout, stderr).
fn create_concurrently(dir: &TestDir, tenant: &str, n: usize) -> Vec<(bool, String, String)> {
    spawn_creates(dir, tenant, n)
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).trim().to_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .collect()
}

/// Starts `n` `key create` processes on `tenant` at once, stdout and stderr piped.
fn spawn_creates(dir: &TestDir, tenant: &str, n: usize) -> Vec<std::process::Child> {
    (0..n)
        .map(|i| {
            let name = format!("racer {i}");
            Command::new(docward_bin())
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("DOCWARD_DATA_DIR", dir.data_dir())
                .args([
                    "key",
                    "create",
                    "--tenant",
                    tenant,
                    "--name",
                    &name,
                    "--env",
                    "live",
                    "--scope",
                    "mcp:search",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn docward")
        })
        .collect()
}

/// Concurrent `key create` processes cannot race past the cap: exactly 3 of 8 succeed on the
/// free plan, exactly 3 keys exist, and every other process gets the cap refusal.
#[test]
fn concurrent_creates_never_exceed_the_cap() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");
    let outcomes = create_concurrently(&dir, "acme", 8);
    let mut tokens = Vec::new();
    for (ok, stdout, stderr) in outcomes {
        if ok {
            tokens.push(stdout);
        } else {
            assert!(
                stderr.starts_with("docward: error:") && stderr.contains("free"),
                "expected the cap refusal, got: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
    assert_eq!(tokens.len(), 3, "exactly the cap of 3 succeeds");
    assert_eq!(
        list_json(&dir, Some("acme")).len(),
        3,
        "exactly 3 keys exist"
    );
    for token in &tokens {
        verify_ok(&dir, token, &[]);
    }
}

/// Concurrent `key create` processes on an uncapped tenant all succeed, and every key that
/// exists afterwards was shown to its creator (no key is stored while its command fails).
#[test]
fn concurrent_creates_all_succeed_without_orphans() {
    let dir = TestDir::new();
    dir.tenant("acme", "enterprise");
    for round in 0..3 {
        let outcomes = create_concurrently(&dir, "acme", 12);
        let failures: Vec<&String> = outcomes.iter().filter(|o| !o.0).map(|o| &o.2).collect();
        assert!(
            failures.is_empty(),
            "round {round}: {} of 12 failed: {failures:?}",
            failures.len()
        );
    }
    let listed = list_json(&dir, Some("acme"));
    assert_eq!(
        listed.len(),
        36,
        "keys stored vs keys shown to their creators"
    );
}

/// SIGKILL of one `key create` among several concurrent ones (likely the store's owner, being
/// the first started) costs no other command its key: the rest succeed and their keys verify.
#[test]
fn kill_9_during_concurrent_creates_loses_no_other_key() {
    let dir = TestDir::new();
    dir.tenant("acme", "enterprise");
    let mut children = spawn_creates(&dir, "acme", 8);
    let first = children.remove(0);
    let victim_token = first_line_then_kill(first);
    let mut tokens = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a survivor failed: {stderr}");
        tokens.push(String::from_utf8(out.stdout).unwrap().trim().to_owned());
    }
    if !victim_token.is_empty() {
        // It printed its token before dying, so its key was already stored.
        tokens.push(victim_token);
    }
    for token in &tokens {
        assert_token_shape(token, "live");
        verify_ok(&dir, token, &[]);
    }
}

/// The pro plan allows 10 active keys; enterprise has no cap.
#[test]
fn pro_caps_ten_and_enterprise_is_unlimited() {
    let dir = TestDir::new();
    dir.tenant("globex", "pro");
    dir.tenant("initech", "enterprise");
    for i in 0..10 {
        create(
            &dir,
            "globex",
            &format!("k{i}"),
            "live",
            &["--scope", "mcp:search"],
        );
    }
    let ran = dir
        .cmd(&[
            "key",
            "create",
            "--tenant",
            "globex",
            "--name",
            "k10",
            "--env",
            "live",
            "--scope",
            "mcp:search",
        ])
        .run_fail();
    assert_error_line(&ran, &["pro", "10"]);
    for i in 0..12 {
        create(
            &dir,
            "initech",
            &format!("k{i}"),
            "test",
            &["--type", "unrestricted"],
        );
    }
    assert_eq!(list_json(&dir, Some("initech")).len(), 12);
    assert_eq!(list_json(&dir, Some("globex")).len(), 10);
}

/// `--max-keys` overrides the plan's cap, and the refusal names the overridden cap.
#[test]
fn max_keys_override() {
    let dir = TestDir::new();
    dir.cmd(&[
        "tenant",
        "create",
        "acme",
        "--plan",
        "pro",
        "--max-keys",
        "2",
    ])
    .run();
    dir.cmd(&[
        "tenant",
        "create",
        "bigco",
        "--plan",
        "free",
        "--max-keys",
        "5",
    ])
    .run();
    dir.key("acme", "live", &["mcp:search"]);
    dir.key("acme", "live", &["mcp:search"]);
    let ran = dir
        .cmd(&[
            "key",
            "create",
            "--tenant",
            "acme",
            "--name",
            "3rd",
            "--env",
            "live",
            "--scope",
            "mcp:search",
        ])
        .run_fail();
    assert_error_line(&ran, &["pro", "2"]);
    for _ in 0..5 {
        dir.key("bigco", "test", &["repo:read"]);
    }
    let ran = dir
        .cmd(&[
            "key",
            "create",
            "--tenant",
            "bigco",
            "--name",
            "6th",
            "--env",
            "live",
            "--scope",
            "mcp:search",
        ])
        .run_fail();
    assert_error_line(&ran, &["free", "5"]);
}

/// Expired keys do not count against the cap.
#[test]
fn expired_keys_free_a_slot_under_the_cap() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");
    dir.key("acme", "live", &["mcp:search"]);
    dir.key("acme", "live", &["mcp:search"]);
    let short = create_json(&dir, "acme", &["--expires-in", "2s"]);
    dir.cmd(&[
        "key",
        "create",
        "--tenant",
        "acme",
        "--name",
        "4th",
        "--env",
        "live",
        "--scope",
        "mcp:search",
    ])
    .run_fail();
    sleep_past(ts(s(&short, "expires_at")));
    let token = create(&dir, "acme", "4th", "live", &["--scope", "mcp:search"]);
    verify_ok(&dir, &token, &[]);
}

// ---------------------------------------------------------------------------------------------
// Listing and showing
// ---------------------------------------------------------------------------------------------

/// `key list --json` has exactly the documented fields, filters by tenant, tracks last use,
/// and flags keys expiring within 7 days.
#[tokio::test]
async fn list_json_fields_filter_last_used_and_expires_soon() {
    let dir = TestDir::new();
    dir.tenant("acme", "pro");
    dir.tenant("globex", "free");
    let soon = create_json(&dir, "acme", &["--expires-in", "3d"]);
    let later = create_json(&dir, "acme", &["--expires-in", "90d"]);
    let eight_days = create_json(&dir, "acme", &["--expires-in", "8d"]);
    let forever = create_json(&dir, "acme", &[]);
    let other = create_json(&dir, "globex", &[]);

    let all = list_json(&dir, None);
    assert_eq!(all.len(), 5);
    let expected_fields = [
        "id",
        "name",
        "prefix",
        "tenant",
        "env",
        "type",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "rotated_to",
        "status",
        "expires_soon",
    ];
    for entry in &all {
        let obj = entry.as_object().unwrap();
        for field in expected_fields {
            assert!(obj.contains_key(field), "field {field} missing: {entry:#}");
        }
        assert!(
            !obj.contains_key("token"),
            "a listing never has a token: {entry:#}"
        );
        assert!(
            !obj.contains_key("hash"),
            "a listing never has a hash: {entry:#}"
        );
        assert_eq!(entry["status"], "active");
        assert!(entry["last_used_at"].is_null(), "unused so far: {entry:#}");
    }

    let acme = list_json(&dir, Some("acme"));
    assert_eq!(acme.len(), 4);
    assert!(acme.iter().all(|k| k["tenant"] == "acme"));
    let globex = list_json(&dir, Some("globex"));
    assert_eq!(globex.len(), 1);
    assert_eq!(globex[0]["id"], other["id"]);

    assert_eq!(listed(&dir, s(&soon, "id"))["expires_soon"], true);
    assert_eq!(listed(&dir, s(&later, "id"))["expires_soon"], false);
    assert_eq!(listed(&dir, s(&eight_days, "id"))["expires_soon"], false);
    assert_eq!(listed(&dir, s(&forever, "id"))["expires_soon"], false);
    let entry = listed(&dir, s(&later, "id"));
    assert!(
        entry["prefix"]
            .as_str()
            .unwrap()
            .contains(display_prefix(s(&later, "token")))
    );

    // Checking a key is not using it: a stale key must not look alive after a verify.
    verify_ok(&dir, s(&forever, "token"), &[]);
    assert!(listed(&dir, s(&forever, "id"))["last_used_at"].is_null());
    let before = unix_now();
    let session = stdio_session(&dir, "live", Some(s(&forever, "token"))).await;
    call(
        &session,
        "search",
        serde_json::json!({ "query": "anything" }),
    )
    .await;
    session.cancel().await.unwrap();
    let used = listed(&dir, s(&forever, "id"));
    let last_used = ts(used["last_used_at"]
        .as_str()
        .expect("last_used_at set after a tool call"));
    assert!(last_used >= before && last_used <= unix_now(), "{used:#}");
    assert!(listed(&dir, s(&later, "id"))["last_used_at"].is_null());

    let ran = dir.cmd(&["key", "list", "--tenant", "nobody"]).run_fail();
    assert_error_line(&ran, &["nobody"]);
}

/// The human table shows the documented columns, statuses and the "expires soon" mark.
#[test]
fn list_table_columns_and_statuses() {
    let dir = TestDir::new();
    dir.tenant("acme", "pro");
    let soon = create_json(&dir, "acme", &["--expires-in", "2d"]);
    let revoked = create_json(&dir, "acme", &[]);
    let plain = dir.key_json(
        "acme",
        "test",
        &["--type", "unrestricted", "--expires-in", "30d"],
    );
    dir.cmd(&["key", "revoke", s(&revoked, "id")]).run();

    let table = dir.cmd(&["key", "list"]).run().stdout();
    let mut lines = table.lines();
    let header = lines.next().unwrap().to_uppercase();
    for col in [
        "NAME",
        "PREFIX",
        "ENV",
        "TYPE",
        "SCOPES",
        "CREATED",
        "LAST USED",
        "EXPIRES",
        "STATUS",
    ] {
        assert!(header.contains(col), "column {col} missing:\n{table}");
    }
    let row = |v: &Value| -> String {
        let prefix = display_prefix(s(v, "token")).to_owned();
        table
            .lines()
            .find(|l| l.contains(&prefix))
            .unwrap_or_else(|| panic!("no row with prefix {prefix}:\n{table}"))
            .to_owned()
    };
    let soon_row = row(&soon);
    assert!(soon_row.contains("active"), "{soon_row}");
    assert!(soon_row.contains("expires soon"), "{soon_row}");
    assert!(
        soon_row.contains("test key")
            && soon_row.contains("live")
            && soon_row.contains("mcp:search")
    );
    let revoked_row = row(&revoked);
    assert!(revoked_row.contains("revoked"), "{revoked_row}");
    assert!(!revoked_row.contains("expires soon"), "{revoked_row}");
    let plain_row = row(&plain);
    assert!(
        plain_row.contains("active") && !plain_row.contains("expires soon"),
        "{plain_row}"
    );
    assert!(
        plain_row.contains("unrestricted") && plain_row.contains("test"),
        "{plain_row}"
    );
    assert_eq!(
        table.lines().count(),
        4,
        "a header and three rows:\n{table}"
    );
}

/// `key show` finds a key by id, by `dw_<env>_PREFIX`, by `PREFIX` and by the listed form
/// with its ellipsis; unknown ids are an error.
#[test]
fn show_by_id_or_prefix() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");
    let v = create_json(&dir, "acme", &["--scope", "repo:read"]);
    let id = s(&v, "id");
    let token = s(&v, "token");
    let prefix = display_prefix(token);
    let listed_prefix = listed(&dir, id)["prefix"].as_str().unwrap().to_owned();
    for handle in [
        id.to_owned(),
        format!("dw_live_{prefix}"),
        prefix.to_owned(),
        listed_prefix,
    ] {
        let shown = dir.cmd(&["key", "show", &handle, "--json"]).run().json();
        assert_eq!(shown["id"], id, "show {handle}");
        assert_eq!(shown["status"], "active");
        assert_eq!(shown["tenant"], "acme");
    }
    let text = dir.cmd(&["key", "show", prefix]).run().stdout();
    for needle in [
        id,
        "test key",
        prefix,
        "acme",
        "live",
        "restricted",
        "mcp:search",
        "repo:read",
        "active",
    ] {
        assert!(text.contains(needle), "show lacks {needle}:\n{text}");
    }
    for unknown in ["key_doesnotexist00", "ZZZZZZZZ", "dw_live_ZZZZZZZZ"] {
        let ran = dir.cmd(&["key", "show", unknown]).run_fail();
        assert_error_line(&ran, &[unknown]);
    }
}

/// A display prefix names its environment: `dw_test_PREFIX` must not resolve to the live key
/// whose secret starts with PREFIX (nor revoke it).
#[test]
fn prefix_with_the_wrong_env_does_not_match() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");
    let live = dir.key("acme", "live", &["mcp:search"]);
    let wrong = format!("dw_test_{}", display_prefix(&live));
    let ran = dir.cmd(&["key", "show", &wrong]).run_fail();
    assert_error_line(&ran, &[&wrong]);
    dir.cmd(&["key", "revoke", &wrong]).run_fail();
    verify_ok(&dir, &live, &[]);
}

// ---------------------------------------------------------------------------------------------
// Secrecy
// ---------------------------------------------------------------------------------------------

/// Neither the token nor its blake3 hex appears in any output other than its creation, nor
/// in any file of the data dir.
#[test]
fn token_and_hash_never_leak() {
    let dir = TestDir::new();
    dir.tenant("acme", "pro");
    let a = create_json(&dir, "acme", &["--expires-in", "90d"]);
    let b = create_json(&dir, "acme", &[]);
    let (id_a, token_a) = (s(&a, "id").to_owned(), s(&a, "token").to_owned());
    let (id_b, token_b) = (s(&b, "id").to_owned(), s(&b, "token").to_owned());
    let prefix_a = display_prefix(&token_a).to_owned();

    let mut outputs: Vec<(String, Ran)> = Vec::new();
    let mut run = |label: &str, ran: Ran| outputs.push((label.to_owned(), ran));
    run("list", dir.cmd(&["key", "list"]).run());
    run("list --json", dir.cmd(&["key", "list", "--json"]).run());
    run(
        "list --tenant",
        dir.cmd(&["key", "list", "--tenant", "acme", "--json"])
            .run(),
    );
    run("show", dir.cmd(&["key", "show", &id_a]).run());
    run(
        "show --json",
        dir.cmd(&["key", "show", &prefix_a, "--json"]).run(),
    );
    run("verify", dir.cmd(&["key", "verify"]).stdin(&token_a).run());
    run(
        "verify --json",
        dir.cmd(&["key", "verify", "--json"]).stdin(&token_a).run(),
    );
    run(
        "verify env",
        dir.cmd(&["key", "verify"])
            .env("DOCWARD_API_KEY", &token_b)
            .run(),
    );
    run(
        "verify wrong env",
        dir.cmd(&["key", "verify", "--env", "test", "--json"])
            .stdin(&token_a)
            .run_fail(),
    );
    run(
        "verify bad checksum",
        dir.cmd(&["key", "verify"])
            .stdin(&with_bad_checksum(&token_a))
            .run_fail(),
    );
    let rotated = dir.cmd(&["key", "rotate", &id_a, "--json"]).run();
    let new_token = s(&rotated.json(), "token").to_owned();
    assert_ne!(new_token, token_a);
    run("rotate --json", rotated);
    let rotated_plain = dir.cmd(&["key", "rotate", &id_b]).run();
    let new_token_b = rotated_plain.stdout_line();
    run("rotate", rotated_plain);
    run("revoke", dir.cmd(&["key", "revoke", &id_b]).run());
    run(
        "revoke --json",
        dir.cmd(&["key", "revoke", &format!("dw_live_{prefix_a}"), "--json"])
            .run(),
    );
    run(
        "verify revoked",
        dir.cmd(&["key", "verify", "--json"])
            .stdin(&token_b)
            .run_fail(),
    );
    run("list after", dir.cmd(&["key", "list", "--json"]).run());
    run(
        "show after",
        dir.cmd(&["key", "show", &id_b, "--json"]).run(),
    );

    let secrets: Vec<String> = [&token_a, &token_b]
        .iter()
        .flat_map(|t| {
            [
                t.to_string(),
                t[8..].to_string(),
                blake3::hash(t.as_bytes()).to_hex().to_string(),
            ]
        })
        .collect();
    for (label, ran) in &outputs {
        let all = format!("{}{}", ran.stdout(), ran.stderr());
        for secret in &secrets {
            assert!(
                !all.contains(secret.as_str()),
                "`key {label}` leaks a secret\n{}",
                ran.dump()
            );
        }
        for new in [&new_token, &new_token_b] {
            let hex = blake3::hash(new.as_bytes()).to_hex().to_string();
            assert!(
                !all.contains(&hex),
                "`key {label}` leaks a hash\n{}",
                ran.dump()
            );
        }
    }

    let files = files_under(&dir.data_dir());
    assert!(!files.is_empty(), "the data dir holds the store");
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for token in [&token_a, &token_b, &new_token, &new_token_b] {
            assert!(
                !contains_bytes(&bytes, token.as_bytes()),
                "{} holds a token",
                file.display()
            );
            assert!(
                !contains_bytes(&bytes, &token.as_bytes()[8..]),
                "{} holds a token's secret",
                file.display()
            );
            let hex = blake3::hash(token.as_bytes()).to_hex();
            assert!(
                !contains_bytes(&bytes, hex.as_bytes()),
                "{} holds a hash in hex",
                file.display()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Verify
// ---------------------------------------------------------------------------------------------

/// A valid token is described: tenant, env, type, scopes, expiry and status, in text and JSON,
/// from stdin or from DOCWARD_API_KEY.
#[test]
fn verify_describes_a_valid_key() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");
    let v = dir.key_json(
        "acme",
        "live",
        &[
            "--scope",
            "mcp:search",
            "--scope",
            "mcp:get_doc",
            "--expires-at",
            "2099-03-01T00:00:00Z",
        ],
    );
    let token = s(&v, "token");

    let ran = dir.cmd(&["key", "verify"]).stdin(token).run();
    let text = format!("{}{}", ran.stdout(), ran.stderr());
    for needle in [
        "acme",
        "live",
        "restricted",
        "mcp:search",
        "mcp:get_doc",
        "2099-03-01",
        "active",
        "valid",
    ] {
        assert!(
            text.contains(needle),
            "verify lacks {needle}\n{}",
            ran.dump()
        );
    }

    let verdict = verify_ok(&dir, token, &[]);
    assert!(verdict["error"].is_null(), "{verdict:#}");
    let key = &verdict["key"];
    assert_eq!(key["id"], v["id"]);
    assert_eq!(key["tenant"], "acme");
    assert_eq!(key["env"], "live");
    assert_eq!(key["type"], "restricted");
    assert_eq!(key["status"], "active");
    assert_eq!(ts(s(key, "expires_at")), ts("2099-03-01T00:00:00Z"));
    assert_eq!(key["scopes"].as_array().unwrap().len(), 2);

    // From the environment instead of stdin, and against an explicit matching env.
    let from_env = dir
        .cmd(&["key", "verify", "--json", "--env", "live"])
        .env("DOCWARD_API_KEY", token)
        .run()
        .json();
    assert_eq!(from_env["valid"], true, "{from_env:#}");
    assert_eq!(from_env["key"]["id"], v["id"]);
}

/// Pasted whitespace, newlines and quotes around a token are tolerated, on stdin and in
/// DOCWARD_API_KEY.
#[test]
fn verify_tolerates_pasted_whitespace_and_quotes() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");
    let token = dir.key("acme", "test", &["mcp:search"]);
    for wrapped in [
        format!("{token}\n"),
        format!("  {token}  \n\n"),
        format!("\t{token}\r\n"),
        format!("\"{token}\""),
        format!("'{token}'\n"),
        format!(" \"{token}\"\n"),
    ] {
        verify_ok(&dir, &wrapped, &[]);
        let v = dir
            .cmd(&["key", "verify", "--json"])
            .env("DOCWARD_API_KEY", &wrapped)
            .run()
            .json();
        assert_eq!(v["valid"], true, "env var {wrapped:?}: {v:#}");
    }
}

/// Each refusal code of `key verify`: missing, malformed, bad checksum, unknown, wrong env.
#[test]
fn verify_refusal_codes() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");
    let live = dir.key("acme", "live", &["mcp:search"]);
    let test = dir.key("acme", "test", &["mcp:search"]);

    verify_refused(&dir, "", "missing_key", &[]);
    verify_refused(&dir, "  \n", "missing_key", &[]);
    for malformed in [
        "hello",
        "sk_live_abcdef",
        "dw_prod_0123456789012345678901234567890123456789012345678",
        &live[..live.len() - 10],
        &format!("{live}X"),
        &format!("{}-{}", &live[..20], &live[21..]),
    ] {
        verify_refused(&dir, malformed, "malformed_key", &[]);
    }
    let v = verify_refused(&dir, &with_bad_checksum(&live), "bad_checksum", &[]);
    assert!(
        v["key"].is_null(),
        "a bad checksum is refused before lookup: {v:#}"
    );

    // A well-formed token from another store is unknown here.
    let elsewhere = TestDir::new();
    elsewhere.tenant("acme", "free");
    let foreign = elsewhere.key("acme", "live", &["mcp:search"]);
    let v = verify_refused(&dir, &foreign, "unknown_key", &[]);
    assert!(v["key"].is_null(), "{v:#}");
    assert!(s(&v, "error").contains(display_prefix(&foreign)), "{v:#}");

    let v = verify_refused(&dir, &live, "wrong_env", &["--env", "test"]);
    assert_eq!(
        v["key"]["env"], "live",
        "the refused key is still described: {v:#}"
    );
    verify_refused(&dir, &test, "wrong_env", &["--env", "live"]);

    // The human form exits 1 and names the cause.
    let ran = dir
        .cmd(&["key", "verify"])
        .stdin(&with_bad_checksum(&live))
        .run_fail();
    assert_eq!(ran.code(), Some(1));
    assert!(ran.stderr().contains("checksum"), "{}", ran.dump());
    let ran = dir.cmd(&["key", "verify"]).run_fail();
    assert_eq!(ran.code(), Some(1));
    assert!(
        ran.stderr().contains("missing_key") || ran.stderr().contains("no API key"),
        "{}",
        ran.dump()
    );
}

// ---------------------------------------------------------------------------------------------
// Revocation
// ---------------------------------------------------------------------------------------------

/// Revocation is immediate and final: verify refuses with key_revoked, the listing says
/// revoked, revoking twice is an error and a revoked key cannot be rotated.
#[test]
fn revoke_is_immediate_and_final() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");
    let v = create_json(&dir, "acme", &[]);
    let (id, token) = (s(&v, "id"), s(&v, "token"));
    verify_ok(&dir, token, &[]);

    let prefix = display_prefix(token);
    let ran = dir.cmd(&["key", "revoke", prefix]).run();
    assert!(ran.stdout().contains(id), "{}", ran.dump());
    let refused = verify_refused(&dir, token, "key_revoked", &[]);
    assert_eq!(refused["key"]["status"], "revoked", "{refused:#}");
    let ran = dir.cmd(&["key", "verify"]).stdin(token).run_fail();
    assert!(ran.stderr().contains("revoked"), "{}", ran.dump());

    let entry = listed(&dir, id);
    assert_eq!(entry["status"], "revoked");
    assert!(entry["revoked_at"].is_string(), "{entry:#}");
    assert_eq!(entry["expires_soon"], false);

    let ran = dir.cmd(&["key", "revoke", id]).run_fail();
    assert_error_line(&ran, &["revoked"]);
    let ran = dir.cmd(&["key", "rotate", id]).run_fail();
    assert_error_line(&ran, &["revoked"]);
    assert_eq!(
        list_json(&dir, None).len(),
        1,
        "a refused rotation creates no key"
    );
    verify_refused(&dir, token, "key_revoked", &[]);

    let json = dir
        .cmd(&[
            "key",
            "revoke",
            "--json",
            s(&create_json(&dir, "acme", &[]), "id"),
        ])
        .run()
        .json();
    assert_eq!(json["status"], "revoked", "{json:#}");
    assert!(json["revoked_at"].is_string(), "{json:#}");

    let ran = dir.cmd(&["key", "revoke", "key_nope"]).run_fail();
    assert_error_line(&ran, &["key_nope"]);
}

// ---------------------------------------------------------------------------------------------
// Rotation
// ---------------------------------------------------------------------------------------------

/// Rotation makes a new key with the same tenant, name, env, type and scopes, prints it once,
/// and the old key lives on for the default 24h grace.
#[test]
fn rotate_makes_a_matching_key_with_default_grace() {
    let dir = TestDir::new();
    dir.tenant("acme", "pro");
    let old = dir.key_json(
        "acme",
        "test",
        &[
            "--scope",
            "repo:read",
            "--scope",
            "mcp:list_repos",
            "--expires-in",
            "90d",
        ],
    );
    let (old_id, old_token) = (s(&old, "id"), s(&old, "token"));

    let before = unix_now();
    let ran = dir.cmd(&["key", "rotate", display_prefix(old_token)]).run();
    let new_token = ran.stdout_line();
    assert_eq!(
        ran.stdout(),
        format!("{new_token}\n"),
        "the new token alone on stdout"
    );
    assert_token_shape(&new_token, "test");
    assert_ne!(new_token, old_token);
    assert!(ran.stderr().contains("shown only once"), "{}", ran.dump());
    assert!(ran.stderr().contains("secret manager"), "{}", ran.dump());

    let new_verdict = verify_ok(&dir, &new_token, &[]);
    let new = &new_verdict["key"];
    assert_ne!(new["id"], old["id"]);
    for field in ["tenant", "name", "env", "type", "scopes"] {
        assert_eq!(new[field], old[field], "rotation keeps {field}");
    }
    // The old key still works during the grace period, which defaults to 24 hours.
    verify_ok(&dir, old_token, &[]);
    let old_entry = listed(&dir, old_id);
    assert_eq!(old_entry["status"], "active");
    assert_eq!(old_entry["rotated_to"], new["id"]);
    let grace_end = ts(s(&old_entry, "expires_at"));
    assert!(
        (before + 86_400..=unix_now() + 86_400).contains(&grace_end),
        "old key should end 24h after the rotation: {old_entry:#}"
    );

    // The successor cannot rotate while its predecessor still works (no chains past the
    // plan's cap); ending the grace period lets it.
    let chained = dir
        .cmd(&["key", "rotate", s(new, "id").to_string().as_str()])
        .run_fail();
    assert_error_line(&chained, &[old_id, "docward key revoke"]);
    dir.cmd(&["key", "revoke", old_id]).run();

    // --json prints one object with the new token.
    let json = dir
        .cmd(&["key", "rotate", s(new, "id").to_string().as_str(), "--json"])
        .run()
        .json();
    assert_token_shape(s(&json, "token"), "test");
    assert_eq!(json["name"], "test key");
    assert_eq!(json["tenant"], "acme");
    verify_ok(&dir, s(&json, "token"), &[]);

    let ran = dir.cmd(&["key", "rotate", "key_unknown123"]).run_fail();
    assert_error_line(&ran, &["key_unknown123"]);
}

/// `--grace 0s` ends the old key at once: refused with key_expired mentioning the rotation.
#[test]
fn rotate_with_zero_grace_ends_old_key_now() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");
    let old = create_json(&dir, "acme", &[]);
    let ran = dir
        .cmd(&["key", "rotate", s(&old, "id"), "--grace", "0s", "--json"])
        .run();
    let new = ran.json();
    let v = verify_refused(&dir, s(&old, "token"), "key_expired", &[]);
    let error = s(&v, "error");
    assert!(
        error.contains("rotat"),
        "the refusal mentions the rotation: {v:#}"
    );
    assert!(
        error.contains(s(&new, "id")),
        "the refusal names the new key: {v:#}"
    );
    verify_ok(&dir, s(&new, "token"), &[]);
    let entry = listed(&dir, s(&old, "id"));
    assert_eq!(entry["status"], "expired", "{entry:#}");
    assert_eq!(entry["rotated_to"], new["id"]);
}

/// With a short grace, the old key verifies until it ends and is refused after, mentioning
/// the rotation.
#[test]
fn rotate_grace_period_then_refused() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");
    let old = create_json(&dir, "acme", &[]);
    let new = dir
        .cmd(&["key", "rotate", s(&old, "id"), "--grace", "2s", "--json"])
        .run()
        .json();
    verify_ok(&dir, s(&old, "token"), &[]);
    verify_ok(&dir, s(&new, "token"), &[]);
    let grace_end = ts(s(&listed(&dir, s(&old, "id")), "expires_at"));
    sleep_past(grace_end);
    let v = verify_refused(&dir, s(&old, "token"), "key_expired", &[]);
    assert!(s(&v, "error").contains("rotat"), "{v:#}");
    assert!(s(&v, "error").contains(s(&new, "id")), "{v:#}");
    verify_ok(&dir, s(&new, "token"), &[]);
    assert_eq!(listed(&dir, s(&old, "id"))["status"], "expired");

    let ran = dir
        .cmd(&["key", "rotate", s(&new, "id"), "--grace", "soon"])
        .run_fail();
    assert_error_line(&ran, &["soon"]);
}

// ---------------------------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------------------------

/// A key created with `--expires-in 2s` verifies, then is refused with key_expired and
/// listed as expired.
#[test]
fn key_expires_after_its_lifetime() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");
    let v = create_json(&dir, "acme", &["--expires-in", "2s"]);
    let token = s(&v, "token");
    let verdict = verify_ok(&dir, token, &[]);
    assert_eq!(verdict["key"]["expires_soon"], true, "{verdict:#}");
    sleep_past(ts(s(&v, "expires_at")));
    let refused = verify_refused(&dir, token, "key_expired", &[]);
    assert_eq!(refused["key"]["status"], "expired", "{refused:#}");
    let ran = dir.cmd(&["key", "verify"]).stdin(token).run_fail();
    assert!(ran.stderr().contains("expired"), "{}", ran.dump());
    let entry = listed(&dir, s(&v, "id"));
    assert_eq!(entry["status"], "expired");
    assert_eq!(entry["expires_soon"], false);
    let table = dir.cmd(&["key", "list"]).run().stdout();
    assert!(table.contains("expired"), "{table}");
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Usage errors come from clap; runtime errors are one `docward: error:` line; no panics.
#[test]
fn errors_are_one_clear_line() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");

    let ran = dir.cmd(&["key", "list", "--bogus"]).run_fail();
    assert!(ran.stderr().contains("--bogus"), "{}", ran.dump());
    assert_eq!(
        ran.code(),
        Some(2),
        "clap's usage error code\n{}",
        ran.dump()
    );
    // Bad values for the create flags: each is named in clap's message.
    let create = ["key", "create", "--tenant", "acme", "--name", "x"];
    let bad_flags: [(&[&str], &str); 3] = [
        (&["--env", "prod", "--scope", "mcp:search"], "prod"),
        (&["--env", "live", "--type", "superuser"], "superuser"),
        (
            &[
                "--env",
                "live",
                "--scope",
                "mcp:search",
                "--expires-in",
                "1d",
                "--expires-at",
                "2099-01-01T00:00:00Z",
            ],
            "--expires",
        ),
    ];
    for (extra, named) in bad_flags {
        let args: Vec<&str> = create.iter().chain(extra).copied().collect();
        let ran = dir.cmd(&args).run_fail();
        assert!(ran.stderr().contains(named), "{}", ran.dump());
    }
    let ran = dir
        .cmd(&[
            "key",
            "create",
            "--tenant",
            "nope",
            "--name",
            "x",
            "--env",
            "live",
            "--scope",
            "mcp:search",
        ])
        .run_fail();
    assert_error_line(&ran, &["nope"]);
    for args in [
        &["key", "show", "key_missing"][..],
        &["key", "revoke", "key_missing"],
        &["key", "rotate", "key_missing"],
    ] {
        let ran = dir.cmd(args).run_fail();
        assert_error_line(&ran, &["key_missing"]);
    }
    assert!(list_json(&dir, None).is_empty());
}

/// A data dir that is a regular file is refused with a clear error, by env and by flag.
#[test]
fn data_dir_that_is_a_file_is_refused() {
    let dir = TestDir::new();
    let file = dir.write("not-a-dir", "hello");
    for args in [
        &["tenant", "list"][..],
        &["tenant", "create", "acme", "--plan", "free"],
        &["key", "list"],
        &[
            "key",
            "create",
            "--tenant",
            "acme",
            "--name",
            "x",
            "--env",
            "live",
            "--scope",
            "mcp:search",
        ],
    ] {
        let ran = dir.cmd(args).env("DOCWARD_DATA_DIR", &file).run_fail();
        assert_error_line(&ran, &["not-a-dir"]);
    }
    let mut args = vec!["--data-dir", file.to_str().unwrap(), "key", "list"];
    let ran = dir.cmd(&args).run_fail();
    assert_error_line(&ran, &["not-a-dir"]);
    args.rotate_left(2);
    let ran = dir.cmd(&args).run_fail();
    assert_error_line(&ran, &["not-a-dir"]);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "hello",
        "the file is untouched"
    );
}

/// `--data-dir` on the command line takes precedence over DOCWARD_DATA_DIR.
#[test]
fn data_dir_flag_selects_the_store() {
    let dir = TestDir::new();
    let other = dir.path().join("other");
    let other = other.to_str().unwrap();
    dir.cmd(&[
        "--data-dir",
        other,
        "tenant",
        "create",
        "acme",
        "--plan",
        "free",
    ])
    .run();
    let token = dir
        .cmd(&[
            "key",
            "create",
            "--data-dir",
            other,
            "--tenant",
            "acme",
            "--name",
            "x",
            "--env",
            "live",
            "--scope",
            "mcp:search",
        ])
        .run()
        .stdout_line();
    let v = dir
        .cmd(&["key", "verify", "--json", "--data-dir", other])
        .stdin(&token)
        .run()
        .json();
    assert_eq!(v["valid"], true);
    // The env's data dir knows nothing of it.
    verify_refused(&dir, &token, "unknown_key", &[]);
}

// ---------------------------------------------------------------------------------------------
// Durability
// ---------------------------------------------------------------------------------------------

/// Keys (and tenants) are durable as soon as the command prints: SIGKILL right after the
/// token line, then a fresh process verifies the key.
#[test]
fn created_keys_survive_kill_9() {
    let dir = TestDir::new();
    let line = first_line_then_kill(spawn_docward(
        &dir,
        &["tenant", "create", "acme", "--plan", "enterprise"],
    ));
    assert!(line.contains("acme"), "tenant create printed: {line:?}");
    let mut tokens = Vec::new();
    for i in 0..5 {
        let name = format!("crash {i}");
        let env = if i % 2 == 0 { "live" } else { "test" };
        let child = spawn_docward(
            &dir,
            &[
                "key",
                "create",
                "--tenant",
                "acme",
                "--name",
                &name,
                "--env",
                env,
                "--scope",
                "mcp:search",
            ],
        );
        let token = first_line_then_kill(child);
        assert_token_shape(&token, env);
        verify_ok(&dir, &token, &[]);
        tokens.push(token);
    }
    for token in &tokens {
        verify_ok(&dir, token, &[]);
    }
    assert_eq!(list_json(&dir, Some("acme")).len(), 5);
}

/// Revocation is durable as soon as the command prints: SIGKILL right after its output line.
#[test]
fn revocation_survives_kill_9() {
    let dir = TestDir::new();
    dir.tenant("acme", "pro");
    for _ in 0..3 {
        let v = create_json(&dir, "acme", &[]);
        let line = first_line_then_kill(spawn_docward(&dir, &["key", "revoke", s(&v, "id")]));
        assert!(line.contains(s(&v, "id")), "revoke printed: {line:?}");
        verify_refused(&dir, s(&v, "token"), "key_revoked", &[]);
    }
    let v = create_json(&dir, "acme", &[]);
    let token = first_line_then_kill(spawn_docward(
        &dir,
        &["key", "rotate", s(&v, "id"), "--grace", "0s"],
    ));
    assert_token_shape(&token, "live");
    verify_ok(&dir, &token, &[]);
    verify_refused(&dir, s(&v, "token"), "key_expired", &[]);
}
