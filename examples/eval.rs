//! Retrieval evaluation: docward search vs a keyword-count baseline.
//!
//! ```text
//! cargo run --release --example eval -- <corpus-dir> [--questions eval/questions.json] [--markdown OUT.md]
//! ```
//!
//! Indexes each top-level folder of the corpus as a repo into a temp library, runs every
//! question (across all repos) and reports recall@5 and MRR@10 per system, overall and
//! by question style. Relevance is per document; a hit shows its own document and the copies
//! folded into it, and the metrics count hits, as an assistant reading the answer sees them.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use docward::docs::{Library, NoProgress};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Question {
    id: String,
    query: String,
    style: String,
    #[allow(dead_code)]
    repo: String,
    relevant: Vec<String>,
}

struct Args {
    corpus: PathBuf,
    questions: PathBuf,
    markdown: Option<PathBuf>,
    verbose: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut corpus = None;
    let mut questions = PathBuf::from("eval/questions.json");
    let mut markdown = None;
    let mut verbose = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--questions" => questions = args.next().ok_or("--questions needs a path")?.into(),
            "--markdown" => markdown = Some(args.next().ok_or("--markdown needs a path")?.into()),
            "--verbose" => verbose = true,
            "-h" | "--help" => return Err(String::new()),
            other if corpus.is_none() && !other.starts_with("--") => corpus = Some(other.into()),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    Ok(Args {
        corpus: corpus.ok_or("missing <corpus-dir>")?,
        questions,
        markdown,
        verbose,
    })
}

/// A document identity: (repo, path).
type DocId = (String, String);

/// Per-question metrics.
#[derive(Debug, Clone, Copy, Default)]
struct Scores {
    recall5: f64,
    mrr10: f64,
    first_rank: Option<usize>,
}

/// Scores a ranking of hits, each hit being the documents it shows.
fn score(hits: &[Vec<DocId>], repo: &str, relevant: &HashSet<&str>) -> Scores {
    let is_rel = |d: &DocId| d.0 == repo && relevant.contains(d.1.as_str());
    let found5: HashSet<&DocId> = hits
        .iter()
        .take(5)
        .flatten()
        .filter(|d| is_rel(d))
        .collect();
    let first_rank = hits
        .iter()
        .position(|docs| docs.iter().any(is_rel))
        .map(|p| p + 1);
    Scores {
        recall5: found5.len() as f64 / relevant.len().max(1) as f64,
        mrr10: first_rank
            .filter(|&r| r <= 10)
            .map_or(0.0, |r| 1.0 / r as f64),
        first_rank,
    }
}

