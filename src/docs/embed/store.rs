//! Document vectors of one library, kept in `<library>/vectors.bin` beside the tantivy index:
//! a few unit vectors per document (its overview and its longest sections) with the hash of
//! the texts they were computed from, so that a sync recomputes only the documents whose text
//! changed.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::super::error::{DocsError, Result};

/// File name inside the library directory.
pub const FILE: &str = "vectors.bin";
const MAGIC: &[u8; 8] = b"DWVEC02\n";
/// The first format (one vector per document): read as no vectors, so that the next sync
/// computes them again.
const OLD_MAGIC: &[u8; 8] = b"DWVEC01\n";

/// One document's vectors.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Hash of the texts embedded.
    pub hash: u64,
    /// The document's repo, for repo-scoped searches.
    pub repo: String,
    /// Unit vectors, at least one.
    pub vectors: Vec<Vec<f32>>,
}

/// All document vectors of a library, by document id.
#[derive(Debug, Default)]
pub struct Vectors {
    /// Vector length (0 while empty).
    pub dim: usize,
    /// By document id. Not to be changed once searched: the search matrix is built from it
    /// on the first search (a clone starts without one).
    pub entries: HashMap<u64, Entry>,
    matrix: OnceLock<Matrix>,
}

impl Clone for Vectors {
    fn clone(&self) -> Vectors {
        Vectors {
            dim: self.dim,
            entries: self.entries.clone(),
            matrix: OnceLock::new(),
        }
    }
}

/// Every vector in one contiguous block, for a scan that streams through memory.
#[derive(Debug)]
struct Matrix {
    /// Row after row, `dim` floats each.
    rows: Vec<f32>,
    /// The document of each row, as an index into `docs`.
    owner: Vec<u32>,
    /// (document id, repo) by index.
    docs: Vec<(u64, String)>,
}

impl Matrix {
    fn build(entries: &HashMap<u64, Entry>, dim: usize) -> Matrix {
        let mut ids: Vec<&u64> = entries.keys().collect();
        ids.sort();
        let mut matrix = Matrix {
            rows: Vec::new(),
            owner: Vec::new(),
            docs: Vec::with_capacity(ids.len()),
        };
        for id in ids {
            let entry = &entries[id];
            let index = matrix.docs.len() as u32;
            for vector in entry.vectors.iter().filter(|v| v.len() == dim) {
                matrix.rows.extend_from_slice(vector);
                matrix.owner.push(index);
            }
            matrix.docs.push((*id, entry.repo.clone()));
        }
        matrix
    }
}

impl Vectors {
    /// Reads the file in `dir`; an absent file is an empty set.
    pub fn load(dir: &Path) -> Result<Vectors> {
        let path = dir.join(FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vectors::default()),
            Err(e) => return Err(DocsError::io(&path, e)),
        };
        if bytes.starts_with(OLD_MAGIC) {
            tracing::info!(
                "{} is of an older format; the next `docward repo sync` computes it again",
                path.display()
            );
            return Ok(Vectors::default());
        }
        decode(&bytes).ok_or_else(|| {
            DocsError::Corrupt(format!(
                "{} is damaged; delete it and run `docward repo sync` to compute it again",
                path.display()
            ))
        })
    }

    /// Writes the file in `dir` (a new file renamed over the old one).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(FILE);
        let tmp: PathBuf = dir.join(format!("{FILE}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&self.encode())?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| DocsError::io(&path, e))
    }

    /// The `k` documents most similar to `query` (a unit vector), optionally in one repo; a
    /// document's similarity is that of its closest vector.
    pub fn nearest(&self, query: &[f32], repo: Option<&str>, k: usize) -> Vec<(u64, f32)> {
        if query.len() != self.dim || self.dim == 0 {
            return Vec::new();
        }
        let matrix = self
            .matrix
            .get_or_init(|| Matrix::build(&self.entries, self.dim));
        let wanted: Vec<bool> = matrix
            .docs
            .iter()
            .map(|(_, r)| repo.is_none_or(|want| r == want))
            .collect();
        let mut best = vec![f32::NEG_INFINITY; matrix.docs.len()];
        for (row, &owner) in matrix.rows.chunks_exact(self.dim).zip(&matrix.owner) {
            let owner = owner as usize;
            if wanted[owner] {
                best[owner] = best[owner].max(dot(query, row));
            }
        }
        let mut scored: Vec<(u64, f32)> = best
            .iter()
            .zip(&matrix.docs)
            .filter(|(s, _)| s.is_finite())
            .map(|(&s, (id, _))| (*id, s))
            .collect();
        let k = k.min(scored.len());
        if k == 0 {
            return Vec::new();
        }
        scored.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
        scored.truncate(k);
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.entries.len() * (24 + 4 * self.dim));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.dim as u32).to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        let mut ids: Vec<&u64> = self.entries.keys().collect();
        ids.sort();
        for id in ids {
            let e = &self.entries[id];
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&e.hash.to_le_bytes());
            out.extend_from_slice(&(e.repo.len() as u32).to_le_bytes());
            out.extend_from_slice(e.repo.as_bytes());
            out.extend_from_slice(&(e.vectors.len() as u32).to_le_bytes());
            for x in e.vectors.iter().flatten() {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out
    }
}

/// The dot product, over eight lanes so that the compiler can use SIMD registers (a plain
/// float sum has to run in order).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// Reads little-endian values off a byte slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

fn decode(bytes: &[u8]) -> Option<Vectors> {
    let mut r = Reader(bytes);
    if r.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let dim = r.u32()? as usize;
    let count = r.u32()? as usize;
    let mut entries = HashMap::with_capacity(count.min(1 << 20));
    for _ in 0..count {
        let id = r.u64()?;
        let hash = r.u64()?;
        let len = r.u32()? as usize;
        let repo = std::str::from_utf8(r.take(len)?).ok()?.to_owned();
        let n = r.u32()? as usize;
        if n == 0 || dim == 0 {
            return None;
        }
        let raw = r.take(dim.checked_mul(4)?.checked_mul(n)?)?;
        let vectors = raw
            .chunks_exact(dim * 4)
            .map(|v| {
                v.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            })
            .collect();
        entries.insert(
            id,
            Entry {
                hash,
                repo,
                vectors,
            },
        );
    }
    r.0.is_empty().then_some(Vectors {
        dim,
        entries,
        matrix: OnceLock::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_survive_a_round_trip_and_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Vectors {
            dim: 2,
            ..Default::default()
        };
        for (id, repo, vectors) in [
            (1, "a", vec![vec![1.0, 0.0]]),
            (2, "b", vec![vec![0.6, 0.8]]),
            (3, "a", vec![vec![1.0, 0.0], vec![0.0, 1.0]]),
        ] {
            v.entries.insert(
                id,
                Entry {
                    hash: id * 10,
                    repo: repo.into(),
                    vectors,
                },
            );
        }
        v.save(dir.path()).unwrap();
        let back = Vectors::load(dir.path()).unwrap();
        assert_eq!(back.entries.len(), 3);
        assert_eq!(back.entries[&2].vectors, vec![vec![0.6, 0.8]]);
        assert_eq!(back.entries[&3].vectors.len(), 2);
        assert_eq!(back.nearest(&[0.0, 1.0], None, 2), vec![(3, 1.0), (2, 0.8)]);
        assert_eq!(back.nearest(&[0.0, 1.0], Some("b"), 5), vec![(2, 0.8)]);
        let mut bytes = std::fs::read(dir.path().join(FILE)).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(dir.path().join(FILE), bytes).unwrap();
        let err = Vectors::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("docward repo sync"), "{err}");
    }
}
