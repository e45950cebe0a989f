//! Faults of the HTTP transport found by an attacker test (issue 7), each driven against the
//! real `docward serve --http` over raw TCP or HTTP: slow and endless clients, the connection
//! cap and the shutdown deadline; session bindings; calls the MCP layer refuses after the gate
//! counted them; duplicate `Authorization` headers; and `/healthz` with an unreachable store.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::{
    HttpServer, TestDir, initialize_body, post_mcp, send_signal, setup, setup_with,
    stdio_session_pid,
};

/// The server's `host:port`.
fn addr(server: &HttpServer) -> String {
    server.base.trim_start_matches("http://").to_owned()
}

fn tool_call(name: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": { "name": name, "arguments": {} } })
}

/// Opens a legacy-mode streamable HTTP session by raw HTTP and returns its id.
async fn open_session(server: &HttpServer, key: &str) -> reqwest::Result<String> {
    let response = post_mcp(server, Some(key), None, &initialize_body()).await;
    let response = response.error_for_status()?;
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = response.text().await;
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let ack = post_mcp(server, Some(key), Some(&session), &initialized).await;
    assert!(ack.status().is_success(), "{}", ack.status());
    Ok(session)
}

/// Reads until the server closes the connection (or `limit` passes); returns what was read
/// and whether it closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (String::from_utf8_lossy(&seen).into_owned(), false),
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&seen).into_owned(), true),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// A slowloris client: a request line and one header, then one more header line every 300 ms,
/// never the blank line that ends the headers. Returns once the server closes the connection
/// (true) or `limit` passes (false).
async fn slow_headers(addr: String, limit: Duration) -> bool {
    let Ok(mut stream) = TcpStream::connect(&addr).await else {
        return true;
    };
    let start = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if stream.write_all(start).await.is_err() {
        return true;
    }
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = [0u8; 1024];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            },
            _ = tokio::time::sleep(Duration::from_millis(300)) => {
                if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
                    return true;
                }
            }
            _ = tokio::time::sleep_until(deadline) => return false,
        }
    }
}

/// A client whose chunked body never ends: complete headers, then a chunk every 300 ms.
/// Returns the response it got (empty if none) once the server closes the connection, or
/// `None` if `limit` passes first.
async fn endless_body(addr: String, key: String, limit: Duration) -> Option<String> {
    // A connection the server refused or closed at once ended too: an empty answer.
    let Ok(mut stream) = TcpStream::connect(&addr).await else {
        return Some(String::new());
    };
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{{\r\n"
    );
    if stream.write_all(head.as_bytes()).await.is_err() {
        return Some(String::new());
    }
    let deadline = tokio::time::Instant::now() + limit;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => return Some(String::from_utf8_lossy(&seen).into_owned()),
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            },
            _ = tokio::time::sleep(Duration::from_millis(300)) => {
                // The peer may have answered and closed: a failed write ends the body too.
                if stream.write_all(b"1\r\n \r\n").await.is_err() {
                    let (rest, _) = read_until_closed(&mut stream, Duration::from_secs(1)).await;
                    seen.extend_from_slice(rest.as_bytes());
                    return Some(String::from_utf8_lossy(&seen).into_owned());
                }
            }
            _ = tokio::time::sleep_until(deadline) => return None,
        }
    }
}

async fn healthz(server: &HttpServer) -> reqwest::Response {
    crate::util::http_client()
        .get(format!("{}/healthz", server.base))
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .expect("GET /healthz")
}

// A. Slow and endless clients, the connection cap, the shutdown deadline.

