//! The settings of a DLRM-shaped dataset and their validation.

use crate::error::{Result, setting};
use cascade_mds::{Compression, HashAlgo};

/// The shape and hidden model of a DLRM-shaped (Criteo-like) click dataset.
#[derive(Debug, Clone)]
pub struct DlrmConfig {
    /// Total rows (train, validation and test).
    pub rows: u64,
    /// Dense (float) features per row.
    pub dense: usize,
    /// Cardinality of each sparse table; its length is the number of tables.
    pub cardinalities: Vec<u64>,
    /// Ids per row and table: `(1, 1)` stores one id per table as a scalar column; any other
    /// range stores a bag whose length is uniform in `min..=max`.
    pub bag: (u32, u32),
    /// Zipf exponent of the ids (0 is uniform).
    pub zipf: f64,
    /// Fraction of rows held out as the `val` split (after the train rows; 0 for none).
    pub val_fraction: f64,
    /// Fraction of rows held out as the `test` split (the last rows; 0 for none).
    pub test_fraction: f64,
    /// Target fraction of positive labels (reached approximately; the report gives the actual).
    pub positive_rate: f64,
    /// Standard deviation of the hidden logit: larger makes the labels easier to predict.
    pub signal: f64,
    /// Seed of everything random.
    pub seed: u64,
    /// Shard compression, or none.
    pub compression: Option<Compression>,
    /// Digests recorded for every shard (checked by `cascade data verify` and on read).
    pub hashes: Vec<HashAlgo>,
}

impl Default for DlrmConfig {
    /// The reference shape: 13 dense features, 26 tables of 100 000 ids, one id per table,
    /// 80/10/10 train/val/test, uncompressed shards (the MDS writer's default; compression costs
    /// more than generating the rows).
    fn default() -> Self {
        DlrmConfig {
            rows: 1_000_000,
            dense: 13,
            cardinalities: vec![100_000; 26],
            bag: (1, 1),
            zipf: 1.05,
            val_fraction: 0.1,
            test_fraction: 0.1,
            positive_rate: 0.25,
            signal: 1.5,
            seed: 0,
            compression: None,
            hashes: vec![HashAlgo::Xxh64],
        }
    }
}

impl DlrmConfig {
    /// Number of sparse tables.
    pub fn tables(&self) -> usize {
        self.cardinalities.len()
    }

    /// True when each table holds a bag of ids rather than exactly one.
    pub fn multi_hot(&self) -> bool {
        self.bag != (1, 1)
    }

    /// Rows of the `val` split (those after the train rows); at least 1 when its fraction is
    /// positive.
    pub fn val_rows(&self) -> u64 {
        held_out(self.rows, self.val_fraction)
    }

    /// Rows of the `test` split (the last ones); at least 1 when its fraction is positive.
    pub fn test_rows(&self) -> u64 {
        held_out(self.rows, self.test_fraction)
    }

    /// Rows of the `train` split (the first ones).
    pub fn train_rows(&self) -> u64 {
        self.rows
            .saturating_sub(self.val_rows())
            .saturating_sub(self.test_rows())
    }

