//! The first hour of a new user (issue 8, item 4): client snippets that keep secrets out of
//! files and name a binary and data dir that last, `config --url` refusals, CLI errors that end
//! with the command that fixes them, one `--env` default, progress only on a terminal, and a
//! README whose test command is the one CI runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::util::{Ran, TestDir, call, docward_bin, stdio_session, text};

/// The last non-empty line of stderr.
fn last_stderr_line(ran: &Ran) -> String {
    ran.stderr()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Asserts that the error ends with a backquoted command that starts with `command`.
#[track_caller]
fn assert_ends_with_command(ran: &Ran, command: &str) {
    let line = last_stderr_line(ran);
    assert!(
        line.ends_with('`'),
        "no command at the end:\n{}",
        ran.dump()
    );
    let start = line[..line.len() - 1]
        .rfind('`')
        .unwrap_or_else(|| panic!("no opening backquote:\n{}", ran.dump()));
    let last = &line[start + 1..line.len() - 1];
    assert!(
        last.starts_with(command),
        "the last command is `{last}`, expected `{command}...`\n{}",
        ran.dump()
    );
}

/// A folder on PATH with nothing in it, so that no installed docward is found by accident.
fn empty_path(dir: &TestDir) -> PathBuf {
    let bin = dir.path().join("empty-bin");
    std::fs::create_dir_all(&bin).unwrap();
    bin
}

/// Places the binary under test at `dest` (a hard link when possible, else a copy).
fn install_copy(dest: &Path) {
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    if std::fs::hard_link(docward_bin(), dest).is_err() {
        std::fs::copy(docward_bin(), dest).unwrap();
    }
}

fn canonical(p: impl AsRef<Path>) -> String {
    p.as_ref().canonicalize().unwrap().display().to_string()
}

#[test]
fn config_names_an_absolute_data_dir_and_warns_about_a_build_folder() {
    let dir = TestDir::new();
    let ran = dir
        .cmd(&["config", "cursor", "--env", "test"])
        .env("DOCWARD_DATA_DIR", "rel/data")
        .env("PATH", empty_path(&dir))
        .run();
    let snippet = ran.json();
    let server = &snippet["mcpServers"]["docward"];
    assert_eq!(server["command"], canonical(docward_bin()), "{snippet:#}");
    let data_dir = server["env"]["DOCWARD_DATA_DIR"].as_str().unwrap();
    assert!(Path::new(data_dir).is_absolute(), "{data_dir}");
    assert_eq!(
        data_dir,
        Path::new(&canonical(dir.path()))
            .join("rel/data")
            .display()
            .to_string()
    );
    assert_eq!(server["args"], json!(["serve", "--stdio", "--env", "test"]));
    let stderr = ran.stderr();
    assert!(stderr.contains("build folder"), "{stderr}");
    assert!(stderr.contains("`cargo install --path .`"), "{stderr}");
}

#[test]
fn config_prefers_an_installed_binary_over_the_build_folder() {
    let dir = TestDir::new();
    // HOME is the test dir, so cargo's bin folder is <dir>/.cargo/bin.
    let installed = dir.path().join(".cargo/bin/docward");
    install_copy(&installed);
    let ran = dir
        .cmd(&["config", "claude-desktop"])
        .env("PATH", empty_path(&dir))
        .run();
    let command = &ran.json()["mcpServers"]["docward"]["command"];
    assert_eq!(*command, canonical(&installed));
    assert!(
        ran.stderr().contains(&canonical(&installed)),
        "{}",
        ran.dump()
    );

    // A binary that does not run from a build folder names itself, without a note.
    let outside = dir.path().join("opt/docward");
    install_copy(&outside);
    let out = Command::new(&outside)
        .args(["config", "windsurf"])
        .env_clear()
        .env("HOME", dir.path())
        .env("PATH", empty_path(&dir))
        .env("DOCWARD_DATA_DIR", dir.data_dir())
        .output()
        .unwrap();
    assert!(out.status.success());
    let snippet: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        snippet["mcpServers"]["docward"]["command"],
        canonical(&outside)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("build folder"), "{stderr}");
}

