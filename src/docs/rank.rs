//! The lexical ranker: a document-level BM25 over whole documents fused with the BM25 of the
//! document's best sections, both over BM25F-style combined fields (see
//! [`super::tuning::RankParams`]). The answer stays sections: each document contributes its
//! best sections, the later ones discounted, and search folds copies and caps them per document.

use std::collections::HashMap;

use tantivy::collector::TopDocs;
use tantivy::query::{
    Bm25StatisticsProvider, BooleanQuery, ConstScoreQuery, Occur, Query, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, Score, Searcher, Term};

use super::error::Result;
use super::library::Library;
use super::tuning::{self, RankParams};

/// Documents scored by the document-level BM25.
const DOC_CANDIDATES: usize = 100;
/// Sections scored by the section-level BM25.
const SECTION_CANDIDATES: usize = 400;

/// A document's evidence: its own score and its sections' scores, best first.
#[derive(Default)]
pub(super) struct DocEvidence {
    /// Document-level BM25 (0 when the document query did not reach it).
    pub doc_score: Score,
    /// The document's first section, which carries the document-level field.
    pub first: Option<DocAddress>,
    /// Matching sections, best first.
    pub sections: Vec<(Score, DocAddress)>,
}

/// Lexical evidence gathered for one query.
pub(super) struct Evidence {
    /// By document id.
    pub docs: HashMap<u64, DocEvidence>,
}

/// Gathers document- and section-level evidence for the parsed queries.
pub(super) fn gather(
    lib: &Library,
    searcher: &Searcher,
    doc_query: &dyn Query,
    section_query: &dyn Query,
) -> Result<Evidence> {
    let stats = DocStats::new(searcher, lib.fields.first)?;
    let top_docs = searcher.search_with_statistics_provider(
        doc_query,
        &TopDocs::with_limit(DOC_CANDIDATES).order_by_score(),
        &stats,
    )?;
    let top_sections = searcher.search(
        section_query,
        &TopDocs::with_limit(SECTION_CANDIDATES).order_by_score(),
    )?;
    let mut docs: HashMap<u64, DocEvidence> = HashMap::new();
    for (score, addr) in top_docs {
        let id = lib.columns.doc_id(searcher, addr)?;
        let entry = docs.entry(id).or_default();
        entry.doc_score = score;
        entry.first = Some(addr);
    }
    for (score, addr) in top_sections {
        let id = lib.columns.doc_id(searcher, addr)?;
        docs.entry(id).or_default().sections.push((score, addr));
    }
    Ok(Evidence { docs })
}

impl Evidence {
    /// Each document's fused lexical score, best first.
    pub fn doc_ranking(&self, params: &RankParams) -> Vec<(u64, Score)> {
        let best = |f: &dyn Fn(&DocEvidence) -> Score| {
            self.docs
                .values()
                .map(f)
                .fold(0.0f32, f32::max)
                .max(f32::MIN_POSITIVE)
        };
        let max_doc = best(&|d| d.doc_score);
        let max_section = best(&|d| d.sections.first().map_or(0.0, |s| s.0));
        let mut ranked: Vec<(u64, Score)> = self
            .docs
            .iter()
            .map(|(&id, d)| {
                let first = d.sections.first().map_or(0.0, |s| s.0);
                let second = d.sections.get(1).map_or(0.0, |s| s.0);
                let fused = params.doc_weight * d.doc_score / max_doc
                    + params.section_weight * (first + params.second_share * second) / max_section;
                (id, fused)
            })
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
    }

    /// Sections in answer order for documents in `order` (best document first, each with a
    /// score): every document's sections, the i-th scaled by `decay^i`; a document that only
    /// matched as a whole offers its first section.
    pub fn sections_for(&self, order: &[(u64, Score)], decay: f32) -> Vec<(Score, DocAddress)> {
        let mut out = Vec::new();
        for &(id, score) in order {
            let Some(d) = self.docs.get(&id) else {
                continue;
            };
            if d.sections.is_empty() {
                if let Some(first) = d.first {
                    out.push((score, first));
                }
                continue;
            }
            let mut factor = 1.0;
            for &(_, addr) in &d.sections {
                out.push((score * factor, addr));
                factor *= decay;
            }
        }
        out.sort_by(|a, b| b.0.total_cmp(&a.0));
        out
    }
}

