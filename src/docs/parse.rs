//! Turns one file's text into a title and an ordered list of sections that, concatenated,
//! reproduce the text after front matter exactly.

use std::ops::Range;

use super::{frontmatter, markdown, plaintext};

/// Sections longer than this (bytes) are split further at top-level block boundaries.
pub const MAX_SECTION_BYTES: usize = 8 * 1024;

/// Most sections indexed for one document. A file with more (a 5 MiB file of one-line
/// headings has hundreds of thousands) is indexed with neighbouring sections joined.
pub const MAX_SECTIONS: usize = 10_000;

/// A top-level block start found by a format scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Byte offset of the start of the block's first line.
    pub start: usize,
    /// Set when the block is a heading.
    pub heading: Option<Heading>,
}

/// A heading with its level (1 = top) and plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    /// Heading level, 1 for the top level.
    pub level: u8,
    /// The heading's text without markup.
    pub text: String,
}

/// One section: the heading trail that applies to it and its byte range in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionSpan {
    /// Headings from the outermost to the section's own, e.g. `["Config", "Profiles"]`.
    pub headings: Vec<String>,
    /// Byte range of the section's raw text in [`ParsedDoc::body`].
    pub range: Range<usize>,
}

/// A parsed document.
#[derive(Debug, Clone)]
pub struct ParsedDoc {
    /// Front-matter title, else the first top-level heading, else the file stem.
    pub title: String,
    /// The text after front matter.
    pub body: String,
    /// Contiguous sections covering all of `body` (at least one, possibly empty).
    pub sections: Vec<SectionSpan>,
}

impl ParsedDoc {
    /// The raw text of section `i`.
    pub fn section_text(&self, i: usize) -> &str {
        self.sections
            .get(i)
            .and_then(|s| self.body.get(s.range.clone()))
            .unwrap_or("")
    }
}

impl ParsedDoc {
    /// Joins neighbouring sections (each group keeps its first heading trail) so that at most
    /// [`MAX_SECTIONS`] remain; returns how many there were when it had to.
    pub fn cap_sections(&mut self) -> Option<usize> {
        let count = self.sections.len();
        if count <= MAX_SECTIONS {
            return None;
        }
        let group = count.div_ceil(MAX_SECTIONS);
        self.sections = self
            .sections
            .chunks(group)
            .map(|chunk| SectionSpan {
                headings: chunk[0].headings.clone(),
                range: chunk[0].range.start..chunk[chunk.len() - 1].range.end,
            })
            .collect();
        Some(count)
    }
}

/// How a file's text is interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Markdown or MDX.
    Markdown,
    /// reStructuredText.
    Rst,
    /// Anything else we index (txt, README.*).
    Plain,
}

/// The format of an indexable file name, or None if the file is not documentation.
pub fn format_of(file_name: &str) -> Option<Format> {
    let lower = file_name.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map(|(_, e)| e);
    match ext {
        Some("md" | "mdx" | "markdown") => Some(Format::Markdown),
        Some("rst") => Some(Format::Rst),
        Some("txt") => Some(Format::Plain),
        _ if lower == "readme" || lower.starts_with("readme.") => Some(Format::Plain),
        _ => None,
    }
}

/// Parses `raw` (the file's content) as the format of `file_name`.
pub fn parse_document(file_name: &str, raw: &str) -> ParsedDoc {
    let format = format_of(file_name).unwrap_or(Format::Plain);
    let fm = frontmatter::strip(raw);
    let body = fm.body;
    let blocks = match format {
        Format::Markdown => markdown::blocks(body),
        Format::Rst => plaintext::rst_blocks(body),
        Format::Plain => plaintext::text_blocks(body),
    };
    let first_top = blocks
        .iter()
        .filter_map(|b| b.heading.as_ref())
        .find(|h| h.level == 1 || format == Format::Rst)
        .map(|h| h.text.clone())
        .filter(|t| !t.is_empty());
    let title = fm
        .title
        .or(first_top)
        .unwrap_or_else(|| file_stem(file_name).to_string());
    let sections = build_sections(body, &blocks);
    ParsedDoc {
        title,
        body: body.to_string(),
        sections,
    }
}

