//! Two-tower training on MovieLens-shaped data with a planted taste signal: the softmax model
//! retrieves the held-out items better than the popularity baseline, the configurations in
//! `configs/` train on it, a resumed run ends with the uninterrupted run's model, and the
//! reference notebook's BCE setup learns its label.

mod common;

use cascade_synth::TwoTowerConfig;
use cascade_train::{TrainConfig, load_run, resume, train};
use common::{interrupt_at, model_files};
use std::path::{Path, PathBuf};

/// A planted dataset of 20 000 interactions (200 users, 333 items), leave-last-10 split.
fn planted(dir: &Path) -> PathBuf {
    let config = TwoTowerConfig {
        rows: 20_000,
        seed: 3,
        ..TwoTowerConfig::default()
    };
    cascade_synth::two_tower::generate(&config, dir, false).unwrap();
    dir.to_path_buf()
}

/// A preset of `configs/` on `data`, with `overrides`.
fn preset(name: &str, data: &Path, overrides: &[&str]) -> TrainConfig {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs")).join(name);
    let mut all = vec![format!("data.path={}", data.display())];
    all.extend(overrides.iter().map(|s| s.to_string()));
    TrainConfig::load(&path, &all).unwrap()
}

fn figure(summary: &serde_json::Value, key: &str) -> f64 {
    summary["eval"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("no eval.{key} in {summary}"))
}

#[test]
fn softmax_model_beats_the_popularity_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let data = planted(&dir.path().join("data"));
    let config = preset("two_tower_softmax.toml", &data, &["train.epochs=4"]);
    let summary = train(&config, &dir.path().join("run")).unwrap();
    assert_eq!(summary["model"], "two_tower");
    assert_eq!(summary["eval"]["users"], 200);
    let (model, popular) = (
        figure(&summary, "recall@100"),
        figure(&summary, "popularity_recall@100"),
    );
    // The generator's own taste model is the ceiling; a model that learnt nothing beyond
    // popularity would sit at the baseline.
    assert!(
        model > 1.2 * popular,
        "recall@100 {model} vs popularity {popular}"
    );
    for key in ["ndcg@10", "hitrate@50", "recall@10"] {
        assert!(figure(&summary, key) > 0.0, "{key}");
    }
    // The run's metrics and report carry the retrieval figures.
    let metrics = std::fs::read_to_string(dir.path().join("run/metrics.jsonl")).unwrap();
    assert!(metrics.contains("eval/recall@100"), "{metrics}");
    let report = std::fs::read_to_string(dir.path().join("run/report.html")).unwrap();
    assert!(
        report.contains("popularity"),
        "the report has no retrieval bars"
    );
    assert!(load_run(&dir.path().join("run")).is_ok());
}

#[test]
fn a_resumed_two_tower_run_ends_with_the_uninterrupted_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = planted(&dir.path().join("data"));
    // In-batch negatives only, and with uniformly sampled ones (drawn per step, so a resumed
    // run must draw what the uninterrupted one drew).
    for negatives in [
        "two_tower.uniform_negatives=0",
        "two_tower.uniform_negatives=64",
    ] {
        let set = [
            "train.epochs=2",
            "data.batch_size=128",
            "train.checkpoint_every=100",
            "train.keep_checkpoints=10",
            negatives,
        ];
        let run = dir.path().join(negatives);
        train(&preset("two_tower_softmax.toml", &data, &set), &run).unwrap();
        let whole = model_files(&run);
        // Step 100 is inside the first epoch (141 steps per epoch).
        interrupt_at(&run, 100);
        resume(&run).unwrap();
        assert_eq!(whole, model_files(&run), "{negatives}");
    }
}

#[test]
fn uniform_negatives_learn_and_need_the_softmax() {
    let dir = tempfile::tempdir().unwrap();
    let data = planted(&dir.path().join("data"));
    let set = ["train.epochs=4", "two_tower.uniform_negatives=256"];
    let summary = train(
        &preset("two_tower_softmax.toml", &data, &set),
        &dir.path().join("run"),
    )
    .unwrap();
    let (model, popular) = (
        figure(&summary, "recall@100"),
        figure(&summary, "popularity_recall@100"),
    );
    assert!(
        model > 1.2 * popular,
        "recall@100 {model} vs popularity {popular}"
    );
    let notebook = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs"))
        .join("two_tower_notebook.toml");
    let refused = TrainConfig::load(&notebook, &["two_tower.uniform_negatives=8".to_string()])
        .unwrap_err()
        .to_string();
    assert!(refused.contains("two_tower.uniform_negatives"), "{refused}");
}

#[test]
fn the_notebook_preset_learns_its_label() {
    let dir = tempfile::tempdir().unwrap();
    let data = planted(&dir.path().join("data"));
    let config = preset("two_tower_notebook.toml", &data, &["data.eval_split=test"]);
    let summary = train(&config, &dir.path().join("run")).unwrap();
    let auc = figure(&summary, "auc");
    assert!(auc > 0.6, "notebook preset AUC {auc}");
}

#[test]
fn a_tower_feature_missing_from_the_data_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = planted(&dir.path().join("data"));
    let config = preset(
        "two_tower_softmax.toml",
        &data,
        &["two_tower.item_features=[\"item_id\", \"item_colour\"]"],
    );
    let err = train(&config, &dir.path().join("run"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("two_tower.item_features: the dataset has no sparse feature 'item_colour'"),
        "{err}"
    );
}
