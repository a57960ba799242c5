//! Per-table configuration, deserialisable from the TOML/JSON model configs.
//!
//! One [`TableConfig`] describes one embedding table: its shape, how bags are pooled, how rows
//! are stored, how they are initialised, which features it serves (several features may share a
//! table, as with TorchRec's `feature_names`), and what to do with ids beyond its last row.

use serde::{Deserialize, Serialize};

use crate::error::{EmbedError, Result};
use crate::random::mix64;
use crate::storage::Storage;
use cascade_core::KeyedJagged;

/// How the embeddings of one bag are combined into one vector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// The (weighted) sum of the bag's embeddings.
    #[default]
    Sum,
    /// The (weighted) sum divided by the number of ids in the bag, as FBGEMM's mean pooling does
    /// (weights do not enter the divisor).
    Mean,
}

/// How the values of a row are initialised, before any training.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Init {
    /// Uniform in `[-sqrt(1/rows), sqrt(1/rows)]`, TorchRec's default for embedding tables.
    #[default]
    Uniform,
    /// Normal with mean 0 and the given standard deviation.
    Normal {
        /// The standard deviation; must be positive and finite.
        std: f32,
    },
}

/// What a lookup does with an id that is not below the table's row count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutOfRange {
    /// Refuse it with an error naming the table, the feature and the id.
    #[default]
    Error,
    /// Use row `id mod rows` for every id (ids below `rows` keep their row).
    Modulo,
    /// Use row `mix(id) mod rows` for every id, where `mix` is a 64-bit avalanche hash, so that
    /// raw, clustered ids (timestamps, sequential item ids) spread over the whole table.
    Hash,
}

/// The description of one embedding table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    /// The table's name, unique within a collection; errors and checkpoints name it.
    pub name: String,
    /// Number of rows (distinct ids the table can hold).
    pub rows: u64,
    /// Length of each embedding vector.
    pub dim: usize,
    /// The features whose bags this table embeds, in output order.
    pub features: Vec<String>,
    /// How a bag's embeddings are combined.
    #[serde(default)]
    pub pooling: Pooling,
    /// How rows are stored in memory.
    #[serde(default)]
    pub storage: Storage,
    /// How rows start out.
    #[serde(default)]
    pub init: Init,
    /// Seed of the initialisation; mixed with the table name so that tables sharing a seed still
    /// start out different.
    #[serde(default)]
    pub seed: u64,
    /// What to do with ids `>= rows`.
    #[serde(default)]
    pub out_of_range: OutOfRange,
}

impl TableConfig {
    /// A summed, f32, uniformly initialised table that refuses out-of-range ids: the common case,
    /// for building configs in code.
    pub fn new(name: impl Into<String>, rows: u64, dim: usize, features: &[&str]) -> Self {
        Self {
            name: name.into(),
            rows,
            dim,
            features: features.iter().map(|f| (*f).to_string()).collect(),
            pooling: Pooling::default(),
            storage: Storage::default(),
            init: Init::default(),
            seed: 0,
            out_of_range: OutOfRange::default(),
        }
    }

    /// Checks the values that deserialisation cannot: positive shape, usable init, named
    /// features, and that the table fits in this machine's address space.
    pub fn validate(&self) -> Result<()> {
        let fail = |reason: String| EmbedError::Config {
            table: self.name.clone(),
            reason,
        };
        if self.name.is_empty() {
            return Err(fail("the table name is empty".into()));
        }
        if self.rows == 0 || self.dim == 0 {
            return Err(fail(format!(
                "rows ({}) and dim ({}) must both be positive",
                self.rows, self.dim
            )));
        }
        if u32::try_from(self.dim).is_err() {
            return Err(fail(format!(
                "dim {} is larger than {}",
                self.dim,
                u32::MAX
            )));
        }
        let elements = usize::try_from(self.rows)
            .ok()
            .and_then(|r| r.checked_mul(self.dim));
        if elements.is_none_or(|e| e > isize::MAX as usize / 8) {
            return Err(fail(format!(
                "{} rows x {} dims does not fit in memory on this machine",
                self.rows, self.dim
            )));
        }
        if let Init::Normal { std } = self.init
            && !(std.is_finite() && std > 0.0)
        {
            return Err(fail(format!("normal init needs a positive std, got {std}")));
        }
        if self.features.is_empty() {
            return Err(fail(
                "the table serves no feature, so it would never be looked up".into(),
            ));
        }
        for (i, f) in self.features.iter().enumerate() {
            if f.is_empty() {
                return Err(fail("a feature name is empty".into()));
            }
            if self.features[..i].contains(f) {
                return Err(fail(format!("feature '{f}' is listed twice")));
            }
        }
        Ok(())
    }

