//! Client configuration snippets for the show-once page, with the new key filled in.

use serde_json::{Value, json};

use super::SnippetTarget;
use crate::domain::Env;

/// One client's snippet.
pub(crate) struct Snippet {
    pub(crate) client: &'static str,
    pub(crate) file: &'static str,
    pub(crate) text: String,
}

/// Snippets for Claude Desktop, VS Code, Cursor, Windsurf and Zed.
pub(crate) fn all(target: &SnippetTarget, env: Env, key: &str) -> Vec<Snippet> {
    let pretty = |v: Value| serde_json::to_string_pretty(&v).unwrap_or_default();
    match target {
        SnippetTarget::Http(url) => {
            let bearer = format!("Bearer {key}");
            vec![
                Snippet {
                    client: "Claude Desktop",
                    file: "Settings › Connectors › Add custom connector (remote servers are added there, not in the JSON file)",
                    text: format!("URL: {url}\nHeader: Authorization: {bearer}"),
                },
                Snippet {
                    client: "VS Code",
                    file: ".vscode/mcp.json (VS Code asks for the key once; paste it at the prompt)",
                    text: pretty(json!({
                        "inputs": [{"type": "promptString", "id": "docward-api-key", "description": "docward API key", "password": true}],
                        "servers": {"docward": {"type": "http", "url": url, "headers": {"Authorization": "Bearer ${input:docward-api-key}"}}}
                    })),
                },
                Snippet {
                    client: "Cursor",
                    file: "~/.cursor/mcp.json",
                    text: pretty(
                        json!({"mcpServers": {"docward": {"url": url, "headers": {"Authorization": bearer}}}}),
                    ),
                },
                Snippet {
                    client: "Windsurf",
                    file: "~/.codeium/windsurf/mcp_config.json",
                    text: pretty(
                        json!({"mcpServers": {"docward": {"serverUrl": url, "headers": {"Authorization": bearer}}}}),
                    ),
                },
                Snippet {
                    client: "Zed",
                    file: "Zed's settings.json",
                    text: pretty(
                        json!({"context_servers": {"docward": {"url": url, "headers": {"Authorization": bearer}}}}),
                    ),
                },
            ]
        }
        SnippetTarget::Stdio { exe, data_dir } => {
            let exe = exe.display().to_string();
            let args = json!(["serve", "--stdio", "--env", env.as_str()]);
            let server_env =
                json!({"DOCWARD_API_KEY": key, "DOCWARD_DATA_DIR": data_dir.display().to_string()});
            let stdio = json!({"command": exe, "args": args, "env": server_env});
            vec![
                Snippet {
                    client: "Claude Desktop",
                    file: "claude_desktop_config.json",
                    text: pretty(json!({"mcpServers": {"docward": stdio}})),
                },
                Snippet {
                    client: "VS Code",
                    file: ".vscode/mcp.json",
                    text: pretty(
                        json!({"servers": {"docward": {"type": "stdio", "command": exe, "args": args, "env": server_env}}}),
                    ),
                },
                Snippet {
                    client: "Cursor",
                    file: "~/.cursor/mcp.json",
                    text: pretty(json!({"mcpServers": {"docward": stdio}})),
                },
                Snippet {
                    client: "Windsurf",
                    file: "~/.codeium/windsurf/mcp_config.json",
                    text: pretty(json!({"mcpServers": {"docward": stdio}})),
                },
                Snippet {
                    client: "Zed",
                    file: "Zed's settings.json",
                    text: pretty(
                        json!({"context_servers": {"docward": {"source": "custom", "command": exe, "args": args, "env": server_env}}}),
                    ),
                },
            ]
        }
    }
}
