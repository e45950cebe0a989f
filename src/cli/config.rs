//! `docward config CLIENT`: the snippet to paste into an MCP client's configuration.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use docward::domain::Env;

use super::{DEFAULT_ENV, install, remote_url};

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
    #[arg(long, default_value = DEFAULT_ENV)]
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
        Client::Vscode => ".vscode/mcp.json in your workspace (or your user mcp.json)",
        Client::Cursor => "~/.cursor/mcp.json (or .cursor/mcp.json in a project)",
        Client::Windsurf => "~/.codeium/windsurf/mcp_config.json",
        Client::Zed => "Zed's settings.json (zed: open settings file)",
    }
}

/// The environment variable the key is read from, in snippets that keep it out of the file.
pub const KEY_VAR: &str = "DOCWARD_API_KEY";

/// How the snippet gets the key to the client, printed after it.
fn key_note(client: Client, remote: bool) -> String {
    match client {
        Client::ClaudeDesktop => "Replace the placeholder with your key: Claude Desktop reads no variables in this file, so keep it private (chmod 600).".to_owned(),
        Client::Vscode => "VS Code asks for the key once and keeps it in its secret storage. Servers that need a ${input:...} prompt are not started in VS Code's agent sessions (background agents, the Agents view), only in chat in the editor; for those, drop the \"inputs\" entry and give the key through an \"envFile\" or ${env:DOCWARD_API_KEY} instead.".to_owned(),
        Client::Cursor | Client::Windsurf => format!(
            "The key stays out of the file: the client reads ${{env:{KEY_VAR}}} from its own environment, so set {KEY_VAR} where the editor is started from (e.g. your shell profile) and start the editor from there{}.",
            if remote { "" } else { " (or replace the variable with the key itself)" }
        ),
        Client::Zed => "Replace the placeholder with your key: Zed reads no variables in settings.json, so keep that file private (chmod 600).".to_owned(),
    }
}

/// Builds the client's configuration snippet for `docward serve --stdio`. `key` is filled in
/// only at the show-once moment (`docward quickstart`); otherwise the snippet holds a
/// placeholder, or a variable reference where the client expands one.
pub fn snippet(client: Client, exe: &str, data_dir: &Path, env: Env, key: Option<&str>) -> Value {
    let args = json!(["serve", "--stdio", "--env", env.as_str()]);
    let data_dir = data_dir.display().to_string();
    let key = match (key, client) {
        (Some(key), _) => key.to_owned(),
        (None, Client::Cursor | Client::Windsurf) => format!("${{env:{KEY_VAR}}}"),
        (None, Client::Vscode) => "${input:docward-api-key}".to_owned(),
        (None, _) => format!("<paste your dw_{env}_... key>"),
    };
    let server_env = json!({ KEY_VAR: key, "DOCWARD_DATA_DIR": data_dir });
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
                "env": server_env
            }}
        }),
        // Zed's current shape: the command, its arguments and environment side by side.
        Client::Zed => json!({ "context_servers": { "docward": stdio } }),
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
    let from_env = format!("Bearer ${{env:{KEY_VAR}}}");
    let placeholder = format!("Bearer <paste your dw_{env}_... key>");
    Ok(match client {
        Client::ClaudeDesktop => anyhow::bail!(
            "Claude Desktop adds remote MCP servers under Settings › Connectors, not in its JSON file; on the machine that has the docs, use the stdio entry instead: `docward config claude-desktop --env {env}`"
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
            json!({ "mcpServers": { "docward": { "url": url, "headers": { "Authorization": from_env } } } })
        }
        Client::Windsurf => {
            json!({ "mcpServers": { "docward": { "serverUrl": url, "headers": { "Authorization": from_env } } } })
        }
        Client::Zed => {
            json!({ "context_servers": { "docward": { "url": url, "headers": { "Authorization": placeholder } } } })
        }
    })
}

/// The `--client` name as typed on the command line, for the commands in messages.
fn cli_name(client: Client) -> String {
    client
        .to_possible_value()
        .map_or_else(String::new, |v| v.get_name().to_owned())
}

/// Prints the snippet on stdout and the notes (where to paste it, how the key gets there, the
/// binary chosen) on stderr, so that `docward config X > file` writes only JSON.
pub fn run(args: ConfigArgs, data_dir: &Path) -> Result<ExitCode> {
    let name = cli_name(args.client);
    if let Some(url) = &args.url {
        let warning = remote_url::check(url, &name)?;
        let value = http_snippet(args.client, url.trim(), args.env)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        if let Some(warning) = warning {
            eprintln!("{warning}");
        }
        eprintln!("Paste this into {}.", location(args.client));
        eprintln!("{}", key_note(args.client, true));
        return Ok(ExitCode::SUCCESS);
    }
    let exe = install::stable_exe()?;
    let data_dir = install::absolute_data_dir(data_dir)?;
    let value = snippet(
        args.client,
        &exe.path.display().to_string(),
        &data_dir,
        args.env,
        None,
    );
    println!("{}", serde_json::to_string_pretty(&value)?);
    if let Some(note) = &exe.note {
        eprintln!("{note}");
    }
    eprintln!("Paste this into {}.", location(args.client));
    eprintln!("{}", key_note(args.client, false));
    Ok(ExitCode::SUCCESS)
}
