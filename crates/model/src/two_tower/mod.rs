//! The two-tower retrieval model: a user tower and an item tower map their features to
//! embeddings of one width, and a user's score for an item is their dot product (or cosine)
//! over a temperature. Trained pointwise (BCE on a label) or with an in-batch sampled softmax
//! with the log-Q correction and accidental-hit removal; after training, the item tower embeds
//! the whole catalogue once and retrieval is a top-K search over those vectors.
//!
//! In-batch negatives are the batch's items, so they follow the popularity of the data: rare
//! items are almost never pushed down. [`TwoTowerModel::train_step_mixed`] adds items sampled
//! uniformly from the catalogue as extra candidate columns (mixed negative sampling, Yang et al.,
//! WWW 2020). Every column then holds item `j` with expected count `B·p(j) + N/|I|` (batch size
//! B, item frequency p, N uniform samples from |I| items), and the log-Q correction subtracts
//! the log of that count, which reduces to the in-batch correction when N = 0.

mod spec;
mod tower;

pub use spec::{TowerFeature, TwoTowerLoss, TwoTowerSpec};

use crate::dense_optim::DenseOptimizer;
use crate::error::{ModelError, Result};
use cascade_core::{Batch, KeyedJagged};
use cascade_nn::{
    BceWithLogits, InBatchScores, InBatchSoftmax, L2Normalize, Layer, MatRef, ParamMut, Parameters,
    Rng, RowDot, clip_grad_norm, zero_grad,
};
use tower::Tower;

/// Both towers, visited user first, as the dense optimizer and checkpoints see them.
#[derive(Debug, Clone)]
pub(crate) struct Towers {
    pub(crate) user: Tower,
    pub(crate) item: Tower,
}

impl Towers {
    /// Both towers' forward passes (the user tower on `users`, the item tower on `items`), side
    /// by side: they share nothing, and small matrix products leave threads idle when run one
    /// after the other.
    fn forward(&mut self, users: &KeyedJagged, items: &KeyedJagged) -> Result<()> {
        let Towers { user, item } = self;
        let (u, i) = rayon::join(
            || user.forward(users).map(|_| ()),
            || item.forward(items).map(|_| ()),
        );
        u?;
        i?;
        Ok(())
    }
}

impl Parameters for Towers {
    fn visit_parameters(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        self.user.visit_parameters(f);
        self.item.visit_parameters(f);
    }
}

/// A two-tower model with its optimizers; see the module documentation.
#[derive(Debug, Clone)]
pub struct TwoTowerModel {
    pub(crate) spec: TwoTowerSpec,
    pub(crate) towers: Towers,
    pub(crate) optimizer: DenseOptimizer,
    row_scores: RowDot,
    batch_scores: InBatchScores,
    bce: BceWithLogits,
    softmax: InBatchSoftmax,
    /// Log sampling probability of every item index, for the log-Q correction.
    log_q: Option<Vec<f32>>,
    normalize: L2Normalize,
}

impl TwoTowerModel {
    /// Builds and initialises the model `spec` describes, reproducibly from its seed.
    pub fn new(spec: TwoTowerSpec) -> Result<Self> {
        spec.validate()?;
        let mut rng = Rng::seed(spec.seed);
        let user = Tower::new(&spec.user_features, &spec, &mut rng)?;
        let item = Tower::new(&spec.item_features, &spec, &mut rng)?;
        let mut towers = Towers { user, item };
        let optimizer = DenseOptimizer::new(spec.dense_optimizer, &mut towers);
        Ok(Self {
            row_scores: RowDot::new(spec.cosine, spec.temperature)?,
            batch_scores: InBatchScores::new(spec.cosine, spec.temperature)?,
            spec,
            towers,
            optimizer,
            bce: BceWithLogits::new(),
            softmax: InBatchSoftmax::new(),
            log_q: None,
            normalize: L2Normalize::new(),
        })
    }

    /// The specification the model was built from.
    pub fn spec(&self) -> &TwoTowerSpec {
        &self.spec
    }

    /// The dense optimizer (its step count is the number of training steps taken).
    pub fn optimizer(&self) -> &DenseOptimizer {
        &self.optimizer
    }

