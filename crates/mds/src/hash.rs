//! File digests named in `index.json`'s `hashes` (hex strings, as the Python writer emits them).

use crate::Result;

/// A digest algorithm the index may list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgo {
    Md5,
    Sha1,
    Sha256,
    Sha512,
    Xxh32,
    Xxh64,
    Xxh3_64,
    Xxh128,
}

impl HashAlgo {
    /// Parses the index's name for the algorithm (`sha1`, `xxh64`, `xxh3_64`, ...).
    pub fn parse(name: &str) -> Result<HashAlgo> {
        let _ = name;
        todo!()
    }

    /// The index's name for the algorithm.
    pub fn name(&self) -> &'static str {
        todo!()
    }

    /// Lower-case hex digest of `data`, exactly as the Python writer computes it.
    pub fn hex_digest(&self, data: &[u8]) -> String {
        let _ = data;
        todo!()
    }
}
