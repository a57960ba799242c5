//! The users and items of a retrieval dataset, gathered from its interaction rows: each one's
//! side features (as the towers take them), what each user interacted with in training (never
//! recommended back), what each user did in the held-out split (what retrieval should find),
//! and how often each item was trained on (its popularity, and the softmax's log-Q).
//!
//! Interaction datasets repeat a user's and an item's features on every row; the first row an
//! entity appears in (training rows first) gives its features.

use crate::error::{Result, TrainError};
use crate::evaluate::location;
use cascade_core::KeyedJagged;
use cascade_data::{OpenOptions, ReaderConfig, ShuffleConfig, StreamingDataset};
use cascade_model::TwoTowerSpec;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// Samples per batch while scanning a split.
const SCAN_BATCH: usize = 8192;

/// One tower's entities: their features, by id.
#[derive(Debug, Clone, Default)]
pub struct Entities {
    /// The tower's feature names; the first is the id.
    names: Vec<String>,
    /// Each entity's bag per feature, by the entity's id.
    features: BTreeMap<u64, Vec<Vec<u64>>>,
}

impl Entities {
    fn new(names: Vec<String>) -> Self {
        Self {
            names,
            features: BTreeMap::new(),
        }
    }

    /// Every known id, ascending.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.features.keys().copied()
    }

    /// Whether `id` was seen in the data.
    pub fn contains(&self, id: u64) -> bool {
        self.features.contains_key(&id)
    }

    /// Appends entity `id`'s bag of feature `f` (in the order of the feature names) to `out`:
    /// the recorded bag, or for an id never seen its id alone as the id feature and nothing
    /// for the others.
    pub fn push_bag(&self, id: u64, f: usize, out: &mut Vec<u64>) {
        match self.features.get(&id) {
            Some(bags) => out.extend_from_slice(&bags[f]),
            None if f == 0 => out.push(id),
            None => {}
        }
    }

    /// The tower input for `ids` (ids never seen get their id alone, other features empty).
    pub fn sparse(&self, ids: &[u64]) -> Result<KeyedJagged> {
        let mut all = Vec::new();
        let mut offsets = vec![0];
        for f in 0..self.names.len() {
            for &id in ids {
                self.push_bag(id, f, &mut all);
                offsets.push(all.len());
            }
        }
        KeyedJagged::new(self.names.clone(), ids.len(), all, offsets, None)
            .map_err(|e| TrainError::Invalid(format!("building tower input: {e}")))
    }
}

/// A retrieval dataset's users and items; see the module documentation.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The user tower's entities.
    pub users: Entities,
    /// The item tower's entities.
    pub items: Entities,
    /// Items each user interacted with in training, by user id.
    pub seen: HashMap<u64, BTreeSet<u64>>,
    /// Items each user interacted with in the held-out split, by user id.
    pub held_out: BTreeMap<u64, BTreeSet<u64>>,
    /// Training interactions per item id.
    pub item_counts: HashMap<u64, u64>,
    /// Training interactions in total.
    pub train_rows: u64,
}

impl Catalog {
    /// Scans the training split `train` and, when given, the held-out split `held_out` of the
    /// dataset at `data`, for the features `spec`'s towers take.
    pub fn scan(
        data: &Path,
        train: &str,
        held_out: Option<&str>,
        spec: &TwoTowerSpec,
    ) -> Result<Catalog> {
        let names =
            |fs: &[cascade_model::TowerFeature]| fs.iter().map(|f| f.name.clone()).collect();
        Self::scan_features(
            data,
            train,
            held_out,
            names(&spec.user_features),
            names(&spec.item_features),
        )
    }

    /// [`scan`](Self::scan) for any user-side and item-side features (each list starting with
    /// the id feature), e.g. those a ranking model scores candidates with.
    pub fn scan_features(
        data: &Path,
        train: &str,
        held_out: Option<&str>,
        user_features: Vec<String>,
        item_features: Vec<String>,
    ) -> Result<Catalog> {
        let mut catalog = Catalog {
            users: Entities::new(user_features),
            items: Entities::new(item_features),
            seen: HashMap::new(),
            held_out: BTreeMap::new(),
            item_counts: HashMap::new(),
            train_rows: 0,
        };
        catalog.read(data, train, true)?;
        if let Some(split) = held_out {
            catalog.read(data, split, false)?;
        }
        Ok(catalog)
    }

    /// Reads one split: features of entities not seen yet, and its interactions.
    fn read(&mut self, data: &Path, split: &str, training: bool) -> Result<()> {
        let (manifest, dataset) =
            StreamingDataset::open_split(location(data)?, split, &OpenOptions::default())?;
        let spec = dataset.batch_spec(&manifest)?;
        let config = ReaderConfig {
            batch_size: SCAN_BATCH,
            workers: 1,
            ..ReaderConfig::default()
        };
        let state = dataset.start_state(
            ShuffleConfig {
                shuffle: false,
                ..ShuffleConfig::default()
            },
            0,
        );
        for batch in dataset.batches(&spec, &config, &state)? {
            let batch = batch?;
            let kj = &batch.sparse;
            let users = positions(kj, &self.users.names, data, split)?;
            let items = positions(kj, &self.items.names, data, split)?;
            for s in 0..batch.len {
                let user = kj.first_id(users[0], s);
                let item = kj.first_id(items[0], s);
                remember(&mut self.users, user, kj, &users, s);
                remember(&mut self.items, item, kj, &items, s);
                if training {
                    self.seen.entry(user).or_default().insert(item);
                    *self.item_counts.entry(item).or_default() += 1;
                    self.train_rows += 1;
                } else {
                    self.held_out.entry(user).or_default().insert(item);
                }
            }
        }
        Ok(())
    }

    /// `items` ordered most trained-on first (ties by id): the most-popular baseline's ranking.
    pub fn by_popularity(&self, items: &[u64]) -> Vec<u64> {
        let mut order = items.to_vec();
        order.sort_by_key(|id| {
            (
                std::cmp::Reverse(self.item_counts.get(id).copied().unwrap_or(0)),
                *id,
            )
        });
        order
    }

    /// Every item's training frequency, indexed by item id over a table of `rows` rows.
    pub fn item_frequencies(&self, rows: u64) -> Vec<f64> {
        let mut freq = vec![0.0; rows as usize];
        let total = self.train_rows.max(1) as f64;
        for (&item, &count) in &self.item_counts {
            if let Some(f) = freq.get_mut(item as usize) {
                *f = count as f64 / total;
            }
        }
        freq
    }
}

/// The position in `kj` of each of `names`, or an error naming the missing feature.
fn positions(kj: &KeyedJagged, names: &[String], data: &Path, split: &str) -> Result<Vec<usize>> {
    names
        .iter()
        .map(|name| {
            kj.keys().iter().position(|k| k == name).ok_or_else(|| {
                TrainError::Invalid(format!(
                    "split '{split}' of {} has no sparse feature '{name}'",
                    data.display()
                ))
            })
        })
        .collect()
}

/// Records `id`'s features from sample `s` unless it is known already.
fn remember(entities: &mut Entities, id: u64, kj: &KeyedJagged, features: &[usize], s: usize) {
    entities
        .features
        .entry(id)
        .or_insert_with(|| features.iter().map(|&f| kj.bag(f, s).to_vec()).collect());
}
