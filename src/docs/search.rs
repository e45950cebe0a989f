//! Search over sections: lenient query parsing, optional repo filter, a ranker, at most
//! [`MAX_PER_DOC`] sections per document, and snippets within a total text budget.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};

use tantivy::collector::TopDocs;
use tantivy::columnar::{Column, StrColumn};
use tantivy::index::SegmentId;
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::{DocAddress, Score, Searcher, TantivyDocument, Term};

use super::embed::store::Vectors;
use super::error::{DocsError, Result};
use super::library::Library;
use super::rank;
use super::simhash;
use super::snippet::Snippets;
use super::types::{MAX_ALSO_IN, Ranker, SearchHit, SectionRef};

// Field boosts, relative to body 1.0. Title, headings and path are short fields, so BM25
// length normalisation already makes a match there strong (and the title repeats on every
// section of a document); tuned on the 60-question eval, larger boosts (e.g. 3/2/1.5) let
// incidental title words ("if let" for "let threads update a counter") drown the body
// evidence: recall@5 0.46 at 3/2/1.5 vs 0.70 at 0.3/0.3/0.1.
/// Boost of the title field.
pub const TITLE_BOOST: f32 = 0.3;
/// Boost of the headings field.
pub const HEADINGS_BOOST: f32 = 0.3;
/// Boost of the path words field.
pub const PATH_BOOST: f32 = 0.1;
/// Default number of hits.
pub const DEFAULT_LIMIT: usize = 5;
/// Most hits per answer.
pub const MAX_LIMIT: usize = 20;
/// Most sections of one document in an answer while other documents match.
pub const MAX_PER_DOC: usize = 2;
/// Upper bound on the text of all hits together (≈2,000 tokens).
pub const TEXT_BUDGET: usize = 6_800;
/// Longest snippet.
const MAX_SNIPPET: usize = 280;
/// Longest title and heading in a hit.
const MAX_TITLE: usize = 120;
const MAX_HEADING: usize = 80;

pub(super) fn search(
    lib: &Library,
    query: &str,
    repo: Option<&str>,
    limit: usize,
    ranker: Ranker,
) -> Result<Vec<SearchHit>> {
    if query.trim().is_empty() {
        return Err(DocsError::EmptyQuery);
    }
    check_query_size(query)?;
    let limit = if limit == 0 {
        DEFAULT_LIMIT
    } else {
        limit.min(MAX_LIMIT)
    };
    if let Some(name) = repo {
        lib.check_repo(name)?;
    }
    let sanitized = sanitize(query);
    if sanitized.trim().is_empty() {
        return Ok(Vec::new());
    }
    let searcher = lib.reader.searcher();
    // The old ranker is kept as it was, for comparison; the new ones match content words.
    let words = match ranker {
        Ranker::Legacy => sanitized.as_str().into(),
        _ => super::snippet::content_words(&sanitized),
    };
    let parse = |parser: &tantivy::query::QueryParser| {
        in_repo(lib, parser.parse_query_lenient(&words).0, repo)
    };
    let picked = if ranker == Ranker::Legacy {
        top_sections(&searcher, &lib.columns, parse(&lib.parser).as_ref(), limit)?
    } else {
        let (docs, sections) = (parse(&lib.doc_parser), parse(&lib.section_parser));
        let wants_semantic =
            matches!(ranker, Ranker::Semantic | Ranker::Hybrid) && lib.embedder().is_some();
        // The model embeds the question on another thread while the text index is searched:
        // the two take about the same time.
        let (semantic, evidence) = std::thread::scope(|scope| {
            let semantic =
                wants_semantic.then(|| scope.spawn(|| semantic_ranking(lib, query, repo)));
            let evidence = rank::gather(lib, &searcher, docs.as_ref(), sections.as_ref());
            let semantic = match semantic.map(|handle| handle.join()) {
                Some(Ok(found)) => found,
                Some(Err(_)) => {
                    tracing::error!("the embedding thread panicked; answering from the text index");
                    Ok(None)
                }
                None => Ok(None),
            };
            (semantic, evidence)
        });
        let (semantic, evidence) = (semantic?, evidence?);
        let ranked = match &semantic {
            Some((near, vectors)) => rank::with_semantic(
                lib,
                &searcher,
                evidence,
                sections.as_ref(),
                near,
                ranker == Ranker::Hybrid,
                &|id| vectors.entries.contains_key(&id),
            )?,
            None => rank::lexical(evidence),
        };
        let mut ids = SectionIds::new(&searcher, &lib.columns);
        fold_ranked(&mut ids, ranked, true, limit)?.unwrap_or_default()
    };
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let mut hits = Vec::with_capacity(picked.len());
    let mut bodies = Vec::with_capacity(picked.len());
    for pick in picked {
        let doc: TantivyDocument = searcher.doc(pick.addr)?;
        let text = |field| stored_str(&doc, field).to_owned();
        let mut also_in = Vec::with_capacity(pick.copies.len());
        for copy in pick.copies {
            also_in.push(lib.columns.place(&searcher, copy)?);
        }
        let place = section_ref(lib, &doc);
        hits.push(SearchHit {
            repo: place.repo,
            path: place.path,
            title: truncate(&text(lib.fields.title), MAX_TITLE),
            headings: doc
                .get_all(lib.fields.headings)
                .filter_map(|v| v.as_str())
                .map(|h| truncate(h, MAX_HEADING))
                .collect(),
            section: place.section,
            snippet: String::new(),
            score: pick.score,
            also_in,
            more_copies: pick.more_copies,
        });
        bodies.push(doc);
    }
    let meta: usize = hits.iter().map(meta_chars).sum();
    let per_hit = (TEXT_BUDGET.saturating_sub(meta) / hits.len()).min(MAX_SNIPPET);
    let mut snippets = Snippets::new(&searcher, lib.fields.sec_text, query);
    for (hit, doc) in hits.iter_mut().zip(&bodies) {
        let body = stored_str(doc, lib.fields.body);
        // The heading is in the hit already; the snippet shows the text under it.
        let text = match skip_heading_line(body) {
            rest if rest.trim().is_empty() => body,
            rest => rest,
        };
        hit.snippet = snippets.make(text, per_hit);
    }
    Ok(hits)
}

