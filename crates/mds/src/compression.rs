//! Shard compression algorithms named in `index.json` (`zstd[:level]`, `gz`, `bz2`, `snappy`, `br`).

use crate::Result;

/// A compression algorithm and level, as `index.json`'s `compression` field names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `zstd` or `zstd:LEVEL`.
    Zstd(Option<i32>),
    /// `gz` or `gz:LEVEL`.
    Gzip(Option<u32>),
    /// `bz2` or `bz2:LEVEL`.
    Bzip2(Option<u32>),
    /// `snappy`.
    Snappy,
    /// `br` or `br:LEVEL`.
    Brotli(Option<u32>),
}

impl Compression {
    /// Parses `zstd`, `zstd:7`, `gz`, `bz2`, `snappy`, `br`, ...; unknown names are errors.
    pub fn parse(text: &str) -> Result<Compression> {
        let _ = text;
        todo!()
    }

    /// The file extension the Python writer appends (`zstd`, `gz`, `bz2`, `snappy`, `br`).
    pub fn extension(&self) -> &'static str {
        todo!()
    }

    /// Compresses a whole shard.
    pub fn compress(&self, data: &[u8]) -> Result<Vec<u8>> {
        let _ = data;
        todo!()
    }

    /// Decompresses a whole shard read from `path` (named in errors).
    pub fn decompress(&self, path: &std::path::Path, data: &[u8]) -> Result<Vec<u8>> {
        let _ = (path, data);
        todo!()
    }
}

impl std::fmt::Display for Compression {
    /// The string `index.json` uses.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let _ = f;
        todo!()
    }
}
