//! The dense half of a ranking model, for trainers that keep the embedding tables elsewhere:
//! distributed training shards the tables over ranks, looks them up by all-to-all, and hands
//! this part the pooled embeddings of its samples.
//!
//! A [`DenseRanking`] built from a [`RankingSpec`] holds exactly the dense layers and the
//! dense optimizer a [`RankingModel`](crate::RankingModel) of that spec holds, initialised
//! identically, and its checkpoint is the same `model.json` and `dense.bin`; the embedding
//! tables are saved beside them, shard by shard, by their holders. DeepFM is refused: its
//! first-order tables live inside its dense part.

use crate::checkpoint::{Checkpointed, restore, save};
use crate::dense_optim::DenseOptimizer;
use crate::error::{ModelError, Result};
use crate::ranking::{Net, RankingModel};
use crate::spec::{ModelKind, RankingSpec};
use cascade_core::Batch;
use cascade_embed::EmbeddingCollection;
use cascade_nn::{
    MatRef, ParamMut, Parameters, Rng, clip_grad_norm, gather_grads, parameter_count, scatter_grads,
};
use std::path::Path;

/// A ranking model's dense layers and their optimizer, fed pooled embeddings from outside.
#[derive(Debug, Clone)]
pub struct DenseRanking {
    spec: RankingSpec,
    net: Net,
    optimizer: DenseOptimizer,
}

impl DenseRanking {
    /// The dense part of the model `spec` describes, initialised as
    /// [`RankingModel::new`](crate::RankingModel::new) initialises it. DeepFM is refused.
    pub fn new(spec: RankingSpec) -> Result<Self> {
        spec.validate()?;
        if spec.kind == ModelKind::Deepfm {
            return Err(ModelError::Spec(
                "deepfm keeps its first-order embedding tables inside the dense part, so it \
                 trains in one process only; use dlrm or dcn across ranks"
                    .into(),
            ));
        }
        let mut net = Net::new(&spec, &mut Rng::seed(spec.seed), None)?;
        let optimizer = DenseOptimizer::new(spec.dense_optimizer, &mut net);
        Ok(Self {
            spec,
            net,
            optimizer,
        })
    }

    /// The specification the model was built from.
    pub fn spec(&self) -> &RankingSpec {
        &self.spec
    }

    fn inputs<'a>(&self, batch: &'a Batch, pooled: &'a [f32]) -> Result<(MatRef<'a>, MatRef<'a>)> {
        let dense = RankingModel::dense_of(&self.spec, batch)?;
        let width = self.spec.embedding_dim * self.spec.sparse.len();
        let pooled = MatRef::new(pooled, batch.len, width).map_err(|e| {
            ModelError::Batch(format!("pooled embeddings do not match the batch: {e}"))
        })?;
        Ok((dense, pooled))
    }

    /// The logits of `batch` given its pooled embeddings (`[batch, sparse features × dim]`,
    /// in the order of the spec's sparse features).
    pub fn forward(&mut self, batch: &Batch, pooled: &[f32]) -> Result<&[f32]> {
        let (dense, pooled) = self.inputs(batch, pooled)?;
        self.net.forward(dense, pooled, &batch.sparse)
    }

    /// Back-propagates `grad_logits` through the last [`forward`](Self::forward), which must
    /// have been on `batch` and `pooled`: replaces the dense gradients with this batch's and
    /// returns the gradient of the pooled embeddings.
    pub fn backward(
        &mut self,
        batch: &Batch,
        pooled: &[f32],
        grad_logits: &[f32],
    ) -> Result<&[f32]> {
        let (dense, pooled) = self.inputs(batch, pooled)?;
        let grad = MatRef::new(grad_logits, batch.len, 1)?;
        self.net.backward(dense, pooled, &batch.sparse, grad)
    }

    /// Updates the dense parameters from their gradients (clipped to the configured norm).
    pub fn step(&mut self) -> Result<()> {
        let clip = self.spec.dense_optimizer.clip_norm;
        if clip > 0.0 {
            clip_grad_norm(&mut self.net, clip)?;
        }
        self.optimizer.step(&mut self.net)
    }

    /// Number of dense parameters: the length of the flat gradient buffer.
    pub fn dense_len(&mut self) -> usize {
        parameter_count(&mut self.net)
    }

    /// Copies the dense gradients into `out` (length [`dense_len`](Self::dense_len)), in a
    /// fixed order: what data-parallel ranks all-reduce.
    pub fn dense_grads(&mut self, out: &mut [f32]) -> Result<()> {
        Ok(gather_grads(&mut self.net, out)?)
    }

    /// Replaces the dense gradients with `src` (after the all-reduce).
    pub fn set_dense_grads(&mut self, src: &[f32]) -> Result<()> {
        Ok(scatter_grads(&mut self.net, src)?)
    }

    /// Writes `model.json` and `dense.bin` into the folder `dir`: a ranking-model checkpoint
    /// whose embedding tables the shard holders save beside it.
    pub fn save(&mut self, dir: &Path) -> Result<()> {
        save(self, dir)
    }

    /// Restores the dense parameters and optimizer from the checkpoint folder `dir`, which
    /// must have been written by a model of the same specification.
    pub fn restore(&mut self, dir: &Path) -> Result<()> {
        restore(self, dir)
    }
}

