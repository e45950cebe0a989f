//! `docward console`: sign-in links for the web console, ending console sessions, and a local
//! console on this machine.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use tokio_util::sync::CancellationToken;

use docward::clock;
use docward::domain::Env;
use docward::gate::Gate;
use docward::libraries::Libraries;
use docward::quota::{DEFAULT_BURST_PER_SECOND, Limits};
use docward::server::ServerState;
use docward::server::console::{self, DEFAULT_LINK_TTL_SECS, SnippetTarget};
use docward::store::KeyStore;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ConsoleArgs {
    #[command(subcommand)]
    command: Option<ConsoleCommand>,
    /// Serve a local console on this address (without a subcommand)
    #[arg(long, default_value = "127.0.0.1:8701", value_name = "ADDR")]
    listen: SocketAddr,
}

#[derive(Debug, Subcommand)]
enum ConsoleCommand {
    /// Print a one-time sign-in URL for the console of a running `docward serve --http`
    Link {
        /// Sign in as this tenant only (without it: the operator, who sees every tenant)
        #[arg(long)]
        tenant: Option<String>,
        /// How long the link works if unused, e.g. 15m or 1h
        #[arg(long, default_value = "15m", value_name = "DURATION")]
        ttl: String,
        /// The server's public URL (its --public-url, or http://ADDR of its --http)
        #[arg(
            long,
            env = "DOCWARD_PUBLIC_URL",
            default_value = "http://127.0.0.1:8700",
            value_name = "URL"
        )]
        url: String,
        /// Print only the URL
        #[arg(long)]
        quiet: bool,
    },
    /// End console sessions and unused sign-in links
    Logout {
        /// Every session and every unused link (required: there is no other scope yet)
        #[arg(long)]
        all: bool,
    },
}

pub fn run(args: ConsoleArgs, store: Arc<dyn KeyStore>, data_dir: &Path) -> Result<ExitCode> {
    match args.command {
        Some(ConsoleCommand::Link {
            tenant,
            ttl,
            url,
            quiet,
        }) => link(&*store, tenant.as_deref(), &ttl, &url, quiet),
        Some(ConsoleCommand::Logout { all }) => {
            if !all {
                bail!(
                    "say which sessions to end: `docward console logout --all` ends every console session and unused sign-in link"
                );
            }
            let ended = store.end_console_grants(None)?;
            println!(
                "Ended {ended} console sessions and sign-in links; browsers must sign in again with `docward console link`."
            );
            Ok(ExitCode::SUCCESS)
        }
        None => serve_local(args.listen, store, data_dir),
    }
}

fn ttl_secs(ttl: &str) -> Result<i64> {
    let d = clock::parse_duration(ttl).map_err(anyhow::Error::msg)?;
    let secs = d.as_secs() as i64;
    if !(60..=7 * 86_400).contains(&secs) {
        bail!("--ttl {ttl} is out of range: give 1m to 7d, e.g. --ttl 15m");
    }
    Ok(secs)
}

fn link(
    store: &dyn KeyStore,
    tenant: Option<&str>,
    ttl: &str,
    url: &str,
    quiet: bool,
) -> Result<ExitCode> {
    let url = url.trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("--url {url} needs a scheme, e.g. --url https://docs.example.com");
    }
    let secs = ttl_secs(ttl)?;
    if let Some(t) = tenant
        && store.tenant(t)?.is_none()
    {
        bail!("no tenant named '{t}': see `docward tenant list`");
    }
    let made = console::create_link(store, tenant, secs, clock::now())?;
    if quiet {
        println!("{url}{}", made.path);
    } else {
        let who = tenant.map_or_else(
            || "the operator (every tenant)".to_owned(),
            |t| format!("tenant '{t}' only"),
        );
        println!("{url}{}", made.path);
        eprintln!(
            "Open this link once to sign in to the console as {who}. It works once, until {}.",
            clock::format_short(made.expires_at)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn serve_local(listen: SocketAddr, store: Arc<dyn KeyStore>, data_dir: &Path) -> Result<ExitCode> {
    let exe = std::env::current_exe().context("could not find the docward executable's path")?;
    let state = Arc::new(ServerState {
        gate: Gate::new(
            Arc::clone(&store),
            Env::Live,
            Limits::new(DEFAULT_BURST_PER_SECOND),
        ),
        libraries: Libraries::new(data_dir),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let link_store = Arc::clone(&store);
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        let (url, task) = console::bind_console(
            state,
            listen,
            None,
            SnippetTarget::Stdio {
                exe,
                data_dir: data_dir.to_path_buf(),
            },
            shutdown.clone(),
        )
        .await?;
        let made = console::create_link(&*link_store, None, DEFAULT_LINK_TTL_SECS, clock::now())?;
        println!("{url}{}", made.path);
        eprintln!("Local console at {url}/console: open the link above once to sign in as the operator. Ctrl-C stops it.");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => shutdown.cancel(),
            _ = terminate() => shutdown.cancel(),
        }
        task.await??;
        anyhow::Ok(())
    })?;
    store.flush()?;
    Ok(ExitCode::SUCCESS)
}

async fn terminate() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        term.recv().await;
        return;
    }
    std::future::pending::<()>().await
}
