//! Readable text for tool answers. The same data also goes out as structured content.

use std::fmt::Write;

use crate::clock;
use crate::docs::{DocPage, RepoInfo, SearchHit};

/// The text of a search answer.
pub fn search(query: &str, repo: Option<&str>, hits: &[SearchHit]) -> String {
    let scope = repo.map_or_else(|| "all repositories".to_owned(), |r| format!("repo {r}"));
    if hits.is_empty() {
        return format!(
            "No results for \"{query}\" in {scope}. Try other or fewer words, or call list_repos to see what is indexed."
        );
    }
    let noun = if hits.len() == 1 { "result" } else { "results" };
    let mut out = format!("{} {noun} for \"{query}\" in {scope}:\n", hits.len());
    for (i, hit) in hits.iter().enumerate() {
        let _ = write!(
            out,
            "\n{}. {} — {}/{}",
            i + 1,
            hit.title,
            hit.repo,
            hit.path
        );
        if !hit.headings.is_empty() {
            let _ = write!(out, "\n   Section: {}", hit.headings.join(" › "));
        }
        let _ = write!(
            out,
            "\n   {}\n   (score {:.2}; read it with get_doc repo=\"{}\" path=\"{}\"{})\n",
            hit.snippet.replace('\n', " "),
            hit.score,
            hit.repo,
            hit.path,
            section_argument(hit.section)
        );
        if !hit.also_in.is_empty() {
            let places: Vec<String> = hit
                .also_in
                .iter()
                .map(|c| match c.section {
                    0 => format!("{}/{}", c.repo, c.path),
                    n => format!("{}/{} (section {n})", c.repo, c.path),
                })
                .collect();
            let _ = write!(
                out,
                "   Also in (same or nearly the same text): {}",
                places.join(", ")
            );
            if hit.more_copies > 0 {
                let _ = write!(out, " and {} more", hit.more_copies);
            }
            out.push('\n');
        }
    }
    out
}

fn section_argument(section: usize) -> String {
    if section > 0 {
        format!(" section={section}")
    } else {
        String::new()
    }
}

/// The text of a get_doc answer.
pub fn document(page: &DocPage) -> String {
    let mut out = String::new();
    let last = page
        .next_section
        .map_or(page.total_sections, |n| n)
        .saturating_sub(1);
    if page.first_section > 0 || page.next_section.is_some() {
        let _ = writeln!(
            out,
            "[{}/{} — sections {}–{} of {}]\n",
            page.repo, page.path, page.first_section, last, page.total_sections
        );
    } else {
        let _ = writeln!(out, "[{}/{}]\n", page.repo, page.path);
    }
    out.push_str(&page.content);
    if let Some(next) = page.next_section {
        let _ = write!(
            out,
            "\n\n[The document continues. Call get_doc with repo=\"{}\", path=\"{}\", section={next} to read the rest.]",
            page.repo, page.path
        );
    }
    out
}

/// The text of a list_repos answer.
pub fn repos(repos: &[RepoInfo]) -> String {
    if repos.is_empty() {
        return "No repositories are indexed for this key's tenant and environment yet. An administrator adds one with `docward repo add PATH --tenant NAME --env ENV`.".to_owned();
    }
    let mut out = format!("{} repositories:\n", repos.len());
    for r in repos {
        let _ = write!(
            out,
            "\n- {}: {} documents, {} sections, last indexed {}",
            r.name,
            r.documents,
            r.sections,
            clock::format_short(r.indexed_at)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs::SectionRef;

    fn hit(path: &str, also_in: Vec<SectionRef>, more_copies: usize) -> SearchHit {
        SearchHit {
            repo: "spec".into(),
            path: path.into(),
            title: "Ping".into(),
            headings: vec!["Ping".into(), "Timeouts".into()],
            section: 2,
            snippet: "send a **ping**".into(),
            score: 3.5,
            also_in,
            more_copies,
        }
    }

    #[test]
    fn a_hit_names_where_to_read_it_and_its_folded_copies() {
        let copies = vec![
            SectionRef {
                repo: "spec".into(),
                path: "v1/ping.md".into(),
                section: 2,
            },
            SectionRef {
                repo: "mirror".into(),
                path: "ping.md".into(),
                section: 0,
            },
        ];
        let text = search("ping", None, &[hit("v2/ping.md", copies, 4)]);
        assert!(
            text.contains("1 result for \"ping\" in all repositories"),
            "{text}"
        );
        assert!(text.contains("Section: Ping › Timeouts"), "{text}");
        assert!(
            text.contains("get_doc repo=\"spec\" path=\"v2/ping.md\" section=2"),
            "{text}"
        );
        assert!(
            text.contains(
                "Also in (same or nearly the same text): spec/v1/ping.md (section 2), mirror/ping.md and 4 more"
            ),
            "{text}"
        );
        let alone = search("ping", Some("spec"), &[hit("v2/ping.md", Vec::new(), 0)]);
        assert!(!alone.contains("also in"), "{alone}");
        assert!(alone.contains("in repo spec"), "{alone}");
    }
}
