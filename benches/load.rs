//! Load test of `docward serve --http`: authenticated MCP `search` calls over streamable HTTP,
//! from many concurrent clients, against the real release binary on loopback.
//!
//! What it measures, per run: throughput (completed calls per second of wall time), per-call
//! latency (send the POST -> whole SSE-framed answer read) p50/p99/max, the responses counted by
//! HTTP status (and refusal code), and the CPU time each process spent per call (from
//! `/proc/<pid>/stat`: the HTTP server, the store's owner when there is one, and this client).
//! Target: >= 5,000 calls/s with p99 < 20 ms. Client and server share the same cores (the
//! machine this was written for has 2), so the client's own CPU is part of the budget.
//!
//! Every call is a full `tools/call` of `search` (varied queries, `limit` 5) with its own
//! `Authorization: Bearer` key, so each passes the whole gate: key lookup, tenant lookup,
//! last-used touch, scope, burst limit, daily-quota charge, then the BM25 search.
//!
//! Scenarios (each on a fresh temp data dir, set up with the CLI outside anything timed):
//!
//! - **A, one process**: the project's own `docs/` indexed (small index), 4 unrestricted test
//!   keys of one enterprise tenant, one `serve --http 127.0.0.1:0 --env test --burst 1000000`
//!   that owns the store. C = 1 (reference), 16, 32 and 64 workers, each with its own session
//!   and key (round-robin over the 4 keys), sending calls back to back. Then a breakdown at
//!   C = 32: `tools/list` (auth only: no quota, no search) and `tools/call list_repos` (auth +
//!   quota, no search), to split the cost of a call.
//! - **B, through the owner**: the same, but a `serve --stdio` process (stdin held open,
//!   `DOCWARD_API_KEY` set) opens the store first, so the HTTP server is a store client and every
//!   store operation of the gate crosses the owner's Unix socket.
//! - **C, daily quota**: an enterprise tenant with `--daily-limit 1000`, a live key, a
//!   `--env live` server; 1,500 calls from 16 workers. Exactly 1,000 must be 200 (with
//!   `ratelimit-remaining` values 999..0, each once) and 500 must be `quota_exceeded` tool results; the
//!   usage CLI must then report 1,000 live calls.
//! - **Corpus** (only if `$DOCWARD_CORPUS`, default `../shared/corpus` next to the crate,
//!   exists): scenario A with every top-level corpus folder indexed as a repo, C = 32.
//!
//! Bounds: loopback only; each measured run stops after 60,000 calls or 20 s, whichever comes
//! first (the breakdown runs: 30,000 or 10 s), after a warm-up of up to 2,000 calls (2 s). Any response other than a successful 200
//! (or the intended quota refusals of scenario C) is counted and reported as an error.
//!
//! Run: `cargo bench --bench load` (Linux: reads `/proc`). `DOCWARD_LOAD_ONLY=a,b,c,corpus`
//! runs a subset; `LD_PRELOAD`, if set, is passed on to the docward processes (for experiments),
//! and so are `DOCWARD_MODEL_DIR` (hybrid search under load) and `DOCWARD_NO_EMBEDDINGS`.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_docward");

/// The binary under load: this build's, or `DOCWARD_BENCH_BIN` (another build, to compare old
/// and new code in one run on the same machine).
fn bin() -> std::path::PathBuf {
    std::env::var_os("DOCWARD_BENCH_BIN").map_or_else(|| BIN.into(), Into::into)
}
/// Calls per measured run, at most.
const MAX_CALLS: u64 = 60_000;
/// Wall time per measured run, at most.
const MAX_TIME: Duration = Duration::from_secs(20);
/// Warm-up before each measured run (discarded).
const WARMUP_CALLS: u64 = 2_000;
const WARMUP_TIME: Duration = Duration::from_secs(2);
/// Concurrency levels of scenarios A and B.
const CONCURRENCY: [usize; 4] = [1, 16, 32, 64];
/// Keys of the tenant, shared round-robin by the workers.
const KEYS: usize = 4;
/// Targets.
const TARGET_RATE: f64 = 5_000.0;
const TARGET_P99_MS: f64 = 20.0;

