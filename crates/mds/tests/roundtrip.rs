//! Write-then-read round trips over every encoding, compression and digest, shard splitting by
//! `size_limit`, sub-folder shard names, and the errors for bad values and corrupt files.

use cascade_mds::{
    Column, Compression, DType, Encoding, HashAlgo, Index, MdsError, MdsWriter, NdArray, Shard,
    Value, WriterOptions, verify_dataset,
};
use std::path::Path;

/// One column per encoding family, including every ndarray header variant.
fn all_columns() -> Vec<Column> {
    let mut cols = vec![
        Column::new("int", "int").unwrap(),
        Column::new("str", "str").unwrap(),
        Column::new("bytes", "bytes").unwrap(),
        Column::new("json", "json").unwrap(),
        Column::new("nd_any", "ndarray").unwrap(),
        Column::new("nd_dtype", "ndarray:uint16").unwrap(),
        Column::new("nd_fixed", "ndarray:float32:2,3").unwrap(),
    ];
    for d in DType::ALL {
        cols.push(Column::new(format!("s_{d}"), d.name()).unwrap());
    }
    cols
}

/// A deterministic value of `column` for sample `i`.
fn value(column: &Column, i: usize) -> Value {
    let k = i as i64;
    match &column.encoding {
        Encoding::Int => Value::Int(k * 1_000_003 - 7_000_000_000),
        Encoding::Str => Value::Str(format!("é{i}\u{1F600}\n\"").repeat(i % 4)),
        Encoding::Bytes => Value::Bytes((0..i % 7).map(|b| (b * 37 + i) as u8).collect()),
        Encoding::Json => {
            Value::Json(serde_json::json!({"i": k, "f": k as f64 / 3.0, "s": [null, true, "x"]}))
        }
        Encoding::Scalar(d) => match d {
            d if d.is_float() => Value::Float(k as f64 * 0.5 - 3.0),
            d if d.is_signed_int() => Value::Int(-(k % 100)),
            _ => Value::UInt(k as u64 % 200),
        },
        Encoding::NdArray { dtype: None, .. } => {
            // Cycle through dtypes and ranks, with one dimension wide enough to need a u16.
            let dtype = DType::ALL[i % DType::ALL.len()];
            let shape = if i.is_multiple_of(3) {
                vec![300]
            } else {
                vec![1 + i % 2, 2, 1 + i % 4]
            };
            let n: usize = shape.iter().product();
            let data = (0..n * dtype.size()).map(|b| match dtype {
                d if d.is_float() => 0,
                _ => (b * 13 + i) as u8,
            });
            NdArray {
                dtype,
                shape,
                data: data.collect(),
            }
            .into()
        }
        Encoding::NdArray {
            dtype: Some(DType::U16),
            shape: None,
        } => {
            let vals: Vec<u8> = (0..=i % 5)
                .flat_map(|v| (v as u16 * 1000).to_le_bytes())
                .collect();
            NdArray {
                dtype: DType::U16,
                shape: vec![vals.len() / 2],
                data: vals,
            }
            .into()
        }
        Encoding::NdArray { .. } => {
            let v: Vec<f32> = (0..6).map(|j| (i * 6 + j) as f32 / 8.0).collect();
            NdArray {
                shape: vec![2, 3],
                ..NdArray::from_f32(&v)
            }
            .into()
        }
    }
}

/// Writes `n` samples, reads them all back, and checks equality and `verify_dataset`.
fn round_trip(dir: &Path, options: WriterOptions, n: usize) -> Index {
    let mut writer = MdsWriter::create(dir, all_columns(), options).unwrap();
    let columns = writer.columns().to_vec();
    let samples: Vec<Vec<Value>> = (0..n)
        .map(|i| columns.iter().map(|c| value(c, i)).collect())
        .collect();
    for s in &samples {
        writer.write(s).unwrap();
    }
    let index = writer.finish().unwrap();
    assert_eq!(Index::load(dir).unwrap(), index);
    let mut got = Vec::new();
    for meta in &index.shards {
        let shard = Shard::open(dir, meta).unwrap();
        assert_eq!(shard.columns(), columns.as_slice());
        for i in 0..shard.len() {
            got.push(shard.sample(i).unwrap().decode(&columns).unwrap());
        }
    }
    assert_eq!(got, samples);
    let report = verify_dataset(dir).unwrap();
    assert_eq!(report.samples, n as u64);
    index
}

