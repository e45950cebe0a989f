//! Snippets: the sentence of a section that best answers the query, as plain text, with the
//! query's content words marked `**so**` (never stop words, never table pipes or code fences).

use std::collections::HashMap;

use tantivy::schema::Field;
use tantivy::tokenizer::{LowerCaser, SimpleTokenizer, TextAnalyzer};
use tantivy::{Searcher, Term};

use super::schema;

/// Words that carry no meaning of their own in questions: never marked, never chosen for.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "but", "by", "can", "could", "did", "do", "does", "doing", "done", "for", "from",
    "get", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "make", "me",
    "my", "no", "not", "of", "on", "one", "or", "our", "should", "so", "some", "such", "than",
    "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "to", "us",
    "was", "we", "were", "what", "when", "where", "which", "while", "who", "why", "will", "with",
    "would", "you", "your",
];

/// The words that frame a question ("how do I", "what is the") and say nothing of its topic.
/// In docs written in another voice they are rare, so BM25 weights them highly and a page that
/// happens to quote a question wins. Negations, "why", "when" and the like carry meaning and
/// stay.
const QUESTION_WORDS: &[&str] = &[
    "a", "an", "are", "can", "could", "did", "do", "does", "how", "i", "is", "me", "my", "should",
    "the", "what", "which", "would",
];

/// `query` without its [`QUESTION_WORDS`]. Kept whole when it has a quoted phrase or nothing
/// but such words.
pub(super) fn content_words(query: &str) -> std::borrow::Cow<'_, str> {
    if query.contains('"') {
        return query.into();
    }
    let kept: Vec<&str> = query
        .split_whitespace()
        .filter(|w| !QUESTION_WORDS.contains(&w.to_lowercase().as_str()))
        .collect();
    if kept.is_empty() {
        query.into()
    } else {
        kept.join(" ").into()
    }
}

/// Bytes of a section looked at for a snippet: sections are at most 8 KiB, split at blocks.
const MAX_SCAN: usize = 16 * 1024;

/// Makes snippets for one query.
pub(super) struct Snippets {
    /// The query's content stems and their weights (inverse document frequency).
    stems: HashMap<String, f32>,
    analyzer: TextAnalyzer,
}

impl Snippets {
    /// Prepares for `query`, weighting its words by how rare they are in `field`.
    pub fn new(searcher: &Searcher, field: Field, query: &str) -> Snippets {
        let mut analyzer = schema::analyzer();
        let mut words = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .build();
        let total = searcher.num_docs().max(1) as f32;
        let mut stems = HashMap::new();
        let mut stream = words.token_stream(query);
        while let Some(token) = stream.next() {
            if STOP_WORDS.contains(&token.text.as_str()) {
                continue;
            }
            let mut stemmed = analyzer.token_stream(&token.text);
            while let Some(stem) = stemmed.next() {
                let df = searcher
                    .doc_freq(&Term::from_field_text(field, &stem.text))
                    .unwrap_or(0) as f32;
                let idf = (1.0 + (total - df + 0.5) / (df + 0.5)).ln();
                stems.insert(stem.text.clone(), idf.max(0.01));
            }
        }
        Snippets { stems, analyzer }
    }

    /// The snippet of `body`, at most `max` chars.
    pub fn make(&mut self, body: &str, max: usize) -> String {
        let end = floor_boundary(body, body.len().min(MAX_SCAN));
        let sentences = sentences(&plain(&body[..end]));
        let best = sentences
            .iter()
            .enumerate()
            .map(|(i, s)| (i, self.weight(s)))
            .fold(
                (0, 0.0f32),
                |best, cur| if cur.1 > best.1 { cur } else { best },
            );
        let mut text = String::new();
        for sentence in sentences.iter().skip(best.0) {
            if !text.is_empty() && text.chars().count() + sentence.chars().count() > max {
                break;
            }
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(sentence);
        }
        let text = self.window(&text, max);
        super::search::truncate(&self.mark(&text), max)
    }

    /// The sum of the weights of the distinct query stems in `sentence`.
    fn weight(&mut self, sentence: &str) -> f32 {
        let mut seen: Vec<&str> = Vec::new();
        let mut total = 0.0;
        let mut stream = self.analyzer.token_stream(sentence);
        while let Some(token) = stream.next() {
            if let Some((stem, w)) = self.stems.get_key_value(token.text.as_str())
                && !seen.contains(&stem.as_str())
            {
                seen.push(stem);
                total += w;
            }
        }
        total
    }

