//! Hostile or broken input: lines that are not JSON, queries far past any question's size.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::{call, docward_bin, setup, stdio_session, text};

#[test]
fn a_stdio_line_that_is_not_json_gets_a_parse_error_and_the_session_goes_on() {
    let dir = setup("test", "pro");
    let key = dir.key("acme", "test", &["mcp:search"]);
    let mut child = Command::new(docward_bin())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DOCWARD_DATA_DIR", dir.data_dir())
        .env("DOCWARD_API_KEY", &key)
        .args(["serve", "--stdio", "--env", "test"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut read = || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str::<Value>(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    };
    writeln!(stdin, "this is not json").unwrap();
    let parse_error = read();
    assert_eq!(parse_error["error"]["code"], -32700, "{parse_error}");
    assert_eq!(parse_error["id"], Value::Null);
    writeln!(stdin, "{}", crate::util::initialize_body()).unwrap();
    let initialized = read();
    assert_eq!(initialized["id"], 1, "{initialized}");
    assert!(
        initialized["result"]["serverInfo"].is_object(),
        "{initialized}"
    );
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "no exit after stdin closed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn a_query_of_120000_words_is_refused_at_once_with_the_limit() {
    let dir = setup("test", "pro");
    let key = dir.key("acme", "test", &["mcp:search"]);
    let session = stdio_session(&dir, "test", Some(&key)).await;
    let query = vec!["tokio runtime"; 60_000].join(" ");
    let result = call(&session, "search", json!({ "query": query })).await;
    assert_eq!(result.is_error, Some(true), "{}", text(&result));
    assert!(
        text(&result).contains("at most 64 words"),
        "{}",
        text(&result)
    );
    let fine = call(&session, "search", json!({ "query": "tokio runtime" })).await;
    assert_ne!(fine.is_error, Some(true), "{}", text(&fine));
    session.cancel().await.unwrap();
}
