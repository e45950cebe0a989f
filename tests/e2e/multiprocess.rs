//! Several docward processes on one data dir: the first owns the store and serves it to the
//! others; when it dies, another takes over. Counters and revocations are shared.

use std::time::Duration;

use serde_json::{Value, json};

use crate::util::{
    HttpServer, call, initialize_body, kill9, post_mcp, refusal_code, setup, stdio_session,
    stdio_session_pid, stdio_session_with, text,
};

#[tokio::test]
async fn key_commands_work_while_sessions_run_and_revocation_reaches_every_session() {
    let dir = setup("live", "pro");
    let shared = dir.key_json("acme", "live", &["--scope", "mcp:search"]);
    let token = shared["token"].as_str().unwrap();
    let a = stdio_session(&dir, "live", Some(token)).await;
    let b = stdio_session(&dir, "live", Some(token)).await;
    // The CLI is a third process: it creates a key through the owner...
    let fresh = dir.key("acme", "live", &["mcp:search"]);
    let c = stdio_session(&dir, "live", Some(&fresh)).await;
    let (ra, rb, rc) = tokio::join!(
        call(&a, "search", json!({ "query": "rotation" })),
        call(&b, "search", json!({ "query": "rotation" })),
        call(&c, "search", json!({ "query": "rotation" })),
    );
    for r in [&ra, &rb, &rc] {
        assert_ne!(r.is_error, Some(true), "{}", text(r));
    }
    // ...and revokes one, which both sessions using it see on their next call.
    dir.cmd(&["key", "revoke", shared["id"].as_str().unwrap()])
        .run();
    for session in [&a, &b] {
        let r = call(session, "search", json!({ "query": "rotation" })).await;
        assert_eq!(refusal_code(&r).as_deref(), Some("key_revoked"));
    }
    let still = call(&c, "search", json!({ "query": "rotation" })).await;
    assert_ne!(still.is_error, Some(true));
    for s in [a, b, c] {
        s.cancel().await.unwrap();
    }
}

#[tokio::test]
async fn when_the_owner_is_killed_the_others_keep_answering() {
    let dir = setup("test", "pro");
    let key = dir.key("acme", "test", &[]);
    let (owner, owner_pid) = stdio_session_pid(&dir, "test", Some(&key), &[]).await;
    let ok = call(&owner, "list_repos", json!({})).await;
    assert_ne!(ok.is_error, Some(true));
    let b = stdio_session(&dir, "test", Some(&key)).await;
    let c = stdio_session(&dir, "test", Some(&key)).await;
    assert_ne!(
        call(&b, "search", json!({ "query": "bm25" }))
            .await
            .is_error,
        Some(true)
    );
    kill9(owner_pid);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let (rb, rc) = tokio::join!(
        call(&b, "search", json!({ "query": "bm25" })),
        call(&c, "list_repos", json!({})),
    );
    assert_ne!(rb.is_error, Some(true), "{}", text(&rb));
    assert_ne!(rc.is_error, Some(true), "{}", text(&rc));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "take-over took {:?}",
        started.elapsed()
    );
    // The survivors still share one store: a revocation now reaches both.
    let keys = dir.cmd(&["key", "list", "--json"]).run().json();
    dir.cmd(&["key", "revoke", keys[0]["id"].as_str().unwrap()])
        .run();
    assert_eq!(
        refusal_code(&call(&b, "search", json!({ "query": "x" })).await).as_deref(),
        Some("key_revoked")
    );
    assert_eq!(
        refusal_code(&call(&c, "search", json!({ "query": "x" })).await).as_deref(),
        Some("key_revoked")
    );
    b.cancel().await.unwrap();
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn a_daily_quota_spent_across_two_sessions_refuses_the_101st_call() {
    let dir = setup("live", "free");
    let k1 = dir.key("acme", "live", &["mcp:list_repos"]);
    let k2 = dir.key("acme", "live", &["mcp:list_repos"]);
    let burst = ["--burst", "10000"];
    let a = stdio_session_with(&dir, "live", Some(&k1), &burst).await;
    let b = stdio_session_with(&dir, "live", Some(&k2), &burst).await;
    let mut ok = 0;
    for i in 0..50 {
        let (ra, rb) = tokio::join!(
            call(&a, "list_repos", json!({})),
            call(&b, "list_repos", json!({}))
        );
        for r in [ra, rb] {
            assert_ne!(r.is_error, Some(true), "round {i}: {}", text(&r));
            ok += 1;
        }
    }
    assert_eq!(ok, 100);
    for session in [&a, &b] {
        let refused = call(session, "list_repos", json!({})).await;
        assert_eq!(refusal_code(&refused).as_deref(), Some("quota_exceeded"));
    }
    a.cancel().await.unwrap();
    b.cancel().await.unwrap();
    let usage = dir.cmd(&["usage", "--json"]).run().json();
    assert_eq!(usage["today"][0]["live_calls"], 100);
}

