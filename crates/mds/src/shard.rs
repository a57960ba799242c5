//! Reading one shard: fetch its stored file, check digests, decompress, validate offsets, and
//! hand out samples as borrowed column slices without copying.
//!
//! Everything read from the file is bounds-checked: a truncated file, an offset past the end,
//! a sample count or column size that does not add up is [`MdsError::Corrupt`] naming the file.

use crate::{Column, HashAlgo, MdsError, Result, ShardMeta, Value};
use std::path::{Path, PathBuf};

/// A shard held in memory, verified and decompressed.
#[derive(Debug)]
pub struct Shard {
    /// The stored file, for error messages.
    path: PathBuf,
    /// The uncompressed shard bytes.
    data: Vec<u8>,
    /// Sample count.
    len: usize,
    /// Columns in stored order.
    columns: Vec<Column>,
    /// Fixed size per column, `None` for variable-size columns.
    sizes: Vec<Option<usize>>,
    /// Number of variable-size columns (each has a u32 size at the start of a sample).
    variable: usize,
}

impl Shard {
    /// Opens shard `meta` of the dataset in `dir`: reads `zip_data` when present (else
    /// `raw_data`), verifies every listed digest, decompresses, and validates the header and
    /// every offset. Errors name the shard file.
    ///
    /// When the compressed file is missing but the uncompressed one is there (a folder that a
    /// Python reader has already unpacked), the uncompressed file is read and checked instead.
    pub fn open(dir: &Path, meta: &ShardMeta) -> Result<Shard> {
        let stored = meta.stored();
        let path = dir.join(&stored.basename);
        match std::fs::read(&path) {
            Ok(bytes) => Shard::from_stored_bytes(&path, meta, bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && meta.zip_data.is_some() => {
                let raw_path = dir.join(&meta.raw_data.basename);
                match std::fs::read(&raw_path) {
                    Ok(raw) => Shard::from_raw_bytes(&raw_path, meta, raw),
                    Err(_) => Err(MdsError::Io { path, source: e }),
                }
            }
            Err(source) => Err(MdsError::Io { path, source }),
        }
    }

    /// Like [`open`](Self::open) but from bytes already read from `path` (the stored file,
    /// compressed if the shard is).
    pub fn from_stored_bytes(path: &Path, meta: &ShardMeta, stored: Vec<u8>) -> Result<Shard> {
        let Some(zip) = &meta.zip_data else {
            return Shard::from_raw_bytes(path, meta, stored);
        };
        check_file(path, zip, &stored)?;
        let compression = meta
            .compression()?
            .ok_or_else(|| MdsError::corrupt(path, "zip_data without a compression"))?;
        let raw = compression.decompress_bounded(path, &stored, Some(meta.raw_data.bytes))?;
        if raw.len() as u64 != meta.raw_data.bytes {
            return Err(MdsError::corrupt(
                path,
                format!(
                    "decompresses to {} bytes, the index says {}",
                    raw.len(),
                    meta.raw_data.bytes
                ),
            ));
        }
        Shard::parse(path, meta, raw)
    }

    /// Opens an uncompressed shard from its bytes, checking them against `raw_data`.
    pub fn from_raw_bytes(path: &Path, meta: &ShardMeta, raw: Vec<u8>) -> Result<Shard> {
        check_file(path, &meta.raw_data, &raw)?;
        Shard::parse(path, meta, raw)
    }

    /// Validates the header (count, offsets, embedded config) of uncompressed shard bytes.
    pub(crate) fn parse(path: &Path, meta: &ShardMeta, data: Vec<u8>) -> Result<Shard> {
        let corrupt = |m: String| MdsError::corrupt(path, m);
        let columns = meta.columns()?;
        let n = read_u32(&data, 0)
            .ok_or_else(|| corrupt(format!("{} bytes is too short for a header", data.len())))?
            as usize;
        if n as u64 != meta.samples {
            return Err(corrupt(format!(
                "holds {n} samples, the index says {}",
                meta.samples
            )));
        }
        let header_end = n
            .checked_add(2)
            .and_then(|k| k.checked_mul(4))
            .filter(|&end| end <= data.len())
            .ok_or_else(|| {
                corrupt(format!(
                    "{} bytes is too short for {n} samples' offsets",
                    data.len()
                ))
            })?;
        let mut prev = header_end;
        for i in 0..=n {
            let off = read_u32(&data, 4 + 4 * i).unwrap_or(u32::MAX) as usize;
            if off < prev || off > data.len() {
                return Err(corrupt(format!(
                    "offset {i} is {off}, outside {prev}..={} (the offsets must rise within the file)",
                    data.len()
                )));
            }
            prev = off;
        }
        if prev != data.len() {
            return Err(corrupt(format!(
                "the last sample ends at {prev} but the shard has {} bytes",
                data.len()
            )));
        }
        let first = read_u32(&data, 4).unwrap_or(0) as usize;
        check_config(path, meta, &data[header_end..first])?;
        let sizes: Vec<Option<usize>> = columns.iter().map(|c| c.encoding.fixed_size()).collect();
        let variable = sizes.iter().filter(|s| s.is_none()).count();
        Ok(Shard {
            path: path.to_path_buf(),
            data,
            len: n,
            columns,
            sizes,
            variable,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the shard holds no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shard's columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The file this shard was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The uncompressed bytes of sample `i` (its size header and column data).
    pub fn sample_bytes(&self, i: usize) -> Result<&[u8]> {
        if i >= self.len {
            return Err(MdsError::SampleOutOfRange {
                path: self.path.clone(),
                index: i,
                len: self.len,
            });
        }
        // Offsets were validated (rising, inside the file) when the shard was opened.
        let start = read_u32(&self.data, 4 + 4 * i).unwrap_or(0) as usize;
        let end = read_u32(&self.data, 8 + 4 * i).unwrap_or(0) as usize;
        self.data
            .get(start..end)
            .ok_or_else(|| MdsError::corrupt(&self.path, format!("sample {i} offsets")))
    }

    /// Sample `i`, as one byte slice per column; an error if `i` is out of range or the sample's
    /// sizes are corrupt.
    pub fn sample(&self, i: usize) -> Result<SampleRef<'_>> {
        let mut columns = Vec::with_capacity(self.columns.len());
        self.sample_into(i, &mut columns)?;
        Ok(SampleRef { columns })
    }

    /// Like [`sample`](Self::sample), but fills a caller-owned vector (cleared first) so a
    /// reader can walk many samples without allocating.
    pub fn sample_into<'a>(&'a self, i: usize, columns: &mut Vec<&'a [u8]>) -> Result<()> {
        columns.clear();
        let bytes = self.sample_bytes(i)?;
        let corrupt = |m: String| MdsError::corrupt(&self.path, format!("sample {i}: {m}"));
        let head = self.variable * 4;
        if bytes.len() < head {
            return Err(corrupt(format!(
                "{} bytes is too short for {} column sizes",
                bytes.len(),
                self.variable
            )));
        }
        let mut var = 0;
        let mut pos = head;
        for (c, size) in self.sizes.iter().enumerate() {
            let size = match size {
                Some(s) => *s,
                None => {
                    var += 1;
                    read_u32(bytes, 4 * (var - 1)).unwrap_or(u32::MAX) as usize
                }
            };
            let part = pos
                .checked_add(size)
                .and_then(|end| bytes.get(pos..end))
                .ok_or_else(|| {
                    corrupt(format!(
                        "column {:?} needs {size} bytes at {pos}, the sample has {}",
                        self.columns[c].name,
                        bytes.len()
                    ))
                })?;
            columns.push(part);
            pos += size;
        }
        if pos != bytes.len() {
            return Err(corrupt(format!(
                "columns take {pos} bytes, the sample has {}",
                bytes.len()
            )));
        }
        Ok(())
    }
}

/// One sample of a [`Shard`]: each column's encoded bytes, borrowed.
#[derive(Debug)]
pub struct SampleRef<'a> {
    columns: Vec<&'a [u8]>,
}

impl<'a> SampleRef<'a> {
    /// Encoded bytes of column `i` (index order).
    pub fn column(&self, i: usize) -> &'a [u8] {
        self.columns[i]
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// True when the sample has no columns (never for a valid shard).
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Decodes every column into a [`Value`].
    pub fn decode(&self, columns: &[Column]) -> Result<Vec<Value>> {
        if columns.len() != self.columns.len() {
            return Err(MdsError::Value {
                column: columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                message: format!(
                    "{} columns given for a sample of {}",
                    columns.len(),
                    self.columns.len()
                ),
            });
        }
        columns
            .iter()
            .zip(&self.columns)
            .map(|(c, bytes)| c.encoding.decode(&c.name, bytes))
            .collect()
    }
}

/// Little-endian u32 at `at`, or `None` past the end.
fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Checks a stored file's size and every digest the index lists that this build computes.
pub(crate) fn check_file(path: &Path, info: &crate::FileInfo, data: &[u8]) -> Result<usize> {
    if data.len() as u64 != info.bytes {
        return Err(MdsError::corrupt(
            path,
            format!(
                "file has {} bytes, the index says {}",
                data.len(),
                info.bytes
            ),
        ));
    }
    let mut checked = 0;
    for (name, expected) in &info.hashes {
        let Ok(algo) = HashAlgo::parse(name) else {
            continue;
        };
        let actual = algo.hex_digest(data);
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(MdsError::Hash {
                path: path.to_path_buf(),
                algo: name.clone(),
                expected: expected.clone(),
                actual,
            });
        }
        checked += 1;
    }
    Ok(checked)
}

/// The config JSON embedded in a shard must name the same columns as the index.
fn check_config(path: &Path, meta: &ShardMeta, text: &[u8]) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Embedded {
        column_names: Vec<String>,
        column_encodings: Vec<String>,
    }
    let config: Embedded = serde_json::from_slice(text).map_err(|e| {
        MdsError::corrupt(path, format!("the embedded shard config is not valid: {e}"))
    })?;
    if config.column_names != meta.column_names || config.column_encodings != meta.column_encodings
    {
        return Err(MdsError::corrupt(
            path,
            format!(
                "the shard's columns {:?} ({:?}) differ from the index's {:?} ({:?})",
                config.column_names,
                config.column_encodings,
                meta.column_names,
                meta.column_encodings
            ),
        ));
    }
    Ok(())
}
