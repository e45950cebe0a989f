//! End-to-end tests of the REST API at `/v1`: `docward serve --http` spoken to with plain HTTP
//! (every route, every refusal, quota and refunds, tenant isolation) and by schemathesis
//! against the server's own OpenAPI document.

use std::time::Duration;

use serde_json::{Value, json};

use crate::util::{HttpServer, TestDir, setup, setup_with};

/// A request to the server with an optional Bearer key.
fn request(
    server: &HttpServer,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut builder = crate::util::http_client().request(method, format!("{}{path}", server.base));
    if let Some(key) = key {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    builder
}

async fn get(server: &HttpServer, path: &str, key: Option<&str>) -> reqwest::Response {
    request(server, reqwest::Method::GET, path, key)
        .send()
        .await
        .expect("HTTP request")
}

/// The status and JSON body of a success.
async fn ok_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let ctype = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.text().await.unwrap();
    assert!(
        (200..300).contains(&status),
        "expected a success, got {status}: {body}"
    );
    assert!(ctype.starts_with("application/json"), "{ctype}");
    (status, serde_json::from_str(&body).unwrap())
}

/// The problem body of a refusal, checked for its RFC 9457 shape and its status.
async fn problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "for {code}"
    );
    let got = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["type"], format!("urn:docward:problem:{code}"));
    for field in ["title", "detail", "fix"] {
        assert!(
            body[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}: {body}"
        );
    }
    body
}

/// Polls a job until it ends.
async fn wait_for_job(server: &HttpServer, id: &str, key: &str) -> Value {
    for _ in 0..200 {
        let (_, job) = ok_json(get(server, &format!("/v1/jobs/{id}"), Some(key)).await).await;
        if job["status"] == "succeeded" || job["status"] == "failed" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} did not end");
}

#[tokio::test]
async fn every_read_route_answers_a_key_that_holds_its_scope() {
    let dir = setup("live", "pro");
    let key = dir.key("acme", "live", &[]);
    let server = HttpServer::start(&dir, "live", &[]);

    let (_, repos) = ok_json(get(&server, "/v1/repos", Some(&key)).await).await;
    assert_eq!(repos["repos"][0]["name"], "handbook");
    assert_eq!(repos["repos"][0]["documents"], 3);
    assert_eq!(repos["repos"][0]["source_kind"], "folder");
    let server_path = dir.path().to_str().unwrap().to_owned();
    assert!(
        !repos.to_string().contains(&server_path),
        "a server path leaked: {repos}"
    );

    let (_, repo) = ok_json(get(&server, "/v1/repos/handbook", Some(&key)).await).await;
    assert_eq!(repo["settings"]["ignore"], json!([]));
    assert!(
        repo["indexed_at"].as_str().unwrap().ends_with('Z'),
        "{repo}"
    );
    assert!(!repo.to_string().contains(&server_path), "{repo}");

    let response = get(&server, "/v1/search?q=rotating%20keys&limit=2", Some(&key)).await;
    assert!(response.headers().contains_key("ratelimit-remaining"));
    let (_, found) = ok_json(response).await;
    assert_eq!(found["results"][0]["path"], "guide/keys.md", "{found}");
    assert!(found["results"].as_array().unwrap().len() <= 2);

    let (_, doc) =
        ok_json(get(&server, "/v1/docs/handbook/guide/search.md", Some(&key)).await).await;
    assert!(doc["content"].as_str().unwrap().contains("BM25"), "{doc}");
    assert_eq!(doc["first_section"], 0);
    let (_, encoded) = ok_json(
        get(
            &server,
            "/v1/docs/handbook/guide%2Fsearch.md?section=1",
            Some(&key),
        )
        .await,
    )
    .await;
    assert_eq!(encoded["first_section"], 1, "{encoded}");
    assert!(encoded["content"].as_str().unwrap().contains("Snippets"));

    let (_, usage) = ok_json(get(&server, "/v1/usage", Some(&key)).await).await;
    assert_eq!(usage["tenant"], "acme");
    assert_eq!(usage["plan"], "pro");
    assert_eq!(usage["limits"]["daily_live_calls"], 10_000);
    // repos, repo, search, two docs: five counted calls; usage itself is not counted.
    assert_eq!(usage["today"]["live_calls"], 5, "{usage}");
    assert_eq!(usage["days"][0]["calls"], 5, "{usage}");
    assert_eq!(usage["days"][0]["env"], "live");

    // The document is open, and is OpenAPI 3.1.
    let (_, spec) = ok_json(get(&server, "/v1/openapi.json", None).await).await;
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(spec["paths"]["/v1/repos/{name}/sync"]["post"].is_object());

    // Library errors are problems too.
    problem(
        get(&server, "/v1/repos/nope", Some(&key)).await,
        404,
        "unknown_repo",
    )
    .await;
    problem(
        get(&server, "/v1/docs/handbook/missing.md", Some(&key)).await,
        404,
        "unknown_doc",
    )
    .await;
    problem(
        get(&server, "/v1/search?q=x&limit=0", Some(&key)).await,
        400,
        "bad_request",
    )
    .await;
    problem(
        get(&server, "/v1/search", Some(&key)).await,
        400,
        "bad_request",
    )
    .await;
    problem(
        get(&server, "/v1/docs/handbook/README.md?section=9", Some(&key)).await,
        400,
        "section_out_of_range",
    )
    .await;
    problem(
        get(&server, "/v1/nowhere", Some(&key)).await,
        404,
        "not_found",
    )
    .await;
    // The failed calls were refunded: still five.
    let (_, usage) = ok_json(get(&server, "/v1/usage", Some(&key)).await).await;
    assert_eq!(usage["today"]["live_calls"], 5, "{usage}");
}

