//! `docward quickstart`: a demo tenant, the bundled docs indexed, a test key, and one search
//! answered through the real MCP stdio path, then the Claude Desktop entry to paste.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};

use anyhow::{Context, Result, bail};
use clap::Args;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::json;

use docward::clock;
use docward::docs::{DocsError, Library, NoProgress};
use docward::domain::{Env, Plan, Scope, TokenType};
use docward::keys::{self, NewKey};
use docward::libraries::private_library_dir;
use docward::store::{KeyStatus, KeyStore, SharedStore, TenantRecord};

use super::config::{Client, snippet};
use super::install;

const TENANT: &str = "demo";
const REPO: &str = "docward-docs";
const KEY_NAME: &str = "quickstart";

#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// Folder of docs to index [default: ./docs, else the docs bundled with this source tree]
    #[arg(long, value_name = "DIR")]
    docs: Option<PathBuf>,
    /// The question to ask through MCP
    #[arg(long, default_value = "how do I revoke an API key")]
    query: String,
}

fn docs_folder(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = given {
        if !dir.is_dir() {
            bail!(
                "--docs {} is not a folder; give a folder of Markdown files: `docward quickstart --docs PATH`",
                dir.display()
            );
        }
        return Ok(dir);
    }
    let candidates = [
        PathBuf::from("docs"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs"),
    ];
    candidates
        .into_iter()
        .find(|d| d.is_dir())
        .context("no docs folder found: pass --docs DIR with a folder of Markdown files")
}

pub fn run(args: QuickstartArgs, data_dir: &Path) -> Result<ExitCode> {
    let docs = docs_folder(args.docs)?;
    // Absolute, so that the entry printed at the end works from any working directory.
    let data_dir = &install::absolute_data_dir(data_dir)?;
    // This process owns the store while the server it starts reaches it through the owner.
    let store = SharedStore::open(data_dir)?;
    let token = prepare(&store, data_dir, &docs)?;
    println!("\n4. Asking docward through MCP over stdio (the path Claude Desktop uses)...");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(ask(data_dir, &token, &args.query))?;
    let exe = install::stable_exe()?;
    let entry = snippet(
        Client::ClaudeDesktop,
        &exe.path.display().to_string(),
        data_dir,
        Env::Test,
        Some(&token),
    );
    println!(
        "\n5. Done. Paste this into Claude Desktop's claude_desktop_config.json, then restart it:\n"
    );
    println!("{}", serde_json::to_string_pretty(&entry)?);
    if let Some(note) = &exe.note {
        println!("\n{note}");
    }
    println!(
        "\nThe key above is a test key of tenant '{TENANT}' and is shown only this once.\nNext: `docward config vscode|cursor|windsurf|zed --env test` for other clients, `docward key list`, `docward usage`."
    );
    Ok(ExitCode::SUCCESS)
}

/// Tenant, repo and key; returns the new key's token.
fn prepare(store: &SharedStore, data_dir: &Path, docs: &Path) -> Result<String> {
    let now = clock::now();
    if store.tenant(TENANT)?.is_none() {
        store.create_tenant(&TenantRecord {
            name: TENANT.into(),
            plan: Plan::Free,
            daily_limit: None,
            max_keys: None,
            created_at: now,
        })?;
        println!(
            "1. Created tenant '{TENANT}' (free plan) in {}",
            data_dir.display()
        );
    } else {
        println!("1. Using tenant '{TENANT}' in {}", data_dir.display());
    }
    let library = Library::open(&private_library_dir(data_dir, TENANT, Env::Test)?)?;
    let report = match library.add_repo(REPO, docs, &NoProgress) {
        Err(DocsError::RepoExists(_)) => library.sync_repo(REPO, &NoProgress)?,
        other => other?,
    };
    println!(
        "2. Indexed {} as repo '{REPO}' (test): {} documents, {} sections in {} ms",
        docs.display(),
        report.documents,
        report.sections,
        report.elapsed_ms
    );
    for old in store.keys(Some(TENANT))? {
        if old.name == KEY_NAME && old.status(now) == KeyStatus::Active {
            store.revoke_key(&old.id, now)?;
        }
    }
    let created = keys::create_key(
        store,
        NewKey {
            tenant: TENANT.into(),
            name: KEY_NAME.into(),
            env: Env::Test,
            token_type: TokenType::Restricted,
            scopes: vec![Scope::McpSearch, Scope::McpGetDoc, Scope::McpListRepos],
            expires_at: Some(now + 30 * 86_400),
        },
        now,
    )?;
    println!(
        "3. Created test key {} ({}), scopes mcp:search, mcp:get_doc, mcp:list_repos, expires in 30 days (earlier quickstart keys revoked)",
        created.record.id,
        created.record.display()
    );
    store.flush()?;
    Ok(created.token.expose().to_owned())
}

/// Starts `docward serve --stdio` as an MCP client would and asks it one question.
async fn ask(data_dir: &Path, token: &str, query: &str) -> Result<()> {
    let exe = std::env::current_exe()?;
    let command = tokio::process::Command::new(exe).configure(|cmd| {
        cmd.args(["serve", "--stdio", "--env", "test"])
            .env("DOCWARD_API_KEY", token)
            .env("DOCWARD_DATA_DIR", data_dir);
    });
    let (transport, _stderr) = TokioChildProcess::builder(command)
        .stderr(Stdio::null())
        .spawn()
        .context("could not start `docward serve --stdio`")?;
    let client = ().serve(transport).await.context("MCP initialize failed")?;
    let tools = client.list_all_tools().await?;
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    println!("   tools/list -> {}", names.join(", "));
    let arguments = json!({ "query": query, "limit": 3 });
    let result = client
        .call_tool(
            CallToolRequestParams::new("search")
                .with_arguments(arguments.as_object().cloned().unwrap_or_default()),
        )
        .await?;
    if result.is_error == Some(true) {
        bail!("the search was refused: {:?}", result.content);
    }
    println!("   tools/call search {{\"query\": \"{query}\"}} ->\n");
    for block in &result.content {
        if let Some(text) = block.as_text() {
            for line in text.text.lines() {
                println!("   {line}");
            }
        }
    }
    client.cancel().await?;
    Ok(())
}