/// Document ids with their cosine similarity, best first, and the vectors they came from.
type SemanticRanking = (Vec<(u64, f32)>, Arc<Vectors>);

/// Documents semantically nearest the query, best first, with the vectors they came from;
/// `None` without a model or vectors.
fn semantic_ranking(
    lib: &Library,
    query: &str,
    repo: Option<&str>,
) -> Result<Option<SemanticRanking>> {
    let Some(embedder) = lib.embedder() else {
        return Ok(None);
    };
    let vectors = lib.vectors.current();
    if vectors.entries.is_empty() {
        return Ok(None);
    }
    let vector = match embedder.embed(&[query]) {
        Ok(mut found) if !found.is_empty() => found.swap_remove(0),
        Ok(_) => return Ok(None),
        Err(e) => {
            tracing::warn!("{e}; answering from the text index alone");
            return Ok(None);
        }
    };
    let near = vectors.nearest(&vector, repo, SEMANTIC_CANDIDATES);
    Ok(Some((near, vectors)))
}

/// Documents taken from the semantic ranking.
const SEMANTIC_CANDIDATES: usize = 100;

/// `query` restricted to `repo`, when one is given.
fn in_repo(lib: &Library, query: Box<dyn Query>, repo: Option<&str>) -> Box<dyn Query> {
    match repo {
        Some(name) => {
            let filter = TermQuery::new(
                Term::from_field_text(lib.fields.repo, name),
                IndexRecordOption::Basic,
            );
            Box::new(BooleanQuery::new(vec![
                (Occur::Must, query),
                (
                    Occur::Must,
                    Box::new(ConstScoreQuery::new(Box::new(filter), 0.0)),
                ),
            ]))
        }
        None => query,
    }
}

/// A ranked section and the copies of its text folded into it.
struct Pick {
    score: Score,
    addr: DocAddress,
    ids: SectionKey,
    copies: Vec<DocAddress>,
    more_copies: usize,
}

impl Pick {
    fn new(score: Score, addr: DocAddress, ids: SectionKey) -> Pick {
        Pick {
            score,
            addr,
            ids,
            copies: Vec::new(),
            more_copies: 0,
        }
    }

