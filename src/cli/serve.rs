//! `docward serve`: run the MCP server.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use tokio_util::sync::CancellationToken;

use docward::clock;
use docward::domain::Env;
use docward::gate::Gate;
use docward::libraries::Libraries;
use docward::quota::{DEFAULT_BURST_PER_SECOND, Limits};
use docward::server::http::{ConnectionLimits, HttpConfig, serve_http};
use docward::server::{ServerState, serve_stdio};
use docward::store::KeyStore;

use super::DEFAULT_ENV;

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
    #[arg(long, default_value = DEFAULT_ENV)]
    env: Env,
    /// Burst limit: tool calls per second per key
    #[arg(long, default_value_t = DEFAULT_BURST_PER_SECOND, value_name = "N")]
    burst: u32,
    /// Open HTTP connections at most; more are answered 503 and closed at once
    #[arg(long, default_value_t = 1024, value_name = "N", requires = "http",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: u32,
    /// How long a client may take to send a request's headers (and stay idle between requests)
    #[arg(long, default_value = "10s", value_name = "DURATION", requires = "http", value_parser = positive_duration)]
    header_timeout: Duration,
    /// How long a client may take to send a request's body (event streams are not cut)
    #[arg(long, default_value = "30s", value_name = "DURATION", requires = "http", value_parser = positive_duration)]
    body_timeout: Duration,
    /// After SIGTERM or Ctrl-C, how long in-flight requests may run before the server exits anyway
    #[arg(long, default_value = "10s", value_name = "DURATION", requires = "http", value_parser = positive_duration)]
    shutdown_deadline: Duration,
    /// How long an unused HTTP session lives before the client must open a new one
    #[arg(long, default_value = "5m", value_name = "DURATION", requires = "http", value_parser = positive_duration)]
    session_idle_timeout: Duration,
    /// Do not send expiry reminders from this server (e.g. when cron runs `docward reminders run`)
    #[arg(long, requires = "http")]
    no_reminders: bool,
    /// How often an HTTP server looks for keys due a reminder
    #[arg(long, default_value = "1h", value_name = "DURATION", hide = true, value_parser = positive_duration)]
    reminder_interval: Duration,
    #[command(flatten)]
    reminders: super::reminders::ReminderArgs,
}

/// A duration such as `10s`, `500ms` or `5m`; zero is refused.
pub(super) fn positive_duration(s: &str) -> Result<Duration, String> {
    match clock::parse_duration(s)? {
        d if d.is_zero() => Err(format!("'{s}' is zero: give a positive duration, e.g. 10s")),
        d => Ok(d),
    }
}

/// After the HTTP server stopped, how long to wait for blocking work (a store call) still running.
const ABANDON_AFTER: Duration = Duration::from_millis(500);

pub fn run(args: ServeArgs, store: Arc<dyn KeyStore>, data_dir: &Path) -> Result<ExitCode> {
    // Load the embedding model (when there is one) now rather than on the first search; it
    // says in the log whether search is hybrid.
    let _ = docward::docs::embed::embedder();
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
            config.limits = ConnectionLimits {
                max_connections: args.max_connections as usize,
                header_timeout: args.header_timeout,
                body_timeout: args.body_timeout,
                shutdown_deadline: args.shutdown_deadline,
            };
            config.session_idle_timeout = args.session_idle_timeout;
            let shutdown = CancellationToken::new();
            runtime.spawn(cancel_on_signal(shutdown.clone()));
            if !args.no_reminders {
                let settings = args.reminders.settings(data_dir)?;
                runtime.spawn(docward::reminders::run_every(
                    Arc::clone(state.gate.store()),
                    settings,
                    args.reminder_interval,
                    shutdown.clone(),
                ));
            }
            let served = runtime.block_on(serve_http(Arc::clone(&state), config, shutdown));
            // Work still running past the shutdown deadline is abandoned, not waited for.
            runtime.shutdown_timeout(ABANDON_AFTER);
            served?;
            state.gate.store().flush()?;
            tracing::info!("shut down; usage flushed");
            return Ok(ExitCode::SUCCESS);
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
