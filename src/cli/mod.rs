//! Command-line interface: clap definitions and dispatch. Nothing below this module sees clap.

mod key;
mod output;
mod tenant;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use docward::store::SledStore;

/// docward: documentation search for AI assistants over MCP, behind scoped API keys.
#[derive(Debug, Parser)]
#[command(name = "docward", version, about, long_about = None)]
pub struct Cli {
    /// Where docward keeps its store and indexes [default: the platform's data directory]
    #[arg(long, global = true, env = "DOCWARD_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create and list tenants (the owners of keys and repos)
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Create, list, show, revoke, rotate and verify API keys
    #[command(subcommand)]
    Key(key::KeyCommand),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let data_dir = match cli.data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    match cli.command {
        Command::Tenant(cmd) => tenant::run(cmd, &open_store(&data_dir)?),
        Command::Key(cmd) => key::run(cmd, &open_store(&data_dir)?),
    }
}

fn default_data_dir() -> Result<PathBuf> {
    dirs::data_dir().map(|d| d.join("docward")).context(
        "no platform data directory is known here: pass --data-dir or set DOCWARD_DATA_DIR",
    )
}

fn open_store(data_dir: &std::path::Path) -> Result<SledStore> {
    Ok(SledStore::open(data_dir)?)
}
