//! One chunk of DLRM rows, generated independently of every other chunk and already encoded as
//! MDS column bytes.
//!
//! Chunk `k` holds rows `k·CHUNK_ROWS ..` and draws from random streams keyed by `(seed, k)`,
//! so chunks can be generated in parallel, in any order, by any number of threads, and the
//! dataset is still byte-identical. Each row's true logit is binned for the ceiling AUC.
//!
//! With one id per table (the reference shape) a chunk is generated column by column rather than
//! row by row: first the dense features of every row (stream `(seed, k)`), then each table's ids
//! for every row (stream `(seed, k, table)`), then the labels (stream `(seed, k)` again). Why:
//! a row touches every table's id distribution and per-id effects, more memory than a core's
//! cache holds, so row by row most lookups missed the cache; a table at a time keeps one table's
//! lookups hot and lets the sampler run a tight batch loop. Bags (`--multi-hot`) keep the row
//! order with the single stream `(seed, k)`. [`DlrmChunk::interleave`] then lays the columns out
//! as whole MDS samples, still on the generating thread, so the writer copies them in bulk.

use super::{DlrmConfig, HiddenModel};
use crate::auc::AucHistogram;
use crate::error::Result;
use crate::rng::Rng;
use crate::zipf::Zipf;
use cascade_mds::{DType, Encoding, NdArray, Value};

/// Rows per chunk. Part of the output's definition: changing it changes what a seed produces.
pub const CHUNK_ROWS: u64 = 16_384;

/// Rows laid out together by [`DlrmChunk::interleave`]: 256 DLRM samples (about 66 KB) stay in
/// a core's L2 cache.
const INTERLEAVE_ROWS: usize = 256;

/// Domain tag of the row streams.
const ROWS: u64 = 10;

/// Domain tag of the per-table id streams of the one-id-per-table shape.
const TABLE_IDS: u64 = 11;

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

/// The rows of one chunk, encoded. A chunk's buffers can be refilled with another chunk
/// ([`fill`](Self::fill)), so a generator that recycles written chunks allocates no fresh
/// memory per chunk (fresh pages cost a fault and a zeroing each).
#[derive(Debug, Default)]
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
    /// The rows as whole MDS samples (columns in stored order, back to back), once
    /// [`interleave`](Self::interleave) has laid them out; empty before.
    pub samples: Vec<u8>,
    /// Working buffers of the one-id generator, kept for the next fill.
    scratch: Scratch,
}

/// The one-id generator's per-row intermediate values.
#[derive(Debug, Default)]
struct Scratch {
    /// The logit of each row's bias and dense features.
    logits: Vec<f64>,
    /// One table's drawn ids.
    ids: Vec<u64>,
    /// The sum of each row's per-id effects.
    effects: Vec<f64>,
    /// Per table, each row's interaction vector (empty for tables in no pair).
    vectors: Vec<Vec<[f64; 4]>>,
    /// One row's dense features.
    row_dense: Vec<f32>,
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

    /// Bytes of one row's dense features.
    pub fn dense_bytes(&self) -> usize {
        self.dense.len() / self.rows.max(1)
    }