#[test]
fn every_compression_and_hash_round_trips() {
    let compressions = [
        None,
        Some("zstd"),
        Some("zstd:19"),
        Some("gz"),
        Some("bz2:1"),
        Some("snappy"),
        Some("br:5"),
    ];
    for (k, c) in compressions.into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let options = WriterOptions {
            compression: c.map(|c| Compression::parse(c).unwrap()),
            hashes: HashAlgo::ALL.to_vec(),
            size_limit: 1 << 12,
        };
        let index = round_trip(dir.path(), options, 60 + k);
        assert!(
            index.shards.len() > 3,
            "{c:?}: the small size limit should split shards"
        );
        for s in &index.shards {
            assert_eq!(s.hashes.len(), HashAlgo::ALL.len());
            if let Some(zip) = &s.zip_data {
                assert!(
                    zip.basename
                        .ends_with(c.unwrap().split(':').next().unwrap())
                );
            }
        }
    }
}

#[test]
fn size_limit_is_honoured_like_the_python_writer() {
    let dir = tempfile::tempdir().unwrap();
    let limit = 5_000;
    let options = WriterOptions {
        compression: None,
        hashes: vec![],
        size_limit: limit,
    };
    let index = round_trip(dir.path(), options, 200);
    for (i, s) in index.shards.iter().enumerate() {
        // The writer's estimate counts 4 bytes per sample but the file has one extra offset.
        assert!(
            s.raw_data.bytes <= limit + 4,
            "shard {i} has {} bytes",
            s.raw_data.bytes
        );
        if i + 1 < index.shards.len() {
            assert!(
                s.raw_data.bytes > limit / 2,
                "shard {i} is needlessly small"
            );
        }
    }
    // No limit: one shard.
    let dir = tempfile::tempdir().unwrap();
    let options = WriterOptions {
        compression: None,
        hashes: vec![],
        size_limit: 0,
    };
    let index = round_trip(dir.path(), options, 50);
    assert_eq!(index.shards.len(), 1);
    assert_eq!(index.shards[0].size_limit, None);
}

#[test]
fn an_oversized_sample_gets_its_own_shard() {
    let dir = tempfile::tempdir().unwrap();
    let cols = vec![Column::new("b", "bytes").unwrap()];
    let options = WriterOptions {
        size_limit: 400,
        ..Default::default()
    };
    let mut w = MdsWriter::create(dir.path(), cols, options).unwrap();
    for len in [10, 1000, 10] {
        w.write(&[Value::Bytes(vec![7; len])]).unwrap();
    }
    let index = w.finish().unwrap();
    let counts: Vec<u64> = index.shards.iter().map(|s| s.samples).collect();
    assert_eq!(counts, [1, 1, 1]);
}

#[test]
fn shards_in_sub_folders_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let options = WriterOptions {
        compression: Some(Compression::Zstd(None)),
        hashes: vec![HashAlgo::Xxh64],
        size_limit: 1 << 12,
    };
    let mut index = round_trip(dir.path(), options, 30);
    std::fs::create_dir(dir.path().join("0")).unwrap();
    for s in &mut index.shards {
        let zip = s.zip_data.as_mut().unwrap();
        let moved = format!("0/{}", zip.basename);
        std::fs::rename(dir.path().join(&zip.basename), dir.path().join(&moved)).unwrap();
        zip.basename = moved;
    }
    std::fs::remove_file(dir.path().join("index.json")).unwrap();
    index.save(dir.path()).unwrap();
    assert_eq!(verify_dataset(dir.path()).unwrap().samples, 30);
}

#[test]
fn corrupt_shard_is_a_hash_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let options = WriterOptions {
        compression: None,
        hashes: vec![HashAlgo::Sha256, HashAlgo::Xxh3_64],
        size_limit: 1 << 12,
    };
    let index = round_trip(dir.path(), options, 40);
    let name = &index.shards[1].raw_data.basename;
    let path = dir.path().join(name);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    for err in [
        Shard::open(dir.path(), &index.shards[1]).unwrap_err(),
        verify_dataset(dir.path()).unwrap_err(),
    ] {
        assert!(matches!(err, MdsError::Hash { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains(name.as_str()) && text.contains("sha256"),
            "{text}"
        );
    }
    // Truncated: a size error naming the file.
    std::fs::write(&path, &bytes[..mid]).unwrap();
    let err = verify_dataset(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains(name.as_str()) && err.contains("bytes"),
        "{err}"
    );
}

#[test]
fn corrupt_compressed_shard_without_hashes_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let options = WriterOptions {
        compression: Some(Compression::Gzip(None)),
        hashes: vec![],
        size_limit: 0,
    };
    let index = round_trip(dir.path(), options, 20);
    let name = &index.shards[0].zip_data.as_ref().unwrap().basename;
    let path = dir.path().join(name);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let err = verify_dataset(dir.path()).unwrap_err().to_string();
    assert!(err.contains(name.as_str()), "{err}");
}

