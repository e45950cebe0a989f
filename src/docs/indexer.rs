//! Writing a repo's files into the index: the writer lock, per-file change detection,
//! turning parsed documents into section documents, in parallel over files.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tantivy::directory::error::LockError;
use tantivy::{Index, IndexWriter, TantivyDocument, TantivyError, Term};

use super::embed;
use super::error::{DocsError, Result};
use super::ingest::{self, SourceFile};
use super::manifest::FileEntry;
use super::parse::{MAX_SECTIONS, ParsedDoc, parse_document};
use super::schema::{self, DocFields};
use super::simhash;
use super::tuning::{self, RankParams};
use super::types::{Progress, Skipped};

/// Indexing threads of the writer.
const WRITER_THREADS: usize = 2;
/// Overall writer memory budget.
const WRITER_BUDGET: usize = 100_000_000;
/// Threads reading and parsing files.
const PARSE_THREADS: usize = 2;

/// Takes the index writer lock, or `DocsError::Locked` if another writer holds it.
pub fn writer(index: &Index) -> Result<IndexWriter> {
    match index.writer_with_num_threads(WRITER_THREADS, WRITER_BUDGET) {
        Ok(w) => Ok(w),
        Err(TantivyError::LockFailure(LockError::LockBusy, _)) => Err(DocsError::Locked),
        Err(e) => Err(e.into()),
    }
}

/// What happened to one file.
#[derive(Debug)]
enum Outcome {
    Added(FileEntry, Option<String>),
    Changed(FileEntry, Option<String>),
    Unchanged,
    Skipped(String),
}

/// Counts and the new file table after processing a repo's files.
#[derive(Debug, Default)]
pub struct Applied {
    /// New files table (indexed files only).
    pub files: BTreeMap<String, FileEntry>,
    /// Files indexed for the first time.
    pub added: u64,
    /// Files re-indexed.
    pub changed: u64,
    /// Files whose documents were deleted.
    pub removed: u64,
    /// Files left alone.
    pub unchanged: u64,
    /// Files not indexed, with reasons.
    pub skipped: Vec<Skipped>,
    /// Files indexed otherwise than as written (too many sections), with what was done.
    pub warnings: Vec<Skipped>,
    /// The texts to embed of each file whose vectors are wanted, by path.
    pub to_embed: Vec<(String, Vec<String>)>,
}

/// What became of a file, and the texts to embed for it when its vectors are wanted.
type Processed = (Outcome, Option<Vec<String>>);

/// Which unchanged files still need a vector (`None`: embeddings are off).
pub type WantsVector<'a> = Option<&'a (dyn Fn(&str) -> bool + Sync)>;

