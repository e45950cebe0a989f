//! End-to-end benchmark of the real `docward` binary speaking MCP over stdio.
//!
//! What it compares (targets in brackets):
//!
//! 1. **Startup** [p50 < 50 ms]: wall time from spawning `docward serve --stdio --env test`
//!    (with `DOCWARD_API_KEY` and `DOCWARD_DATA_DIR` set) to reading the JSON-RPC answer to
//!    `initialize` on its stdout. One discarded warm-up run, then 30 timed runs, each on a
//!    fresh process that exits (stdin closed) before the next starts. Printed: p50/p99/max.
//! 2. **Peak RSS while serving** [VmHWM < 100 MB]: one stdio server on a data dir holding the
//!    whole indexed corpus; after `initialize` + `notifications/initialized` it answers 1,000
//!    sequential `tools/call` requests (about 5 in 6 `search` with varied queries and `limit`
//!    5..20, the rest `get_doc` of a path a previous search returned). Printed: VmHWM (peak
//!    RSS) and VmRSS (split into anonymous and file-backed, i.e. mmapped index pages) from
//!    `/proc/<pid>/status` before and after the loop, and the per-call round-trip latency
//!    over stdio (write request -> read its answer), p50/p99/max, overall and per tool.
//!
//! Setup, outside anything timed (the indexing wall time is printed for reference only):
//! a temp data dir; `docward tenant create bench --plan enterprise`; `docward repo add` for
//! every top-level folder of `$DOCWARD_CORPUS` (default `../shared/corpus` next to the crate),
//! or of the project's own `docs/` folder if the corpus is missing; `docward key create ...
//! --type unrestricted`. The server runs with `--burst 100000` so the loop is never rate
//! limited.
//!
//! Run: `cargo bench --bench serve` (Linux: reads `/proc`). `DOCWARD_BENCH_CALLS=N` changes the
//! number of calls of the serving loop.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_docward");
const STARTUP_RUNS: usize = 30;
const CALLS: usize = 1_000;
/// Every `GET_DOC_EVERY`-th call is a `get_doc`.
const GET_DOC_EVERY: usize = 6;

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// Queries of the kind an assistant sends: keywords and short questions over the six corpus
/// repos (and a few that match little or nothing).
const QUERIES: [&str; 48] = [
    "how do I make release builds smaller",
    "cargo workspace dependencies inheritance",
    "build script rerun-if-changed",
    "publish crate to crates.io token",
    "feature flags optional dependencies",
    "cargo test run a single test",
    "CARGO_HOME environment variable",
    "lockfile Cargo.lock commit library",
    "profile.dev opt-level debug",
    "semver compatible version requirement caret",
    "borrow checker mutable reference error",
    "lifetimes in function signatures",
    "pattern matching match guard",
    "shared state Arc Mutex across threads",
    "trait objects dyn dispatch",
    "how do I read a file into a string",
    "closures capture environment move",
    "iterator adapters map filter collect",
    "Result question mark operator error propagation",
    "smart pointers Box recursive type",
    "tokio::spawn JoinHandle",
    "graceful shutdown signal",
    "select! macro cancel branch",
    "channels mpsc oneshot broadcast",
    "async fn in trait",
    "framing bytes read_frame",
    "configure opentelemetry collector exporter",
    "context propagation http headers",
    "sampling traces tail based",
    "span attributes semantic conventions",
    "otlp exporter endpoint environment variable",
    "metrics histogram instrument",
    "MCP tool call json schema",
    "resources subscribe notifications",
    "authorization oauth protected resource metadata",
    "streamable http transport session id",
    "how does the client list prompts",
    "sampling createMessage request",
    "Get-ChildItem recurse filter",
    "powershell remoting ssh",
    "execution policy RemoteSigned",
    "how to write a function with parameters in powershell",
    "Invoke-RestMethod json body",
    "about_Splatting hashtable",
    "ForEach-Object parallel throttle limit",
    "error handling try catch finally",
    "zzqx nonexistent term",
    "the",
];

