//! Walking a source folder for documentation files and loading them, honouring
//! `.gitignore` (even outside git), `.docwardignore`, and skipping hidden entries,
//! binary files and oversized files.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use ignore::WalkBuilder;

use super::parse::format_of;
use super::types::Skipped;

/// Files larger than this are skipped.
pub const MAX_FILE_BYTES: u64 = 5 * 1024 * 1024;

/// Name of the per-folder ignore file, in `.gitignore` syntax.
pub const IGNORE_FILE: &str = ".docwardignore";

/// A candidate documentation file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Repo-relative, `/`-separated path.
    pub rel: String,
    /// Absolute (or root-joined) path on disk.
    pub abs: PathBuf,
}

/// A loaded file: its text and the blake3 hash (hex) of its bytes.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file's text.
    pub text: String,
    /// blake3 of the raw bytes, hex.
    pub hash: String,
}

/// Lists documentation files under `root`, sorted by path, plus entries that could not be read.
pub fn list_files(root: &Path) -> (Vec<SourceFile>, Vec<Skipped>) {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let walker = WalkBuilder::new(root)
        .hidden(true)
        .ignore(true)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(false)
        .follow_links(false)
        .add_custom_ignore_filename(IGNORE_FILE)
        .build();
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                skipped.push(Skipped {
                    path: String::new(),
                    reason: format!("could not read: {err}"),
                });
                continue;
            }
        };
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        if format_of(&name).is_none() {
            continue;
        }
        match relative(root, entry.path()) {
            Some(rel) => files.push(SourceFile {
                rel,
                abs: entry.path().to_path_buf(),
            }),
            None => skipped.push(Skipped {
                path: entry.path().to_string_lossy().into_owned(),
                reason: "path is not valid UTF-8".to_string(),
            }),
        }
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    (files, skipped)
}

/// Loads one file, or returns the reason it is skipped.
pub fn load(file: &SourceFile) -> std::result::Result<Loaded, String> {
    let mut handle = std::fs::File::open(&file.abs).map_err(|e| format!("could not open: {e}"))?;
    let len = handle
        .metadata()
        .map_err(|e| format!("could not stat: {e}"))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(format!(
            "file is {:.1} MiB, over the 5 MiB limit",
            len as f64 / (1024.0 * 1024.0)
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    (&mut handle)
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("could not read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err("file grew over the 5 MiB limit while reading".to_string());
    }
    if bytes[..bytes.len().min(8 * 1024)].contains(&0) {
        return Err("binary file (NUL byte in the first 8 KiB)".to_string());
    }
    let hash = blake3::hash(&bytes).to_hex().to_string();
    let text = String::from_utf8(bytes).map_err(|_| "binary file (not valid UTF-8)".to_string())?;
    Ok(Loaded { text, hash })
}

/// `path` relative to `root`, `/`-separated; None if a component is not UTF-8.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?),
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, content: &[u8]) {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, content).unwrap();
    }

    #[test]
    fn walk_honours_ignore_files_and_filters() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, ".gitignore", b"build/\n*.draft.md\n");
        write(root, ".docwardignore", b"private/\n");
        write(root, "README", b"readme");
        write(root, "docs/a.md", b"# A");
        write(root, "docs/b.mdx", b"# B");
        write(root, "docs/c.markdown", b"# C");
        write(root, "docs/d.rst", b"D\n=");
        write(root, "docs/e.txt", b"e");
        write(root, "docs/x.draft.md", b"# ignored");
        write(root, "docs/code.rs", b"fn main() {}");
        write(root, "build/out.md", b"# ignored");
        write(root, "private/secret.md", b"# ignored");
        write(root, ".hidden/h.md", b"# ignored");
        write(root, "sub/README.adoc", b"= Sub");
        let (files, skipped) = list_files(root);
        let rels: Vec<&str> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(
            rels,
            vec![
                "README",
                "docs/a.md",
                "docs/b.mdx",
                "docs/c.markdown",
                "docs/d.rst",
                "docs/e.txt",
                "sub/README.adoc"
            ]
        );
        assert!(skipped.is_empty());
    }

    #[test]
    fn load_skips_binary_invalid_utf8_and_oversized() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "bin.md", b"# ok\0binary");
        write(root, "latin1.md", b"caf\xe9");
        write(root, "big.md", &vec![b'a'; MAX_FILE_BYTES as usize + 1]);
        write(root, "good.md", "# Grüße\n".as_bytes());
        let (files, _) = list_files(root);
        let reasons: Vec<(String, std::result::Result<String, String>)> = files
            .iter()
            .map(|f| (f.rel.clone(), load(f).map(|l| l.text)))
            .collect();
        assert!(
            reasons[0].0 == "big.md" && reasons[0].1.as_ref().is_err_and(|r| r.contains("5 MiB"))
        );
        assert!(
            reasons[1].0 == "bin.md" && reasons[1].1.as_ref().is_err_and(|r| r.contains("NUL"))
        );
        assert_eq!(reasons[2].1.as_deref(), Ok("# Grüße\n"));
        assert!(
            reasons[3].0 == "latin1.md"
                && reasons[3].1.as_ref().is_err_and(|r| r.contains("UTF-8"))
        );
    }
}
