//! The weights of the ranker, in one place. The defaults were tuned on `eval/questions.json`
//! only (see docs/search-quality.md); `examples/eval.rs` can override them process-wide to
//! explore.

use std::sync::RwLock;

/// Weights of the BM25F-style fields and of the document/section fusion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankParams {
    /// Times the title is repeated in the combined fields.
    pub title_repeat: usize,
    /// Times each heading is repeated.
    pub headings_repeat: usize,
    /// Times the path words are repeated.
    pub path_repeat: usize,
    /// Weight of the document-level BM25 (normalised by the best document's score).
    pub doc_weight: f32,
    /// Weight of the best section's BM25 (normalised by the best section's score).
    pub section_weight: f32,
    /// Share of the document's second-best section added to its best.
    pub second_share: f32,
    /// Score factor of each further section of the same document (0..1).
    pub next_section_decay: f32,
    /// The constant of reciprocal rank fusion: 1 / (k + rank).
    pub rrf_k: f32,
    /// Weight of the semantic ranking in the fusion (the lexical one has 1).
    pub semantic_weight: f32,
}

impl Default for RankParams {
    fn default() -> Self {
        RankParams {
            title_repeat: 4,
            headings_repeat: 2,
            path_repeat: 2,
            doc_weight: 1.0,
            section_weight: 1.0,
            second_share: 0.5,
            next_section_decay: 0.6,
            rrf_k: 20.0,
            semantic_weight: 0.6,
        }
    }
}

static PARAMS: RwLock<Option<RankParams>> = RwLock::new(None);

/// The weights in force.
pub fn params() -> RankParams {
    PARAMS
        .read()
        .map(|p| p.unwrap_or_default())
        .unwrap_or_default()
}

/// Replaces the weights for the whole process (for the eval's exploration only; index-time
/// weights apply to documents indexed afterwards).
pub fn set_params(params: RankParams) {
    if let Ok(mut slot) = PARAMS.write() {
        *slot = Some(params);
    }
}
