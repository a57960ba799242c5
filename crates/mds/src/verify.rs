//! Checking a whole dataset: every stored file against every digest in the index, and every
//! shard's structure.
//!
//! Beyond what opening a shard checks, verification also hashes the decompressed bytes against
//! `raw_data`'s digests and decodes every value of every sample.

use crate::shard::check_file;
use crate::{HashAlgo, Index, MdsError, Result, Shard};
use std::collections::BTreeSet;
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
    /// Digest algorithms the index lists that this build cannot compute (so did not check).
    pub unchecked_hashes: BTreeSet<String>,
}

/// Verifies every shard of the dataset in `dir`; the first bad shard is an error naming it.
pub fn verify_dataset(dir: &Path) -> Result<VerifyReport> {
    let index = Index::load(dir)?;
    let mut report = VerifyReport {
        shards: 0,
        samples: 0,
        hashes_checked: 0,
        unchecked_hashes: BTreeSet::new(),
    };
    for meta in &index.shards {
        let stored = meta.stored();
        let stored_path = dir.join(&stored.basename);
        let (path, raw) = match std::fs::read(&stored_path) {
            Ok(bytes) => {
                report.hashes_checked += check_file(&stored_path, stored, &bytes)?;
                let raw = match meta.compression()? {
                    Some(c) => {
                        let raw =
                            c.decompress_bounded(&stored_path, &bytes, Some(meta.raw_data.bytes))?;
                        let label = format!("{} (decompressed)", stored_path.display());
                        report.hashes_checked +=
                            check_file(Path::new(&label), &meta.raw_data, &raw)?;
                        raw
                    }
                    None => bytes,
                };
                (stored_path, raw)
            }
            // As `Shard::open`: a compressed shard already unpacked next to a missing archive.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && meta.zip_data.is_some() => {
                let raw_path = dir.join(&meta.raw_data.basename);
                let raw = std::fs::read(&raw_path).map_err(|_| MdsError::Io {
                    path: stored_path.clone(),
                    source: e,
                })?;
                report.hashes_checked += check_file(&raw_path, &meta.raw_data, &raw)?;
                (raw_path, raw)
            }
            Err(source) => {
                return Err(MdsError::Io {
                    path: stored_path,
                    source,
                });
            }
        };
        for info in std::iter::once(&meta.raw_data).chain(&meta.zip_data) {
            for name in info.hashes.keys() {
                if HashAlgo::parse(name).is_err() {
                    report.unchecked_hashes.insert(name.clone());
                }
            }
        }
        let shard = Shard::parse(&path, meta, raw)?;
        let mut parts = Vec::with_capacity(shard.columns().len());
        for i in 0..shard.len() {
            shard.sample_into(i, &mut parts)?;
            for (c, bytes) in shard.columns().iter().zip(&parts) {
                c.encoding
                    .decode(&c.name, bytes)
                    .map_err(|e| MdsError::corrupt(&path, format!("sample {i}: {e}")))?;
            }
        }
        report.shards += 1;
        report.samples += shard.len() as u64;
    }
    Ok(report)
}
