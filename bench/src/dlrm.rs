//! DLRM-shaped synthetic samples as Mosaic users store them: `dense` (13 float32 values as
//! `ndarray:float32:13`), `sparse` (26 categorical ids as `ndarray:int64:26`) and `label`
//! (`int`), generated deterministically from a seed so both readers see the same bytes.

use cascade_data::{DatasetManifest, DenseFeature, SparseFeature, SplitInfo};
use cascade_mds::{Column, Encoding};
use std::collections::BTreeMap;

/// Dense features per sample (Criteo's integer features).
pub const NUM_DENSE: usize = 13;
/// Categorical features per sample (Criteo's categorical features).
pub const NUM_SPARSE: usize = 26;
/// Ids of each categorical feature lie in `0..CARDINALITY`.
pub const CARDINALITY: u64 = 100_000;
/// The split the generator writes.
pub const SPLIT: &str = "train";

/// The MDS columns, in stored (name-sorted) order: `dense`, `label`, `sparse`.
pub fn columns() -> anyhow::Result<Vec<Column>> {
    Ok(vec![
        Column {
            name: "dense".into(),
            encoding: Encoding::parse("ndarray:float32:13")?,
        },
        Column {
            name: "label".into(),
            encoding: Encoding::parse("int")?,
        },
        Column {
            name: "sparse".into(),
            encoding: Encoding::parse("ndarray:int64:26")?,
        },
    ])
}

/// The manifest: `dense` as 13 dense values, `sparse` as one 26-id bag feature, `label`.
pub fn manifest(samples: u64) -> DatasetManifest {
    let mut splits = BTreeMap::new();
    splits.insert(
        SPLIT.to_string(),
        SplitInfo {
            path: SPLIT.into(),
            samples,
        },
    );
    DatasetManifest {
        version: cascade_data::manifest::MANIFEST_VERSION,
        source: "bench:dlrm".into(),
        splits,
        label: Some("label".into()),
        dense: vec![DenseFeature {
            column: "dense".into(),
            width: NUM_DENSE,
        }],
        sparse: vec![SparseFeature {
            name: "sparse".into(),
            column: "sparse".into(),
            cardinality: CARDINALITY,
            vocab: None,
            multi_hot: true,
        }],
        extra: Default::default(),
    }
}

/// Encoded columns of one sample, rewritten in place for each new sample.
pub struct SampleBytes {
    /// 13 little-endian float32 values.
    pub dense: [u8; NUM_DENSE * 4],
    /// One little-endian int64 (0 or 1).
    pub label: [u8; 8],
    /// 26 little-endian int64 ids.
    pub sparse: [u8; NUM_SPARSE * 8],
}

/// A deterministic stream of DLRM-shaped samples (SplitMix64 underneath).
pub struct Generator {
    state: u64,
    bytes: SampleBytes,
}

impl Generator {
    /// A stream seeded by `seed`.
    pub fn new(seed: u64) -> Generator {
        Generator {
            state: seed,
            bytes: SampleBytes {
                dense: [0; NUM_DENSE * 4],
                label: [0; 8],
                sparse: [0; NUM_SPARSE * 8],
            },
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The next sample's encoded columns: dense values in [0, 1), ids skewed towards small
    /// values (as hashed categorical features are), a 25% positive label.
    pub fn next_sample(&mut self) -> &SampleBytes {
        for k in 0..NUM_DENSE {
            let v = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
            self.bytes.dense[4 * k..4 * k + 4].copy_from_slice(&v.to_le_bytes());
        }
        for k in 0..NUM_SPARSE {
            let r = self.next_u64();
            // Squaring a uniform value skews the ids towards 0.
            let u = (r >> 32) as f64 / (1u64 << 32) as f64;
            let id = ((u * u) * CARDINALITY as f64) as i64;
            self.bytes.sparse[8 * k..8 * k + 8].copy_from_slice(&id.to_le_bytes());
        }
        let label = i64::from(self.next_u64().is_multiple_of(4));
        self.bytes.label = label.to_le_bytes();
        &self.bytes
    }
}
