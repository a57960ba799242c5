//! Mixed negative sampling for the two-tower softmax: each step draws `N` items uniformly (with
//! replacement) from the items of the training data, and the item tower scores the batch's own
//! items followed by them (see `TwoTowerModel::train_step_mixed`). The draws are seeded by the
//! run's seed and the step number, so a resumed run draws exactly what the uninterrupted one
//! would have.

use crate::catalog::Catalog;
use crate::error::{Result, TrainError};
use cascade_core::{Batch, KeyedJagged};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The uniform sampler of one run.
#[derive(Debug, Clone)]
pub(crate) struct UniformNegatives {
    count: usize,
    seed: u64,
    /// The items to draw from: every item of the training data.
    pool: Vec<u64>,
}

impl UniformNegatives {
    /// `count` draws per step from the catalogue's items; none when `count` is 0.
    pub(crate) fn new(catalog: &Catalog, count: usize, seed: u64) -> Result<Option<Self>> {
        if count == 0 {
            return Ok(None);
        }
        let pool: Vec<u64> = catalog.items.ids().filter(|&i| i != 0).collect();
        if pool.is_empty() {
            return Err(TrainError::Invalid(
                "two_tower.uniform_negatives needs items in the training data".into(),
            ));
        }
        Ok(Some(Self { count, seed, pool }))
    }

    /// How many items the draws come from.
    pub(crate) fn pool(&self) -> usize {
        self.pool.len()
    }

    /// The item tower's input at step `step`: the batch's items (their ids read from the
    /// feature `item_id`), then this step's draws, each with its features from the catalogue.
    pub(crate) fn candidates(
        &self,
        catalog: &Catalog,
        batch: &Batch,
        item_id: &str,
        step: u64,
    ) -> Result<KeyedJagged> {
        let mut ids = batch.sparse.first_ids(item_id).ok_or_else(|| {
            TrainError::Invalid(format!(
                "the batch has no '{item_id}' feature (the item id)"
            ))
        })?;
        // One stream per step, apart from every other step's.
        let mut rng =
            Xoshiro256PlusPlus::seed_from_u64(self.seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        ids.extend((0..self.count).map(|_| self.pool[rng.random_range(0..self.pool.len())]));
        catalog.items.sparse(&ids)
    }
}
