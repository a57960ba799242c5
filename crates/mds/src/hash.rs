//! File digests named in `index.json`'s `hashes` (hex strings, as the Python writer emits them).
//!
//! The Python writer accepts any `hashlib` or `xxhash` algorithm; the ones here are those a
//! dataset realistically lists. `xxhash` digests are the big-endian hex of the hash value, as
//! Python's `xxhash.*().hexdigest()` prints it.

use crate::{MdsError, Result};
use md5::Digest;

/// A digest algorithm the index may list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgo {
    /// `md5`.
    Md5,
    /// `sha1`.
    Sha1,
    /// `sha224`.
    Sha224,
    /// `sha256`.
    Sha256,
    /// `sha384`.
    Sha384,
    /// `sha512`.
    Sha512,
    /// `xxh32` (seed 0).
    Xxh32,
    /// `xxh64` (seed 0).
    Xxh64,
    /// `xxh3_64` (seed 0).
    Xxh3_64,
    /// `xxh128` (XXH3, 128-bit, seed 0); Python also calls it `xxh3_128`, which parses to this.
    Xxh128,
}

impl HashAlgo {
    /// Every supported algorithm, in the order of their index names.
    pub const ALL: [HashAlgo; 10] = [
        HashAlgo::Md5,
        HashAlgo::Sha1,
        HashAlgo::Sha224,
        HashAlgo::Sha256,
        HashAlgo::Sha384,
        HashAlgo::Sha512,
        HashAlgo::Xxh128,
        HashAlgo::Xxh32,
        HashAlgo::Xxh3_64,
        HashAlgo::Xxh64,
    ];

    /// Parses the index's name for the algorithm (`sha1`, `xxh64`, `xxh3_64`, ...).
    pub fn parse(name: &str) -> Result<HashAlgo> {
        if name == "xxh3_128" {
            return Ok(HashAlgo::Xxh128);
        }
        HashAlgo::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| MdsError::Value {
                column: "hashes".into(),
                message: format!(
                    "unknown hash algorithm {name:?}; supported: {}",
                    HashAlgo::ALL.map(|a| a.name()).join(", ")
                ),
            })
    }

    /// The index's name for the algorithm.
    pub fn name(&self) -> &'static str {
        match self {
            HashAlgo::Md5 => "md5",
            HashAlgo::Sha1 => "sha1",
            HashAlgo::Sha224 => "sha224",
            HashAlgo::Sha256 => "sha256",
            HashAlgo::Sha384 => "sha384",
            HashAlgo::Sha512 => "sha512",
            HashAlgo::Xxh32 => "xxh32",
            HashAlgo::Xxh64 => "xxh64",
            HashAlgo::Xxh3_64 => "xxh3_64",
            HashAlgo::Xxh128 => "xxh128",
        }
    }

    /// Lower-case hex digest of `data`, exactly as the Python writer computes it.
    pub fn hex_digest(&self, data: &[u8]) -> String {
        match self {
            HashAlgo::Md5 => hex(&md5::Md5::digest(data)),
            HashAlgo::Sha1 => hex(&sha1::Sha1::digest(data)),
            HashAlgo::Sha224 => hex(&sha2::Sha224::digest(data)),
            HashAlgo::Sha256 => hex(&sha2::Sha256::digest(data)),
            HashAlgo::Sha384 => hex(&sha2::Sha384::digest(data)),
            HashAlgo::Sha512 => hex(&sha2::Sha512::digest(data)),
            HashAlgo::Xxh32 => format!("{:08x}", xxhash_rust::xxh32::xxh32(data, 0)),
            HashAlgo::Xxh64 => format!("{:016x}", xxhash_rust::xxh64::xxh64(data, 0)),
            HashAlgo::Xxh3_64 => format!("{:016x}", xxhash_rust::xxh3::xxh3_64(data)),
            HashAlgo::Xxh128 => format!("{:032x}", xxhash_rust::xxh3::xxh3_128(data)),
        }
    }

    /// The hex digest of the concatenation of `parts`, without concatenating them: the same
    /// string as [`hex_digest`](Self::hex_digest) of the joined bytes.
    pub fn hex_digest_parts(&self, parts: &[&[u8]]) -> String {
        fn digest<D: md5::Digest>(parts: &[&[u8]]) -> String {
            let mut d = D::new();
            parts.iter().for_each(|p| d.update(p));
            hex(&d.finalize())
        }
        match self {
            HashAlgo::Md5 => digest::<md5::Md5>(parts),
            HashAlgo::Sha1 => digest::<sha1::Sha1>(parts),
            HashAlgo::Sha224 => digest::<sha2::Sha224>(parts),
            HashAlgo::Sha256 => digest::<sha2::Sha256>(parts),
            HashAlgo::Sha384 => digest::<sha2::Sha384>(parts),
            HashAlgo::Sha512 => digest::<sha2::Sha512>(parts),
            HashAlgo::Xxh32 => {
                let mut h = xxhash_rust::xxh32::Xxh32::new(0);
                parts.iter().for_each(|p| h.update(p));
                format!("{:08x}", h.digest())
            }
            HashAlgo::Xxh64 => {
                let mut h = xxhash_rust::xxh64::Xxh64::new(0);
                parts.iter().for_each(|p| h.update(p));
                format!("{:016x}", h.digest())
            }
            HashAlgo::Xxh3_64 => {
                let mut h = xxhash_rust::xxh3::Xxh3::new();
                parts.iter().for_each(|p| h.update(p));
                format!("{:016x}", h.digest())
            }
            HashAlgo::Xxh128 => {
                let mut h = xxhash_rust::xxh3::Xxh3::new();
                parts.iter().for_each(|p| h.update(p));
                format!("{:032x}", h.digest128())
            }
        }
    }
}

impl std::fmt::Display for HashAlgo {
    /// The index's name for the algorithm.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Lower-case hex of a digest's bytes.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests_of_abc() {
        let want = [
            (HashAlgo::Md5, "900150983cd24fb0d6963f7d28e17f72"),
            (HashAlgo::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                HashAlgo::Sha224,
                "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
            ),
            (
                HashAlgo::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (HashAlgo::Xxh32, "32d153ff"),
            (HashAlgo::Xxh64, "44bc2cf5ad770999"),
            (HashAlgo::Xxh3_64, "78af5f94892f3950"),
            (HashAlgo::Xxh128, "06b05ab6733a618578af5f94892f3950"),
        ];
        for (algo, hex) in want {
            assert_eq!(algo.hex_digest(b"abc"), hex, "{algo}");
        }
        assert_eq!(HashAlgo::Sha512.hex_digest(b"abc").len(), 128);
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        for algo in HashAlgo::ALL {
            let (a, b) = data.split_at(1234);
            let (b, c) = b.split_at(3000);
            assert_eq!(
                algo.hex_digest_parts(&[a, b, &[], c]),
                algo.hex_digest(&data),
                "{algo}"
            );
        }
        assert_eq!(HashAlgo::Sha384.hex_digest(b"abc").len(), 96);
    }

    #[test]
    fn names_round_trip_and_unknown_is_named() {
        for algo in HashAlgo::ALL {
            assert_eq!(HashAlgo::parse(algo.name()).unwrap(), algo);
        }
        assert_eq!(HashAlgo::parse("xxh3_128").unwrap(), HashAlgo::Xxh128);
        let err = HashAlgo::parse("blake9").unwrap_err().to_string();
        assert!(err.contains("\"blake9\""), "{err}");
    }
}
