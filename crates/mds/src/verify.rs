//! Checking a whole dataset: every stored file against every digest in the index, and every
//! shard's structure.

use crate::Result;
use std::path::Path;

/// What [`verify_dataset`] checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Shards checked.
    pub shards: usize,
    /// Samples in them.
    pub samples: u64,
    /// Digests compared.
    pub hashes_checked: usize,
}

/// Verifies every shard of the dataset in `dir`; the first bad shard is an error naming it.
pub fn verify_dataset(dir: &Path) -> Result<VerifyReport> {
    let _ = dir;
    todo!()
}
