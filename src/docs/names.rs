//! Repo name validation and the default name derived from a folder.

use std::path::Path;

use super::error::{DocsError, Result};

/// Longest allowed repo name.
const MAX_NAME_LEN: usize = 64;

/// Validates a repo name: 1-64 chars of [A-Za-z0-9._-], not starting with '.'; also used for the default name
/// derived from the folder name.
pub fn validate_repo_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with('.')
        && name.bytes().all(allowed);
    if ok {
        Ok(())
    } else {
        Err(DocsError::InvalidName(name.to_string()))
    }
}

/// Derives a default repo name from a folder (its last component, sanitised to the allowed characters).
pub fn default_repo_name(source: &Path) -> Result<String> {
    let absolute;
    let path = if source.file_name().is_some() {
        source
    } else {
        // `.` or `..` or a trailing separator: resolve to find a real last component.
        absolute = std::fs::canonicalize(source).map_err(|e| DocsError::io(source, e))?;
        &absolute
    };
    let last = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii() && allowed(c as u8) {
                c
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_start_matches('.').to_string();
    let name: String = name.chars().take(MAX_NAME_LEN).collect();
    validate_repo_name(&name).map(|()| name).map_err(|_| {
        DocsError::InvalidName(format!(
            "{last} (derived from the folder name; pass a name explicitly)"
        ))
    })
}

fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_repo_name("cargo").is_ok());
        assert!(validate_repo_name("rust-book_2.0").is_ok());
        assert!(validate_repo_name(&"a".repeat(64)).is_ok());
        for bad in ["", ".hidden", "a/b", "a b", "ü", &"a".repeat(65)] {
            let err = validate_repo_name(bad).err();
            assert!(matches!(err, Some(DocsError::InvalidName(_))), "{bad:?}");
        }
    }

    #[test]
    fn default_names() {
        assert_eq!(
            default_repo_name(Path::new("/x/my docs")).ok().as_deref(),
            Some("my-docs")
        );
        assert_eq!(
            default_repo_name(Path::new("/x/.config")).ok().as_deref(),
            Some("config")
        );
        assert_eq!(
            default_repo_name(Path::new("rel/tokio-website/"))
                .ok()
                .as_deref(),
            Some("tokio-website")
        );
        assert!(default_repo_name(Path::new("/")).is_err());
    }
}