#[test]
fn snippets_keep_the_key_out_of_files_where_the_client_can() {
    let dir = TestDir::new();
    let config = |args: &[&str]| dir.cmd(args).env("PATH", empty_path(&dir)).run();

    for client in ["cursor", "windsurf"] {
        let ran = config(&["config", client]);
        let env = &ran.json()["mcpServers"]["docward"]["env"];
        assert_eq!(env["DOCWARD_API_KEY"], "${env:DOCWARD_API_KEY}", "{client}");
        assert!(
            ran.stderr().contains("set DOCWARD_API_KEY"),
            "{}",
            ran.dump()
        );
    }
    let cursor = config(&["config", "cursor", "--url", "https://docs.example.com/mcp"]).json();
    assert_eq!(
        cursor["mcpServers"]["docward"],
        json!({ "url": "https://docs.example.com/mcp",
                "headers": { "Authorization": "Bearer ${env:DOCWARD_API_KEY}" } })
    );
    let windsurf = config(&[
        "config",
        "windsurf",
        "--url",
        "https://docs.example.com/mcp",
    ])
    .json();
    assert_eq!(
        windsurf["mcpServers"]["docward"]["headers"]["Authorization"],
        "Bearer ${env:DOCWARD_API_KEY}"
    );
    assert_eq!(
        windsurf["mcpServers"]["docward"]["serverUrl"],
        "https://docs.example.com/mcp"
    );

    // VS Code prompts once, and says where such servers do not start.
    let vscode = config(&["config", "vscode"]);
    let snippet = vscode.json();
    assert_eq!(
        snippet["servers"]["docward"]["env"]["DOCWARD_API_KEY"],
        "${input:docward-api-key}"
    );
    assert_eq!(snippet["inputs"][0]["password"], true);
    assert!(
        vscode.stderr().contains("agent sessions"),
        "{}",
        vscode.dump()
    );

    // Zed: command, args and env side by side under context_servers.
    let zed = config(&["config", "zed", "--env", "test"]).json();
    let server = zed["context_servers"]["docward"].as_object().unwrap();
    let mut fields: Vec<&str> = server.keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(fields, ["args", "command", "env"], "{zed:#}");
    assert!(server["command"].is_string());
    assert_eq!(
        server["env"]["DOCWARD_API_KEY"],
        "<paste your dw_test_... key>"
    );
}

#[test]
fn config_url_refuses_a_missing_scheme_and_keys_in_the_url() {
    let dir = TestDir::new();
    let secret = "dw_live_S3cretS3cretS3cret";
    let cases = [
        ("docs.example.com/mcp".to_owned(), "needs a scheme"),
        ("localhost:8700/mcp".to_owned(), "needs a scheme"),
        ("ftp://docs.example.com/mcp".to_owned(), "https://"),
        (
            format!("https://me:{secret}@docs.example.com/mcp"),
            "credentials",
        ),
        (
            format!("https://docs.example.com/mcp?api_key={secret}"),
            "API key",
        ),
        (
            format!("https://docs.example.com/mcp?x={secret}"),
            "API key",
        ),
        (
            "https://docs.example.com/mcp?token=abc".to_owned(),
            "API key",
        ),
    ];
    for (url, why) in cases {
        let ran = dir.cmd(&["config", "cursor", "--url", &url]).run_fail();
        assert!(ran.stdout().is_empty(), "{}", ran.dump());
        assert!(ran.stderr().contains(why), "{url}: {}", ran.dump());
        assert!(!ran.stderr().contains("S3cret"), "{}", ran.dump());
        assert!(
            ran.stderr()
                .contains("`docward config cursor --url https://"),
            "{}",
            ran.dump()
        );
    }
    // Plain http:// to another host works, with a warning.
    let ran = dir
        .cmd(&["config", "zed", "--url", "http://docs.internal:8700/mcp"])
        .run();
    assert_eq!(
        ran.json()["context_servers"]["docward"]["url"],
        "http://docs.internal:8700/mcp"
    );
    assert!(ran.stderr().contains("in clear"), "{}", ran.dump());
}

