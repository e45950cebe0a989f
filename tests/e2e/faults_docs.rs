//! End-to-end tests of the docs faults of issue 7 (found by an attacker test): what key holders
//! may see, data dir permissions, crash leftovers in the index, corrupt manifests.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::util::{TestDir, call, setup, stdio_session, text};

#[tokio::test]
async fn list_repos_does_not_send_the_server_source_path() {
    let dir = setup("test", "pro");
    let source = dir.path().join("handbook");
    let source = source.to_str().unwrap();
    let key = dir.key("acme", "test", &["mcp:list_repos"]);
    let session = stdio_session(&dir, "test", Some(&key)).await;
    let repos = call(&session, "list_repos", json!({})).await;
    assert_ne!(repos.is_error, Some(true), "{}", text(&repos));
    let structured = repos.structured_content.clone().unwrap();
    assert_eq!(structured["repos"][0]["name"], "handbook");
    assert_eq!(structured["repos"][0]["documents"], 3);
    assert!(structured["repos"][0].get("source").is_none(), "{structured}");
    assert!(!structured.to_string().contains(source), "{structured}");
    assert!(!text(&repos).contains(source), "{}", text(&repos));
    session.cancel().await.unwrap();

    // Operators still see it.
    let listed = dir.cmd(&["repo", "list", "--json"]).run().json();
    assert_eq!(listed[0]["source"], source);
}