    /// Whether `other` is nearly this pick's text: the same heading and close fingerprints.
    fn is_near(&self, other: &SectionKey) -> bool {
        self.ids.heading == other.heading && simhash::near(self.ids.near, other.near)
    }

    fn fold(&mut self, copy: DocAddress) {
        if self.copies.len() < MAX_ALSO_IN {
            self.copies.push(copy);
        } else {
            self.more_copies += 1;
        }
    }
}

/// Where a section's text was first placed while ranking.
#[derive(Clone, Copy)]
enum Slot {
    Picked(usize),
    Overflow(usize),
}

/// Ranks sections, folding each section whose text already appeared higher into that hit, and
/// keeping at most [`MAX_PER_DOC`] per document unless too few documents match to fill `limit`.
fn top_sections(
    searcher: &Searcher,
    cache: &ColumnCache,
    query: &dyn Query,
    limit: usize,
) -> Result<Vec<Pick>> {
    let mut want = (limit * 5).max(50);
    loop {
        let top = searcher.search(query, &TopDocs::with_limit(want).order_by_score())?;
        let exhausted = top.len() < want || want >= 5_000;
        let mut ids = SectionIds::new(searcher, cache);
        if let Some(picked) = fold_ranked(&mut ids, top, exhausted, limit)? {
            return Ok(picked);
        }
        want *= 4;
    }
}

/// Picks hits from a ranking of sections, best first. `None` when the ranking is not
/// `exhausted` and did not fill `limit` (the caller asks for a longer one).
fn fold_ranked(
    ids: &mut SectionIds<'_>,
    top: Vec<(Score, DocAddress)>,
    exhausted: bool,
    limit: usize,
) -> Result<Option<Vec<Pick>>> {
    let mut per_doc: HashMap<u64, usize> = HashMap::new();
    let mut by_text: HashMap<u64, Slot> = HashMap::new();
    let mut picked: Vec<Pick> = Vec::new();
    // Sections over their document's cap wait here; `None` once promoted.
    let mut overflow: Vec<Option<Pick>> = Vec::new();
    for (score, addr) in top {
        let key = ids.of(addr)?;
        let (doc, text) = (key.doc, key.text);
        let doc_has_room = per_doc.get(&doc).is_none_or(|&n| n < MAX_PER_DOC);
        // The same text placed before, or else nearly the same as a hit (hits only: there
        // are at most 20, while sections waiting over their cap can run to thousands).
        let slot = by_text.get(&text).copied().or_else(|| {
            picked
                .iter()
                .position(|p| p.is_near(&key))
                .map(Slot::Picked)
        });
        match slot {
            Some(Slot::Picked(i)) => picked[i].fold(addr),
            // A copy in a document with room takes the place of a text that waited only
            // because its own document was full.
            Some(Slot::Overflow(i)) if doc_has_room && picked.len() < limit => {
                if let Some(waiting) = overflow[i].take() {
                    let mut pick = Pick::new(score, addr, key);
                    pick.fold(waiting.addr);
                    for copy in waiting.copies {
                        pick.fold(copy);
                    }
                    pick.more_copies += waiting.more_copies;
                    *per_doc.entry(doc).or_insert(0) += 1;
                    // Later copies of either text now fold into the promoted hit.
                    by_text.insert(text, Slot::Picked(picked.len()));
                    by_text.insert(waiting.ids.text, Slot::Picked(picked.len()));
                    picked.push(pick);
                }
            }
            Some(Slot::Overflow(i)) => {
                if let Some(waiting) = overflow[i].as_mut() {
                    waiting.fold(addr);
                }
            }
            // Once `limit` hits are chosen, the rest of the ranking only supplies copies.
            None if picked.len() == limit => {}
            None => {
                let seen = per_doc.entry(doc).or_insert(0);
                *seen += 1;
                if *seen <= MAX_PER_DOC {
                    by_text.insert(text, Slot::Picked(picked.len()));
                    picked.push(Pick::new(score, addr, key));
                } else {
                    by_text.insert(text, Slot::Overflow(overflow.len()));
                    overflow.push(Some(Pick::new(score, addr, key)));
                }
            }
        }
    }
    if picked.len() == limit {
        return Ok(Some(picked));
    }
    if exhausted {
        picked.extend(overflow.into_iter().flatten());
        picked.sort_by(|a, b| b.score.total_cmp(&a.score));
        picked.truncate(limit);
        return Ok(Some(picked));
    }
    Ok(None)
}

