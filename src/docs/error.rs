//! The error type of the docs module, with messages written for the user.

use std::path::PathBuf;

/// Result alias used throughout the docs module.
pub type Result<T> = std::result::Result<T, DocsError>;

/// Everything that can go wrong while indexing or searching documentation.
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    /// The named repo is not in this library.
    #[error("no repo named `{name}`; {}", known_list(.known))]
    UnknownRepo {
        /// The name that was asked for.
        name: String,
        /// The repos that do exist, sorted.
        known: Vec<String>,
    },
    /// A repo with this name already exists.
    #[error(
        "a repo named `{0}` already exists; pick another name, or run `docward repo sync {0}` to refresh it"
    )]
    RepoExists(String),
    /// No document with this path in the repo.
    #[error(
        "no document `{path}` in repo `{repo}`; paths are relative to the repo root with `/` separators \
         (e.g. `docs/guide/install.md`), exactly as search results report them; search first to find one"
    )]
    UnknownDoc {
        /// The repo that was searched.
        repo: String,
        /// The path that was asked for.
        path: String,
    },
    /// A repo name that is not allowed.
    #[error(
        "invalid repo name `{0}`: use 1-64 characters from A-Z, a-z, 0-9, `.`, `_`, `-`, not starting with `.`"
    )]
    InvalidName(String),
    /// The source folder does not exist or is not a directory.
    #[error(
        "source folder `{}` is missing or is not a directory; check the path (or remove the repo and add it again from its new location)",
        .0.display()
    )]
    SourceMissing(PathBuf),
    /// `get_doc` was asked to start past the last section.
    #[error(
        "section {section} is out of range for `{path}`, which has {total} section(s); use 0..{total}"
    )]
    SectionOutOfRange {
        /// The document path.
        path: String,
        /// The section asked for.
        section: usize,
        /// How many sections the document has.
        total: usize,
    },
    /// The query was empty or only whitespace.
    #[error("the search query is empty; pass a few words describing what you are looking for")]
    EmptyQuery,
    /// The query is longer than a question needs (and than a search should cost).
    #[error(
        "the search query is too long ({words} words, {chars} characters; at most {max_words} words and {max_chars} characters): search again with the few words that matter most"
    )]
    QueryTooLong {
        /// Words in the query.
        words: usize,
        /// Characters in the query.
        chars: usize,
        /// The word limit.
        max_words: usize,
        /// The character limit.
        max_chars: usize,
    },
    /// Another process holds the index writer lock.
    #[error("another process is indexing this library right now; try again when it has finished")]
    Locked,
    /// An error from the search engine.
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// A file-system error on a named path.
    #[error("I/O error on `{}`: {source}", .path.display())]
    Io {
        /// The path being read or written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The index was written with another layout (by another docward version).
    #[error(
        "the docs index in `{}` was built by another docward version ({reason}); rebuild it from the repos' source folders with `{command}` (stop servers of the older version first)",
        .dir.display()
    )]
    IndexFormat {
        /// The index folder.
        dir: PathBuf,
        /// What tantivy reported.
        reason: String,
        /// The command that fixes it.
        command: String,
    },
    /// A repo's manifest cannot be read (damaged, truncated, or of an unknown format).
    #[error(
        "the manifest of repo `{name}` (`{}`) cannot be read ({reason}); set it aside and index the repos again from their source folders with `{command}`",
        .path.display()
    )]
    CorruptManifest {
        /// The repo.
        name: String,
        /// The manifest file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
        /// The command that repairs it.
        command: String,
    },
    /// A repo setting that is not allowed (the message says which and why).
    #[error("{0}")]
    InvalidSetting(String),
    /// The embedding model failed while indexing; the lexical index is up to date.
    #[error(
        "computing document vectors failed ({0}); the text index is up to date and search works; \
         run `docward repo sync` again to finish the vectors, or pass --no-embeddings"
    )]
    Embedding(String),
    /// Library data on disk is damaged or of an unknown format.
    #[error("library data is corrupt: {0}; remove the repo and add it again")]
    Corrupt(String),
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "there are no repos yet; add one with `docward repo add`".to_string()
    } else {
        format!("known repos: {}", known.join(", "))
    }
}

impl DocsError {
    /// A stable snake_case code for machine consumers (MCP error data, exit codes).
    pub fn code(&self) -> &'static str {
        match self {
            DocsError::UnknownRepo { .. } => "unknown_repo",
            DocsError::UnknownDoc { .. } => "unknown_doc",
            DocsError::RepoExists(_) => "repo_exists",
            DocsError::InvalidName(_) => "invalid_name",
            DocsError::InvalidSetting(_) => "invalid_setting",
            DocsError::SourceMissing(_) => "source_missing",
            DocsError::SectionOutOfRange { .. } => "section_out_of_range",
            DocsError::EmptyQuery => "empty_query",
            DocsError::QueryTooLong { .. } => "query_too_long",
            DocsError::Locked => "index_locked",
            DocsError::IndexFormat { .. } => "index_format",
            DocsError::CorruptManifest { .. } => "corrupt_manifest",
            DocsError::Embedding(_) => "embedding_failed",
            DocsError::Index(_) | DocsError::Io { .. } | DocsError::Corrupt(_) => "internal",
        }
    }

    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DocsError::Io {
            path: path.into(),
            source,
        }
    }
}
