//! Models: the ranking models (DLRM, DCN-v2 and DeepFM over an embedding collection and dense
//! layers) and the two-tower retrieval model ([`TwoTowerModel`]).
//!
//! A [`RankingModel`] is built from a [`RankingSpec`] (architecture, feature inputs, layer
//! sizes, optimizers, seed). One training step is [`RankingModel::forward`] on a
//! [`Batch`](cascade_core::Batch), the loss, [`RankingModel::backward`] (which also applies the
//! fused sparse optimizer to the embedding rows the batch touched) and
//! [`RankingModel::step`] for the dense parameters. Training across ranks uses the dense half
//! alone, [`DenseRanking`], fed pooled embeddings by the sharded tables: between its backward
//! pass and its step the dense gradients are read and written as one flat buffer, which the
//! ranks all-reduce. [`RankingModel::save`] and [`RankingModel::load`] keep the whole training state
//! (dense parameters, optimizer states, embedding tables) in a checkpoint folder whose header
//! names the model, so a checkpoint is never loaded into a model it was not written by.

mod checkpoint;
mod dcn;
mod deepfm;
mod dense_optim;
mod dense_ranking;
mod dlrm;
mod error;
#[cfg(test)]
mod gradcheck;
mod ranking;
mod spec;
mod two_tower;

pub use checkpoint::EMBEDDINGS_STEM;
pub use checkpoint::{CHECKPOINT_FORMAT, CHECKPOINT_VERSION};
pub use dense_optim::DenseOptimizer;
pub use dense_ranking::DenseRanking;
pub use error::ModelError;
pub use ranking::RankingModel;
pub use spec::{DenseOptimizerKind, DenseOptimizerSpec, ModelKind, RankingSpec, SparseInput};
pub use two_tower::{TowerFeature, TwoTowerLoss, TwoTowerModel, TwoTowerSpec};
