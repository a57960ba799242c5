//! The settings of a two-tower (MovieLens-shaped) dataset, their defaults and their validation.

use crate::error::{Result, setting};
use cascade_mds::{Compression, HashAlgo};

/// Latent dimensions of the hidden user and item factors.
pub const FACTORS: usize = 16;

/// The shape and hidden model of a MovieLens-shaped interaction dataset.
#[derive(Debug, Clone)]
pub struct TwoTowerConfig {
    /// Interactions (ratings) in total, all splits together.
    pub rows: u64,
    /// Users; `None` picks one per 100 interactions (MovieLens 100K's density).
    pub users: Option<u64>,
    /// Items; `None` picks one per 60 interactions, at least 200 and at most 50 000.
    pub items: Option<u64>,
    /// Each user's latest interactions held out as `test` (the `leave-last:N` split).
    pub leave_last: usize,
    /// Zipf exponent of item popularity: how strongly a few items dominate (0 = none).
    pub popularity: f64,
    /// Strength of personal taste: the standard deviation, in logits, of the user–item
    /// affinity that decides which items a user picks (0 = everyone follows popularity).
    pub preference: f64,
    /// Seed of everything random.
    pub seed: u64,
    /// Shard compression, or none.
    pub compression: Option<Compression>,
    /// Digests recorded for every shard.
    pub hashes: Vec<HashAlgo>,
}

impl Default for TwoTowerConfig {
    /// MovieLens 100K's shape: 100 000 ratings, then about 1 000 users and 1 667 items,
    /// leave-last-10 split, zstd shards.
    fn default() -> Self {
        TwoTowerConfig {
            rows: 100_000,
            users: None,
            items: None,
            leave_last: 10,
            popularity: 0.9,
            preference: 2.5,
            seed: 0,
            compression: Some(Compression::Zstd(None)),
            hashes: vec![HashAlgo::Xxh64],
        }
    }
}

impl TwoTowerConfig {
    /// The number of users, given or derived from `rows`.
    pub fn user_count(&self) -> u64 {
        self.users.unwrap_or_else(|| self.rows.div_ceil(100).max(1))
    }

    /// The number of items, given or derived from `rows`.
    pub fn item_count(&self) -> u64 {
        self.items
            .unwrap_or_else(|| self.rows.div_ceil(60).clamp(200, 50_000))
    }

    /// Checks every setting, naming the first one out of range.
    pub fn validate(&self) -> Result<()> {
        if self.rows == 0 {
            return Err(setting("rows", "must be at least 1 (got 0)"));
        }
        if self.users == Some(0) {
            return Err(setting("users", "must be at least 1 (got 0)"));
        }
        if self.items == Some(0) {
            return Err(setting("items", "must be at least 1 (got 0)"));
        }
        let (users, items) = (self.user_count(), self.item_count());
        // Ids are written as text and indexed through vocabularies held in memory.
        if users > 10_000_000 {
            return Err(setting("users", format!("at most 10000000 (got {users})")));
        }
        if items > 10_000_000 {
            return Err(setting("items", format!("at most 10000000 (got {items})")));
        }
        if self.rows > users.saturating_mul(items) {
            return Err(setting(
                "rows",
                format!(
                    "{} interactions do not fit {users} users × {items} items (each user rates an item at most once); add --users or --items",
                    self.rows
                ),
            ));
        }
        if self.leave_last == 0 {
            return Err(setting("leave-last", "must be at least 1 (got 0)"));
        }
        if !(self.popularity.is_finite() && (0.0..=5.0).contains(&self.popularity)) {
            return Err(setting(
                "popularity",
                format!(
                    "the Zipf exponent must be in 0..=5 (got {})",
                    self.popularity
                ),
            ));
        }
        if !(self.preference.is_finite() && (0.0..=10.0).contains(&self.preference)) {
            return Err(setting(
                "preference",
                format!(
                    "the taste standard deviation must be in 0..=10 (got {})",
                    self.preference
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(change: impl FnOnce(&mut TwoTowerConfig)) -> String {
        let mut config = TwoTowerConfig::default();
        change(&mut config);
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn defaults_follow_movielens_density() {
        let config = TwoTowerConfig::default();
        config.validate().unwrap();
        assert_eq!((config.user_count(), config.item_count()), (1000, 1667));
        let small = TwoTowerConfig { rows: 5, ..config };
        assert_eq!((small.user_count(), small.item_count()), (1, 200));
    }

    #[test]
    fn bad_settings_are_named() {
        assert!(error_of(|c| c.rows = 0).starts_with("invalid --rows: must be at least 1"));
        assert!(error_of(|c| c.users = Some(0)).starts_with("invalid --users"));
        assert!(error_of(|c| c.items = Some(0)).starts_with("invalid --items"));
        assert!(
            error_of(|c| {
                c.users = Some(2);
                c.items = Some(3)
            })
            .contains("--rows: 100000 interactions do not fit 2 users × 3 items")
        );
        assert!(error_of(|c| c.leave_last = 0).contains("--leave-last"));
        assert!(error_of(|c| c.popularity = f64::INFINITY).contains("--popularity"));
        assert!(error_of(|c| c.preference = -0.5).contains("--preference"));
    }
}
