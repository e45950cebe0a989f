//! Rebuilding a library's index from its repos' source folders: after an upgrade changed the
//! index format, or to recover a damaged index.
//!
//! Under the library's write lock, the new index and manifests are built in `<dir>/.rebuild`,
//! which gets a `COMPLETE` mark when done. Then `index` moves to `<dir>/.old`, the new index
//! takes its place, and the new manifests replace the old ones file by file. A crash at any
//! point is repaired by [`recover`], which every opening of the library runs first: before the
//! mark it discards `.rebuild`, after it finishes the swap. Manifests are never moved away, so
//! the record of which repos exist always survives.
//!
//! A manifest that cannot be read is copied to `<name>.json.corrupt-<time>` and its repo is
//! indexed again from the source folder still legible in it; the rebuilt manifest replaces it.

use std::path::{Path, PathBuf};

use super::embed::store as vectors;
use super::error::{DocsError, Result};
use super::library::Library;
use super::lock;
use super::manifest::{self, Manifest};
use super::types::{Progress, SyncReport};

const STAGING: &str = ".rebuild";
const COMPLETE: &str = "COMPLETE";
const OLD: &str = ".old";

/// What a rebuild did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RebuildReport {
    /// One report per repo indexed again.
    pub repos: Vec<SyncReport>,
    /// Repos not indexed because their source folder is missing. Their records stay, emptied:
    /// `docward repo sync` indexes them again once the folder is back.
    pub not_rebuilt: Vec<MissingSource>,
    /// Copies of manifests that could not be read; their repos were indexed again from the
    /// source folder named in what could be read.
    pub set_aside: Vec<PathBuf>,
    /// Repos whose unreadable manifest did not even name a source folder: dropped (their copy
    /// is in `set_aside`); `docward repo add` indexes the folder again.
    pub lost: Vec<String>,
}

/// A repo a rebuild could not index.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MissingSource {
    /// The repo name.
    pub name: String,
    /// The source folder that is missing.
    pub source: PathBuf,
}

/// Rebuilds the index of the library in `dir`. Fails with `DocsError::Locked` while another
/// process adds, syncs, removes or rebuilds in it.
pub fn rebuild(dir: &Path, progress: &dyn Progress) -> Result<RebuildReport> {
    let _lock = lock::try_lock(dir)?;
    repair(dir)?;
    let staging = dir.join(STAGING);
    remove_dir_if_present(&staging)?;
    let mut report = RebuildReport {
        repos: Vec::new(),
        not_rebuilt: Vec::new(),
        set_aside: Vec::new(),
        lost: Vec::new(),
    };
    {
        let fresh = Library::open(&staging)?;
        for name in manifest::names(dir)? {
            let old = match manifest::load(dir, &name) {
                Ok(Some(old)) => old,
                Ok(None) => continue,
                Err(DocsError::CorruptManifest { reason, path, .. }) => {
                    // Keep a copy; the rebuilt manifest replaces the file when the swap is done.
                    let aside = manifest::set_aside(dir, &name, false)?;
                    tracing::warn!(repo = %name, manifest = %path.display(), copy = %aside.display(), "rebuilding a repo whose manifest cannot be read: {reason}");
                    report.set_aside.push(aside);
                    match manifest::salvage_source(dir, &name) {
                        Some(source) => Manifest::new(&name, source),
                        None => {
                            report.lost.push(name);
                            continue;
                        }
                    }
                }
                Err(e) => return Err(e),
            };
            if old.source.is_dir() {
                report
                    .repos
                    .push(fresh.add_repo(&name, &old.source, progress)?);
            } else {
                // Keep the repo, with no files, so that a later sync indexes it all again.
                manifest::save(&staging, &Manifest::new(&name, old.source.clone()))?;
                report.not_rebuilt.push(MissingSource {
                    name,
                    source: old.source,
                });
            }
        }
    }
    // The rebuilt library's vectors replace the old ones, which may be stale for files that
    // changed since they were computed; without a model that is an empty set (the next sync
    // with one embeds every document).
    if !staging.join(vectors::FILE).exists() {
        vectors::Vectors::default().save(&staging)?;
    }
    write_file(&staging.join(COMPLETE))?;
    repair(dir)?;
    for name in &report.lost {
        manifest::delete(dir, name)?;
    }
    Ok(report)
}

/// Finishes or undoes a rebuild that was interrupted. Cheap when there is nothing to do.
pub fn recover(dir: &Path) -> Result<()> {
    if !dir.join(STAGING).exists() && !dir.join(OLD).exists() {
        return Ok(());
    }
    let _lock = lock::lock(dir)?;
    repair(dir)
}

/// Brings the library to a consistent state; the caller holds the write lock.
fn repair(dir: &Path) -> Result<()> {
    let staging = dir.join(STAGING);
    let old = dir.join(OLD);
    let index = dir.join("index");
    if staging.join(COMPLETE).exists() {
        // The new index is complete: finish the swap.
        if staging.join("index").exists() {
            remove_dir_if_present(&old)?;
            crate::private_dir::create(&old).map_err(|e| DocsError::io(&old, e))?;
            if index.exists() {
                rename(&index, &old.join("index"))?;
            }
            rename(&staging.join("index"), &index)?;
        }
        for name in manifest::names(&staging)? {
            if let Some(m) = manifest::load(&staging, &name)? {
                manifest::save(dir, &m)?;
            }
        }
        // Present until moved once, so a repair run again after a crash moves nothing twice.
        if staging.join(vectors::FILE).exists() {
            rename(&staging.join(vectors::FILE), &dir.join(vectors::FILE))?;
        }
    } else if !index.exists() && old.join("index").exists() {
        // Interrupted before the new index was complete: put the old one back.
        rename(&old.join("index"), &index)?;
    }
    remove_dir_if_present(&staging)?;
    remove_dir_if_present(&old)
}

fn write_file(path: &Path) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| DocsError::io(path, e))?;
    file.sync_all().map_err(|e| DocsError::io(path, e))
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|e| DocsError::io(from, e))
}

fn remove_dir_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(DocsError::io(path, e)),
        _ => Ok(()),
    }
}
