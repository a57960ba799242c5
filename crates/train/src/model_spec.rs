//! From a training configuration and a dataset manifest to a model specification: which
//! features the model embeds, how many rows each table has, and every layer and optimizer
//! setting.

use crate::config::{SparseOptimizerKind, StorageKind, TrainConfig};
use crate::error::{Result, TrainError};
use cascade_data::DatasetManifest;
use cascade_embed::{Optimizer, Pooling, Storage};
use cascade_model::{DenseOptimizerSpec, RankingSpec, SparseInput};

/// The model `config` describes for a dataset with `manifest`'s features.
pub fn ranking_spec(config: &TrainConfig, manifest: &DatasetManifest) -> Result<RankingSpec> {
    let num_dense = manifest.dense.iter().map(|f| f.width).sum();
    let sparse = manifest
        .sparse
        .iter()
        .map(|f| {
            let rows = match (f.cardinality, config.embeddings.hash_rows) {
                (0, Some(rows)) => rows,
                (0, None) => {
                    return Err(TrainError::Invalid(format!(
                        "sparse feature '{}' has no cardinality in cascade.json; set \
                         embeddings.hash_rows",
                        f.name
                    )));
                }
                (rows, _) => rows,
            };
            Ok(SparseInput {
                name: f.name.clone(),
                rows,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let e = &config.embeddings;
    let lr = e.learning_rate;
    let embedding_optimizer = match e.optimizer {
        SparseOptimizerKind::Sgd => Optimizer::Sgd {
            lr,
            weight_decay: 0.0,
        },
        SparseOptimizerKind::RowwiseAdagrad => Optimizer::rowwise_adagrad(lr),
        SparseOptimizerKind::Adam => Optimizer::adam(lr),
    };
    let m = &config.model;
    let o = &config.optimizer;
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
        storage: match e.storage {
            StorageKind::F32 => Storage::F32,
            StorageKind::F16 => Storage::F16,
            StorageKind::Int8 => Storage::Int8,
        },
        embedding_optimizer,
        dense_optimizer: DenseOptimizerSpec {
            kind: o.kind,
            learning_rate: o.learning_rate,
            momentum: o.momentum,
            clip_norm: o.clip_norm,
        },
        seed: config.train.seed,
    })
}
