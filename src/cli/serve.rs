//! `docward serve`: run the MCP server.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use std::net::SocketAddr;

use anyhow::Result;
use clap::Args;
use tokio_util::sync::CancellationToken;

use docward::domain::Env;
use docward::gate::Gate;
use docward::libraries::Libraries;
use docward::quota::{DEFAULT_BURST_PER_SECOND, Limits};
use docward::server::http::{HttpConfig, serve_http};
use docward::server::{ServerState, serve_stdio};
use docward::store::KeyStore;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Speak MCP on stdin/stdout (what desktop clients launch); the key comes from DOCWARD_API_KEY
    #[arg(long, conflicts_with = "http", required_unless_present = "http")]
    stdio: bool,
    /// Serve MCP over HTTP on this address (streamable HTTP at /mcp, legacy SSE at /sse);
    /// keys come from `Authorization: Bearer`
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// The URL clients use to reach this server, e.g. https://docs.example.com (for metadata)
    #[arg(long, value_name = "URL", requires = "http")]
    public_url: Option<String>,
    /// Accept this Host header too (repeatable); loopback and the public URL's host always are
    #[arg(long = "allowed-host", value_name = "HOST", requires = "http")]
    allowed_hosts: Vec<String>,
    /// Accept browser requests from this Origin, e.g. https://app.example.com (repeatable)
    #[arg(long = "allowed-origin", value_name = "ORIGIN", requires = "http")]
    allowed_origins: Vec<String>,
    /// The server's environment: only keys of this environment are accepted
    #[arg(long, default_value = "live")]
    env: Env,
    /// Burst limit: tool calls per second per key
    #[arg(long, default_value_t = DEFAULT_BURST_PER_SECOND, value_name = "N")]
    burst: u32,
}

pub fn run(args: ServeArgs, store: Arc<dyn KeyStore>, data_dir: &Path) -> Result<ExitCode> {
    let state = Arc::new(ServerState {
        gate: Gate::new(store, args.env, Limits::new(args.burst)),
        libraries: Libraries::new(data_dir),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.http {
        Some(listen) => {
            let mut config = HttpConfig::new(listen, args.public_url);
            config.allowed_hosts.extend(args.allowed_hosts);
            config.allowed_origins = args.allowed_origins;
            let shutdown = CancellationToken::new();
            runtime.spawn(cancel_on_signal(shutdown.clone()));
            runtime.block_on(serve_http(Arc::clone(&state), config, shutdown))?;
            tracing::info!("shut down; usage flushed");
        }
        None => {
            let key = std::env::var("DOCWARD_API_KEY").ok();
            runtime.block_on(serve_stdio(Arc::clone(&state), key))?;
        }
    }
    state.gate.store().flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM, so that in-flight calls finish and usage is flushed.
async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    shutdown.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down: finishing in-flight requests");
    shutdown.cancel();
}
