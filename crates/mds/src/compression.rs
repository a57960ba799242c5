//! Shard compression algorithms named in `index.json` (`zstd[:level]`, `gz`, `bz2`, `snappy`, `br`).
//!
//! The name and level ranges, default levels and stream formats are the Python writer's: zstd
//! frames (level 1..=22, default 3), gzip members (0..=9, default 9), bzip2 streams (1..=9,
//! default 9), raw snappy blocks (no level), and brotli streams (0..=11, default 11, window 22).

use crate::{MdsError, Result};
use std::io::{Read, Write};
use std::path::Path;

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

/// Brotli window size (log2) the Python `brotli` package uses by default.
const BROTLI_LGWIN: u32 = 22;

impl Compression {
    /// Parses `zstd`, `zstd:7`, `gz`, `bz2`, `snappy`, `br`, ...; unknown names are errors.
    pub fn parse(text: &str) -> Result<Compression> {
        let bad = |message: String| MdsError::Value {
            column: "compression".into(),
            message,
        };
        let (name, level) = match text.split_once(':') {
            Some((name, level)) => {
                let level: u32 = level.parse().map_err(|_| {
                    bad(format!(
                        "compression {text:?}: level {level:?} is not a whole number"
                    ))
                })?;
                (name, Some(level))
            }
            None => (text, None),
        };
        let check = |range: std::ops::RangeInclusive<u32>| -> Result<()> {
            match level {
                Some(l) if !range.contains(&l) => Err(bad(format!(
                    "compression {text:?}: level {l} is outside {}..={}",
                    range.start(),
                    range.end()
                ))),
                _ => Ok(()),
            }
        };
        match name {
            "zstd" => {
                check(1..=22)?;
                Ok(Compression::Zstd(level.map(|l| l as i32)))
            }
            "gz" => {
                check(0..=9)?;
                Ok(Compression::Gzip(level))
            }
            "bz2" => {
                check(1..=9)?;
                Ok(Compression::Bzip2(level))
            }
            "br" => {
                check(0..=11)?;
                Ok(Compression::Brotli(level))
            }
            "snappy" if level.is_none() => Ok(Compression::Snappy),
            "snappy" => Err(bad(format!("compression {text:?}: snappy takes no level"))),
            _ => Err(bad(format!(
                "unknown compression {text:?}; supported: zstd[:1-22], gz[:0-9], bz2[:1-9], snappy, br[:0-11]"
            ))),
        }
    }