#[test]
fn quickstart_prints_an_entry_with_an_absolute_data_dir() {
    let dir = TestDir::new();
    dir.sample_docs("handbook");
    let ran = dir
        .cmd(&["quickstart", "--docs", "handbook"])
        .env("DOCWARD_DATA_DIR", "rel/data")
        .env("PATH", empty_path(&dir))
        .run();
    let out = ran.stdout();
    let start = out.find("{\n").expect("an entry");
    let end = out.rfind("\n}").expect("an entry") + 2;
    let entry: Value = serde_json::from_str(&out[start..end]).unwrap();
    let server = &entry["mcpServers"]["docward"];
    let data_dir = server["env"]["DOCWARD_DATA_DIR"].as_str().unwrap();
    assert_eq!(data_dir, canonical(dir.path().join("rel/data")));
    assert_eq!(server["command"], canonical(docward_bin()));
    assert!(
        server["env"]["DOCWARD_API_KEY"]
            .as_str()
            .unwrap()
            .starts_with("dw_test_")
    );
    assert!(out.contains("cargo install --path ."), "{out}");

    let missing = dir.cmd(&["quickstart", "--docs", "nowhere"]).run_fail();
    assert_ends_with_command(&missing, "docward quickstart --docs");
}

#[test]
fn key_cap_error_ends_with_the_plan_that_lifts_it() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");
    for _ in 0..3 {
        dir.key("acme", "test", &["mcp:search"]);
    }
    let args = [
        "key",
        "create",
        "--tenant",
        "acme",
        "--name",
        "fourth",
        "--env",
        "test",
        "--scope",
        "mcp:search",
    ];
    let ran = dir.cmd(&args).run_fail();
    assert!(ran.stderr().contains("3 active keys"), "{}", ran.dump());
    assert!(
        ran.stderr().contains("`docward key revoke ID`"),
        "{}",
        ran.dump()
    );
    assert_ends_with_command(&ran, "docward tenant update acme --plan pro");

    // With its own cap, the tenant is told to raise that (a plan change would not).
    dir.cmd(&[
        "tenant",
        "update",
        "acme",
        "--plan",
        "pro",
        "--max-keys",
        "3",
    ])
    .run();
    let ran = dir.cmd(&args).run_fail();
    assert_ends_with_command(&ran, "docward tenant update acme --max-keys 4");
    dir.cmd(&["tenant", "update", "acme", "--max-keys", "4"])
        .run();
    dir.cmd(&args).run();
}

#[test]
fn empty_key_verify_says_how_to_pass_a_key() {
    let dir = TestDir::new();
    let ran = dir.cmd(&["key", "verify"]).stdin("").run_fail();
    assert!(ran.stderr().contains("missing_key"), "{}", ran.dump());
    assert!(
        ran.stderr().contains("`docward key verify < key.txt`"),
        "{}",
        ran.dump()
    );

    // Every refusal of verify gets a fix line ending with a command.
    dir.tenant("acme", "free");
    let live = dir.key("acme", "live", &["mcp:search"]);
    let ran = dir
        .cmd(&["key", "verify", "--env", "test"])
        .stdin(&live)
        .run_fail();
    assert_ends_with_command(&ran, "docward serve --env live");
    let json = dir
        .cmd(&["key", "verify", "--env", "test", "--json"])
        .stdin(&live)
        .run_fail()
        .json();
    assert!(
        json["fix"].as_str().unwrap().contains("--env live"),
        "{json:#}"
    );

    let revoked = dir.key_json("acme", "test", &["--scope", "mcp:get_doc"]);
    dir.cmd(&["key", "revoke", revoked["id"].as_str().unwrap()])
        .run();
    let ran = dir
        .cmd(&["key", "verify"])
        .stdin(revoked["token"].as_str().unwrap())
        .run_fail();
    assert_ends_with_command(
        &ran,
        "docward key create --tenant acme --name \"test key\" --env test --scope mcp:get_doc",
    );
}

#[test]
fn repo_add_of_a_missing_folder_names_it_and_the_command() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");
    let ran = dir
        .cmd(&["repo", "add", "./dcos", "--tenant", "acme", "--env", "test"])
        .run_fail();
    assert!(
        ran.stderr().contains("there is no folder"),
        "{}",
        ran.dump()
    );
    assert!(ran.stderr().contains("dcos"), "{}", ran.dump());
    assert_ends_with_command(&ran, "docward repo add PATH --tenant acme --env test");

    // A file: its folder is suggested.
    dir.sample_docs("handbook");
    let ran = dir
        .cmd(&["repo", "add", "handbook/README.md", "--tenant", "acme"])
        .run_fail();
    assert_ends_with_command(&ran, "docward repo add handbook --tenant acme --env live");

    // A repo whose folder went away cannot be synced; the fix is spelled out.
    dir.repo("handbook", "acme", "test", "handbook");
    std::fs::rename(dir.path().join("handbook"), dir.path().join("moved")).unwrap();
    let ran = dir
        .cmd(&[
            "repo", "sync", "handbook", "--tenant", "acme", "--env", "test",
        ])
        .run_fail();
    assert_ends_with_command(
        &ran,
        "docward repo add NEW_PATH --tenant acme --env test --name handbook",
    );
}

