//! Fingerprints of item embeddings. An index is only valid for the exact embeddings it was built
//! from; the fingerprint (a 64-bit XXH3 hash of the shape and every value) travels with each
//! saved index so that serving can refuse an index built from another model's embeddings.

use std::fmt;

use xxhash_rust::xxh3::Xxh3;

/// Identifies one set of item embeddings (shape and values, bit for bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint(u64);

/// Domain tag hashed first, so the fingerprint of embeddings cannot collide by construction with
/// hashes of other things computed the same way.
const DOMAIN: &[u8] = b"cascade-item-embeddings-v1";

/// Values converted to bytes per hashing step; bounds the scratch buffer.
const CHUNK_VALUES: usize = 16 * 1024;

impl Fingerprint {
    /// Hashes an `rows × dim` row-major matrix of `values`.
    pub fn of_matrix(rows: usize, dim: usize, values: &[f32]) -> Self {
        let mut hasher = Xxh3::new();
        hasher.update(DOMAIN);
        hasher.update(&(rows as u64).to_le_bytes());
        hasher.update(&(dim as u64).to_le_bytes());
        let mut bytes = Vec::with_capacity(CHUNK_VALUES * 4);
        for chunk in values.chunks(CHUNK_VALUES) {
            bytes.clear();
            for value in chunk {
                bytes.extend_from_slice(&value.to_le_bytes());
            }
            hasher.update(&bytes);
        }
        Self(hasher.digest())
    }

    /// Parses the 16-hex-digit form written by `Display` (as stored in index sidecars).
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 16 {
            return None;
        }
        u64::from_str_radix(text, 16).ok().map(Self)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_parses_back() {
        let fp = Fingerprint::of_matrix(2, 2, &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(Fingerprint::parse(&fp.to_string()), Some(fp));
        assert_eq!(Fingerprint::parse("xyz"), None);
        assert_eq!(Fingerprint::parse("zzzzzzzzzzzzzzzz"), None);
    }

    #[test]
    fn shape_and_values_both_matter() {
        let values = [1.0, 2.0, 3.0, 4.0];
        let base = Fingerprint::of_matrix(2, 2, &values);
        assert_ne!(base, Fingerprint::of_matrix(1, 4, &values));
        assert_ne!(base, Fingerprint::of_matrix(2, 2, &[1.0, 2.0, 3.0, 4.5]));
        assert_eq!(base, Fingerprint::of_matrix(2, 2, &values));
    }
}