    /// Sets every item's sampling frequency (indexed by item id, summing to about 1), from
    /// which the softmax's log-Q correction is taken. Items never seen get the smallest
    /// positive frequency, so their correction stays finite.
    pub fn set_item_frequencies(&mut self, frequencies: &[f64]) -> Result<()> {
        let rows = self.spec.item_features[0].rows;
        if frequencies.len() as u64 != rows {
            return Err(ModelError::Batch(format!(
                "item frequencies cover {} items, the item id table has {rows} rows",
                frequencies.len()
            )));
        }
        let floor = frequencies
            .iter()
            .copied()
            .filter(|&f| f > 0.0)
            .fold(f64::INFINITY, f64::min);
        let floor = if floor.is_finite() { floor } else { 1.0 };
        self.log_q = Some(
            frequencies
                .iter()
                .map(|&f| f.max(floor).ln() as f32)
                .collect(),
        );
        Ok(())
    }

    /// One training step on `batch`: forward through both towers, the configured loss,
    /// backward with the fused embedding updates, dense step. Returns the loss. A non-finite
    /// loss is returned without touching any parameter.
    pub fn train_step(&mut self, batch: &Batch) -> Result<f32> {
        self.step(batch, None)
    }

    /// [`train_step`](Self::train_step) of the softmax loss with extra candidates: the item
    /// tower runs on `candidates`, whose first `batch.len` rows are the batch's own items (the
    /// positives, in order) and whose other rows are items sampled uniformly from a catalogue of
    /// `pool` items. See the module documentation for the correction.
    pub fn train_step_mixed(
        &mut self,
        batch: &Batch,
        candidates: &KeyedJagged,
        pool: usize,
    ) -> Result<f32> {
        if self.spec.loss != super::TwoTowerLoss::Softmax {
            return Err(ModelError::Batch(
                "extra sampled negatives need the softmax loss".into(),
            ));
        }
        if candidates.batch_size() < batch.len || pool == 0 {
            return Err(ModelError::Batch(format!(
                "{} candidates for a batch of {} (the batch's items come first) from a pool of \
                 {pool} items",
                candidates.batch_size(),
                batch.len
            )));
        }
        self.step(batch, Some((candidates, pool)))
    }

    /// One step; `mixed` holds the candidates and the pool size of mixed negative sampling.
    fn step(&mut self, batch: &Batch, mixed: Option<(&KeyedJagged, usize)>) -> Result<f32> {
        check_batch(batch)?;
        let item_input = mixed.map_or(&batch.sparse, |(candidates, _)| candidates);
        self.towers.forward(&batch.sparse, item_input)?;
        let (u, v) = (self.towers.user.output(), self.towers.item.output());
        let (loss, grad_u, grad_v) = match self.spec.loss {
            super::TwoTowerLoss::Bce => {
                if batch.labels.len() != batch.len {
                    return Err(ModelError::Batch(format!(
                        "{} labels for {} samples: the bce loss needs a label column",
                        batch.labels.len(),
                        batch.len
                    )));
                }
                let logits = self.row_scores.forward(u, v)?;
                let loss = self.bce.forward(logits, &batch.labels)?;
                if !loss.is_finite() {
                    return Ok(loss);
                }
                let (gu, gv) = self.row_scores.backward(u, v, self.bce.grad())?;
                (loss, gu, gv)
            }
            super::TwoTowerLoss::Softmax => {
                let items = item_ids(item_input, self.spec.item_id_feature())?;
                let log_q = match (&self.log_q, self.spec.log_q_correction) {
                    (Some(table), true) => {
                        let mut q = column_log_q(table, &items)?;
                        if let Some((_, pool)) = mixed {
                            mix_log_q(&mut q, batch.len, pool);
                        }
                        Some(q)
                    }
                    (None, true) => {
                        return Err(ModelError::Batch(
                            "the log-Q correction needs the item frequencies \
                             (set_item_frequencies) before training"
                                .into(),
                        ));
                    }
                    (_, false) => None,
                };
                let ids = self.spec.remove_accidental_hits.then_some(items.as_slice());
                let scores = self.batch_scores.forward(u, v)?;
                let loss = self.softmax.forward(scores, log_q.as_deref(), ids)?;
                if !loss.is_finite() {
                    return Ok(loss);
                }
                let (gu, gv) = self.batch_scores.backward(u, v, self.softmax.grad())?;
                (loss, gu, gv)
            }
        };
        zero_grad(&mut self.towers);
        let Towers { user, item } = &mut self.towers;
        let (user_done, item_done) = rayon::join(
            || user.backward(&batch.sparse, grad_u),
            || item.backward(item_input, grad_v),
        );
        user_done?;
        item_done?;
        let clip = self.spec.dense_optimizer.clip_norm;
        if clip > 0.0 {
            clip_grad_norm(&mut self.towers, clip)?;
        }
        self.optimizer.step(&mut self.towers)?;
        Ok(loss)
    }

