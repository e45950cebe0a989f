//! Block scanning for plain text and reStructuredText: paragraphs (a non-indented line
//! after a blank line) and, for rst, underlined (optionally overlined) section titles.

use super::parse::{Block, Heading};

/// Scans plain text: every paragraph start is a block; there are no headings.
pub fn text_blocks(body: &str) -> Vec<Block> {
    scan(body, false)
}

/// Scans reStructuredText: paragraphs plus underlined titles as headings. Heading levels
/// follow the order in which adornment styles first appear, as rst defines them.
pub fn rst_blocks(body: &str) -> Vec<Block> {
    scan(body, true)
}

fn scan(body: &str, rst: bool) -> Vec<Block> {
    let lines = split_lines(body);
    let mut styles: Vec<(char, bool)> = Vec::new();
    let mut out: Vec<Block> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (start, line) = lines[i];
        let after_blank = i == 0 || lines[i - 1].1.trim().is_empty();
        if rst && let Some((style, consumed)) = rst_title(&lines, i) {
            let level = match styles.iter().position(|s| *s == style) {
                Some(p) => p + 1,
                None => {
                    styles.push(style);
                    styles.len()
                }
            };
            let title_line = if style.1 { lines[i + 1].1 } else { line };
            out.push(Block {
                start,
                heading: Some(Heading {
                    level: u8::try_from(level).unwrap_or(u8::MAX),
                    text: title_line.trim().to_string(),
                }),
            });
            i += consumed;
            continue;
        }
        let indented = line.starts_with(' ') || line.starts_with('\t');
        if after_blank && !line.trim().is_empty() && (!indented || !rst) {
            out.push(Block {
                start,
                heading: None,
            });
        }
        i += 1;
    }
    out
}

/// If a title starts at line `i`, returns its style (adornment char, has overline) and
/// the number of lines it spans.
fn rst_title(lines: &[(usize, &str)], i: usize) -> Option<((char, bool), usize)> {
    let after_blank = i == 0 || lines[i - 1].1.trim().is_empty();
    if !after_blank {
        return None;
    }
    let line = lines[i].1;
    // Overline, title, underline.
    if let Some(c) = adornment(line)
        && let (Some(title), Some(under)) = (lines.get(i + 1), lines.get(i + 2))
        && adornment(under.1) == Some(c)
        && !title.1.trim().is_empty()
        && adornment(title.1).is_none()
        && under.1.trim_end().chars().count() >= title.1.trim().chars().count()
    {
        return Some(((c, true), 3));
    }
    // Title, underline.
    if line.trim().is_empty() || line.starts_with(' ') || line.starts_with('\t') {
        return None;
    }
    if adornment(line).is_some() {
        return None;
    }
    let under = lines.get(i + 1)?.1;
    let c = adornment(under)?;
    (under.trim_end().chars().count() >= line.trim_end().chars().count()).then_some(((c, false), 2))
}

/// A line made of one repeated punctuation character, at least 3 long.
fn adornment(line: &str) -> Option<char> {
    let line = line.trim_end();
    let first = line.chars().next()?;
    let valid = "=-~^\"'`:#*+_<>.!$%&(),/;?@[\\]{|}";
    (line.chars().count() >= 3 && valid.contains(first) && line.chars().all(|c| c == first))
        .then_some(first)
}

/// Lines with the byte offset where each starts (line breaks excluded from the text).
fn split_lines(body: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut pos = 0;
    for line in body.split_inclusive('\n') {
        let text = line.trim_end_matches(['\n', '\r']);
        out.push((pos, text));
        pos += line.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rst_titles_and_levels() {
        let body = "=====\nTop\n=====\n\nIntro.\n\nFirst\n-----\n\nText::\n\n    Literal\n    -------\n\nSecond\n------\n";
        let heads: Vec<(u8, String)> = rst_blocks(body)
            .into_iter()
            .filter_map(|b| b.heading.map(|h| (h.level, h.text)))
            .collect();
        assert_eq!(
            heads,
            vec![
                (1, "Top".to_string()),
                (2, "First".to_string()),
                (2, "Second".to_string())
            ]
        );
    }

    #[test]
    fn text_paragraphs() {
        let body = "one\ntwo\n\nthree\n\n\nfour";
        let starts: Vec<usize> = text_blocks(body).iter().map(|b| b.start).collect();
        assert_eq!(starts, vec![0, 9, 17]);
    }
}
