//! Documentation indexing and search: walks a tenant's doc folders, splits Markdown,
//! reStructuredText and text files into sections, indexes them with tantivy (BM25,
//! English stemming) and serves section search and whole-document reads.

mod census;
pub mod embed;
mod error;
mod frontmatter;
mod getdoc;
mod indexer;
mod ingest;
mod library;
mod lock;
mod manifest;
mod markdown;
mod names;
mod parse;
mod plaintext;
mod rank;
mod rebuild;
mod schema;
mod search;
mod settings;
mod simhash;
mod snippet;
pub mod tuning;
mod types;
mod vectors;

#[cfg(test)]
mod tests;

/// The splitter that turns a file's text into sections, exposed only for the fuzz targets in
/// `fuzz/`: not a supported API.
#[doc(hidden)]
pub mod fuzzing {
    pub use super::parse::{MAX_SECTION_BYTES, ParsedDoc, SectionSpan, parse_document};
}

pub use error::{DocsError, Result};
pub use library::{Library, repos_in};
pub use names::{default_repo_name, validate_repo_name};
pub use rebuild::{MissingSource, RebuildReport, rebuild};
pub use settings::{MAX_IGNORE_PATTERNS, MAX_PATTERN_BYTES, RepoSettings, validate_ignore};
pub use types::{
    DocPage, MAX_ALSO_IN, MAX_DOC_CHARS, NoProgress, Progress, Ranker, RepoInfo, SearchHit,
    SectionRef, Skipped, SyncReport,
};
