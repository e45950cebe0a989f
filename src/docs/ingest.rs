//! Walking a source folder for documentation files and loading them, honouring
//! `.gitignore` (even outside git), `.docwardignore`, and skipping hidden entries,
//! binary files and oversized files.
//!
//! A file is opened without following symbolic links and must be the very file the walk saw
//! (same device and inode), inside the repo root: a file or folder swapped for a symbolic link
//! between the walk and the read cannot bring another tenant's files (or `/etc`) into the index.

use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

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
    /// The repo root, canonical: the opened file must be below it.
    pub root: Arc<Path>,
    /// Device and inode the walk saw (without following links).
    pub identity: (u64, u64),
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
#[cfg(test)]
pub fn list_files(root: &Path) -> (Vec<SourceFile>, Vec<Skipped>) {
    list_files_ignoring(root, None)
}

/// [`list_files`], leaving out entries that `extra` (the repo's own ignore patterns) ignores.
pub fn list_files_ignoring(
    root: &Path,
    extra: Option<ignore::gitignore::Gitignore>,
) -> (Vec<SourceFile>, Vec<Skipped>) {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let canonical: Arc<Path> = std::fs::canonicalize(root)
        .unwrap_or_else(|_| root.to_path_buf())
        .into();
    let mut builder = WalkBuilder::new(root);
    if let Some(extra) = extra {
        builder.filter_entry(move |entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            !extra.matched(entry.path(), is_dir).is_ignore()
        });
    }
    let walker = builder
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
        let identity = match entry.metadata() {
            Ok(meta) => identity(&meta),
            Err(err) => {
                skipped.push(Skipped {
                    path: entry.path().to_string_lossy().into_owned(),
                    reason: format!("could not stat: {err}"),
                });
                continue;
            }
        };
        match relative(root, entry.path()) {
            Some(rel) => files.push(SourceFile {
                rel,
                abs: entry.path().to_path_buf(),
                root: Arc::clone(&canonical),
                identity,
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
    let mut handle = open_walked(file)?;
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

/// Opens a walked file for reading, refusing anything but that very file: a symbolic link (not
/// followed), another file put in its place, or a file outside the repo root (reached through
/// a folder swapped for a link).
pub fn open_walked(file: &SourceFile) -> std::result::Result<File, String> {
    let handle = open_no_follow(&file.abs).map_err(|e| {
        if e.raw_os_error() == Some(nix::libc::ELOOP) {
            "it is a symbolic link now (it was replaced after the folder was read); not following it"
                .to_string()
        } else {
            format!("could not open: {e}")
        }
    })?;
    let meta = handle
        .metadata()
        .map_err(|e| format!("could not stat: {e}"))?;
    if !meta.is_file() {
        return Err("it is no longer a regular file".to_string());
    }
    if identity(&meta) != file.identity {
        return Err(
            "it is not the file the folder listing saw (replaced, or reached through a folder swapped for a link); not reading it"
                .to_string(),
        );
    }
    let opened = opened_path(&handle, &file.abs)?;
    if !opened.starts_with(&file.root) {
        return Err(format!(
            "it resolves to {}, outside the repo folder {}; not reading it",
            opened.display(),
            file.root.display()
        ));
    }
    Ok(handle)
}

/// Opens read-only without following a final symbolic link, and without blocking on a FIFO.
fn open_no_follow(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Where an open file really is: its `/proc/self/fd` link on Linux (no race), else the
/// canonical form of the path it was opened by.
fn opened_path(handle: &File, path: &Path) -> std::result::Result<PathBuf, String> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        if let Ok(p) = std::fs::read_link(format!("/proc/self/fd/{}", handle.as_raw_fd())) {
            return Ok(p);
        }
    }
    let _ = handle;
    std::fs::canonicalize(path).map_err(|e| format!("could not resolve its path: {e}"))
}

/// Device and inode of a file.
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        (0, 0)
    }
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

    /// The one file walked in `root`.
    fn walked(root: &Path, rel: &str) -> SourceFile {
        let (files, _) = list_files(root);
        files.into_iter().find(|f| f.rel == rel).unwrap()
    }

    #[test]
    fn a_file_swapped_for_a_symlink_after_the_walk_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let (root, outside) = (dir.path().join("repo"), dir.path().join("other-tenant"));
        write(&root, "a.md", b"# mine");
        write(&outside, "secret.md", b"# other tenant's secret");
        let file = walked(&root, "a.md");
        std::fs::remove_file(&file.abs).unwrap();
        std::os::unix::fs::symlink(outside.join("secret.md"), &file.abs).unwrap();
        let refused = load(&file).map(|l| l.text).unwrap_err();
        assert!(refused.contains("symbolic link"), "{refused}");
    }

    #[test]
    fn a_folder_swapped_for_a_symlink_after_the_walk_does_not_escape_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let (root, outside) = (dir.path().join("repo"), dir.path().join("other-tenant"));
        write(&root, "sub/a.md", b"# mine");
        write(&outside, "a.md", b"# other tenant's secret");
        let file = walked(&root, "sub/a.md");
        std::fs::remove_dir_all(root.join("sub")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("sub")).unwrap();
        let refused = load(&file).map(|l| l.text).unwrap_err();
        assert!(refused.contains("not the file"), "{refused}");
        // Even a walk that itself went through the link finds the file outside the root.
        let mut through = file.clone();
        through.identity = identity(&std::fs::metadata(outside.join("a.md")).unwrap());
        let refused = load(&through).map(|l| l.text).unwrap_err();
        assert!(refused.contains("outside the repo folder"), "{refused}");
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
