//! The model a run trains: a ranking model, a two-tower model, or a ranking model sharded
//! over the ranks of a distributed run, behind the few operations the training loop,
//! checkpoints and evaluation need.

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::model_spec::{ranking_spec, two_tower_spec};
use crate::sharded::ShardedRanking;
use cascade_core::Batch;
use cascade_data::DatasetManifest;
use cascade_dist::ProcessGroup;
use cascade_model::{ModelKind, RankingModel, TwoTowerModel};
use std::path::Path;

/// A run's model.
#[derive(Debug, Clone)]
pub enum TrainModel {
    /// DLRM, DCN-v2 or DeepFM (boxed, as the other: both hold large scratch buffers).
    Ranking(Box<RankingModel>),
    /// The two-tower retrieval model.
    TwoTower(Box<TwoTowerModel>),
    /// A DLRM or DCN-v2 trained across ranks (see [`ShardedRanking`]).
    Sharded(Box<ShardedRanking>),
}

impl TrainModel {
    /// The fresh model `config` describes for a dataset with `manifest`'s features, as rank
    /// `group.rank()` holds it: sharded over the ranks when there are several.
    pub fn build(
        config: &TrainConfig,
        manifest: &DatasetManifest,
        group: &dyn ProcessGroup,
    ) -> Result<Self> {
        let world = group.world_size();
        if world > 1 {
            return match config.model.kind {
                ModelKind::Dlrm | ModelKind::Dcn => {
                    Ok(TrainModel::Sharded(Box::new(ShardedRanking::new(
                        ranking_spec(config, manifest)?,
                        config,
                        group.rank(),
                        world,
                    )?)))
                }
                kind => Err(TrainError::Invalid(format!(
                    "model.kind = \"{}\" trains in one process only; training across {world} \
                     ranks supports dlrm and dcn",
                    kind.name()
                ))),
            };
        }
        Ok(match config.model.kind {
            ModelKind::TwoTower => TrainModel::TwoTower(Box::new(TwoTowerModel::new(
                two_tower_spec(config, manifest)?,
            )?)),
            _ => TrainModel::Ranking(Box::new(RankingModel::new(ranking_spec(
                config, manifest,
            )?)?)),
        })
    }

    /// The model of the checkpoint folder `dir`, which must hold a model of kind `kind`.
    pub fn load(dir: &Path, kind: ModelKind) -> Result<Self> {
        Ok(match kind {
            ModelKind::TwoTower => TrainModel::TwoTower(Box::new(TwoTowerModel::load(dir)?)),
            _ => TrainModel::Ranking(Box::new(RankingModel::load(dir)?)),
        })
    }

    /// The model's kind, as configurations name it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            TrainModel::Ranking(m) => m.spec().kind.name(),
            TrainModel::TwoTower(_) => ModelKind::TwoTower.name(),
            TrainModel::Sharded(m) => m.spec().kind.name(),
        }
    }

    /// One training step; see [`RankingModel::train_step`]. A sharded model takes this
    /// rank's share of the global batch and returns the global mean loss.
    pub fn train_step(&mut self, batch: &Batch, group: &dyn ProcessGroup) -> Result<f32> {
        Ok(match self {
            TrainModel::Ranking(m) => m.train_step(batch)?,
            TrainModel::TwoTower(m) => m.train_step(batch)?,
            TrainModel::Sharded(m) => m.train_step(batch, group)?,
        })
    }

    /// Samples the last training step trained on, given that this rank's batch held `local`:
    /// the global batch for a sharded model, `local` otherwise.
    pub fn step_samples(&self, local: usize) -> usize {
        match self {
            TrainModel::Sharded(m) => m.last_global_samples(),
            _ => local,
        }
    }

    /// Communication of a model trained across ranks so far: all of it, and the dense
    /// all-reduces alone (none for one process).
    pub fn comm_stats(&self) -> Option<(cascade_dist::CommStats, cascade_dist::CommStats)> {
        match self {
            TrainModel::Sharded(m) => Some((m.comm_stats(), m.all_reduce_stats())),
            _ => None,
        }
    }

    /// The logit of every sample of `batch`, for the binary metrics; none for a two-tower
    /// model trained with the softmax, whose scores are not probabilities.
    pub fn logits(&mut self, batch: &Batch, group: &dyn ProcessGroup) -> Result<Option<&[f32]>> {
        Ok(match self {
            TrainModel::Ranking(m) => Some(m.forward(batch)?),
            TrainModel::Sharded(m) => Some(m.logits(batch, group)?),
            TrainModel::TwoTower(m) if m.spec().loss == cascade_model::TwoTowerLoss::Bce => {
                Some(m.scores(batch)?)
            }
            TrainModel::TwoTower(_) => None,
        })
    }

    /// Whether [`logits`](Self::logits) gives click probabilities for this model.
    pub fn logits_available(&self) -> bool {
        match self {
            TrainModel::Ranking(_) | TrainModel::Sharded(_) => true,
            TrainModel::TwoTower(m) => m.spec().loss == cascade_model::TwoTowerLoss::Bce,
        }
    }

    /// Writes the model's whole state into the folder `dir` (a sharded model: this rank's
    /// part of it).
    pub fn save(&mut self, dir: &Path) -> Result<()> {
        match self {
            TrainModel::Ranking(m) => m.save(dir)?,
            TrainModel::TwoTower(m) => m.save(dir)?,
            TrainModel::Sharded(m) => m.save(dir)?,
        }
        Ok(())
    }

    /// Replaces the model's state with the checkpoint's in `dir` (a sharded model reads its
    /// rows from whatever shards the checkpoint holds, under any world size).
    pub fn restore(&mut self, dir: &Path) -> Result<()> {
        match self {
            TrainModel::Ranking(m) => m.restore(dir)?,
            TrainModel::TwoTower(m) => m.restore(dir)?,
            TrainModel::Sharded(m) => m.restore(dir)?,
        }
        Ok(())
    }
}
