//! A minimal MCP client for docward: starts `docward serve --stdio` as an AI assistant would and
//! runs one search.
//!
//! ```sh
//! cargo run --release -- quickstart            # once: a demo tenant, docs and a test key
//! DOCWARD_API_KEY=dw_test_... cargo run --release --example search_client -- "rotate a key"
//! ```
//! Set `DOCWARD_BIN` to use another docward binary (default: `target/release/docward`).

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let query = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let query = if query.is_empty() {
        "how do I revoke an API key".to_owned()
    } else {
        query
    };
    let bin = std::env::var("DOCWARD_BIN").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/docward").to_owned()
    });
    let env = std::env::var("DOCWARD_API_KEY")
        .ok()
        .filter(|k| k.starts_with("dw_live_"))
        .map_or("test", |_| "live");
    let command = tokio::process::Command::new(&bin).configure(|cmd| {
        cmd.args(["serve", "--stdio", "--env", env]);
    });
    let client = ().serve(TokioChildProcess::new(command)?).await?;
    let tools = client.list_all_tools().await?;
    println!(
        "tools: {:?}",
        tools.iter().map(|t| t.name.as_ref()).collect::<Vec<_>>()
    );
    let args = json!({ "query": query, "limit": 5 });
    let result = client
        .call_tool(
            CallToolRequestParams::new("search")
                .with_arguments(args.as_object().cloned().unwrap_or_default()),
        )
        .await?;
    for block in &result.content {
        if let Some(text) = block.as_text() {
            println!("{}", text.text);
        }
    }
    client.cancel().await?;
    Ok(())
}
