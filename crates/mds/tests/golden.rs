//! The golden datasets written by `mosaicml-streaming` 0.13: every sample must decode to exactly
//! the values in `expected.jsonl`, and writing those samples again with the same options must
//! reproduce the Python writer's shard bytes and `index.json`.

use cascade_mds::{
    Column, Compression, DType, Encoding, HashAlgo, Index, MdsWriter, NdArray, Shard, Value,
    WriterOptions, verify_dataset,
};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

const DATASETS: [&str; 3] = ["two_tower_zstd", "dlrm_plain", "scalars_zstd"];

/// A golden dataset folder; fails loudly when the shared data is missing.
fn golden(name: &str) -> PathBuf {
    let root = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/mds-golden"
    ));
    let dir = root.join(name);
    assert!(
        dir.join("index.json").is_file(),
        "golden MDS data missing at {}; these tests need the shared data folder",
        dir.display()
    );
    dir
}

/// The lines of `expected.jsonl`.
fn expected(dir: &Path) -> Vec<serde_json::Map<String, Json>> {
    let text = std::fs::read_to_string(dir.join("expected.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every sample of a dataset, decoded, in index order.
fn read_all(dir: &Path) -> (Index, Vec<Vec<Value>>) {
    let index = Index::load(dir).unwrap();
    let mut samples = Vec::new();
    for meta in &index.shards {
        let shard = Shard::open(dir, meta).unwrap();
        for i in 0..shard.len() {
            samples.push(shard.sample(i).unwrap().decode(shard.columns()).unwrap());
        }
    }
    (index, samples)
}

#[test]
fn reader_reproduces_every_golden_sample() {
    for name in DATASETS {
        let dir = golden(name);
        let (index, samples) = read_all(&dir);
        let columns = index.columns().unwrap();
        let want = expected(&dir);
        assert_eq!(samples.len(), want.len(), "{name}: sample count");
        assert_eq!(index.num_samples() as usize, want.len(), "{name}");
        for (i, (got, want)) in samples.iter().zip(&want).enumerate() {
            assert_eq!(want.len(), columns.len(), "{name} sample {i}: column count");
            for (c, v) in columns.iter().zip(got) {
                assert_eq!(
                    &v.to_json(),
                    &want[&c.name],
                    "{name} sample {i} column {}",
                    c.name
                );
            }
        }
    }
}

#[test]
fn golden_datasets_verify() {
    for name in DATASETS {
        let dir = golden(name);
        let report = verify_dataset(&dir).unwrap();
        let index = Index::load(&dir).unwrap();
        assert_eq!(report.shards, index.shards.len(), "{name}");
        assert_eq!(report.samples, index.num_samples(), "{name}");
        assert!(report.unchecked_hashes.is_empty(), "{name}");
        let listed: usize = index
            .shards
            .iter()
            .map(|s| s.raw_data.hashes.len() + s.zip_data.as_ref().map_or(0, |z| z.hashes.len()))
            .sum();
        assert_eq!(report.hashes_checked, listed, "{name}");
    }
}

/// The value a golden JSON field becomes under `encoding` (the inverse of `Value::to_json`).
fn value_from_json(encoding: &Encoding, json: &Json) -> Value {
    match encoding {
        Encoding::Int => Value::Int(json.as_i64().unwrap()),
        Encoding::Scalar(d) if d.is_float() => Value::Float(json.as_f64().unwrap()),
        Encoding::Scalar(d) if d.is_signed_int() => Value::Int(json.as_i64().unwrap()),
        Encoding::Scalar(_) => Value::UInt(json.as_u64().unwrap()),
        Encoding::Str => Value::Str(json.as_str().unwrap().to_string()),
        Encoding::Bytes => Value::Bytes(
            json.as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_u64().unwrap() as u8)
                .collect(),
        ),
        Encoding::Json => Value::Json(json.clone()),
        Encoding::NdArray { dtype, .. } => {
            let items = json.as_array().unwrap();
            match dtype.unwrap() {
                DType::F32 => Value::Array(NdArray::from_f32(
                    &items
                        .iter()
                        .map(|v| v.as_f64().unwrap() as f32)
                        .collect::<Vec<_>>(),
                )),
                DType::I64 => Value::Array(NdArray::from_i64(
                    &items
                        .iter()
                        .map(|v| v.as_i64().unwrap())
                        .collect::<Vec<_>>(),
                )),
                other => panic!("golden data has no ndarray of {other}"),
            }
        }
    }
}

#[test]
fn writer_reproduces_python_bytes() {
    for name in DATASETS {
        let dir = golden(name);
        let index = Index::load(&dir).unwrap();
        let first = &index.shards[0];
        let options = WriterOptions {
            compression: first
                .compression
                .as_deref()
                .map(|c| Compression::parse(c).unwrap()),
            hashes: first
                .hashes
                .iter()
                .map(|h| HashAlgo::parse(h).unwrap())
                .collect(),
            size_limit: first.size_limit.unwrap_or(0),
        };
        let columns: Vec<Column> = index.columns().unwrap();
        let out = tempfile::tempdir().unwrap();
        let mut writer = MdsWriter::create(out.path(), columns.clone(), options).unwrap();
        for sample in expected(&dir) {
            let values: Vec<Value> = columns
                .iter()
                .map(|c| value_from_json(&c.encoding, &sample[&c.name]))
                .collect();
            writer.write(&values).unwrap();
        }
        let written = writer.finish().unwrap();
        assert_eq!(
            written.shards.len(),
            index.shards.len(),
            "{name}: shard count"
        );
        for (ours, theirs) in written.shards.iter().zip(&index.shards) {
            // The stored file (compressed with the same zstd level, or plain) is byte-identical.
            let stored = &ours.stored().basename;
            assert_eq!(
                std::fs::read(out.path().join(stored)).unwrap(),
                std::fs::read(dir.join(&theirs.stored().basename)).unwrap(),
                "{name}: {stored}"
            );
            // So is the uncompressed shard (the golden folders also hold the unpacked files).
            let shard = Shard::open(out.path(), ours).unwrap();
            assert_eq!(shard.len() as u64, theirs.samples);
            if let Some(c) = ours.compression().unwrap() {
                let zipped = std::fs::read(out.path().join(stored)).unwrap();
                let raw = c.decompress(Path::new(stored), &zipped).unwrap();
                assert_eq!(
                    raw,
                    std::fs::read(dir.join(&theirs.raw_data.basename)).unwrap()
                );
            }
        }
        // And so is index.json, down to key order and separators.
        {
            let ours = std::fs::read(out.path().join("index.json")).unwrap();
            let theirs = std::fs::read(dir.join("index.json")).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(theirs).unwrap(),
                "{name}"
            );
        }
    }
}
