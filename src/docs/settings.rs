//! Per-repo settings kept in the repo's manifest: today, extra ignore patterns (gitignore
//! syntax) applied on top of the source folder's own `.gitignore` and `.docwardignore` at the
//! next add or sync.

use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use serde::{Deserialize, Serialize};

use super::error::{DocsError, Result};

/// Most ignore patterns one repo may carry.
pub const MAX_IGNORE_PATTERNS: usize = 100;

/// Longest ignore pattern, in bytes.
pub const MAX_PATTERN_BYTES: usize = 256;

/// The settings of one repo.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoSettings {
    /// Extra ignore patterns in `.gitignore` syntax (e.g. `drafts/`, `*.rst`, `!keep.md`).
    pub ignore: Vec<String>,
}

/// Checks ignore patterns: at most [`MAX_IGNORE_PATTERNS`], each one line of 1 to
/// [`MAX_PATTERN_BYTES`] bytes without control characters, and a glob the matcher accepts.
pub fn validate_ignore(patterns: &[String]) -> Result<()> {
    if patterns.len() > MAX_IGNORE_PATTERNS {
        return Err(DocsError::InvalidSetting(format!(
            "`ignore` holds {} patterns; at most {MAX_IGNORE_PATTERNS} are allowed",
            patterns.len()
        )));
    }
    for (i, pattern) in patterns.iter().enumerate() {
        let why = if pattern.trim().is_empty() {
            Some("it is empty".to_owned())
        } else if pattern.len() > MAX_PATTERN_BYTES {
            Some(format!("it is longer than {MAX_PATTERN_BYTES} bytes"))
        } else if pattern.chars().any(char::is_control) {
            Some("it contains a control character (one pattern per entry)".to_owned())
        } else if pattern.starts_with('#') {
            Some(
                "it starts with `#`, which makes it a comment (write `\\#` for a literal #)"
                    .to_owned(),
            )
        } else {
            glob_error(pattern).map(|e| format!("it is not a valid pattern ({e})"))
        };
        if let Some(why) = why {
            return Err(DocsError::InvalidSetting(format!(
                "ignore pattern {i} is refused: {why}; patterns use .gitignore syntax, e.g. `drafts/` or `*.rst`"
            )));
        }
    }
    Ok(())
}

/// Why `pattern` does not compile as a gitignore line, if it does not (some errors show only
/// when the matcher is built).
fn glob_error(pattern: &str) -> Option<String> {
    let mut builder = GitignoreBuilder::new("/");
    if let Err(e) = builder.add_line(None, pattern) {
        return Some(e.to_string());
    }
    builder.build().err().map(|e| e.to_string())
}

/// The matcher of `patterns` for a source folder `root`, or `None` when there are none.
pub fn matcher(root: &Path, patterns: &[String]) -> Option<Gitignore> {
    if patterns.is_empty() {
        return None;
    }
    let mut builder = GitignoreBuilder::new(root);
    for pattern in patterns {
        // Validated when saved; a pattern that does not compile is left out rather than failing the sync.
        match glob_error(pattern) {
            None => {
                let _ = builder.add_line(None, pattern);
            }
            Some(e) => {
                tracing::warn!(pattern = %pattern, error = %e, "leaving out an unreadable ignore pattern")
            }
        }
    }
    builder.build().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_checked_one_by_one() {
        assert!(validate_ignore(&["drafts/".into(), "*.rst".into(), "!keep.md".into()]).is_ok());
        for bad in [
            "",
            "  ",
            "a\nb",
            "# note",
            "[z-a]",
            "{a,b",
            &"x".repeat(300),
        ] {
            let err = validate_ignore(&[bad.to_owned()]).unwrap_err().to_string();
            assert!(err.contains("ignore pattern 0"), "{bad:?}: {err}");
        }
        let many = vec!["a".to_owned(); MAX_IGNORE_PATTERNS + 1];
        assert!(validate_ignore(&many).is_err());
    }

    #[test]
    fn the_matcher_ignores_files_and_folders_below_the_root() {
        let m = matcher(Path::new("/src"), &["drafts/".into(), "*.rst".into()]).unwrap();
        assert!(m.matched(Path::new("/src/drafts"), true).is_ignore());
        assert!(m.matched(Path::new("/src/a/b.rst"), false).is_ignore());
        assert!(!m.matched(Path::new("/src/a/b.md"), false).is_ignore());
        assert!(matcher(Path::new("/src"), &[]).is_none());
    }
}
