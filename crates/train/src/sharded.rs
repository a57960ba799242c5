//! A ranking model trained across ranks: dense layers replicated on every rank, embedding
//! tables sharded over the ranks by the planner.
//!
//! Each step, every rank takes its interleaved share of the global batch (the reader's rank
//! partitioning), looks its ids up through the sharded collection's all-to-all exchanges
//! ([`ShardedEmbeddings`]), runs the dense layers forward and backward on its own samples,
//! sends the pooled gradients back to the tables' holders (which apply the fused sparse
//! optimizer over the whole global batch), and all-reduces the dense gradients before one
//! identical dense step on every rank — data parallelism for the dense part, as PyTorch DDP
//! does, and model parallelism for the tables, as TorchRec does.
//!
//! The dense gradients travel as one bucket, after the whole backward pass, rather than in
//! buckets overlapped with it as DDP does: a DLRM's dense part is a few MB (2 MB for the
//! reference DLRM), and the run summary's `communication.dense_all_reduce_seconds_per_step`
//! bounds what overlapping could hide — 9 ms of a 117 ms step on 2 ranks of a 2-core host,
//! where every core already computes and an overlapped all-reduce would take its CPU time from
//! the backward pass it is meant to hide behind. Buckets overlapped with backward are left for
//! hosts with cores to spare for communication.
//!
//! The loss is the mean over the global batch: each rank scales its samples' gradients by
//! one over the global batch size, so the summed gradients are those of one process training
//! the same global batch, and the loss curve matches a single-process run up to the order of
//! floating-point additions.
//!
//! `data.batch_size` is the global batch; each rank reads `batch_size / world_size` samples
//! per step, so it must divide evenly. Checkpoints hold the dense part (written by rank 0)
//! and every rank's table shards; loading them onto another world size reshards the tables
//! (see [`EmbeddingCollection::load_shards`]).

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::model_spec::{embedding_optimizer, storage};
use cascade_core::Batch;
use cascade_dist::{CommStats, Plan, ProcessGroup, ShardedEmbeddings, TableSpec};
use cascade_embed::EmbeddingCollection;
use cascade_model::{DenseRanking, EMBEDDINGS_STEM, RankingModel, RankingSpec};
use cascade_nn::{BceWithLogits, MatRef};
use std::path::Path;

/// The planner's description of the tables `config` trains, each `(name, rows, dim)`, with
/// the storage and sparse optimizer the configuration gives them.
pub fn table_specs(config: &TrainConfig, tables: &[(String, u64, usize)]) -> Vec<TableSpec> {
    let (storage, optimizer) = (storage(config), embedding_optimizer(config));
    tables
        .iter()
        .map(|(name, rows, dim)| TableSpec {
            name: name.clone(),
            rows: *rows,
            dim: *dim,
            storage,
            optimizer,
        })
        .collect()
}

/// A DLRM or DCN-v2 whose tables are sharded over the ranks of a process group.
#[derive(Debug, Clone)]
pub struct ShardedRanking {
    dense: DenseRanking,
    tables: ShardedEmbeddings,
    /// This rank's tables and row ranges (none when the plan gives it no table).
    local: Option<EmbeddingCollection>,
    plan: Plan,
    rank: usize,
    pooled: Vec<f32>,
    grads: Vec<f32>,
    grad_logits: Vec<f32>,
    loss: BceWithLogits,
    /// Bytes and time of the dense all-reduces (the table exchanges keep their own).
    all_reduce: CommStats,
    /// Samples of the last training step's global batch.
    global_samples: usize,
}

impl ShardedRanking {
    /// The model `spec` describes, planned over `world` ranks with `config`'s distributed
    /// settings, as rank `rank` holds it.
    pub fn new(spec: RankingSpec, config: &TrainConfig, rank: usize, world: usize) -> Result<Self> {
        let configs = RankingModel::table_configs(&spec);
        let described: Vec<(String, u64, usize)> = configs
            .iter()
            .map(|t| (t.name.clone(), t.rows, t.dim))
            .collect();
        let d = &config.distributed;
        let plan = cascade_dist::plan(
            &table_specs(config, &described),
            world,
            d.memory_budget(),
            d.thresholds(),
        )
        .map_err(|e| TrainError::Invalid(format!("sharding the embedding tables: {e}")))?;
        let tables = ShardedEmbeddings::new(configs, &plan, rank, world)?;
        let shards = tables.local_shards();
        let local = if shards.is_empty() {
            None
        } else {
            Some(EmbeddingCollection::from_shards(
                shards,
                spec.embedding_optimizer,
            )?)
        };
        let mut dense = DenseRanking::new(spec)?;
        let grads = vec![0.0; dense.dense_len()];
        Ok(Self {
            dense,
            tables,
            local,
            plan,
            rank,
            pooled: Vec::new(),
            grads,
            grad_logits: Vec::new(),
            loss: BceWithLogits::new(),
            all_reduce: CommStats::default(),
            global_samples: 0,
        })
    }

