//! `index.json`: the list of shards of a dataset and each shard's columns, files and digests.

use crate::{Column, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// A stored file of a shard: its name relative to the dataset folder, size and digests.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileInfo {
    /// Path relative to the dataset folder (may contain sub-folders, e.g. `0/shard.00000.mds.zstd`).
    pub basename: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Hex digest per algorithm name.
    pub hashes: BTreeMap<String, String>,
}

/// One shard's entry in `index.json` (also embedded in the shard itself).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShardMeta {
    pub column_encodings: Vec<String>,
    pub column_names: Vec<String>,
    pub column_sizes: Vec<Option<u64>>,
    pub compression: Option<String>,
    pub format: String,
    pub hashes: Vec<String>,
    pub raw_data: FileInfo,
    pub samples: u64,
    pub size_limit: Option<u64>,
    pub version: u32,
    pub zip_data: Option<FileInfo>,
}

impl ShardMeta {
    /// The shard's columns, parsed (errors name the offending encoding).
    pub fn columns(&self) -> Result<Vec<Column>> {
        todo!()
    }
}

/// A dataset's `index.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Index {
    pub shards: Vec<ShardMeta>,
    pub version: u32,
}

impl Index {
    /// Reads and validates `DIR/index.json`; errors name the file and the field.
    pub fn load(dir: &Path) -> Result<Index> {
        let _ = dir;
        todo!()
    }

    /// Parses index JSON text (the bytes of an `index.json` fetched from anywhere); `origin` is
    /// named in errors.
    pub fn parse(origin: &Path, text: &[u8]) -> Result<Index> {
        let _ = (origin, text);
        todo!()
    }

    /// Writes `DIR/index.json` atomically (temporary file, then rename).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let _ = dir;
        todo!()
    }

    /// Total samples over all shards.
    pub fn num_samples(&self) -> u64 {
        self.shards.iter().map(|s| s.samples).sum()
    }

    /// The columns shared by every shard; an error if shards disagree.
    pub fn columns(&self) -> Result<Vec<Column>> {
        todo!()
    }
}