fn file_stem(file_name: &str) -> &str {
    match file_name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => file_name,
    }
}

/// Offset of the start of the line containing `pos`.
pub fn line_start(text: &str, pos: usize) -> usize {
    let pos = pos.min(text.len());
    text.as_bytes()[..pos]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1)
}

fn build_sections(body: &str, blocks: &[Block]) -> Vec<SectionSpan> {
    // Sections start at headings; text before the first heading is its own section
    // unless it is only whitespace, in which case it joins the first one.
    let mut starts: Vec<(usize, Vec<String>)> = Vec::new();
    let mut trail: Vec<(u8, String)> = Vec::new();
    for block in blocks {
        let Some(h) = &block.heading else { continue };
        while trail.last().is_some_and(|(level, _)| *level >= h.level) {
            trail.pop();
        }
        trail.push((h.level, h.text.clone()));
        let names = trail
            .iter()
            .map(|(_, t)| t.clone())
            .filter(|t| !t.is_empty())
            .collect();
        starts.push((block.start, names));
    }
    match starts.first_mut() {
        Some(first) if body[..first.0].trim().is_empty() => first.0 = 0,
        Some(_) => starts.insert(0, (0, Vec::new())),
        None => starts.push((0, Vec::new())),
    }
    let block_starts: Vec<usize> = blocks.iter().map(|b| b.start).collect();
    let mut out = Vec::new();
    for (i, (start, headings)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(body.len(), |s| s.0);
        for range in split_long(*start..end, &block_starts) {
            out.push(SectionSpan {
                headings: headings.clone(),
                range,
            });
        }
    }
    out
}

