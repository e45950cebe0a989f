//! A bounded soak: HTTP load on two server processes sharing one store (an owner and a client
//! of it), while the first is killed and restarted, whichever owns the store is stopped and
//! resumed, bad keys flood in and slow clients hold connections. It then checks that the
//! surviving server's file descriptors and memory stayed within bounds, that the quota counts
//! every call that ran and no more than the calls that got no answer, that refusals never count,
//! and that every key still works.
//!
//! `DOCWARD_SOAK_SECS` sets the length (default 40 s; docs/reliability.md reports a 600 s run).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::util::{HttpServer, initialize_body, kill9, setup_with};

/// Growth allowed over the run, past the warm-up, for the server that is never killed.
const FD_GROWTH_BOUND: usize = 40;
const RSS_GROWTH_BOUND_KB: u64 = 64 * 1024;

#[derive(Default)]
struct Tally {
    /// tools/call answered with a result: they ran, so they must be counted.
    answered: AtomicU64,
    /// tools/call that got no answer or an error status: each may or may not have been counted.
    unanswered: AtomicU64,
    /// Requests with a bad key, all refused (in band, as JSON-RPC errors).
    bad_key_refused: AtomicU64,
    bad_key_other: AtomicU64,
    /// Slow clients whose connection the server closed.
    slow_closed: AtomicU64,
    kills: AtomicU64,
    stops: AtomicU64,
}

fn proc_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn proc_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// One MCP session's worth of calls against `base`; returns when the session breaks or `stop`.
async fn session_load(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    tally: &Tally,
    stop: &AtomicBool,
) {
    let post = |session: Option<&str>, body: &Value| {
        let mut request = client
            .post(format!("{base}/mcp"))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .timeout(Duration::from_secs(5))
            .body(body.to_string());
        if let Some(session) = session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", "2025-06-18");
        }
        request.send()
    };
    let Ok(opened) = post(None, &initialize_body()).await else {
        tokio::time::sleep(Duration::from_millis(50)).await;
        return;
    };
    let Some(session) = opened
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        tokio::time::sleep(Duration::from_millis(50)).await;
        return;
    };
    let _ = opened.text().await;
    let note = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let _ = post(Some(&session), &note).await;
    let call = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": { "name": "list_repos", "arguments": {} } });
    for _ in 0..100 {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let answered = match post(Some(&session), &call).await {
            Ok(r) if r.status() == 200 => r.text().await.is_ok_and(|t| t.contains("\"result\"")),
            _ => false,
        };
        if answered {
            tally.answered.fetch_add(1, Ordering::SeqCst);
        } else {
            tally.unanswered.fetch_add(1, Ordering::SeqCst);
            return;
        }
    }
}

