//! `docward serve`: run the MCP server.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Result, bail};
use clap::Args;

use docward::domain::Env;
use docward::gate::Gate;
use docward::libraries::Libraries;
use docward::quota::{DEFAULT_BURST_PER_SECOND, Limits};
use docward::server::{ServerState, serve_stdio};
use docward::store::KeyStore;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Speak MCP on stdin/stdout (what desktop clients launch); the key comes from DOCWARD_API_KEY
    #[arg(long)]
    stdio: bool,
    /// The server's environment: only keys of this environment are accepted
    #[arg(long, default_value = "live")]
    env: Env,
    /// Burst limit: tool calls per second per key
    #[arg(long, default_value_t = DEFAULT_BURST_PER_SECOND, value_name = "N")]
    burst: u32,
}

pub fn run(args: ServeArgs, store: Arc<dyn KeyStore>, data_dir: &Path) -> Result<ExitCode> {
    if !args.stdio {
        bail!("choose a transport: --stdio (HTTP is not available yet)");
    }
    let state = Arc::new(ServerState {
        gate: Gate::new(store, args.env, Limits::new(args.burst)),
        libraries: Libraries::new(data_dir),
    });
    let key = std::env::var("DOCWARD_API_KEY").ok();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve_stdio(Arc::clone(&state), key))?;
    state.gate.store().flush()?;
    Ok(ExitCode::SUCCESS)
}
