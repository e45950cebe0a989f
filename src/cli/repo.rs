//! `docward repo ...`: index folders of docs for a tenant and environment.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use docward::clock;
use docward::docs::{self, DocsError, Library, Progress, RepoInfo, SyncReport};
use docward::domain::Env;
use docward::libraries::{library_dir, private_library_dir};
use docward::store::KeyStore;

use super::DEFAULT_ENV;
use super::output::{print_json, print_table};

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Index a folder of docs as a new repo
    Add {
        /// The folder to index (.md, .mdx, .markdown, .txt, .rst, README.*)
        path: PathBuf,
        /// Owning tenant
        #[arg(long)]
        tenant: String,
        /// Environment whose keys may read it
        #[arg(long, default_value = DEFAULT_ENV)]
        env: Env,
        /// Repo name [default: the folder's name]
        #[arg(long)]
        name: Option<String>,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// List repos
    List {
        /// Only this tenant's repos
        #[arg(long)]
        tenant: Option<String>,
        /// Only this environment's repos
        #[arg(long)]
        env: Option<Env>,
        /// Print a JSON array
        #[arg(long)]
        json: bool,
    },
    /// Re-index what was added, changed or deleted since the last index
    Sync {
        /// Repo name
        name: String,
        /// Owning tenant
        #[arg(long)]
        tenant: String,
        /// Environment
        #[arg(long, default_value = DEFAULT_ENV)]
        env: Env,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// Build a tenant's index again from its repos' source folders (after an upgrade that
    /// changed the index format); stop servers of an older version first
    Rebuild {
        /// Owning tenant
        #[arg(long)]
        tenant: String,
        /// Environment
        #[arg(long, default_value = DEFAULT_ENV)]
        env: Env,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove a repo and its index
    Remove {
        /// Repo name
        name: String,
        /// Owning tenant
        #[arg(long)]
        tenant: String,
        /// Environment
        #[arg(long, default_value = DEFAULT_ENV)]
        env: Env,
    },
}

/// A progress bar on stderr when it is a terminal; nothing otherwise.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new() -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{spinner} indexing [{bar:30}] {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Bar(Some(bar))
    }
}

impl Progress for Bar {
    fn start(&self, total_files: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(total_files);
        }
    }
    fn advance(&self, path: &str) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
            bar.set_message(path.to_owned());
        }
    }
    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

#[derive(Serialize)]
struct RepoRow {
    tenant: String,
    env: Env,
    #[serde(flatten)]
    info: RepoInfo,
    indexed: String,
}