/// The fast-field columns of a segment that ranking reads.
struct SegmentColumns {
    /// Document, exact text, fingerprint and heading ids.
    ids: [Column<u64>; 4],
    repo: StrColumn,
    path: StrColumn,
    section: Column<u64>,
}

/// Columns by segment, kept across searches: opening a column costs more than reading it,
/// and segments never change once written.
#[derive(Default)]
pub(super) struct ColumnCache(Mutex<HashMap<SegmentId, Arc<SegmentColumns>>>);

impl ColumnCache {
    fn get(&self, searcher: &Searcher, segment_ord: u32) -> Result<Arc<SegmentColumns>> {
        let reader = searcher.segment_reader(segment_ord);
        let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(columns) = cache.get(&reader.segment_id()) {
            return Ok(Arc::clone(columns));
        }
        let fast = reader.fast_fields();
        let text = |name: &str| -> Result<StrColumn> {
            fast.str(name)?
                .ok_or_else(|| DocsError::Corrupt(format!("the index has no `{name}` column")))
        };
        let columns = Arc::new(SegmentColumns {
            ids: [
                fast.u64("doc_id")?,
                fast.u64("content_id")?,
                fast.u64("near_id")?,
                fast.u64("heading_id")?,
            ],
            repo: text("repo")?,
            path: text("path")?,
            section: fast.u64("section")?,
        });
        // Forget segments that merges have replaced.
        if cache.len() >= 4 * searcher.segment_readers().len().max(8) {
            let live: Vec<SegmentId> = searcher
                .segment_readers()
                .iter()
                .map(|r| r.segment_id())
                .collect();
            cache.retain(|id, _| live.contains(id));
        }
        cache.insert(reader.segment_id(), Arc::clone(&columns));
        Ok(columns)
    }

    /// The document id of a section, from its fast field.
    pub(super) fn doc_id(&self, searcher: &Searcher, addr: DocAddress) -> Result<u64> {
        let columns = self.get(searcher, addr.segment_ord)?;
        let unique = (u64::from(addr.segment_ord) << 32) | u64::from(addr.doc_id);
        Ok(columns.ids[0].first(addr.doc_id).unwrap_or(unique))
    }

    /// Where a section is, from fast fields alone (no stored document is read).
    fn place(&self, searcher: &Searcher, addr: DocAddress) -> Result<SectionRef> {
        let columns = self.get(searcher, addr.segment_ord)?;
        let text = |column: &StrColumn| -> Result<String> {
            let mut out = String::new();
            if let Some(ord) = column.term_ords(addr.doc_id).next() {
                column
                    .ord_to_str(ord, &mut out)
                    .map_err(|e| DocsError::Corrupt(format!("reading a column: {e}")))?;
            }
            Ok(out)
        };
        Ok(SectionRef {
            repo: text(&columns.repo)?,
            path: text(&columns.path)?,
            section: columns
                .section
                .first(addr.doc_id)
                .and_then(|s| usize::try_from(s).ok())
                .unwrap_or(0),
        })
    }
}

/// Reads the ids of sections from their segments' fast fields.
struct SectionIds<'a> {
    searcher: &'a Searcher,
    cache: &'a ColumnCache,
    columns: HashMap<u32, Arc<SegmentColumns>>,
}

impl<'a> SectionIds<'a> {
    fn new(searcher: &'a Searcher, cache: &'a ColumnCache) -> SectionIds<'a> {
        SectionIds {
            searcher,
            cache,
            columns: HashMap::new(),
        }
    }

    /// The ids of a section. A section without ids gets ones of its own.
    fn of(&mut self, addr: DocAddress) -> Result<SectionKey> {
        let columns = match self.columns.entry(addr.segment_ord) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(self.cache.get(self.searcher, addr.segment_ord)?),
        };
        let unique = (u64::from(addr.segment_ord) << 32) | u64::from(addr.doc_id);
        let [doc, text, near, heading] = columns
            .ids
            .each_ref()
            .map(|c| c.first(addr.doc_id).unwrap_or(unique));
        Ok(SectionKey {
            doc,
            text,
            near: if near == unique { 0 } else { near },
            heading,
        })
    }
}