    /// Cuts a text longer than `max` so that its first match shows.
    fn window(&mut self, text: &str, max: usize) -> String {
        // Room for the markers.
        let room = max.saturating_sub(max / 5);
        if text.chars().count() <= room {
            return text.to_owned();
        }
        let first = self.matches(text).first().map_or(0, |r| r.0);
        let lead = text[..first].chars().count();
        let skip = lead.saturating_sub(room / 4);
        let cut: String = text.chars().skip(skip).take(room).collect();
        if skip > 0 { format!("…{cut}") } else { cut }
    }

    /// Byte ranges of the query's content words in `text`.
    fn matches(&mut self, text: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut stream = self.analyzer.token_stream(text);
        while let Some(token) = stream.next() {
            if self.stems.contains_key(&token.text) {
                out.push((token.offset_from, token.offset_to));
            }
        }
        out
    }

    fn mark(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 16);
        let mut at = 0;
        for (from, to) in self.matches(text) {
            let (Some(before), Some(word)) = (text.get(at..from), text.get(from..to)) else {
                continue;
            };
            out.push_str(before);
            out.push_str("**");
            out.push_str(word);
            out.push_str("**");
            at = to;
        }
        out.push_str(text.get(at..).unwrap_or(""));
        out
    }
}

/// Markdown turned into paragraphs of plain text, one per line: table rows become their cells
/// joined by ` · `, separator rows, fences and heading markers go, emphasis markers go.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut paragraph = false;
    for line in text.lines() {
        let t = line.trim();
        let is_rule = !t.is_empty() && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ' | '='));
        if t.is_empty() || is_rule || t.starts_with("```") || t.starts_with("~~~") {
            if paragraph {
                out.push('\n');
                paragraph = false;
            }
            continue;
        }
        let starts_block = t.starts_with('#')
            || t.starts_with('|')
            || t.starts_with("- ")
            || t.starts_with("* ")
            || t.starts_with('>')
            || t.split_once(". ")
                .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()));
        if starts_block && paragraph {
            out.push('\n');
        }
        let content = if t.starts_with('|') {
            t.trim_matches('|')
                .split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
                .join(" · ")
        } else {
            t.trim_start_matches(['#', '>', ' ']).to_owned()
        };
        if paragraph {
            out.push(' ');
        }
        out.push_str(&content.replace("**", "").replace("__", ""));
        paragraph = true;
        if t.starts_with('#') || t.starts_with('|') {
            out.push('\n');
            paragraph = false;
        }
    }
    out
}

/// Sentences of plain text: paragraphs split after `.`, `?` or `!` followed by a space.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for paragraph in text.lines() {
        let mut start = 0;
        let bytes = paragraph.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let ends = matches!(b, b'.' | b'?' | b'!')
                && bytes.get(i + 1) == Some(&b' ')
                && bytes.get(i + 2).is_some_and(|c| c.is_ascii_uppercase());
            if ends {
                push_sentence(&mut out, &paragraph[start..=i]);
                start = i + 1;
            }
        }
        push_sentence(&mut out, &paragraph[start..]);
    }
    out
}

fn push_sentence(out: &mut Vec<String>, s: &str) {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if !s.is_empty() {
        out.push(s);
    }
}

fn floor_boundary(s: &str, mut at: usize) -> usize {
    while at > 0 && !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_lose_their_pipes_and_separator_rows() {
        let text = "| Flag | Meaning |\n|---|---|\n| `-v` | verbose output |\n";
        let p = plain(text);
        assert!(!p.contains('|'), "{p}");
        assert!(p.contains("`-v` · verbose output"), "{p}");
    }

    #[test]
    fn question_framing_words_leave_the_query_and_the_rest_stays() {
        assert_eq!(
            content_words("How do I revoke an API key"),
            "revoke API key"
        );
        assert_eq!(content_words("why is it not running"), "why it not running");
        // Nothing but framing words, or a phrase: the query as given.
        assert_eq!(content_words("what is the"), "what is the");
        assert_eq!(content_words("\"how do I\" page"), "\"how do I\" page");
    }

    #[test]
    fn paragraphs_split_into_sentences() {
        let s = sentences("First one here. Second one? yes. Third!\nNext paragraph");
        assert_eq!(
            s,
            [
                "First one here.",
                "Second one? yes.",
                "Third!",
                "Next paragraph"
            ]
        );
    }
}
