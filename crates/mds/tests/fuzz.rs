//! Property tests: no input (arbitrary bytes, or valid shards and indexes with random damage)
//! makes the index parser, the shard parser or the value decoders panic; damage is reported as
//! an error.

use cascade_mds::{
    Column, Compression, Encoding, Index, MdsWriter, Shard, ShardMeta, Value, WriterOptions,
};
use proptest::prelude::*;
use std::path::Path;

/// A small valid dataset (one shard) with variable- and fixed-size columns; returns its index
/// entry and the stored shard bytes.
fn valid_shard(compression: Option<Compression>) -> (ShardMeta, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let columns = vec![
        Column::new("a", "int").unwrap(),
        Column::new("b", "str").unwrap(),
        Column::new("c", "ndarray").unwrap(),
        Column::new("d", "ndarray:float32:2").unwrap(),
        Column::new("e", "json").unwrap(),
    ];
    let options = WriterOptions {
        compression,
        hashes: vec![],
        size_limit: 0,
    };
    let mut w = MdsWriter::create(dir.path(), columns, options).unwrap();
    for i in 0..6i64 {
        let arr = cascade_mds::NdArray::from_i64(&vec![i; 1 + i as usize]);
        w.write(&[
            Value::Int(i),
            Value::Str("x".repeat(i as usize)),
            arr.into(),
            cascade_mds::NdArray::from_f32(&[i as f32, 0.5]).into(),
            Value::Json(serde_json::json!({"k": i})),
        ])
        .unwrap();
    }
    let index = w.finish().unwrap();
    let meta = index.shards[0].clone();
    let bytes = std::fs::read(dir.path().join(&meta.stored().basename)).unwrap();
    (meta, bytes)
}

/// Opens `bytes` as the shard `meta` describes (sizes adjusted so parsing is reached) and
/// decodes everything; must never panic.
fn exercise(meta: &ShardMeta, bytes: Vec<u8>) {
    let mut meta = meta.clone();
    match &mut meta.zip_data {
        Some(z) => z.bytes = bytes.len() as u64,
        None => meta.raw_data.bytes = bytes.len() as u64,
    }
    if let Ok(shard) = Shard::from_stored_bytes(Path::new("fuzz.mds"), &meta, bytes) {
        for i in 0..shard.len() + 1 {
            if let Ok(sample) = shard.sample(i) {
                let _ = sample.decode(shard.columns());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn index_parser_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Index::parse(Path::new("index.json"), &bytes);
    }

    #[test]
    fn index_parser_never_panics_on_mutated_index(at in 0usize..2000, with in any::<u8>(), cut in 0usize..2000) {
        let (meta, _) = valid_shard(None);
        let index = Index { shards: vec![meta], version: 2 };
        let mut text = index.to_json_bytes();
        let at = at % text.len();
        text[at] = with;
        text.truncate(cut.max(at + 1));
        let _ = Index::parse(Path::new("index.json"), &text);
    }

    #[test]
    fn shard_parser_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let (meta, _) = valid_shard(None);
        exercise(&meta, bytes.clone());
        let (zmeta, _) = valid_shard(Some(Compression::Zstd(None)));
        exercise(&zmeta, bytes);
    }

    #[test]
    fn shard_parser_never_panics_on_mutated_shards(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<usize>()),
        compressed in any::<bool>(),
    ) {
        let (meta, mut bytes) = valid_shard(compressed.then_some(Compression::Snappy));
        if compressed {
            // Damage the uncompressed bytes, then re-compress, to reach the shard parser.
            let raw = Compression::Snappy.decompress(Path::new("x"), &bytes).unwrap();
            let mut raw = raw;
            for (at, with) in &edits {
                let n = raw.len();
                raw[at % n] = *with;
            }
            if let Some(c) = cut { raw.truncate(c % (raw.len() + 1)); }
            let mut meta = meta.clone();
            meta.raw_data.bytes = raw.len() as u64;
            exercise(&meta, Compression::Snappy.compress(&raw).unwrap());
        } else {
            for (at, with) in &edits {
                let n = bytes.len();
                bytes[at % n] = *with;
            }
            if let Some(c) = cut { bytes.truncate(c % (bytes.len() + 1)); }
            exercise(&meta, bytes);
        }
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        for text in ["int", "int8", "uint32", "float16", "float64", "str", "bytes", "json",
                     "ndarray", "ndarray:int16", "ndarray:float32:2,2"] {
            let enc = Encoding::parse(text).unwrap();
            if let Ok(v) = enc.decode("x", &bytes) {
                // What decodes and encodes again (the writer refuses some layouts the reader
                // tolerates, such as 0-dimensional arrays) decodes to the same value.
                let mut out = Vec::new();
                if enc.encode("x", &v, &mut out).is_ok() {
                    prop_assert_eq!(enc.decode("x", &out).unwrap().to_json(), v.to_json(), "{}", text);
                }
            }
        }
    }
}

#[test]
fn every_damaged_byte_of_a_shard_is_an_error_or_decodes() {
    // Exhaustive single-byte damage of the header region, with the offsets a panic would need.
    let (meta, bytes) = valid_shard(None);
    for at in 0..bytes.len().min(120) {
        for with in [0u8, 1, 0x7f, 0xff] {
            let mut b = bytes.clone();
            b[at] = with;
            exercise(&meta, b);
        }
    }
}
