//! The document splitter (`parse_document`: front matter, then Markdown, reStructuredText or
//! plain-text sections) on arbitrary text; the first byte picks the file name.
//!
//! Checks: no panic; the body is the input less its front matter; sections are contiguous,
//! non-empty, on character boundaries and cover the body, so every section's text comes from
//! the input; heading names are non-empty single trimmed lines, plain text has none, Markdown
//! trails are at most 6 deep, and each trail keeps all but at most its last name from the
//! trail before; the output and the heap at its peak are bounded by a multiple of the input.

#![no_main]

mod peak_alloc;

use docward::docs::fuzzing::{ParsedDoc, SectionSpan, parse_document};
use libfuzzer_sys::fuzz_target;
use peak_alloc::{PeakAlloc, assert_linear, peak_during};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

const FILE_NAMES: [&str; 6] = [
    "guide.md",
    "page.mdx",
    "guide.rst",
    "notes.txt",
    "README",
    "x",
];

/// Output bytes per input byte (sections and their heading trails included).
const OUTPUT_PER_BYTE: usize = 64;
/// Heap per input byte while parsing.
const HEAP_PER_BYTE: usize = 128;
/// Fixed allowance for tiny inputs.
const FIXED: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let file_name = FILE_NAMES[usize::from(pick) % FILE_NAMES.len()];
    let raw = String::from_utf8_lossy(rest);
    let (doc, peak) = peak_during(|| parse_document(file_name, &raw));
    assert_linear("parse heap", peak, raw.len(), HEAP_PER_BYTE, FIXED);
    assert_linear(
        "parse output",
        output_bytes(&doc),
        raw.len(),
        OUTPUT_PER_BYTE,
        FIXED,
    );

    assert!(
        raw.ends_with(doc.body.as_str()),
        "the body is not the input's end"
    );
    assert!(!doc.title.is_empty());
    check_sections(&doc);
    check_trails(file_name, &doc.sections);
});

/// Bytes the parsed document holds: body, title, spans and every heading name.
fn output_bytes(doc: &ParsedDoc) -> usize {
    doc.body.len()
        + doc.title.len()
        + doc
            .sections
            .iter()
            .map(|s| {
                size_of::<SectionSpan>()
                    + s.headings
                        .iter()
                        .map(|h| size_of::<String>() + h.len())
                        .sum::<usize>()
            })
            .sum::<usize>()
}

fn check_sections(doc: &ParsedDoc) {
    assert!(!doc.sections.is_empty());
    let mut at = 0;
    for (i, section) in doc.sections.iter().enumerate() {
        let range = &section.range;
        assert_eq!(
            range.start,
            at,
            "section {i} does not start where {} ended",
            i - 1
        );
        assert!(
            range.end > range.start || doc.body.is_empty(),
            "section {i} is empty"
        );
        assert!(
            doc.body.get(range.clone()).is_some(),
            "section {i} cuts a character"
        );
        assert_eq!(doc.section_text(i).len(), range.len());
        at = range.end;
    }
    assert_eq!(at, doc.body.len(), "sections do not cover the body");
}

fn check_trails(file_name: &str, sections: &[SectionSpan]) {
    let markdown = file_name.ends_with(".md") || file_name.ends_with(".mdx");
    let rst = file_name.ends_with(".rst");
    let mut previous: &[String] = &[];
    for (i, section) in sections.iter().enumerate() {
        let trail = section.headings.as_slice();
        if !markdown && !rst {
            assert!(trail.is_empty(), "plain text has headings: {trail:?}");
        }
        if markdown {
            assert!(
                trail.len() <= 6,
                "trail deeper than Markdown allows: {trail:?}"
            );
        }
        for name in trail {
            assert!(!name.is_empty(), "section {i} has an empty heading name");
            assert_eq!(name.trim(), name, "heading name not trimmed");
            assert!(!name.contains('\n'), "heading name spans lines: {name:?}");
        }
        let kept = trail
            .iter()
            .zip(previous)
            .take_while(|(a, b)| a == b)
            .count();
        assert!(
            kept + 1 >= trail.len(),
            "section {i}: trail {trail:?} does not follow {previous:?}"
        );
        previous = trail;
    }
}
