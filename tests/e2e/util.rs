//! Test support: a temp data dir per test, the real `docward` binary run with a scrubbed
//! environment, and an MCP client speaking to `docward serve --stdio`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;

/// The binary under test.
pub fn docward_bin() -> &'static str {
    env!("CARGO_BIN_EXE_docward")
}

/// A temporary directory holding one test's data dir and files. Removed on drop.
pub struct TestDir {
    tmp: tempfile::TempDir,
}

impl TestDir {
    /// A fresh directory.
    pub fn new() -> TestDir {
        TestDir {
            tmp: tempfile::Builder::new()
                .prefix("docward-e2e-")
                .tempdir()
                .expect("temp dir"),
        }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// The data dir passed to docward (`DOCWARD_DATA_DIR`).
    pub fn data_dir(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    /// Writes a file below the directory, creating parents.
    pub fn write(&self, rel: &str, contents: &str) -> PathBuf {
        let path = self.tmp.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// A `docward` command with a scrubbed environment and this test's data dir.
    pub fn cmd(&self, args: &[&str]) -> TestCommand {
        let mut cmd = Command::new(docward_bin());
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("DOCWARD_DATA_DIR", self.data_dir())
            .current_dir(self.path())
            .args(args);
        TestCommand {
            cmd,
            stdin: None,
            ran: false,
        }
    }

    /// Creates a tenant on a plan.
    pub fn tenant(&self, name: &str, plan: &str) {
        self.cmd(&["tenant", "create", name, "--plan", plan]).run();
    }

    /// Creates a key and returns its token.
    pub fn key(&self, tenant: &str, env: &str, scopes: &[&str]) -> String {
        let mut args = vec![
            "key", "create", "--tenant", tenant, "--name", "test key", "--env", env,
        ];
        if scopes.is_empty() {
            args.extend(["--type", "unrestricted"]);
        }
        for s in scopes {
            args.extend(["--scope", s]);
        }
        self.cmd(&args).run().stdout_line()
    }

    /// Creates a key with extra arguments and returns the `--json` object (token included).
    pub fn key_json(&self, tenant: &str, env: &str, extra: &[&str]) -> Value {
        let mut args = vec![
            "key", "create", "--tenant", tenant, "--name", "test key", "--env", env, "--json",
        ];
        args.extend(extra);
        self.cmd(&args).run().json()
    }

    /// Indexes a folder of this directory as a repo.
    pub fn repo(&self, folder: &str, tenant: &str, env: &str, name: &str) {
        let path = self.path().join(folder);
        self.cmd(&[
            "repo",
            "add",
            path.to_str().unwrap(),
            "--tenant",
            tenant,
            "--env",
            env,
            "--name",
            name,
        ])
        .run();
    }

    /// Writes a small set of docs under `folder`.
    pub fn sample_docs(&self, folder: &str) {
        self.write(
            &format!("{folder}/guide/keys.md"),
            "---\ntitle: Managing keys\n---\n# Managing keys\n\nKeys are created by administrators.\n\n## Revoking a key\n\nRevocation takes effect on the next request. Run the revoke command.\n\n## Rotating a key\n\nRotation issues a replacement and keeps the old key for a grace period.\n",
        );
        self.write(
            &format!("{folder}/guide/search.md"),
            "# Searching\n\nThe search tool ranks sections with BM25.\n\n## Snippets\n\nEach result carries a snippet with highlighted terms.\n",
        );
        self.write(
            &format!("{folder}/README.md"),
            "# Handbook\n\nThe handbook explains tokio runtimes and the quokka deployment procedure.\n",
        );
    }
}

/// A `docward` invocation that must be run: dropping it unrun fails the test.
pub struct TestCommand {
    cmd: Command,
    stdin: Option<String>,
    ran: bool,
}

/// The outcome of a [`TestCommand`].
pub struct Ran {
    pub output: Output,
    description: String,
}

impl TestCommand {
    /// Sets an environment variable.
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Feeds text on stdin.
    pub fn stdin(mut self, text: &str) -> Self {
        self.stdin = Some(text.to_owned());
        self
    }

    fn execute(&mut self) -> Ran {
        self.ran = true;
        self.cmd
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("spawn docward");
        if let Some(text) = self.stdin.take() {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let output = child.wait_with_output().expect("wait for docward");
        Ran {
            description: format!("{:?}", self.cmd),
            output,
        }
    }

    /// Runs and expects success.
    #[track_caller]
    pub fn run(mut self) -> Ran {
        let ran = self.execute();
        if !ran.output.status.success() {
            panic!("expected success\n{}", ran.dump());
        }
        ran
    }

    /// Runs and expects failure (non-zero exit, no panic).
    #[track_caller]
    pub fn run_fail(mut self) -> Ran {
        let ran = self.execute();
        if ran.output.status.success() {
            panic!("expected failure\n{}", ran.dump());
        }
        assert!(
            !ran.stderr().contains("panicked") && !ran.stderr().contains("RUST_BACKTRACE"),
            "docward panicked\n{}",
            ran.dump()
        );
        ran
    }

    /// Runs and returns the outcome whatever it is (but a panic of docward fails the test).
    #[track_caller]
    pub fn run_unchecked(mut self) -> Ran {
        let ran = self.execute();
        assert!(
            !ran.stderr().contains("panicked"),
            "docward panicked\n{}",
            ran.dump()
        );
        ran
    }
}

impl Drop for TestCommand {
    fn drop(&mut self) {
        if !self.ran && !std::thread::panicking() {
            panic!("a TestCommand was built but never run: {:?}", self.cmd);
        }
    }
}

impl Ran {
    /// Standard output as text.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// Standard error as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The single line of stdout, trimmed.
    #[track_caller]
    pub fn stdout_line(&self) -> String {
        let out = self.stdout();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "expected one stdout line\n{}", self.dump());
        lines[0].trim().to_owned()
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.dump()))
    }

    /// The exit code.
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Everything about the run, for failure messages.
    pub fn dump(&self) -> String {
        format!(
            "command: {}\nstatus: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.description,
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }
}

/// A live MCP session with `docward serve --stdio`, through rmcp's client.
pub type Session = RunningService<RoleClient, ()>;

/// Starts `docward serve --stdio --env ENV` with `key` (if any) in `DOCWARD_API_KEY`, and
/// initialises an MCP session with it. The server's stderr goes to `<dir>/server-N.log`.
pub async fn stdio_session(dir: &TestDir, env: &str, key: Option<&str>) -> Session {
    stdio_session_with(dir, env, key, &[]).await
}

/// Like [`stdio_session`], with extra `serve` arguments (e.g. `--burst 1000`).
pub async fn stdio_session_with(
    dir: &TestDir,
    env: &str,
    key: Option<&str>,
    extra: &[&str],
) -> Session {
    stdio_session_pid(dir, env, key, extra).await.0
}

/// Like [`stdio_session_with`], also returning the server's process id.
pub async fn stdio_session_pid(
    dir: &TestDir,
    env: &str,
    key: Option<&str>,
    extra: &[&str],
) -> (Session, u32) {
    let log_path = unique_log_path(dir);
    let log = std::fs::File::create(&log_path).unwrap();
    let command = tokio::process::Command::new(docward_bin()).configure(|cmd| {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DOCWARD_DATA_DIR", dir.data_dir())
            .args(["serve", "--stdio", "--env", env])
            .args(extra);
        if let Some(key) = key {
            cmd.env("DOCWARD_API_KEY", key);
        }
    });
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(log)
        .spawn()
        .expect("spawn docward serve --stdio");
    let pid = transport.id().expect("server pid");
    let session = tokio::time::timeout(std::time::Duration::from_secs(20), ().serve(transport))
        .await
        .expect("initialize timed out")
        .expect("initialize failed");
    (session, pid)
}

/// Sends SIGKILL to a process.
pub fn kill9(pid: u32) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -9 {pid}");
}

/// Everything the servers of this test wrote on stderr.
pub fn server_logs(dir: &TestDir) -> String {
    (0..)
        .map(|i| dir.path().join(format!("server-{i}.log")))
        .take_while(|p| p.exists())
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn unique_log_path(dir: &TestDir) -> PathBuf {
    (0..)
        .map(|i| dir.path().join(format!("server-{i}.log")))
        .find(|p| !p.exists())
        .unwrap()
}

/// Calls a tool with JSON arguments.
pub async fn call(session: &Session, tool: &str, args: Value) -> CallToolResult {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        session.call_tool(params),
    )
    .await
    .expect("tools/call timed out")
    .expect("tools/call failed at the protocol level")
}

/// The text of a tool result.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The refusal code of an `isError` result, if it is a refusal from the gate.
pub fn refusal_code(result: &CallToolResult) -> Option<String> {
    if result.is_error != Some(true) {
        return None;
    }
    result
        .structured_content
        .as_ref()?
        .pointer("/error/code")?
        .as_str()
        .map(str::to_owned)
}

/// Names of the tools listed to this session.
pub async fn tool_names(session: &Session) -> Vec<String> {
    let mut names: Vec<String> = session
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    names
}

/// A running `docward serve --http` on a free loopback port, killed on drop.
pub struct HttpServer {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    log: PathBuf,
}

impl HttpServer {
    /// Starts `docward serve --http 127.0.0.1:0 --env ENV` with extra arguments and waits until
    /// it listens.
    pub fn start(dir: &TestDir, env: &str, extra: &[&str]) -> HttpServer {
        use std::io::{BufRead, BufReader};
        let log = unique_log_path(dir);
        let mut child = Command::new(docward_bin())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DOCWARD_DATA_DIR", dir.data_dir())
            .args(["serve", "--http", "127.0.0.1:0", "--env", env])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn docward serve --http");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log_path = log.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut file = std::fs::File::create(log_path).unwrap();
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                let _ = file.flush();
                if !sent && let Some(addr) = line.split("listen=").nth(1) {
                    let addr = addr
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send(addr);
                    sent = true;
                }
            }
        });
        let addr = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .unwrap_or_else(|_| {
                panic!(
                    "docward serve --http did not start; log: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        HttpServer {
            child,
            base: format!("http://{addr}"),
            log,
        }
    }

    /// The streamable HTTP endpoint.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no exit after SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An rmcp client session over streamable HTTP with a Bearer key.
pub async fn http_session(server: &HttpServer, key: &str) -> Result<Session, String> {
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let config =
        StreamableHttpClientTransportConfig::with_uri(server.mcp_url()).auth_header(key.to_owned());
    // rmcp builds its own reqwest client: see `http_client`.
    docward::reminders::tls::install_provider();
    let transport = StreamableHttpClientTransport::from_config(config);
    tokio::time::timeout(std::time::Duration::from_secs(20), ().serve(transport))
        .await
        .map_err(|_| "initialize timed out".to_owned())?
        .map_err(|e| e.to_string())
}

/// The JSON-RPC `initialize` request body.
pub fn initialize_body() -> Value {
    serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "0"}}
    })
}