pub fn run(cmd: RepoCommand, store: &dyn KeyStore, data_dir: &Path) -> Result<ExitCode> {
    match cmd {
        RepoCommand::Add {
            path,
            tenant,
            env,
            name,
            json,
        } => {
            require_tenant(store, &tenant)?;
            require_folder(&path, &tenant, env)?;
            let name = match name {
                Some(n) => n,
                None => docs::default_repo_name(&path)?,
            };
            let library = open_library(data_dir, &tenant, env)?;
            let report = library.add_repo(&name, &path, &Bar::new())?;
            finish_report(&report, &tenant, env, json)
        }
        RepoCommand::Sync {
            name,
            tenant,
            env,
            json,
        } => {
            require_tenant(store, &tenant)?;
            let library = open_library(data_dir, &tenant, env)?;
            let report = match library.sync_repo(&name, &Bar::new()) {
                Err(DocsError::SourceMissing(source)) => bail!(
                    "repo '{name}' cannot be synced: its source folder {} is gone. If it moved, remove the repo and add it from its new place: `docward repo remove {name} --tenant {tenant} --env {env}` then `docward repo add NEW_PATH --tenant {tenant} --env {env} --name {name}`",
                    source.display()
                ),
                other => other?,
            };
            finish_report(&report, &tenant, env, json)
        }
        RepoCommand::Rebuild { tenant, env, json } => {
            require_tenant(store, &tenant)?;
            let dir = private_library_dir(data_dir, &tenant, env)?;
            let report = docs::rebuild(&dir, &Bar::new())?;
            for repo in &report.repos {
                for skipped in &repo.skipped {
                    eprintln!(
                        "warning: {}: skipped {}: {}",
                        repo.repo, skipped.path, skipped.reason
                    );
                }
                for warning in &repo.warnings {
                    eprintln!(
                        "warning: {}: {}: {}",
                        repo.repo, warning.path, warning.reason
                    );
                }
            }
            for missing in &report.not_rebuilt {
                eprintln!(
                    "error: repo '{name}' was not rebuilt: its source folder {} is missing. When it is back, run `docward repo sync {name} --tenant {tenant} --env {env}`; or remove the repo with `docward repo remove {name} --tenant {tenant} --env {env}`",
                    missing.source.display(),
                    name = missing.name,
                );
            }
            for aside in &report.set_aside {
                eprintln!(
                    "warning: a manifest that could not be read was set aside as {}",
                    aside.display()
                );
            }
            for name in &report.lost {
                eprintln!(
                    "error: repo '{name}' was dropped: its manifest could not be read and names no source folder (its copy is listed above). Index the folder again with `docward repo add PATH --tenant {tenant} --env {env} --name {name}`"
                );
            }
            if json {
                print_json(&report)?;
            } else {
                for r in &report.repos {
                    println!(
                        "Rebuilt repo '{}': {} documents, {} sections in {} ms.",
                        r.repo, r.documents, r.sections, r.elapsed_ms
                    );
                }
                if report.repos.is_empty() && report.not_rebuilt.is_empty() {
                    println!("No repos to rebuild for tenant '{tenant}' ({env}).");
                }
            }
            Ok(if report.not_rebuilt.is_empty() && report.lost.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        RepoCommand::Remove { name, tenant, env } => {
            require_tenant(store, &tenant)?;
            let info = open_library(data_dir, &tenant, env)?.remove_repo(&name)?;
            println!(
                "Removed repo '{}' ({} documents) from tenant '{tenant}' ({env}).",
                info.name, info.documents
            );
            Ok(ExitCode::SUCCESS)
        }
        RepoCommand::List { tenant, env, json } => {
            if let Some(t) = &tenant {
                require_tenant(store, t)?;
            }
            let mut rows = Vec::new();
            for t in store.tenants()? {
                if tenant.as_ref().is_some_and(|wanted| *wanted != t.name) {
                    continue;
                }
                for e in [Env::Test, Env::Live] {
                    let dir = library_dir(data_dir, &t.name, e);
                    if env.is_some_and(|wanted| wanted != e) || !dir.is_dir() {
                        continue;
                    }
                    // From the manifests alone, so that listing works even when the index
                    // itself needs a rebuild.
                    for info in docs::repos_in(&dir)? {
                        rows.push(RepoRow {
                            tenant: t.name.clone(),
                            env: e,
                            indexed: clock::format(info.indexed_at),
                            info,
                        });
                    }
                }
            }
            if json {
                print_json(&rows)?;
            } else if rows.is_empty() {
                eprintln!(
                    "No repos yet: index a folder with `docward repo add PATH --tenant NAME --env test`"
                );
            } else {
                let table: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.info.name.clone(),
                            r.tenant.clone(),
                            r.env.to_string(),
                            r.info.documents.to_string(),
                            r.info.sections.to_string(),
                            clock::format_short(r.info.indexed_at),
                            r.info.source.display().to_string(),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "NAME", "TENANT", "ENV", "DOCS", "SECTIONS", "INDEXED", "SOURCE",
                    ],
                    &table,
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Refuses a `repo add` of a folder that does not exist (or is a file), naming the folder as
/// resolved and a command that would work.
fn require_folder(path: &Path, tenant: &str, env: Env) -> Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let suggestion = match path
        .parent()
        .filter(|p| path.is_file() && !p.as_os_str().is_empty())
    {
        // A file was given: its folder is probably what was meant.
        Some(parent) => format!(
            "{} is a file; index the folder that holds it: `docward repo add {} --tenant {tenant} --env {env}`",
            shown.display(),
            parent.display()
        ),
        None => format!(
            "there is no folder {} (check the spelling; docs often live in ./docs); run again with the folder of docs to index: `docward repo add PATH --tenant {tenant} --env {env}`",
            shown.display()
        ),
    };
    bail!("cannot index {}: {suggestion}", path.display())
}

pub(super) fn require_tenant(store: &dyn KeyStore, tenant: &str) -> Result<()> {
    if store.tenant(tenant)?.is_none() {
        bail!("no tenant named '{tenant}': create it with `docward tenant create {tenant}`");
    }
    Ok(())
}

pub(super) fn open_library(data_dir: &Path, tenant: &str, env: Env) -> Result<Library> {
    let dir = private_library_dir(data_dir, tenant, env)?;
    Library::open(&dir)
        .with_context(|| format!("could not open the docs library in {}", dir.display()))
}

fn finish_report(report: &SyncReport, tenant: &str, env: Env, json: bool) -> Result<ExitCode> {
    for skipped in &report.skipped {
        eprintln!("warning: skipped {}: {}", skipped.path, skipped.reason);
    }
    for warning in &report.warnings {
        eprintln!("warning: {}: {}", warning.path, warning.reason);
    }
    if json {
        print_json(report)?;
    } else {
        println!(
            "Indexed repo '{}' for tenant '{tenant}' ({env}): {} documents, {} sections ({} added, {} changed, {} removed, {} unchanged, {} skipped) in {:.2} s",
            report.repo,
            report.documents,
            report.sections,
            report.added,
            report.changed,
            report.removed,
            report.unchanged,
            report.skipped.len(),
            report.elapsed_ms as f64 / 1000.0
        );
    }
    Ok(ExitCode::SUCCESS)
}