/// Queries: words of the project's docs and of the corpus, a few that match nothing.
const QUERIES: [&str; 40] = [
    "revoke a key",
    "rotate key grace period",
    "daily quota live requests",
    "enterprise plan limits",
    "burst limit per second",
    "store owner unix socket",
    "streamable http session",
    "bearer token authorization header",
    "index a repository",
    "docwardignore files",
    "claude desktop config",
    "cursor mcp server",
    "getting started quickstart",
    "search snippets highlighted",
    "get_doc section",
    "tenant create",
    "key scopes mcp:search",
    "usage report json",
    "security tokens hashed blake3",
    "architecture gate",
    "how do I make release builds smaller",
    "cargo workspace dependencies",
    "build script rerun-if-changed",
    "feature flags optional dependencies",
    "borrow checker mutable reference",
    "lifetimes in function signatures",
    "shared state Arc Mutex across threads",
    "trait objects dyn dispatch",
    "tokio::spawn JoinHandle",
    "graceful shutdown signal",
    "select! macro cancel branch",
    "channels mpsc oneshot",
    "opentelemetry collector exporter",
    "context propagation http headers",
    "MCP tool call json schema",
    "authorization oauth protected resource metadata",
    "Get-ChildItem recurse filter",
    "Invoke-RestMethod json body",
    "zzqx nonexistent term",
    "the",
];

