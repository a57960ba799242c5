//! Writes MDS datasets that exercise every encoding, several compressions and digests and a
//! small shard size limit, each with an `expected.jsonl` (every sample in order, in the JSON
//! form of `Value::to_json`), so that the Python reference reader can check it reads exactly
//! what Cascade wrote.
//!
//! Usage: `write_interop OUT_DIR` (creates one sub-folder per dataset).

use cascade_mds::{
    Column, Compression, DType, Encoding, HashAlgo, MdsWriter, NdArray, Value, WriterOptions,
};
use std::io::Write;
use std::path::Path;

/// One dataset to write.
struct Spec {
    /// Sub-folder name.
    name: &'static str,
    /// Compression string, or none.
    compression: Option<&'static str>,
    /// Digests to record.
    hashes: &'static [HashAlgo],
    /// Shard size limit in bytes.
    size_limit: u64,
    /// Number of samples.
    samples: usize,
}

/// The datasets: every compression, a spread of digests, mostly small shards.
const DATASETS: [Spec; 7] = [
    Spec {
        name: "plain",
        compression: None,
        hashes: &[HashAlgo::Md5, HashAlgo::Sha1, HashAlgo::Xxh64],
        size_limit: 4096,
        samples: 120,
    },
    Spec {
        name: "zstd",
        compression: Some("zstd"),
        hashes: &[HashAlgo::Sha256, HashAlgo::Xxh3_64],
        size_limit: 4096,
        samples: 90,
    },
    Spec {
        name: "zstd_7",
        compression: Some("zstd:7"),
        hashes: &[HashAlgo::Xxh128],
        size_limit: 1 << 26,
        samples: 60,
    },
    Spec {
        name: "gz",
        compression: Some("gz"),
        hashes: &[HashAlgo::Xxh32, HashAlgo::Xxh128],
        size_limit: 3000,
        samples: 70,
    },
    Spec {
        name: "bz2",
        compression: Some("bz2:5"),
        hashes: &[HashAlgo::Sha512],
        size_limit: 5000,
        samples: 50,
    },
    Spec {
        name: "snappy",
        compression: Some("snappy"),
        hashes: &[HashAlgo::Md5, HashAlgo::Sha224],
        size_limit: 4096,
        samples: 80,
    },
    Spec {
        name: "br",
        compression: Some("br:4"),
        hashes: &[HashAlgo::Sha384, HashAlgo::Sha1],
        size_limit: 2500,
        samples: 40,
    },
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args_os()
        .nth(1)
        .ok_or("usage: write_interop OUT_DIR")?;
    let out = Path::new(&out);
    for Spec {
        name,
        compression,
        hashes,
        size_limit,
        samples,
    } in DATASETS
    {
        let dir = out.join(name);
        let options = WriterOptions {
            compression: compression.map(Compression::parse).transpose()?,
            hashes: hashes.to_vec(),
            size_limit,
        };
        let mut writer = MdsWriter::create(&dir, columns()?, options)?;
        let columns = writer.columns().to_vec();
        let mut expected = Vec::new();
        for i in 0..samples {
            let sample: Vec<Value> = columns.iter().map(|c| value(c, i)).collect();
            // What a reader must yield is the stored value (a float32 column rounds, ...), so
            // the expectation is the decoded encoding of each value.
            let mut line = serde_json::Map::new();
            for (c, v) in columns.iter().zip(&sample) {
                let mut bytes = Vec::new();
                c.encoding.encode(&c.name, v, &mut bytes)?;
                line.insert(
                    c.name.clone(),
                    c.encoding.decode(&c.name, &bytes)?.to_json(),
                );
            }
            serde_json::to_writer(&mut expected, &line)?;
            expected.push(b'\n');
            writer.write(&sample)?;
        }
        let index = writer.finish()?;
        std::fs::File::create(dir.join("expected.jsonl"))?.write_all(&expected)?;
        println!("{name}: {samples} samples in {} shards", index.shards.len());
    }
    Ok(())
}

/// One column per encoding, with every `ndarray` header variant.
fn columns() -> cascade_mds::Result<Vec<Column>> {
    let mut cols = vec![
        Column::new("int", "int")?,
        Column::new("str", "str")?,
        Column::new("bytes", "bytes")?,
        Column::new("json", "json")?,
        Column::new("nd_any", "ndarray")?,
        Column::new("nd_int32", "ndarray:int32")?,
        Column::new("nd_f32_2x3", "ndarray:float32:2,3")?,
        Column::new("nd_u8_4", "ndarray:uint8:4")?,
    ];
    for d in DType::ALL {
        cols.push(Column::new(format!("s_{d}"), d.name())?);
    }
    Ok(cols)
}