#[tokio::test]
async fn settings_change_and_a_sync_job_reindexes_with_them() {
    let dir = setup("test", "pro");
    let writer = dir.key("acme", "test", &["repo:read", "repo:write", "mcp:search"]);
    let server = HttpServer::start(&dir, "test", &[]);
    let patch = |body: String| {
        request(
            &server,
            reqwest::Method::PATCH,
            "/v1/repos/handbook",
            Some(&writer),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
    };

    // Bad settings are refused with the reason.
    let bad = problem(
        patch(json!({"ignore": ["[z-a]"]}).to_string())
            .await
            .unwrap(),
        422,
        "invalid_setting",
    )
    .await;
    assert!(
        bad["detail"].as_str().unwrap().contains("pattern 0"),
        "{bad}"
    );
    problem(
        patch(json!({"ignore": [""]}).to_string()).await.unwrap(),
        422,
        "invalid_setting",
    )
    .await;
    let unknown = problem(
        patch(json!({"colour": "red"}).to_string()).await.unwrap(),
        400,
        "bad_request",
    )
    .await;
    assert!(
        unknown["detail"].as_str().unwrap().contains("colour"),
        "{unknown}"
    );
    problem(
        patch("not json".to_owned()).await.unwrap(),
        400,
        "bad_request",
    )
    .await;

    let (_, patched) = ok_json(
        patch(json!({"ignore": ["guide/"]}).to_string())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(patched["repo"]["settings"]["ignore"], json!(["guide/"]));
    assert!(patched["note"].as_str().unwrap().contains("/sync"));
    let (_, repo) = ok_json(get(&server, "/v1/repos/handbook", Some(&writer)).await).await;
    assert_eq!(repo["settings"]["ignore"], json!(["guide/"]), "persisted");
    assert_eq!(repo["documents"], 3, "not applied before a sync");

    let response = request(
        &server,
        reqwest::Method::POST,
        "/v1/repos/handbook/sync",
        Some(&writer),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let job: Value = response.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/jobs/{id}"));
    assert!(["queued", "running", "succeeded"].contains(&job["status"].as_str().unwrap()));

    let done = wait_for_job(&server, &id, &writer).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["result"]["removed"], 2, "{done}");
    assert_eq!(done["result"]["documents"], 1, "{done}");
    assert_eq!(done["progress"]["files_total"], 1, "{done}");
    assert!(done["finished_at"].is_string());
    let (_, repo) = ok_json(get(&server, "/v1/repos/handbook", Some(&writer)).await).await;
    assert_eq!(repo["documents"], 1);
    let (_, found) = ok_json(get(&server, "/v1/search?q=rotating", Some(&writer)).await).await;
    assert_eq!(found["results"], json!([]), "ignored files left the index");

    // The settings survive a restart, and a sync after clearing them brings the files back.
    drop(server);
    let server = HttpServer::start(&dir, "test", &[]);
    let (_, repo) = ok_json(get(&server, "/v1/repos/handbook", Some(&writer)).await).await;
    assert_eq!(repo["settings"]["ignore"], json!(["guide/"]));
    let cleared = request(
        &server,
        reqwest::Method::PATCH,
        "/v1/repos/handbook",
        Some(&writer),
    )
    .body(json!({"ignore": []}).to_string())
    .send()
    .await
    .unwrap();
    ok_json(cleared).await;
    let response = request(
        &server,
        reqwest::Method::POST,
        "/v1/repos/handbook/sync",
        Some(&writer),
    )
    .send()
    .await
    .unwrap();
    let job: Value = response.json().await.unwrap();
    let done = wait_for_job(&server, job["id"].as_str().unwrap(), &writer).await;
    assert_eq!(done["result"]["added"], 2, "{done}");

    // Unknown repos and jobs are 404.
    let sync_unknown = request(
        &server,
        reqwest::Method::POST,
        "/v1/repos/nope/sync",
        Some(&writer),
    )
    .send()
    .await
    .unwrap();
    problem(sync_unknown, 404, "unknown_repo").await;
    problem(
        get(&server, "/v1/jobs/job_0", Some(&writer)).await,
        404,
        "unknown_job",
    )
    .await;
    // The job from before the restart is gone with that process.
    problem(
        get(&server, &format!("/v1/jobs/{id}"), Some(&writer)).await,
        404,
        "unknown_job",
    )
    .await;
}

#[tokio::test]
async fn a_sync_of_a_repo_whose_folder_is_gone_is_refused_without_naming_the_folder() {
    let dir = setup("test", "pro");
    let key = dir.key("acme", "test", &["repo:write"]);
    std::fs::rename(dir.path().join("handbook"), dir.path().join("moved")).unwrap();
    let server = HttpServer::start(&dir, "test", &[]);
    let response = request(
        &server,
        reqwest::Method::POST,
        "/v1/repos/handbook/sync",
        Some(&key),
    )
    .send()
    .await
    .unwrap();
    let body = problem(response, 409, "source_missing").await;
    assert!(
        !body.to_string().contains(dir.path().to_str().unwrap()),
        "{body}"
    );
}

#[tokio::test]
async fn every_key_refusal_is_a_problem_with_the_mcp_code() {
    let dir = setup("live", "pro");
    let revoked = dir.key_json("acme", "live", &["--scope", "repo:read"]);
    dir.cmd(&["key", "revoke", revoked["id"].as_str().unwrap()])
        .run();
    let expiring = dir.key_json(
        "acme",
        "live",
        &["--scope", "repo:read", "--expires-in", "1s"],
    );
    let test_key = dir.key("acme", "test", &["repo:read"]);
    let search_only = dir.key("acme", "live", &["mcp:search"]);
    let server = HttpServer::start(&dir, "live", &[]);
    let mistyped = format!("dw_live_{}", "0".repeat(49));
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // No key: a challenge without an error code (RFC 6750 §3.1).
    let missing = get(&server, "/v1/repos", None).await;
    assert_eq!(
        missing.headers()["www-authenticate"],
        "Bearer realm=\"docward\""
    );
    problem(missing, 401, "missing_key").await;
    let cases: [(&str, &str, &str); 5] = [
        ("not-a-key", "malformed_key", "dw_live_"),
        (&mistyped, "bad_checksum", "mistyped"),
        (
            revoked["token"].as_str().unwrap(),
            "key_revoked",
            "revoked on",
        ),
        (
            expiring["token"].as_str().unwrap(),
            "key_expired",
            "expired on",
        ),
        (
            &test_key,
            "wrong_env",
            "test key used against a live server",
        ),
    ];
    for (key, code, hint) in cases {
        for path in ["/v1/repos", "/v1/usage", "/v1/jobs/job_1", "/v1/search?q=x"] {
            let response = get(&server, path, Some(key)).await;
            let challenge = response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
            let body = problem(response, 401, code).await;
            assert!(body["detail"].as_str().unwrap().contains(hint), "{body}");
        }
    }

    // Missing scopes: 403 naming the scope, on every scoped route.
    let scoped: [(reqwest::Method, &str, &str); 6] = [
        (reqwest::Method::GET, "/v1/repos", "repo:read"),
        (reqwest::Method::GET, "/v1/repos/handbook", "repo:read"),
        (reqwest::Method::PATCH, "/v1/repos/handbook", "repo:write"),
        (
            reqwest::Method::POST,
            "/v1/repos/handbook/sync",
            "repo:write",
        ),
        (reqwest::Method::GET, "/v1/jobs/job_1", "repo:read"),
        (
            reqwest::Method::GET,
            "/v1/docs/handbook/README.md",
            "mcp:get_doc",
        ),
    ];
    for (method, path, scope) in scoped {
        let response = request(&server, method, path, Some(&search_only))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("insufficient_scope"),
            "{path}"
        );
        let body = problem(response, 403, "missing_scope").await;
        assert_eq!(body["scope"], scope, "{path}: {body}");
        assert!(body["fix"].as_str().unwrap().contains(scope), "{body}");
    }
    // A scope-less key still reads its usage.
    ok_json(get(&server, "/v1/usage", Some(&search_only)).await).await;

    // Keys in the URL and doubled Authorization headers are refused before anything else.
    let key = search_only.clone();
    problem(
        get(&server, &format!("/v1/search?q=x&api_key={key}"), None).await,
        400,
        "key_in_url",
    )
    .await;
    let doubled = crate::util::http_client()
        .get(format!("{}/v1/usage", server.base))
        .header("authorization", format!("Bearer {key}"))
        .header("authorization", format!("Bearer {key}"))
        .send()
        .await
        .unwrap();
    problem(doubled, 400, "duplicate_authorization").await;

    let log = server.log();
    for token in [revoked["token"].as_str().unwrap(), &test_key, &search_only] {
        assert!(!log.contains(token), "a token reached the log");
    }
}

#[tokio::test]
async fn the_daily_quota_counts_successes_and_refuses_with_429() {
    let dir = setup_with("live", &["--plan", "free", "--daily-limit", "3"]);
    let key = dir.key("acme", "live", &[]);
    let server = HttpServer::start(&dir, "live", &[]);
    for i in 0..3u64 {
        // A failed call is refunded and leaves the count alone.
        problem(
            get(&server, "/v1/repos/nope", Some(&key)).await,
            404,
            "unknown_repo",
        )
        .await;
        let response = get(&server, "/v1/search?q=keys", Some(&key)).await;
        assert_eq!(response.headers()["ratelimit-limit"], "3");
        assert_eq!(
            response.headers()["ratelimit-remaining"].to_str().unwrap(),
            (2 - i).to_string()
        );
        ok_json(response).await;
    }
    let over = get(&server, "/v1/repos", Some(&key)).await;
    let retry: u64 = over.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 86_400, "{retry}");
    let body = problem(over, 429, "quota_exceeded").await;
    assert_eq!(body["limit"], 3);
    assert!(body["resets_at"].as_str().unwrap().ends_with('Z'));
    // Usage and jobs are not counted: they still answer.
    let (_, usage) = ok_json(get(&server, "/v1/usage", Some(&key)).await).await;
    assert_eq!(usage["today"]["live_calls"], 3, "{usage}");
    assert_eq!(usage["today"]["remaining"], 0, "{usage}");
    problem(
        get(&server, "/v1/jobs/job_1", Some(&key)).await,
        404,
        "unknown_job",
    )
    .await;
}