fn main() {
    let data = tempfile::tempdir().expect("temp data dir");
    let data_dir = data.path();
    let token = setup(data_dir);

    startup(data_dir, &token);
    serving(data_dir, &token);
}

// ---------------------------------------------------------------------------------------
// Setup

/// Runs the docward CLI on `data_dir` and returns its stdout; panics on failure.
fn cli(data_dir: &Path, args: &[&str]) -> String {
    let mut command = Command::new(BIN);
    command.env("DOCWARD_DATA_DIR", data_dir);
    common::run_cli(command, args)
}

/// The `(name, folder)` repos to index: each top-level folder of the corpus, or the project's
/// `docs/` folder as one repo.
fn repos() -> Vec<(String, PathBuf)> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(corpus) = common::corpus_dir() {
        let out = common::corpus_repos(&corpus);
        println!("corpus: {} ({} repos)", corpus.display(), out.len());
        return out;
    }
    let docs = manifest.join("docs");
    assert!(
        docs.is_dir(),
        "neither the corpus nor {} exists",
        docs.display()
    );
    println!("corpus not found; indexing {} instead", docs.display());
    vec![("docward".to_string(), docs)]
}

/// Creates the tenant, indexes the repos, and returns an unrestricted test key.
fn setup(data_dir: &Path) -> String {
    cli(
        data_dir,
        &["tenant", "create", "bench", "--plan", "enterprise"],
    );
    let started = Instant::now();
    for (name, path) in repos() {
        let t = Instant::now();
        let path = path.to_str().expect("utf-8 corpus path");
        cli(
            data_dir,
            &[
                "repo", "add", path, "--tenant", "bench", "--env", "test", "--name", &name,
            ],
        );
        println!("  indexed {name:<24} {:>7.2} s", t.elapsed().as_secs_f64());
    }
    println!(
        "setup: indexing (docward repo add, wall time) {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let out = cli(
        data_dir,
        &[
            "key",
            "create",
            "--tenant",
            "bench",
            "--name",
            "bench",
            "--env",
            "test",
            "--type",
            "unrestricted",
        ],
    );
    let token = out.trim().to_string();
    assert!(!token.is_empty(), "key create printed no token");
    token
}

// ---------------------------------------------------------------------------------------
// A stdio server

struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    line: String,
}

impl Server {
    fn spawn(data_dir: &Path, token: &str) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--stdio", "--env", "test", "--burst", "100000"])
            .env("DOCWARD_DATA_DIR", data_dir)
            .env("DOCWARD_API_KEY", token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn docward serve");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Server {
            child,
            stdin,
            stdout,
            line: String::new(),
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line.as_bytes()).expect("write request");
        stdin.write_all(b"\n").expect("write newline");
        stdin.flush().expect("flush request");
    }

    /// The next line on stdout, as text.
    fn read_line(&mut self) -> &str {
        self.line.clear();
        let n = self.stdout.read_line(&mut self.line).expect("read stdout");
        assert!(n > 0, "server closed stdout");
        &self.line
    }

    /// Reads lines until the answer with this id (skipping notifications).
    fn answer(&mut self, id: u64) -> Value {
        loop {
            let v: Value = serde_json::from_str(self.read_line()).expect("JSON-RPC line");
            if v.get("id").and_then(Value::as_u64) == Some(id) {
                return v;
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes stdin and waits for the process to exit.
    fn close(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait for server");
        assert!(status.success(), "server exited with {status}");
    }
}

// ---------------------------------------------------------------------------------------
// Measurements

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `p`-th percentile (nearest rank, lower) of sorted durations.
fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn summary(label: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{label} (n={}): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        times.len(),
        ms(pct(&times, 0.50)),
        ms(pct(&times, 0.99)),
        ms(pct(&times, 1.0)),
    );
}

fn startup(data_dir: &Path, token: &str) {
    let mut times = Vec::with_capacity(STARTUP_RUNS);
    for run in 0..=STARTUP_RUNS {
        let started = Instant::now();
        let mut server = Server::spawn(data_dir, token);
        server.send(INITIALIZE);
        let first = server.read_line();
        let elapsed = started.elapsed();
        let v: Value = serde_json::from_str(first).expect("initialize answer is JSON");
        assert!(
            v.get("result").is_some(),
            "initialize failed: {}",
            first.trim()
        );
        server.close();
        if run > 0 {
            times.push(elapsed);
        }
    }
    summary("startup: spawn -> initialize answer", times);
}

/// Memory of a process from `/proc/<pid>/status`, in kB.
struct Memory {
    /// Peak resident set size.
    hwm: u64,
    /// Resident set size now.
    rss: u64,
    /// Of which anonymous (heap, stacks).
    anon: u64,
    /// Of which file-backed (the binary, mmapped index files).
    file: u64,
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VmHWM {:.1} MB (peak RSS), VmRSS {:.1} MB (anon {:.1} MB, file {:.1} MB)",
            mb(self.hwm),
            mb(self.rss),
            mb(self.anon),
            mb(self.file)
        )
    }
}

fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /proc/{pid}/status"))
    };
    Memory {
        hwm: field("VmHWM:"),
        rss: field("VmRSS:"),
        anon: field("RssAnon:"),
        file: field("RssFile:"),
    }
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn serving(data_dir: &Path, token: &str) {
    let mut server = Server::spawn(data_dir, token);
    server.send(INITIALIZE);
    let init = server.answer(1);
    assert!(init.get("result").is_some(), "initialize failed: {init}");
    server.send(INITIALIZED);
    let before = memory(server.pid());

    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rand = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut paths: Vec<(String, String)> = Vec::new();
    let calls = std::env::var("DOCWARD_BENCH_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CALLS);
    let mut search_times = Vec::with_capacity(calls);
    let mut get_doc_times = Vec::new();
    let mut tool_errors = 0usize;
    let mut hits_total = 0usize;
    let mut answer_bytes = 0usize;
    for i in 0..calls {
        let id = 2 + i as u64;
        let get_doc = i % GET_DOC_EVERY == GET_DOC_EVERY - 1 && !paths.is_empty();
        let params = if get_doc {
            let (repo, path) = &paths[rand(paths.len())];
            json!({ "name": "get_doc", "arguments": { "repo": repo, "path": path } })
        } else {
            let query = QUERIES[rand(QUERIES.len())];
            let limit = 5 + rand(16);
            json!({ "name": "search", "arguments": { "query": query, "limit": limit } })
        };
        let request =
            json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params })
                .to_string();
        let t = Instant::now();
        server.send(&request);
        let answer = server.answer(id);
        let elapsed = t.elapsed();
        answer_bytes += server.line.len();
        let result = answer
            .get("result")
            .unwrap_or_else(|| panic!("tools/call {id} failed: {answer}"));
        if result.get("isError").and_then(Value::as_bool) == Some(true) {
            tool_errors += 1;
        }
        if get_doc {
            get_doc_times.push(elapsed);
        } else {
            search_times.push(elapsed);
            let hits = result
                .pointer("/structuredContent/results")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            hits_total += hits.len();
            for hit in hits {
                if let (Some(repo), Some(path)) = (hit["repo"].as_str(), hit["path"].as_str())
                    && paths.len() < 2_000
                {
                    paths.push((repo.to_string(), path.to_string()));
                }
            }
        }
    }
    let after = memory(server.pid());
    server.close();

    println!(
        "serving: {calls} tools/call ({} search, {} get_doc), {hits_total} search hits, \
         {tool_errors} tool errors, {:.1} MB of answers",
        search_times.len(),
        get_doc_times.len(),
        answer_bytes as f64 / 1e6
    );
    println!("memory after initialize: {before}");
    println!("memory after {calls} calls: {after}");
    let all: Vec<Duration> = search_times.iter().chain(&get_doc_times).copied().collect();
    summary("stdio round trip, all calls", all);
    summary("stdio round trip, search", search_times);
    summary("stdio round trip, get_doc", get_doc_times);
}
