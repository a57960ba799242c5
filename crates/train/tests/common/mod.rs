//! Helpers shared by the training tests: a small dataset with a planted signal, written through
//! the MDS writer, and a configuration small enough to train in well under a second.

#![allow(dead_code)] // Each test file uses its own subset of these helpers.

use cascade_data::{DatasetManifest, DenseFeature, SparseFeature, SplitInfo};
use cascade_mds::{Column, DType, Encoding, MdsWriter, NdArray, Value, WriterOptions};
use cascade_train::TrainConfig;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Rows of the `train` split of [`planted`]; the `test` split has a quarter of that.
pub const TRAIN_ROWS: u64 = 3000;
/// Cardinality of the `item` feature (index 0 is never used, as with vocabularies).
const ITEMS: u64 = 41;
/// Cardinality of the multi-hot `tags` feature.
const TAGS: u64 = 11;

/// A deterministic xorshift generator, so the data never depends on another crate's RNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly standard normal (sum of 12 uniforms).
    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0
    }
}

fn column(name: &str, encoding: &str) -> Column {
    Column {
        name: name.into(),
        encoding: Encoding::parse(encoding).unwrap(),
    }
}

fn array(dtype: DType, values: &[u8], len: usize) -> Value {
    Value::Array(NdArray {
        dtype,
        shape: vec![len],
        data: values.to_vec(),
    })
}

/// The planted model: the label is 1 with probability sigmoid(1.5 * signal + item effect +
/// tag effect); `noise` carries no signal. Its AUC ceiling is about 0.85.
fn item_effect(item: u64) -> f64 {
    ((item * 37 % 17) as f64 - 8.0) / 4.0
}

/// Writes a dataset with a planted signal into `dir`: dense `[signal, noise]` (recorded as
/// source columns `signal` and `noise`), a scalar `item` id, a multi-hot `tags` bag of 1–3 ids
/// and a 0/1 `label`; splits `train` ([`TRAIN_ROWS`]) and `test`. `poison = Some((i, v))`
/// writes `v` (NaN, say) as the `noise` value of train sample `i`.
pub fn planted(dir: &Path, poison: Option<(u64, f32)>) -> PathBuf {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut splits = BTreeMap::new();
    for (split, rows) in [("train", TRAIN_ROWS), ("test", TRAIN_ROWS / 4)] {
        let columns = vec![
            column("dense", "ndarray:float32:2"),
            column("item", "int"),
            column("label", "int"),
            column("tags", "ndarray:int64"),
        ];
        let split_dir = dir.join(split);
        std::fs::create_dir_all(&split_dir).unwrap();
        let mut writer = MdsWriter::create(&split_dir, columns, WriterOptions::default()).unwrap();
        for i in 0..rows {
            let signal = rng.normal();
            let noise = match poison {
                Some((at, value)) if split == "train" && at == i => f64::from(value),
                _ => rng.normal(),
            };
            let item = 1 + rng.next() % (ITEMS - 1);
            let bag = 1 + (rng.next() % 3) as usize;
            let tags: Vec<u64> = (0..bag).map(|_| 1 + rng.next() % (TAGS - 1)).collect();
            let tag_effect: f64 = tags
                .iter()
                .map(|&t| if t % 2 == 0 { 0.4 } else { -0.4 })
                .sum();
            let z = 1.5 * signal + item_effect(item) + tag_effect;
            let label = i64::from(rng.uniform() < 1.0 / (1.0 + (-z).exp()));
            let dense: Vec<u8> = [signal as f32, noise as f32]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            let tag_bytes: Vec<u8> = tags
                .iter()
                .flat_map(|&t| (t as i64).to_le_bytes())
                .collect();
            // Stored (name-sorted) order: dense, item, label, tags.
            writer
                .write(&[
                    array(DType::F32, &dense, 2),
                    Value::Int(item as i64),
                    Value::Int(label),
                    array(DType::I64, &tag_bytes, bag),
                ])
                .unwrap();
        }
        writer.finish().unwrap();
        splits.insert(
            split.to_string(),
            SplitInfo {
                path: split.into(),
                samples: rows,
            },
        );
    }
    let mut extra = serde_json::Map::new();
    extra.insert(
        "dense_columns".into(),
        serde_json::json!(["signal", "noise"]),
    );
    let manifest = DatasetManifest {
        version: cascade_data::manifest::MANIFEST_VERSION,
        source: "test".into(),
        splits,
        label: Some("label".into()),
        dense: vec![DenseFeature {
            column: "dense".into(),
            width: 2,
        }],
        sparse: vec![
            SparseFeature {
                name: "item".into(),
                column: "item".into(),
                cardinality: ITEMS,
                vocab: None,
                multi_hot: false,
            },
            SparseFeature {
                name: "tags".into(),
                column: "tags".into(),
                cardinality: TAGS,
                vocab: None,
                multi_hot: true,
            },
        ],
        extra,
    };
    manifest.save(dir).unwrap();
    dir.to_path_buf()
}

/// A small configuration of `kind` on the dataset `data`, with `overrides` (`key=value`).
pub fn small_config(kind: &str, data: &Path, overrides: &[&str]) -> TrainConfig {
    let text = format!(
        r#"
[data]
path = "{}"
batch_size = 64
[model]
kind = "{kind}"
embedding_dim = 8
bottom_mlp = [16, 8]
top_mlp = [16, 1]
[embeddings]
optimizer = "rowwise_adagrad"
learning_rate = 0.05
[optimizer]
kind = "adam"
learning_rate = 0.005
[train]
epochs = 2
seed = 7
threads = 1
log_every = 10
"#,
        data.display()
    );
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    TrainConfig::parse("small.toml", &text, &overrides).unwrap()
}

/// The bytes of every file of the model in `run`'s latest checkpoint, by file name.
pub fn model_files(run: &Path) -> BTreeMap<String, Vec<u8>> {
    let checkpoints = run.join("checkpoints");
    let latest = std::fs::read_to_string(checkpoints.join("latest")).unwrap();
    let model = checkpoints.join(latest.trim()).join("model");
    std::fs::read_dir(&model)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Makes `run` look interrupted right after the checkpoint of step `cut`: later checkpoints are
/// deleted and `latest` names that one, as a kill at that moment would leave the folder.
pub fn interrupt_at(run: &Path, cut: u64) {
    let checkpoints = run.join("checkpoints");
    let name = format!("step-{cut:010}");
    assert!(
        checkpoints.join(&name).is_dir(),
        "no checkpoint at step {cut}"
    );
    for entry in std::fs::read_dir(&checkpoints).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if file.starts_with("step-") && file > name {
            std::fs::remove_dir_all(&path).unwrap();
        }
    }
    std::fs::write(checkpoints.join("latest"), &name).unwrap();
}
