//! The sharded embedding collection: embedding tables spread over the ranks by a [`Plan`],
//! looked up and trained with all-to-all exchanges — Cascade's counterpart of TorchRec's
//! `ShardedEmbeddingBagCollection`.
//!
//! Each rank keeps, in an ordinary [`EmbeddingCollection`] built from
//! [`ShardedEmbeddings::local_shards`], the tables (or row ranges) the plan gives it. A step
//! runs in three exchanges:
//!
//! 1. **Ids** (forward). Every rank maps its samples' ids to rows with each table's own rule
//!    (identity, modulo or hash) and sends, to each rank holding a table it uses, one bag per
//!    sample: the ids whose rows that rank holds (as local row numbers) and their pooling
//!    coefficients (the id's weight, divided by the whole bag's length under mean pooling).
//!    A table-wise table's bags all go to its owner; a row-wise table's bags are split by row
//!    range over every rank; a replicated table's bags go to every rank, which needs the
//!    whole global batch to apply the same update as every other copy.
//! 2. **Pooled embeddings** (forward). Each rank pools the bags it received — all ranks'
//!    samples, in rank order, as one batch through the local collection with sum pooling —
//!    and returns to each rank the rows of its samples: a table-wise owner the pooled vectors,
//!    each holder of a row-wise table a partial sum that the asking rank adds up, and for a
//!    replicated table only the rank itself (every rank holds a copy).
//! 3. **Gradients** (backward). Each rank sends the gradient of its samples' pooled vectors to
//!    the ranks it asked in step 1; each of them runs the local collection's fused backward
//!    and optimizer step over the whole global batch, so duplicate ids across ranks are
//!    combined into one update per row, exactly as one process training the same global
//!    batch does (up to the order of floating-point additions).
//!
//! Every rank takes part in every exchange, even with an empty batch or no table of its own,
//! since collectives need all ranks.

use crate::error::CommError;
use crate::group::ProcessGroup;
use crate::plan::{Placement, Plan};
use cascade_core::KeyedJagged;
use cascade_embed::{EmbedError, EmbeddingCollection, Pooled, Pooling, TableConfig, TableShard};
use std::ops::Range;
use std::time::Instant;

