//! Command-line interface: clap definitions and dispatch. Nothing below this module sees clap.

mod config;
mod console;
mod hints;
mod install;
mod key;
mod model;
mod output;
mod quickstart;
mod reminders;
mod remote_url;
mod repo;
mod search;
mod serve;
mod tenant;
mod usage;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use docward::store::SharedStore;

/// The environment a command acts on when `--env` is left out, the same for every command that
/// selects one (serve, config, key create, repo add/sync/rebuild/remove, search). Where `--env`
/// only filters (repo list, key verify), leaving it out means any environment.
pub const DEFAULT_ENV: &str = "live";

/// docward: documentation search for AI assistants over MCP, behind scoped API keys.
#[derive(Debug, Parser)]
#[command(name = "docward", version, about, long_about = None)]
pub struct Cli {
    /// Where docward keeps its store and indexes [default: the platform's data directory]
    #[arg(long, global = true, env = "DOCWARD_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// The embedding model's folder [default: <data dir>/models/all-MiniLM-L6-v2]
    #[arg(long, global = true, env = "DOCWARD_MODEL_DIR", value_name = "DIR")]
    model_dir: Option<PathBuf>,

    /// Lexical search only: no model is loaded and no vectors are computed
    #[arg(
        long,
        global = true,
        env = "DOCWARD_NO_EMBEDDINGS",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    no_embeddings: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create, update and list tenants (the owners of keys and repos)
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Create, list, show, revoke, rotate and verify API keys
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Index folders of docs, list, sync and remove them
    #[command(subcommand)]
    Repo(repo::RepoCommand),
    /// Search a tenant's docs as the search tool would (no key needed, nothing counted)
    Search(search::SearchArgs),
    /// Run the MCP server
    Serve(serve::ServeArgs),
    /// Tool calls per key per day, and today's quota per tenant
    Usage(usage::UsageArgs),
    /// Print the configuration snippet for an MCP client
    Config(config::ConfigArgs),
    /// The web console: sign-in links, ending sessions, or a local console (no subcommand)
    Console(console::ConsoleArgs),
    /// Send expiry reminders now (for cron) and list those sent
    #[command(subcommand)]
    Reminders(reminders::RemindersCommand),
    /// Set up a demo tenant, index the bundled docs and answer a search through MCP
    Quickstart(quickstart::QuickstartArgs),
    /// Fetch or check the embedding model used for hybrid search
    #[command(subcommand)]
    Model(model::ModelCommand),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let data_dir = match cli.data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    init_logging(matches!(cli.command, Command::Serve(_)));
    let explicit = cli.model_dir.is_some();
    let model_dir = cli
        .model_dir
        .unwrap_or_else(|| docward::docs::embed::default_dir(&data_dir));
    docward::docs::embed::configure(if cli.no_embeddings {
        docward::docs::embed::Setting::Off
    } else {
        docward::docs::embed::Setting::Dir {
            dir: model_dir.clone(),
            explicit,
        }
    });
    match cli.command {
        Command::Tenant(cmd) => tenant::run(cmd, &open_store(&data_dir)?, &data_dir),
        Command::Key(cmd) => key::run(cmd, &open_store(&data_dir)?),
        Command::Repo(cmd) => repo::run(cmd, &open_store(&data_dir)?, &data_dir),
        Command::Search(args) => search::run(args, &open_store(&data_dir)?, &data_dir),
        Command::Serve(args) => serve::run(args, Arc::new(open_store(&data_dir)?), &data_dir),
        Command::Usage(args) => usage::run(args, &open_store(&data_dir)?),
        Command::Config(args) => config::run(args, &data_dir),
        Command::Console(args) => console::run(args, Arc::new(open_store(&data_dir)?), &data_dir),
        Command::Quickstart(args) => quickstart::run(args, &data_dir),
        Command::Reminders(cmd) => reminders::run(cmd, Arc::new(open_store(&data_dir)?), &data_dir),
        Command::Model(cmd) => model::run(cmd, &model_dir),
    }
}

/// Logs go to stderr, never stdout (in stdio mode stdout is the protocol), without colours.
/// `DOCWARD_LOG` (e.g. `debug`) overrides the level: info for the server, warnings otherwise.
fn init_logging(serving: bool) {
    let default = if serving {
        "docward=info"
    } else {
        "docward=warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DOCWARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

fn default_data_dir() -> Result<PathBuf> {
    dirs::data_dir().map(|d| d.join("docward")).context(
        "no platform data directory is known here: pass --data-dir or set DOCWARD_DATA_DIR",
    )
}

fn open_store(data_dir: &std::path::Path) -> Result<SharedStore> {
    Ok(SharedStore::open(data_dir)?)
}