#[tokio::test]
async fn the_burst_limit_applies_to_counted_and_uncounted_routes() {
    let dir = setup("test", "pro");
    let key = dir.key("acme", "test", &[]);
    let server = HttpServer::start(&dir, "test", &["--burst", "2"]);
    for path in ["/v1/usage", "/v1/repos"] {
        let mut limited = None;
        for _ in 0..6 {
            let response = get(&server, path, Some(&key)).await;
            if response.status() == 429 {
                limited = Some(response);
                break;
            }
        }
        let response = limited.unwrap_or_else(|| panic!("{path} was never rate limited"));
        assert!(response.headers().contains_key("retry-after"));
        problem(response, 429, "rate_limited").await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
}

#[tokio::test]
async fn a_key_of_another_tenant_sees_nothing_of_this_one() {
    let dir = setup("test", "pro");
    dir.tenant("beta", "pro");
    let acme_key = dir.key_json("acme", "test", &["--type", "unrestricted"]);
    let acme = acme_key["token"].as_str().unwrap().to_owned();
    let beta = dir.key("beta", "test", &[]);
    let server = HttpServer::start(&dir, "test", &[]);
    let response = request(
        &server,
        reqwest::Method::POST,
        "/v1/repos/handbook/sync",
        Some(&acme),
    )
    .send()
    .await
    .unwrap();
    let job: Value = response.json().await.unwrap();
    let id = job["id"].as_str().unwrap();
    wait_for_job(&server, id, &acme).await;

    problem(
        get(&server, &format!("/v1/jobs/{id}"), Some(&beta)).await,
        404,
        "unknown_job",
    )
    .await;
    let (_, repos) = ok_json(get(&server, "/v1/repos", Some(&beta)).await).await;
    assert_eq!(repos["repos"], json!([]));
    problem(
        get(&server, "/v1/repos/handbook", Some(&beta)).await,
        404,
        "unknown_repo",
    )
    .await;
    problem(
        get(&server, "/v1/docs/handbook/README.md", Some(&beta)).await,
        404,
        "unknown_repo",
    )
    .await;
    let sync = request(
        &server,
        reqwest::Method::POST,
        "/v1/repos/handbook/sync",
        Some(&beta),
    )
    .send()
    .await
    .unwrap();
    problem(sync, 404, "unknown_repo").await;
    let (_, found) = ok_json(get(&server, "/v1/search?q=keys", Some(&beta)).await).await;
    assert_eq!(found["results"], json!([]));
    let (_, usage) = ok_json(get(&server, "/v1/usage", Some(&beta)).await).await;
    assert_eq!(usage["tenant"], "beta");
    assert!(
        usage["days"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["key_id"] != acme_key["id"]),
        "{usage}"
    );
}

/// Whether tests that need an external tool must fail when it is missing.
fn require_all() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("DOCWARD_REQUIRE_ALL").is_some()
}