/// What ranking needs to know of a section besides its score.
#[derive(Clone, Copy)]
struct SectionKey {
    /// The document's id.
    doc: u64,
    /// The id of its exact text.
    text: u64,
    /// Its SimHash fingerprint (0: near nothing).
    near: u64,
    /// The id of its heading.
    heading: u64,
}

/// Longest query, in characters: a question, or a pasted error message, fits well within it.
pub const MAX_QUERY_CHARS: usize = 2_000;
/// Most words in a query: each one is a term looked up and scored in every segment, so a query
/// of 100,000 words cost seconds and hundreds of megabytes.
pub const MAX_QUERY_WORDS: usize = 64;

/// Refuses queries past [`MAX_QUERY_CHARS`] or [`MAX_QUERY_WORDS`], counting no further than
/// needed to decide.
fn check_query_size(query: &str) -> Result<()> {
    let too_long = query.chars().nth(MAX_QUERY_CHARS).is_some()
        || query.split_whitespace().nth(MAX_QUERY_WORDS).is_some();
    if too_long {
        return Err(DocsError::QueryTooLong {
            words: query.split_whitespace().count(),
            chars: query.chars().count(),
            max_words: MAX_QUERY_WORDS,
            max_chars: MAX_QUERY_CHARS,
        });
    }
    Ok(())
}

/// Neutralises query syntax that natural-language and code queries trigger by accident:
/// `field:` prefixes (`tokio::spawn`), leading `-`/`+` (CLI flags such as `--release`),
/// wildcards, boosts, ranges and grouping. Quoted phrases and AND/OR/NOT stay.
fn sanitize(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    for word in query.split_whitespace() {
        let word = word.trim_start_matches(['-', '+', '!']);
        let cleaned: String = word
            .chars()
            .map(|c| match c {
                ':' | '*' | '^' | '~' | '(' | ')' | '[' | ']' | '{' | '}' | '\\' | '\'' | '`'
                | '/' => ' ',
                other => other,
            })
            .collect();
        if !cleaned.trim().is_empty() {
            out.push_str(&cleaned);
            out.push(' ');
        }
    }
    out
}

fn stored_str(doc: &TantivyDocument, field: Field) -> &str {
    doc.get_first(field).and_then(|v| v.as_str()).unwrap_or("")
}

fn section_ref(lib: &Library, doc: &TantivyDocument) -> SectionRef {
    SectionRef {
        repo: stored_str(doc, lib.fields.repo).to_owned(),
        path: stored_str(doc, lib.fields.path).to_owned(),
        section: doc
            .get_first(lib.fields.section)
            .and_then(|v| v.as_u64())
            .and_then(|s| usize::try_from(s).ok())
            .unwrap_or(0),
    }
}

fn meta_chars(hit: &SearchHit) -> usize {
    hit.repo.chars().count()
        + hit.path.chars().count()
        + hit.title.chars().count()
        + hit
            .headings
            .iter()
            .map(|h| h.chars().count())
            .sum::<usize>()
        + also_in_chars(hit)
}

/// An upper bound on the "Also in (same or nearly the same text): a/b (section 3), ... and 4
/// more" line.
fn also_in_chars(hit: &SearchHit) -> usize {
    if hit.also_in.is_empty() {
        return 0;
    }
    let places: usize = hit
        .also_in
        .iter()
        .map(|c| c.repo.chars().count() + c.path.chars().count() + " / (section 99999), ".len())
        .sum();
    "   Also in (same or nearly the same text): ".len() + places + " and 99999 more\n".len()
}

fn skip_heading_line(body: &str) -> &str {
    let trimmed = body.trim_start();
    if trimmed.starts_with('#') {
        trimmed.split_once('\n').map_or("", |(_, rest)| rest)
    } else {
        trimmed
    }
}

/// Cuts `s` to at most `max` chars, ending with `…` when cut.
pub(super) fn truncate(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max {
        return s.to_string();
    }
    let keep: String = s.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", keep.trim_end())
}
