//! End-to-end MCP tests over HTTP: `docward serve --http`, spoken to by rmcp's streamable HTTP
//! client, by raw HTTP requests (statuses and headers) and by the official Python SDK.

use serde_json::{Value, json};

use crate::util::{
    HttpServer, call, docward_bin, http_session, initialize_body, post_mcp, refusal_code, setup,
    setup_with, text, tool_names,
};

/// The `WWW-Authenticate` challenge of a response.
fn www_authenticate(response: &reqwest::Response) -> String {
    response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Reads a JSON-RPC message from a JSON or SSE-framed response body.
async fn rpc_body(response: reqwest::Response) -> Value {
    let text = response.text().await.unwrap();
    if let Ok(value) = serde_json::from_str(&text) {
        return value;
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|v| v.get("jsonrpc").is_some())
        .unwrap_or_else(|| panic!("no JSON-RPC message in {text}"))
}

fn tool_call(name: &str, args: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": { "name": name, "arguments": args } })
}

/// Opens a legacy-mode session by raw HTTP and returns its id.
async fn open_session(server: &HttpServer, key: &str) -> String {
    let response = post_mcp(server, Some(key), None, &initialize_body()).await;
    assert_eq!(response.status(), 200);
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = response.text().await;
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let ack = post_mcp(server, Some(key), Some(&session), &initialized).await;
    assert!(ack.status().is_success(), "{}", ack.status());
    session
}

#[tokio::test]
async fn rmcp_client_searches_over_streamable_http_with_a_bearer_key() {
    let dir = setup("live", "pro");
    let key = dir.key("acme", "live", &["mcp:search", "mcp:get_doc"]);
    let server = HttpServer::start(&dir, "live", &[]);
    let session = http_session(&server, &key).await.unwrap();
    assert_eq!(
        tool_names(&session).await,
        ["get_doc", "search"],
        "scope-filtered"
    );
    let found = call(&session, "search", json!({ "query": "rotating keys" })).await;
    assert_ne!(found.is_error, Some(true), "{}", text(&found));
    assert_eq!(
        found.structured_content.as_ref().unwrap()["results"][0]["path"],
        "guide/keys.md"
    );
    let doc = call(
        &session,
        "get_doc",
        json!({ "repo": "handbook", "path": "guide/search.md" }),
    )
    .await;
    assert!(text(&doc).contains("BM25"));
    session.cancel().await.unwrap();
}

#[tokio::test]
async fn bad_keys_are_told_in_band_on_json_rpc_requests_and_get_a_401_otherwise() {
    let dir = setup("live", "pro");
    let revoked = dir.key_json("acme", "live", &["--scope", "mcp:search"]);
    dir.cmd(&["key", "revoke", revoked["id"].as_str().unwrap()])
        .run();
    let test_key = dir.key("acme", "test", &["mcp:search"]);
    let server = HttpServer::start(&dir, "live", &[]);
    // Right shape, wrong checksum (built here so that no token-like string sits in the source).
    let mistyped = format!("dw_live_{}", "0".repeat(49));
    let cases: [(Option<&str>, &str, &str); 5] = [
        (None, "missing_key", "Authorization: Bearer"),
        (Some("not-a-key"), "malformed_key", "dw_live_"),
        (Some(&mistyped), "bad_checksum", "mistyped"),
        (
            Some(revoked["token"].as_str().unwrap()),
            "key_revoked",
            "revoked on",
        ),
        (
            Some(&test_key),
            "wrong_env",
            "test key used against a live server",
        ),
    ];
    for (key, code, hint) in cases {
        // A JSON-RPC request: the refusal is its JSON-RPC error, which clients show (a 401
        // makes OAuth-capable clients start OAuth instead; docs/http.md).
        let response = post_mcp(&server, key, None, &initialize_body()).await;
        assert_eq!(response.status(), 200, "{code}");
        assert!(
            !response.headers().contains_key("www-authenticate"),
            "{code}"
        );
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["jsonrpc"], "2.0");
        assert_eq!(body["id"], 1, "answered to the request: {body}");
        assert_eq!(body["error"]["code"], -32040, "{body}");
        assert_eq!(body["error"]["data"]["code"], code);
        assert!(
            body["error"]["message"].as_str().unwrap().contains(hint),
            "{body}"
        );
        // Not a JSON-RPC request (an event stream): 401 with an RFC 6750 challenge.
        let mut get = crate::util::http_client()
            .get(server.mcp_url())
            .header("accept", "text/event-stream");
        if let Some(key) = key {
            get = get.header("authorization", format!("Bearer {key}"));
        }
        let response = get.send().await.unwrap();
        assert_eq!(response.status(), 401, "{code}");
        let challenge = www_authenticate(&response);
        if key.is_none() {
            // §3.1: no error code when no credentials were given.
            assert_eq!(challenge, "Bearer realm=\"docward\"");
        } else {
            assert!(
                challenge.starts_with(
                    "Bearer realm=\"docward\", error=\"invalid_token\", error_description=\""
                ),
                "{challenge}"
            );
            assert!(!challenge.contains("resource_metadata"), "{challenge}");
            // One quoted-string: the description's own quotes are escaped, `…` is spelled out.
            let description = challenge
                .split_once("error_description=\"")
                .unwrap()
                .1
                .strip_suffix('"')
                .unwrap();
            assert!(
                !description.replace("\\\"", "").contains('"'),
                "{challenge}"
            );
            assert!(!description.contains('\''), "stray quote: {challenge}");
        }
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["data"]["code"], code);
    }
    let log = server.log();
    assert!(
        !log.contains(revoked["token"].as_str().unwrap()) && !log.contains(&test_key),
        "a token reached the log"
    );
}