/// Brings the index in line with `files` for `repo`, given what was indexed before
/// (`old`): adds new files, re-indexes changed ones, deletes vanished or now-skipped ones.
/// Does not commit.
pub fn apply(
    writer: &IndexWriter,
    fields: &DocFields,
    repo: &str,
    files: &[SourceFile],
    old: &BTreeMap<String, FileEntry>,
    progress: &dyn Progress,
    wants_vector: WantsVector<'_>,
) -> Result<Applied> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Processed)>> = Mutex::new(Vec::with_capacity(files.len()));
    let first_error: Mutex<Option<DocsError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..PARSE_THREADS {
            scope.spawn(|| {
                let mut local = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(i) else { break };
                    match process(writer, fields, repo, file, old.get(&file.rel), wants_vector) {
                        Ok(outcome) => local.push((i, outcome)),
                        Err(e) => {
                            if let Ok(mut slot) = first_error.lock() {
                                slot.get_or_insert(e);
                            }
                            next.store(files.len(), Ordering::Relaxed);
                            break;
                        }
                    }
                    progress.advance(&file.rel);
                }
                if let Ok(mut all) = results.lock() {
                    all.extend(local);
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let results = results
        .into_inner()
        .map_err(|_| DocsError::Corrupt("indexing thread panicked".to_string()))?;
    if results.len() != files.len() {
        return Err(DocsError::Corrupt("indexing thread panicked".to_string()));
    }
    let mut results = results;
    results.sort_by_key(|(i, _)| *i);

    let mut applied = Applied::default();
    for (i, (outcome, text)) in results {
        let rel = files[i].rel.clone();
        if let Some(text) = text {
            applied.to_embed.push((rel.clone(), text));
        }
        match outcome {
            Outcome::Added(entry, warning) | Outcome::Changed(entry, warning) => {
                if old.contains_key(&rel) {
                    applied.changed += 1;
                } else {
                    applied.added += 1;
                }
                if let Some(reason) = warning {
                    applied.warnings.push(Skipped {
                        path: rel.clone(),
                        reason,
                    });
                }
                applied.files.insert(rel, entry);
            }
            Outcome::Unchanged => {
                applied.unchanged += 1;
                if let Some(entry) = old.get(&rel) {
                    applied.files.insert(rel, entry.clone());
                }
            }
            Outcome::Skipped(reason) => applied.skipped.push(Skipped { path: rel, reason }),
        }
    }
    for path in old.keys() {
        if !applied.files.contains_key(path) {
            writer.delete_term(Term::from_field_text(
                fields.doc_key,
                &schema::doc_key(repo, path),
            ));
            applied.removed += 1;
        }
    }
    Ok(applied)
}

fn process(
    writer: &IndexWriter,
    fields: &DocFields,
    repo: &str,
    file: &SourceFile,
    old: Option<&FileEntry>,
    wants_vector: WantsVector<'_>,
) -> Result<Processed> {
    let loaded = match ingest::load(file) {
        Ok(l) => l,
        Err(reason) => return Ok((Outcome::Skipped(reason), None)),
    };
    let file_name = file.rel.rsplit('/').next().unwrap_or(&file.rel);
    if old.is_some_and(|o| o.hash == loaded.hash) {
        // Parsed again only when its vector is missing (embeddings turned on since).
        let text = wants_vector.filter(|wants| wants(&file.rel)).map(|_| {
            let parsed = parse_document(file_name, &loaded.text);
            embed::document_texts(&parsed, &path_words(&file.rel))
        });
        return Ok((Outcome::Unchanged, text));
    }
    // Always, even for a file the manifest does not know: a crash after an earlier commit may
    // have left its sections in the index.
    writer.delete_term(Term::from_field_text(
        fields.doc_key,
        &schema::doc_key(repo, &file.rel),
    ));
    let mut parsed = parse_document(file_name, &loaded.text);
    let warning = parsed.cap_sections().map(|count| {
        format!(
            "{count} sections, over the limit of {MAX_SECTIONS}: indexed as {} larger sections",
            parsed.sections.len()
        )
    });
    let key = schema::doc_key(repo, &file.rel);
    let id = schema::doc_id(repo, &file.rel);
    let path_words = path_words(&file.rel);
    let page = format!("{}\n{}", schema::file_stem(&file.rel), parsed.title);
    let weights = tuning::params();
    for (i, span) in parsed.sections.iter().enumerate() {
        let mut doc = TantivyDocument::default();
        doc.add_text(fields.repo, repo);
        doc.add_text(fields.path, &file.rel);
        doc.add_text(fields.doc_key, &key);
        doc.add_u64(fields.doc_id, id);
        doc.add_text(fields.title, &parsed.title);
        for heading in &span.headings {
            doc.add_text(fields.headings, heading);
        }
        let text = parsed.section_text(i);
        doc.add_text(fields.body, text);
        doc.add_u64(fields.content_id, schema::content_id(text, &page));
        doc.add_u64(fields.near_id, simhash::fingerprint(text));
        let heading = span.headings.last().map_or("", String::as_str);
        doc.add_u64(fields.heading_id, schema::heading_id(heading));
        doc.add_text(fields.path_text, &path_words);
        doc.add_u64(fields.section, i as u64);
        doc.add_text(
            fields.sec_text,
            combined(&weights, &parsed.title, &span.headings, &path_words, text),
        );
        if i == 0 {
            doc.add_text(fields.first, "1");
            doc.add_text(
                fields.doc_text,
                whole_document(&weights, &parsed, &path_words),
            );
        }
        writer.add_document(doc)?;
    }
    let entry = FileEntry {
        hash: loaded.hash,
        sections: parsed.sections.len() as u64,
    };
    let text = wants_vector.map(|_| embed::document_texts(&parsed, &path_words));
    let outcome = if old.is_some() {
        Outcome::Changed(entry, warning)
    } else {
        Outcome::Added(entry, warning)
    };
    Ok((outcome, text))
}

/// One BM25F-style field: each short field repeated by its weight, then the body, so that a
/// word's frequencies add up across fields before BM25 saturates them.
fn combined<S: AsRef<str>>(
    weights: &RankParams,
    title: &str,
    headings: &[S],
    path_words: &str,
    body: &str,
) -> String {
    let mut out = String::with_capacity(body.len() + 8 * (title.len() + path_words.len()));
    for _ in 0..weights.title_repeat {
        out.push_str(title);
        out.push('\n');
    }
    for heading in headings {
        for _ in 0..weights.headings_repeat {
            out.push_str(heading.as_ref());
            out.push('\n');
        }
    }
    for _ in 0..weights.path_repeat {
        out.push_str(path_words);
        out.push('\n');
    }
    out.push_str(body);
    out
}

/// The whole document as one combined field: every distinct heading once, weighted.
fn whole_document(weights: &RankParams, parsed: &ParsedDoc, path_words: &str) -> String {
    let mut seen = std::collections::HashSet::new();
    let headings: Vec<&str> = parsed
        .sections
        .iter()
        .filter_map(|span| span.headings.last().map(String::as_str))
        .filter(|own| seen.insert(*own))
        .collect();
    combined(weights, &parsed.title, &headings, path_words, &parsed.body)
}

/// The path as words for matching file names: separators become spaces, the extension goes.
fn path_words(rel: &str) -> String {
    let without_ext = match rel.rsplit_once('.') {
        Some((stem, ext)) if !ext.contains('/') => stem,
        _ => rel,
    };
    without_ext.replace(['/', '-', '_', '.'], " ")
}