#[test]
fn revoking_a_rotated_key_names_its_successor() {
    let dir = TestDir::new();
    dir.tenant("acme", "pro");
    let old = dir.key_json("acme", "test", &["--scope", "mcp:search"]);
    let old_id = old["id"].as_str().unwrap();
    let rotated = dir.cmd(&["key", "rotate", old_id, "--json"]).run().json();
    let new_id = rotated["id"].as_str().unwrap();

    // Rotating the old key again points at the new one.
    let ran = dir.cmd(&["key", "rotate", old_id]).run_fail();
    assert_ends_with_command(&ran, &format!("docward key rotate {new_id}"));

    // Revoking the old key (still in its grace period) says the new one still works.
    let out = dir.cmd(&["key", "revoke", old_id]).run().stdout();
    assert!(out.contains(new_id), "{out}");
    assert!(
        out.contains(&format!("`docward key revoke {new_id}`")),
        "{out}"
    );

    // Revoking it again is refused, naming the successor and how to stop it.
    let ran = dir.cmd(&["key", "revoke", old_id]).run_fail();
    assert!(ran.stderr().contains("already revoked"), "{}", ran.dump());
    assert_ends_with_command(&ran, &format!("docward key revoke {new_id}"));

    // Revoking a new key while its predecessor is in its grace period names the predecessor.
    let first = dir.key_json("acme", "test", &["--scope", "mcp:search"]);
    let first_id = first["id"].as_str().unwrap();
    let second = dir.cmd(&["key", "rotate", first_id, "--json"]).run().json();
    let out = dir
        .cmd(&["key", "revoke", second["id"].as_str().unwrap()])
        .run()
        .stdout();
    assert!(
        out.contains(&format!("`docward key revoke {first_id}`")),
        "{out}"
    );
}

#[tokio::test]
async fn quota_refusals_end_with_the_command_that_raises_the_limit() {
    let dir = TestDir::new();
    dir.cmd(&[
        "tenant",
        "create",
        "acme",
        "--plan",
        "free",
        "--daily-limit",
        "1",
    ])
    .run();
    dir.sample_docs("handbook");
    dir.repo("handbook", "acme", "live", "handbook");
    let key = dir.key("acme", "live", &["mcp:search"]);
    let session = stdio_session(&dir, "live", Some(&key)).await;
    let first = call(&session, "search", json!({ "query": "revoke" })).await;
    assert_ne!(first.is_error, Some(true), "{}", text(&first));
    let second = call(&session, "search", json!({ "query": "revoke" })).await;
    assert_eq!(second.is_error, Some(true));
    assert!(
        text(&second).contains("`docward tenant update acme --daily-limit 2`"),
        "{}",
        text(&second)
    );
    session.cancel().await.unwrap();

    let ran = dir.cmd(&["usage", "--tenant", "acme"]).run();
    assert!(ran.stderr().contains("1 of 1 live calls"), "{}", ran.dump());
    // Its own daily limit is what must be raised.
    assert_ends_with_command(&ran, "docward tenant update acme --daily-limit 2");
}