impl Parameters for DenseRanking {
    fn visit_parameters(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        self.net.visit_parameters(f);
    }
}

impl Checkpointed for DenseRanking {
    fn kind_name(&self) -> &'static str {
        self.spec.kind.name()
    }

    fn spec_json(&self) -> Result<serde_json::Value> {
        serde_json::to_value(&self.spec).map_err(|e| ModelError::Spec(e.to_string()))
    }

    fn dense_parts(&mut self) -> (&mut dyn Parameters, &mut DenseOptimizer) {
        (&mut self.net, &mut self.optimizer)
    }

    fn collections(&mut self) -> Vec<(&'static str, &mut EmbeddingCollection)> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{batch, spec};
    use cascade_embed::{EmbeddingCollection, Pooled, TableShard};

    #[test]
    fn the_dense_half_trains_as_the_whole_model_does() {
        for kind in [ModelKind::Dlrm, ModelKind::Dcn] {
            let spec = spec(kind, 2);
            let b = batch(2);
            let mut whole = RankingModel::new(spec.clone()).unwrap();
            let mut dense = DenseRanking::new(spec.clone()).unwrap();
            let mut tables = EmbeddingCollection::new(
                RankingModel::table_configs(&spec),
                spec.embedding_optimizer,
            )
            .unwrap();
            let mut pooled = Pooled::new();
            tables.forward(&b.sparse, &mut pooled).unwrap();
            let want = whole.forward(&b).unwrap().to_vec();
            assert_eq!(dense.forward(&b, pooled.values()).unwrap(), want);
            let grad: Vec<f32> = want.iter().map(|z| z * 0.5 - 0.1).collect();
            whole.backward(&b, &grad).unwrap();
            whole.step().unwrap();
            let grad_pooled = dense.backward(&b, pooled.values(), &grad).unwrap().to_vec();
            tables.backward_update(&b.sparse, &grad_pooled).unwrap();
            dense.step().unwrap();
            let want = whole.forward(&b).unwrap().to_vec();
            tables.forward(&b.sparse, &mut pooled).unwrap();
            assert_eq!(dense.forward(&b, pooled.values()).unwrap(), want);

            // The dense checkpoint plus two shards of the tables load as the whole model.
            let dir = tempfile::tempdir().unwrap();
            dense.save(dir.path()).unwrap();
            let rows = spec.sparse[0].rows;
            for (rank, range) in [(0, 0..rows / 2), (1, rows / 2..rows)] {
                let mut part = EmbeddingCollection::from_shards(
                    RankingModel::table_configs(&spec)
                        .into_iter()
                        .map(|config| TableShard {
                            config,
                            rows: range.clone(),
                        })
                        .collect(),
                    spec.embedding_optimizer,
                )
                .unwrap();
                for t in 0..tables.tables().len() {
                    let name = tables.tables()[t].name().to_string();
                    let mut row = vec![0.0; spec.embedding_dim];
                    for r in range.clone() {
                        tables.tables()[t].read_row(r, &mut row).unwrap();
                        part.table_mut(&name)
                            .unwrap()
                            .write_row(r - range.start, &row)
                            .unwrap();
                    }
                }
                part.save_shard(dir.path(), crate::EMBEDDINGS_STEM, rank)
                    .unwrap();
            }
            let mut loaded = RankingModel::load(dir.path()).unwrap();
            assert_eq!(loaded.forward(&b).unwrap(), want);
        }
    }

    #[test]
    fn deepfm_is_refused() {
        let err = DenseRanking::new(spec(ModelKind::Deepfm, 2)).unwrap_err();
        assert!(
            err.to_string().contains("use dlrm or dcn across ranks"),
            "{err}"
        );
    }
}
