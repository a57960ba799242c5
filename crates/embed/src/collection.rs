//! A collection of embedding tables serving a batch's sparse features — the counterpart of
//! TorchRec's `EmbeddingBagCollection` with a fused optimizer.
//!
//! The collection fixes an output layout: tables in configuration order, each table's features
//! in its listed order, each feature taking `dim` columns. A batch must carry every feature the
//! collection serves, in any key order; keys it does not serve are ignored (so the user and
//! item towers of a two-tower model can each take what they need from one batch).
//!
//! The forward pass pools each feature's bags into the output. The backward pass takes the
//! gradient of that output, combines it into one gradient per touched row, and immediately
//! applies the optimizer to those rows: no dense gradient is ever built.

use cascade_core::KeyedJagged;
use rayon::prelude::*;

use crate::config::{Pooling, TableConfig};
use crate::error::{EmbedError, Result};
use crate::grads::{FeatureFeed, GradWorkspace, RowGradients};
use crate::optim::Optimizer;
use crate::pooled::{FeatureSlot, Pooled};
use crate::table::EmbeddingTable;
use crate::widest::widest;

/// Samples whose pooled rows one rayon task computes in the forward pass.
const SAMPLES_PER_TASK: usize = 32;

/// How many ids (or rows) ahead of the current one the lookup and the update prefetch: far
/// enough to hide a memory access, near enough that the row is still cached when reached.
pub(crate) const PREFETCH_AHEAD: usize = 8;

/// Parameter and optimizer-state memory of one table, for planners and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableMemory {
    /// The table's name.
    pub name: String,
    /// Bytes of the rows.
    pub param_bytes: u64,
    /// Bytes of the optimizer state.
    pub state_bytes: u64,
}

/// One table of a collection, or the contiguous range of its rows a collection holds when the
/// table is split by rows over several ranks.
#[derive(Debug, Clone, PartialEq)]
pub struct TableShard {
    /// The whole table's configuration (its `rows` is the whole table's row count).
    pub config: TableConfig,
    /// The rows held, a non-empty range within `0..config.rows`.
    pub rows: std::ops::Range<u64>,
}

impl TableShard {
    /// The whole table.
    pub fn whole(config: TableConfig) -> Self {
        let rows = 0..config.rows;
        Self { config, rows }
    }
}

/// Embedding tables, the features they serve, and their shared sparse optimizer.
#[derive(Debug, Clone)]
pub struct EmbeddingCollection {
    pub(crate) tables: Vec<EmbeddingTable>,
    layout: Vec<FeatureSlot>,
    /// For each output slot, the index of its table.
    slot_table: Vec<usize>,
    width: usize,
    pub(crate) optimizer: Optimizer,
    pub(crate) step: u64,
}

impl EmbeddingCollection {
    /// Builds and initialises every table; fails on an invalid table or optimizer, a repeated
    /// table name, or a feature served by two tables.
    pub fn new(configs: Vec<TableConfig>, optimizer: Optimizer) -> Result<Self> {
        Self::from_shards(
            configs.into_iter().map(TableShard::whole).collect(),
            optimizer,
        )
    }

