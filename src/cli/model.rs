//! `docward model fetch|status`: getting the embedding model for hybrid search. The download
//! is done by `curl`, so that docward carries no TLS stack of its own for one command.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::Subcommand;

use docward::docs::embed::{self, Embedder, MODEL_FILES};

/// Where the model's files are published.
const HUB: &str = "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main";

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Download all-MiniLM-L6-v2 (about 90 MB) into the model folder
    Fetch,
    /// Say whether the model folder holds a usable model
    Status,
}

/// Runs a model command against `dir`, the model folder in force.
pub fn run(cmd: ModelCommand, dir: &Path) -> Result<ExitCode> {
    match cmd {
        ModelCommand::Fetch => fetch(dir),
        ModelCommand::Status => match Embedder::load(dir) {
            Ok(e) => {
                println!(
                    "model {} in {}: usable ({} dimensions); search is hybrid",
                    embed::MODEL_NAME,
                    dir.display(),
                    e.dim()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("error: {e}");
                Ok(ExitCode::FAILURE)
            }
        },
    }
}

fn fetch(dir: &Path) -> Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    for file in MODEL_FILES {
        let url = format!("{HUB}/{file}");
        let part: PathBuf = dir.join(format!("{file}.part"));
        eprintln!("fetching {url}");
        let status = Command::new("curl")
            .args(["--fail", "--location", "--silent", "--show-error"])
            .args([
                "--connect-timeout",
                "20",
                "--proto",
                "=https",
                "--proto-redir",
                "=https",
                "--output",
            ])
            .arg(&part)
            .arg(&url)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => {
                let _ = std::fs::remove_file(&part);
                bail!(
                    "downloading {url} failed (curl {s}); on a machine without internet access, \
                     copy config.json, tokenizer.json and model.safetensors of all-MiniLM-L6-v2 \
                     into {} or pass --model-dir; search stays lexical meanwhile",
                    dir.display()
                );
            }
            Err(e) => bail!(
                "could not run curl ({e}): install curl, or put the model's files into {} yourself",
                dir.display()
            ),
        }
        std::fs::rename(&part, dir.join(file))
            .with_context(|| format!("could not move {} into place", part.display()))?;
    }
    Embedder::load(dir).context("the downloaded files do not make a usable model")?;
    println!(
        "model ready in {}; search is hybrid from the next `repo sync`",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
