//! `docward search`: what the `search` tool would answer, for the people who run docward.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use docward::domain::Env;
use docward::server::search_text;
use docward::store::KeyStore;

use super::DEFAULT_ENV;
use super::output::print_json;
use super::repo::{open_library, require_tenant};

/// Arguments of `docward search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// What to look for, as an assistant would ask it
    query: String,
    /// Tenant whose docs to search
    #[arg(long)]
    tenant: String,
    /// Environment whose repos to search
    #[arg(long, default_value = DEFAULT_ENV)]
    env: Env,
    /// Only this repo
    #[arg(long)]
    repo: Option<String>,
    /// Number of results, 1-20
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=20))]
    limit: u8,
    /// Print the hits as JSON
    #[arg(long)]
    json: bool,
}

/// Runs the search directly on the tenant's index: no key, no quota, no usage recorded.
pub fn run(args: SearchArgs, store: &dyn KeyStore, data_dir: &Path) -> Result<ExitCode> {
    require_tenant(store, &args.tenant)?;
    let library = open_library(data_dir, &args.tenant, args.env)?;
    let hits = library.search(&args.query, args.repo.as_deref(), usize::from(args.limit))?;
    if args.json {
        print_json(&hits)?;
    } else {
        print!("{}", search_text(&args.query, args.repo.as_deref(), &hits));
    }
    Ok(ExitCode::SUCCESS)
}