#[test]
fn bad_values_are_errors_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let cols = vec![
        Column::new("a", "int8").unwrap(),
        Column::new("b", "ndarray:float32:2").unwrap(),
        Column::new("c", "str").unwrap(),
    ];
    let mut w = MdsWriter::create(dir.path(), cols, WriterOptions::default()).unwrap();
    let arr = Value::Array(NdArray::from_f32(&[1.0, 2.0]));
    let cases = [
        (
            vec![Value::Int(300), arr.clone(), Value::Str("x".into())],
            "\"a\"",
            "out of range",
        ),
        (
            vec![Value::Str("1".into()), arr.clone(), Value::Str("x".into())],
            "\"a\"",
            "cannot be stored",
        ),
        (
            vec![
                Value::Int(1),
                Value::Array(NdArray::from_f32(&[1.0])),
                Value::Str("x".into()),
            ],
            "\"b\"",
            "shape",
        ),
        (
            vec![
                Value::Int(1),
                Value::Array(NdArray::from_i64(&[1, 2])),
                Value::Str("x".into()),
            ],
            "\"b\"",
            "dtype",
        ),
        (
            vec![Value::Int(1), arr.clone(), Value::Bytes(vec![1])],
            "\"c\"",
            "cannot be stored",
        ),
    ];
    for (sample, column, what) in cases {
        let err = w.write(&sample).unwrap_err().to_string();
        assert!(err.contains(column) && err.contains(what), "{err}");
    }
    let err = w.write(&[Value::Int(1)]).unwrap_err().to_string();
    assert!(err.contains("3 columns"), "{err}");
    let err = w
        .write_encoded(&[&[1, 2], &[0; 8], b"x"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("exactly 1"), "{err}");
    w.write(&[Value::Int(-128), arr, Value::Str(String::new())])
        .unwrap();
    assert_eq!(w.finish().unwrap().num_samples(), 1);
    let err = MdsWriter::create(dir.path(), all_columns(), WriterOptions::default()).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
}

#[test]
fn encodings_parse_and_print_and_refuse_pickle() {
    for text in [
        "int",
        "int8",
        "uint64",
        "float16",
        "str",
        "bytes",
        "json",
        "ndarray",
        "ndarray:int32",
        "ndarray:float64:3,1,4",
    ] {
        assert_eq!(Encoding::parse(text).unwrap().to_string(), text);
    }
    let err = Encoding::parse("pkl").unwrap_err().to_string();
    assert!(
        err.contains("\"pkl\"") && err.contains("Python code"),
        "{err}"
    );
    for bad in [
        "jpeg",
        "ndarray:complex64",
        "ndarray:int8:0",
        "ndarray:int8:x",
        "int:3",
        "float128",
    ] {
        let err = Encoding::parse(bad).unwrap_err().to_string();
        assert!(err.contains(&format!("{bad:?}")), "{err}");
    }
    assert_eq!(
        Encoding::parse("ndarray:float32:13").unwrap().fixed_size(),
        Some(52)
    );
    assert_eq!(
        Encoding::parse("ndarray:float32").unwrap().fixed_size(),
        None
    );
}

#[test]
fn dynamic_ndarray_bytes_match_the_python_layout() {
    // ndarray (no dtype, no shape) of int16 [[1, 2, 3]]: dtype byte 17, then (2 << 2 | 0), the
    // dims 1 and 3 as u8, then the elements.
    let a = NdArray {
        dtype: DType::I16,
        shape: vec![1, 3],
        data: vec![1, 0, 2, 0, 3, 0],
    };
    let mut out = Vec::new();
    Encoding::parse("ndarray")
        .unwrap()
        .encode("x", &a.clone().into(), &mut out)
        .unwrap();
    assert_eq!(out, [17, 8, 1, 3, 1, 0, 2, 0, 3, 0]);
    // A 300-long dimension needs u16 dims: (1 << 2 | 1), then 300 little-endian.
    let b = NdArray {
        dtype: DType::U8,
        shape: vec![300],
        data: vec![9; 300],
    };
    let mut out = Vec::new();
    Encoding::parse("ndarray:uint8")
        .unwrap()
        .encode("x", &b.clone().into(), &mut out)
        .unwrap();
    assert_eq!(&out[..3], [5, 44, 1]);
    let enc = Encoding::parse("ndarray:uint8").unwrap();
    assert_eq!(enc.decode("x", &out).unwrap(), Value::Array(b));
    // Truncated headers and unknown dtype bytes are errors, not panics.
    let any = Encoding::parse("ndarray").unwrap();
    for bad in [
        &[][..],
        &[17],
        &[17, 8, 1],
        &[99, 4, 1, 0],
        &[17, 8, 1, 3, 1, 0],
    ] {
        assert!(any.decode("x", bad).is_err(), "{bad:?}");
    }
}