    /// The score (logit) of each sample's user for its own item: what the BCE loss trains and
    /// what AUC is measured on.
    pub fn scores(&mut self, batch: &Batch) -> Result<&[f32]> {
        check_batch(batch)?;
        self.towers.forward(&batch.sparse, &batch.sparse)?;
        let (u, v) = (self.towers.user.output(), self.towers.item.output());
        Ok(self.row_scores.forward(u, v)?.as_slice())
    }

    /// The user embeddings of the samples of `sparse` (`B x D`, row-major), ready for top-K
    /// search: L2-normalised when the model scores by cosine, so the inner product ranks as
    /// the model does.
    pub fn user_embeddings(&mut self, sparse: &KeyedJagged) -> Result<Vec<f32>> {
        self.towers.user.forward(sparse)?;
        searchable(
            &mut self.normalize,
            self.spec.cosine,
            self.towers.user.output(),
        )
    }

    /// The item embeddings of the samples of `sparse`, as [`user_embeddings`](Self::user_embeddings).
    pub fn item_embeddings(&mut self, sparse: &KeyedJagged) -> Result<Vec<f32>> {
        self.towers.item.forward(sparse)?;
        searchable(
            &mut self.normalize,
            self.spec.cosine,
            self.towers.item.output(),
        )
    }
}

/// A tower's output as searchable vectors: normalised when scoring by cosine.
fn searchable(normalize: &mut L2Normalize, cosine: bool, out: MatRef<'_>) -> Result<Vec<f32>> {
    if cosine {
        Ok(normalize.forward(out)?.as_slice().to_vec())
    } else {
        Ok(out.as_slice().to_vec())
    }
}

/// Refuses a batch whose sparse features do not hold its samples.
fn check_batch(batch: &Batch) -> Result<()> {
    if batch.sparse.batch_size() != batch.len {
        return Err(ModelError::Batch(format!(
            "sparse features hold {} samples, the batch {}",
            batch.sparse.batch_size(),
            batch.len
        )));
    }
    Ok(())
}

/// The item id of every sample (the first id of its `feature` bag; 0, "unknown", when empty).
fn item_ids(sparse: &KeyedJagged, feature: &str) -> Result<Vec<u64>> {
    sparse.first_ids(feature).ok_or_else(|| {
        ModelError::Batch(format!(
            "the batch has no '{feature}' feature (the item id)"
        ))
    })
}

/// The log-Q correction of each in-batch column.
fn column_log_q(table: &[f32], items: &[u64]) -> Result<Vec<f32>> {
    items
        .iter()
        .map(|&id| {
            table.get(id as usize).copied().ok_or_else(|| {
                ModelError::Batch(format!(
                    "item id {id} is outside the item table of {} rows",
                    table.len()
                ))
            })
        })
        .collect()
}

/// Turns each column's log frequency `ln p(j)` into the log of its expected count among the
/// candidates of mixed sampling, `ln(B·p(j) + N/pool)`, where the columns past the first
/// `batch` are the N uniform samples.
fn mix_log_q(log_q: &mut [f32], batch: usize, pool: usize) {
    let uniform = (log_q.len() - batch.min(log_q.len())) as f64 / pool as f64;
    for q in log_q.iter_mut() {
        *q = (batch as f64 * f64::from(*q).exp() + uniform).ln() as f32;
    }
}

#[cfg(test)]
mod tests;