fn main() {
    let only = std::env::var("DOCWARD_LOAD_ONLY")
        .unwrap_or_else(|_| "a,b,c,corpus".into())
        .to_lowercase();
    let wants = |s: &str| only.split(',').any(|o| o.trim() == s);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("docward HTTP load test: {cores} cores, client and server on this machine (loopback)");
    println!(
        "bounds per run: {MAX_CALLS} calls or {} s; target >= {TARGET_RATE} calls/s, p99 < {TARGET_P99_MS} ms",
        MAX_TIME.as_secs()
    );
    let mut report = Report::default();
    if wants("a") {
        runtime.block_on(scenario_search(
            &mut report,
            "A one process",
            Corpus::Docs,
            false,
        ));
    }
    if wants("b") {
        runtime.block_on(scenario_search(
            &mut report,
            "B via owner",
            Corpus::Docs,
            true,
        ));
    }
    if wants("c") {
        runtime.block_on(scenario_quota(&mut report));
    }
    if wants("corpus") {
        match common::corpus_dir() {
            Some(dir) => runtime.block_on(scenario_search(
                &mut report,
                "A corpus",
                Corpus::Full(dir),
                false,
            )),
            None => println!("\ncorpus not found: skipping the corpus run"),
        }
    }
    report.print();
    if !report.failures.is_empty() {
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios

enum Corpus {
    Docs,
    Full(PathBuf),
}

async fn scenario_search(report: &mut Report, name: &str, corpus: Corpus, via_owner: bool) {
    println!("\n== {name}");
    let data = DataDir::new();
    data.cli(&["tenant", "create", "bench", "--plan", "enterprise"]);
    let started = Instant::now();
    let full = matches!(corpus, Corpus::Full(_));
    let (mut documents, mut sections) = (0u64, 0u64);
    for (repo, folder) in repos(&corpus) {
        let out = data.cli(&[
            "repo",
            "add",
            folder.to_str().expect("utf-8 path"),
            "--tenant",
            "bench",
            "--env",
            "test",
            "--name",
            &repo,
        ]);
        // "Indexed repo 'x' ...: N documents, M sections (...)"
        let count = |unit: &str| {
            out.split(unit)
                .next()
                .and_then(|head| head.split_whitespace().last()?.parse::<u64>().ok())
                .unwrap_or(0)
        };
        documents += count(" documents");
        sections += count(" sections");
    }
    println!(
        "setup: indexed {documents} documents, {sections} sections in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let keys: Vec<String> = (0..KEYS)
        .map(|i| data.key("bench", "test", &format!("k{i}")))
        .collect();
    let owner = via_owner.then(|| Owner::start(&data, &keys[0]));
    let server = Server::start(&data, "test", "1000000", "server");
    let target = Target::new(&server);
    let mut pids = vec![("server", server.pid())];
    if let Some(owner) = &owner {
        pids.push(("owner", owner.pid()));
    }
    let levels: &[usize] = if full { &[32] } else { &CONCURRENCY };
    for &c in levels {
        let run = target
            .measure(&keys, c, Op::Search, MAX_CALLS, MAX_TIME, &pids)
            .await;
        report.add(name, "search", c, &run, true);
    }
    if !full {
        for op in [Op::ToolsList, Op::ListRepos] {
            let run = target
                .measure(&keys, 32, op, MAX_CALLS / 2, MAX_TIME / 2, &pids)
                .await;
            report.add(name, op.label(), 32, &run, false);
        }
    }
    server.check_log(report, name, 0..=0);
    if let Some(owner) = &owner
        && !owner.alive()
    {
        report.fail(format!("{name}: the store's owner exited during the run"));
    }
}

async fn scenario_quota(report: &mut Report) {
    let name = "C daily quota";
    println!("\n== {name}");
    let data = DataDir::new();
    data.cli(&[
        "tenant",
        "create",
        "quota",
        "--plan",
        "enterprise",
        "--daily-limit",
        "1000",
    ]);
    for (repo, folder) in repos(&Corpus::Docs) {
        let folder = folder.to_str().expect("utf-8 path");
        data.cli(&[
            "repo", "add", folder, "--tenant", "quota", "--env", "live", "--name", &repo,
        ]);
    }
    let key = data.key("quota", "live", "live");
    let server = Server::start(&data, "live", "1000000", "server");
    let target = Target::new(&server);
    let pids = [("server", server.pid())];
    let run = target
        .run(
            &[key],
            16,
            Op::Search,
            1_500,
            Duration::from_secs(60),
            &pids,
        )
        .await;
    report.add(name, "search", 16, &run, false);
    let quota = run.codes.get("200 quota_exceeded").copied().unwrap_or(0);
    let ok = run.statuses.get(&200).copied().unwrap_or(0) - quota;
    let mut remaining = run.remaining.clone();
    remaining.sort_unstable();
    let expected: Vec<u64> = (0..1_000).collect();
    println!(
        "quota: {ok} x 200, {quota} x quota_exceeded tool results, other {}",
        run.calls - ok - quota
    );
    if ok != 1_000 || quota != 500 || run.calls != 1_500 {
        report.fail(format!(
            "{name}: expected 1000 x 200 and 500 quota_exceeded tool results, got {:?} {:?}",
            run.statuses, run.codes
        ));
    }
    if remaining != expected {
        let dupes = remaining.windows(2).filter(|w| w[0] == w[1]).count();
        report.fail(format!(
            "{name}: ratelimit-remaining of the 200s is not 999..0 once each ({} values, {dupes} repeated)",
            remaining.len()
        ));
    }
    let usage = data.cli(&["usage", "--tenant", "quota", "--json"]);
    let usage: Value = serde_json::from_str(&usage).expect("usage --json");
    let live = usage.pointer("/today/0/live_calls").and_then(Value::as_u64);
    println!("quota: usage --json reports live_calls = {live:?}");
    if live != Some(1_000) {
        report.fail(format!(
            "{name}: usage reports {live:?} live calls, expected 1000"
        ));
    }
    // 500 refusals, logged within the per-code budget (20 lines per 10 s).
    server.check_log(report, name, 1..=500);
}

// ---------------------------------------------------------------------------------------
// Load generation

#[derive(Clone, Copy)]
enum Op {
    Search,
    ToolsList,
    ListRepos,
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Op::Search => "search",
            Op::ToolsList => "tools/list",
            Op::ListRepos => "list_repos",
        }
    }

    /// The bodies after `{"jsonrpc":"2.0","id":`, one per variant, built once.
    fn suffixes(self) -> Vec<Vec<u8>> {
        let tail = |method: &str, params: Value| {
            format!(r#","method":"{method}","params":{params}}}"#).into_bytes()
        };
        match self {
            Op::Search => QUERIES
                .iter()
                .map(|q| {
                    let params = serde_json::json!({
                        "name": "search", "arguments": { "query": q, "limit": 5 }
                    });
                    tail("tools/call", params)
                })
                .collect(),
            Op::ToolsList => vec![tail("tools/list", serde_json::json!({}))],
            Op::ListRepos => vec![tail(
                "tools/call",
                serde_json::json!({ "name": "list_repos", "arguments": {} }),
            )],
        }
    }
}

/// The HTTP server under load and the one client used for every request.
struct Target {
    url: String,
    client: reqwest::Client,
}

/// One worker's session: its headers (key, session id) for every request.
struct Session {
    headers: HeaderMap,
}

/// What one run saw.
#[derive(Default)]
struct Run {
    calls: u64,
    elapsed: Duration,
    /// Microseconds, sorted.
    latencies: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    /// Non-200 responses by "status code".
    codes: BTreeMap<String, u64>,
    /// 200s whose JSON-RPC answer is an error or an `isError` result.
    bad_200: u64,
    transport_errors: u64,
    first_error: Option<String>,
    /// `ratelimit-remaining` of each 200 that had one.
    remaining: Vec<u64>,
    /// CPU seconds per process during the run.
    cpu: Vec<(&'static str, f64)>,
    /// CPU seconds the whole machine was busy during the run (all processes, all cores).
    machine_busy: f64,
}

/// One worker's tallies, merged into the run.
#[derive(Default)]
struct Tally {
    latencies: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    codes: BTreeMap<String, u64>,
    bad_200: u64,
    transport_errors: u64,
    first_error: Option<String>,
    remaining: Vec<u64>,
}

impl Target {
    fn new(server: &Server) -> Target {
        // docward's webhook client turns on reqwest's rustls without a provider (see tests/e2e/util.rs).
        docward::reminders::tls::install_provider();
        let client = reqwest::Client::builder()
            .http1_only()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(512)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client");
        Target {
            url: format!("{}/mcp", server.base),
            client,
        }
    }

    /// Warm-up, then a measured run.
    async fn measure(
        &self,
        keys: &[String],
        workers: usize,
        op: Op,
        max_calls: u64,
        max_time: Duration,
        pids: &[(&'static str, u32)],
    ) -> Run {
        let warm = self
            .run(keys, workers, op, WARMUP_CALLS, WARMUP_TIME, &[])
            .await;
        if warm.transport_errors > 0 || warm.statuses.keys().any(|s| *s != 200) {
            println!(
                "  warm-up saw errors: {:?} {:?} {:?}",
                warm.statuses, warm.codes, warm.first_error
            );
        }
        self.run(keys, workers, op, max_calls, max_time, pids).await
    }

    /// Opens `workers` sessions (key i mod keys), runs `op` back to back from each until
    /// `max_calls` calls were sent or `max_time` passed, then closes the sessions.
    async fn run(
        &self,
        keys: &[String],
        workers: usize,
        op: Op,
        max_calls: u64,
        max_time: Duration,
        pids: &[(&'static str, u32)],
    ) -> Run {
        let mut sessions = Vec::with_capacity(workers);
        for i in 0..workers {
            sessions.push(self.open_session(&keys[i % keys.len()]).await);
        }
        let suffixes = Arc::new(op.suffixes());
        let next = Arc::new(AtomicU64::new(0));
        let cpu_before: Vec<f64> = pids
            .iter()
            .map(|(_, p)| cpu_seconds(&p.to_string()))
            .collect();
        let client_before = cpu_seconds("self");
        let machine_before = machine_busy_seconds();
        let started = Instant::now();
        let deadline = started + max_time;
        let mut handles = Vec::with_capacity(workers);
        for session in &sessions {
            let client = self.client.clone();
            let url = self.url.clone();
            let headers = session.headers.clone();
            let suffixes = Arc::clone(&suffixes);
            let next = Arc::clone(&next);
            handles.push(tokio::spawn(async move {
                worker(client, url, headers, suffixes, next, max_calls, deadline).await
            }));
        }
        let mut run = Run::default();
        for handle in handles {
            let tally = handle.await.expect("worker panicked");
            run.latencies.extend(tally.latencies);
            for (s, n) in tally.statuses {
                *run.statuses.entry(s).or_default() += n;
            }
            for (c, n) in tally.codes {
                *run.codes.entry(c).or_default() += n;
            }
            run.bad_200 += tally.bad_200;
            run.transport_errors += tally.transport_errors;
            run.first_error = run.first_error.or(tally.first_error);
            run.remaining.extend(tally.remaining);
        }
        run.elapsed = started.elapsed();
        run.machine_busy = machine_busy_seconds() - machine_before;
        run.cpu = pids
            .iter()
            .zip(&cpu_before)
            .map(|((name, pid), before)| (*name, cpu_seconds(&pid.to_string()) - before))
            .collect();
        if !pids.is_empty() {
            run.cpu
                .push(("client", cpu_seconds("self") - client_before));
        }
        run.calls = run.latencies.len() as u64 + run.transport_errors;
        run.latencies.sort_unstable();
        for session in sessions {
            let _ = self
                .client
                .delete(&self.url)
                .headers(session.headers)
                .send()
                .await;
        }
        run
    }

    /// `initialize` + `notifications/initialized`, by raw HTTP.
    async fn open_session(&self, key: &str) -> Session {
        let mut headers = HeaderMap::new();
        let set = |h: &mut HeaderMap, name: &'static str, value: &str| {
            h.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).expect("header value"),
            );
        };
        set(&mut headers, "authorization", &format!("Bearer {key}"));
        set(&mut headers, "content-type", "application/json");
        set(
            &mut headers,
            "accept",
            "application/json, text/event-stream",
        );
        let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"docward-load","version":"0"}}}"#;
        let response = self
            .client
            .post(&self.url)
            .headers(headers.clone())
            .body(init)
            .send()
            .await
            .expect("initialize");
        assert_eq!(response.status(), 200, "initialize refused");
        let id = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .expect("mcp-session-id header")
            .to_owned();
        let _ = response.bytes().await;
        set(&mut headers, "mcp-session-id", &id);
        set(&mut headers, "mcp-protocol-version", "2025-06-18");
        let ack = self
            .client
            .post(&self.url)
            .headers(headers.clone())
            .body(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .send()
            .await
            .expect("notifications/initialized");
        assert!(ack.status().is_success(), "initialized: {}", ack.status());
        let _ = ack.bytes().await;
        Session { headers }
    }
}

/// One worker: takes call numbers from `next` and sends them back to back.
async fn worker(
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    suffixes: Arc<Vec<Vec<u8>>>,
    next: Arc<AtomicU64>,
    max_calls: u64,
    deadline: Instant,
) -> Tally {
    const PREFIX: &[u8] = br#"{"jsonrpc":"2.0","id":"#;
    let mut tally = Tally {
        latencies: Vec::with_capacity(4_096),
        ..Tally::default()
    };
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= max_calls || Instant::now() >= deadline {
            return tally;
        }
        let suffix = &suffixes[n as usize % suffixes.len()];
        let mut body = Vec::with_capacity(PREFIX.len() + 20 + suffix.len());
        body.extend_from_slice(PREFIX);
        body.extend_from_slice((n + 1).to_string().as_bytes());
        body.extend_from_slice(suffix);
        let sent = Instant::now();
        let outcome = async {
            let response = client
                .post(&url)
                .headers(headers.clone())
                .body(body)
                .send()
                .await?;
            let status = response.status().as_u16();
            let remaining = response
                .headers()
                .get("ratelimit-remaining")
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, remaining, bytes))
        }
        .await;
        let latency = sent.elapsed();
        match outcome {
            Err(e) => {
                tally.transport_errors += 1;
                tally.first_error.get_or_insert_with(|| e.to_string());
            }
            Ok((status, remaining, bytes)) => {
                tally
                    .latencies
                    .push(latency.as_micros().min(u32::MAX as u128) as u32);
                *tally.statuses.entry(status).or_default() += 1;
                if status == 200 && contains(&bytes, b"\"code\":\"quota_exceeded\"") {
                    // A quota refusal is a tool result (docs/http.md).
                    *tally.codes.entry("200 quota_exceeded".into()).or_default() += 1;
                } else if status == 200 {
                    tally.remaining.extend(remaining);
                    if !contains(&bytes, b"\"result\":") || contains(&bytes, b"\"isError\":true") {
                        tally.bad_200 += 1;
                        tally.first_error.get_or_insert_with(|| {
                            String::from_utf8_lossy(&bytes[..bytes.len().min(400)]).into_owned()
                        });
                    }
                } else {
                    let code = serde_json::from_slice::<Value>(&bytes)
                        .ok()
                        .and_then(|v| v.pointer("/error/data/code")?.as_str().map(str::to_owned))
                        .unwrap_or_else(|| "?".into());
                    *tally.codes.entry(format!("{status} {code}")).or_default() += 1;
                    if status != 429 {
                        tally.first_error.get_or_insert_with(|| {
                            format!("{status}: {}", String::from_utf8_lossy(&bytes))
                        });
                    }
                }
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// User + system CPU seconds of a process so far (`pid` or `self`), from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(14) + ticks(15)) / clock_ticks()
}

/// CPU seconds the machine spent busy so far (all cores), from `/proc/stat`.
fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
    let total: f64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0.0) + fields.get(4).copied().unwrap_or(0.0);
    (total - idle) / clock_ticks()
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

// ---------------------------------------------------------------------------------------
// Processes and data

/// A temp data dir and the CLI run on it.
struct DataDir {
    tmp: tempfile::TempDir,
}

impl DataDir {
    fn new() -> DataDir {
        DataDir {
            tmp: tempfile::Builder::new()
                .prefix("docward-load-")
                .tempdir()
                .expect("temp dir"),
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(bin());
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.tmp.path())
            .env("DOCWARD_DATA_DIR", self.data_dir())
            .current_dir(self.tmp.path());
        // Kept for experiments, e.g. a shim that sets socket options on the server's sockets.
        if let Some(preload) = std::env::var_os("LD_PRELOAD") {
            cmd.env("LD_PRELOAD", preload);
        }
        // Hybrid search under load: the embedding model's folder, or lexical only.
        for name in ["DOCWARD_MODEL_DIR", "DOCWARD_NO_EMBEDDINGS"] {
            if let Some(value) = std::env::var_os(name) {
                cmd.env(name, value);
            }
        }
        cmd
    }

    /// Runs the CLI and returns its stdout; panics on failure.
    fn cli(&self, args: &[&str]) -> String {
        common::run_cli(self.command(), args)
    }

    /// Creates an unrestricted key and returns its token.
    fn key(&self, tenant: &str, env: &str, name: &str) -> String {
        let token = self
            .cli(&[
                "key",
                "create",
                "--tenant",
                tenant,
                "--name",
                name,
                "--env",
                env,
                "--type",
                "unrestricted",
            ])
            .trim()
            .to_owned();
        assert!(token.starts_with("dw_"), "key create printed {token:?}");
        token
    }

    fn log(&self, name: &str) -> PathBuf {
        self.tmp.path().join(format!("{name}.log"))
    }
}

/// The `(repo name, folder)` pairs to index.
fn repos(corpus: &Corpus) -> Vec<(String, PathBuf)> {
    match corpus {
        Corpus::Docs => vec![(
            "docs".to_owned(),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs"),
        )],
        Corpus::Full(dir) => common::corpus_repos(dir),
    }
}

/// `docward serve --http 127.0.0.1:0`, its stderr copied to a log file. Killed on drop.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    fn start(data: &DataDir, env: &str, burst: &str, name: &str) -> Server {
        let log = data.log(name);
        let mut child = data
            .command()
            .args([
                "serve",
                "--http",
                "127.0.0.1:0",
                "--env",
                env,
                "--burst",
                burst,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn docward serve --http");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let path = log.clone();
        std::thread::spawn(move || {
            let mut file = std::fs::File::create(path).expect("log file");
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let line = strip_ansi(&line);
                let _ = writeln!(file, "{line}");
                if !sent && let Some(addr) = line.split("listen=").nth(1) {
                    let addr = addr
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send(addr);
                    sent = true;
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "docward serve --http did not start: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        assert!(addr.starts_with("127.0.0.1:"), "listening on {addr}");
        Server {
            child,
            base: format!("http://{addr}"),
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reports ERROR lines, and a count of WARN lines outside `expected_warnings` (refusals log
    /// a warning, rate-limited per refusal code).
    fn check_log(
        &self,
        report: &mut Report,
        scenario: &str,
        expected_warnings: std::ops::RangeInclusive<usize>,
    ) {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let errors: Vec<&str> = log.lines().filter(|l| l.contains(" ERROR ")).collect();
        let warnings = log.lines().filter(|l| l.contains(" WARN ")).count();
        if !errors.is_empty() {
            report.fail(format!(
                "{scenario}: {} ERROR lines in the server log, first: {}",
                errors.len(),
                errors[0]
            ));
        }
        if !expected_warnings.contains(&warnings) {
            let first = log.lines().find(|l| l.contains(" WARN ")).unwrap_or("");
            report.fail(format!(
                "{scenario}: {warnings} WARN lines in the server log (expected {expected_warnings:?}), first: {first}"
            ));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `docward serve --stdio` holding the store, its stdin kept open. Killed on drop.
struct Owner {
    child: Child,
    _stdin: ChildStdin,
}

impl Owner {
    fn start(data: &DataDir, key: &str) -> Owner {
        let mut child = data
            .command()
            .args(["serve", "--stdio", "--env", "test"])
            .env("DOCWARD_API_KEY", key)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(data.log("owner")).expect("owner log"),
            ))
            .spawn()
            .expect("spawn docward serve --stdio");
        let stdin = child.stdin.take().expect("stdin");
        let socket = docward::store::socket_path(&data.data_dir());
        let deadline = Instant::now() + Duration::from_secs(20);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "the owner never opened {}",
                socket.display()
            );
            assert!(
                child.try_wait().expect("owner").is_none(),
                "the owner exited"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Owner {
            child,
            _stdin: stdin,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn alive(&self) -> bool {
        std::fs::metadata(format!("/proc/{}", self.pid())).is_ok()
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Reporting

#[derive(Default)]
struct Report {
    rows: Vec<String>,
    failures: Vec<String>,
}

impl Report {
    /// Prints a run and keeps it for the summary; `judge` compares it with the targets.
    fn add(&mut self, scenario: &str, op: &str, workers: usize, run: &Run, judge: bool) {
        let secs = run.elapsed.as_secs_f64();
        let rate = run.calls as f64 / secs;
        let ms = |q: f64| {
            if run.latencies.is_empty() {
                return 0.0;
            }
            let i =
                ((run.latencies.len() as f64 * q).ceil() as usize).clamp(1, run.latencies.len());
            f64::from(run.latencies[i - 1]) / 1_000.0
        };
        let (p50, p99, max) = (ms(0.50), ms(0.99), ms(1.0));
        let statuses = run
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}:{n}"))
            .collect::<Vec<_>>()
            .join(" ");
        let cpu = run
            .cpu
            .iter()
            .map(|(name, s)| format!("{name} {:.0}", s * 1e6 / run.calls.max(1) as f64))
            .collect::<Vec<_>>()
            .join(", ");
        // Cores kept busy by everything else on the machine (builds, other tests) meanwhile.
        let ours: f64 = run.cpu.iter().map(|(_, s)| s).sum();
        let others = if run.cpu.is_empty() {
            String::new()
        } else {
            format!(
                ", other processes {:.2} cores",
                ((run.machine_busy - ours) / secs).max(0.0)
            )
        };
        let verdict = if !judge || workers == 1 {
            ""
        } else if rate >= TARGET_RATE && p99 < TARGET_P99_MS {
            "  [target met]"
        } else {
            "  [target missed]"
        };
        let row = format!(
            "{scenario:<14} {op:<11} C={workers:<3} {:>6} calls {secs:>5.1} s {rate:>7.0}/s  p50 {p50:>6.2}  p99 {p99:>6.2}  max {max:>7.2} ms  [{statuses}]  cpu us/call: {cpu}{others}{verdict}",
            run.calls
        );
        println!("{row}");
        self.rows.push(row);
        let unexpected: u64 = run
            .codes
            .iter()
            .filter(|(c, _)| !c.starts_with("200 quota_exceeded") || !scenario.starts_with('C'))
            .map(|(_, n)| n)
            .sum();
        if run.transport_errors > 0 || run.bad_200 > 0 || unexpected > 0 {
            let msg = format!(
                "{scenario} {op} C={workers}: {} transport errors, {} bad 200s, refusals {:?}; first: {}",
                run.transport_errors,
                run.bad_200,
                run.codes,
                run.first_error.as_deref().unwrap_or("-")
            );
            println!("  ERROR {msg}");
            self.failures.push(msg);
        }
    }

    fn fail(&mut self, msg: String) {
        println!("  ERROR {msg}");
        self.failures.push(msg);
    }

    fn print(&self) {
        println!("\n== summary (latencies in ms; cpu = CPU microseconds per call, per process)");
        for row in &self.rows {
            println!("{row}");
        }
        if self.failures.is_empty() {
            println!("no errors");
        } else {
            println!("{} problems:", self.failures.len());
            for f in &self.failures {
                println!("  - {f}");
            }
        }
    }
}
