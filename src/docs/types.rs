//! Public data types returned by [`super::Library`] and the progress callback trait.

use std::path::PathBuf;

use serde::Serialize;

/// ~25,000 tokens at ~4 chars/token: the largest get_doc answer.
pub const MAX_DOC_CHARS: usize = 100_000;

/// Receives indexing progress (e.g. to drive a progress bar). All methods default to no-ops.
pub trait Progress: Sync {
    /// Called once with the number of candidate files before indexing starts.
    fn start(&self, _total_files: u64) {}
    /// Called after each file is processed, with its repo-relative path.
    fn advance(&self, _path: &str) {}
    /// Called once when indexing is done.
    fn finish(&self) {}
}

/// A [`Progress`] that ignores everything.
pub struct NoProgress;

impl Progress for NoProgress {}

/// A repo of a library, as recorded in its manifest.
#[derive(Debug, Clone, Serialize)]
pub struct RepoInfo {
    /// The repo name.
    pub name: String,
    /// The folder it was indexed from (absolute).
    pub source: PathBuf,
    /// Number of indexed documents.
    pub documents: u64,
    /// Number of indexed sections.
    pub sections: u64,
    /// When it was last indexed, in unix seconds.
    pub indexed_at: i64,
}

/// A file that was not indexed, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// Repo-relative path (`/`-separated).
    pub path: String,
    /// Human-readable reason.
    pub reason: String,
}

/// What an add or sync did.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    /// The repo name.
    pub repo: String,
    /// Documents indexed for the first time.
    pub added: u64,
    /// Documents re-indexed because their content changed.
    pub changed: u64,
    /// Documents dropped because their file is gone (or no longer indexable).
    pub removed: u64,
    /// Documents left as they were.
    pub unchanged: u64,
    /// Files that were not indexed, with reasons.
    pub skipped: Vec<Skipped>,
    /// Files indexed otherwise than as written (over the section limit), and how.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Skipped>,
    /// Documents in the repo afterwards.
    pub documents: u64,
    /// Sections in the repo afterwards.
    pub sections: u64,
    /// Wall-clock time taken, in milliseconds.
    pub elapsed_ms: u64,
}

/// One search result: a section of a document.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    /// The repo name.
    pub repo: String,
    /// Repo-relative path, as [`super::Library::get_doc`] takes it.
    pub path: String,
    /// The document title.
    pub title: String,
    /// The heading trail of the section, outermost first.
    pub headings: Vec<String>,
    /// Section index within the document (pass as `from_section` to get_doc).
    pub section: usize,
    /// Plain-text excerpt with matched terms marked `**like this**`.
    pub snippet: String,
    /// BM25 relevance score (higher is better).
    pub score: f32,
    /// Other places with the same section text (copies across versions or renderings),
    /// folded into this hit rather than taking slots of their own; at most [`MAX_ALSO_IN`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_in: Vec<SectionRef>,
    /// How many more folded copies matched than `also_in` lists.
    #[serde(skip_serializing_if = "is_zero")]
    pub more_copies: usize,
}

/// Most folded copies listed on one hit.
pub const MAX_ALSO_IN: usize = 3;

/// A section of a document, as get_doc takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionRef {
    /// The repo name.
    pub repo: String,
    /// Repo-relative path.
    pub path: String,
    /// Section index within the document.
    pub section: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A page of a whole document returned by get_doc.
#[derive(Debug, Clone, Serialize)]
pub struct DocPage {
    /// The repo name.
    pub repo: String,
    /// Repo-relative path.
    pub path: String,
    /// The document title.
    pub title: String,
    /// Raw text of the returned sections (front matter stripped).
    pub content: String,
    /// Index of the first section in `content`.
    pub first_section: usize,
    /// Number of sections in the document.
    pub total_sections: usize,
    /// Where to continue when the document did not fit, else None.
    pub next_section: Option<usize>,
}

/// How search orders sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranker {
    /// The first ranker: BM25 over sections with small additive field boosts.
    Legacy,
    /// Document- and section-level BM25F evidence together.
    Lexical,
    /// Documents by the similarity of their embedding to the query's (sections chosen
    /// lexically); lexical when no model or vectors are there.
    Semantic,
    /// The lexical and semantic rankings of documents fused; lexical without a model.
    Hybrid,
}
