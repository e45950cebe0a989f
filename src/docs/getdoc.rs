//! Fetching a whole document (or a page of it) by reassembling its sections in order.
//!
//! A page costs what it returns: the document's sections are found by their ordinal in the
//! `section` fast field (one pass over the document's postings per window of
//! [`WINDOW`] sections, no stored document read), and only the sections of the page are read
//! from the store. Reading and sorting every section of a 200,000-section document took about
//! a second per page.

use std::ops::Range;

use tantivy::query::{EnableScoring, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DocAddress, DocSet, Searcher, TERMINATED, TantivyDocument, Term};

use super::error::{DocsError, Result};
use super::library::Library;
use super::schema;
use super::types::{DocPage, MAX_DOC_CHARS};

/// Sections located per pass over a document's postings.
const WINDOW: u64 = 1024;

pub(super) fn get_doc(
    lib: &Library,
    repo: &str,
    path: &str,
    from_section: usize,
) -> Result<DocPage> {
    lib.check_repo(repo)?;
    let path = normalize_path(path);
    let searcher = lib.reader.searcher();
    let query = TermQuery::new(
        Term::from_field_text(lib.fields.doc_key, &schema::doc_key(repo, &path)),
        IndexRecordOption::Basic,
    );
    let from = from_section as u64;
    let mut window = locate(&searcher, &query, from..from.saturating_add(WINDOW))?;
    let total = window.total;
    if total == 0 {
        return Err(DocsError::UnknownDoc {
            repo: repo.to_string(),
            path,
        });
    }
    if from_section >= total {
        return Err(DocsError::SectionOutOfRange {
            path,
            section: from_section,
            total,
        });
    }
    let mut title = String::new();
    let (content, next) = page(total, from_section, |i| {
        let i = i as u64;
        if !window.range.contains(&i) {
            window = locate(&searcher, &query, i..i.saturating_add(WINDOW))?;
        }
        let addr = window.addresses[(i - window.range.start) as usize].ok_or_else(|| {
            DocsError::Corrupt(format!("section {i} of `{path}` is missing from the index"))
        })?;
        let doc: TantivyDocument = searcher.doc(addr)?;
        if title.is_empty()
            && let Some(t) = doc.get_first(lib.fields.title).and_then(|v| v.as_str())
        {
            title = t.to_string();
        }
        Ok(doc
            .get_first(lib.fields.body)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string())
    })?;
    Ok(DocPage {
        repo: repo.to_string(),
        path,
        title,
        content,
        first_section: from_section,
        total_sections: total,
        next_section: next,
    })
}

/// Where the sections with ordinals in `range` are, and how many sections the document has.
struct Window {
    range: Range<u64>,
    addresses: Vec<Option<DocAddress>>,
    total: usize,
}

/// One pass over the document's postings, reading each section's ordinal from its fast field.
fn locate(searcher: &Searcher, query: &TermQuery, range: Range<u64>) -> Result<Window> {
    let weight = query.weight(EnableScoring::disabled_from_searcher(searcher))?;
    let width = usize::try_from(range.end - range.start).unwrap_or(usize::MAX);
    let mut window = Window {
        addresses: vec![None; width],
        range,
        total: 0,
    };
    for (segment_ord, reader) in searcher.segment_readers().iter().enumerate() {
        let sections = reader.fast_fields().u64("section")?;
        let alive = reader.alive_bitset();
        let mut scorer = weight.scorer(reader, 1.0)?;
        let mut doc = scorer.doc();
        while doc != TERMINATED {
            if alive.is_none_or(|a| a.is_alive(doc)) {
                window.total += 1;
                if let Some(ordinal) = sections.first(doc)
                    && window.range.contains(&ordinal)
                {
                    let segment_ord = u32::try_from(segment_ord).unwrap_or(u32::MAX);
                    window.addresses[(ordinal - window.range.start) as usize] =
                        Some(DocAddress::new(segment_ord, doc));
                }
            }
            doc = scorer.advance();
        }
    }
    Ok(window)
}

/// Sections from `from` (of `total`, read by `body`) while they fit in [`MAX_DOC_CHARS`] (at
/// least one, cut hard if it alone is too long), and where to continue.
fn page(
    total: usize,
    from: usize,
    mut body: impl FnMut(usize) -> Result<String>,
) -> Result<(String, Option<usize>)> {
    let mut content = String::new();
    let mut chars = 0;
    for i in from..total {
        let text = body(i)?;
        let len = text.chars().count();
        if i == from && len > MAX_DOC_CHARS {
            content = text.chars().take(MAX_DOC_CHARS).collect();
            return Ok((content, (i + 1 < total).then_some(i + 1)));
        }
        if chars + len > MAX_DOC_CHARS {
            return Ok((content, Some(i)));
        }
        content.push_str(&text);
        chars += len;
    }
    Ok((content, None))
}

/// Accepts `./a/b.md`, `/a/b.md` and `a\b.md` for `a/b.md`.
fn normalize_path(path: &str) -> String {
    let path = path.trim().replace('\\', "/");
    path.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized() {
        assert_eq!(normalize_path("./docs//a.md"), "docs/a.md");
        assert_eq!(normalize_path("/docs\\a.md "), "docs/a.md");
    }

    #[test]
    fn paging_respects_budget() {
        let big = "x".repeat(MAX_DOC_CHARS / 2);
        let read = |sections: Vec<String>| move |i: usize| Ok(sections[i].clone());
        let (content, next) = page(5, 0, read(vec![big.clone(); 5])).unwrap();
        assert_eq!(content.len(), MAX_DOC_CHARS);
        assert_eq!(next, Some(2));
        let (_, next) = page(5, 4, read(vec![big.clone(); 5])).unwrap();
        assert_eq!(next, None);
        let huge = vec!["y".repeat(MAX_DOC_CHARS + 10), "z".to_string()];
        let (content, next) = page(2, 0, read(huge)).unwrap();
        assert_eq!(content.chars().count(), MAX_DOC_CHARS);
        assert_eq!(next, Some(1));
    }

    #[test]
    fn a_page_reads_only_the_sections_it_returns() {
        let mut read = Vec::new();
        let (_, next) = page(1_000_000, 500_000, |i| {
            read.push(i);
            Ok("x".repeat(MAX_DOC_CHARS / 4))
        })
        .unwrap();
        assert_eq!(next, Some(500_004));
        assert_eq!(read, (500_000..=500_004).collect::<Vec<_>>());
    }
}
