//! Front matter: strips a YAML (`---`) or TOML (`+++`) block at the very start of a
//! document and reads its `title`, with a small line parser (no YAML crate).

/// A document split into its front-matter title (if any) and the body after the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontMatter<'a> {
    /// The `title` value, unquoted, if the front matter has a non-empty one.
    pub title: Option<String>,
    /// The text after the front matter (the whole text when there is none).
    pub body: &'a str,
}

/// Splits off front matter at the very start of `text` (after an optional BOM).
pub fn strip(text: &str) -> FrontMatter<'_> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let none = FrontMatter {
        title: None,
        body: text,
    };
    let mut lines = Lines::new(text);
    let Some((_, first)) = lines.next() else {
        return none;
    };
    let kind = match first.trim_end() {
        "---" => Kind::Yaml,
        "+++" => Kind::Toml,
        _ => return none,
    };
    let mut block = Vec::new();
    for (end, line) in lines {
        let trimmed = line.trim_end();
        let closes = match kind {
            Kind::Yaml => trimmed == "---" || trimmed == "...",
            Kind::Toml => trimmed == "+++",
        };
        if closes {
            if kind == Kind::Yaml && !looks_like_yaml(&block) {
                return none;
            }
            let title = match kind {
                Kind::Yaml => yaml_title(&block),
                Kind::Toml => toml_title(&block),
            };
            return FrontMatter {
                title: title.filter(|t| !t.is_empty()),
                body: &text[end..],
            };
        }
        block.push(line);
    }
    none
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Yaml,
    Toml,
}

/// Iterates lines (without the line break), yielding the byte offset just past each line's break.
struct Lines<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines { text, pos: 0 }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.pos..];
        let (line, advance) = match rest.find('\n') {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        self.pos += advance;
        Some((self.pos, line.strip_suffix('\r').unwrap_or(line)))
    }
}

/// A `---` block is front matter only if it is empty or has at least one `key:` line;
/// this keeps a document that opens with a thematic break intact.
fn looks_like_yaml(block: &[&str]) -> bool {
    block.iter().all(|l| l.trim().is_empty())
        || block.iter().any(|l| {
            let key = l.split(':').next().unwrap_or("");
            l.contains(':')
                && !key.is_empty()
                && !key.starts_with(' ')
                && key
                    .trim()
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '"' | '\''))
        })
}

fn yaml_title(block: &[&str]) -> Option<String> {
    for (i, line) in block.iter().enumerate() {
        let Some(rest) = line.strip_prefix("title") else {
            continue;
        };
        let Some(value) = rest.trim_start().strip_prefix(':') else {
            continue;
        };
        let value = value.trim();
        if let Some(quoted) = value.strip_prefix('"') {
            return Some(double_quoted(quoted));
        }
        if let Some(quoted) = value.strip_prefix('\'') {
            return Some(single_quoted(quoted));
        }
        if value.starts_with('|') || value.starts_with('>') || value.is_empty() {
            // Block scalar or a plain scalar continued on indented lines: fold them.
            let folded: Vec<&str> = block[i + 1..]
                .iter()
                .take_while(|l| l.starts_with(' ') || l.starts_with('\t') || l.trim().is_empty())
                .map(|l| l.trim())
                .filter(|l| !l.is_empty())
                .collect();
            return Some(folded.join(" "));
        }
        return Some(strip_comment(value).to_string());
    }
    None
}

fn toml_title(block: &[&str]) -> Option<String> {
    for line in block {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            // Keys after a table header belong to that table, not the document.
            return None;
        }
        let Some(rest) = trimmed.strip_prefix("title") else {
            continue;
        };
        let Some(value) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let value = value.trim();
        if let Some(triple) = value.strip_prefix("\"\"\"") {
            return Some(
                triple
                    .split("\"\"\"")
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string(),
            );
        }
        if let Some(quoted) = value.strip_prefix('"') {
            return Some(double_quoted(quoted));
        }
        if let Some(literal) = value.strip_prefix('\'') {
            return Some(literal.split('\'').next().unwrap_or("").to_string());
        }
        return None;
    }
    None
}

/// Reads a double-quoted string body (after the opening quote) with backslash escapes.
fn double_quoted(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => break,
            },
            other => out.push(other),
        }
    }
    out.trim().to_string()
}

/// Reads a YAML single-quoted string body (after the opening quote); `''` is a quote.
fn single_quoted(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
                out.push('\'');
            } else {
                break;
            }
        } else {
            out.push(c);
        }
    }
    out.trim().to_string()
}

fn strip_comment(value: &str) -> &str {
    match value.find(" #") {
        Some(i) => value[..i].trim_end(),
        None => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_plain_title() {
        let fm = strip("---\ntitle: Getting started # intro\nweight: 3\n---\n# Heading\nbody\n");
        assert_eq!(fm.title.as_deref(), Some("Getting started"));
        assert_eq!(fm.body, "# Heading\nbody\n");
    }

    #[test]
    fn yaml_quoted_titles() {
        let fm = strip("---\ndescription: x\ntitle: \"Say \\\"hi\\\": now\"\n---\nbody");
        assert_eq!(fm.title.as_deref(), Some("Say \"hi\": now"));
        assert_eq!(fm.body, "body");
        let fm = strip("---\r\ntitle: 'It''s: fine'\r\n---\r\nbody");
        assert_eq!(fm.title.as_deref(), Some("It's: fine"));
        assert_eq!(fm.body, "body");
    }

    #[test]
    fn yaml_block_scalar_title() {
        let fm = strip("---\ntitle: >-\n  Long\n  title\nother: 1\n---\n");
        assert_eq!(fm.title.as_deref(), Some("Long title"));
        assert_eq!(fm.body, "");
    }

    #[test]
    fn yaml_nested_title_is_not_the_document_title() {
        let fm = strip("---\nog:\n  title: Nested\n---\nbody");
        assert_eq!(fm.title, None);
        assert_eq!(fm.body, "body");
    }

    #[test]
    fn toml_title() {
        let fm = strip("+++\ntitle = \"Profiles\"\n[extra]\ntitle = \"no\"\n+++\ntext");
        assert_eq!(fm.title.as_deref(), Some("Profiles"));
        assert_eq!(fm.body, "text");
        let fm = strip("+++\n[extra]\ntitle = 'no'\n+++\ntext");
        assert_eq!(fm.title, None);
        assert_eq!(fm.body, "text");
        let fm = strip("+++\ntitle = 'Lit\\eral'\n+++\n");
        assert_eq!(fm.title.as_deref(), Some("Lit\\eral"));
    }

    #[test]
    fn no_front_matter() {
        let text = "---\n\nA thematic break, then prose.\n\n---\nmore";
        let fm = strip(text);
        assert_eq!(fm.title, None);
        assert_eq!(fm.body, text);
        let fm = strip("---\ntitle: unterminated\n");
        assert_eq!(fm.title, None);
        assert_eq!(fm.body, "---\ntitle: unterminated\n");
        assert_eq!(strip("# Title\n").body, "# Title\n");
        assert_eq!(strip("\u{feff}# Title").body, "# Title");
    }
}