/// POSTs a JSON-RPC body to `/mcp` with an optional Bearer key and session id.
pub async fn post_mcp(
    server: &HttpServer,
    key: Option<&str>,
    session: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = http_client()
        .post(server.mcp_url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    if let Some(session) = session {
        request = request
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", "2025-06-18");
    }
    request.send().await.expect("HTTP request")
}

/// A test dir with tenant `acme` on `plan` and the sample docs indexed in `env` as repo
/// `handbook`.
pub fn setup(env: &str, plan: &str) -> TestDir {
    setup_with(env, &["--plan", plan])
}

/// Like [`setup`], with the tenant created with `tenant_args` (e.g. a `--daily-limit`).
pub fn setup_with(env: &str, tenant_args: &[&str]) -> TestDir {
    let dir = TestDir::new();
    let mut args = vec!["tenant", "create", "acme"];
    args.extend(tenant_args);
    dir.cmd(&args).run();
    dir.sample_docs("handbook");
    dir.repo("handbook", "acme", env, "handbook");
    dir
}

/// Sends a signal by name (`STOP`, `CONT`, `TERM`, …) to a process.
pub fn send_signal(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// An HTTP client for the tests. docward's webhook client turns on reqwest's rustls without a
/// built-in crypto provider (it installs ring at start), and Cargo unifies that feature into
/// the tests' reqwest, so the provider must be installed here too before any client is built.
pub fn http_client() -> reqwest::Client {
    http_client_builder().build().expect("an HTTP client")
}

/// [`http_client`], to be configured further.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    docward::reminders::tls::install_provider();
    reqwest::Client::builder()
}