#[test]
fn numeric_views_read_typed_values() {
    let enc = Encoding::parse("ndarray:int32").unwrap();
    let mut bytes = Vec::new();
    let a = NdArray {
        dtype: DType::I32,
        shape: vec![3],
        data: [-1i32, 5, 7].iter().flat_map(|v| v.to_le_bytes()).collect(),
    };
    enc.encode("ids", &a.into(), &mut bytes).unwrap();
    let view = enc.numeric("ids", &bytes).unwrap();
    let mut ids = Vec::new();
    view.extend_i64("ids", &mut ids).unwrap();
    assert_eq!(ids, [-1, 5, 7]);
    let mut floats = Vec::new();
    view.extend_f32(&mut floats);
    assert_eq!(floats, [-1.0, 5.0, 7.0]);
    let f16 = Encoding::parse("float16").unwrap();
    let err = f16
        .numeric("f", &[0, 60])
        .unwrap()
        .extend_i64("f", &mut ids)
        .unwrap_err();
    assert!(err.to_string().contains("\"f\""), "{err}");
    assert!(Encoding::Str.numeric("s", b"x").is_err());
}

#[test]
fn an_unpacked_shard_stands_in_for_a_missing_archive() {
    let dir = tempfile::tempdir().unwrap();
    let options = WriterOptions {
        compression: Some(Compression::Bzip2(None)),
        hashes: vec![HashAlgo::Sha1],
        size_limit: 1 << 12,
    };
    let index = round_trip(dir.path(), options, 25);
    let meta = &index.shards[0];
    let zip = dir.path().join(&meta.zip_data.as_ref().unwrap().basename);
    let raw = Compression::Bzip2(None)
        .decompress(&zip, &std::fs::read(&zip).unwrap())
        .unwrap();
    std::fs::write(dir.path().join(&meta.raw_data.basename), &raw).unwrap();
    std::fs::remove_file(&zip).unwrap();
    assert_eq!(
        Shard::open(dir.path(), meta).unwrap().len() as u64,
        meta.samples
    );
    assert_eq!(verify_dataset(dir.path()).unwrap().samples, 25);
    // With neither file, the error names the archive.
    std::fs::remove_file(dir.path().join(&meta.raw_data.basename)).unwrap();
    let err = verify_dataset(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains(&meta.zip_data.as_ref().unwrap().basename),
        "{err}"
    );
}

/// Every file under `dir` (name → bytes).
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

#[test]
fn bulk_fixed_samples_write_the_same_shards_as_one_sample_at_a_time() {
    let columns = || {
        vec![
            Column::new("label", "int").unwrap(),
            Column::new("dense", "ndarray:float32:3").unwrap(),
            Column::new("id", "uint16").unwrap(),
        ]
    };
    // 8 + 12 + 2 bytes a sample; limits that split shards mid-batch, exactly at a sample, and
    // one smaller than a sample (every sample its own shard).
    let sample = 22usize;
    let samples: Vec<u8> = (0..1000 * sample).map(|i| (i * 31 % 253) as u8).collect();
    for (limit, compression) in [
        (0, None),
        (1 << 12, None),
        (1 << 12, Some(Compression::Zstd(None))),
        (400, None),
        (10, None),
    ] {
        let options = WriterOptions {
            compression,
            hashes: vec![HashAlgo::Xxh64, HashAlgo::Sha1],
            size_limit: limit,
        };
        let (one, bulk) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut w = MdsWriter::create(one.path(), columns(), options.clone()).unwrap();
        for s in samples.chunks(sample) {
            // Stored order: dense (12), id (2), label (8).
            w.write_encoded(&[&s[..12], &s[12..14], &s[14..]]).unwrap();
        }
        w.finish().unwrap();
        let mut w = MdsWriter::create(bulk.path(), columns(), options).unwrap();
        assert_eq!(w.fixed_sample_size(), Some(sample));
        let mut written = 0;
        for part in [
            &samples[..7 * sample],
            &samples[7 * sample..7 * sample],
            &samples[7 * sample..],
        ] {
            written += w.write_fixed_samples(part).unwrap();
        }
        assert_eq!(written, 1000);
        assert!(w.write_fixed_samples(&samples[..5]).is_err());
        w.finish().unwrap();
        assert_eq!(files(one.path()), files(bulk.path()), "size_limit {limit}");
        verify_dataset(bulk.path()).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let variable = vec![Column::new("s", "str").unwrap()];
    let mut w = MdsWriter::create(dir.path(), variable, WriterOptions::default()).unwrap();
    assert_eq!(w.fixed_sample_size(), None);
    assert!(w.write_fixed_samples(b"abc").is_err());
}