    /// Bytes the table's parameters occupy, known before the table is built (for planners).
    pub fn param_bytes(&self) -> u64 {
        self.storage.bytes(self.rows, self.dim)
    }

    /// The row that feature id `id` maps to under the table's out-of-range policy (identity,
    /// modulo or hash), or `None` when the policy refuses it. Known without the table, so a
    /// rank can route ids to the rank holding their rows.
    pub fn row_of(&self, id: u64) -> Option<u64> {
        let rows = self.rows;
        match self.out_of_range {
            OutOfRange::Error => (id < rows).then_some(id),
            OutOfRange::Modulo => Some(id % rows),
            OutOfRange::Hash => Some(mix64(id) % rows),
        }
    }

    /// The position of `feature` (served by this table) among `kj`'s keys, after checking
    /// every id it carries against the table's policy: what a lookup does before touching a
    /// row, whether the table is whole or sharded over ranks.
    pub fn bind(&self, feature: &str, kj: &KeyedJagged) -> Result<usize> {
        let key = kj.keys().iter().position(|k| k == feature).ok_or_else(|| {
            EmbedError::MissingFeature {
                feature: feature.to_string(),
                table: self.name.clone(),
            }
        })?;
        self.check_ids(feature, kj.feature_ids(key))?;
        Ok(key)
    }

    /// Fails with an error naming the table, `feature` and the first refused id, if any id in
    /// `ids` is refused by the table's policy.
    pub(crate) fn check_ids(&self, feature: &str, ids: &[u64]) -> Result<()> {
        if self.out_of_range != OutOfRange::Error {
            return Ok(());
        }
        match ids.iter().find(|&&id| id >= self.rows) {
            Some(&id) => Err(EmbedError::IdOutOfRange {
                table: self.name.clone(),
                feature: feature.to_string(),
                id,
                rows: self.rows,
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserialises_with_defaults() {
        let json = r#"{"name": "user", "rows": 10, "dim": 4, "features": ["uid"]}"#;
        let cfg: TableConfig = serde_json::from_str(json).unwrap();
        assert_eq!(cfg, TableConfig::new("user", 10, 4, &["uid"]));
        let json = r#"{"name": "item", "rows": 10, "dim": 4, "features": ["a", "b"],
            "pooling": "mean", "storage": "int8", "init": {"kind": "normal", "std": 0.1},
            "seed": 3, "out_of_range": "hash"}"#;
        let cfg: TableConfig = serde_json::from_str(json).unwrap();
        assert_eq!(cfg.pooling, Pooling::Mean);
        assert_eq!(cfg.storage, Storage::Int8);
        assert_eq!(cfg.init, Init::Normal { std: 0.1 });
        assert_eq!(cfg.out_of_range, OutOfRange::Hash);
        assert!(
            serde_json::from_str::<TableConfig>(
                r#"{"name": "x", "rows": 1, "dim": 1, "features": [], "typo": 1}"#
            )
            .is_err()
        );
    }

    #[test]
    fn validation_names_the_table() {
        let mut cfg = TableConfig::new("ads", 0, 4, &["ad"]);
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("'ads'") && err.contains("rows (0)"), "{err}");
        cfg.rows = 5;
        cfg.init = Init::Normal { std: -1.0 };
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("positive std")
        );
        cfg.init = Init::Uniform;
        cfg.features = vec!["ad".into(), "ad".into()];
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("listed twice")
        );
        cfg.features.clear();
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("serves no feature")
        );
        cfg.rows = u64::MAX;
        cfg.features = vec!["ad".into()];
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("does not fit")
        );
    }
}
