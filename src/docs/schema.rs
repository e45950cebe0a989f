//! The tantivy schema of a library index and its English-stemming analyzer.

use tantivy::Index;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};

/// Name under which the analyzer is registered on every opened index.
pub const ANALYZER: &str = "docward_en";

/// Handles to every field of a section document.
#[derive(Debug, Clone)]
pub struct DocFields {
    /// The schema itself.
    pub schema: Schema,
    /// Repo name (exact, stored).
    pub repo: Field,
    /// Repo-relative path (exact, stored).
    pub path: Field,
    /// Unique per-document key `repo \u{1f} path` used to delete or fetch a document.
    pub doc_key: Field,
    /// 64-bit hash of the document key (fast field) to collapse hits per document cheaply.
    pub doc_id: Field,
    /// Document title (stemmed, stored).
    pub title: Field,
    /// Heading trail of the section, one value per heading (stemmed, stored).
    pub headings: Field,
    /// Raw section text (stemmed, stored; used for snippets and get_doc).
    pub body: Field,
    /// Path split into words (stemmed, not stored) so file names match.
    pub path_text: Field,
    /// Section index within the document (stored).
    pub section: Field,
    /// 64-bit hash of the section's normalised text (fast field), so that search can fold
    /// sections whose text is the same (copies of a page across versions or renderings).
    pub content_id: Field,
    /// SimHash of the section's text (fast field; 0 for short sections), to fold sections that
    /// are nearly the same.
    pub near_id: Field,
    /// Hash of the section's own heading (fast field): only sections under the same heading
    /// can be nearly the same.
    pub heading_id: Field,
    /// The section as one BM25F-style field: title, heading trail and path words repeated by
    /// their weights, then the body (not stored).
    pub sec_text: Field,
    /// The whole document as one BM25F-style field, on its first section only (not stored).
    pub doc_text: Field,
    /// `"1"` on a document's first section (the one carrying `doc_text`), to count documents.
    pub first: Field,
}

/// Builds the schema.
pub fn build() -> DocFields {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let stored_text = text.clone().set_stored();
    // Fast as well, so that search can name the copies it folds without reading documents.
    let repo = b.add_text_field("repo", STRING | STORED | FAST);
    let path = b.add_text_field("path", STRING | STORED | FAST);
    let doc_key = b.add_text_field("doc_key", STRING);
    let doc_id = b.add_u64_field("doc_id", FAST | INDEXED);
    let title = b.add_text_field("title", stored_text.clone());
    let headings = b.add_text_field("headings", stored_text.clone());
    let body = b.add_text_field("body", stored_text);
    let path_text = b.add_text_field("path_text", text.clone());
    let section = b.add_u64_field("section", STORED | FAST);
    let content_id = b.add_u64_field("content_id", FAST);
    let near_id = b.add_u64_field("near_id", FAST);
    let heading_id = b.add_u64_field("heading_id", FAST);
    let sec_text = b.add_text_field("sec_text", text.clone());
    let doc_text = b.add_text_field("doc_text", text);
    let first = b.add_text_field("first", STRING);
    DocFields {
        schema: b.build(),
        repo,
        path,
        doc_key,
        doc_id,
        title,
        headings,
        body,
        path_text,
        section,
        content_id,
        near_id,
        heading_id,
        sec_text,
        doc_text,
        first,
    }
}

/// The English analyzer: split on non-alphanumerics, drop very long tokens, lowercase,
/// drop English stop words, stem.
pub fn analyzer() -> TextAnalyzer {
    let builder = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser);
    match StopWordFilter::new(Language::English) {
        Some(stop) => builder
            .filter(stop)
            .filter(Stemmer::new(Language::English))
            .build(),
        None => builder.filter(Stemmer::new(Language::English)).build(),
    }
}

/// Registers the analyzer on an opened index (tokenizers are not persisted).
pub fn register(index: &Index) {
    index.tokenizers().register(ANALYZER, analyzer());
}

/// The unique key of a document.
pub fn doc_key(repo: &str, path: &str) -> String {
    format!("{repo}\u{1f}{path}")
}

/// The 64-bit id of a document, derived from its key.
pub fn doc_id(repo: &str, path: &str) -> u64 {
    hash64(doc_key(repo, path).as_bytes())
}

/// Fewest words under a section's heading for its text alone to decide whether it is a copy:
/// a bare heading such as `## Examples` is the same in unrelated documents.
pub const MIN_FOLD_WORDS: usize = 8;

/// The 64-bit id of a section's text: the same words in the same order give the same id,
/// whatever the case and the whitespace between them. A section with fewer than
/// [`MIN_FOLD_WORDS`] words under its heading is only the same as one of the same `page` (its
/// file's name and its title: the same page in another version or rendering).
///
/// Changing what this id means needs a new field name, so that older indexes are refused and
/// rebuilt rather than mixed.
pub fn content_id(text: &str, page: &str) -> u64 {
    let mut hasher = blake3::Hasher::new();
    let below_heading = match text.trim_start().strip_prefix('#') {
        Some(heading) => heading.split_once('\n').map_or("", |(_, rest)| rest),
        None => text,
    };
    if below_heading
        .split_whitespace()
        .nth(MIN_FOLD_WORDS - 1)
        .is_none()
    {
        hasher.update(page.to_lowercase().as_bytes());
        hasher.update(b"\n");
    }
    for word in text.split_whitespace() {
        hasher.update(word.to_lowercase().as_bytes());
        hasher.update(b" ");
    }
    first_u64(hasher.finalize())
}

/// The id of a section's own heading, ignoring case.
pub fn heading_id(heading: &str) -> u64 {
    hash64(heading.trim().to_lowercase().as_bytes())
}

/// A path's file name without its extensions: `doc/man/cargo-build.md` gives `cargo-build`.
pub fn file_stem(rel: &str) -> &str {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.split('.').next().unwrap_or(name)
}

fn hash64(bytes: &[u8]) -> u64 {
    first_u64(blake3::hash(bytes))
}

fn first_u64(hash: blake3::Hash) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_le_bytes(first)
}
