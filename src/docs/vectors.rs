//! A library's document vectors in memory: read from disk when the file changes (another
//! process may sync), brought up to date after an add or sync (only documents whose text
//! changed are embedded again), and searched by cosine similarity.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use super::embed::store::{self, Entry, Vectors};
use super::embed::{self, Embedder};
use super::error::{DocsError, Result};
use super::schema;
use super::types::Progress;

/// What tells one version of the file from another: its modification time, length and inode
/// (a rename replaces the inode, so two saves within one clock tick still differ).
type Stamp = (SystemTime, u64, u64);

fn stamp(dir: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir.join(store::FILE)).ok()?;
    Some((meta.modified().ok()?, meta.len(), meta.ino()))
}

/// Documents embedded per model call while indexing.
const CHUNK: usize = 64;

/// The vectors of one library and when their file was last read.
pub(super) struct Shelf {
    dir: PathBuf,
    state: RwLock<(Arc<Vectors>, Option<Stamp>)>,
}

impl Shelf {
    /// Nothing read yet: the first use reads the file.
    pub fn new(dir: &Path) -> Shelf {
        Shelf {
            dir: dir.to_path_buf(),
            state: RwLock::new((Arc::new(Vectors::default()), None)),
        }
    }

    /// The vectors as on disk now (re-read only when the file changed).
    pub fn current(&self) -> Arc<Vectors> {
        let stamp = stamp(&self.dir);
        if let Ok(state) = self.state.read()
            && state.1 == stamp
        {
            return Arc::clone(&state.0);
        }
        let loaded = match Vectors::load(&self.dir) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("{e}; searching without vectors");
                Vectors::default()
            }
        };
        let loaded = Arc::new(loaded);
        if let Ok(mut state) = self.state.write() {
            *state = (Arc::clone(&loaded), stamp);
        }
        loaded
    }

    /// Embeds the `texts` (path, texts of the document) of `repo` whose vectors are missing or
    /// stale, drops the vectors of the repo's documents not in `listed` (the ids of its indexed
    /// documents), and saves. The caller holds the library's write lock.
    pub fn update(
        &self,
        embedder: &Embedder,
        repo: &str,
        texts: Vec<(String, Vec<String>)>,
        listed: &HashSet<u64>,
        progress: &dyn Progress,
    ) -> Result<()> {
        // Read from disk, not the cache: a failed read must not be saved as "no vectors".
        let mut vectors = Vectors::load(&self.dir)?;
        // Vectors of another model's size cannot be compared with this one's.
        let dim = embedder.dim();
        vectors
            .entries
            .retain(|_, e| e.vectors.iter().all(|v| v.len() == dim));
        let mut todo = Vec::new();
        for (rel, texts) in texts {
            let id = schema::doc_id(repo, &rel);
            let hash = embed::text_hash(&texts);
            if texts.is_empty() || vectors.entries.get(&id).is_some_and(|e| e.hash == hash) {
                progress.advance(&rel);
            } else {
                todo.push((rel, id, hash, texts));
            }
        }
        // Documents gone from the repo.
        let before = vectors.entries.len();
        vectors
            .entries
            .retain(|id, e| e.repo != repo || listed.contains(id));
        let mut changed = before != vectors.entries.len() || vectors.dim != dim;
        vectors.dim = dim;
        let mut outcome = Ok(());
        for chunk in todo.chunks(CHUNK) {
            let batch: Vec<&str> = chunk
                .iter()
                .flat_map(|(_, _, _, texts)| texts.iter().map(String::as_str))
                .collect();
            match embedder.embed(&batch) {
                Ok(found) => {
                    let mut found = found.into_iter();
                    for (rel, id, hash, texts) in chunk {
                        vectors.entries.insert(
                            *id,
                            Entry {
                                hash: *hash,
                                repo: repo.to_owned(),
                                vectors: found.by_ref().take(texts.len()).collect(),
                            },
                        );
                        progress.advance(rel);
                    }
                    changed = true;
                }
                Err(e) => {
                    outcome = Err(DocsError::Embedding(e.to_string()));
                    break;
                }
            }
        }
        if changed {
            vectors.save(&self.dir)?;
        }
        outcome
    }

    /// Drops every vector of `repo` and saves.
    pub fn forget_repo(&self, repo: &str) -> Result<()> {
        self.forget(|_, e| e.repo == repo)
    }

    /// Drops the vectors of the documents `ids` of `repo` (changed or removed files) and
    /// saves. Done before the repo's manifest records the new files, without the model: a
    /// vector then never outlives its text, even when the sync that changed the text ends
    /// before embedding (interrupted, model failed, run with embeddings off).
    pub fn forget_docs(&self, repo: &str, ids: &HashSet<u64>) -> Result<()> {
        if ids.is_empty() || !self.dir.join(store::FILE).exists() {
            return Ok(());
        }
        self.forget(|id, e| e.repo == repo && ids.contains(id))
    }

    /// Drops the entries `drop` picks, reading the file itself (a failed read is an error,
    /// never an empty set that would be saved over the others).
    fn forget(&self, drop: impl Fn(&u64, &Entry) -> bool) -> Result<()> {
        let mut vectors = Vectors::load(&self.dir)?;
        let before = vectors.entries.len();
        vectors.entries.retain(|id, e| !drop(id, e));
        if before != vectors.entries.len() {
            vectors.save(&self.dir)?;
        }
        Ok(())
    }
}
