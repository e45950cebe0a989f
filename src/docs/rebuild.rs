//! Rebuilding a library's index from its repos' source folders: after an upgrade changed the
//! index format, or to recover a damaged index.
//!
//! The new index is built beside the old one, in `<dir>/.rebuild`, so a failure or a crash
//! while indexing leaves the library as it was. Only then are the folders swapped: `index` and
//! `repos` move to `<dir>/.old` and the new ones take their place, and `.old` is deleted.

use std::path::Path;

use super::error::{DocsError, Result};
use super::library::Library;
use super::manifest;
use super::types::{Progress, SyncReport};

/// What a rebuild did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RebuildReport {
    /// One report per repo indexed again.
    pub repos: Vec<SyncReport>,
    /// Repos left out because their source folder is gone.
    pub dropped: Vec<DroppedRepo>,
}

/// A repo a rebuild left out.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DroppedRepo {
    /// The repo name.
    pub name: String,
    /// The source folder that is gone.
    pub source: std::path::PathBuf,
}

/// Rebuilds the index of the library in `dir`. Running servers keep the old index until they
/// restart; stop them first.
pub fn rebuild(dir: &Path, progress: &dyn Progress) -> Result<RebuildReport> {
    let mut manifests = Vec::new();
    for name in manifest::names(dir)? {
        if let Some(m) = manifest::load(dir, &name)? {
            manifests.push(m);
        }
    }
    let staging = dir.join(".rebuild");
    remove_dir_if_present(&staging)?;
    let mut report = RebuildReport {
        repos: Vec::new(),
        dropped: Vec::new(),
    };
    {
        let fresh = Library::open(&staging)?;
        for m in manifests {
            if !m.source.is_dir() {
                report.dropped.push(DroppedRepo {
                    name: m.name,
                    source: m.source,
                });
                continue;
            }
            report
                .repos
                .push(fresh.add_repo(&m.name, &m.source, progress)?);
        }
    }
    let old = dir.join(".old");
    remove_dir_if_present(&old)?;
    std::fs::create_dir_all(&old).map_err(|e| DocsError::io(&old, e))?;
    for part in ["index", "repos"] {
        let current = dir.join(part);
        if current.exists() {
            rename(&current, &old.join(part))?;
        }
        rename(&staging.join(part), &current)?;
    }
    remove_dir_if_present(&old)?;
    remove_dir_if_present(&staging)?;
    Ok(report)
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