    /// Lays the rows out as whole MDS samples in [`samples`](Self::samples), for a dataset
    /// whose columns are all fixed-size (one id per table). `positions[c]` is the stored
    /// position of column `c` in the generator's column order (label, dense when present,
    /// then the tables). Returns false, leaving `samples` empty, for bags, which are
    /// variable-size and written row by row.
    pub fn interleave(&mut self, positions: &[usize]) -> bool {
        self.samples.clear();
        let mut samples = std::mem::take(&mut self.samples);
        let dense_bytes = self.dense_bytes();
        let mut sources: Vec<(&[u8], usize)> = vec![(&self.labels, 8)];
        if dense_bytes > 0 {
            sources.push((&self.dense, dense_bytes));
        }
        for table in &self.tables {
            match table {
                TableBytes::Single(bytes) => sources.push((bytes, 8)),
                TableBytes::Bags { .. } => {
                    self.samples = samples;
                    return false;
                }
            }
        }
        if sources.len() != positions.len() {
            self.samples = samples;
            return false;
        }
        // Each column's offset within a sample: the sizes of the columns stored before it.
        let mut stored_sizes = vec![0usize; sources.len()];
        for (&(_, size), &p) in sources.iter().zip(positions) {
            stored_sizes[p] = size;
        }
        let sample: usize = stored_sizes.iter().sum();
        let starts: Vec<usize> = positions
            .iter()
            .map(|&p| stored_sizes[..p].iter().sum())
            .collect();
        // Block by block of rows, each column in turn: a block of samples stays in the core's
        // cache while it is zeroed and every column writes its values into it, and each column
        // is read sequentially. Column by column over the whole chunk wrote every sample once
        // per column, from memory (measured: the layout cost a tenth of generation).
        for first in (0..self.rows).step_by(INTERLEAVE_ROWS) {
            let rows = INTERLEAVE_ROWS.min(self.rows - first);
            let at = samples.len();
            samples.resize(at + rows * sample, 0);
            let block = &mut samples[at..];
            for (&(bytes, size), &start) in sources.iter().zip(&starts) {
                let values = bytes[first * size..].chunks_exact(size);
                let rows = block.chunks_exact_mut(sample).zip(values);
                if size == 8 {
                    for (out, value) in rows {
                        out[start..start + 8].copy_from_slice(value);
                    }
                } else {
                    for (out, value) in rows {
                        out[start..start + size].copy_from_slice(value);
                    }
                }
            }
        }
        self.samples = samples;
        true
    }
}

/// Draws one row's dense features into `row` (standard normals, two per draw) and appends
/// them to `dense` as little-endian `float32`.
fn draw_dense(rng: &mut Rng, row: &mut [f32], dense: &mut Vec<u8>) {
    let width = row.len();
    for j in (0..width).step_by(2) {
        let (a, b) = rng.normal_pair();
        row[j] = a as f32;
        if j + 1 < width {
            row[j + 1] = b as f32;
        }
    }
    for x in row.iter() {
        dense.extend_from_slice(&x.to_le_bytes());
    }
}

/// Generates chunk `index` of the dataset.
pub fn generate_chunk(
    config: &DlrmConfig,
    model: &HiddenModel,
    zipfs: &[Zipf],
    index: u64,
) -> Result<DlrmChunk> {
    let mut chunk = DlrmChunk::default();
    chunk.fill(config, model, zipfs, index)?;
    Ok(chunk)
}

impl DlrmChunk {
    /// Makes this chunk chunk `index` of the dataset, reusing its buffers: the result is the
    /// same as [`generate_chunk`]'s, whatever the chunk held before.
    pub fn fill(
        &mut self,
        config: &DlrmConfig,
        model: &HiddenModel,
        zipfs: &[Zipf],
        index: u64,
    ) -> Result<()> {
        self.first_row = index * CHUNK_ROWS;
        self.rows = CHUNK_ROWS.min(config.rows - self.first_row) as usize;
        self.dense.clear();
        self.dense.reserve(self.rows * config.dense * 4);
        self.labels.clear();
        self.labels.reserve(self.rows * 8);
        self.bins.clear();
        self.bins.reserve(self.rows);
        self.samples.clear();
        let multi_hot = config.multi_hot();
        let reusable = self.tables.len() == config.tables()
            && self
                .tables
                .iter()
                .all(|t| matches!(t, TableBytes::Bags { .. }) == multi_hot);
        if reusable {
            for table in &mut self.tables {
                match table {
                    TableBytes::Single(bytes) => bytes.clear(),
                    TableBytes::Bags { bytes, ends } => {
                        bytes.clear();
                        ends.clear();
                    }
                }
            }
        } else {
            self.tables = (0..config.tables())
                .map(|_| {
                    if multi_hot {
                        TableBytes::Bags {
                            bytes: Vec::new(),
                            ends: Vec::with_capacity(self.rows),
                        }
                    } else {
                        TableBytes::Single(Vec::with_capacity(self.rows * 8))
                    }
                })
                .collect();
        }
        if multi_hot {
            fill_bags(self, config, model, zipfs, index)
        } else {
            fill_single(self, config, model, zipfs, index);
            Ok(())
        }
    }
}