    /// The specification of the model.
    pub fn spec(&self) -> &RankingSpec {
        self.dense.spec()
    }

    /// The sharding plan every rank follows.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Samples of the last training step's global batch (all ranks' shares).
    pub fn last_global_samples(&self) -> usize {
        self.global_samples
    }

    /// Communication of the dense all-reduces (and the loss sums) alone, so far.
    pub fn all_reduce_stats(&self) -> CommStats {
        self.all_reduce
    }

    /// Communication so far: the table exchanges and the dense all-reduces together.
    pub fn comm_stats(&self) -> CommStats {
        let t = self.tables.stats();
        CommStats {
            bytes_sent: t.bytes_sent + self.all_reduce.bytes_sent,
            seconds: t.seconds + self.all_reduce.seconds,
            calls: t.calls + self.all_reduce.calls,
        }
    }

    /// One training step on this rank's share `batch` of the global batch; every rank calls
    /// it for the same step. Returns the mean loss over the global batch (the same on every
    /// rank); a non-finite loss is returned before any parameter changes.
    pub fn train_step(&mut self, batch: &Batch, group: &dyn ProcessGroup) -> Result<f32> {
        if batch.labels.len() != batch.len {
            return Err(TrainError::Invalid(format!(
                "{} labels for {} samples (does the dataset name a label column?)",
                batch.labels.len(),
                batch.len
            )));
        }
        self.tables
            .forward(group, self.local.as_ref(), &batch.sparse, &mut self.pooled)?;
        let mut sums = [0.0f64, batch.len as f64];
        if batch.len > 0 {
            let logits = self.dense.forward(batch, &self.pooled)?;
            let mean = self
                .loss
                .forward(
                    MatRef::new(logits, batch.len, 1).map_err(model_error)?,
                    &batch.labels,
                )
                .map_err(model_error)?;
            sums[0] = f64::from(mean) * batch.len as f64;
        }
        self.all_reduce
            .time(16, || group.all_reduce_sum_f64(&mut sums))?;
        let loss = (sums[0] / sums[1].max(1.0)) as f32;
        self.global_samples = sums[1] as usize;
        if !loss.is_finite() {
            return Ok(loss);
        }
        let share = batch.len as f32 / sums[1].max(1.0) as f32;
        let mut grad_pooled: &[f32] = &[];
        if batch.len > 0 {
            self.grad_logits.clear();
            self.grad_logits
                .extend(self.loss.grad().as_slice().iter().map(|g| g * share));
            grad_pooled = self
                .dense
                .backward(batch, &self.pooled, &self.grad_logits)?;
        }
        self.tables
            .backward(group, self.local.as_mut(), grad_pooled)?;
        if batch.len > 0 {
            self.dense.dense_grads(&mut self.grads)?;
        } else {
            self.grads.fill(0.0);
        }
        let bytes = self.grads.len() * 4;
        self.all_reduce
            .time(bytes, || group.all_reduce_sum_f32(&mut self.grads))?;
        self.dense.set_dense_grads(&self.grads)?;
        self.dense.step()?;
        Ok(loss)
    }

    /// The logits of this rank's share `batch` (every rank calls it for its share of the
    /// same evaluation batch).
    pub fn logits(&mut self, batch: &Batch, group: &dyn ProcessGroup) -> Result<&[f32]> {
        self.tables
            .forward(group, self.local.as_ref(), &batch.sparse, &mut self.pooled)?;
        if batch.len == 0 {
            return Ok(&[]);
        }
        Ok(self.dense.forward(batch, &self.pooled)?)
    }

    /// Writes this rank's part of a checkpoint into the model folder `dir`: the dense part
    /// (`model.json`, `dense.bin`) from rank 0, and every rank's table shards.
    pub fn save(&mut self, dir: &Path) -> Result<()> {
        if self.rank == 0 {
            self.dense.save(dir)?;
        }
        if let Some(local) = &self.local {
            local.save_shard(dir, EMBEDDINGS_STEM, self.rank)?;
        }
        Ok(())
    }

    /// Restores the dense part and this rank's rows from the checkpoint folder `dir`, saved
    /// by any number of ranks (or by one process: whole tables).
    pub fn restore(&mut self, dir: &Path) -> Result<()> {
        self.dense.restore(dir)?;
        if let Some(local) = &mut self.local {
            let whole = dir.join(format!("{EMBEDDINGS_STEM}.bin"));
            if whole.exists() {
                local.load_rows_from(&whole)?;
            } else {
                local.load_shards(dir, EMBEDDINGS_STEM)?;
            }
        }
        Ok(())
    }
}

/// A layer error of the loss, as a model error.
fn model_error(e: cascade_nn::NnError) -> TrainError {
    TrainError::Model(e.into())
}
