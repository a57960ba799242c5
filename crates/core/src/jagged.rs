//! Keyed jagged sparse features, the counterpart of TorchRec's `KeyedJaggedTensor`.
//!
//! A batch of `B` samples with `F` sparse features holds, for every (feature, sample) pair, a bag
//! of zero or more ids (multi-hot). The bags are stored feature-major in one flat `ids` vector;
//! `offsets` has `F * B + 1` entries and bag `(f, s)` is `ids[offsets[f * B + s]..offsets[f * B + s + 1]]`.
//! Optional per-id `weights` (same length as `ids`) scale each id's embedding during pooling.

/// Why a [`KeyedJagged`] could not be built from its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JaggedError {
    /// `offsets` does not have `keys.len() * batch_size + 1` entries.
    OffsetCount {
        /// What was expected.
        expected: usize,
        /// What was found.
        found: usize,
    },
    /// `offsets` decreases somewhere, does not start at 0, or does not end at `ids.len()`.
    OffsetsInvalid,
    /// `weights` is present but not as long as `ids`.
    WeightCount {
        /// What was expected.
        expected: usize,
        /// What was found.
        found: usize,
    },
}

impl std::fmt::Display for JaggedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JaggedError::OffsetCount { expected, found } => {
                write!(
                    f,
                    "jagged offsets: expected {expected} entries, found {found}"
                )
            }
            JaggedError::OffsetsInvalid => write!(
                f,
                "jagged offsets must start at 0, never decrease, and end at the number of ids"
            ),
            JaggedError::WeightCount { expected, found } => {
                write!(
                    f,
                    "jagged weights: expected {expected} (one per id), found {found}"
                )
            }
        }
    }
}

impl std::error::Error for JaggedError {}

/// Multi-hot sparse features of a batch, feature-major, as the embedding layer consumes them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyedJagged {
    keys: Vec<String>,
    batch_size: usize,
    ids: Vec<u64>,
    offsets: Vec<usize>,
    weights: Option<Vec<f32>>,
}

impl KeyedJagged {
    /// Builds from parts, checking that offsets and weights agree with the ids.
    pub fn new(
        keys: Vec<String>,
        batch_size: usize,
        ids: Vec<u64>,
        offsets: Vec<usize>,
        weights: Option<Vec<f32>>,
    ) -> Result<Self, JaggedError> {
        let expected = keys.len() * batch_size + 1;
        if offsets.len() != expected {
            return Err(JaggedError::OffsetCount {
                expected,
                found: offsets.len(),
            });
        }
        let monotone = offsets.windows(2).all(|w| w[0] <= w[1]);
        if offsets[0] != 0 || !monotone || offsets[offsets.len() - 1] != ids.len() {
            return Err(JaggedError::OffsetsInvalid);
        }
        if let Some(w) = &weights
            && w.len() != ids.len()
        {
            return Err(JaggedError::WeightCount {
                expected: ids.len(),
                found: w.len(),
            });
        }
        Ok(Self {
            keys,
            batch_size,
            ids,
            offsets,
            weights,
        })
    }

    /// Feature names, in storage order.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// Number of samples in the batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// All ids, feature-major.
    pub fn ids(&self) -> &[u64] {
        &self.ids
    }

    /// `keys().len() * batch_size() + 1` bag boundaries into [`ids`](Self::ids).
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// Per-id weights, when the features carry them.
    pub fn weights(&self) -> Option<&[f32]> {
        self.weights.as_deref()
    }

    /// The ids of feature `feature` for sample `sample`.
    pub fn bag(&self, feature: usize, sample: usize) -> &[u64] {
        let b = feature * self.batch_size + sample;
        &self.ids[self.offsets[b]..self.offsets[b + 1]]
    }

    /// The first id of feature `feature`'s bag for sample `sample`: the entity of an id
    /// feature (0, "unknown", when the bag is empty).
    pub fn first_id(&self, feature: usize, sample: usize) -> u64 {
        self.bag(feature, sample).first().copied().unwrap_or(0)
    }

    /// [`first_id`](Self::first_id) of every sample for the feature named `key`; `None` when
    /// the batch has no such feature.
    pub fn first_ids(&self, key: &str) -> Option<Vec<u64>> {
        let f = self.keys.iter().position(|k| k == key)?;
        Some((0..self.batch_size).map(|s| self.first_id(f, s)).collect())
    }

    /// Every id of feature `feature`, all its samples' bags back to back.
    pub fn feature_ids(&self, feature: usize) -> &[u64] {
        let start = feature * self.batch_size;
        &self.ids[self.offsets[start]..self.offsets[start + self.batch_size]]
    }

    /// The ids (and their bag offsets, rebased to 0) of one feature across the whole batch.
    pub fn feature(&self, feature: usize) -> (&[u64], Vec<usize>) {
        let start = feature * self.batch_size;
        let bounds = &self.offsets[start..=start + self.batch_size];
        let base = bounds[0];
        (
            self.feature_ids(feature),
            bounds.iter().map(|o| o - base).collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bags_are_feature_major() {
        let kj = KeyedJagged::new(
            vec!["a".into(), "b".into()],
            2,
            vec![1, 2, 3, 4, 5],
            vec![0, 1, 3, 3, 5],
            None,
        )
        .unwrap();
        assert_eq!(kj.bag(0, 0), &[1]);
        assert_eq!(kj.bag(0, 1), &[2, 3]);
        assert_eq!(kj.bag(1, 0), &[] as &[u64]);
        assert_eq!(kj.bag(1, 1), &[4, 5]);
        assert_eq!(kj.first_ids("a"), Some(vec![1, 2]));
        assert_eq!(kj.first_ids("b"), Some(vec![0, 4]));
        assert_eq!(kj.first_ids("c"), None);
        let (ids, offs) = kj.feature(1);
        assert_eq!(ids, &[4, 5]);
        assert_eq!(offs, vec![0, 0, 2]);
    }

    #[test]
    fn rejects_inconsistent_parts() {
        let err = KeyedJagged::new(vec!["a".into()], 2, vec![1], vec![0, 1], None).unwrap_err();
        assert_eq!(
            err,
            JaggedError::OffsetCount {
                expected: 3,
                found: 2
            }
        );
        let err = KeyedJagged::new(vec!["a".into()], 1, vec![1], vec![0, 2], None).unwrap_err();
        assert_eq!(err, JaggedError::OffsetsInvalid);
        let err =
            KeyedJagged::new(vec!["a".into()], 1, vec![1], vec![0, 1], Some(vec![])).unwrap_err();
        assert_eq!(
            err,
            JaggedError::WeightCount {
                expected: 1,
                found: 0
            }
        );
    }
}
