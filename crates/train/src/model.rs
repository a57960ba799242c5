//! The model a run trains: a ranking model or a two-tower model, behind the few operations
//! the training loop, checkpoints and evaluation need.

use crate::config::TrainConfig;
use crate::error::Result;
use crate::model_spec::{ranking_spec, two_tower_spec};
use cascade_core::Batch;
use cascade_data::DatasetManifest;
use cascade_model::{ModelKind, RankingModel, TwoTowerModel};
use std::path::Path;

/// A run's model.
#[derive(Debug, Clone)]
pub enum TrainModel {
    /// DLRM, DCN-v2 or DeepFM (boxed, as the other: both hold large scratch buffers).
    Ranking(Box<RankingModel>),
    /// The two-tower retrieval model.
    TwoTower(Box<TwoTowerModel>),
}

impl TrainModel {
    /// The fresh model `config` describes for a dataset with `manifest`'s features.
    pub fn build(config: &TrainConfig, manifest: &DatasetManifest) -> Result<Self> {
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
        }
    }

    /// One training step; see [`RankingModel::train_step`].
    pub fn train_step(&mut self, batch: &Batch) -> Result<f32> {
        Ok(match self {
            TrainModel::Ranking(m) => m.train_step(batch)?,
            TrainModel::TwoTower(m) => m.train_step(batch)?,
        })
    }

    /// The logit of every sample of `batch`, for the binary metrics; none for a two-tower
    /// model trained with the softmax, whose scores are not probabilities.
    pub fn logits(&mut self, batch: &Batch) -> Result<Option<&[f32]>> {
        Ok(match self {
            TrainModel::Ranking(m) => Some(m.forward(batch)?),
            TrainModel::TwoTower(m) if m.spec().loss == cascade_model::TwoTowerLoss::Bce => {
                Some(m.scores(batch)?)
            }
            TrainModel::TwoTower(_) => None,
        })
    }

    /// Whether [`logits`](Self::logits) gives click probabilities for this model.
    pub fn logits_available(&self) -> bool {
        match self {
            TrainModel::Ranking(_) => true,
            TrainModel::TwoTower(m) => m.spec().loss == cascade_model::TwoTowerLoss::Bce,
        }
    }

    /// Writes the model's whole state into the folder `dir`.
    pub fn save(&mut self, dir: &Path) -> Result<()> {
        match self {
            TrainModel::Ranking(m) => m.save(dir)?,
            TrainModel::TwoTower(m) => m.save(dir)?,
        }
        Ok(())
    }

    /// Replaces the model's state with the checkpoint's in `dir`.
    pub fn restore(&mut self, dir: &Path) -> Result<()> {
        match self {
            TrainModel::Ranking(m) => m.restore(dir)?,
            TrainModel::TwoTower(m) => m.restore(dir)?,
        }
        Ok(())
    }
}
