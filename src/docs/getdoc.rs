//! Fetching a whole document (or a page of it) by reassembling its sections in order.

use tantivy::collector::DocSetCollector;
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{TantivyDocument, Term};

use super::error::{DocsError, Result};
use super::library::Library;
use super::schema;
use super::types::{DocPage, MAX_DOC_CHARS};

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
    let addresses = searcher.search(&query, &DocSetCollector)?;
    if addresses.is_empty() {
        return Err(DocsError::UnknownDoc {
            repo: repo.to_string(),
            path,
        });
    }
    let mut title = String::new();
    let mut sections: Vec<(u64, String)> = Vec::with_capacity(addresses.len());
    for addr in addresses {
        let doc: TantivyDocument = searcher.doc(addr)?;
        let index = doc
            .get_first(lib.fields.section)
            .and_then(|v| v.as_u64())
            .ok_or_else(|| DocsError::Corrupt(format!("section without index in `{path}`")))?;
        let body = doc
            .get_first(lib.fields.body)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        if title.is_empty()
            && let Some(t) = doc.get_first(lib.fields.title).and_then(|v| v.as_str())
        {
            title = t.to_string();
        }
        sections.push((index, body));
    }
    sections.sort_by_key(|(i, _)| *i);
    let total = sections.len();
    if from_section >= total {
        return Err(DocsError::SectionOutOfRange {
            path,
            section: from_section,
            total,
        });
    }
    let (content, next) = page(&sections, from_section);
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

/// Sections from `from` while they fit in [`MAX_DOC_CHARS`] (at least one, cut hard if
/// it alone is too long), and where to continue.
fn page(sections: &[(u64, String)], from: usize) -> (String, Option<usize>) {
    let mut content = String::new();
    let mut chars = 0;
    let mut next = None;
    for (i, (_, body)) in sections.iter().enumerate().skip(from) {
        let len = body.chars().count();
        if i == from && len > MAX_DOC_CHARS {
            content = body.chars().take(MAX_DOC_CHARS).collect();
            next = (i + 1 < sections.len()).then_some(i + 1);
            break;
        }
        if chars + len > MAX_DOC_CHARS {
            next = Some(i);
            break;
        }
        content.push_str(body);
        chars += len;
    }
    (content, next)
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
        let sections: Vec<(u64, String)> = (0..5).map(|i| (i, big.clone())).collect();
        let (content, next) = page(&sections, 0);
        assert_eq!(content.len(), MAX_DOC_CHARS);
        assert_eq!(next, Some(2));
        let (_, next) = page(&sections, 4);
        assert_eq!(next, None);
        let huge = vec![(0, "y".repeat(MAX_DOC_CHARS + 10)), (1, "z".to_string())];
        let (content, next) = page(&huge, 0);
        assert_eq!(content.chars().count(), MAX_DOC_CHARS);
        assert_eq!(next, Some(1));
    }
}