async fn bad_key_flood(base: String, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    let client = crate::util::http_client();
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let garbage = format!("dw_live_{n:0>43}abcdef");
        let sent = client
            .post(format!("{base}/mcp"))
            .header("authorization", format!("Bearer {garbage}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .timeout(Duration::from_secs(5))
            .body(initialize_body().to_string())
            .send()
            .await;
        // Refused in band: HTTP 200 with the JSON-RPC error of an unknown key.
        let refused = match sent {
            Ok(r) if r.status() == 200 => r
                .text()
                .await
                .is_ok_and(|body| body.contains("\"code\":-32040")),
            _ => false,
        };
        if refused {
            tally.bad_key_refused.fetch_add(1, Ordering::SeqCst);
        } else {
            tally.bad_key_other.fetch_add(1, Ordering::SeqCst);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Keeps a connection that sends one header byte every two seconds, reopening it when the
/// server closes it.
async fn slow_client(addr: String, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        let Ok(mut conn) = tokio::net::TcpStream::connect(&addr).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        if conn
            .write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .is_err()
        {
            continue;
        }
        while !stop.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_secs(2)).await;
            if conn.write_all(b"a").await.is_err() {
                tally.slow_closed.fetch_add(1, Ordering::SeqCst);
                break;
            }
        }
    }
}

fn owner_pid(dir: &crate::util::TestDir) -> Option<u32> {
    std::fs::read_to_string(dir.data_dir().join("run").join("owner.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn signal(pid: u32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_with_kills_stops_floods_and_slow_clients() {
    let secs: u64 = std::env::var("DOCWARD_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let dir = setup_with(
        "live",
        &["--plan", "enterprise", "--daily-limit", "100000000"],
    );
    let keys: Vec<String> = (0..4)
        .map(|_| dir.key("acme", "live", &["mcp:list_repos"]))
        .collect();
    let burst = ["--burst", "100000"];
    let mut first = HttpServer::start(&dir, "live", &burst);
    let second = HttpServer::start(&dir, "live", &burst);
    let second_pid = second.pid();
    let second_base = second.base.clone();
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let first_base = Arc::new(std::sync::Mutex::new(first.base.clone()));

    let mut tasks = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let (key, tally, stop) = (key.clone(), Arc::clone(&tally), Arc::clone(&stop));
        let (first_base, second_base) = (Arc::clone(&first_base), second_base.clone());
        tasks.push(tokio::spawn(async move {
            let client = crate::util::http_client();
            let mut turn = i;
            while !stop.load(Ordering::SeqCst) {
                turn += 1;
                let base = if turn % 2 == 0 {
                    first_base.lock().unwrap().clone()
                } else {
                    second_base.clone()
                };
                session_load(&client, &base, &key, &tally, &stop).await;
            }
        }));
    }
    tasks.push(tokio::spawn(bad_key_flood(
        second_base.clone(),
        Arc::clone(&tally),
        Arc::clone(&stop),
    )));
    let second_addr = second_base.trim_start_matches("http://").to_owned();
    for _ in 0..10 {
        tasks.push(tokio::spawn(slow_client(
            second_addr.clone(),
            Arc::clone(&tally),
            Arc::clone(&stop),
        )));
    }

    // Faults, at pseudo-random times: kill -9 and restart the first server, or stop the owner
    // of the store (whichever process it is) for a moment.
    let started = Instant::now();
    let total = Duration::from_secs(secs);
    let warmup = total / 4;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut baseline: Option<(usize, u64)> = None;
    let (mut peak_fds, mut peak_rss) = (0usize, 0u64);
    while started.elapsed() < total {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let pause = Duration::from_millis(1500 + seed % 3000);
        tokio::time::sleep(pause.min(total.saturating_sub(started.elapsed()))).await;
        if started.elapsed() >= warmup {
            let sample = (proc_fds(second_pid), proc_rss_kb(second_pid));
            match baseline {
                None => baseline = Some(sample),
                Some(_) => {
                    peak_fds = peak_fds.max(sample.0);
                    peak_rss = peak_rss.max(sample.1);
                }
            }
        }
        if started.elapsed() + Duration::from_secs(3) >= total {
            break;
        }
        if seed.is_multiple_of(2) {
            kill9(first.pid());
            tally.kills.fetch_add(1, Ordering::SeqCst);
            first = HttpServer::start(&dir, "live", &burst);
            *first_base.lock().unwrap() = first.base.clone();
        } else if let Some(owner) = owner_pid(&dir) {
            signal(owner, "-STOP");
            tokio::time::sleep(Duration::from_millis(800)).await;
            signal(owner, "-CONT");
            tally.stops.fetch_add(1, Ordering::SeqCst);
        }
    }
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }

    // Every key still works, on both servers.
    for key in &keys {
        for server in [&first, &second] {
            let opened = crate::util::post_mcp(server, Some(key), None, &initialize_body()).await;
            assert_eq!(opened.status(), 200, "a key stopped working");
        }
    }

    let (base_fds, base_rss) = baseline.expect("the soak was too short to sample");
    let usage = dir.cmd(&["usage", "--json"]).run().json();
    let counted = usage["today"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tenant"] == "acme")
        .and_then(|t| t["live_calls"].as_u64())
        .unwrap_or(0);
    let answered = tally.answered.load(Ordering::SeqCst);
    let unanswered = tally.unanswered.load(Ordering::SeqCst);
    let log_bytes = second.log().len();
    println!(
        "soak {secs} s: {answered} calls answered, {unanswered} unanswered, {counted} counted; {} bad-key requests refused ({} otherwise); {} kills, {} stops; {} slow connections closed by the server; second server fds {base_fds} -> peak {peak_fds}, RSS {base_rss} KB -> peak {peak_rss} KB; its log {log_bytes} bytes",
        tally.bad_key_refused.load(Ordering::SeqCst),
        tally.bad_key_other.load(Ordering::SeqCst),
        tally.kills.load(Ordering::SeqCst),
        tally.stops.load(Ordering::SeqCst),
        tally.slow_closed.load(Ordering::SeqCst),
    );
    assert!(answered > 100, "too little load to be a test: {answered}");
    assert!(
        counted >= answered && counted <= answered + unanswered,
        "quota {counted} outside [{answered}, {}]",
        answered + unanswered
    );
    assert!(tally.bad_key_refused.load(Ordering::SeqCst) > 0);
    assert!(
        peak_fds <= base_fds + FD_GROWTH_BOUND,
        "fds grew from {base_fds} to {peak_fds}"
    );
    assert!(
        peak_rss <= base_rss + RSS_GROWTH_BOUND_KB,
        "RSS grew from {base_rss} KB to {peak_rss} KB"
    );
    assert!(
        log_bytes < 4 * 1024 * 1024,
        "the server wrote {log_bytes} bytes of log"
    );
}