/// A deterministic value of `column` for sample `i`, spanning each type's edge values.
fn value(column: &Column, i: usize) -> Value {
    let k = i as i64;
    match &column.encoding {
        Encoding::Int => Value::Int(match i % 4 {
            0 => i64::MIN + k,
            1 => i64::MAX - k,
            _ => k * 7919 - 100_000,
        }),
        Encoding::Str => {
            Value::Str(["", "plain", "é ü 日本", "emoji 😀 \"quoted\"\n"][i % 4].repeat(1 + i % 3))
        }
        Encoding::Bytes => Value::Bytes((0..(i * 5) % 23).map(|b| (b * 97 + i) as u8).collect()),
        Encoding::Json => Value::Json(serde_json::json!({
            "i": k,
            "f": k as f64 / 7.0,
            "nested": {"list": [k, null, true, "é"], "empty": {}},
        })),
        Encoding::Scalar(d) => scalar(*d, i),
        Encoding::NdArray { dtype: None, .. } => {
            let dtype = DType::ALL[i % DType::ALL.len()];
            let shape = match i % 4 {
                0 => vec![300],
                1 => vec![2, 3],
                2 => vec![1, 2, 2],
                _ => vec![5],
            };
            array(dtype, shape, i)
        }
        Encoding::NdArray {
            dtype: Some(d),
            shape: None,
        } => array(*d, vec![1 + i % 9], i),
        Encoding::NdArray {
            dtype: Some(d),
            shape: Some(s),
        } => array(*d, s.clone(), i),
    }
}

/// A scalar of `dtype` for sample `i`: the type's minimum, maximum, or an ordinary value.
fn scalar(dtype: DType, i: usize) -> Value {
    let k = i as i64;
    let (min, max): (i64, u64) = match dtype {
        DType::I8 => (i8::MIN.into(), i8::MAX as u64),
        DType::I16 => (i16::MIN.into(), i16::MAX as u64),
        DType::I32 => (i32::MIN.into(), i32::MAX as u64),
        DType::I64 => (i64::MIN, i64::MAX as u64),
        DType::U8 => (0, u8::MAX.into()),
        DType::U16 => (0, u16::MAX.into()),
        DType::U32 => (0, u32::MAX.into()),
        DType::U64 => (0, u64::MAX),
        DType::F16 => return Value::Float([0.0, -65504.0, 65504.0, 0.333251953125, 6.1e-5][i % 5]),
        DType::F32 => return Value::Float([0.0, -3.4e38, 1.0e-30, 0.1, k as f64][i % 5]),
        DType::F64 => return Value::Float([0.0, -1.7e308, 5e-324, 0.1, k as f64 / 3.0][i % 5]),
    };
    match (i % 3, dtype.is_signed_int()) {
        (0, true) => Value::Int(min),
        (0, false) => Value::UInt(0),
        (1, true) => Value::Int(max as i64),
        (1, false) => Value::UInt(max),
        (_, true) => Value::Int(k % 100 - 50),
        (_, false) => Value::UInt(i as u64 % 100),
    }
}

/// An array of `dtype` and `shape` with element values that depend on `i`.
fn array(dtype: DType, shape: Vec<usize>, i: usize) -> Value {
    let n: usize = shape.iter().product();
    let mut data = Vec::with_capacity(n * dtype.size());
    for j in 0..n {
        let x = (i * 31 + j * 7) as i64 % 200 - 100;
        match dtype {
            DType::I8 => data.extend_from_slice(&(x as i8).to_le_bytes()),
            DType::I16 => data.extend_from_slice(&((x * 300) as i16).to_le_bytes()),
            DType::I32 => data.extend_from_slice(&((x * 70_000) as i32).to_le_bytes()),
            DType::I64 => data.extend_from_slice(&(x << 40).to_le_bytes()),
            DType::U8 => data.extend_from_slice(&((x + 100) as u8).to_le_bytes()),
            DType::U16 => data.extend_from_slice(&(((x + 100) * 300) as u16).to_le_bytes()),
            DType::U32 => data.extend_from_slice(&(((x + 100) as u32) << 24).to_le_bytes()),
            DType::U64 => data.extend_from_slice(&(((x + 100) as u64) << 56).to_le_bytes()),
            DType::F16 => {
                data.extend_from_slice(&half::f16::from_f64(x as f64 / 8.0).to_le_bytes())
            }
            DType::F32 => data.extend_from_slice(&(x as f32 / 3.0).to_le_bytes()),
            DType::F64 => data.extend_from_slice(&(x as f64 / 7.0).to_le_bytes()),
        }
    }
    Value::Array(NdArray { dtype, shape, data })
}
