//! Writing an MDS dataset: samples are appended to the current shard until `size_limit` would be
//! exceeded, then the shard is (optionally) compressed, hashed and written; `finish` writes
//! `index.json`. Shards and index are written to temporary names and renamed when complete.

use crate::{Column, Compression, HashAlgo, Index, Result, Value};
use std::path::Path;

/// How a dataset is written; the defaults match `MDSWriter`'s (no compression, no hashes,
/// 64 MiB shards).
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Shard compression, or none.
    pub compression: Option<Compression>,
    /// Digests to record for every stored file.
    pub hashes: Vec<HashAlgo>,
    /// Maximum uncompressed shard size in bytes.
    pub size_limit: u64,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self { compression: None, hashes: Vec::new(), size_limit: 1 << 26 }
    }
}

/// Writes samples into MDS shards in a folder.
#[derive(Debug)]
pub struct MdsWriter {
    _private: (),
}

impl MdsWriter {
    /// Starts a dataset in `dir` (created if missing; an existing `index.json` there is an
    /// error). Columns are stored sorted by name, as the Python writer stores them.
    pub fn create(dir: &Path, columns: Vec<Column>, options: WriterOptions) -> Result<MdsWriter> {
        let _ = (dir, columns, options);
        todo!()
    }

    /// The columns in stored (name-sorted) order: the order `write` and `write_encoded` take.
    pub fn columns(&self) -> &[Column] {
        todo!()
    }

    /// Appends one sample, its values in [`columns`](Self::columns) order.
    pub fn write(&mut self, sample: &[Value]) -> Result<()> {
        let _ = sample;
        todo!()
    }

    /// Appends one sample from already-encoded column bytes, in [`columns`](Self::columns)
    /// order (the fast path for generators and converters).
    pub fn write_encoded(&mut self, columns: &[&[u8]]) -> Result<()> {
        let _ = columns;
        todo!()
    }

    /// Flushes the last shard and writes `index.json`.
    pub fn finish(self) -> Result<Index> {
        todo!()
    }
}
