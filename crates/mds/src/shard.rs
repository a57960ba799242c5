//! Reading one shard: fetch its stored file, check digests, decompress, validate offsets, and
//! hand out samples as borrowed column slices without copying.

use crate::{Column, Result, ShardMeta, Value};
use std::path::Path;

/// A shard held in memory, verified and decompressed.
#[derive(Debug)]
pub struct Shard {
    _private: (),
}

impl Shard {
    /// Opens shard `meta` of the dataset in `dir`: reads `zip_data` when present (else
    /// `raw_data`), verifies every listed digest, decompresses, and validates the header and
    /// every offset. Errors name the shard file.
    pub fn open(dir: &Path, meta: &ShardMeta) -> Result<Shard> {
        let _ = (dir, meta);
        todo!()
    }

    /// Like [`open`](Self::open) but from bytes already read from `path` (the stored file,
    /// compressed if the shard is).
    pub fn from_stored_bytes(path: &Path, meta: &ShardMeta, stored: Vec<u8>) -> Result<Shard> {
        let _ = (path, meta, stored);
        todo!()
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        todo!()
    }

    /// True when the shard holds no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shard's columns.
    pub fn columns(&self) -> &[Column] {
        todo!()
    }

    /// Sample `i`, as one byte slice per column; an error if `i` is out of range or the sample's
    /// sizes are corrupt.
    pub fn sample(&self, i: usize) -> Result<SampleRef<'_>> {
        let _ = i;
        todo!()
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

    /// Decodes every column into a [`Value`].
    pub fn decode(&self, columns: &[Column]) -> Result<Vec<Value>> {
        let _ = columns;
        todo!()
    }
}
