//! Benchmarks for the docs module: search latency (criterion means plus p50/p99 from a
//! plain loop) and indexing throughput.
//!
//! Uses the corpus at `$DOCWARD_CORPUS` (default `../shared/corpus` next to the crate;
//! each top-level folder is a repo), or a generated synthetic corpus if that is missing.
//! `cargo bench --bench docs -- search` skips the indexing benchmark.
//!
//! With `DOCWARD_BENCH_MODEL_DIR` set to an all-MiniLM-L6-v2 folder, it also indexes the corpus
//! with document vectors (timed; kept in `DOCWARD_BENCH_HYBRID_LIBRARY` when set, so that later
//! runs skip the embedding) and benchmarks hybrid search and the query embedding alone.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use docward::docs::embed::Embedder;
use docward::docs::{Library, NoProgress};

const QUERIES: [&str; 20] = [
    "how do I make release builds smaller",
    "cargo workspace dependencies inheritance",
    "tokio::spawn JoinHandle",
    "borrow checker mutable reference error",
    "configure opentelemetry collector exporter",
    "Get-ChildItem recurse filter",
    "MCP tool call json schema",
    "async fn in trait",
    "build script rerun-if-changed",
    "shared state Arc Mutex across tasks",
    "semantic versioning breaking change enum",
    "context propagation http headers",
    "powershell remoting ssh",
    "sampling traces tail based",
    "lifetimes in function signatures",
    "publish crate to crates.io token",
    "graceful shutdown signal",
    "resources subscribe notifications",
    "pattern matching match guard",
    "environment variables CARGO_HOME",
];

fn corpus_dir() -> (PathBuf, Option<tempfile::TempDir>) {
    if let Some(dir) = common::corpus_dir() {
        return (dir, None);
    }
    eprintln!("corpus not found; generating a synthetic one");
    let tmp = tempfile::tempdir().expect("temp dir for the synthetic corpus");
    synthetic(tmp.path());
    (tmp.path().to_path_buf(), Some(tmp))
}

/// Writes 3 repos x 400 Markdown files of pseudo-random text over a fixed vocabulary.
fn synthetic(root: &Path) {
    let vocab: Vec<&str> = QUERIES
        .iter()
        .flat_map(|q| q.split_whitespace())
        .chain(
            "the a of to and in is for with on that this by be are it from as or an at use when \
             which can will your you server client request response value type function module"
                .split_whitespace(),
        )
        .collect();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for repo in ["alpha", "beta", "gamma"] {
        for f in 0..400 {
            let mut text = format!("# Page {f} of {repo}\n\n");
            for s in 0..8 {
                text.push_str(&format!("## Section {s} {}\n\n", vocab[next(vocab.len())]));
                for _ in 0..3 {
                    let words: Vec<&str> = (0..60).map(|_| vocab[next(vocab.len())]).collect();
                    text.push_str(&words.join(" "));
                    text.push_str(".\n\n");
                }
            }
            let path = root.join(repo).join(format!("docs/{}/page-{f}.md", f % 10));
            std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
            std::fs::write(path, text).expect("write synthetic file");
        }
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    ignore::WalkBuilder::new(dir)
        .build()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

fn percentiles(lib: &Library, n: usize) {
    for q in QUERIES {
        lib.search(q, None, 5).expect("warm-up search");
    }
    let mut times: Vec<Duration> = Vec::with_capacity(n);
    for i in 0..n {
        let q = QUERIES[i % QUERIES.len()];
        let t = Instant::now();
        let hits = lib.search(q, None, 5).expect("search");
        times.push(t.elapsed());
        std::hint::black_box(hits);
    }
    times.sort();
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "search latency over {n} queries (limit 5): p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        at(0.50).as_secs_f64() * 1e3,
        at(0.90).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
    );
}

fn main() {
    // SAFETY: the first statement of main; no other thread exists yet.
    unsafe { docward::docs::embed::fix_thread_count() };
    let (corpus, _synthetic_guard) = corpus_dir();
    let repos = common::corpus_repos(&corpus);
    let lib_dir = tempfile::tempdir().expect("temp library dir");
    let lib = Library::open(lib_dir.path()).expect("open library");
    let started = Instant::now();
    let mut docs = 0;
    for (name, path) in &repos {
        docs += lib
            .add_repo(name, path, &NoProgress)
            .expect("index repo")
            .documents;
    }
    println!(
        "indexed {} repos, {docs} documents from {} in {:.2} s",
        repos.len(),
        corpus.display(),
        started.elapsed().as_secs_f64()
    );
    percentiles(&lib, 2_000);

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("search");
    let mut i = 0;
    group.bench_function("limit5_rotating_20_queries", |b| {
        b.iter(|| {
            i = (i + 1) % QUERIES.len();
            lib.search(QUERIES[i], None, 5).expect("search")
        })
    });
    group.bench_function("limit20_rotating_20_queries", |b| {
        b.iter(|| {
            i = (i + 1) % QUERIES.len();
            lib.search(QUERIES[i], None, 20).expect("search")
        })
    });
    group.finish();

    if let Some(model) = std::env::var_os("DOCWARD_BENCH_MODEL_DIR") {
        hybrid(&mut c, Path::new(&model), &repos);
    }

    // Indexing throughput on one mid-sized repo (the whole corpus was timed once above).
    let (name, path) = repos
        .iter()
        .find(|(n, _)| n == "cargo")
        .or_else(|| repos.first())
        .expect("at least one repo")
        .clone();
    let mut group = c.benchmark_group("index");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(15))
        .throughput(Throughput::Bytes(dir_bytes(&path)));
    group.bench_function(format!("add_repo_{name}"), |b| {
        b.iter(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let lib = Library::open(dir.path()).expect("open");
            lib.add_repo(&name, &path, &NoProgress).expect("index")
        })
    });
    group.finish();
    c.final_summary();
}

/// Hybrid search over the corpus with document vectors, and the query embedding alone.
fn hybrid(c: &mut Criterion, model: &Path, repos: &[(String, PathBuf)]) {
    let embedder = Arc::new(Embedder::load(model).expect("load the embedding model"));
    let temp = tempfile::tempdir().expect("temp library dir");
    let dir = std::env::var_os("DOCWARD_BENCH_HYBRID_LIBRARY")
        .map_or_else(|| temp.path().to_path_buf(), PathBuf::from);
    let lib = Library::open(&dir)
        .expect("open library")
        .with_embedder(Some(Arc::clone(&embedder)));
    let known = lib.repos().expect("list repos");
    let started = Instant::now();
    for (name, path) in repos {
        if !known.iter().any(|r| &r.name == name) {
            lib.add_repo(name, path, &NoProgress)
                .expect("index repo with vectors");
        }
    }
    println!(
        "indexed with vectors ({} documents have vectors) in {:.1} s (0 when reused from {})",
        lib.vector_count(),
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    percentiles(&lib, 300);
    let mut group = c.benchmark_group("hybrid");
    let mut i = 0;
    group.bench_function("search_limit5_rotating_20_queries", |b| {
        b.iter(|| {
            i = (i + 1) % QUERIES.len();
            lib.search(QUERIES[i], None, 5).expect("search")
        })
    });
    group.bench_function("embed_query", |b| {
        b.iter(|| {
            i = (i + 1) % QUERIES.len();
            embedder.embed(&[QUERIES[i]]).expect("embed")
        })
    });
    group.finish();
}