/// Keyword-count baseline: per document, word -> occurrences (lowercased words).
struct Baseline {
    docs: Vec<(DocId, HashMap<String, u32>)>,
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

impl Baseline {
    fn build(corpus: &Path, repos: &[String]) -> Baseline {
        let mut docs = Vec::new();
        for repo in repos {
            let root = corpus.join(repo);
            let walker = ignore::WalkBuilder::new(&root)
                .require_git(false)
                .add_custom_ignore_filename(".docwardignore")
                .build();
            for entry in walker.flatten() {
                if !entry.file_type().is_some_and(|t| t.is_file()) {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().to_lowercase();
                let is_doc = [".md", ".mdx", ".markdown", ".txt", ".rst"]
                    .iter()
                    .any(|e| name.ends_with(e))
                    || name == "readme"
                    || name.starts_with("readme.");
                if !is_doc {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(entry.path()) else {
                    continue;
                };
                let Ok(rel) = entry.path().strip_prefix(&root) else {
                    continue;
                };
                let rel = rel.to_string_lossy().replace('\\', "/");
                let mut counts: HashMap<String, u32> = HashMap::new();
                for w in words(&text) {
                    *counts.entry(w).or_insert(0) += 1;
                }
                docs.push(((repo.clone(), rel), counts));
            }
        }
        Baseline { docs }
    }

    fn rank(&self, query: &str, n: usize) -> Vec<DocId> {
        let q: Vec<String> = words(query).collect();
        let mut scored: Vec<(u64, &DocId)> = self
            .docs
            .iter()
            .map(|(id, counts)| {
                let s: u64 = q
                    .iter()
                    .map(|w| u64::from(*counts.get(w).unwrap_or(&0)))
                    .sum();
                (s, id)
            })
            .filter(|(s, _)| *s > 0)
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored
            .into_iter()
            .take(n)
            .map(|(_, id)| id.clone())
            .collect()
    }
}

/// docward's first 10 hits, each as the documents it shows: its own and the copies folded
/// into it.
fn docward_rank(lib: &Library, query: &str) -> Vec<Vec<DocId>> {
    let hits = match lib.search(query, None, 10) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("search error for {query:?}: {e}");
            return Vec::new();
        }
    };
    hits.into_iter()
        .map(|h| {
            let mut docs = vec![(h.repo, h.path)];
            docs.extend(h.also_in.into_iter().map(|c| (c.repo, c.path)));
            docs
        })
        .collect()
}

#[derive(Default, Clone, Copy)]
struct Sum {
    n: usize,
    recall5: f64,
    mrr10: f64,
}

impl Sum {
    fn add(&mut self, s: Scores) {
        self.n += 1;
        self.recall5 += s.recall5;
        self.mrr10 += s.mrr10;
    }
    fn recall(&self) -> f64 {
        self.recall5 / self.n.max(1) as f64
    }
    fn mrr(&self) -> f64 {
        self.mrr10 / self.n.max(1) as f64
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            eprintln!(
                "usage: eval <corpus-dir> [--questions eval/questions.json] [--markdown OUT.md] [--verbose]"
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let questions: Vec<Question> = serde_json::from_slice(&std::fs::read(&args.questions)?)?;
    let mut repos: Vec<String> = std::fs::read_dir(&args.corpus)?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| !n.starts_with('.'))
        .collect();
    repos.sort();

    let lib_dir = tempfile::tempdir()?;
    let lib = Library::open(lib_dir.path())?;
    let started = Instant::now();
    let mut files = 0;
    let mut sections = 0;
    for repo in &repos {
        let report = lib.add_repo(repo, &args.corpus.join(repo), &NoProgress)?;
        files += report.documents;
        sections += report.sections;
        eprintln!(
            "indexed {repo}: {} docs, {} sections, {} skipped, {} ms",
            report.documents,
            report.sections,
            report.skipped.len(),
            report.elapsed_ms
        );
    }
    let index_secs = started.elapsed().as_secs_f64();
    println!(
        "indexing: {} repos, {files} documents, {sections} sections in {index_secs:.2} s",
        repos.len()
    );

    let baseline = Baseline::build(&args.corpus, &repos);
    let mut sums: HashMap<(&str, String), Sum> = HashMap::new();
    let mut search_ms = Vec::new();
    let mut failures = Vec::new();
    for q in &questions {
        let relevant: HashSet<&str> = q.relevant.iter().map(String::as_str).collect();
        let t = Instant::now();
        let ranked = docward_rank(&lib, &q.query);
        let ours = score(&ranked, &q.repo, &relevant);
        search_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let base_hits: Vec<Vec<DocId>> = baseline
            .rank(&q.query, 10)
            .into_iter()
            .map(|d| vec![d])
            .collect();
        let base = score(&base_hits, &q.repo, &relevant);
        for (system, s) in [("docward", ours), ("baseline", base)] {
            for style in ["all".to_string(), q.style.clone()] {
                sums.entry((system, style)).or_default().add(s);
            }
        }
        if ours.first_rank.is_none_or(|r| r > 5) {
            failures.push(format!(
                "  {:<28} docward first relevant: {:<6} baseline: {:<6} {:?}",
                q.id,
                rank_text(ours.first_rank),
                rank_text(base.first_rank),
                q.query
            ));
            if args.verbose {
                for docs in ranked.iter().take(5) {
                    let shown: Vec<String> = docs.iter().map(|(r, p)| format!("{r}/{p}")).collect();
                    failures.push(format!("      got {}", shown.join(" = ")));
                }
            }
        }
    }
    search_ms.sort_by(f64::total_cmp);
    let median = search_ms.get(search_ms.len() / 2).copied().unwrap_or(0.0);

    let mut styles: Vec<String> = questions.iter().map(|q| q.style.clone()).collect();
    styles.sort();
    styles.dedup();
    styles.insert(0, "all".to_string());
    let mut table =
        String::from("| system | questions | recall@5 | MRR@10 |\n|---|---|---:|---:|\n");
    for style in &styles {
        for system in ["docward", "baseline"] {
            let s = sums
                .get(&(system, style.clone()))
                .copied()
                .unwrap_or_default();
            table.push_str(&format!(
                "| {system} | {style} ({}) | {:.3} | {:.3} |\n",
                s.n,
                s.recall(),
                s.mrr()
            ));
        }
    }
    println!("\n{table}");
    println!("docward search (limit 10, cold-ish): median {median:.2} ms per question");
    if !failures.is_empty() {
        println!("\nquestions where docward has no relevant doc in the top 5:");
        for f in &failures {
            println!("{f}");
        }
    }
    if let Some(out) = &args.markdown {
        let report = format!(
            "# docward retrieval eval\n\nCorpus: `{}` ({} repos, {files} documents, {sections} sections); \
             {} questions; indexing took {index_secs:.2} s.\n\n{table}\n\
             Relevance is per document; each of docward's first 10 hits shows its own document \
             and the copies folded into it, and recall@5 counts the first 5 hits. \
             Baseline: per document, sum over query words of that word's occurrences.\n",
            args.corpus.display(),
            repos.len(),
            questions.len()
        );
        std::fs::write(out, report)?;
        println!("\nwrote {}", out.display());
    }
    Ok(())
}

fn rank_text(rank: Option<usize>) -> String {
    rank.map_or("-".to_string(), |r| r.to_string())
}