    /// Checks every setting, naming the first one out of range.
    pub fn validate(&self) -> Result<()> {
        if self.rows == 0 {
            return Err(setting("rows", "must be at least 1 (got 0)"));
        }
        if self.dense == 0 && self.cardinalities.is_empty() {
            return Err(setting(
                "dense",
                "a dataset needs at least one dense feature or one table",
            ));
        }
        if let Some(t) = self.cardinalities.iter().position(|&c| c == 0) {
            return Err(setting(
                "cardinality",
                format!("table {t} has cardinality 0; each needs at least 1"),
            ));
        }
        if let Some(t) = self.cardinalities.iter().position(|&c| c > i64::MAX as u64) {
            return Err(setting(
                "cardinality",
                format!(
                    "table {t}: ids are stored as int64, so at most {}",
                    i64::MAX
                ),
            ));
        }
        let (min, max) = self.bag;
        if min > max {
            return Err(setting(
                "multi-hot",
                format!("the range {min}-{max} is empty; write MIN-MAX with MIN <= MAX"),
            ));
        }
        if max > 1024 {
            return Err(setting(
                "multi-hot",
                format!("bags of up to {max} ids are not supported (at most 1024)"),
            ));
        }
        if !(self.zipf.is_finite() && self.zipf >= 0.0 && self.zipf <= 10.0) {
            return Err(setting(
                "zipf",
                format!("the exponent must be in 0..=10 (got {})", self.zipf),
            ));
        }
        for (name, fraction) in [
            ("val-fraction", self.val_fraction),
            ("test-fraction", self.test_fraction),
        ] {
            if !(0.0..1.0).contains(&fraction) {
                return Err(setting(name, format!("must be in [0, 1) (got {fraction})")));
            }
        }
        if self.val_fraction + self.test_fraction >= 1.0 {
            return Err(setting(
                "val-fraction",
                format!(
                    "val ({}) and test ({}) fractions leave no rows for train",
                    self.val_fraction, self.test_fraction
                ),
            ));
        }
        if self.val_rows() + self.test_rows() >= self.rows {
            return Err(setting(
                "rows",
                format!(
                    "{} rows cannot fill train, val and test; add rows or use --val-fraction 0 --test-fraction 0",
                    self.rows
                ),
            ));
        }
        if !(self.positive_rate > 0.0 && self.positive_rate < 1.0) {
            return Err(setting(
                "positive-rate",
                format!(
                    "must be strictly between 0 and 1 (got {})",
                    self.positive_rate
                ),
            ));
        }
        if !(self.signal.is_finite() && self.signal >= 0.0 && self.signal <= 20.0) {
            return Err(setting(
                "signal",
                format!(
                    "the logit standard deviation must be in 0..=20 (got {})",
                    self.signal
                ),
            ));
        }
        Ok(())
    }
}

/// Rows held out for a split of `fraction` (rounded, at least 1 when the fraction is positive).
fn held_out(rows: u64, fraction: f64) -> u64 {
    if fraction <= 0.0 {
        return 0;
    }
    ((rows as f64 * fraction).round() as u64).clamp(1, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(change: impl FnOnce(&mut DlrmConfig)) -> String {
        let mut config = DlrmConfig::default();
        change(&mut config);
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn default_is_valid_and_splits_ten_percent() {
        let config = DlrmConfig::default();
        config.validate().unwrap();
        assert_eq!(config.val_rows(), 100_000);
        assert_eq!(config.test_rows(), 100_000);
        assert_eq!(config.train_rows(), 800_000);
        assert!(!config.multi_hot());
    }

    #[test]
    fn bad_settings_are_named() {
        assert!(error_of(|c| c.rows = 0).starts_with("invalid --rows: must be at least 1"));
        assert!(
            error_of(|c| c.cardinalities[3] = 0)
                .contains("--cardinality: table 3 has cardinality 0")
        );
        assert!(error_of(|c| c.bag = (4, 2)).contains("--multi-hot: the range 4-2 is empty"));
        assert!(error_of(|c| c.zipf = f64::NAN).contains("--zipf"));
        assert!(error_of(|c| c.val_fraction = 1.0).contains("--val-fraction"));
        assert!(error_of(|c| c.positive_rate = 0.0).contains("--positive-rate"));
        assert!(error_of(|c| c.signal = -1.0).contains("--signal"));
        assert!(
            error_of(|c| c.rows = 2).contains("--rows: 2 rows cannot fill train, val and test")
        );
        assert!(error_of(|c| c.test_fraction = 0.95).contains("leave no rows for train"));
        assert!(
            error_of(|c| {
                c.dense = 0;
                c.cardinalities.clear()
            })
            .contains("--dense")
        );
    }
}