/// The lexical ranking of sections, from the evidence [`gather`] found.
pub(super) fn lexical(evidence: Evidence) -> Vec<(Score, DocAddress)> {
    let params = tuning::params();
    let order = evidence.doc_ranking(&params);
    evidence.sections_for(&order, params.next_section_decay)
}

/// Sections for a semantic ranking of documents (`semantic`, best first), alone or fused
/// with the lexical ranking of `evidence` by reciprocal rank fusion.
pub(super) fn with_semantic(
    lib: &Library,
    searcher: &Searcher,
    mut evidence: Evidence,
    section_query: &dyn Query,
    semantic: &[(u64, f32)],
    fuse: bool,
    has_vector: &dyn Fn(u64) -> bool,
) -> Result<Vec<(Score, DocAddress)>> {
    let params = tuning::params();
    let order: Vec<(u64, Score)> = if fuse {
        let lexical = evidence.doc_ranking(&params);
        let mut fused: HashMap<u64, Score> = HashMap::new();
        for (rank, (id, _)) in lexical.iter().enumerate() {
            // A document without vectors (its repo was indexed before the model came, or its
            // embedding failed) is given its lexical rank as its semantic one, so that it
            // competes with documents that have both on even terms.
            let share = if has_vector(*id) {
                1.0
            } else {
                1.0 + params.semantic_weight
            };
            *fused.entry(*id).or_default() += share / (params.rrf_k + rank as f32 + 1.0);
        }
        for (rank, (id, _)) in semantic.iter().enumerate() {
            *fused.entry(*id).or_default() +=
                params.semantic_weight / (params.rrf_k + rank as f32 + 1.0);
        }
        let mut order: Vec<(u64, Score)> = fused.into_iter().collect();
        order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        order
    } else {
        semantic.to_vec()
    };
    let order = &order[..order.len().min(SHOWN_DOCS)];
    let missing: Vec<u64> = order
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| !evidence.docs.contains_key(id))
        .collect();
    evidence.add_sections_of(lib, searcher, section_query, &missing)?;
    Ok(evidence.sections_for(order, params.next_section_decay))
}

/// Sections looked up for a document that only the semantic ranking found.
const SECTIONS_OF_MISSING: usize = 4;

/// Documents of a fused ranking that get sections (the answer shows at most 20 hits).
const SHOWN_DOCS: usize = 40;

impl Evidence {
    /// Finds the best sections of documents that no lexical evidence reached: the sections of
    /// those documents, ranked by the section query (0 where it does not match).
    fn add_sections_of(
        &mut self,
        lib: &Library,
        searcher: &Searcher,
        section_query: &dyn Query,
        ids: &[u64],
    ) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // One query per document: in a single query over all of them, sections that the
        // question does not match all score 0, and the earliest documents of the index would
        // take every place.
        for &id in ids {
            let query = BooleanQuery::new(vec![
                (
                    Occur::Must,
                    Box::new(ConstScoreQuery::new(
                        Box::new(TermQuery::new(
                            Term::from_field_u64(lib.fields.doc_id, id),
                            IndexRecordOption::Basic,
                        )),
                        0.0,
                    )) as Box<dyn Query>,
                ),
                (Occur::Should, section_query.box_clone()),
            ]);
            let top = searcher.search(
                &query,
                &TopDocs::with_limit(SECTIONS_OF_MISSING).order_by_score(),
            )?;
            let entry = self.docs.entry(id).or_default();
            entry.sections.extend(top);
        }
        Ok(())
    }
}

/// BM25 statistics for the document-level field: it is on one index document per document,
/// so the collection is the documents, not the sections.
struct DocStats<'a> {
    searcher: &'a Searcher,
    documents: u64,
}

impl<'a> DocStats<'a> {
    fn new(searcher: &'a Searcher, first: Field) -> Result<DocStats<'a>> {
        let documents = searcher.doc_freq(&Term::from_field_text(first, "1"))?;
        Ok(DocStats {
            searcher,
            documents: documents.max(1),
        })
    }
}

impl Bm25StatisticsProvider for DocStats<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        Bm25StatisticsProvider::total_num_tokens(self.searcher, field)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.documents)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        Searcher::doc_freq(self.searcher, term)
    }
}