#[tokio::test]
async fn a_repo_sync_is_seen_by_running_servers() {
    let dir = setup("test", "pro");
    let key = dir.key("acme", "test", &[]);
    let session = stdio_session(&dir, "test", Some(&key)).await;
    let before = call(&session, "search", json!({ "query": "platypus" })).await;
    assert!(
        before.structured_content.as_ref().unwrap()["results"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    dir.write(
        "handbook/guide/animals.md",
        "# Animals\n\nThe platypus lays eggs.\n",
    );
    dir.cmd(&[
        "repo", "sync", "handbook", "--tenant", "acme", "--env", "test",
    ])
    .run();
    let mut found = false;
    for _ in 0..40 {
        let after = call(&session, "search", json!({ "query": "platypus" })).await;
        if after.structured_content.as_ref().unwrap()["results"]
            .as_array()
            .unwrap()
            .len()
            == 1
        {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "the running server never saw the synced document");
    session.cancel().await.unwrap();
}

/// Sends tool calls until stopped; returns how many got a 200.
async fn load(
    base: String,
    key: String,
    session: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> u64 {
    let client = crate::util::http_client();
    let body = json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": { "name": "list_repos", "arguments": {} } }).to_string();
    let mut ok = 0;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let sent = client
            .post(format!("{base}/mcp"))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-06-18")
            .body(body.clone())
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match sent {
            Ok(r) if r.status() == 200 => {
                if r.text().await.is_ok_and(|t| t.contains("\"result\"")) {
                    ok += 1;
                }
            }
            _ => break,
        }
    }
    ok
}

#[tokio::test]
async fn kill_9_under_load_loses_no_key_and_usage_stays_within_the_calls_in_flight() {
    let dir = setup("live", "enterprise");
    let keys: Vec<String> = (0..3)
        .map(|_| dir.key("acme", "live", &["mcp:list_repos"]))
        .collect();
    let server = HttpServer::start(&dir, "live", &["--burst", "100000"]);
    let mut sessions = Vec::new();
    for key in &keys {
        let response = post_mcp(&server, Some(key), None, &initialize_body()).await;
        sessions.push(
            response.headers()["mcp-session-id"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
        let _ = response.text().await;
        let note = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
        let _ = post_mcp(
            &server,
            Some(key),
            sessions.last().map(String::as_str),
            &note,
        )
        .await;
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = keys
        .iter()
        .zip(&sessions)
        .map(|(k, s)| {
            tokio::spawn(load(
                server.base.clone(),
                k.clone(),
                s.clone(),
                stop.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    kill9(server.pid());
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut answered = 0;
    for w in workers {
        answered += w.await.unwrap();
    }
    assert!(
        answered > 50,
        "too little load to be a test: {answered} calls"
    );
    drop(server);

    // Every key still authenticates after a restart.
    let restarted = HttpServer::start(&dir, "live", &[]);
    for key in &keys {
        let r = post_mcp(&restarted, Some(key), None, &initialize_body()).await;
        assert_eq!(r.status(), 200, "a key was lost in the crash");
    }
    let usage = dir.cmd(&["usage", "--json"]).run().json();
    let counted = usage["today"][0]["live_calls"].as_u64().unwrap();
    // Calls answered were counted before they ran; at most one call per worker was in flight.
    assert!(
        counted >= answered && counted <= answered + keys.len() as u64,
        "usage {counted} vs {answered} answered calls: {usage}"
    );
    let _: Value = usage;
}

#[tokio::test]
async fn the_burst_limit_of_a_key_is_shared_by_its_sessions() {
    let dir = setup("test", "pro");
    let key = dir.key("acme", "test", &["mcp:list_repos"]);
    let a = stdio_session_with(&dir, "test", Some(&key), &["--burst", "4"]).await;
    let b = stdio_session_with(&dir, "test", Some(&key), &["--burst", "4"]).await;
    let mut passed = 0;
    let mut throttled = 0;
    for _ in 0..4 {
        let (ra, rb) = tokio::join!(
            call(&a, "list_repos", json!({})),
            call(&b, "list_repos", json!({}))
        );
        for r in [ra, rb] {
            match refusal_code(&r).as_deref() {
                None => passed += 1,
                Some("rate_limited") => throttled += 1,
                other => panic!("unexpected refusal {other:?}"),
            }
        }
    }
    // 8 calls in well under a second: two sessions together get the burst of one key, not two.
    assert!(
        (4..=5).contains(&passed),
        "{passed} passed, {throttled} throttled"
    );
    a.cancel().await.unwrap();
    b.cancel().await.unwrap();
}

/// Even with its folder opened up by hand, the store socket answers only our own user.
/// Switching to the user `nobody` needs root, as in CI; as another user the test says so and
/// checks nothing.
#[tokio::test]
async fn the_store_owner_refuses_connections_from_other_users() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: needs root to act as another user (CI runs it)");
        return;
    }
    let dir = setup("test", "pro");
    let key = dir.key("acme", "test", &[]);
    let session = stdio_session(&dir, "test", Some(&key)).await;
    let socket = docward::store::socket_path(&dir.data_dir());
    assert!(socket.exists());
    use std::os::unix::fs::PermissionsExt;
    for path in [
        dir.path().to_path_buf(),
        dir.data_dir(),
        socket.parent().unwrap().to_path_buf(),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    // The connection must open (else the peer check is never reached); the owner may then
    // close it before, during or after the request is sent: a broken pipe, a reset and an
    // empty read all mean "no answer".
    let probe = format!(
        r#"import socket
s=socket.socket(socket.AF_UNIX); s.settimeout(5)
try:
    s.connect({socket:?})
except OSError as e:
    print('CONNECT-FAILED', e); raise SystemExit
data=b''
try:
    s.sendall(b'{{"op":"tenants"}}\n')
    data=s.recv(4096)
except OSError:
    pass
print('ANSWER' if data else 'NO-ANSWER')"#,
        socket = socket.to_str().unwrap()
    );
    let out = std::process::Command::new("runuser")
        .args(["-u", "nobody", "--", "python3", "-c", &probe])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        "NO-ANSWER",
        "the owner must accept the connection, then answer nothing: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Our own user is still served.
    assert_eq!(
        dir.cmd(&["tenant", "list", "--json"]).run().json()[0]["name"],
        "acme"
    );
    session.cancel().await.unwrap();
}

/// A charge sent twice with one id (as a client does when its owner died before answering)
/// is billed once; a charge with a new id is billed again. Spoken on the real socket of a
/// running owner, in the protocol's own JSON lines.
#[tokio::test]
async fn a_charge_sent_again_with_its_id_is_billed_once() {
    use std::io::{BufRead, BufReader, Write};
    let dir = setup("live", "free");
    let key = dir.key_json("acme", "live", &["--scope", "mcp:search"]);
    let session = stdio_session(&dir, "live", Some(key["token"].as_str().unwrap())).await;
    let socket = docward::store::socket_path(&dir.data_dir());
    let today = docward::clock::utc_day(docward::clock::now());
    let charge = |id: &str| {
        let mut conn = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        let request = json!({
            "op": "charge",
            "id": id,
            "request": {
                "tenant": "acme", "key_id": key["id"], "env": "live", "day": today,
                "limit": 100, "burst_per_second": 1000
            }
        });
        writeln!(conn, "{request}").unwrap();
        let mut line = String::new();
        BufReader::new(conn).read_line(&mut line).unwrap();
        serde_json::from_str::<Value>(&line).unwrap()
    };
    let first = charge("0000000000000000000000000000abcd");
    assert_eq!(first["charge"]["Allowed"]["used"], 1, "{first}");
    assert_eq!(charge("0000000000000000000000000000abcd"), first);
    assert_eq!(
        charge("0000000000000000000000000000abce")["charge"]["Allowed"]["used"],
        2
    );
    let usage = dir.cmd(&["usage", "--json"]).run().json();
    // (Unless the test ran across midnight UTC, when `today` is another day.)
    if docward::clock::utc_day(docward::clock::now()) == today {
        assert_eq!(usage["today"][0]["live_calls"], 2, "{usage}");
    }
    session.cancel().await.unwrap();
}

/// A process of another docward version owning the store is named, and the command stops at
/// once with what to do, instead of failing on requests it cannot read.
#[test]
fn an_owner_of_another_version_is_named_with_the_fix() {
    use std::io::{BufRead, BufReader, Write};
    let dir = crate::util::TestDir::new();
    // Hold the database, as a running owner does, and answer on its socket as a newer one.
    let _held = docward::store::SledStore::open(&dir.data_dir()).unwrap();
    let socket = docward::store::socket_path(&dir.data_dir());
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut writer = conn;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                let answer = r#"{"result":"hello","protocol":999,"version":"9.9.9","pid":4242}"#;
                if writeln!(writer, "{answer}").is_err() {
                    break;
                }
                line.clear();
            }
        }
    });
    let started = std::time::Instant::now();
    let refused = dir.cmd(&["tenant", "list"]).run_fail();
    assert!(
        refused
            .stderr()
            .contains("another docward version (docward 9.9.9, store protocol 999, process 4242)"),
        "{}",
        refused.dump()
    );
    assert!(
        refused.stderr().contains("Stop that process"),
        "{}",
        refused.dump()
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "no retrying for 5 s"
    );
}
