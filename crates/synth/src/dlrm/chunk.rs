//! One chunk of DLRM rows, generated independently of every other chunk and already encoded as
//! MDS column bytes.
//!
//! Chunk `k` holds rows `k·CHUNK_ROWS ..` and draws from its own random stream keyed by
//! `(seed, k)`, so chunks can be generated in parallel, in any order, by any number of threads,
//! and the dataset is still byte-identical. Each row's true logit is binned for the ceiling AUC.

use super::{DlrmConfig, HiddenModel};
use crate::auc::AucHistogram;
use crate::error::Result;
use crate::rng::Rng;
use crate::zipf::Zipf;
use cascade_mds::{DType, Encoding, NdArray, Value};

/// Rows per chunk. Part of the output's definition: changing it changes what a seed produces.
pub const CHUNK_ROWS: u64 = 16_384;

/// Domain tag of the row streams.
const ROWS: u64 = 10;

/// The encoded ids of one table for the rows of a chunk.
#[derive(Debug)]
pub enum TableBytes {
    /// One little-endian int64 per row.
    Single(Vec<u8>),
    /// One variable-length `ndarray:int64` per row; row `r` is `bytes[ends[r-1]..ends[r]]`.
    Bags {
        /// The concatenated encoded bags.
        bytes: Vec<u8>,
        /// End offset of each row's bag.
        ends: Vec<usize>,
    },
}

impl TableBytes {
    /// The encoded ids of row `r`.
    pub fn row(&self, r: usize) -> &[u8] {
        match self {
            TableBytes::Single(bytes) => &bytes[r * 8..r * 8 + 8],
            TableBytes::Bags { bytes, ends } => {
                &bytes[if r == 0 { 0 } else { ends[r - 1] }..ends[r]]
            }
        }
    }
}

/// The rows of one chunk, encoded.
#[derive(Debug)]
pub struct DlrmChunk {
    /// Global index of the chunk's first row.
    pub first_row: u64,
    /// Number of rows.
    pub rows: usize,
    /// `float32` dense features, `dense` per row.
    pub dense: Vec<u8>,
    /// The ids, one entry per table.
    pub tables: Vec<TableBytes>,
    /// `int` (little-endian int64) labels, 0 or 1.
    pub labels: Vec<u8>,
    /// Each row's true logit as an [`AucHistogram`] bin.
    pub bins: Vec<u32>,
}

impl DlrmChunk {
    /// Row `r`'s label.
    pub fn label(&self, r: usize) -> bool {
        self.label_bytes(r) != [0; 8]
    }

    /// Row `r`'s encoded label.
    pub fn label_bytes(&self, r: usize) -> &[u8] {
        &self.labels[r * 8..r * 8 + 8]
    }
}

/// Generates chunk `index` of the dataset.
pub fn generate_chunk(
    config: &DlrmConfig,
    model: &HiddenModel,
    zipfs: &[Zipf],
    index: u64,
) -> Result<DlrmChunk> {
    let first_row = index * CHUNK_ROWS;
    let rows = CHUNK_ROWS.min(config.rows - first_row) as usize;
    let mut rng = Rng::for_key(&[config.seed, ROWS, index]);
    let dense_width = config.dense;
    let (bag_min, bag_max) = config.bag;
    let multi_hot = config.multi_hot();
    let bag_encoding = Encoding::NdArray {
        dtype: Some(DType::I64),
        shape: None,
    };

    let mut dense = Vec::with_capacity(rows * dense_width * 4);
    let mut tables: Vec<TableBytes> = (0..config.tables())
        .map(|_| {
            if multi_hot {
                TableBytes::Bags {
                    bytes: Vec::new(),
                    ends: Vec::with_capacity(rows),
                }
            } else {
                TableBytes::Single(Vec::with_capacity(rows * 8))
            }
        })
        .collect();
    let mut labels = Vec::with_capacity(rows * 8);
    let mut bins = Vec::with_capacity(rows);

    let mut row_dense = vec![0f32; dense_width];
    let mut vectors = vec![[0f64; 4]; config.tables()];
    let mut bag: Vec<u64> = Vec::with_capacity(bag_max as usize);
    let mut bag_bytes: Vec<u8> = Vec::with_capacity(bag_max as usize * 8);
    let names: Vec<String> = (0..config.tables()).map(super::table_column).collect();
    let paired: Vec<bool> = (0..config.tables())
        .map(|t| model.pairs().iter().any(|&(a, b)| a == t || b == t))
        .collect();

    for _ in 0..rows {
        for j in (0..dense_width).step_by(2) {
            let (a, b) = rng.normal_pair();
            row_dense[j] = a as f32;
            if j + 1 < dense_width {
                row_dense[j + 1] = b as f32;
            }
        }
        for x in &row_dense {
            dense.extend_from_slice(&x.to_le_bytes());
        }
        let mut logit = model.bias() + model.dense_logit(&row_dense);
        let mut effects = 0.0;
        for (t, table) in tables.iter_mut().enumerate() {
            match table {
                TableBytes::Single(bytes) => {
                    let id = zipfs[t].sample(&mut rng);
                    bytes.extend_from_slice(&(id as i64).to_le_bytes());
                    effects += model.effect(t, id);
                    if paired[t] {
                        vectors[t] = model.vector(t, id);
                    }
                }
                TableBytes::Bags { bytes, ends } => {
                    let len = bag_min + rng.below(u64::from(bag_max - bag_min) + 1) as u32;
                    bag.clear();
                    bag.extend((0..len).map(|_| zipfs[t].sample(&mut rng)));
                    let norm = if len == 0 {
                        0.0
                    } else {
                        1.0 / f64::from(len).sqrt()
                    };
                    effects += norm * bag.iter().map(|&id| model.effect(t, id)).sum::<f64>();
                    if paired[t] {
                        let mut pooled = [0f64; 4];
                        for &id in &bag {
                            let v = model.vector(t, id);
                            pooled.iter_mut().zip(v).for_each(|(p, x)| *p += x * norm);
                        }
                        vectors[t] = pooled;
                    }
                    bag_bytes.clear();
                    bag_bytes.extend(bag.iter().flat_map(|&id| (id as i64).to_le_bytes()));
                    let array = NdArray {
                        dtype: DType::I64,
                        shape: vec![bag.len()],
                        data: std::mem::take(&mut bag_bytes),
                    };
                    let value = Value::Array(array);
                    bag_encoding.encode(&names[t], &value, bytes)?;
                    if let Value::Array(array) = value {
                        bag_bytes = array.data;
                    }
                    ends.push(bytes.len());
                }
            }
        }
        logit += model.effect_scale() * effects;
        for &(a, b) in model.pairs() {
            logit += model.interaction(&vectors[a], &vectors[b]);
        }
        let probability = 1.0 / (1.0 + (-logit).exp());
        let positive = rng.uniform() < probability;
        labels.extend_from_slice(&i64::from(positive).to_le_bytes());
        bins.push(AucHistogram::bin(logit));
    }
    Ok(DlrmChunk {
        first_row,
        rows,
        dense,
        tables,
        labels,
        bins,
    })
}
