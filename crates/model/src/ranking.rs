//! The ranking model: an embedding collection, one of the dense architectures, the loss and
//! the dense optimizer, behind one API for training, evaluation and serving.

use crate::dcn::Dcn;
use crate::deepfm::DeepFm;
use crate::dense_optim::DenseOptimizer;
use crate::dlrm::Dlrm;
use crate::error::{ModelError, Result};
use crate::spec::{ModelKind, RankingSpec};
use cascade_core::{Batch, KeyedJagged};
use cascade_embed::{EmbeddingCollection, Pooled, TableConfig};
use cascade_nn::{
    BceWithLogits, MatRef, ParamMut, Parameters, Rng, clip_grad_norm, gather_grads,
    parameter_count, zero_grad,
};

/// The dense architecture of a model.
#[derive(Debug, Clone)]
pub(crate) enum Net {
    Dlrm(Dlrm),
    Dcn(Dcn),
    DeepFm(Box<DeepFm>),
}

impl Net {
    /// Builds the dense layers `spec` describes from `rng`; a DeepFM also gets `first_order`,
    /// its first-order embedding tables.
    pub(crate) fn new(
        spec: &RankingSpec,
        rng: &mut Rng,
        first_order: Option<EmbeddingCollection>,
    ) -> Result<Self> {
        Ok(match (spec.kind, first_order) {
            (ModelKind::Dlrm, _) => Net::Dlrm(Dlrm::new(spec, rng)?),
            (ModelKind::Dcn, _) => Net::Dcn(Dcn::new(spec, rng)?),
            (ModelKind::Deepfm, Some(first)) => {
                Net::DeepFm(Box::new(DeepFm::new(spec, first, rng)?))
            }
            (ModelKind::Deepfm, None) => {
                return Err(ModelError::Spec(
                    "deepfm keeps first-order embedding tables in its dense part".into(),
                ));
            }
            (ModelKind::TwoTower, _) => {
                return Err(ModelError::Spec(
                    "kind: two_tower is not a ranking model".into(),
                ));
            }
        })
    }

    /// The logits of a batch from its dense features and pooled embeddings (`sparse` feeds
    /// DeepFM's first-order tables).
    pub(crate) fn forward(
        &mut self,
        dense: MatRef<'_>,
        pooled: MatRef<'_>,
        sparse: &KeyedJagged,
    ) -> Result<&[f32]> {
        let logits = match self {
            Net::Dlrm(n) => n.forward(dense, pooled)?,
            Net::Dcn(n) => n.forward(dense, pooled)?,
            Net::DeepFm(n) => n.forward(dense, pooled, sparse)?,
        };
        Ok(logits.as_slice())
    }

    /// Replaces the dense gradients with those of `grad` (one per logit of the last forward
    /// pass) and returns the gradient of the pooled embeddings.
    pub(crate) fn backward(
        &mut self,
        dense: MatRef<'_>,
        pooled: MatRef<'_>,
        sparse: &KeyedJagged,
        grad: MatRef<'_>,
    ) -> Result<&[f32]> {
        zero_grad(self);
        Ok(match self {
            Net::Dlrm(n) => n.backward(dense, pooled, grad)?,
            Net::Dcn(n) => n.backward(dense, pooled, grad)?,
            Net::DeepFm(n) => n.backward(dense, pooled, sparse, grad)?,
        })
    }
}

impl Parameters for Net {
    fn visit_parameters(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        match self {
            Net::Dlrm(n) => n.visit_parameters(f),
            Net::Dcn(n) => n.visit_parameters(f),
            Net::DeepFm(n) => n.visit_parameters(f),
        }
    }
}

/// A DLRM, DCN-v2 or DeepFM ranking model with its optimizers; see the crate documentation.
#[derive(Debug, Clone)]
pub struct RankingModel {
    pub(crate) spec: RankingSpec,
    pub(crate) embeddings: EmbeddingCollection,
    pooled: Pooled,
    pub(crate) net: Net,
    pub(crate) optimizer: DenseOptimizer,
    loss: BceWithLogits,
    /// Rows of the last forward pass, so backward can refuse another batch.
    forward_rows: Option<usize>,
}

/// One table per sparse feature, `dim` wide, named after the feature plus `suffix`.
pub(crate) fn tables(spec: &RankingSpec, dim: usize, suffix: &str) -> Vec<TableConfig> {
    spec.sparse
        .iter()
        .map(|f| {
            let mut t = TableConfig::new(format!("{}{suffix}", f.name), f.rows, dim, &[&f.name]);
            t.pooling = spec.pooling;
            t.storage = spec.storage;
            t.seed = spec.seed;
            t
        })
        .collect()
}

impl RankingModel {
    /// Builds and initialises the model `spec` describes, reproducibly from its seed.
    pub fn new(spec: RankingSpec) -> Result<Self> {
        spec.validate()?;
        let embeddings = EmbeddingCollection::new(
            tables(&spec, spec.embedding_dim, ""),
            spec.embedding_optimizer,
        )?;
        let mut rng = Rng::seed(spec.seed);
        let first_order = (spec.kind == ModelKind::Deepfm)
            .then(|| {
                EmbeddingCollection::new(tables(&spec, 1, ".first_order"), spec.embedding_optimizer)
            })
            .transpose()?;
        let mut net = Net::new(&spec, &mut rng, first_order)?;
        let optimizer = DenseOptimizer::new(spec.dense_optimizer, &mut net);
        Ok(Self {
            spec,
            embeddings,
            pooled: Pooled::new(),
            net,
            optimizer,
            loss: BceWithLogits::new(),
            forward_rows: None,
        })
    }

