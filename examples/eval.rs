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

use docward::docs::tuning::{self, RankParams};
use docward::docs::{Library, NoProgress, Ranker, embed};
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
    /// `name=value,...` overrides of the ranker's weights (exploration on the dev set only).
    params: Option<String>,
    /// The embedding model's folder: also compare the semantic and hybrid rankers.
    model_dir: Option<PathBuf>,
    /// Keep the library here and reuse it when it is already there (skips indexing).
    library: Option<PathBuf>,
    /// Only time the model: embed this many corpus documents and the questions, then stop.
    embed_bench: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut corpus = None;
    let mut questions = PathBuf::from("eval/questions.json");
    let mut markdown = None;
    let mut verbose = false;
    let mut params = None;
    let mut model_dir = None;
    let mut library = None;
    let mut embed_bench = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--questions" => questions = args.next().ok_or("--questions needs a path")?.into(),
            "--markdown" => markdown = Some(args.next().ok_or("--markdown needs a path")?.into()),
            "--verbose" => verbose = true,
            "--embed-bench" => {
                let n = args.next().ok_or("--embed-bench needs a count")?;
                embed_bench = Some(n.parse().map_err(|_| format!("bad count `{n}`"))?);
            }
            "--library" => library = Some(args.next().ok_or("--library needs a path")?.into()),
            "--model-dir" => {
                model_dir = Some(args.next().ok_or("--model-dir needs a path")?.into())
            }
            "--params" => params = Some(args.next().ok_or("--params needs name=value,...")?),
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
        params,
        model_dir,
        library,
        embed_bench,
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
    /// Words per document, in the order of `docs`.
    lengths: Vec<u32>,
    /// Documents each word occurs in.
    doc_freq: HashMap<String, u32>,
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
        let lengths = docs.iter().map(|(_, c)| c.values().sum()).collect();
        let mut doc_freq: HashMap<String, u32> = HashMap::new();
        for (_, counts) in &docs {
            for word in counts.keys() {
                *doc_freq.entry(word.clone()).or_insert(0) += 1;
            }
        }
        Baseline {
            docs,
            lengths,
            doc_freq,
        }
    }

    /// Plain document-level BM25 (k1 1.2, b 0.75) over the same words, no stemming: the
    /// baseline a hundred lines of script give, and the one docward has to beat.
    fn rank_bm25(&self, query: &str, n: usize) -> Vec<DocId> {
        const K1: f64 = 1.2;
        const B: f64 = 0.75;
        let total = self.docs.len().max(1) as f64;
        let avg_len = self.lengths.iter().sum::<u32>() as f64 / total;
        let mut q: Vec<String> = words(query).collect();
        q.sort();
        q.dedup();
        let mut scored: Vec<(f64, &DocId)> = self
            .docs
            .iter()
            .zip(&self.lengths)
            .map(|((id, counts), &len)| {
                let norm = K1 * (1.0 - B + B * f64::from(len) / avg_len.max(1.0));
                let s: f64 = q
                    .iter()
                    .filter_map(|w| Some((counts.get(w)?, self.doc_freq.get(w)?)))
                    .map(|(&tf, &df)| {
                        let idf =
                            (1.0 + (total - f64::from(df) + 0.5) / (f64::from(df) + 0.5)).ln();
                        let tf = f64::from(tf);
                        idf * tf * (K1 + 1.0) / (tf + norm)
                    })
                    .sum();
                (s, id)
            })
            .filter(|(s, _)| *s > 0.0)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored
            .into_iter()
            .take(n)
            .map(|(_, id)| id.clone())
            .collect()
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

/// Applies `name=value,...` to the default weights.
fn parse_params(spec: &str) -> Result<RankParams, String> {
    let mut p = RankParams::default();
    for pair in spec.split(',').filter(|s| !s.is_empty()) {
        let (name, value) = pair.split_once('=').ok_or(format!("bad pair `{pair}`"))?;
        let f: f32 = value.parse().map_err(|_| format!("bad value `{value}`"))?;
        match name {
            "title" => p.title_repeat = f as usize,
            "headings" => p.headings_repeat = f as usize,
            "path" => p.path_repeat = f as usize,
            "doc" => p.doc_weight = f,
            "section" => p.section_weight = f,
            "second" => p.second_share = f,
            "decay" => p.next_section_decay = f,
            "rrf" => p.rrf_k = f,
            "semantic" => p.semantic_weight = f,
            other => return Err(format!("unknown weight `{other}`")),
        }
    }
    Ok(p)
}

/// The rankers compared, by the name shown in the tables (the last two need a model).
const ALL_SYSTEMS: [(&str, Ranker); 4] = [
    ("old", Ranker::Legacy),
    ("lexical", Ranker::Lexical),
    ("semantic", Ranker::Semantic),
    ("hybrid", Ranker::Hybrid),
];

/// docward's first 10 hits, each as the documents it shows: its own and the copies folded
/// into it.
fn docward_rank(lib: &Library, query: &str, ranker: Ranker) -> Vec<Vec<DocId>> {
    let hits = match lib.search_with(query, None, 10, ranker) {
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
    // SAFETY: the first statement of main; no other thread exists yet.
    unsafe { docward::docs::embed::fix_thread_count() };
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
    if let Some(spec) = &args.params {
        tuning::set_params(parse_params(spec)?);
    }
    let systems: &[(&str, Ranker)] = match &args.model_dir {
        Some(dir) => {
            embed::configure(embed::Setting::Dir {
                dir: dir.clone(),
                explicit: true,
            });
            if embed::embedder().is_none() {
                return Err(format!("no usable model in {}", dir.display()).into());
            }
            &ALL_SYSTEMS
        }
        None => &ALL_SYSTEMS[..2],
    };
    let mut repos: Vec<String> = std::fs::read_dir(&args.corpus)?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| !n.starts_with('.'))
        .collect();
    repos.sort();

    if let Some(n) = args.embed_bench {
        return embed_bench(args, &repos, &questions, n);
    }
    let temp = tempfile::tempdir()?;
    let lib_path = args
        .library
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let lib = Library::open(&lib_path)?;
    let started = Instant::now();
    let mut files = 0;
    let mut sections = 0;
    let existing = lib.repos()?;
    for repo in &repos {
        if let Some(info) = existing.iter().find(|r| &r.name == repo) {
            files += info.documents;
            sections += info.sections;
            continue;
        }
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
        "indexing: {} repos, {files} documents, {sections} sections in {index_secs:.2} s \
         ({} document vectors)",
        repos.len(),
        lib.vector_count()
    );

    let baseline = Baseline::build(&args.corpus, &repos);
    let mut sums: HashMap<(&str, String), Sum> = HashMap::new();
    let mut search_ms: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut failures = Vec::new();
    for q in &questions {
        let relevant: HashSet<&str> = q.relevant.iter().map(String::as_str).collect();
        let base_hits: Vec<Vec<DocId>> = baseline
            .rank(&q.query, 10)
            .into_iter()
            .map(|d| vec![d])
            .collect();
        let base = score(&base_hits, &q.repo, &relevant);
        let bm25_hits: Vec<Vec<DocId>> = baseline
            .rank_bm25(&q.query, 10)
            .into_iter()
            .map(|d| vec![d])
            .collect();
        let bm25 = score(&bm25_hits, &q.repo, &relevant);
        let mut results = vec![("baseline", base), ("bm25", bm25)];
        let mut last = Vec::new();
        for &(name, ranker) in systems {
            let t = Instant::now();
            let ranked = docward_rank(&lib, &q.query, ranker);
            search_ms
                .entry(name)
                .or_default()
                .push(t.elapsed().as_secs_f64() * 1000.0);
            results.push((name, score(&ranked, &q.repo, &relevant)));
            last = ranked;
        }
        for &(system, s) in &results {
            for style in ["all".to_string(), q.style.clone()] {
                sums.entry((system, style)).or_default().add(s);
            }
        }
        let ours = results[results.len() - 1].1;
        if ours.first_rank.is_none_or(|r| r > 5) {
            let ranks: Vec<String> = results
                .iter()
                .map(|(name, s)| format!("{name} {}", rank_text(s.first_rank)))
                .collect();
            failures.push(format!(
                "  {:<28} first relevant: {:<36} {:?}",
                q.id,
                ranks.join(", "),
                q.query
            ));
            if args.verbose {
                for docs in last.iter().take(5) {
                    let shown: Vec<String> = docs.iter().map(|(r, p)| format!("{r}/{p}")).collect();
                    failures.push(format!("      got {}", shown.join(" = ")));
                }
            }
        }
    }
    let medians: Vec<String> = systems
        .iter()
        .map(|(name, _)| {
            let mut ms = search_ms.remove(name).unwrap_or_default();
            ms.sort_by(f64::total_cmp);
            let median = ms.get(ms.len() / 2).copied().unwrap_or(0.0);
            format!("{name} {median:.2} ms")
        })
        .collect();

    let mut styles: Vec<String> = questions.iter().map(|q| q.style.clone()).collect();
    styles.sort();
    styles.dedup();
    styles.insert(0, "all".to_string());
    let mut table =
        String::from("| system | questions | recall@5 | MRR@10 |\n|---|---|---:|---:|\n");
    for style in &styles {
        let names = systems.iter().map(|(n, _)| *n).chain(["bm25", "baseline"]);
        for system in names {
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
    println!(
        "search (limit 10), median per question: {}",
        medians.join(", ")
    );
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

/// Times the model alone: documents as indexing embeds them, and questions one at a time.
fn embed_bench(
    args: &Args,
    repos: &[String],
    questions: &[Question],
    n: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let model = embed::embedder().ok_or("--embed-bench needs --model-dir")?;
    let baseline = Baseline::build(&args.corpus, repos);
    let mut texts = Vec::new();
    for ((repo, rel), _) in baseline.docs.iter().step_by(7).take(n) {
        let text = std::fs::read_to_string(args.corpus.join(repo).join(rel))?;
        texts.push(text.chars().take(1_200).collect::<String>());
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let t = Instant::now();
    model.embed(&refs)?;
    let per_doc = t.elapsed().as_secs_f64() * 1000.0 / refs.len().max(1) as f64;
    let mut ms: Vec<f64> = Vec::new();
    for q in questions {
        let t = Instant::now();
        model.embed(&[q.query.as_str()])?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "embedded {} documents: {per_doc:.1} ms per document; {} questions: p50 {:.1} ms, max {:.1} ms",
        refs.len(),
        ms.len(),
        ms.get(ms.len() / 2).copied().unwrap_or(0.0),
        ms.last().copied().unwrap_or(0.0)
    );
    Ok(())
}

fn rank_text(rank: Option<usize>) -> String {
    rank.map_or("-".to_string(), |r| r.to_string())
}
