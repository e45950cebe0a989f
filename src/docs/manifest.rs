//! Per-repo manifests on disk (`<library>/repos/<name>.json`): source folder, file hashes,
//! counts and index time. Written atomically (temp file + rename) after each commit.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{DocsError, Result};
use super::types::RepoInfo;

/// Current manifest format version.
const VERSION: u32 = 1;

/// What is indexed for one file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// blake3 of the file's bytes, hex.
    pub hash: String,
    /// Number of sections indexed for it.
    pub sections: u64,
}

/// The manifest of one repo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version.
    pub version: u32,
    /// Repo name.
    pub name: String,
    /// Absolute source folder.
    pub source: PathBuf,
    /// Last index time, unix seconds.
    pub indexed_at: i64,
    /// Indexed files by repo-relative path.
    pub files: BTreeMap<String, FileEntry>,
    /// Extra ignore patterns (gitignore syntax) set through the REST API; absent in older manifests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
}

impl Manifest {
    /// An empty manifest for a new repo.
    pub fn new(name: &str, source: PathBuf) -> Self {
        Manifest {
            version: VERSION,
            name: name.to_string(),
            source,
            indexed_at: now(),
            files: BTreeMap::new(),
            ignore: Vec::new(),
        }
    }

    /// Number of documents.
    pub fn documents(&self) -> u64 {
        self.files.len() as u64
    }

    /// Number of sections.
    pub fn sections(&self) -> u64 {
        self.files.values().map(|f| f.sections).sum()
    }

    /// The public summary.
    pub fn info(&self) -> RepoInfo {
        RepoInfo {
            name: self.name.clone(),
            source: self.source.clone(),
            documents: self.documents(),
            sections: self.sections(),
            indexed_at: self.indexed_at,
        }
    }
}

/// Current time in unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The folder holding manifests.
pub fn repos_dir(library: &Path) -> PathBuf {
    library.join("repos")
}

fn manifest_path(library: &Path, name: &str) -> PathBuf {
    repos_dir(library).join(format!("{name}.json"))
}

/// Loads the manifest of `name`, or None if there is none. A manifest that cannot be read is
/// `DocsError::CorruptManifest`, naming the file and the command that repairs it.
pub fn load(library: &Path, name: &str) -> Result<Option<Manifest>> {
    let path = manifest_path(library, name);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(DocsError::io(path, e)),
    };
    let corrupt = |reason: String| DocsError::CorruptManifest {
        name: name.to_string(),
        path: path.clone(),
        reason,
        command: super::library::rebuild_command(library),
    };
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("invalid JSON: {e}")))?;
    if manifest.version != VERSION {
        return Err(corrupt(format!(
            "format version {} where {VERSION} was expected",
            manifest.version
        )));
    }
    if manifest.name != name {
        return Err(corrupt(format!("it names repo `{}`", manifest.name)));
    }
    Ok(Some(manifest))
}

/// The source folder named in a manifest that cannot be read as a whole (truncated, or
/// damaged after its start: the source comes before the file table).
pub fn salvage_source(library: &Path, name: &str) -> Option<PathBuf> {
    let bytes = std::fs::read(manifest_path(library, name)).ok()?;
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        return value.get("source")?.as_str().map(PathBuf::from);
    }
    const KEY: &[u8] = b"\"source\":";
    let at = bytes.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let source = serde_json::Deserializer::from_slice(&bytes[at..])
        .into_iter::<String>()
        .next()?
        .ok()?;
    Some(PathBuf::from(source))
}

/// Copies an unreadable manifest to `<name>.json.corrupt-<unix seconds>` beside it, for
/// inspection, and returns the copy's path. `remove` also deletes the original.
pub fn set_aside(library: &Path, name: &str, remove: bool) -> Result<PathBuf> {
    let path = manifest_path(library, name);
    let aside = repos_dir(library).join(format!("{name}.json.corrupt-{}", now()));
    let result = if remove {
        std::fs::rename(&path, &aside)
    } else {
        std::fs::copy(&path, &aside).map(|_| ())
    };
    result.map_err(|e| DocsError::io(&path, e))?;
    Ok(aside)
}

/// Names of all repos with a manifest, sorted.
pub fn names(library: &Path) -> Result<Vec<String>> {
    let dir = repos_dir(library);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(DocsError::io(dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| DocsError::io(&dir, e))?;
        let file = entry.file_name();
        let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".json")) else {
            continue;
        };
        if super::names::validate_repo_name(name).is_ok() {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// Writes a manifest atomically: a temp file in the same folder, fsync, rename.
pub fn save(library: &Path, manifest: &Manifest) -> Result<()> {
    let dir = repos_dir(library);
    crate::private_dir::create(&dir).map_err(|e| DocsError::io(&dir, e))?;
    let path = manifest_path(library, &manifest.name);
    let tmp = dir.join(format!(
        ".{}.json.tmp-{}",
        manifest.name,
        std::process::id()
    ));
    let bytes = serde_json::to_vec(manifest)
        .map_err(|e| DocsError::Corrupt(format!("cannot serialise manifest: {e}")))?;
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        DocsError::io(&path, e)
    })
}

/// Deletes the manifest of `name` (no error if already gone).
pub fn delete(library: &Path, name: &str) -> Result<()> {
    let path = manifest_path(library, name);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DocsError::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_of_a_truncated_manifest_is_salvaged() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Manifest::new("b", PathBuf::from("/src/with \"quotes\""));
        m.files.insert(
            "a.md".into(),
            FileEntry {
                hash: "h".repeat(64),
                sections: 3,
            },
        );
        save(dir.path(), &m).unwrap();
        let file = repos_dir(dir.path()).join("b.json");
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() - 20]).unwrap();
        let err = load(dir.path(), "b").unwrap_err().to_string();
        assert!(err.contains(&file.display().to_string()), "{err}");
        assert_eq!(salvage_source(dir.path(), "b"), Some(m.source));
    }

    #[test]
    fn save_load_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Manifest::new("b", PathBuf::from("/src"));
        m.files.insert(
            "a.md".into(),
            FileEntry {
                hash: "h".into(),
                sections: 3,
            },
        );
        save(dir.path(), &m).unwrap();
        save(dir.path(), &Manifest::new("a", PathBuf::from("/s"))).unwrap();
        assert_eq!(names(dir.path()).unwrap(), vec!["a", "b"]);
        let back = load(dir.path(), "b").unwrap().unwrap();
        assert_eq!(back.files, m.files);
        assert_eq!(back.info().sections, 3);
        delete(dir.path(), "b").unwrap();
        assert!(load(dir.path(), "b").unwrap().is_none());
        std::fs::write(repos_dir(dir.path()).join("a.json"), b"{not json").unwrap();
        assert!(matches!(
            load(dir.path(), "a"),
            Err(DocsError::CorruptManifest { .. })
        ));
        assert_eq!(salvage_source(dir.path(), "a"), None);
    }
}