#[test]
fn schemathesis_finds_no_server_error_and_no_response_off_the_schema() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let probe = std::process::Command::new(&python)
        .args(["-c", "import schemathesis"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        assert!(
            !require_all(),
            "schemathesis is missing: run `{python} -m pip install -r tests/python/requirements.txt`"
        );
        eprintln!(
            "skipped: schemathesis is not installed for {python} (pip install -r tests/python/requirements.txt)"
        );
        return;
    }
    let dir = TestDir::new();
    dir.tenant("acme", "pro");
    dir.sample_docs("handbook");
    dir.repo("handbook", "acme", "test", "handbook");
    let key = dir.key("acme", "test", &[]);
    let server = HttpServer::start(&dir, "test", &["--burst", "10000"]);
    let output = std::process::Command::new(&python)
        .args(["-m", "schemathesis.cli", "run"])
        .arg(format!("{}/v1/openapi.json", server.base))
        .args(["--url", &server.base])
        .args(["--header", &format!("Authorization: Bearer {key}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance",
        ])
        .args(["--max-examples", "40", "--seed", "7", "--workers", "1"])
        .args(["--no-color", "--warnings", "off"])
        .current_dir(dir.path())
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis failed\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver log:\n{}",
        server.log()
    );
    assert!(!server.log().contains("panicked"), "{}", server.log());
    eprintln!(
        "{}",
        stdout.lines().rev().take(12).collect::<Vec<_>>().join("\n")
    );
}
