//! Helpers shared by the conversion tests: the real data folder, running a conversion with
//! default options, and reading a written split back sample by sample.

#![allow(dead_code)]

use cascade_convert::{
    ColumnMapping, ConvertContext, ConvertOptions, ConvertReport, Format, LabelRule, OutputOptions,
    SplitSpec,
};
use cascade_mds::{Compression, HashAlgo, Index, Shard, Value, WriterOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The shared real-data folder; a test fails with a clear message when it is missing.
pub fn data(relative: &str) -> PathBuf {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    let path = root.join(relative);
    assert!(
        path.exists(),
        "real test data {} is missing: these tests need the shared data folder next to the repository",
        path.display()
    );
    path
}

/// Conversion options with the CLI's defaults (mean-rating labels, no split, zstd, xxh64).
pub fn options(format: Format, input: &Path, out: &Path) -> ConvertOptions {
    ConvertOptions {
        format,
        context: ConvertContext {
            input: input.to_path_buf(),
            label: LabelRule::MeanRating,
            skip_bad_rows: false,
            hash_buckets: None,
            mapping: ColumnMapping::default(),
        },
        output: OutputOptions {
            out: out.to_path_buf(),
            force: false,
            split: SplitSpec::None,
            seed: 0,
            writer: WriterOptions {
                compression: Some(Compression::Zstd(None)),
                hashes: vec![HashAlgo::Xxh64],
                ..WriterOptions::default()
            },
        },
    }
}

/// Runs a conversion that must succeed.
pub fn convert(options: &ConvertOptions) -> ConvertReport {
    match cascade_convert::convert(options) {
        Ok(report) => report,
        Err(e) => panic!("conversion failed: {e}"),
    }
}

/// Every sample of the MDS dataset in `dir`, as column name → value.
pub fn read_all(dir: &Path) -> Vec<BTreeMap<String, Value>> {
    let index = Index::load(dir).unwrap();
    let columns = index.columns().unwrap();
    let mut samples = Vec::new();
    for meta in &index.shards {
        let shard = Shard::open(dir, meta).unwrap();
        for i in 0..shard.len() {
            let values = shard.sample(i).unwrap().decode(&columns).unwrap();
            samples.push(columns.iter().map(|c| c.name.clone()).zip(values).collect());
        }
    }
    samples
}

/// An `int` value.
pub fn int(sample: &BTreeMap<String, Value>, column: &str) -> i64 {
    match &sample[column] {
        Value::Int(v) => *v,
        other => panic!("{column} is not an int: {other:?}"),
    }
}

/// An `ndarray` value's elements as i64.
pub fn ints(sample: &BTreeMap<String, Value>, column: &str) -> Vec<i64> {
    match &sample[column] {
        Value::Array(a) => a
            .data
            .chunks(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        other => panic!("{column} is not an array: {other:?}"),
    }
}

/// An `ndarray:float32` value's elements.
pub fn floats(sample: &BTreeMap<String, Value>, column: &str) -> Vec<f32> {
    match &sample[column] {
        Value::Array(a) => a
            .data
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        other => panic!("{column} is not an array: {other:?}"),
    }
}
