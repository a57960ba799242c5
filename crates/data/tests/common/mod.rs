//! Helpers shared by the reader's integration tests: the golden datasets and small MDS datasets
//! written into temporary folders.

#![allow(dead_code)] // Each test file uses its own subset of these helpers.

use cascade_data::{DatasetManifest, DenseFeature, SparseFeature, SplitInfo};
use cascade_mds::{
    Column, Compression, DType, Encoding, HashAlgo, MdsWriter, NdArray, Value, WriterOptions,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The golden MDS datasets written by the Python reference writer.
pub fn golden(name: &str) -> PathBuf {
    let root = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/mds-golden"
    ));
    assert!(
        root.is_dir(),
        "the golden MDS datasets are missing: expected them at {}",
        root.display()
    );
    root.join(name)
}

/// Each line of a golden dataset's `expected.jsonl`.
pub fn expected(name: &str) -> Vec<serde_json::Value> {
    let path = golden(name).join("expected.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
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

/// Writes `n` samples into `dir`: `dense` (2 floats: i, -i), `ids` (a bag of `1 + i % 3` ids
/// `i % 100 + k`), `label` (i % 2) and `user` (`i % 50`), in shards of at most `size_limit` bytes.
pub fn write_dataset(dir: &Path, n: u64, size_limit: u64, zstd: bool) {
    let columns = vec![
        column("dense", "ndarray:float32:2"),
        column("ids", "ndarray:int64"),
        column("label", "int"),
        column("user", "int64"),
    ];
    let options = WriterOptions {
        compression: zstd.then_some(Compression::Zstd(None)),
        hashes: vec![HashAlgo::Xxh64],
        size_limit,
    };
    let mut writer = MdsWriter::create(dir, columns, options).unwrap();
    for i in 0..n {
        let dense: Vec<u8> = [i as f32, -(i as f32)]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let bag = 1 + (i % 3) as usize;
        let ids: Vec<u8> = (0..bag as i64)
            .flat_map(|k| ((i % 100) as i64 + k).to_le_bytes())
            .collect();
        // Stored (name-sorted) order: dense, ids, label, user.
        writer
            .write(&[
                array(DType::F32, &dense, 2),
                array(DType::I64, &ids, bag),
                Value::Int((i % 2) as i64),
                Value::Int((i % 50) as i64),
            ])
            .unwrap();
    }
    writer.finish().unwrap();
}

/// The manifest of datasets from [`write_dataset`], with one split `train` in `train/`.
pub fn manifest(samples: u64) -> DatasetManifest {
    let mut splits = BTreeMap::new();
    splits.insert(
        "train".to_string(),
        SplitInfo {
            path: "train".into(),
            samples,
        },
    );
    DatasetManifest {
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
                name: "ids".into(),
                column: "ids".into(),
                cardinality: 102,
                vocab: None,
                multi_hot: true,
            },
            SparseFeature {
                name: "user".into(),
                column: "user".into(),
                cardinality: 50,
                vocab: None,
                multi_hot: false,
            },
        ],
        extra: Default::default(),
    }
}
