//! `docward config CLIENT`: the snippet to paste into an MCP client's configuration.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use docward::domain::Env;

/// The MCP clients docward knows how to configure.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Client {
    /// Claude Desktop: claude_desktop_config.json
    ClaudeDesktop,
    /// VS Code: .vscode/mcp.json
    Vscode,
    /// Cursor: ~/.cursor/mcp.json
    Cursor,
    /// Windsurf: ~/.codeium/windsurf/mcp_config.json
    Windsurf,
    /// Zed: settings.json
    Zed,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Which client
    client: Client,
    /// The environment of the key the client will use
    #[arg(long, default_value = "live")]
    env: Env,
    /// Connect to a running `docward serve --http` at this MCP URL (e.g.
    /// https://docs.example.com/mcp) instead of launching docward over stdio
    #[arg(long, value_name = "URL")]
    url: Option<String>,
}

/// Where each client keeps its configuration, for the note printed with the snippet.
fn location(client: Client) -> &'static str {
    match client {
        Client::ClaudeDesktop => {
            "claude_desktop_config.json (macOS: ~/Library/Application Support/Claude/, Windows: %APPDATA%\\Claude\\, Linux: ~/.config/Claude/)"
        }
        Client::Vscode => {
            ".vscode/mcp.json in your workspace (VS Code asks for the key once and keeps it in its secret storage)"
        }
        Client::Cursor => "~/.cursor/mcp.json (or .cursor/mcp.json in a project)",
        Client::Windsurf => "~/.codeium/windsurf/mcp_config.json",
        Client::Zed => "Zed's settings.json (zed: open settings)",
    }
}

/// Builds the client's configuration snippet.
pub fn snippet(client: Client, exe: &str, data_dir: &Path, env: Env, key: Option<&str>) -> Value {
    let args = json!(["serve", "--stdio", "--env", env.as_str()]);
    let data_dir = data_dir.display().to_string();
    let key = key.map_or_else(|| format!("<paste your dw_{env}_... key>"), str::to_owned);
    let server_env = json!({ "DOCWARD_API_KEY": key, "DOCWARD_DATA_DIR": data_dir });
    let stdio = json!({ "command": exe, "args": args, "env": server_env });
    match client {
        Client::ClaudeDesktop | Client::Cursor | Client::Windsurf => {
            json!({ "mcpServers": { "docward": stdio } })
        }
        Client::Vscode => json!({
            "inputs": [vscode_key_prompt()],
            "servers": { "docward": {
                "type": "stdio",
                "command": exe,
                "args": args,
                "env": { "DOCWARD_API_KEY": "${input:docward-api-key}", "DOCWARD_DATA_DIR": data_dir }
            }}
        }),
        Client::Zed => json!({
            "context_servers": { "docward": {
                "source": "custom",
                "command": exe,
                "args": args,
                "env": server_env
            }}
        }),
    }
}

/// VS Code's prompt for the key, so that the key is asked for once and kept out of the file.
fn vscode_key_prompt() -> Value {
    json!({
        "type": "promptString",
        "id": "docward-api-key",
        "description": "docward API key",
        "password": true
    })
}

/// Builds the client's snippet for a remote server reached over streamable HTTP with a Bearer
/// key. Claude Desktop adds remote servers in its settings, not in its JSON file.
pub fn http_snippet(client: Client, url: &str, env: Env) -> Result<Value> {
    let bearer = format!("Bearer <paste your dw_{env}_... key>");
    Ok(match client {
        Client::ClaudeDesktop => anyhow::bail!(
            "Claude Desktop adds remote MCP servers under Settings › Connectors, not in its JSON file; use the stdio entry (`docward config claude-desktop`) on the machine that has the docs"
        ),
        Client::Vscode => json!({
            "inputs": [vscode_key_prompt()],
            "servers": { "docward": {
                "type": "http",
                "url": url,
                "headers": { "Authorization": "Bearer ${input:docward-api-key}" }
            }}
        }),
        Client::Cursor => {
            json!({ "mcpServers": { "docward": { "url": url, "headers": { "Authorization": bearer } } } })
        }
        Client::Windsurf => {
            json!({ "mcpServers": { "docward": { "serverUrl": url, "headers": { "Authorization": bearer } } } })
        }
        Client::Zed => {
            json!({ "context_servers": { "docward": { "url": url, "headers": { "Authorization": bearer } } } })
        }
    })
}

pub fn run(args: ConfigArgs, data_dir: &Path) -> Result<ExitCode> {
    if let Some(url) = &args.url {
        let value = http_snippet(args.client, url, args.env)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        eprintln!("Paste this into {}.", location(args.client));
        return Ok(ExitCode::SUCCESS);
    }
    let exe = std::env::current_exe().context("could not find the docward executable's path")?;
    let value = snippet(
        args.client,
        &exe.display().to_string(),
        data_dir,
        args.env,
        None,
    );
    println!("{}", serde_json::to_string_pretty(&value)?);
    eprintln!("Paste this into {}.", location(args.client));
    Ok(ExitCode::SUCCESS)
}
