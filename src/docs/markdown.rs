//! Markdown (and MDX) block scanning with pulldown-cmark: finds top-level block starts
//! and headings, so a `#` inside a fenced code block never counts as a heading and
//! code blocks, tables and lists are never cut.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::parse::{Block, Heading, line_start};

/// Scans `body` and returns its top-level blocks in order (headings marked).
pub fn blocks(body: &str) -> Vec<Block> {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_MATH
        | Options::ENABLE_DEFINITION_LIST;
    let mut out: Vec<Block> = Vec::new();
    let mut depth = 0usize;
    // (level, text collected so far) while inside a top-level heading.
    let mut heading: Option<(u8, String)> = None;
    for (event, range) in Parser::new_ext(body, options).into_offset_iter() {
        match event {
            Event::Start(tag) => {
                if depth == 0 {
                    let start = line_start(body, range.start);
                    if out.last().is_none_or(|b| b.start < start) {
                        out.push(Block {
                            start,
                            heading: None,
                        });
                    }
                    if let Tag::Heading { level, .. } = tag {
                        heading = Some((level as u8, String::new()));
                    }
                }
                depth += 1;
            }
            Event::End(end) => {
                depth = depth.saturating_sub(1);
                if depth == 0
                    && matches!(end, TagEnd::Heading(_))
                    && let Some((level, text)) = heading.take()
                    && let Some(last) = out.last_mut()
                {
                    last.heading = Some(Heading {
                        level,
                        text: collapse_whitespace(&text),
                    });
                }
            }
            Event::Text(t) | Event::Code(t) | Event::InlineMath(t) => {
                if let Some((_, text)) = heading.as_mut() {
                    text.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some((_, text)) = heading.as_mut() {
                    text.push(' ');
                }
            }
            Event::Rule if depth == 0 => {
                let start = line_start(body, range.start);
                if out.last().is_none_or(|b| b.start < start) {
                    out.push(Block {
                        start,
                        heading: None,
                    });
                }
            }
            _ => {}
        }
    }
    out
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headings(body: &str) -> Vec<(u8, String)> {
        blocks(body)
            .into_iter()
            .filter_map(|b| b.heading.map(|h| (h.level, h.text)))
            .collect()
    }

    #[test]
    fn fenced_hash_is_not_a_heading() {
        let body = "# Real\n\n```sh\n# not a heading\necho hi\n```\n\n## Also `real`\ntext\n";
        assert_eq!(
            headings(body),
            vec![(1, "Real".to_string()), (2, "Also real".to_string())]
        );
    }

    #[test]
    fn nested_headings_do_not_count() {
        let body = "> # quoted\n\n- item\n\n  # in list\n\nSetext\n======\n";
        assert_eq!(headings(body), vec![(1, "Setext".to_string())]);
    }

    #[test]
    fn block_starts_are_line_starts() {
        let body = "para one\n\n   # Indented heading {#id}\n\n| a | b |\n|---|---|\n| 1 | 2 |\n";
        let b = blocks(body);
        let starts: Vec<usize> = b.iter().map(|b| b.start).collect();
        assert_eq!(starts, vec![0, 10, 39]);
        assert_eq!(
            b[1].heading.as_ref().map(|h| h.text.as_str()),
            Some("Indented heading")
        );
    }
}