#[tokio::test]
async fn env_defaults_to_live_for_every_command_that_selects_one() {
    let dir = TestDir::new();
    dir.tenant("acme", "pro");
    dir.sample_docs("handbook");
    dir.cmd(&["repo", "add", "handbook", "--tenant", "acme"])
        .run();
    let repos = dir.cmd(&["repo", "list", "--json"]).run().json();
    assert_eq!(repos[0]["env"], "live", "{repos:#}");
    let hits = dir
        .cmd(&["search", "quokka deployment", "--tenant", "acme", "--json"])
        .run()
        .json();
    assert!(!hits.as_array().unwrap().is_empty(), "{hits:#}");
    dir.cmd(&["repo", "sync", "handbook", "--tenant", "acme"])
        .run();
    let key = dir
        .cmd(&[
            "key",
            "create",
            "--tenant",
            "acme",
            "--name",
            "k",
            "--scope",
            "mcp:search",
        ])
        .run()
        .stdout_line();
    assert!(key.starts_with("dw_live_"), "{key}");
    let config = dir.cmd(&["config", "cursor"]).run().json();
    assert_eq!(
        config["mcpServers"]["docward"]["args"],
        json!(["serve", "--stdio", "--env", "live"])
    );
    // `serve` without --env accepts the live key.
    let log = dir.path().join("serve.log");
    let mut command = tokio::process::Command::new(docward_bin());
    command
        .env_clear()
        .env("DOCWARD_DATA_DIR", dir.data_dir())
        .env("DOCWARD_API_KEY", &key)
        .args(["serve", "--stdio"]);
    let (transport, _) = rmcp::transport::TokioChildProcess::builder(command)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let session = rmcp::ServiceExt::serve((), transport).await.unwrap();
    let result = call(&session, "search", json!({ "query": "quokka" })).await;
    assert_ne!(result.is_error, Some(true), "{}", text(&result));
    session.cancel().await.unwrap();
    // Filters still mean "any" when left out.
    dir.cmd(&[
        "repo", "add", "handbook", "--tenant", "acme", "--env", "test",
    ])
    .run();
    let repos = dir.cmd(&["repo", "list", "--json"]).run().json();
    assert_eq!(repos.as_array().unwrap().len(), 2, "{repos:#}");
}

/// Writes `n` small Markdown files, enough for indexing to last past the first bar redraw.
fn many_docs(dir: &TestDir, folder: &str, n: usize) {
    for i in 0..n {
        dir.write(
            &format!("{folder}/page-{i:04}.md"),
            &format!("# Page {i}\n\nSome text about topic {i} and the quokka.\n"),
        );
    }
}

#[test]
fn indexing_is_quiet_when_piped_and_shows_a_bar_on_a_terminal() {
    let dir = TestDir::new();
    dir.tenant("acme", "pro");
    many_docs(&dir, "pages", 600);
    let piped = dir
        .cmd(&["repo", "add", "pages", "--tenant", "acme", "--env", "test"])
        .run();
    assert!(!piped.stderr().contains("indexing"), "{}", piped.dump());
    assert!(!piped.stderr().contains('\u{1b}'), "{}", piped.dump());
    assert!(piped.stdout().contains("600 documents"), "{}", piped.dump());

    // On a terminal (util-linux `script` gives the command a pseudo-terminal).
    let script = Command::new("script").arg("--version").output();
    if script.is_err() {
        let reason =
            "`script` (util-linux) is not installed; it runs the command on a pseudo-terminal";
        if std::env::var_os("CI").is_some() || std::env::var_os("DOCWARD_REQUIRE_ALL").is_some() {
            panic!("{reason}");
        }
        eprintln!("skipped the terminal half: {reason}");
        return;
    }
    let command = format!("{} repo sync pages --tenant acme --env test", docward_bin());
    // A sync re-reads every file, so a change to all of them makes it index them all again.
    for i in 0..600 {
        dir.write(
            &format!("pages/page-{i:04}.md"),
            &format!("# Page {i}\n\nChanged text about topic {i}.\n"),
        );
    }
    let out = Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("TERM", "xterm")
        .env("DOCWARD_DATA_DIR", dir.data_dir())
        .current_dir(dir.path())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("indexing ["),
        "no progress bar on the terminal:\n{shown}"
    );
    assert!(shown.contains("600 changed"), "{shown}");
}

/// The README's test command, the line after "Run the tests" in its set-up section.
fn readme_test_command() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let after = &readme[readme
        .find("Run the tests")
        .expect("a 'Run the tests' paragraph")..];
    let block = &after[after.find("```sh\n").expect("a sh block") + 6..];
    block[..block.find("```").unwrap()].trim().to_owned()
}

#[test]
fn ci_runs_exactly_the_readme_test_command_with_a_venv_python() {
    let command = readme_test_command();
    let ci = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run")).unwrap();
    let last = ci
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap()
        .trim();
    assert_eq!(
        last, command,
        ".ci/run must end with the README's test command"
    );
    // PEP 668: no pip into the system interpreter; the tests take their Python from PYTHON.
    assert!(command.contains("python3 -m venv"), "{command}");
    assert!(!command.contains("python3 -m pip"), "{command}");
    assert!(command.contains("PYTHON="), "{command}");
    assert!(command.ends_with("cargo test"), "{command}");
}
