//! End-to-end MCP tests over stdio: the real `docward serve --stdio`, driven by rmcp's client.

use serde_json::json;

use crate::util::{
    TestDir, call, refusal_code, server_logs, setup, setup_with, stdio_session, stdio_session_with,
    text, tool_names,
};

const ALL_TOOLS: [&str; 3] = ["get_doc", "list_repos", "search"];
const TOOL_SCOPES: [(&str, &str); 3] = [
    ("search", "mcp:search"),
    ("get_doc", "mcp:get_doc"),
    ("list_repos", "mcp:list_repos"),
];

fn args_for(tool: &str) -> serde_json::Value {
    match tool {
        "search" => json!({ "query": "revoke" }),
        "get_doc" => json!({ "repo": "handbook", "path": "guide/keys.md" }),
        _ => json!({}),
    }
}

#[tokio::test]
async fn search_get_doc_and_list_repos_answer_through_mcp() {
    let dir = setup("live", "pro");
    let key = dir.key(
        "acme",
        "live",
        &["mcp:search", "mcp:get_doc", "mcp:list_repos"],
    );
    let session = stdio_session(&dir, "live", Some(&key)).await;
    assert_eq!(tool_names(&session).await, ALL_TOOLS);

    let found = call(
        &session,
        "search",
        json!({ "query": "revoking keys", "limit": 3 }),
    )
    .await;
    assert_ne!(found.is_error, Some(true), "{}", text(&found));
    let results = found.structured_content.as_ref().unwrap()["results"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!results.is_empty() && results.len() <= 3);
    let top = &results[0];
    assert_eq!(top["repo"], "handbook");
    assert_eq!(top["path"], "guide/keys.md");
    assert_eq!(top["headings"], json!(["Managing keys", "Revoking a key"]));
    assert!(
        top["snippet"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("**revo"),
        "{top}"
    );
    assert!(text(&found).contains("guide/keys.md"));

    let doc = call(
        &session,
        "get_doc",
        json!({ "repo": "handbook", "path": top["path"] }),
    )
    .await;
    assert_ne!(doc.is_error, Some(true), "{}", text(&doc));
    let content = doc.structured_content.as_ref().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(content.contains("## Rotating a key"));
    assert!(
        !content.contains("title: Managing keys"),
        "front matter stripped"
    );

    let repos = call(&session, "list_repos", json!({})).await;
    let listed = &repos.structured_content.as_ref().unwrap()["repos"];
    assert_eq!(listed[0]["name"], "handbook");
    assert_eq!(listed[0]["documents"], 3);
    assert!(listed[0]["indexed_at"].as_i64().unwrap() > 0);
    session.cancel().await.unwrap();
}

#[tokio::test]
async fn tools_list_and_calls_follow_the_key_scopes() {
    let dir = setup("test", "enterprise");
    for (tool, scope) in TOOL_SCOPES {
        let others: Vec<&str> = TOOL_SCOPES
            .iter()
            .map(|(_, s)| *s)
            .filter(|s| *s != scope)
            .collect();
        let key = dir.key("acme", "test", &others);
        let session = stdio_session(&dir, "test", Some(&key)).await;
        let listed = tool_names(&session).await;
        assert!(
            !listed.contains(&tool.to_owned()),
            "{tool} listed for a key without {scope}"
        );
        assert_eq!(listed.len(), 2);
        let refused = call(&session, tool, args_for(tool)).await;
        assert_eq!(refusal_code(&refused).as_deref(), Some("missing_scope"));
        assert!(text(&refused).contains(scope), "{}", text(&refused));
        for (other, _) in TOOL_SCOPES.iter().filter(|(t, _)| *t != tool) {
            let ok = call(&session, other, args_for(other)).await;
            assert_ne!(ok.is_error, Some(true), "{other}: {}", text(&ok));
        }
        session.cancel().await.unwrap();
    }
    // repo:* scopes alone open no tool.
    let key = dir.key("acme", "test", &["repo:read", "repo:write"]);
    let session = stdio_session(&dir, "test", Some(&key)).await;
    assert!(tool_names(&session).await.is_empty());
    session.cancel().await.unwrap();
}

#[tokio::test]
async fn a_server_without_a_usable_key_starts_and_every_call_names_the_cause() {
    let dir = setup("live", "free");
    let good = dir.key("acme", "live", &[]);
    let elsewhere = TestDir::new();
    elsewhere.tenant("other", "free");
    let foreign = elsewhere.key("other", "live", &[]);
    let mut typo = good.clone().into_bytes();
    typo[20] = if typo[20] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    let cases: [(Option<&str>, &str, &str); 5] = [
        (None, "missing_key", "DOCWARD_API_KEY"),
        (Some("sk_live_123"), "malformed_key", "dw_live_"),
        (Some(&typo), "bad_checksum", "mistyped"),
        (Some(&good[..30]), "malformed_key", "too short"),
        (Some(&foreign), "unknown_key", "not known"),
    ];
    for (key, code, hint) in cases {
        let session = stdio_session(&dir, "live", key).await;
        // The tools stay visible, so that a call can tell the user what is wrong.
        assert_eq!(tool_names(&session).await, ALL_TOOLS);
        for tool in ALL_TOOLS {
            let refused = call(&session, tool, args_for(tool)).await;
            assert_eq!(
                refusal_code(&refused).as_deref(),
                Some(code),
                "{key:?} {tool}"
            );
            assert!(text(&refused).contains(hint), "{}", text(&refused));
        }
        session.cancel().await.unwrap();
    }
    let logs = server_logs(&dir);
    assert!(logs.contains("every tool call will be refused"), "{logs}");
    for secret in [&good, &foreign, &typo] {
        assert!(!logs.contains(secret.as_str()), "a token reached the log");
    }
}

#[tokio::test]
async fn environments_are_isolated() {
    let dir = TestDir::new();
    dir.tenant("acme", "pro");
    dir.sample_docs("handbook");
    dir.write(
        "livedocs/ops.md",
        "# Operations\n\nThe live runbook mentions the quokka procedure too.\n",
    );
    dir.repo("handbook", "acme", "test", "handbook");
    dir.repo("livedocs", "acme", "live", "runbook");
    let test_key = dir.key("acme", "test", &[]);
    let live_key = dir.key("acme", "live", &[]);

    let live_server = stdio_session(&dir, "live", Some(&test_key)).await;
    let refused = call(&live_server, "list_repos", json!({})).await;
    assert_eq!(refusal_code(&refused).as_deref(), Some("wrong_env"));
    assert!(
        text(&refused).contains("test key used against a live server"),
        "{}",
        text(&refused)
    );
    live_server.cancel().await.unwrap();

    let test_server = stdio_session(&dir, "test", Some(&live_key)).await;
    let refused = call(&test_server, "search", json!({ "query": "quokka" })).await;
    assert!(text(&refused).contains("live key used against a test server"));
    test_server.cancel().await.unwrap();

    let test_server = stdio_session(&dir, "test", Some(&test_key)).await;
    let repos = call(&test_server, "list_repos", json!({})).await;
    let names: Vec<&str> = repos.structured_content.as_ref().unwrap()["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["handbook"]);
    let hits = call(&test_server, "search", json!({ "query": "quokka" })).await;
    let results = hits.structured_content.as_ref().unwrap()["results"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!results.is_empty());
    assert!(
        results.iter().all(|r| r["repo"] == "handbook"),
        "live docs leaked: {results:?}"
    );
    let live_doc = call(
        &test_server,
        "get_doc",
        json!({ "repo": "runbook", "path": "ops.md" }),
    )
    .await;
    assert_eq!(live_doc.is_error, Some(true), "a test key read a live doc");
    test_server.cancel().await.unwrap();
}

#[tokio::test]
async fn revocation_during_an_open_session_refuses_the_next_call() {
    let dir = setup("live", "free");
    let created = dir.key_json("acme", "live", &["--scope", "mcp:search"]);
    let key = created["token"].as_str().unwrap();
    let session = stdio_session(&dir, "live", Some(key)).await;
    let ok = call(&session, "search", json!({ "query": "snippet" })).await;
    assert_ne!(ok.is_error, Some(true), "{}", text(&ok));
    // The CLI reaches the store through the running server, which owns it.
    dir.cmd(&["key", "revoke", created["id"].as_str().unwrap()])
        .run();
    let refused = call(&session, "search", json!({ "query": "snippet" })).await;
    assert_eq!(refusal_code(&refused).as_deref(), Some("key_revoked"));
    assert!(text(&refused).contains("revoked on"), "{}", text(&refused));
    session.cancel().await.unwrap();
}

#[tokio::test]
async fn daily_quota_counts_live_calls_across_restarts_and_not_test_calls() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");
    dir.sample_docs("handbook");
    dir.repo("handbook", "acme", "live", "handbook");
    dir.repo("handbook", "acme", "test", "handbook");
    let live = dir.key("acme", "live", &["mcp:list_repos"]);
    let test = dir.key("acme", "test", &["mcp:list_repos"]);
    let burst = ["--burst", "10000"];

    let first = stdio_session_with(&dir, "live", Some(&live), &burst).await;
    for i in 0..60 {
        let r = call(&first, "list_repos", json!({})).await;
        assert_ne!(r.is_error, Some(true), "call {i}: {}", text(&r));
    }
    first.cancel().await.unwrap();

    let second = stdio_session_with(&dir, "live", Some(&live), &burst).await;
    for i in 60..100 {
        let r = call(&second, "list_repos", json!({})).await;
        assert_ne!(r.is_error, Some(true), "call {i}: {}", text(&r));
    }
    let refused = call(&second, "list_repos", json!({})).await;
    assert_eq!(refusal_code(&refused).as_deref(), Some("quota_exceeded"));
    let details = &refused.structured_content.as_ref().unwrap()["error"];
    assert_eq!(details["limit"], 100);
    assert!(
        details["resets_at"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00Z")
    );
    assert!(text(&refused).contains("100"), "{}", text(&refused));

    // Test traffic is free, even when live traffic is cut off.
    let test_server = stdio_session_with(&dir, "test", Some(&test), &burst).await;
    for _ in 0..5 {
        let r = call(&test_server, "list_repos", json!({})).await;
        assert_ne!(r.is_error, Some(true), "{}", text(&r));
    }
    test_server.cancel().await.unwrap();
    second.cancel().await.unwrap();

    let usage = dir
        .cmd(&["usage", "--tenant", "acme", "--json"])
        .run()
        .json();
    assert_eq!(usage["today"][0]["live_calls"], 100);
    let calls: Vec<u64> = usage["usage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["calls"].as_u64().unwrap())
        .collect();
    let mut sorted = calls.clone();
    sorted.sort();
    assert_eq!(sorted, [5, 100], "per-key usage: {usage}");
}

#[tokio::test]
async fn the_burst_limit_refuses_rapid_calls_and_names_the_limit() {
    let dir = setup("test", "pro");
    let key = dir.key("acme", "test", &["mcp:list_repos"]);
    let session = stdio_session_with(&dir, "test", Some(&key), &["--burst", "3"]).await;
    let mut codes = Vec::new();
    for _ in 0..6 {
        codes.push(refusal_code(&call(&session, "list_repos", json!({})).await));
    }
    assert_eq!(&codes[..3], &[None, None, None]);
    assert!(
        codes[3..].contains(&Some("rate_limited".to_owned())),
        "{codes:?}"
    );
    session.cancel().await.unwrap();
}

/// Copies of a page (two versions of a spec) come as one hit naming the other copy, and
/// `docward search` prints exactly what the tool answers, without a key and without billing.
#[tokio::test]
async fn copies_fold_into_one_hit_and_the_search_command_shows_the_tool_answer() {
    let dir = TestDir::new();
    dir.cmd(&["tenant", "create", "acme", "--plan", "free"])
        .run();
    let page = "# Heartbeats\n\n## Liveness\n\nEither side may send a heartbeat ping; \
                the peer answers within five seconds or the link is considered dead.\n";
    dir.write("spec/v1/heartbeat.md", page);
    dir.write("spec/v2/heartbeat.md", page);
    dir.write(
        "spec/v2/other.md",
        "# Other\n\n## Pings\n\nA ping that is never answered ends the link.\n",
    );
    dir.repo("spec", "acme", "live", "spec");
    let key = dir.key("acme", "live", &[]);
    let session = stdio_session(&dir, "live", Some(&key)).await;
    let args = json!({ "query": "heartbeat ping answered", "limit": 5 });
    let answer = call(&session, "search", args).await;
    let hits = answer.structured_content.clone().unwrap()["results"].clone();
    let hits = hits.as_array().expect("results");
    // The copied page's two sections (its bare title, a copy because the file names match,
    // and "Liveness"), each once for both copies, and the other page: three hits, not five.
    assert_eq!(hits.len(), 3, "{hits:#?}");
    let folded = hits
        .iter()
        .find(|h| h["path"].as_str().unwrap().ends_with("heartbeat.md") && h["section"] == 1)
        .unwrap();
    assert_eq!(folded["also_in"].as_array().unwrap().len(), 1, "{folded}");
    let copy = folded["also_in"][0]["path"].as_str().unwrap();
    assert_ne!(copy, folded["path"].as_str().unwrap());
    assert!(copy.ends_with("/heartbeat.md"), "{folded}");
    assert!(text(&answer).contains(&format!(
        "Also in (same or nearly the same text): spec/{copy}"
    )));
    session.cancel().await.unwrap();

    let usage_before = dir.cmd(&["usage", "--json"]).run().stdout();
    let search = |extra: &[&str]| {
        let mut args = vec![
            "search",
            "heartbeat ping answered",
            "--tenant",
            "acme",
            "--env",
            "live",
        ];
        args.extend(extra);
        dir.cmd(&args).run()
    };
    assert_eq!(search(&[]).stdout().trim_end(), text(&answer).trim_end());
    let json = search(&["--json", "--limit", "1"]).json();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(dir.cmd(&["usage", "--json"]).run().stdout(), usage_before);
    let refused = dir
        .cmd(&[
            "search", "ping", "--tenant", "acme", "--env", "live", "--repo", "nope",
        ])
        .run_fail();
    assert!(
        refused.stderr().contains("known repos: spec"),
        "{}",
        refused.dump()
    );
}

/// After an upgrade that changed the index format, every command that needs the index names
/// the fix, listing still works, and `repo rebuild` brings search back from the sources.
#[test]
fn an_index_of_another_format_names_the_fix_and_repo_rebuild_restores_it() {
    let dir = setup("test", "free");
    let index = dir.data_dir().join("docs/acme/test/index");
    std::fs::remove_dir_all(&index).unwrap();
    std::fs::create_dir_all(&index).unwrap();
    let mut other = tantivy::schema::Schema::builder();
    other.add_text_field("body", tantivy::schema::TEXT);
    tantivy::Index::create_in_dir(&index, other.build()).unwrap();

    let search = ["search", "revocation", "--tenant", "acme", "--env", "test"];
    let refused = dir.cmd(&search).run_fail();
    assert!(
        refused
            .stderr()
            .contains("`docward repo rebuild --tenant acme --env test`"),
        "{}",
        refused.dump()
    );
    let listed = dir.cmd(&["repo", "list", "--json"]).run().json();
    assert_eq!(listed[0]["name"], "handbook");

    let rebuilt = dir
        .cmd(&[
            "repo", "rebuild", "--tenant", "acme", "--env", "test", "--json",
        ])
        .run()
        .json();
    assert_eq!(rebuilt["repos"][0]["repo"], "handbook");
    assert!(rebuilt["repos"][0]["documents"].as_u64().unwrap() > 0);
    assert!(dir.cmd(&search).run().stdout().contains("handbook/"));

    // A repo whose folder has gone (an unmounted drive) is named, kept, and fails the command;
    // the other repos are rebuilt all the same.
    dir.write(
        "notes/ideas.md",
        "# Ideas\n\nA page in a folder that will go away.\n",
    );
    dir.repo("notes", "acme", "test", "notes");
    std::fs::remove_dir_all(dir.path().join("notes")).unwrap();
    let partial = dir
        .cmd(&["repo", "rebuild", "--tenant", "acme", "--env", "test"])
        .run_fail();
    assert!(
        partial.stderr().contains("repo 'notes' was not rebuilt")
            && partial
                .stderr()
                .contains("docward repo sync notes --tenant acme --env test"),
        "{}",
        partial.dump()
    );
    assert!(
        partial.stdout().contains("Rebuilt repo 'handbook'"),
        "{}",
        partial.dump()
    );
    let listed = dir.cmd(&["repo", "list", "--json"]).run().json();
    let notes = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "notes");
    assert_eq!(notes.expect("notes is still listed")["documents"], 0);
    assert!(dir.cmd(&search).run().stdout().contains("handbook/"));
}

#[tokio::test]
async fn long_documents_come_in_parts_and_bad_requests_get_clear_errors() {
    let dir = TestDir::new();
    dir.tenant("acme", "pro");
    let mut big = String::from("# Big manual\n\n");
    for i in 0..60 {
        big.push_str(&format!(
            "## Part {i}\n\n{}\n\n",
            format!("Paragraph {i} explains the zebra subsystem. ").repeat(60)
        ));
    }
    assert!(big.len() > 150_000);
    dir.write("manual/big.md", &big);
    dir.repo("manual", "acme", "test", "manual");
    let key = dir.key("acme", "test", &[]);
    let session = stdio_session(&dir, "test", Some(&key)).await;

    let first = call(
        &session,
        "get_doc",
        json!({ "repo": "manual", "path": "big.md" }),
    )
    .await;
    let page = first.structured_content.clone().unwrap();
    let next = page["next_section"]
        .as_u64()
        .expect("a long document is cut");
    let first_content = page["content"].as_str().unwrap();
    assert!(first_content.len() <= 100_000);
    assert!(
        text(&first).contains(&format!("section={next}")),
        "the answer says how to go on"
    );
    let rest = call(
        &session,
        "get_doc",
        json!({ "repo": "manual", "path": "big.md", "section": next }),
    )
    .await;
    let rest_content = rest.structured_content.as_ref().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut whole = first_content.to_owned();
    whole.push_str(&rest_content);
    let mut section = rest.structured_content.as_ref().unwrap()["next_section"].as_u64();
    while let Some(n) = section {
        let more = call(
            &session,
            "get_doc",
            json!({ "repo": "manual", "path": "big.md", "section": n }),
        )
        .await;
        whole.push_str(
            more.structured_content.as_ref().unwrap()["content"]
                .as_str()
                .unwrap(),
        );
        section = more.structured_content.as_ref().unwrap()["next_section"].as_u64();
    }
    assert_eq!(
        whole.trim_end(),
        big.trim_end(),
        "the parts add up to the document"
    );

    let unknown_repo = call(
        &session,
        "search",
        json!({ "query": "zebra", "repo": "nope" }),
    )
    .await;
    assert_eq!(unknown_repo.is_error, Some(true));
    assert!(
        text(&unknown_repo).contains("manual"),
        "lists known repos: {}",
        text(&unknown_repo)
    );
    let unknown_doc = call(
        &session,
        "get_doc",
        json!({ "repo": "manual", "path": "missing.md" }),
    )
    .await;
    assert_eq!(unknown_doc.is_error, Some(true));
    let bad_args = call(&session, "search", json!({ "query": 42 })).await;
    assert_eq!(bad_args.is_error, Some(true));
    let many = call(
        &session,
        "search",
        json!({ "query": "zebra subsystem", "limit": 500 }),
    )
    .await;
    let results = many.structured_content.as_ref().unwrap()["results"]
        .as_array()
        .unwrap()
        .len();
    assert!(results <= 20, "limit is capped at 20, got {results}");
    assert!(
        text(&many).len() < 9_000,
        "search answers stay small: {} chars",
        text(&many).len()
    );
    session.cancel().await.unwrap();
}

#[tokio::test]
async fn a_key_that_expires_soon_works_and_draws_a_warning() {
    let dir = setup("test", "pro");
    let key = dir.key_json(
        "acme",
        "test",
        &["--scope", "mcp:search", "--expires-in", "3d"],
    );
    let session = stdio_session(&dir, "test", key["token"].as_str()).await;
    let ok = call(&session, "search", json!({ "query": "revoke" })).await;
    assert_ne!(ok.is_error, Some(true));
    session.cancel().await.unwrap();
    let logs = server_logs(&dir);
    assert!(logs.contains("expires on"), "{logs}");
    assert!(logs.contains("docward key rotate"), "{logs}");
}

#[tokio::test]
async fn two_sessions_share_one_store_and_a_key_created_meanwhile_works() {
    let dir = setup("test", "pro");
    let key_a = dir.key("acme", "test", &[]);
    let a = stdio_session(&dir, "test", Some(&key_a)).await;
    let b = stdio_session(&dir, "test", Some(&key_a)).await;
    let key_c = dir.key("acme", "test", &["mcp:search"]);
    let c = stdio_session(&dir, "test", Some(&key_c)).await;
    let (ra, rb, rc) = tokio::join!(
        call(&a, "search", json!({ "query": "bm25" })),
        call(&b, "search", json!({ "query": "bm25" })),
        call(&c, "search", json!({ "query": "bm25" })),
    );
    for r in [&ra, &rb, &rc] {
        assert_ne!(r.is_error, Some(true), "{}", text(r));
        assert!(text(r).contains("guide/search.md"));
    }
    a.cancel().await.unwrap();
    b.cancel().await.unwrap();
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn a_plan_change_takes_effect_on_the_next_call() {
    let dir = setup_with("live", &["--plan", "free", "--daily-limit", "2"]);
    let key = dir.key("acme", "live", &["mcp:list_repos"]);
    let session = stdio_session(&dir, "live", Some(&key)).await;
    for _ in 0..2 {
        assert_eq!(
            refusal_code(&call(&session, "list_repos", json!({})).await),
            None
        );
    }
    let refused = call(&session, "list_repos", json!({})).await;
    assert_eq!(refusal_code(&refused).as_deref(), Some("quota_exceeded"));
    let updated = dir
        .cmd(&[
            "tenant",
            "update",
            "acme",
            "--plan",
            "pro",
            "--plan-daily-limit",
            "--json",
        ])
        .run()
        .json();
    assert_eq!(updated["plan"], "pro");
    assert_eq!(updated["daily_limit"], 10_000);
    assert_eq!(
        refusal_code(&call(&session, "list_repos", json!({})).await),
        None
    );
    session.cancel().await.unwrap();
    dir.cmd(&["tenant", "update", "nobody", "--plan", "pro"])
        .run_fail();
}

#[test]
fn config_prints_each_clients_snippet() {
    let dir = TestDir::new();
    let cases = [
        ("claude-desktop", "/mcpServers/docward/command"),
        ("cursor", "/mcpServers/docward/command"),
        ("windsurf", "/mcpServers/docward/command"),
        ("vscode", "/servers/docward/command"),
        ("zed", "/context_servers/docward/command"),
    ];
    for (client, pointer) in cases {
        let snippet = dir.cmd(&["config", client, "--env", "test"]).run().json();
        let command = snippet
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{client}: {snippet}"));
        assert!(
            command.as_str().unwrap().ends_with("docward"),
            "{client}: {snippet}"
        );
        assert!(
            snippet.to_string().contains("\"--env\",\"test\""),
            "{client}: {snippet}"
        );
        assert!(
            snippet
                .to_string()
                .contains(dir.data_dir().to_str().unwrap())
        );
    }
    let remote = dir
        .cmd(&["config", "vscode", "--url", "https://docs.example.com/mcp"])
        .run()
        .json();
    assert_eq!(remote["servers"]["docward"]["type"], "http");
    assert_eq!(
        remote["servers"]["docward"]["url"],
        "https://docs.example.com/mcp"
    );
    let ran = dir
        .cmd(&[
            "config",
            "claude-desktop",
            "--url",
            "https://docs.example.com/mcp",
        ])
        .run_fail();
    assert!(ran.stderr().contains("Connectors"), "{}", ran.dump());
}

#[test]
fn quickstart_indexes_docs_answers_a_search_over_mcp_and_prints_a_working_entry() {
    let dir = TestDir::new();
    dir.sample_docs("handbook");
    let docs = dir.path().join("handbook");
    let ran = dir
        .cmd(&[
            "quickstart",
            "--docs",
            docs.to_str().unwrap(),
            "--query",
            "revoking a key",
        ])
        .run();
    let out = ran.stdout();
    assert!(
        out.contains("tools/list -> get_doc, list_repos, search"),
        "{}",
        ran.dump()
    );
    assert!(
        out.contains("guide/keys.md"),
        "the search answered: {}",
        ran.dump()
    );
    let json_start = out.find("{\n").expect("a JSON entry");
    let json_end = out.rfind("\n}").expect("a JSON entry") + 2;
    let entry: serde_json::Value = serde_json::from_str(&out[json_start..json_end]).unwrap();
    let key = entry["mcpServers"]["docward"]["env"]["DOCWARD_API_KEY"]
        .as_str()
        .unwrap()
        .to_owned();
    dir.cmd(&["key", "verify", "--env", "test"])
        .stdin(&key)
        .run();
    // Running it again reuses the tenant and repo, and retires the previous quickstart key.
    let again = dir
        .cmd(&["quickstart", "--docs", docs.to_str().unwrap()])
        .run();
    assert!(
        again.stdout().contains("Using tenant 'demo'"),
        "{}",
        again.dump()
    );
    let refused = dir.cmd(&["key", "verify"]).stdin(&key).run_fail();
    assert!(
        refused.stderr().contains("key_revoked"),
        "{}",
        refused.dump()
    );
}