#[tokio::test]
async fn slow_headers_are_cut_after_the_header_timeout() {
    let dir = setup("live", "pro");
    let server = HttpServer::start(&dir, "live", &["--header-timeout", "1s"]);
    let started = Instant::now();
    let clients: Vec<_> = (0..200)
        .map(|_| tokio::spawn(slow_headers(addr(&server), Duration::from_secs(8))))
        .collect();
    let mut cut = 0;
    for client in clients {
        cut += usize::from(client.await.unwrap());
    }
    let took = started.elapsed();
    assert_eq!(cut, 200, "slow-header connections still open after 8 s");
    println!("200 slow-header connections cut after {took:?}");
    assert!(took < Duration::from_secs(6), "{took:?}");
    assert_eq!(healthz(&server).await.status(), 200);
}

#[tokio::test]
async fn endless_bodies_are_cut_after_the_body_timeout() {
    let dir = setup("live", "pro");
    let key = dir.key("acme", "live", &["mcp:search"]);
    let server = HttpServer::start(&dir, "live", &["--body-timeout", "1s"]);
    let started = Instant::now();
    let clients: Vec<_> = (0..100)
        .map(|_| {
            tokio::spawn(endless_body(
                addr(&server),
                key.clone(),
                Duration::from_secs(8),
            ))
        })
        .collect();
    for client in clients {
        let answer = client
            .await
            .unwrap()
            .expect("an endless body still read after 8 s");
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("body_timeout"), "{answer}");
    }
    let took = started.elapsed();
    println!("100 endless bodies answered 408 after {took:?}");
    assert!(took < Duration::from_secs(6), "{took:?}");
    assert_eq!(healthz(&server).await.status(), 200);
}

