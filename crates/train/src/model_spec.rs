//! From a training configuration and a dataset manifest to a model specification (ranking or
//! two-tower): which
//! features the model embeds, how many rows each table has, and every layer and optimizer
//! setting.

use crate::config::{Scoring, SparseOptimizerKind, StorageKind, TrainConfig};
use crate::error::{Result, TrainError};
use cascade_data::DatasetManifest;
use cascade_embed::{Optimizer, Pooling, Storage};
use cascade_model::{DenseOptimizerSpec, RankingSpec, SparseInput, TowerFeature, TwoTowerSpec};

/// The model `config` describes for a dataset with `manifest`'s features.
pub fn ranking_spec(config: &TrainConfig, manifest: &DatasetManifest) -> Result<RankingSpec> {
    let num_dense = manifest.dense.iter().map(|f| f.width).sum();
    let sparse = manifest
        .sparse
        .iter()
        .map(|f| {
            Ok(SparseInput {
                name: f.name.clone(),
                rows: rows_of(config, &f.name, f.cardinality)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let m = &config.model;
    Ok(RankingSpec {
        kind: m.kind,
        num_dense,
        sparse,
        embedding_dim: m.embedding_dim,
        bottom_mlp: m.bottom_mlp.clone(),
        top_mlp: m.top_mlp.clone(),
        interaction_self_pairs: m.interaction_self_pairs,
        cross_layers: m.cross_layers,
        cross_rank: m.cross_rank,
        pooling: Pooling::Sum,
        storage: storage(config),
        embedding_optimizer: embedding_optimizer(config),
        dense_optimizer: dense_optimizer(config),
        mlp_precision: m.mlp_precision,
        seed: config.train.seed,
    })
}

/// The two-tower model `config` describes for a dataset with `manifest`'s features: each
/// listed feature must be one of the dataset's sparse features; multi-hot ones are
/// mean-pooled, single ids summed (a bag of one).
pub fn two_tower_spec(config: &TrainConfig, manifest: &DatasetManifest) -> Result<TwoTowerSpec> {
    let t = config.two_tower.clone().unwrap_or_default();
    let tower = |names: &[String], key: &str| {
        names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let f = manifest.sparse.iter().find(|f| &f.name == name).ok_or_else(|| {
                    let known: Vec<&str> =
                        manifest.sparse.iter().map(|f| f.name.as_str()).collect();
                    TrainError::Invalid(format!(
                        "two_tower.{key}: the dataset has no sparse feature '{name}' (it has: {})",
                        known.join(", ")
                    ))
                })?;
                Ok(TowerFeature {
                    name: name.clone(),
                    rows: rows_of(config, &f.name, f.cardinality)?,
                    dim: if i == 0 { t.id_dim } else { t.feature_dim },
                    pooling: if f.multi_hot {
                        Pooling::Mean
                    } else {
                        Pooling::Sum
                    },
                })
            })
            .collect::<Result<Vec<_>>>()
    };
    Ok(TwoTowerSpec {
        user_features: tower(&t.user_features, "user_features")?,
        item_features: tower(&t.item_features, "item_features")?,
        tower_mlp: t.tower_mlp.clone(),
        cosine: t.scoring == Scoring::Cosine,
        temperature: t.temperature,
        loss: t.loss,
        log_q_correction: t.log_q_correction,
        remove_accidental_hits: t.remove_accidental_hits,
        storage: storage(config),
        embedding_optimizer: embedding_optimizer(config),
        dense_optimizer: dense_optimizer(config),
        seed: config.train.seed,
    })
}

/// The table rows of feature `name`: its cardinality, or `embeddings.hash_rows` for a hashed
/// feature (cardinality 0).
fn rows_of(config: &TrainConfig, name: &str, cardinality: u64) -> Result<u64> {
    match (cardinality, config.embeddings.hash_rows) {
        (0, Some(rows)) => Ok(rows),
        (0, None) => Err(TrainError::Invalid(format!(
            "sparse feature '{name}' has no cardinality in cascade.json; set embeddings.hash_rows"
        ))),
        (rows, _) => Ok(rows),
    }
}

/// The row storage `config` gives every embedding table.
pub(crate) fn storage(config: &TrainConfig) -> Storage {
    match config.embeddings.storage {
        StorageKind::F32 => Storage::F32,
        StorageKind::F16 => Storage::F16,
        StorageKind::Int8 => Storage::Int8,
    }
}

/// The fused sparse optimizer `config` gives every embedding table.
pub(crate) fn embedding_optimizer(config: &TrainConfig) -> Optimizer {
    let lr = config.embeddings.learning_rate;
    match config.embeddings.optimizer {
        SparseOptimizerKind::Sgd => Optimizer::Sgd {
            lr,
            weight_decay: 0.0,
        },
        SparseOptimizerKind::RowwiseAdagrad => Optimizer::rowwise_adagrad(lr),
        SparseOptimizerKind::Adam => Optimizer::adam(lr),
    }
}

fn dense_optimizer(config: &TrainConfig) -> DenseOptimizerSpec {
    let o = &config.optimizer;
    DenseOptimizerSpec {
        kind: o.kind,
        learning_rate: o.learning_rate,
        momentum: o.momentum,
        clip_norm: o.clip_norm,
    }
}
