//! What the index really holds, document by document, read from fast fields (no stored
//! document is read). Writers compare it with the manifests, so that a crash between an index
//! commit and the manifest write (a kill -9) leaves nothing that the next add or sync does not
//! clean: orphan documents and documents indexed twice.

use std::collections::{BTreeMap, HashMap};

use tantivy::Searcher;
use tantivy::columnar::StrColumn;

use super::error::{DocsError, Result};

/// Sections held per repo, then per path.
pub type Census = BTreeMap<String, BTreeMap<String, u64>>;

/// Counts the live sections of every (repo, path) in the index.
pub fn sections_by_document(searcher: &Searcher) -> Result<Census> {
    let mut census = Census::new();
    for reader in searcher.segment_readers() {
        let fast = reader.fast_fields();
        let column = |name: &str| -> Result<StrColumn> {
            fast.str(name)?
                .ok_or_else(|| DocsError::Corrupt(format!("the index has no `{name}` column")))
        };
        let (repos, paths) = (column("repo")?, column("path")?);
        let mut counts: HashMap<(u64, u64), u64> = HashMap::new();
        for doc in reader.doc_ids_alive() {
            let repo = repos.term_ords(doc).next().unwrap_or(u64::MAX);
            let path = paths.term_ords(doc).next().unwrap_or(u64::MAX);
            *counts.entry((repo, path)).or_default() += 1;
        }
        for ((repo, path), n) in counts {
            let (repo, path) = (text(&repos, repo)?, text(&paths, path)?);
            *census.entry(repo).or_default().entry(path).or_default() += n;
        }
    }
    Ok(census)
}

fn text(column: &StrColumn, ord: u64) -> Result<String> {
    let mut out = String::new();
    if ord != u64::MAX {
        column
            .ord_to_str(ord, &mut out)
            .map_err(|e| DocsError::Corrupt(format!("reading a column: {e}")))?;
    }
    Ok(out)
}