    /// The specification the model was built from.
    pub fn spec(&self) -> &RankingSpec {
        &self.spec
    }

    /// The embedding tables of the sparse features (for inspection, export and serving).
    pub fn embeddings(&self) -> &EmbeddingCollection {
        &self.embeddings
    }

    /// The dense optimizer (its step count is the number of training steps taken).
    pub fn optimizer(&self) -> &DenseOptimizer {
        &self.optimizer
    }

    /// The configurations of the embedding tables of `spec`'s sparse features (one per
    /// feature, named after it), as the model builds them: what a sharding plan places.
    pub fn table_configs(spec: &RankingSpec) -> Vec<TableConfig> {
        tables(spec, spec.embedding_dim, "")
    }

    /// Checks that `batch` has the model's dense width; returns the dense features as a matrix.
    pub(crate) fn dense_of<'a>(spec: &RankingSpec, batch: &'a Batch) -> Result<MatRef<'a>> {
        if batch.num_dense != spec.num_dense {
            return Err(ModelError::Batch(format!(
                "the batch has {} dense features, the model was built for {}",
                batch.num_dense, spec.num_dense
            )));
        }
        MatRef::new(&batch.dense, batch.len, batch.num_dense).map_err(|e| {
            ModelError::Batch(format!("dense features do not match the batch size: {e}"))
        })
    }

    /// The logits (one per sample) of `batch`; keeps what [`backward`](Self::backward) needs.
    pub fn forward(&mut self, batch: &Batch) -> Result<&[f32]> {
        let dense = Self::dense_of(&self.spec, batch)?;
        if batch.sparse.batch_size() != batch.len {
            return Err(ModelError::Batch(format!(
                "sparse features hold {} samples, the batch {}",
                batch.sparse.batch_size(),
                batch.len
            )));
        }
        self.forward_rows = None;
        self.embeddings.forward(&batch.sparse, &mut self.pooled)?;
        let pooled = MatRef::new(self.pooled.values(), batch.len, self.pooled.width())?;
        let logits = self.net.forward(dense, pooled, &batch.sparse)?;
        self.forward_rows = Some(batch.len);
        Ok(logits)
    }

    /// Back-propagates `grad_logits` (the loss gradient for each logit of the last
    /// [`forward`](Self::forward), which must have been on `batch`): replaces the dense
    /// gradients with this batch's and applies the fused sparse optimizer to the embedding rows
    /// the batch touched. Call [`step`](Self::step) afterwards for the dense parameters.
    pub fn backward(&mut self, batch: &Batch, grad_logits: &[f32]) -> Result<()> {
        if self.forward_rows != Some(batch.len) || grad_logits.len() != batch.len {
            return Err(ModelError::Batch(format!(
                "backward needs the forward pass of this batch of {} samples and one gradient per \
                 sample, got {} gradients",
                batch.len,
                grad_logits.len()
            )));
        }
        let dense = Self::dense_of(&self.spec, batch)?;
        let pooled = MatRef::new(self.pooled.values(), batch.len, self.pooled.width())?;
        let grad = MatRef::new(grad_logits, batch.len, 1)?;
        let grad_pooled = self.net.backward(dense, pooled, &batch.sparse, grad)?;
        self.embeddings
            .backward_update(&batch.sparse, grad_pooled)?;
        self.forward_rows = None;
        Ok(())
    }

    /// Updates the dense parameters from their gradients (clipped to the configured norm).
    pub fn step(&mut self) -> Result<()> {
        let clip = self.spec.dense_optimizer.clip_norm;
        if clip > 0.0 {
            clip_grad_norm(&mut self.net, clip)?;
        }
        self.optimizer.step(&mut self.net)
    }

    /// One whole training step on `batch`: forward, mean binary cross-entropy against the
    /// batch labels, backward with the fused embedding update, dense step. Returns the loss.
    /// A non-finite loss is returned without touching any parameter, so the caller can stop
    /// with the model as it was before the batch.
    pub fn train_step(&mut self, batch: &Batch) -> Result<f32> {
        if batch.labels.len() != batch.len {
            return Err(ModelError::Batch(format!(
                "{} labels for {} samples (does the dataset name a label column?)",
                batch.labels.len(),
                batch.len
            )));
        }
        // The loss is taken out while the logits borrow the model, and always put back.
        let mut loss_fn = std::mem::take(&mut self.loss);
        let result = self.step_with(batch, &mut loss_fn);
        self.loss = loss_fn;
        result
    }

    fn step_with(&mut self, batch: &Batch, loss_fn: &mut BceWithLogits) -> Result<f32> {
        let logits = self.forward(batch)?;
        let loss = loss_fn.forward(MatRef::new(logits, batch.len, 1)?, &batch.labels)?;
        if !loss.is_finite() {
            self.forward_rows = None;
            return Ok(loss);
        }
        self.backward(batch, loss_fn.grad().as_slice())?;
        self.step()?;
        Ok(loss)
    }

    /// Number of dense parameters: the length of the flat gradient buffer.
    pub fn dense_len(&mut self) -> usize {
        parameter_count(&mut self.net)
    }

    /// Copies the dense gradients into `out` (length [`dense_len`](Self::dense_len)), in a
    /// fixed order, for inspection (gradient checks).
    pub fn dense_grads(&mut self, out: &mut [f32]) -> Result<()> {
        Ok(gather_grads(&mut self.net, out)?)
    }
}