    /// Builds a collection holding only the given rows of each table: the part of a sharded
    /// collection one rank keeps. Each shard is initialised exactly as the same rows of the
    /// whole table, and addressed by local row (row `r` of the whole table is row
    /// `r - shard.rows.start` here). Fails as [`new`](Self::new) does, and on an empty or
    /// out-of-range row range.
    pub fn from_shards(shards: Vec<TableShard>, optimizer: Optimizer) -> Result<Self> {
        optimizer.validate()?;
        let configs: Vec<&TableConfig> = shards.iter().map(|s| &s.config).collect();
        if configs.is_empty() {
            return Err(EmbedError::Config {
                table: String::new(),
                reason: "a collection needs at least one table".into(),
            });
        }
        let mut layout: Vec<FeatureSlot> = Vec::new();
        let mut slot_table: Vec<usize> = Vec::new();
        let mut width = 0;
        for (t, cfg) in configs.iter().enumerate() {
            if configs[..t].iter().any(|c| c.name == cfg.name) {
                return Err(EmbedError::Config {
                    table: cfg.name.clone(),
                    reason: "two tables have this name".into(),
                });
            }
            for feature in &cfg.features {
                if let Some(other) = layout.iter().position(|s| &s.name == feature) {
                    return Err(EmbedError::Config {
                        table: cfg.name.clone(),
                        reason: format!(
                            "feature '{feature}' is already served by table '{}'",
                            configs[slot_table[other]].name
                        ),
                    });
                }
                layout.push(FeatureSlot {
                    name: feature.clone(),
                    offset: width,
                    dim: cfg.dim,
                });
                slot_table.push(t);
                width += cfg.dim;
            }
        }
        let tables = shards
            .into_iter()
            .map(|shard| EmbeddingTable::shard(shard.config, shard.rows, &optimizer))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            tables,
            layout,
            slot_table,
            width,
            optimizer,
            step: 0,
        })
    }

    /// The tables, in configuration order.
    pub fn tables(&self) -> &[EmbeddingTable] {
        &self.tables
    }

    /// The table called `name`.
    pub fn table(&self, name: &str) -> Result<&EmbeddingTable> {
        self.tables
            .iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| EmbedError::UnknownTable(name.to_string()))
    }

    /// The table called `name`, for writing rows or state.
    pub fn table_mut(&mut self, name: &str) -> Result<&mut EmbeddingTable> {
        self.tables
            .iter_mut()
            .find(|t| t.name() == name)
            .ok_or_else(|| EmbedError::UnknownTable(name.to_string()))
    }

    /// Where each feature sits in an output row.
    pub fn layout(&self) -> &[FeatureSlot] {
        &self.layout
    }

    /// Values per output row: the sum of every served feature's dim.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The optimizer and its current hyper-parameters.
    pub fn optimizer(&self) -> &Optimizer {
        &self.optimizer
    }

    /// Changes the learning rate, for schedules.
    pub fn set_learning_rate(&mut self, lr: f32) -> Result<()> {
        let mut next = self.optimizer;
        next.set_learning_rate(lr);
        next.validate()?;
        self.optimizer = next;
        Ok(())
    }

    /// Number of optimizer steps taken (Adam's bias correction uses it).
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Memory of each table's rows and optimizer state.
    pub fn memory(&self) -> Vec<TableMemory> {
        self.tables
            .iter()
            .map(|t| TableMemory {
                name: t.name().to_string(),
                param_bytes: t.param_bytes(),
                state_bytes: t.state_bytes(),
            })
            .collect()
    }

    /// Total bytes of all tables' rows.
    pub fn param_bytes(&self) -> u64 {
        self.tables.iter().map(EmbeddingTable::param_bytes).sum()
    }

    /// Total bytes of all tables' optimizer state.
    pub fn state_bytes(&self) -> u64 {
        self.tables.iter().map(EmbeddingTable::state_bytes).sum()
    }

    /// For each output slot, the position of its feature among the batch's keys, after
    /// checking every id of the batch against its table.
    fn bind(&self, kj: &KeyedJagged) -> Result<Vec<usize>> {
        self.layout
            .iter()
            .zip(&self.slot_table)
            .map(|(slot, &t)| self.tables[t].config().bind(&slot.name, kj))
            .collect()
    }

    /// Pools every served feature of `kj` into `out` (`[batch, width]`, reusing its buffer):
    /// the sum or mean of each bag's (weighted) embeddings, zeros for an empty bag.
    pub fn forward(&self, kj: &KeyedJagged, out: &mut Pooled) -> Result<()> {
        let keys = self.bind(kj)?;
        let (batch, width) = (kj.batch_size(), self.width);
        let (ids, offsets, weights) = (kj.ids(), kj.offsets(), kj.weights());
        let max_dim = self.layout.iter().map(|s| s.dim).max().unwrap_or(0);
        let values = out.reset(batch, width, &self.layout);
        values
            .par_chunks_mut(width * SAMPLES_PER_TASK)
            .enumerate()
            .for_each_init(
                || vec![0.0f32; max_dim],
                |scratch, (task, chunk)| {
                    widest(|| {
                        let first = task * SAMPLES_PER_TASK;
                        let samples = chunk.len() / width;
                        // Feature by feature, so that the ids of this chunk's bags are contiguous
                        // and the rows a few ids ahead can be prefetched; the first rows of the
                        // next feature are prefetched while this one's are pooled.
                        let slots = self.layout.iter().zip(&self.slot_table).zip(&keys);
                        for (s, ((slot, &t), &key)) in slots.enumerate() {
                            let table = &self.tables[t];
                            let (dim, mean) = (slot.dim, table.config().pooling == Pooling::Mean);
                            let bags =
                                &offsets[key * batch + first..=key * batch + first + samples];
                            let chunk_ids = &ids[..bags[samples]];
                            if let (Some(&next_key), Some(&next_t)) =
                                (keys.get(s + 1), self.slot_table.get(s + 1))
                            {
                                let next = &self.tables[next_t];
                                let start = offsets[next_key * batch + first];
                                let end = offsets[next_key * batch + first + samples];
                                for &id in &ids[start..end.min(start + PREFETCH_AHEAD)] {
                                    next.store.prefetch(next.row_of_checked(id), next.dim());
                                }
                            }
                            for (i, row) in chunk.chunks_exact_mut(width).enumerate() {
                                let acc = &mut row[slot.offset..slot.offset + dim];
                                let (start, end) = (bags[i], bags[i + 1]);
                                let prefetch_ahead = |j: usize| {
                                    if let Some(&ahead) = chunk_ids.get(j + PREFETCH_AHEAD) {
                                        table.store.prefetch(table.row_of_checked(ahead), dim);
                                    }
                                };
                                // A bag of one unweighted id (every bag of a one-hot feature) is a
                                // copy of its row.
                                if end == start + 1 && weights.is_none() {
                                    prefetch_ahead(start);
                                    table.store.read(table.row_of_checked(ids[start]), acc);
                                    continue;
                                }
                                acc.fill(0.0);
                                for j in start..end {
                                    prefetch_ahead(j);
                                    let w = weights.map_or(1.0, |w| w[j]);
                                    let r = table.row_of_checked(ids[j]);
                                    table.store.accumulate(r, w, acc, &mut scratch[..dim]);
                                }
                                if mean && end > start {
                                    let inv = 1.0 / (end - start) as f32;
                                    acc.iter_mut().for_each(|a| *a *= inv);
                                }
                            }
                        }
                    })
                },
            );
        Ok(())
    }

    /// The features of a bound batch that feed each table.
    fn feeds(&self, keys: &[usize]) -> Vec<Vec<FeatureFeed>> {
        let mut feeds = vec![Vec::new(); self.tables.len()];
        for ((slot, &t), &key) in self.layout.iter().zip(&self.slot_table).zip(keys) {
            feeds[t].push(FeatureFeed {
                key,
                column: slot.offset,
            });
        }
        feeds
    }

    fn check_grad(&self, kj: &KeyedJagged, grad: &[f32]) -> Result<()> {
        let expected = kj.batch_size() * self.width;
        if grad.len() == expected {
            Ok(())
        } else {
            Err(EmbedError::Length {
                what: "the gradient of the pooled embeddings".into(),
                expected,
                found: grad.len(),
            })
        }
    }

    /// The combined gradient of every touched row of every table, given the gradient `grad` of
    /// the pooled output of `kj` (`[batch, width]`). Leaves the tables unchanged; for
    /// inspection, and for trainers that ship row gradients to where the rows live.
    pub fn row_gradients(&self, kj: &KeyedJagged, grad: &[f32]) -> Result<Vec<RowGradients>> {
        let keys = self.bind(kj)?;
        self.check_grad(kj, grad)?;
        let feeds = self.feeds(&keys);
        Ok(self
            .tables
            .par_iter()
            .zip(&feeds)
            .map(|(table, feeds)| {
                let mut ws = GradWorkspace::default();
                ws.accumulate(table, feeds, kj, grad, self.width);
                RowGradients {
                    table: table.name().to_string(),
                    rows: ws.rows.iter().map(|&r| r as u64).collect(),
                    values: ws.values,
                }
            })
            .collect())
    }

    /// The fused backward pass and optimizer step: combines the gradient `grad` of the pooled
    /// output of `kj` (`[batch, width]`) into one gradient per touched row and updates exactly
    /// those rows and their optimizer state. Tables are processed in parallel, each one's rows
    /// in ascending order, so the result is bit-identical for any thread count.
    pub fn backward_update(&mut self, kj: &KeyedJagged, grad: &[f32]) -> Result<()> {
        let keys = self.bind(kj)?;
        self.check_grad(kj, grad)?;
        let feeds = self.feeds(&keys);
        self.step += 1;
        let update = self.optimizer.prepare(self.step);
        let width = self.width;
        self.tables
            .par_iter_mut()
            .zip(&feeds)
            .for_each(|(table, feeds)| {
                GradWorkspace::with_thread_local(|ws| {
                    widest(|| {
                        ws.accumulate(table, feeds, kj, grad, width);
                        table.apply(&update, &ws.rows, &ws.values, &mut ws.scratch);
                    })
                })
            });
        Ok(())
    }
}