/// Fills `chunk` (its tables cleared, one id each) as chunk `index` of a dataset with one id
/// per table, a column at a time (see the module documentation).
fn fill_single(
    chunk: &mut DlrmChunk,
    config: &DlrmConfig,
    model: &HiddenModel,
    zipfs: &[Zipf],
    index: u64,
) {
    let DlrmChunk {
        rows,
        dense,
        tables,
        labels,
        bins,
        scratch,
        ..
    } = chunk;
    let rows = *rows;
    let Scratch {
        logits,
        ids,
        effects,
        vectors,
        row_dense,
    } = scratch;
    let mut rng = Rng::for_key(&[config.seed, ROWS, index]);

    // Dense features, and the part of each logit they make.
    logits.clear();
    row_dense.resize(config.dense, 0.0);
    for _ in 0..rows {
        draw_dense(&mut rng, row_dense, dense);
        logits.push(model.bias() + model.dense_logit(row_dense));
    }

    // Ids, a table at a time. All tables are drawn before any effect is looked up: the drawing
    // touches the id distributions (shared by tables of the same cardinality), the lookups one
    // table's effects at a time, and the two together would not fit a core's cache.
    ids.resize(rows, 0);
    for (t, (zipf, table)) in zipfs.iter().zip(tables.iter_mut()).enumerate() {
        let TableBytes::Single(bytes) = table else {
            continue;
        };
        let mut table_rng = Rng::for_key(&[config.seed, ROWS, index, TABLE_IDS, t as u64]);
        zipf.fill(&mut table_rng, ids);
        bytes.reserve(rows * 8);
        for &id in ids.iter() {
            bytes.extend_from_slice(&(id as i64).to_le_bytes());
        }
    }
    // Their effects, summed per row in table order, and the interacting tables' vectors.
    effects.clear();
    effects.resize(rows, 0.0);
    vectors.resize(config.tables(), Vec::new());
    for (t, (table, vectors)) in tables.iter().zip(vectors.iter_mut()).enumerate() {
        vectors.clear();
        let TableBytes::Single(bytes) = table else {
            continue;
        };
        let table_ids = bytes
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap_or_default()) as u64);
        for (id, effect) in table_ids.clone().zip(effects.iter_mut()) {
            *effect += model.effect(t, id);
        }
        if model.pairs().iter().any(|&(a, b)| a == t || b == t) {
            vectors.extend(table_ids.map(|id| model.vector(t, id)));
        }
    }

    // Labels from the complete logits.
    for (r, (&base, &effect)) in logits.iter().zip(effects.iter()).enumerate() {
        let mut logit = base + model.effect_scale() * effect;
        for &(a, b) in model.pairs() {
            logit += model.interaction(&vectors[a][r], &vectors[b][r]);
        }
        let probability = 1.0 / (1.0 + (-logit).exp());
        let positive = rng.uniform() < probability;
        labels.extend_from_slice(&i64::from(positive).to_le_bytes());
        bins.push(AucHistogram::bin(logit));
    }
}

/// Fills `chunk` (its tables cleared, bags or one id each) as chunk `index` of a dataset with
/// bags of ids, a row at a time.
fn fill_bags(
    chunk: &mut DlrmChunk,
    config: &DlrmConfig,
    model: &HiddenModel,
    zipfs: &[Zipf],
    index: u64,
) -> Result<()> {
    let DlrmChunk {
        rows,
        dense,
        tables,
        labels,
        bins,
        ..
    } = chunk;
    let rows = *rows;
    let mut rng = Rng::for_key(&[config.seed, ROWS, index]);
    let dense_width = config.dense;
    let (bag_min, bag_max) = config.bag;
    let bag_encoding = Encoding::NdArray {
        dtype: Some(DType::I64),
        shape: None,
    };

    let mut row_dense = vec![0f32; dense_width];
    let mut vectors = vec![[0f64; 4]; config.tables()];
    let mut bag: Vec<u64> = Vec::with_capacity(bag_max as usize);
    let mut bag_bytes: Vec<u8> = Vec::with_capacity(bag_max as usize * 8);
    let names: Vec<String> = (0..config.tables()).map(super::table_column).collect();
    let paired: Vec<bool> = (0..config.tables())
        .map(|t| model.pairs().iter().any(|&(a, b)| a == t || b == t))
        .collect();

    for _ in 0..rows {
        draw_dense(&mut rng, &mut row_dense, dense);
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
    Ok(())
}
