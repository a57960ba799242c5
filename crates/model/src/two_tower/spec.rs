//! What a two-tower model is: the features of each tower, the tower MLP, how the two
//! embeddings are scored, the loss and every optimizer setting.
//!
//! Like [`RankingSpec`](crate::RankingSpec), the specification is written into every
//! checkpoint header, so a checkpoint is refused by a model built differently.

use crate::error::{ModelError, Result};
use crate::spec::DenseOptimizerSpec;
use cascade_embed::{Pooling, Storage};
use serde::{Deserialize, Serialize};

/// One id feature a tower embeds, in its own table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TowerFeature {
    /// Feature name, as the batch keys it.
    pub name: String,
    /// Rows of its table (the feature's cardinality; index 0 is "missing or unknown").
    pub rows: u64,
    /// Embedding width.
    pub dim: usize,
    /// How a multi-id bag becomes one vector (`mean` suits genre lists, `sum` single ids).
    pub pooling: Pooling,
}

/// The training objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TwoTowerLoss {
    /// Pointwise binary cross-entropy of the score against the sample's 0/1 label (the
    /// reference notebook's objective: "does this user rate this item highly").
    Bce,
    /// In-batch sampled softmax: each sample's item against the batch's other items as
    /// negatives (every sample is a positive interaction; labels are not used).
    Softmax,
}

/// Everything that defines a two-tower model; see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoTowerSpec {
    /// Features of the user (query) tower, in the order their embeddings are concatenated.
    pub user_features: Vec<TowerFeature>,
    /// Features of the item tower; the first is the item id, which identifies the item in the
    /// corpus, in the log-Q correction and in accidental-hit removal.
    pub item_features: Vec<TowerFeature>,
    /// Layer widths of both towers' MLPs after their input; the last is the embedding width.
    pub tower_mlp: Vec<usize>,
    /// Score by cosine (both embeddings L2-normalised) instead of the dot product.
    pub cosine: bool,
    /// Scores are divided by this.
    pub temperature: f32,
    /// Objective.
    pub loss: TwoTowerLoss,
    /// Softmax: subtract each candidate's log sampling probability from its logit (Yi et al.,
    /// RecSys 2019), so popular items are not over-penalised for appearing as negatives often.
    pub log_q_correction: bool,
    /// Softmax: leave out of a row's softmax the other columns that hold the row's own item.
    pub remove_accidental_hits: bool,
    /// Storage of embedding rows.
    pub storage: Storage,
    /// Fused sparse optimizer of the embedding tables.
    pub embedding_optimizer: cascade_embed::Optimizer,
    /// Optimizer of the tower MLPs.
    pub dense_optimizer: DenseOptimizerSpec,
    /// Seed of every initialisation.
    pub seed: u64,
}

impl TwoTowerSpec {
    /// Width of the embeddings both towers produce.
    pub fn embedding_dim(&self) -> usize {
        self.tower_mlp.last().copied().unwrap_or(0)
    }

    /// Name of the item id feature (the item tower's first).
    pub fn item_id_feature(&self) -> &str {
        self.item_features.first().map_or("", |f| f.name.as_str())
    }

    /// Checks the sizes fit together; errors name the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ModelError::Spec(m));
        for (tower, features) in [
            ("user_features", &self.user_features),
            ("item_features", &self.item_features),
        ] {
            if features.is_empty() {
                return bad(format!("{tower}: a tower needs at least one feature"));
            }
            if let Some(f) = features.iter().find(|f| f.rows == 0 || f.dim == 0) {
                return bad(format!(
                    "{tower}: feature '{}' needs at least one row and a width of at least 1",
                    f.name
                ));
            }
        }
        if let Some(f) = self
            .user_features
            .iter()
            .find(|u| self.item_features.iter().any(|i| i.name == u.name))
        {
            return bad(format!(
                "feature '{}' is in both towers; each feature belongs to one",
                f.name
            ));
        }
        if self.tower_mlp.is_empty() || self.tower_mlp.contains(&0) {
            return bad(format!(
                "tower_mlp: needs at least one layer, every width at least 1, found {:?}",
                self.tower_mlp
            ));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return bad(format!(
                "temperature: must be positive, found {}",
                self.temperature
            ));
        }
        self.dense_optimizer.validate()?;
        self.embedding_optimizer.validate()?;
        Ok(())
    }
}