#[tokio::test]
async fn what_does_not_exist_is_404_and_each_transport_has_its_own_metadata() {
    let dir = setup("live", "pro");
    let server = HttpServer::start(&dir, "live", &[]);
    let http = crate::util::http_client();
    for path in [
        "/register",
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/mcp",
        "/.well-known/openid-configuration",
        "/authorize",
        "/token",
        "/no/such/path",
    ] {
        for key in [None, Some("dw_live_abc")] {
            let mut get = http.get(format!("{}{path}", server.base));
            if let Some(key) = key {
                get = get.header("authorization", format!("Bearer {key}"));
            }
            let response = get.send().await.unwrap();
            assert_eq!(response.status(), 404, "GET {path} with key {key:?}");
            assert!(
                !response.headers().contains_key("www-authenticate"),
                "{path}"
            );
        }
        let post = http
            .post(format!("{}{path}", server.base))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), 404, "POST {path}");
    }
    for (path, resource) in [
        ("", server.base.clone()),
        ("/mcp", server.mcp_url()),
        ("/sse", format!("{}/sse", server.base)),
    ] {
        let meta: Value = http
            .get(format!(
                "{}/.well-known/oauth-protected-resource{path}",
                server.base
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(meta["resource"], resource.as_str(), "{path}");
        assert!(meta.get("authorization_servers").is_none(), "{meta}");
    }
}

#[tokio::test]
async fn a_refused_sse_client_reads_the_refusal_on_a_short_lived_stream() {
    let dir = setup("live", "pro");
    let revoked = dir.key_json("acme", "live", &["--scope", "mcp:search"]);
    dir.cmd(&["key", "revoke", revoked["id"].as_str().unwrap()])
        .run();
    let key = revoked["token"].as_str().unwrap().to_owned();
    let other = dir.key("acme", "live", &[]);
    let server = HttpServer::start(&dir, "live", &[]);
    let (mut stream, endpoint) = open_sse(&server, &key).await;
    let send = |key: &str, body: Value| {
        crate::util::http_client()
            .post(format!("{}{endpoint}", server.base))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    // Another credential is not answered on this stream.
    assert_eq!(send(&other, initialize_body()).await.unwrap().status(), 404);
    assert_eq!(send(&key, initialize_body()).await.unwrap().status(), 202);
    let mut seen = String::new();
    while !seen.contains("\"id\":1") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk())
            .await
            .expect("no answer on the stream")
            .unwrap()
            .expect("stream ended");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let data = seen
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .find(|d| d.contains("\"id\":1"))
        .unwrap();
    let message: Value = serde_json::from_str(data.trim()).unwrap();
    assert_eq!(message["error"]["data"]["code"], "key_revoked", "{message}");
    assert!(
        message["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked on"),
        "{message}"
    );
    assert!(!seen.contains(&key), "the token went out on the stream");
}

#[tokio::test]
async fn a_key_in_the_url_is_refused() {
    let dir = setup("live", "pro");
    let key = dir.key("acme", "live", &[]);
    let server = HttpServer::start(&dir, "live", &[]);
    for query in [
        format!("api_key={key}"),
        format!("token={key}"),
        format!("x={key}"),
    ] {
        let response = crate::util::http_client()
            .post(format!("{}?{query}", server.mcp_url()))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(initialize_body().to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Authorization: Bearer")
        );
    }
    let sse = crate::util::http_client()
        .get(format!("{}/sse?api_key={key}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 400);
    assert!(!server.log().contains(&key));
}

#[tokio::test]
async fn a_missing_scope_is_a_tool_result_naming_the_scope_and_the_command() {
    let dir = setup("live", "pro");
    let key = dir.key("acme", "live", &["mcp:search"]);
    let server = HttpServer::start(&dir, "live", &[]);
    let session = open_session(&server, &key).await;
    let response = post_mcp(
        &server,
        Some(&key),
        Some(&session),
        &tool_call(
            "get_doc",
            json!({ "repo": "handbook", "path": "guide/keys.md" }),
        ),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body = rpc_body(response).await;
    assert_eq!(body["id"], 5);
    assert_eq!(body["result"]["isError"], true, "{body}");
    assert_eq!(
        body["result"]["structuredContent"]["error"]["code"],
        "missing_scope"
    );
    let shown = body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(shown.contains("lacks the scope mcp:get_doc"), "{shown}");
    assert!(
        shown.contains(
            "`docward key create --tenant acme --name NAME --env live --scope mcp:search --scope mcp:get_doc`"
        ),
        "{shown}"
    );
    let allowed = post_mcp(
        &server,
        Some(&key),
        Some(&session),
        &tool_call("search", json!({ "query": "bm25" })),
    )
    .await;
    assert_eq!(allowed.status(), 200);
    let result = rpc_body(allowed).await;
    assert_eq!(result["result"]["isError"], false, "{result}");
}

#[tokio::test]
async fn the_daily_quota_is_a_tool_result_with_ratelimit_headers() {
    let dir = setup_with("live", &["--plan", "free", "--daily-limit", "3"]);
    let key = dir.key("acme", "live", &["mcp:list_repos"]);
    let server = HttpServer::start(&dir, "live", &[]);
    let session = open_session(&server, &key).await;
    for remaining in [2, 1, 0] {
        let ok = post_mcp(
            &server,
            Some(&key),
            Some(&session),
            &tool_call("list_repos", json!({})),
        )
        .await;
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.headers()["ratelimit-limit"], "3");
        assert_eq!(
            ok.headers()["ratelimit-remaining"],
            remaining.to_string().as_str()
        );
        let _ = ok.text().await;
    }
    let refused = post_mcp(
        &server,
        Some(&key),
        Some(&session),
        &tool_call("list_repos", json!({})),
    )
    .await;
    assert_eq!(refused.status(), 200);
    let reset: u64 = refused.headers()["ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > 0 && reset <= 86_400);
    assert_eq!(refused.headers()["ratelimit-limit"], "3");
    assert_eq!(refused.headers()["ratelimit-remaining"], "0");
    let body = rpc_body(refused).await;
    assert_eq!(body["result"]["isError"], true, "{body}");
    let error = &body["result"]["structuredContent"]["error"];
    assert_eq!(error["code"], "quota_exceeded");
    assert_eq!(error["retry_after_secs"], reset);
    assert!(
        body["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("00:00 UTC")
    );
    // Listing tools is not a tool call: it is not counted, and still works.
    let list = post_mcp(
        &server,
        Some(&key),
        Some(&session),
        &json!({ "jsonrpc": "2.0", "id": 9, "method": "tools/list" }),
    )
    .await;
    assert_eq!(list.status(), 200);
}

#[tokio::test]
async fn the_burst_limit_is_a_tool_result_too() {
    let dir = setup("test", "pro");
    let key = dir.key("acme", "test", &["mcp:list_repos"]);
    let server = HttpServer::start(&dir, "test", &["--burst", "2"]);
    let session = open_session(&server, &key).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = post_mcp(
            &server,
            Some(&key),
            Some(&session),
            &tool_call("list_repos", json!({})),
        )
        .await;
        assert_eq!(r.status(), 200);
        let limited = r.headers().contains_key("ratelimit-reset");
        let body = rpc_body(r).await;
        let code = body["result"]["structuredContent"]["error"]["code"].clone();
        assert_eq!(limited, code == "rate_limited", "{body}");
        statuses.push(if code == "rate_limited" {
            "limited"
        } else {
            "ok"
        });
    }
    assert_eq!(&statuses[..2], &["ok", "ok"]);
    assert!(statuses.contains(&"limited"), "{statuses:?}");
}

#[tokio::test]
async fn revocation_refuses_the_next_request_of_an_open_http_session() {
    let dir = setup("live", "pro");
    let created = dir.key_json("acme", "live", &["--scope", "mcp:search"]);
    let key = created["token"].as_str().unwrap().to_owned();
    let server = HttpServer::start(&dir, "live", &[]);
    let client = http_session(&server, &key).await.unwrap();
    let ok = call(&client, "search", json!({ "query": "snippet" })).await;
    assert_ne!(ok.is_error, Some(true));
    let raw_session = open_session(&server, &key).await;
    dir.cmd(&["key", "revoke", created["id"].as_str().unwrap()])
        .run();
    let params = rmcp::model::CallToolRequestParams::new("search")
        .with_arguments(json!({ "query": "snippet" }).as_object().cloned().unwrap());
    let after = tokio::time::timeout(std::time::Duration::from_secs(20), client.call_tool(params))
        .await
        .unwrap()
        .expect("the refusal is a tool result");
    assert_eq!(refusal_code(&after).as_deref(), Some("key_revoked"));
    let raw = post_mcp(
        &server,
        Some(&key),
        Some(&raw_session),
        &tool_call("search", json!({ "query": "snippet" })),
    )
    .await;
    assert_eq!(raw.status(), 200);
    let body = rpc_body(raw).await;
    assert_eq!(
        body["result"]["structuredContent"]["error"]["code"],
        "key_revoked"
    );
    // A new session with the revoked key is refused at initialize.
    let again = post_mcp(&server, Some(&key), None, &initialize_body()).await;
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"]["data"]["code"], "key_revoked");
}

#[tokio::test]
async fn a_session_id_cannot_be_used_with_another_key() {
    let dir = setup("live", "pro");
    let alice = dir.key("acme", "live", &[]);
    let mallory = dir.key("acme", "live", &[]);
    let server = HttpServer::start(&dir, "live", &[]);
    let session = open_session(&server, &alice).await;
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let stolen = post_mcp(&server, Some(&mallory), Some(&session), &list).await;
    assert_eq!(stolen.status(), 403);
    let body: Value = stolen.json().await.unwrap();
    assert_eq!(body["error"]["data"]["code"], "session_key_mismatch");
    let own = post_mcp(&server, Some(&alice), Some(&session), &list).await;
    assert_eq!(own.status(), 200);
}

#[tokio::test]
async fn health_metadata_hosts_and_origins() {
    let dir = setup("live", "pro");
    let key = dir.key("acme", "live", &[]);
    let server = HttpServer::start(
        &dir,
        "live",
        &[
            "--public-url",
            "https://docs.example.com",
            "--allowed-origin",
            "https://app.example.com",
        ],
    );
    let http = crate::util::http_client();
    let health = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let meta: Value = http
        .get(format!(
            "{}/.well-known/oauth-protected-resource",
            server.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["resource"], "https://docs.example.com");
    assert_eq!(meta["bearer_methods_supported"], json!(["header"]));
    assert_eq!(meta["scopes_supported"].as_array().unwrap().len(), 5);
    let meta: Value = http
        .get(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            server.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["resource"], "https://docs.example.com/mcp");

    let post = |host: &'static str, origin: Option<&'static str>| {
        let mut r = http
            .post(server.mcp_url())
            .header("host", host)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(initialize_body().to_string());
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    assert_eq!(post("evil.example", None).await.unwrap().status(), 403);
    assert_eq!(post("docs.example.com", None).await.unwrap().status(), 200);
    assert_eq!(
        post("localhost", Some("https://evil.example"))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        post("localhost", Some("https://app.example.com"))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn sigterm_shuts_down_gracefully_and_usage_is_kept() {
    let dir = setup("live", "pro");
    let key = dir.key("acme", "live", &["mcp:list_repos"]);
    let server = HttpServer::start(&dir, "live", &[]);
    let session = open_session(&server, &key).await;
    for _ in 0..7 {
        let r = post_mcp(
            &server,
            Some(&key),
            Some(&session),
            &tool_call("list_repos", json!({})),
        )
        .await;
        assert_eq!(r.status(), 200);
        let _ = r.text().await;
    }
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let usage = dir
        .cmd(&["usage", "--tenant", "acme", "--json"])
        .run()
        .json();
    assert_eq!(usage["today"][0]["live_calls"], 7);
}

#[test]
fn the_official_python_sdk_works_over_streamable_http_and_legacy_sse() {
    let dir = setup("test", "pro");
    let full = dir.key(
        "acme",
        "test",
        &["mcp:search", "mcp:get_doc", "mcp:list_repos"],
    );
    let search_only = dir.key("acme", "test", &["mcp:search"]);
    let revoked = dir.key_json("acme", "test", &["--scope", "mcp:search"]);
    dir.cmd(&["key", "revoke", revoked["id"].as_str().unwrap()])
        .run();
    let server = HttpServer::start(&dir, "test", &[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/smoke_http.py");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let output = std::process::Command::new(&python)
        .arg(script)
        .env("DOCWARD_URL", &server.base)
        .env("DOCWARD_TEST_KEY_FULL", &full)
        .env("DOCWARD_TEST_KEY_SEARCH", &search_only)
        .env(
            "DOCWARD_TEST_KEY_REVOKED",
            revoked["token"].as_str().unwrap(),
        )
        .output()
        .unwrap_or_else(|e| panic!("could not run {python}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python http smoke failed\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver log:\n{}",
        server.log()
    );
    assert!(stdout.contains("all transports passed"), "{stdout}");
    let _ = docward_bin();
    let _ = refusal_code;
}

/// Opens a legacy SSE session by raw HTTP: returns the open event stream and the POST endpoint.
async fn open_sse(server: &HttpServer, key: &str) -> (reqwest::Response, String) {
    let mut stream = crate::util::http_client()
        .get(format!("{}/sse", server.base))
        .header("authorization", format!("Bearer {key}"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut seen = String::new();
    while !seen.contains("sessionId=") || !seen.contains('\n') {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk())
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
    (stream, endpoint)
}

#[tokio::test]
async fn a_legacy_sse_session_only_takes_messages_from_its_own_key() {
    let dir = setup("live", "pro");
    let alice = dir.key("acme", "live", &[]);
    let mallory = dir.key("acme", "live", &[]);
    let server = HttpServer::start(&dir, "live", &[]);
    let (_stream, endpoint) = open_sse(&server, &alice).await;
    assert!(endpoint.starts_with("/message?sessionId="), "{endpoint}");
    let post = |key: Option<String>, session_header: Option<&'static str>| {
        let mut r = crate::util::http_client()
            .post(format!("{}{endpoint}", server.base))
            .header("content-type", "application/json")
            .body(json!({ "jsonrpc": "2.0", "method": "notifications/cancelled", "params": { "requestId": 1 } }).to_string());
        if let Some(key) = key {
            r = r.header("authorization", format!("Bearer {key}"));
        }
        if let Some(h) = session_header {
            r = r.header("mcp-session-id", h);
        }
        r.send()
    };
    // Another key, even with a decoy session header, is refused; so are no key and a bad key.
    assert_eq!(
        post(Some(mallory.clone()), Some("decoy"))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(post(Some(mallory), None).await.unwrap().status(), 403);
    assert_eq!(post(None, None).await.unwrap().status(), 401);
    assert_eq!(
        post(Some("dw_live_garbage".into()), None)
            .await
            .unwrap()
            .status(),
        401
    );
    // The session's own key is accepted.
    assert_eq!(post(Some(alice), None).await.unwrap().status(), 202);
}

#[tokio::test]
async fn a_revoked_key_hears_its_refusal_on_its_own_sse_stream() {
    let dir = setup("live", "pro");
    let created = dir.key_json("acme", "live", &["--scope", "mcp:search"]);
    let key = created["token"].as_str().unwrap().to_owned();
    let server = HttpServer::start(&dir, "live", &[]);
    let (mut stream, endpoint) = open_sse(&server, &key).await;
    let send = |body: Value| {
        crate::util::http_client()
            .post(format!("{}{endpoint}", server.base))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let init = send(initialize_body()).await.unwrap();
    assert_eq!(init.status(), 202);
    send(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
        .await
        .unwrap();
    dir.cmd(&["key", "revoke", created["id"].as_str().unwrap()])
        .run();
    let call = send(tool_call("search", json!({ "query": "bm25" })))
        .await
        .unwrap();
    assert_eq!(call.status(), 202, "legacy SSE refusals go to the stream");
    let mut seen = String::new();
    while !seen.contains("\"id\":5") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk())
            .await
            .expect("no answer on the stream")
            .unwrap()
            .expect("stream ended");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("key_revoked"), "{seen}");
    assert!(seen.contains("\"isError\":true"), "{seen}");
}

#[tokio::test]
async fn after_a_restart_a_call_in_a_forgotten_session_is_not_billed() {
    let dir = setup_with("live", &["--plan", "free", "--daily-limit", "5"]);
    let key = dir.key("acme", "live", &["mcp:list_repos"]);
    let first = HttpServer::start(&dir, "live", &[]);
    let session = open_session(&first, &key).await;
    drop(first);
    let second = HttpServer::start(&dir, "live", &[]);
    let stale = post_mcp(
        &second,
        Some(&key),
        Some(&session),
        &tool_call("list_repos", json!({})),
    )
    .await;
    assert_eq!(
        stale.status(),
        404,
        "the client is told to open a new session"
    );
    let usage = dir
        .cmd(&["usage", "--tenant", "acme", "--json"])
        .run()
        .json();
    assert_eq!(usage["today"][0]["live_calls"], 0, "{usage}");
    // A new session works and is billed once per call.
    let fresh = open_session(&second, &key).await;
    let ok = post_mcp(
        &second,
        Some(&key),
        Some(&fresh),
        &tool_call("list_repos", json!({})),
    )
    .await;
    assert_eq!(ok.status(), 200);
    let _ = ok.text().await;
    let usage = dir
        .cmd(&["usage", "--tenant", "acme", "--json"])
        .run()
        .json();
    assert_eq!(usage["today"][0]["live_calls"], 1, "{usage}");
}
