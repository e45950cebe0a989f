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
    assert!(
        structured["repos"][0].get("source").is_none(),
        "{structured}"
    );
    assert!(!structured.to_string().contains(source), "{structured}");
    assert!(!text(&repos).contains(source), "{}", text(&repos));
    session.cancel().await.unwrap();

    // Operators still see it.
    let listed = dir.cmd(&["repo", "list", "--json"]).run().json();
    assert_eq!(listed[0]["source"], source);
}

/// Every folder below `root`, `root` included.
fn folders(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        for entry in std::fs::read_dir(&out[i]).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                out.push(entry.path());
            }
        }
        i += 1;
    }
    out
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn docs_folders_are_private_in_a_data_dir_made_0755() {
    let dir = TestDir::new();
    let data = dir.data_dir();
    // As a packager or an older docward left it: the data dir and `docs/` open to all.
    std::fs::create_dir_all(data.join("docs")).unwrap();
    for open in [&data, &data.join("docs")] {
        std::fs::set_permissions(open, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir.tenant("acme", "pro");
    dir.sample_docs("handbook");
    dir.repo("handbook", "acme", "test", "handbook");
    dir.cmd(&[
        "repo", "sync", "handbook", "--tenant", "acme", "--env", "test",
    ])
    .run();
    let docs = folders(&data.join("docs"));
    assert!(docs.len() >= 5, "docs, tenant, env, index, repos: {docs:?}");
    for folder in docs {
        assert_eq!(
            mode(&folder) & 0o077,
            0,
            "{} is mode {:o}",
            folder.display(),
            mode(&folder)
        );
    }
}

fn manifest_file(dir: &TestDir, env: &str, repo: &str) -> PathBuf {
    dir.data_dir()
        .join(format!("docs/acme/{env}/repos/{repo}.json"))
}

/// How many times `path` is named in a `docward search --json` answer, folded copies included.
fn mentions(dir: &TestDir, query: &str, path: &str) -> usize {
    let answer = dir
        .cmd(&[
            "search", query, "--tenant", "acme", "--env", "test", "--json",
        ])
        .run()
        .json();
    let text = answer.to_string();
    text.matches(&format!("\"path\":\"{path}\"")).count()
}

#[test]
fn a_sync_after_a_kill_between_commit_and_manifest_write_indexes_each_document_once() {
    let dir = setup("test", "pro");
    let manifest = manifest_file(&dir, "test", "handbook");
    let before = std::fs::read(&manifest).unwrap();
    dir.write("handbook/dup.md", "# Dup\n\nThe durian procedure.\n");
    dir.write("handbook/orphan.md", "# Orphan\n\nThe guava procedure.\n");
    dir.cmd(&[
        "repo", "sync", "handbook", "--tenant", "acme", "--env", "test",
    ])
    .run();
    // The state a kill -9 after the index commit and before the manifest write leaves: the
    // index holds both new files, the manifest neither. Then orphan.md leaves the folder.
    std::fs::write(&manifest, before).unwrap();
    std::fs::remove_file(dir.path().join("handbook/orphan.md")).unwrap();

    dir.cmd(&[
        "repo", "sync", "handbook", "--tenant", "acme", "--env", "test",
    ])
    .run();
    assert_eq!(mentions(&dir, "durian", "dup.md"), 1);
    assert_eq!(mentions(&dir, "guava", "orphan.md"), 0);
    assert_eq!(mentions(&dir, "quokka", "README.md"), 1);
    let listed = dir.cmd(&["repo", "list", "--json"]).run().json();
    assert_eq!(listed[0]["documents"], 4);
}

#[test]
fn a_corrupt_manifest_names_its_file_and_a_command_that_repairs_it() {
    let dir = setup("test", "pro");
    dir.write("other/notes.md", "# Notes\n\nThe wombat checklist.\n");
    dir.repo("other", "acme", "test", "other");
    let key = dir.key("acme", "test", &["mcp:search"]);
    let manifest = manifest_file(&dir, "test", "handbook");
    let bytes = std::fs::read(&manifest).unwrap();
    std::fs::write(&manifest, &bytes[..bytes.len() * 2 / 3]).unwrap();

    let refused = dir
        .cmd(&[
            "repo", "sync", "handbook", "--tenant", "acme", "--env", "test",
        ])
        .run_fail();
    let line = refused.stderr();
    assert_eq!(line.trim().lines().count(), 1, "{}", refused.dump());
    assert!(line.contains(manifest.to_str().unwrap()), "{line}");
    let advice = "docward repo rebuild --tenant acme --env test";
    assert!(line.trim_end().ends_with(&format!("`{advice}`")), "{line}");

    let args: Vec<&str> = advice.split(' ').skip(1).collect();
    let rebuilt = dir.cmd(&args).run();
    assert!(rebuilt.stderr().contains("set aside"), "{}", rebuilt.dump());
    let listed = dir.cmd(&["repo", "list", "--json"]).run().json();
    let docs: Vec<(String, u64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["documents"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(docs, [("handbook".to_owned(), 3), ("other".to_owned(), 1)]);
    dir.cmd(&[
        "repo", "sync", "handbook", "--tenant", "acme", "--env", "test",
    ])
    .run();
    assert_eq!(mentions(&dir, "quokka", "README.md"), 1);
    assert_eq!(mentions(&dir, "wombat", "notes.md"), 1);
    let copies: Vec<String> = std::fs::read_dir(manifest.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("handbook.json.corrupt-"))
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    // The tenant's keys are untouched.
    dir.cmd(&["key", "verify", "--env", "test"])
        .stdin(&key)
        .run();
}

#[test]
fn a_document_over_the_section_limit_is_indexed_joined_with_a_warning_naming_it() {
    let dir = TestDir::new();
    dir.tenant("acme", "pro");
    let mut huge = String::from("# Huge\n\n");
    for i in 0..12_000 {
        huge.push_str(&format!("## s{i}\n\nw{i}\n\n"));
    }
    dir.write("big/huge.md", &huge);
    let path = dir.path().join("big");
    let added = dir
        .cmd(&[
            "repo",
            "add",
            path.to_str().unwrap(),
            "--tenant",
            "acme",
            "--env",
            "test",
            "--name",
            "big",
        ])
        .run();
    assert!(
        added
            .stderr()
            .contains("warning: huge.md: 12001 sections, over the limit of 10000"),
        "{}",
        added.dump()
    );
    let listed = dir.cmd(&["repo", "list", "--json"]).run().json();
    assert!(
        listed[0]["sections"].as_u64().unwrap() <= 10_000,
        "{listed}"
    );
    assert_eq!(mentions(&dir, "w11999", "huge.md"), 1);
}
