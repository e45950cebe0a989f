//! The web console at `/console` of the real `docward serve --http`: sign-in links, cookies,
//! CSRF and Origin checks, tenant isolation, `console logout --all`, and a headless-Chromium run
//! of the whole key lifecycle (tests/browser).

use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, HeaderMap, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::Value;

use crate::util::{HttpServer, TestDir, setup};

/// A client that does not follow redirects (the sign-in answer is a 303 with the cookie).
fn client() -> reqwest::Client {
    crate::util::http_client_builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// `docward console link` against the data dir of a running server.
fn link(dir: &TestDir, server: &HttpServer, tenant: Option<&str>) -> String {
    let mut args = vec!["console", "link", "--quiet", "--url", &server.base];
    if let Some(t) = tenant {
        args.extend(["--tenant", t]);
    }
    dir.cmd(&args).run().stdout_line()
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn get(url: &str, cookie: Option<&str>) -> Answer {
    let mut request = client().get(url);
    if let Some(c) = cookie {
        request = request.header(COOKIE, format!("docward_console={c}"));
    }
    answer(request.send().await.unwrap()).await
}

async fn post(
    server: &HttpServer,
    path: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
    form: &[(&str, &str)],
) -> Answer {
    let mut request = client()
        .post(format!("{}{path}", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(form));
    if let Some(c) = cookie {
        request = request.header(COOKIE, format!("docward_console={c}"));
    }
    if let Some(o) = origin {
        request = request.header(ORIGIN, o);
    }
    answer(request.send().await.unwrap()).await
}

fn encode(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn answer(response: reqwest::Response) -> Answer {
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

/// Visits a sign-in link: returns the session cookie's value and the whole Set-Cookie header.
async fn sign_in(url: &str) -> (String, String) {
    let visit = get(url, None).await;
    assert_eq!(visit.status, StatusCode::SEE_OTHER, "{}", visit.body);
    assert_eq!(visit.headers[LOCATION], "/console/keys");
    let set_cookie = visit.headers[SET_COOKIE].to_str().unwrap().to_owned();
    let value = set_cookie
        .strip_prefix("docward_console=")
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    (value, set_cookie)
}

/// The CSRF token of a page's forms.
fn csrf(page: &str) -> String {
    let start = page
        .find(r#"name="csrf" value=""#)
        .expect("a form with a CSRF token")
        + 19;
    page[start..start + 64].to_owned()
}

fn keys_of(dir: &TestDir, tenant: &str) -> Vec<Value> {
    dir.cmd(&["key", "list", "--tenant", tenant, "--json"])
        .run()
        .json()
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_sign_in_link_works_once_and_sets_a_strict_http_only_cookie() {
    let dir = setup("test", "pro");
    let api_key = dir.key("acme", "test", &["mcp:search"]);
    let server = HttpServer::start(&dir, "test", &[]);
    let url = link(&dir, &server, None);
    assert!(
        url.starts_with(&format!("{}/console/link/dwl_", server.base)),
        "{url}"
    );

    let (session, set_cookie) = sign_in(&url).await;
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age="] {
        assert!(set_cookie.contains(flag), "{flag} missing: {set_cookie}");
    }
    assert!(
        !set_cookie.contains("Secure"),
        "no Secure over plain http: {set_cookie}"
    );

    // The link died with its first use.
    let again = get(&url, None).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert!(again.body.contains("does not work"), "{}", again.body);
    assert!(again.headers.get(SET_COOKIE).is_none());

    let keys = get(&format!("{}/console/keys", server.base), Some(&session)).await;
    assert_eq!(keys.status, StatusCode::OK, "{}", keys.body);
    assert!(keys.body.contains("Create API key"));
    assert_eq!(keys.headers["cache-control"], "no-store");
    assert!(
        keys.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );

    // No session, a made-up session, an API key as a cookie or a Bearer header: signed out.
    let base = format!("{}/console/keys", server.base);
    assert_eq!(get(&base, None).await.status, StatusCode::UNAUTHORIZED);
    let fake = format!("dws_{}", "A".repeat(43));
    assert_eq!(
        get(&base, Some(&fake)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&base, Some(&api_key)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let bearer = client()
        .get(&base)
        .bearer_auth(&api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);
    // An API key is not a sign-in link either.
    let as_link = get(&format!("{}/console/link/{api_key}", server.base), None).await;
    assert_eq!(as_link.status, StatusCode::FORBIDDEN);
    assert!(as_link.headers.get(SET_COOKIE).is_none());
    // A tenant link for a tenant that does not exist is refused by the CLI.
    let unknown = dir
        .cmd(&[
            "console",
            "link",
            "--tenant",
            "nobody",
            "--url",
            &server.base,
        ])
        .run_fail();
    assert!(
        unknown.stderr().contains("docward tenant list"),
        "{}",
        unknown.stderr()
    );
    // Nothing secret reaches the server's log.
    let log = server.log();
    assert!(!log.contains(&session) && !log.contains(&url) && !log.contains(&api_key));
}

#[tokio::test]
async fn a_link_expires_and_an_https_public_url_makes_the_cookie_secure() {
    let dir = setup("test", "pro");
    let server = HttpServer::start(&dir, "test", &["--public-url", "https://docs.example.com"]);
    let short = dir
        .cmd(&[
            "console",
            "link",
            "--quiet",
            "--ttl",
            "1m",
            "--url",
            &server.base,
        ])
        .run()
        .stdout_line();
    let (_, set_cookie) = sign_in(&short).await;
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    let bad_ttl = dir
        .cmd(&["console", "link", "--ttl", "5s", "--url", &server.base])
        .run_fail();
    assert!(
        bad_ttl.stderr().contains("--ttl 15m"),
        "{}",
        bad_ttl.stderr()
    );
}

#[tokio::test]
async fn forms_need_the_sessions_csrf_token_and_the_consoles_own_origin() {
    let dir = setup("test", "pro");
    let server = HttpServer::start(&dir, "test", &[]);
    let (session, _) = sign_in(&link(&dir, &server, None)).await;
    let (other, _) = sign_in(&link(&dir, &server, None)).await;
    let page = get(
        &format!("{}/console/keys?tenant=acme", server.base),
        Some(&session),
    )
    .await;
    let token = csrf(&page.body);
    let other_page = get(&format!("{}/console/keys", server.base), Some(&other)).await;
    let other_token = csrf(&other_page.body);
    assert_ne!(token, other_token, "each session has its own token");
    let origin = server.base.as_str();
    let form = |csrf: &str| {
        vec![
            ("csrf", csrf.to_owned()),
            ("tenant", "acme".to_owned()),
            ("name", "from the console".to_owned()),
            ("env", "test".to_owned()),
            ("type", "restricted".to_owned()),
            ("scope", "mcp:search".to_owned()),
            ("scope", "mcp:get_doc".to_owned()),
            ("expiry", "90".to_owned()),
        ]
    };
    let cases: Vec<(&str, Option<&str>, String, &str)> = vec![
        ("no token", Some(origin), String::new(), "security token"),
        (
            "a wrong token",
            Some(origin),
            "0".repeat(64),
            "security token",
        ),
        (
            "another session's token",
            Some(origin),
            other_token.clone(),
            "security token",
        ),
        ("no Origin", None, token.clone(), "another site"),
        (
            "a foreign Origin",
            Some("http://evil.example"),
            token.clone(),
            "another site",
        ),
        (
            "a look-alike Origin",
            Some("http://127.0.0.1:1"),
            token.clone(),
            "another site",
        ),
    ];
    for (what, origin, csrf, says) in cases {
        let fields = form(&csrf);
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let refused = post(&server, "/console/keys", Some(&session), origin, &fields).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{what}: {}",
            refused.body
        );
        assert!(refused.body.contains(says), "{what}: {}", refused.body);
    }
    assert!(
        keys_of(&dir, "acme").is_empty(),
        "no refused form created a key"
    );

    // The same form with the token and the console's origin creates a key, shown once.
    let fields = form(&token);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let created = post(
        &server,
        "/console/keys",
        Some(&session),
        Some(origin),
        &fields,
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(created.headers["cache-control"], "no-store");
    let start = created
        .body
        .find("value=\"dw_test_")
        .expect("the key in the dialog")
        + 7;
    let key = &created.body[start..start + 57];
    let listed = keys_of(&dir, "acme");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "from the console");
    assert_eq!(
        listed[0]["scopes"],
        serde_json::json!(["mcp:search", "mcp:get_doc"])
    );
    // The key works, and no page after the dialog holds it.
    let check = dir
        .cmd(&["key", "verify"])
        .env("DOCWARD_API_KEY", key)
        .run();
    assert!(
        check.stdout().contains("from the console"),
        "{}",
        check.stdout()
    );
    for path in [
        "/console/keys?tenant=acme",
        "/console/usage",
        "/console/plan",
    ] {
        let page = get(&format!("{}{path}", server.base), Some(&session)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains(key), "{path} shows the key");
    }
    // Logging out needs the token too, and ends only this session.
    let out = post(
        &server,
        "/console/logout",
        Some(&session),
        Some(origin),
        &[("csrf", &other_token)],
    )
    .await;
    assert_eq!(out.status, StatusCode::FORBIDDEN);
    let out = post(
        &server,
        "/console/logout",
        Some(&session),
        Some(origin),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(
        out.headers[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let base = format!("{}/console/keys", server.base);
    assert_eq!(
        get(&base, Some(&session)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(get(&base, Some(&other)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_tenant_link_sees_and_revokes_only_its_own_keys() {
    let dir = setup("test", "pro");
    dir.tenant("globex", "free");
    let ours = dir.key_json("acme", "test", &["--scope", "mcp:search"]);
    let theirs = dir.key_json("globex", "test", &["--scope", "mcp:search"]);
    let (our_id, their_id) = (ours["id"].as_str().unwrap(), theirs["id"].as_str().unwrap());
    let their_prefix = theirs["prefix"].as_str().unwrap();
    let server = HttpServer::start(&dir, "test", &[]);
    let origin = server.base.as_str();
    let (session, _) = sign_in(&link(&dir, &server, Some("acme"))).await;

    for path in [
        "/console/keys",
        "/console/keys?tenant=globex",
        "/console/usage?tenant=globex",
    ] {
        let page = get(&format!("{}{path}", server.base), Some(&session)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            page.body.contains(our_id) || path.contains("usage"),
            "{path}"
        );
        assert!(!page.body.contains(their_id), "{path} shows globex's key");
        assert!(
            !page.body.contains(their_prefix),
            "{path} shows globex's prefix"
        );
        assert!(
            !page.body.contains("globex"),
            "{path} names the other tenant"
        );
    }
    let page = get(&format!("{}/console/keys", server.base), Some(&session)).await;
    let token = csrf(&page.body);
    let confirm = get(
        &format!("{}/console/keys/{their_id}/revoke", server.base),
        Some(&session),
    )
    .await;
    assert_eq!(confirm.status, StatusCode::NOT_FOUND);
    let revoke = post(
        &server,
        &format!("/console/keys/{their_id}/revoke"),
        Some(&session),
        Some(origin),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(revoke.status, StatusCode::NOT_FOUND);
    let rotate = post(
        &server,
        &format!("/console/keys/{their_id}/rotate"),
        Some(&session),
        Some(origin),
        &[("csrf", &token), ("grace", "0")],
    )
    .await;
    assert_eq!(rotate.status, StatusCode::NOT_FOUND);
    // Creating "for" another tenant creates for one's own.
    let created = post(
        &server,
        "/console/keys",
        Some(&session),
        Some(origin),
        &[
            ("csrf", &token),
            ("tenant", "globex"),
            ("name", "sneaky"),
            ("env", "test"),
            ("type", "unrestricted"),
            ("expiry", "30"),
        ],
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(keys_of(&dir, "globex").len(), 1);
    assert!(keys_of(&dir, "acme").iter().any(|k| k["name"] == "sneaky"));
    assert_eq!(keys_of(&dir, "globex")[0]["status"], "active");
    // Operator-only forms are refused to a tenant.
    let plan = post(
        &server,
        "/console/plan",
        Some(&session),
        Some(origin),
        &[("csrf", &token), ("tenant", "acme"), ("plan", "enterprise")],
    )
    .await;
    assert_eq!(plan.status, StatusCode::FORBIDDEN);
    let add = post(
        &server,
        "/console/repos",
        Some(&session),
        Some(origin),
        &[
            ("csrf", &token),
            ("tenant", "acme"),
            ("env", "test"),
            ("folder", "/etc"),
        ],
    )
    .await;
    assert_eq!(add.status, StatusCode::FORBIDDEN);
    // Its own key it can revoke, after the confirmation page.
    let confirm = get(
        &format!("{}/console/keys/{our_id}/revoke", server.base),
        Some(&session),
    )
    .await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("Revoke key"));
    let revoke = post(
        &server,
        &format!("/console/keys/{our_id}/revoke"),
        Some(&session),
        Some(origin),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(revoke.status, StatusCode::SEE_OTHER, "{}", revoke.body);
    let ours_now = keys_of(&dir, "acme");
    assert_eq!(
        ours_now.iter().find(|k| k["id"] == our_id).unwrap()["status"],
        "revoked"
    );

    // The operator sees both tenants and changes a plan.
    let (operator, _) = sign_in(&link(&dir, &server, None)).await;
    let page = get(
        &format!("{}/console/keys?tenant=globex", server.base),
        Some(&operator),
    )
    .await;
    assert!(page.body.contains(their_id));
    let token = csrf(&page.body);
    let plan = post(
        &server,
        "/console/plan",
        Some(&operator),
        Some(origin),
        &[
            ("csrf", &token),
            ("tenant", "globex"),
            ("plan", "pro"),
            ("daily_limit", ""),
            ("max_keys", ""),
        ],
    )
    .await;
    assert_eq!(plan.status, StatusCode::OK, "{}", plan.body);
    let tenants = dir.cmd(&["tenant", "list", "--json"]).run().json();
    let globex = tenants
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "globex")
        .unwrap()
        .clone();
    assert_eq!(globex["plan"], "pro");
}

#[tokio::test]
async fn logout_all_ends_every_session_and_unused_link() {
    let dir = setup("test", "pro");
    let server = HttpServer::start(&dir, "test", &[]);
    let (first, _) = sign_in(&link(&dir, &server, None)).await;
    let (second, _) = sign_in(&link(&dir, &server, Some("acme"))).await;
    let unused = link(&dir, &server, None);
    let base = format!("{}/console/keys", server.base);
    assert_eq!(get(&base, Some(&first)).await.status, StatusCode::OK);
    let ended = dir.cmd(&["console", "logout", "--all"]).run();
    assert!(ended.stdout().contains("Ended 3"), "{}", ended.stdout());
    assert_eq!(
        get(&base, Some(&first)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&base, Some(&second)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(get(&unused, None).await.status, StatusCode::FORBIDDEN);
    let without = dir.cmd(&["console", "logout"]).run_fail();
    assert!(without.stderr().contains("--all"), "{}", without.stderr());
}

/// Why the browser test cannot run here, if it cannot.
fn browser_missing(browser_dir: &Path) -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "{chromium} is missing (apt-get install -y chromium)"
        ));
    }
    if !browser_dir.join("node_modules/playwright-core").exists()
        || !browser_dir.join("node_modules/axe-core").exists()
    {
        return Some("tests/browser/node_modules is missing (cd tests/browser && npm ci)".into());
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not on PATH".into());
    }
    None
}

#[tokio::test]
async fn the_console_in_headless_chromium_creates_uses_and_revokes_a_key() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if let Some(why) = browser_missing(&browser_dir) {
        let required = std::env::var_os("CI").is_some_and(|v| v == "1" || v == "true")
            || std::env::var_os("DOCWARD_REQUIRE_ALL").is_some_and(|v| v == "1");
        assert!(!required, "the browser test cannot run: {why}");
        eprintln!("SKIPPED the_console_in_headless_chromium_creates_uses_and_revokes_a_key: {why}");
        return;
    }
    let dir = setup("test", "pro");
    let server = HttpServer::start(&dir, "test", &[]);
    let url = link(&dir, &server, Some("acme"));
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-artifacts");
    let output = tokio::task::spawn_blocking({
        let (browser_dir, mcp, artifacts) =
            (browser_dir.clone(), server.mcp_url(), artifacts.clone());
        move || {
            Command::new("node")
                .arg("console.test.mjs")
                .current_dir(browser_dir)
                .env("DOCWARD_CONSOLE_LINK", url)
                .env("DOCWARD_MCP_URL", mcp)
                .env("DOCWARD_ARTIFACTS", artifacts)
                .output()
                .expect("run node")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser test failed (screenshots in {})\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver log:\n{}",
        artifacts.display(),
        server.log()
    );
    let result: Value = serde_json::from_str(
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .expect("a RESULT line"),
    )
    .unwrap();
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["scans"].as_array().unwrap().len(), 7, "{result}");
    for shot in ["01-keys", "02-show-once", "03-revoke-confirm", "07-plan"] {
        assert!(artifacts.join(format!("{shot}.png")).exists(), "{shot}.png");
    }
    eprintln!("browser test: {result}");
}

#[tokio::test]
async fn the_local_console_prints_an_operator_link_and_stdio_snippets() {
    use std::io::{BufRead, BufReader};
    let dir = setup("test", "pro");
    let mut child = Command::new(crate::util::docward_bin())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DOCWARD_DATA_DIR", dir.data_dir())
        .args(["console", "--listen", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let url = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).lines().next().unwrap().unwrap()
    })
    .await
    .unwrap();
    let base = url.split("/console/").next().unwrap().to_owned();
    let (session, _) = sign_in(&url).await;
    let page = get(&format!("{base}/console/keys?tenant=acme"), Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let created = client()
        .post(format!("{base}/console/keys"))
        .header(COOKIE, format!("docward_console={session}"))
        .header(ORIGIN, &base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(&[
            ("csrf", &csrf(&page.body)),
            ("tenant", "acme"),
            ("name", "local"),
            ("env", "test"),
            ("type", "restricted"),
            ("scope", "mcp:search"),
            ("expiry", "never"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    let body = created.text().await.unwrap();
    assert!(body.contains("serve"), "{body}");
    assert!(body.contains("--stdio"), "stdio snippets: {body}");
    assert!(body.contains("DOCWARD_DATA_DIR"), "{body}");
    let _ = child.kill();
    let _ = child.wait();
}
