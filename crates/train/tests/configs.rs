//! The example configurations in `configs/`: every file parses, documents every key, and the
//! reference configuration has the shape the training-engine issue specifies.

use cascade_train::TrainConfig;
use cascade_train::config::{DenseTransform, ModelKind, SparseOptimizerKind};
use std::path::{Path, PathBuf};

fn configs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs")
}

/// Every `*.toml` file of `configs/`, sorted.
fn config_files() -> Vec<PathBuf> {
    let dir = configs_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

fn load(name: &str) -> TrainConfig {
    let path = configs_dir().join(format!("{name}.toml"));
    TrainConfig::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_config_parses() {
    let files = config_files();
    for file in &files {
        if let Err(e) = TrainConfig::load(file, &[]) {
            panic!("{e}");
        }
    }
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "dcn_criteo",
        "deepfm_criteo",
        "dlrm_criteo",
        "dlrm_movielens",
        "dlrm_synthetic",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "configs/{want}.toml is missing"
        );
    }
}

#[test]
fn every_key_has_a_comment_above_it() {
    for file in config_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut previous = "";
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            let is_key = !line.is_empty() && !line.starts_with('#') && !line.starts_with('[');
            assert!(
                !is_key || previous.starts_with('#'),
                "{}:{}: `{line}` has no comment above it",
                file.display(),
                n + 1
            );
            previous = line;
        }
    }
}

#[test]
fn the_reference_config_is_the_issue_shape() {
    let c = load("dlrm_synthetic");
    assert_eq!(c.model.kind, ModelKind::Dlrm);
    assert_eq!(c.model.embedding_dim, 64);
    assert_eq!(c.model.bottom_mlp, [512, 256, 64]);
    assert_eq!(c.model.top_mlp, [512, 256, 1]);
    assert_eq!(c.data.batch_size, 2048);
    assert_eq!(c.embeddings.optimizer, SparseOptimizerKind::Sgd);
    assert_eq!(
        c.optimizer.kind,
        cascade_train::config::DenseOptimizerKind::Sgd
    );
}

#[test]
fn criteo_configs_take_log1p_of_the_counts() {
    for (name, kind) in [
        ("dlrm_criteo", ModelKind::Dlrm),
        ("dcn_criteo", ModelKind::Dcn),
        ("deepfm_criteo", ModelKind::Deepfm),
    ] {
        let c = load(name);
        assert_eq!(c.model.kind, kind, "{name}");
        assert_eq!(c.data.dense_transform, DenseTransform::Log1p, "{name}");
    }
}