/// Why a sharded lookup or update failed.
#[derive(Debug, thiserror::Error)]
pub enum ShardedError {
    /// A collective failed.
    #[error(transparent)]
    Comm(#[from] CommError),
    /// The local embedding collection refused an operation, a batch lacks a feature, or an id
    /// is out of range.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// The plan does not match the tables.
    #[error("sharded embeddings: {0}")]
    Plan(String),
    /// A message from another rank is malformed (a bug, or ranks running different code).
    #[error("sharded embeddings: from rank {rank}: {reason}")]
    Protocol {
        /// The sending rank.
        rank: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Bytes sent and seconds spent in collectives, summed over steps: the communication
/// figures of distributed training.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CommStats {
    /// Bytes this rank sent (all-to-all payloads; all-reduce buffers count once).
    pub bytes_sent: u64,
    /// Wall seconds this rank spent inside collectives (including waiting for the others).
    pub seconds: f64,
    /// Collective calls made.
    pub calls: u64,
}

impl CommStats {
    /// Runs `op`, a collective sending `bytes`, and counts it.
    pub fn time<T>(&mut self, bytes: usize, op: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = op();
        self.seconds += started.elapsed().as_secs_f64();
        self.bytes_sent += bytes as u64;
        self.calls += 1;
        out
    }
}

/// One output feature of the collection: where it sits in a pooled row and its table.
#[derive(Debug, Clone)]
struct Slot {
    name: String,
    table: usize,
    offset: usize,
    dim: usize,
}

/// What the forward pass keeps for the backward pass: the bags this rank served.
#[derive(Debug, Clone)]
struct Served {
    /// All ranks' bags for this rank's tables, as one batch (absent when it holds none).
    batch: Option<KeyedJagged>,
    /// Samples of the asking rank's batch (this rank's own batch size).
    local_samples: usize,
}

/// Tables sharded over the ranks of a process group, looked up and trained through
/// all-to-all exchanges (see the module documentation).
#[derive(Debug, Clone)]
pub struct ShardedEmbeddings {
    tables: Vec<TableConfig>,
    placements: Vec<Placement>,
    slots: Vec<Slot>,
    width: usize,
    rank: usize,
    world: usize,
    /// For each rank, the slots it holds, in the order of its local collection's layout.
    held: Vec<Vec<usize>>,
    served: Option<Served>,
    stats: CommStats,
}

impl ShardedEmbeddings {
    /// The sharding of `tables` (whole-table configurations, in collection order) that `plan`
    /// decided, seen from `rank` of `world` ranks. The plan must place exactly these tables.
    pub fn new(
        tables: Vec<TableConfig>,
        plan: &Plan,
        rank: usize,
        world: usize,
    ) -> Result<Self, ShardedError> {
        if plan.world_size != world || rank >= world {
            return Err(ShardedError::Plan(format!(
                "rank {rank} of {world} with a plan for {} ranks",
                plan.world_size
            )));
        }
        let placements = tables
            .iter()
            .map(|t| {
                let found = plan
                    .tables
                    .iter()
                    .find(|p| p.name == t.name)
                    .ok_or_else(|| {
                        ShardedError::Plan(format!("the plan does not place table '{}'", t.name))
                    })?;
                if found.rows != t.rows {
                    return Err(ShardedError::Plan(format!(
                        "table '{}' has {} rows, the plan {}",
                        t.name, t.rows, found.rows
                    )));
                }
                Ok(found.placement.clone())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut slots = Vec::new();
        let mut width = 0;
        for (t, config) in tables.iter().enumerate() {
            for name in &config.features {
                slots.push(Slot {
                    name: name.clone(),
                    table: t,
                    offset: width,
                    dim: config.dim,
                });
                width += config.dim;
            }
        }
        let mut this = Self {
            tables,
            placements,
            slots,
            width,
            rank,
            world,
            held: Vec::new(),
            served: None,
            stats: CommStats::default(),
        };
        this.held = (0..world)
            .map(|d| {
                (0..this.slots.len())
                    .filter(|&s| this.rows_on(this.slots[s].table, d).is_some())
                    .collect()
            })
            .collect();
        Ok(this)
    }

    /// The rows of table `t` that rank `d` holds, if any.
    fn rows_on(&self, t: usize, d: usize) -> Option<Range<u64>> {
        let rows = self.tables[t].rows;
        let range = match &self.placements[t] {
            Placement::Replicated => 0..rows,
            Placement::TableWise { rank } if *rank == d => 0..rows,
            Placement::TableWise { .. } => return None,
            Placement::RowWise { ranges } => ranges.get(d)?.clone(),
        };
        (range.start < range.end).then_some(range)
    }

    /// The tables, or row ranges of tables, this rank holds: build its local
    /// [`EmbeddingCollection`] from them (with [`EmbeddingCollection::from_shards`]). They
    /// pool by sum and refuse out-of-range rows, since the exchange sends local row numbers
    /// with the pooling coefficients already applied. Empty when the rank holds no table.
    pub fn local_shards(&self) -> Vec<TableShard> {
        (0..self.tables.len())
            .filter_map(|t| {
                let rows = self.rows_on(t, self.rank)?;
                let mut config = self.tables[t].clone();
                config.pooling = Pooling::Sum;
                config.out_of_range = cascade_embed::OutOfRange::Error;
                Some(TableShard { config, rows })
            })
            .collect()
    }

    /// Values per pooled row: every feature's dim, as the whole (unsharded) collection's
    /// layout has them.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The placement of each table, in collection order.
    pub fn placements(&self) -> &[Placement] {
        &self.placements
    }

    /// Communication so far.
    pub fn stats(&self) -> CommStats {
        self.stats
    }

    /// Whether rank `holder` returns slot `s`'s pooled values to rank `asker`: always, except
    /// for a replicated table, which every rank pools for itself.
    fn returns(&self, s: usize, holder: usize, asker: usize) -> bool {
        holder == asker || self.placements[self.slots[s].table] != Placement::Replicated
    }

    /// The pooled embeddings of `kj`'s samples (`[batch, width]` into `out`), in the layout of
    /// the whole collection, through the exchanges of the module documentation. `local` is
    /// this rank's collection (`None` when it holds no table). Every rank must call it, with
    /// its own batch, before each [`backward`](Self::backward).
    pub fn forward(
        &mut self,
        group: &dyn ProcessGroup,
        local: Option<&EmbeddingCollection>,
        kj: &KeyedJagged,
        out: &mut Vec<f32>,
    ) -> Result<(), ShardedError> {
        self.served = None;
        let batch = kj.batch_size();
        let keys = self.bind(kj)?;
        // 1. Ids, per destination: [batch, bag lengths of each held slot], then ids; and
        //    the ids' coefficients.
        let mut id_send: Vec<Vec<u64>> = vec![Vec::new(); self.world];
        let mut coef_send: Vec<Vec<f32>> = vec![Vec::new(); self.world];
        for d in 0..self.world {
            let (ids, coefs) = (&mut id_send[d], &mut coef_send[d]);
            ids.push(batch as u64);
            let lengths_at = ids.len();
            ids.resize(lengths_at + self.held[d].len() * batch, 0);
            for (k, &s) in self.held[d].iter().enumerate() {
                let t = self.slots[s].table;
                let config = &self.tables[t];
                let rows = self.rows_on(t, d).unwrap_or(0..0);
                let mean = config.pooling == Pooling::Mean;
                for i in 0..batch {
                    let bag =
                        kj.offsets()[keys[s] * batch + i]..kj.offsets()[keys[s] * batch + i + 1];
                    let scale = if mean && !bag.is_empty() {
                        1.0 / bag.len() as f32
                    } else {
                        1.0
                    };
                    let mut count = 0u64;
                    for j in bag {
                        // Ids were checked by `bind`, so every one maps to a row.
                        let row = config.row_of(kj.ids()[j]).unwrap_or(0);
                        if rows.contains(&row) {
                            ids.push(row - rows.start);
                            coefs.push(kj.weights().map_or(1.0, |w| w[j]) * scale);
                            count += 1;
                        }
                    }
                    ids[lengths_at + k * batch + i] = count;
                }
            }
        }
        let id_counts: Vec<usize> = id_send.iter().map(Vec::len).collect();
        let coef_counts: Vec<usize> = coef_send.iter().map(Vec::len).collect();
        let (id_send, coef_send) = (id_send.concat(), coef_send.concat());
        let ids = self.stats.time(id_send.len() * 8, || {
            group.all_to_all_v_u64(&id_send, &id_counts)
        })?;
        let coefs = self.stats.time(coef_send.len() * 4, || {
            group.all_to_all_v_f32(&coef_send, &coef_counts)
        })?;
        // 2. Pool every rank's bags for the slots held here, and return each rank its rows.
        let served = self.served_batch(&ids, &coefs)?;
        let mine = &self.held[self.rank];
        let mut pooled = Pooled::new();
        if let (Some(local), Some(served)) = (local, &served.0) {
            local.forward(served, &mut pooled)?;
        }
        let local_width: usize = mine.iter().map(|&s| self.slots[s].dim).sum();
        let mut back_send = Vec::new();
        let mut back_counts = vec![0usize; self.world];
        let mut first = 0;
        for (r, &samples) in served.1.iter().enumerate() {
            let before = back_send.len();
            for i in first..first + samples {
                let row = &pooled.values()[i * local_width..(i + 1) * local_width];
                let mut column = 0;
                for &s in mine {
                    let dim = self.slots[s].dim;
                    if self.returns(s, self.rank, r) {
                        back_send.extend_from_slice(&row[column..column + dim]);
                    }
                    column += dim;
                }
            }
            back_counts[r] = back_send.len() - before;
            first += samples;
        }
        let back = self.stats.time(back_send.len() * 4, || {
            group.all_to_all_v_f32(&back_send, &back_counts)
        })?;
        out.clear();
        out.resize(batch * self.width, 0.0);
        for d in 0..self.world {
            let values = back.from_rank(d);
            let returned: Vec<usize> = self.held[d]
                .iter()
                .copied()
                .filter(|&s| self.returns(s, d, self.rank))
                .collect();
            let per_sample: usize = returned.iter().map(|&s| self.slots[s].dim).sum();
            if values.len() != per_sample * batch {
                return Err(ShardedError::Protocol {
                    rank: d,
                    reason: format!(
                        "{} pooled values for {batch} samples of {per_sample}",
                        values.len()
                    ),
                });
            }
            if per_sample == 0 {
                continue;
            }
            for (i, sample) in values.chunks_exact(per_sample).enumerate() {
                let row = &mut out[i * self.width..(i + 1) * self.width];
                let mut column = 0;
                for &s in &returned {
                    let slot = &self.slots[s];
                    for (o, v) in row[slot.offset..slot.offset + slot.dim]
                        .iter_mut()
                        .zip(&sample[column..column + slot.dim])
                    {
                        *o += v;
                    }
                    column += slot.dim;
                }
            }
        }
        self.served = Some(Served {
            batch: served.0,
            local_samples: batch,
        });
        Ok(())
    }

    /// Back-propagates `grad` (`[batch, width]`, the gradient of the last
    /// [`forward`](Self::forward)'s output) into the tables: sends each holder the gradients of
    /// the slots it served, and applies the fused optimizer to this rank's rows for the whole
    /// global batch.
    pub fn backward(
        &mut self,
        group: &dyn ProcessGroup,
        local: Option<&mut EmbeddingCollection>,
        grad: &[f32],
    ) -> Result<(), ShardedError> {
        let served = self.served.take().ok_or_else(|| {
            ShardedError::Plan("backward without a forward pass before it".into())
        })?;
        let batch = served.local_samples;
        if grad.len() != batch * self.width {
            return Err(ShardedError::Plan(format!(
                "the pooled gradient holds {} values, expected {batch} x {}",
                grad.len(),
                self.width
            )));
        }
        let mut send = Vec::new();
        let mut counts = Vec::with_capacity(self.world);
        for held in &self.held {
            let before = send.len();
            for row in grad.chunks_exact(self.width) {
                for &s in held {
                    let slot = &self.slots[s];
                    send.extend_from_slice(&row[slot.offset..slot.offset + slot.dim]);
                }
            }
            counts.push(send.len() - before);
        }
        let received = self
            .stats
            .time(send.len() * 4, || group.all_to_all_v_f32(&send, &counts))?;
        if let (Some(local), Some(batch)) = (local, served.batch.as_ref()) {
            if received.values.len() != batch.batch_size() * local.width() {
                return Err(ShardedError::Protocol {
                    rank: self.rank,
                    reason: format!(
                        "{} gradient values for {} samples of width {}",
                        received.values.len(),
                        batch.batch_size(),
                        local.width()
                    ),
                });
            }
            local.backward_update(batch, &received.values)?;
        }
        Ok(())
    }

    /// For each slot, the position of its feature among `kj`'s keys, after checking every
    /// id against its table's rule.
    fn bind(&self, kj: &KeyedJagged) -> Result<Vec<usize>, ShardedError> {
        self.slots
            .iter()
            .map(|slot| Ok(self.tables[slot.table].bind(&slot.name, kj)?))
            .collect()
    }

    /// The bags every rank sent this one, as one batch over the slots it holds (samples in
    /// rank order), and each rank's sample count.
    fn served_batch(
        &self,
        ids: &crate::Received<u64>,
        coefs: &crate::Received<f32>,
    ) -> Result<(Option<KeyedJagged>, Vec<usize>), ShardedError> {
        let mine = &self.held[self.rank];
        let slots = mine.len();
        // Per source: its batch size, its lengths and its ids.
        let mut parts = Vec::with_capacity(self.world);
        for r in 0..self.world {
            let block = ids.from_rank(r);
            let bad = |reason: String| ShardedError::Protocol { rank: r, reason };
            let (&samples, rest) = block
                .split_first()
                .ok_or_else(|| bad("an empty id message".into()))?;
            let samples = samples as usize;
            if rest.len() < slots * samples {
                return Err(bad(format!("{} values for {samples} samples", rest.len())));
            }
            let (lengths, row_ids) = rest.split_at(slots * samples);
            let total: u64 = lengths.iter().sum();
            let weights = coefs.from_rank(r);
            if total != row_ids.len() as u64 || weights.len() != row_ids.len() {
                return Err(bad(format!(
                    "bag lengths add up to {total}, {} ids and {} coefficients came",
                    row_ids.len(),
                    weights.len()
                )));
            }
            parts.push((samples, lengths, row_ids, weights));
        }
        let samples: Vec<usize> = parts.iter().map(|p| p.0).collect();
        if slots == 0 {
            return Ok((None, samples));
        }
        let global: usize = samples.iter().sum();
        let mut all_ids = Vec::new();
        let mut all_weights = Vec::new();
        let mut offsets = Vec::with_capacity(slots * global + 1);
        offsets.push(0);
        // Where each source's ids of slot k start.
        let mut cursors: Vec<usize> = vec![0; self.world];
        for k in 0..slots {
            for (r, (count, lengths, row_ids, weights)) in parts.iter().enumerate() {
                let mut at = cursors[r];
                for &len in &lengths[k * count..(k + 1) * count] {
                    let len = len as usize;
                    all_ids.extend_from_slice(&row_ids[at..at + len]);
                    all_weights.extend_from_slice(&weights[at..at + len]);
                    at += len;
                    offsets.push(all_ids.len());
                }
                cursors[r] = at;
            }
        }
        let keys = mine.iter().map(|&s| self.slots[s].name.clone()).collect();
        let batch =
            KeyedJagged::new(keys, global, all_ids, offsets, Some(all_weights)).map_err(|e| {
                ShardedError::Protocol {
                    rank: self.rank,
                    reason: e.to_string(),
                }
            })?;
        Ok((Some(batch), samples))
    }
}
