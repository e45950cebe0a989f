//! The sentence-embedding model: all-MiniLM-L6-v2 (a 6-layer BERT) run by candle on the CPU,
//! mean-pooled over tokens and normalised, so that a dot product is a cosine similarity.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// The files a model folder must hold.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// Word pieces embedded per text: the length the model was trained at.
pub const MAX_TOKENS: usize = 128;

/// Texts per forward pass while indexing.
pub const BATCH: usize = 16;

/// A loaded model, ready to embed text.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dim: usize,
    dir: PathBuf,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").field("dir", &self.dir).finish()
    }
}

/// Why a model could not be loaded or run, for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file of the model is missing.
    #[error(
        "no embedding model in {}: `{file}` is missing; run `docward model fetch`, or pass \
         --model-dir to a folder with config.json, tokenizer.json and model.safetensors \
         (search stays lexical meanwhile)",
        .dir.display()
    )]
    Missing {
        /// The folder looked in.
        dir: PathBuf,
        /// The first file not found.
        file: &'static str,
    },
    /// The files are there but do not make a usable model.
    #[error("the embedding model in {} could not be loaded: {reason}", .dir.display())]
    Invalid {
        /// The folder.
        dir: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// Running the model failed.
    #[error("embedding failed: {0}")]
    Run(String),
}

impl Embedder {
    /// Loads the model in `dir`.
    pub fn load(dir: &Path) -> Result<Embedder, ModelError> {
        for file in MODEL_FILES {
            if !dir.join(file).is_file() {
                return Err(ModelError::Missing {
                    dir: dir.to_path_buf(),
                    file,
                });
            }
        }
        let invalid = |reason: String| ModelError::Invalid {
            dir: dir.to_path_buf(),
            reason,
        };
        let config: Config = std::fs::read(dir.join("config.json"))
            .map_err(|e| invalid(format!("config.json: {e}")))
            .and_then(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| invalid(format!("config.json: {e}")))
            })?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| invalid(format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| invalid(format!("tokenizer.json: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        let device = Device::Cpu;
        // SAFETY: the weights file is memory-mapped read-only; docward never writes it, and an
        // operator replacing it while serving is told to restart (as for any model file).
        let vb = unsafe {
            VarBuilder::from_mmaped_safetensors(
                &[dir.join("model.safetensors")],
                DType::F32,
                &device,
            )
        }
        .map_err(|e| invalid(format!("model.safetensors: {e}")))?;
        let model =
            BertModel::load(vb, &config).map_err(|e| invalid(format!("model.safetensors: {e}")))?;
        Ok(Embedder {
            model,
            tokenizer,
            device,
            dim: config.hidden_size,
            dir: dir.to_path_buf(),
        })
    }

    /// Length of every vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Unit vectors for `texts`, in order. Texts of similar length are batched together, so
    /// that short texts are not padded to the length of long ones.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH) {
            let picked: Vec<&str> = batch.iter().map(|&i| texts[i]).collect();
            for (&i, vector) in batch.iter().zip(self.embed_batch(&picked)?) {
                out[i] = vector;
            }
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        let run = |e: &dyn std::fmt::Display| ModelError::Run(e.to_string());
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| run(&e))?;
        let rows = |get: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor, ModelError> {
            let rows: Vec<Tensor> = encodings
                .iter()
                .map(|e| Tensor::new(get(e), &self.device))
                .collect::<Result<_, _>>()
                .map_err(|e| run(&e))?;
            Tensor::stack(&rows, 0).map_err(|e| run(&e))
        };
        let ids = rows(&|e| e.get_ids())?;
        let types = rows(&|e| e.get_type_ids())?;
        let mask = rows(&|e| e.get_attention_mask())?;
        let pooled = (|| -> candle_core::Result<Tensor> {
            let hidden = self.model.forward(&ids, &types, Some(&mask))?;
            // Mean over the real tokens only.
            let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
            let counts = mask.sum(1)?.clamp(1.0, f64::MAX)?;
            let mean = summed.broadcast_div(&counts)?;
            let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
            mean.broadcast_div(&norm)
        })()
        .map_err(|e| run(&e))?;
        pooled.to_vec2::<f32>().map_err(|e| run(&e))
    }
}