    /// The file extension the Python writer appends (`zstd`, `gz`, `bz2`, `snappy`, `br`).
    pub fn extension(&self) -> &'static str {
        match self {
            Compression::Zstd(_) => "zstd",
            Compression::Gzip(_) => "gz",
            Compression::Bzip2(_) => "bz2",
            Compression::Snappy => "snappy",
            Compression::Brotli(_) => "br",
        }
    }

    /// Compresses a whole shard.
    pub fn compress(&self, data: &[u8]) -> Result<Vec<u8>> {
        let fail = |source: std::io::Error| MdsError::Io {
            path: format!("<{self} compressor>").into(),
            source,
        };
        match *self {
            Compression::Zstd(level) => {
                zstd::bulk::compress(data, level.unwrap_or(3)).map_err(fail)
            }
            Compression::Gzip(level) => {
                let level = flate2::Compression::new(level.unwrap_or(9));
                let mut enc = flate2::GzBuilder::new().write(Vec::new(), level);
                enc.write_all(data).map_err(fail)?;
                enc.finish().map_err(fail)
            }
            Compression::Bzip2(level) => {
                let level = bzip2::Compression::new(level.unwrap_or(9));
                let mut enc = bzip2::write::BzEncoder::new(Vec::new(), level);
                enc.write_all(data).map_err(fail)?;
                enc.finish().map_err(fail)
            }
            Compression::Snappy => snap::raw::Encoder::new()
                .compress_vec(data)
                .map_err(|e| fail(std::io::Error::other(e))),
            Compression::Brotli(level) => {
                let params = brotli::enc::BrotliEncoderParams {
                    quality: level.unwrap_or(11) as i32,
                    lgwin: BROTLI_LGWIN as i32,
                    ..Default::default()
                };
                let mut out = Vec::new();
                brotli::BrotliCompress(&mut &data[..], &mut out, &params).map_err(fail)?;
                Ok(out)
            }
        }
    }

    /// Decompresses a whole shard read from `path` (named in errors).
    pub fn decompress(&self, path: &Path, data: &[u8]) -> Result<Vec<u8>> {
        self.decompress_bounded(path, data, None)
    }

    /// Like [`decompress`](Self::decompress), but refuses to produce more than `limit` bytes
    /// (the size the index promises), so a corrupt or hostile file cannot exhaust memory.
    pub fn decompress_bounded(
        &self,
        path: &Path,
        data: &[u8],
        limit: Option<u64>,
    ) -> Result<Vec<u8>> {
        let corrupt = |e: &dyn std::fmt::Display| {
            MdsError::corrupt(path, format!("{self} decompression failed: {e}"))
        };
        // Read one byte past the limit, to tell "exactly the limit" from "more".
        let cap = limit.map_or(u64::MAX, |l| l.saturating_add(1));
        let initial = limit.map_or(data.len().saturating_mul(4), |l| l.min(1 << 30) as usize);
        let mut out = Vec::with_capacity(initial);
        let result = match self {
            Compression::Zstd(_) => zstd::stream::read::Decoder::with_buffer(data)
                .and_then(|d| d.take(cap).read_to_end(&mut out)),
            Compression::Gzip(_) => flate2::read::MultiGzDecoder::new(data)
                .take(cap)
                .read_to_end(&mut out),
            Compression::Bzip2(_) => bzip2::read::MultiBzDecoder::new(data)
                .take(cap)
                .read_to_end(&mut out),
            Compression::Brotli(_) => brotli::Decompressor::new(data, 1 << 16)
                .take(cap)
                .read_to_end(&mut out),
            Compression::Snappy => {
                let len = snap::raw::decompress_len(data).map_err(|e| corrupt(&e))?;
                if len as u64 >= cap {
                    return Err(too_big(path, self, limit));
                }
                return snap::raw::Decoder::new()
                    .decompress_vec(data)
                    .map_err(|e| corrupt(&e));
            }
        };
        result.map_err(|e| corrupt(&e))?;
        if out.len() as u64 >= cap {
            return Err(too_big(path, self, limit));
        }
        Ok(out)
    }
}

/// The error for a compressed file that inflates past the size the index gives.
fn too_big(path: &Path, compression: &Compression, limit: Option<u64>) -> MdsError {
    MdsError::corrupt(
        path,
        format!(
            "{compression} data decompresses to more than the {} bytes the index says",
            limit.unwrap_or(u64::MAX)
        ),
    )
}

impl std::fmt::Display for Compression {
    /// The string `index.json` uses.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match *self {
            Compression::Zstd(l) => l.map(i64::from),
            Compression::Gzip(l) | Compression::Bzip2(l) | Compression::Brotli(l) => {
                l.map(i64::from)
            }
            Compression::Snappy => None,
        };
        f.write_str(self.extension())?;
        match level {
            Some(l) => write!(f, ":{l}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [&str; 9] = [
        "zstd", "zstd:7", "gz", "gz:1", "bz2", "bz2:3", "snappy", "br", "br:4",
    ];

    #[test]
    fn names_round_trip() {
        for name in ALL {
            assert_eq!(Compression::parse(name).unwrap().to_string(), name);
        }
    }

    #[test]
    fn bad_names_and_levels_are_named() {
        for bad in [
            "lz4", "zstd:0", "zstd:23", "gz:10", "bz2:0", "br:12", "snappy:1", "zstd:x",
        ] {
            let err = Compression::parse(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
    }

    #[test]
    fn every_algorithm_round_trips() {
        let data: Vec<u8> = (0..50_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for name in ALL {
            let c = Compression::parse(name).unwrap();
            let packed = c.compress(&data).unwrap();
            assert!(packed.len() < data.len() / 2, "{name} did not compress");
            let path = Path::new("x");
            assert_eq!(c.decompress(path, &packed).unwrap(), data, "{name}");
            let exact = c
                .decompress_bounded(path, &packed, Some(data.len() as u64))
                .unwrap();
            assert_eq!(exact, data, "{name}");
            let err = c
                .decompress_bounded(path, &packed, Some(data.len() as u64 - 1))
                .unwrap_err();
            assert!(err.to_string().contains("more than"), "{name}: {err}");
            let err = c.decompress(path, &packed[..packed.len() / 2]).unwrap_err();
            assert!(matches!(err, MdsError::Corrupt { .. }), "{name}: {err}");
        }
    }
}
