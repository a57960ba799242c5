//! The second stage of the funnel: a ranking model (DLRM, DCN-v2, DeepFM) trained on the same
//! interaction data re-scores retrieved candidates. Its sparse features are split by side:
//! those named `user*` describe the user, the others the item (the convention of Cascade's
//! MovieLens converters and synthetic data), and each candidate's row is assembled from the
//! user's and the item's features as the data recorded them.
//!
//! A model's forward pass keeps its activations, so it needs `&mut`: concurrent callers each
//! take a replica from a pool (cloned on demand, so there are never more replicas than callers
//! at once) and put it back afterwards.

use crate::error::{Result, ServeError};
use cascade_core::{Batch, KeyedJagged};
use cascade_model::RankingModel;
use cascade_train::{Catalog, TrainModel, load_run};
use std::path::Path;
use std::sync::Mutex;

/// Which entity a ranking feature describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    User,
    Item,
}

/// A ranking model with the users' and items' features it scores with.
#[derive(Debug)]
pub struct Ranker {
    /// The model as loaded; replicas are cloned from it.
    model: RankingModel,
    /// Replicas not in use.
    idle: Mutex<Vec<RankingModel>>,
    /// Training steps of the checkpoint.
    step: u64,
    catalog: Catalog,
    /// The model's sparse features in its order, with the side and position of each in the
    /// catalog's user or item features.
    features: Vec<(String, Side, usize)>,
}

impl Ranker {
    /// Opens the ranking run `run` over the dataset `data`, whose user and item ids are the
    /// features `user_id` and `item_id`.
    pub fn open(run: &Path, data: &Path, user_id: &str, item_id: &str) -> Result<Self> {
        let loaded = load_run(run)?;
        let TrainModel::Ranking(model) = loaded.model else {
            return Err(ServeError::Invalid(format!(
                "{} is not a ranking run (it trained a {} model)",
                run.display(),
                loaded.config.model.kind.name()
            )));
        };
        let spec = model.spec();
        if spec.num_dense > 0 {
            return Err(ServeError::Invalid(format!(
                "the ranking model of {} takes {} dense features per sample; candidates of a \
                 retrieval have only user and item features",
                run.display(),
                spec.num_dense
            )));
        }
        let names: Vec<String> = spec.sparse.iter().map(|f| f.name.clone()).collect();
        for id in [user_id, item_id] {
            if !names.iter().any(|n| n == id) {
                return Err(ServeError::Invalid(format!(
                    "the ranking model of {} has no '{id}' feature to match the retrieval model's",
                    run.display()
                )));
            }
        }
        let side_of = |n: &str| {
            if n == user_id || (n != item_id && n.starts_with("user")) {
                Side::User
            } else {
                Side::Item
            }
        };
        let ordered = |side: Side, id: &str| {
            std::iter::once(id.to_string())
                .chain(
                    names
                        .iter()
                        .filter(|n| *n != id && side_of(n) == side)
                        .cloned(),
                )
                .collect::<Vec<_>>()
        };
        let (users, items) = (ordered(Side::User, user_id), ordered(Side::Item, item_id));
        let features = names
            .iter()
            .map(|n| {
                let side = side_of(n);
                let list = if side == Side::User { &users } else { &items };
                let at = list.iter().position(|m| m == n).unwrap_or(0);
                (n.clone(), side, at)
            })
            .collect();
        let config = &loaded.config;
        let manifest = cascade_data_manifest(data)?;
        let held_out = cascade_train::eval_split(config, &manifest);
        let catalog = Catalog::scan_features(
            data,
            &config.data.train_split,
            held_out.as_deref(),
            users,
            items,
        )?;
        Ok(Self {
            idle: Mutex::new(Vec::new()),
            model: *model,
            step: loaded.step,
            catalog,
            features,
        })
    }

    /// Training steps of the checkpoint that scores.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// The model's click probability of `user` for each of `items` (indices).
    pub fn score(&self, user: u64, items: &[u64]) -> Result<Vec<f32>> {
        let n = items.len();
        let (mut ids, mut offsets) = (Vec::new(), vec![0]);
        for (_, side, at) in &self.features {
            for &item in items {
                let (entities, id) = match side {
                    Side::User => (&self.catalog.users, user),
                    Side::Item => (&self.catalog.items, item),
                };
                entities.push_bag(id, *at, &mut ids);
                offsets.push(ids.len());
            }
        }
        let keys = self.features.iter().map(|(n, _, _)| n.clone()).collect();
        let sparse = KeyedJagged::new(keys, n, ids, offsets, None)
            .map_err(|e| ServeError::Invalid(format!("building the ranking batch: {e}")))?;
        let batch = Batch {
            len: n,
            sparse,
            ..Batch::default()
        };
        let mut model = self.take_replica();
        let probabilities = model
            .forward(&batch)
            .map(|logits| logits.iter().map(|&z| 1.0 / (1.0 + (-z).exp())).collect());
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(model);
        Ok(probabilities?)
    }

    /// An idle replica, or a new clone when every one is busy.
    fn take_replica(&self) -> RankingModel {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        idle.unwrap_or_else(|| self.model.clone())
    }
}

/// The manifest of the dataset at `data`.
pub(crate) fn cascade_data_manifest(data: &Path) -> Result<cascade_data::DatasetManifest> {
    cascade_data::DatasetManifest::load(data)
        .map_err(|e| ServeError::Invalid(format!("{}: {e}", data.display())))
}
