//! What a ranking model is: its architecture, its inputs and every size and optimizer setting.
//!
//! The specification is everything needed to rebuild a model from scratch; it is written into
//! every checkpoint header, so a checkpoint can be loaded without its training configuration
//! and is refused by a model built from a different specification.

use crate::error::{ModelError, Result};
use cascade_embed::{Pooling, Storage};
use cascade_nn::{Activation, Mlp, Precision, Rng};
use serde::{Deserialize, Serialize};

/// Which ranking architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// DLRM: bottom MLP, pairwise dot interaction, top MLP.
    Dlrm,
    /// DCN-v2 (the MLPerf DLRMv2 shape): cross network over the dense MLP output and the
    /// embeddings, then the top MLP.
    Dcn,
    /// DeepFM: first-order terms, FM second-order term and a deep MLP, summed.
    Deepfm,
    /// The two-tower retrieval model ([`TwoTowerModel`](crate::TwoTowerModel)), not a ranking
    /// architecture: listed here so one `model.kind` names every model.
    #[serde(rename = "two_tower")]
    TwoTower,
}

impl ModelKind {
    /// The name used in configurations and checkpoint headers.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Dlrm => "dlrm",
            ModelKind::Dcn => "dcn",
            ModelKind::Deepfm => "deepfm",
            ModelKind::TwoTower => "two_tower",
        }
    }
}

/// One sparse (id) feature the model embeds: one table per feature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparseInput {
    /// Feature name, as the batch keys it.
    pub name: String,
    /// Rows of its embedding table (the feature's cardinality).
    pub rows: u64,
}

/// Algorithm of the dense-parameter optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DenseOptimizerKind {
    /// SGD, with optional momentum.
    Sgd,
    /// Adagrad.
    Adagrad,
    /// Adam.
    Adam,
}

/// The dense optimizer and its hyper-parameters (PyTorch's defaults for the rest).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseOptimizerSpec {
    /// Algorithm.
    pub kind: DenseOptimizerKind,
    /// Learning rate.
    pub learning_rate: f32,
    /// SGD momentum (0 for none); ignored by the others.
    pub momentum: f32,
    /// Global L2 norm the dense gradients are clipped to before a step; 0 disables clipping.
    pub clip_norm: f32,
}

impl DenseOptimizerSpec {
    /// Checks the hyper-parameters are in range; errors name the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ModelError::Spec(m));
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!(
                "dense_optimizer.learning_rate: must be positive, found {}",
                self.learning_rate
            ));
        }
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return bad(format!(
                "dense_optimizer.momentum: must be in [0, 1), found {}",
                self.momentum
            ));
        }
        if !(self.clip_norm.is_finite() && self.clip_norm >= 0.0) {
            return bad(format!(
                "dense_optimizer.clip_norm: must be 0 (off) or positive, found {}",
                self.clip_norm
            ));
        }
        Ok(())
    }
}

/// Everything that defines a ranking model; see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankingSpec {
    /// Architecture.
    pub kind: ModelKind,
    /// Dense features per sample; 0 for models over sparse features only.
    pub num_dense: usize,
    /// Sparse features, in the order their embeddings are laid out.
    pub sparse: Vec<SparseInput>,
    /// Embedding width of every sparse feature.
    pub embedding_dim: usize,
    /// Bottom MLP layer sizes after the dense input; the last equals `embedding_dim`. Unused
    /// when `num_dense` is 0.
    pub bottom_mlp: Vec<usize>,
    /// Top (DeepFM: deep) MLP layer sizes after its input; the last is 1, the logit.
    pub top_mlp: Vec<usize>,
    /// DLRM: include each vector's dot product with itself in the interaction.
    pub interaction_self_pairs: bool,
    /// DCN-v2: number of cross layers.
    pub cross_layers: usize,
    /// DCN-v2: rank of the low-rank cross weights; 0 for full-rank.
    pub cross_rank: usize,
    /// Pooling of multi-id bags.
    pub pooling: Pooling,
    /// Storage of embedding rows.
    pub storage: Storage,
    /// Fused sparse optimizer of the embedding tables.
    pub embedding_optimizer: cascade_embed::Optimizer,
    /// Optimizer of the dense parameters.
    pub dense_optimizer: DenseOptimizerSpec,
    /// Precision the MLPs' matrix products multiply in (`f32` in checkpoints written before
    /// it existed).
    #[serde(default)]
    pub mlp_precision: Precision,
    /// Seed of every initialisation.
    pub seed: u64,
}

impl RankingSpec {
    /// Checks the sizes fit together; errors name the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ModelError::Spec(m));
        if self.kind == ModelKind::TwoTower {
            return bad("kind: two_tower is a retrieval model, built as a TwoTowerModel".into());
        }
        if self.sparse.is_empty() {
            return bad("sparse: a ranking model needs at least one sparse feature".into());
        }
        if self.kind == ModelKind::Dlrm && self.num_dense == 0 && self.sparse.len() < 2 {
            return bad(
                "sparse: a DLRM without dense features needs at least two sparse features to interact"
                    .into(),
            );
        }
        if self.embedding_dim == 0 {
            return bad("embedding_dim: must be at least 1".into());
        }
        if let Some(f) = self.sparse.iter().find(|f| f.rows == 0) {
            return bad(format!("sparse: feature '{}' has 0 rows", f.name));
        }
        if self.num_dense > 0 && self.bottom_mlp.last() != Some(&self.embedding_dim) {
            return bad(format!(
                "bottom_mlp: must end with embedding_dim ({}), found {:?}",
                self.embedding_dim, self.bottom_mlp
            ));
        }
        if self.top_mlp.last() != Some(&1) {
            return bad(format!(
                "top_mlp: must end with 1 (the logit), found {:?}",
                self.top_mlp
            ));
        }
        if self.kind == ModelKind::Dcn && self.cross_layers == 0 {
            return bad("cross_layers: DCN-v2 needs at least one cross layer".into());
        }
        self.dense_optimizer.validate()?;
        self.embedding_optimizer.validate()?;
        Ok(())
    }

    /// One of the model's MLPs: from `input` through the layer widths `sizes`, `last` after
    /// its last layer, multiplying in the spec's `mlp_precision`.
    pub(crate) fn mlp(
        &self,
        input: usize,
        sizes: &[usize],
        last: Activation,
        rng: &mut Rng,
    ) -> Result<Mlp> {
        let widths: Vec<usize> = std::iter::once(input)
            .chain(sizes.iter().copied())
            .collect();
        let mut mlp = Mlp::new(&widths, last, rng)?;
        mlp.set_precision(self.mlp_precision);
        Ok(mlp)
    }
}