#[tokio::test]
async fn connections_over_the_cap_are_refused_at_once() {
    let dir = setup("live", "pro");
    let server = HttpServer::start(
        &dir,
        "live",
        &["--max-connections", "20", "--header-timeout", "60s"],
    );
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(addr(&server)).await.unwrap());
    }
    // Let the server accept all twenty before the next one knocks.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let mut extra = TcpStream::connect(addr(&server)).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    let (answer, closed) = read_until_closed(&mut extra, Duration::from_secs(5)).await;
    let took = started.elapsed();
    println!("connection over the cap closed after {took:?}: {answer:?}");
    assert!(
        closed,
        "the connection over the cap was kept open: {answer}"
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 503"),
        "{answer}"
    );
    assert!(took < Duration::from_secs(1), "{took:?}");
    // Closed connections give their places back.
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = reqwest::get(format!("{}/healthz", server.base)).await;
        if answer.is_ok_and(|a| a.status() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "no place freed after closing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn sigterm_exits_within_the_deadline_while_slow_clients_hold_connections() {
    let dir = setup("live", "pro");
    let key = dir.key("acme", "live", &["mcp:search"]);
    let server = HttpServer::start(
        &dir,
        "live",
        &[
            "--header-timeout",
            "60s",
            "--body-timeout",
            "60s",
            "--shutdown-deadline",
            "2s",
        ],
    );
    let mut clients = Vec::new();
    for _ in 0..200 {
        clients.push(tokio::spawn(slow_headers(
            addr(&server),
            Duration::from_secs(30),
        )));
    }
    let mut bodies = Vec::new();
    for _ in 0..100 {
        bodies.push(tokio::spawn(endless_body(
            addr(&server),
            key.clone(),
            Duration::from_secs(30),
        )));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    let took = started.elapsed();
    println!("SIGTERM with 200 slow headers and 100 endless bodies open: exit after {took:?}");
    assert!(status.success(), "exit status after SIGTERM: {status}");
    // The deadline is 2 s; the rest is slack for a loaded machine (without the deadline the
    // server never exits while the clients stay).
    assert!(took < Duration::from_secs(8), "{took:?}");
    for client in clients {
        assert!(client.await.unwrap(), "a slow client outlived the server");
    }
    for body in bodies {
        assert!(
            body.await.unwrap().is_some(),
            "an endless body outlived the server"
        );
    }
}

#[tokio::test]
async fn event_streams_outlive_the_header_and_body_timeouts() {
    let dir = setup("live", "pro");
    let key = dir.key("acme", "live", &["mcp:search"]);
    let server = HttpServer::start(
        &dir,
        "live",
        &["--header-timeout", "1s", "--body-timeout", "1s"],
    );
    let http = crate::util::http_client();
    // Legacy SSE: the stream and its endpoint.
    let mut legacy = http
        .get(format!("{}/sse", server.base))
        .header("authorization", format!("Bearer {key}"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(legacy.status(), 200);
    let mut seen = String::new();
    while !seen.contains("sessionId=") || !seen.contains('\n') {
        let chunk = tokio::time::timeout(Duration::from_secs(10), legacy.chunk())
            .await
            .expect("no endpoint event")
            .unwrap()
            .expect("stream ended");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let endpoint = seen
        .lines()
        .find_map(|l| l.strip_prefix("data:").map(str::trim))
        .unwrap()
        .to_owned();
    // Streamable HTTP: a session's standalone event stream.
    let session = open_session(&server, &key).await.unwrap();
    let mut standalone = http
        .get(server.mcp_url())
        .header("authorization", format!("Bearer {key}"))
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap();
    assert_eq!(standalone.status(), 200);
    // Three times both timeouts later, both streams are still open...
    tokio::time::sleep(Duration::from_secs(3)).await;
    match tokio::time::timeout(Duration::from_millis(500), standalone.chunk()).await {
        Err(_) | Ok(Ok(Some(_))) => {}
        Ok(ended) => panic!("the /mcp event stream ended: {ended:?}"),
    }
    // ... and the legacy stream still carries answers.
    let send = |body: Value| {
        http.post(format!("{}{endpoint}", server.base))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    assert_eq!(send(initialize_body()).await.unwrap().status(), 202);
    send(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
        .await
        .unwrap();
    let call = json!({ "jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": { "name": "search", "arguments": { "query": "bm25" } } });
    assert_eq!(send(call).await.unwrap().status(), 202);
    let mut seen = String::new();
    while !seen.contains("\"id\":7") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), legacy.chunk())
            .await
            .expect("no answer on the legacy stream")
            .unwrap()
            .expect("the legacy stream ended");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("\"isError\":false"), "{seen}");
}

// B. Session bindings.

#[tokio::test]
async fn a_refused_delete_keeps_the_session_bound_to_its_key() {
    let dir = setup("live", "pro");
    let alice = dir.key("acme", "live", &[]);
    let mallory = dir.key("acme", "live", &[]);
    let server = HttpServer::start(&dir, "live", &[]);
    let session = open_session(&server, &alice).await.unwrap();
    let http = crate::util::http_client();
    let delete = |version: &'static str| {
        http.delete(server.mcp_url())
            .header("authorization", format!("Bearer {alice}"))
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", version)
            .send()
    };
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    // rmcp answers 405 (a stateless protocol version) and 400 (an unknown one): nothing ended.
    for (version, status) in [("2026-07-28", 405), ("1999-01-01", 400)] {
        let refused = delete(version).await.unwrap();
        assert_eq!(refused.status(), status, "DELETE with {version}");
        let stolen = post_mcp(&server, Some(&mallory), Some(&session), &list).await;
        assert_eq!(
            stolen.status(),
            403,
            "another key used the session after a refused DELETE ({status})"
        );
        let own = post_mcp(&server, Some(&alice), Some(&session), &list).await;
        assert_eq!(own.status(), 200);
    }
    // A DELETE rmcp carries out ends the session for everyone.
    let ended = delete("2025-06-18").await.unwrap();
    assert!(ended.status().is_success(), "{}", ended.status());
    let after = post_mcp(&server, Some(&alice), Some(&session), &list).await;
    assert_eq!(after.status(), 404);
}

#[tokio::test]
async fn a_key_holds_at_most_64_sessions_and_sessions_rmcp_ended_free_their_place() {
    let dir = setup("live", "pro");
    let alice = dir.key("acme", "live", &[]);
    let bob = dir.key("acme", "live", &[]);
    let server = HttpServer::start(&dir, "live", &["--session-idle-timeout", "6s"]);
    for i in 0..54 {
        open_session(&server, &alice)
            .await
            .unwrap_or_else(|e| panic!("session {i}: {e}"));
    }
    // Thirty opened at once cannot pass the cap together: ten places were left.
    let racing: Vec<_> = (0..30)
        .map(|_| {
            let base = server.mcp_url();
            let alice = alice.clone();
            tokio::spawn(async move {
                crate::util::http_client()
                    .post(base)
                    .header("authorization", format!("Bearer {alice}"))
                    .header("content-type", "application/json")
                    .header("accept", "application/json, text/event-stream")
                    .body(initialize_body().to_string())
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for r in racing {
        statuses.push(r.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        20,
        "{statuses:?}"
    );
    let refused = post_mcp(&server, Some(&alice), None, &initialize_body()).await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=7).contains(&retry_after), "Retry-After {retry_after}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["data"]["code"], "rate_limited");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("64"),
        "{body}"
    );
    // Another key is not held back.
    open_session(&server, &bob).await.unwrap();
    // Retry-After is true: by then rmcp ended the idle sessions, and they no longer count.
    tokio::time::sleep(Duration::from_secs(retry_after) + Duration::from_millis(300)).await;
    open_session(&server, &alice)
        .await
        .expect("still refused after Retry-After, though rmcp ended the idle sessions");
}

// C. Calls the MCP layer refuses after the gate counted them.

/// Live calls today and the sum of the usage rows, as `docward usage --json` reports them.
fn billed(dir: &TestDir) -> (u64, u64) {
    let usage = dir
        .cmd(&["usage", "--tenant", "acme", "--json"])
        .run()
        .json();
    let live = usage["today"][0]["live_calls"].as_u64().unwrap();
    let rows = usage["usage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["calls"].as_u64().unwrap())
        .sum();
    (live, rows)
}

/// Sends every variant of a `tools/call` that rmcp refuses, then checks that none was billed
/// and that the daily limit (4) still stops at exactly 4 calls that ran.
async fn refused_calls_are_not_billed(dir: &TestDir, server: &HttpServer, key: &str) {
    // A session rmcp ended (idle) while docward may still hold its binding.
    let expired = open_session(server, key).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let session = open_session(server, key).await.unwrap();
    let http = crate::util::http_client();
    let call = |accept: &str, content_type: &str, session: Option<&str>, version: &str| {
        let mut request = http
            .post(server.mcp_url())
            .header("authorization", format!("Bearer {key}"))
            .header("accept", accept)
            .header("content-type", content_type)
            .body(tool_call("list_repos").to_string());
        if let Some(session) = session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", version);
        }
        request.send()
    };
    let both = "application/json, text/event-stream";
    let json = "application/json";
    let variants = [
        ("no session id", call(both, json, None, "").await, 400),
        (
            "Accept without text/event-stream",
            call(json, json, Some(&session), "2025-06-18").await,
            406,
        ),
        (
            "Content-Type text/plain",
            call(both, "text/plain", Some(&session), "2025-06-18").await,
            415,
        ),
        (
            "unknown MCP-Protocol-Version",
            call(both, json, Some(&session), "1999-01-01").await,
            400,
        ),
        (
            "expired session",
            call(both, json, Some(&expired), "2025-06-18").await,
            404,
        ),
        (
            "unknown session",
            call(both, json, Some("no-such-session"), "2025-06-18").await,
            404,
        ),
    ];
    for (what, response, status) in variants {
        assert_eq!(response.unwrap().status(), status, "{what}");
    }
    assert_eq!(
        billed(dir),
        (0, 0),
        "calls the MCP layer refused were billed"
    );
    for i in 0..4 {
        let ok = post_mcp(server, Some(key), Some(&session), &tool_call("list_repos")).await;
        assert_eq!(ok.status(), 200, "call {i}");
        let _ = ok.text().await;
    }
    let over = post_mcp(server, Some(key), Some(&session), &tool_call("list_repos")).await;
    assert_eq!(over.status(), 200);
    let over = over.text().await.unwrap();
    assert!(
        over.contains("quota_exceeded"),
        "the daily limit of 4 let a fifth call run: {over}"
    );
    assert_eq!(billed(dir), (4, 4));
}

#[tokio::test]
async fn calls_the_mcp_layer_refuses_are_not_billed() {
    let dir = setup_with("live", &["--plan", "free", "--daily-limit", "4"]);
    let key = dir.key("acme", "live", &["mcp:list_repos"]);
    let server = HttpServer::start(&dir, "live", &["--session-idle-timeout", "4s"]);
    refused_calls_are_not_billed(&dir, &server, &key).await;
}

#[tokio::test]
async fn calls_the_mcp_layer_refuses_are_not_billed_through_a_second_process() {
    let dir = setup_with("live", &["--plan", "free", "--daily-limit", "4"]);
    let key = dir.key("acme", "live", &["mcp:list_repos"]);
    // A stdio server owns the store; the HTTP server reaches it over the owner's socket.
    let (owner, _) = stdio_session_pid(&dir, "live", None, &[]).await;
    let server = HttpServer::start(&dir, "live", &["--session-idle-timeout", "4s"]);
    refused_calls_are_not_billed(&dir, &server, &key).await;
    owner.cancel().await.unwrap();
}

// D. Duplicate Authorization headers.

#[tokio::test]
async fn two_authorization_headers_are_refused_with_400() {
    let dir = setup("live", "pro");
    let alice = dir.key("acme", "live", &[]);
    let mallory = dir.key("acme", "live", &[]);
    let server = HttpServer::start(&dir, "live", &[]);
    let http = crate::util::http_client();
    for second in [&mallory, &alice] {
        let response = http
            .post(server.mcp_url())
            .header("authorization", format!("Bearer {alice}"))
            .header("authorization", format!("Bearer {second}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(initialize_body().to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["jsonrpc"], "2.0");
        assert_eq!(body["error"]["data"]["code"], "duplicate_authorization");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("exactly one"),
            "{body}"
        );
    }
    let sse = http
        .get(format!("{}/sse", server.base))
        .header("authorization", format!("Bearer {alice}"))
        .header("authorization", format!("Bearer {mallory}"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 400);
    let log = server.log();
    assert!(!log.contains(&alice) && !log.contains(&mallory));
}

// E. /healthz and the store.

#[tokio::test]
async fn healthz_is_503_within_two_seconds_when_the_store_owner_is_stopped() {
    let dir = setup("live", "pro");
    let (owner, owner_pid) = stdio_session_pid(&dir, "live", None, &[]).await;
    let server = HttpServer::start(&dir, "live", &[]);
    let ok = healthz(&server).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "ok");
    send_signal("STOP", owner_pid);
    for attempt in 0..2 {
        let started = Instant::now();
        let response = healthz(&server).await;
        let took = started.elapsed();
        let status = response.status();
        let body = response.text().await.unwrap();
        println!(
            "/healthz with the store owner stopped (attempt {attempt}): {status} after {took:?}: {body}"
        );
        assert_eq!(status, 503, "{body}");
        assert!(body.starts_with("unhealthy: "), "{body}");
        assert_eq!(body.lines().count(), 1, "{body}");
        assert!(took < Duration::from_millis(2_800), "{took:?}");
    }
    send_signal("CONT", owner_pid);
    let deadline = Instant::now() + Duration::from_secs(40);
    while healthz(&server).await.status() != 200 {
        assert!(
            Instant::now() < deadline,
            "still unhealthy after the owner resumed"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    owner.cancel().await.unwrap();
}