/// Splits `range` into pieces of at most [`MAX_SECTION_BYTES`] where possible, cutting
/// only at block starts (a single larger block stays whole).
fn split_long(range: Range<usize>, block_starts: &[usize]) -> Vec<Range<usize>> {
    if range.len() <= MAX_SECTION_BYTES {
        return vec![range];
    }
    let mut out = Vec::new();
    let mut chunk = range.start;
    let mut last_ok = range.start;
    let candidates = block_starts
        .iter()
        .copied()
        .filter(|&p| p > range.start && p < range.end)
        .chain(std::iter::once(range.end));
    for p in candidates {
        if p - chunk > MAX_SECTION_BYTES && last_ok > chunk {
            out.push(chunk..last_ok);
            chunk = last_ok;
        }
        last_ok = p;
    }
    out.push(chunk..range.end);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(doc: &ParsedDoc) -> String {
        (0..doc.sections.len())
            .map(|i| doc.section_text(i))
            .collect()
    }

    #[test]
    fn formats() {
        assert_eq!(format_of("a.MD"), Some(Format::Markdown));
        assert_eq!(format_of("x.mdx"), Some(Format::Markdown));
        assert_eq!(format_of("README"), Some(Format::Plain));
        assert_eq!(format_of("README.adoc"), Some(Format::Plain));
        assert_eq!(format_of("Readme.md"), Some(Format::Markdown));
        assert_eq!(format_of("guide.rst"), Some(Format::Rst));
        assert_eq!(format_of("main.rs"), None);
        assert_eq!(format_of("notes.txt"), Some(Format::Plain));
    }

    #[test]
    fn heading_split_and_trails() {
        let raw = "---\ntitle: \"Cargo: profiles\"\n---\n\nIntro text.\n\n# Configuration\n\nabout\n\n```toml\n# not a heading\n[profile.release]\n```\n\n## Profiles\n\np\n\n### opt-level\n\nlevels\n\n## Other\n\no\n";
        let doc = parse_document("profiles.md", raw);
        assert_eq!(doc.title, "Cargo: profiles");
        let trails: Vec<Vec<String>> = doc.sections.iter().map(|s| s.headings.clone()).collect();
        assert_eq!(
            trails,
            vec![
                vec![],
                vec!["Configuration".to_string()],
                vec!["Configuration".to_string(), "Profiles".to_string()],
                vec![
                    "Configuration".to_string(),
                    "Profiles".to_string(),
                    "opt-level".to_string()
                ],
                vec!["Configuration".to_string(), "Other".to_string()],
            ]
        );
        assert!(doc.section_text(1).contains("# not a heading"));
        assert!(doc.section_text(1).starts_with("# Configuration"));
        let body_start = raw.find("\nIntro").unwrap_or(0);
        assert_eq!(joined(&doc), &raw[body_start..]);
    }

    #[test]
    fn title_fallbacks() {
        assert_eq!(
            parse_document("a.md", "text\n\n# First H1\n").title,
            "First H1"
        );
        assert_eq!(
            parse_document("dir-notes.md", "## only h2\n").title,
            "dir-notes"
        );
        assert_eq!(
            parse_document("x.toml.md", "+++\ntitle = 'T'\n+++\n# H\n").title,
            "T"
        );
        let doc = parse_document("empty.txt", "");
        assert_eq!(doc.title, "empty");
        assert_eq!(doc.sections.len(), 1);
    }

    #[test]
    fn whitespace_preamble_joins_first_section() {
        let doc = parse_document("a.md", "\n\n# A\ntext\n# B\n");
        assert_eq!(doc.sections.len(), 2);
        assert_eq!(doc.sections[0].range.start, 0);
        assert_eq!(doc.sections[0].headings, vec!["A".to_string()]);
    }

    #[test]
    fn long_section_split_keeps_fences_whole() {
        let mut raw = String::from("# Big\n\n");
        let fence = format!("```text\n{}```\n\n", "# inside fence line\n".repeat(300));
        for i in 0..40 {
            raw.push_str(&format!("Paragraph {i} {}\n\n", "word ".repeat(40)));
            if i == 20 {
                raw.push_str(&fence);
            }
        }
        let doc = parse_document("big.md", &raw);
        assert!(doc.sections.len() > 2, "{} sections", doc.sections.len());
        for (i, s) in doc.sections.iter().enumerate() {
            assert_eq!(s.headings, vec!["Big".to_string()]);
            let text = doc.section_text(i);
            assert_eq!(
                text.matches("```").count() % 2,
                0,
                "fence cut in section {i}"
            );
            if !text.contains("```") {
                assert!(text.len() <= MAX_SECTION_BYTES);
            }
        }
        assert_eq!(joined(&doc), raw);
    }

    #[test]
    fn plain_long_text_splits_at_blank_lines() {
        let raw = "line of plain text\n\n".repeat(1000);
        let doc = parse_document("notes.txt", &raw);
        assert!(doc.sections.len() >= 2);
        assert!(
            doc.sections
                .iter()
                .all(|s| s.range.len() <= MAX_SECTION_BYTES)
        );
        assert_eq!(joined(&doc), raw);
    }

    #[test]
    fn rst_sections() {
        let raw = "Title\n=====\n\nintro\n\nPart\n----\n\nbody\n";
        let doc = parse_document("x.rst", raw);
        assert_eq!(doc.title, "Title");
        assert_eq!(doc.sections.len(), 2);
        assert_eq!(
            doc.sections[1].headings,
            vec!["Title".to_string(), "Part".to_string()]
        );
        assert_eq!(joined(&doc), raw);
    }

    #[test]
    fn too_many_sections_are_joined_and_still_reproduce_the_text() {
        let mut raw = String::from("# Huge\n\n");
        for i in 0..(MAX_SECTIONS * 2 + 5) {
            raw.push_str(&format!("## s{i}\n\nw{i}\n\n"));
        }
        let mut doc = parse_document("huge.md", &raw);
        assert_eq!(doc.cap_sections(), Some(MAX_SECTIONS * 2 + 6));
        assert!(doc.sections.len() <= MAX_SECTIONS);
        let whole: String = (0..doc.sections.len())
            .map(|i| doc.section_text(i))
            .collect();
        assert_eq!(whole, raw);
        assert_eq!(doc.sections[1].headings, ["Huge", "s2"]);
        assert_eq!(doc.cap_sections(), None);
    }
}
