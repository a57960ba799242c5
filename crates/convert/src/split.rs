//! Splits: which rows go to `train`, `val` and `test`.
//!
//! * `random:F` holds out a seeded random fraction `F` of the rows as `test`, the rest `train`;
//!   `random:A,B` gives `train`/`test` fractions and `random:A,B,C` `train`/`val`/`test`
//!   fractions (they must add up to 1). Counts are rounded to the nearest row; rows are drawn
//!   by a seeded shuffle, so the same seed gives the same split.
//! * `leave-last:N` is the temporal per-user split: each user's `N` latest interactions (by
//!   timestamp, ties broken by input order: the later row counts as later) go to `test`, the
//!   rest to `train`. A user with `N` or fewer interactions keeps the earliest one in `train`,
//!   so every user is seen in training.
//!
//! Within a split, rows keep their input order.

use crate::error::{ConvertError, Result};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::collections::HashMap;
use std::str::FromStr;

/// A split rule, as `--split` spells it.
#[derive(Debug, Clone, PartialEq)]
pub enum SplitSpec {
    /// Everything in `train`.
    None,
    /// Seeded random fractions (they add up to 1).
    Random {
        /// Fraction of rows in `train`.
        train: f64,
        /// Fraction of rows in `val`.
        val: f64,
        /// Fraction of rows in `test`.
        test: f64,
    },
    /// Each user's N latest interactions go to `test`.
    LeaveLast(usize),
}

impl FromStr for SplitSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<SplitSpec, String> {
        let usage = "expected random:F, random:TRAIN,TEST, random:TRAIN,VAL,TEST or leave-last:N";
        if let Some(n) = text.strip_prefix("leave-last:") {
            let n: usize = n
                .trim()
                .parse()
                .map_err(|_| format!("{text:?}: leave-last needs a whole number of rows"))?;
            if n == 0 {
                return Err(format!("{text:?}: leave-last needs at least 1 row"));
            }
            return Ok(SplitSpec::LeaveLast(n));
        }
        let Some(fractions) = text.strip_prefix("random:") else {
            return Err(format!("{text:?}: {usage}"));
        };
        let parsed = fractions
            .split(',')
            .map(|f| match f.trim().parse::<f64>() {
                Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
                _ => Err(format!(
                    "{text:?}: fraction {f:?} is not a number in [0, 1]"
                )),
            })
            .collect::<Result<Vec<f64>, String>>()?;
        let (train, val, test) = match parsed[..] {
            [test] => (1.0 - test, 0.0, test),
            [train, test] => (train, 0.0, test),
            [train, val, test] => (train, val, test),
            _ => return Err(format!("{text:?}: {usage}")),
        };
        if parsed.len() > 1 && (train + val + test - 1.0).abs() > 1e-6 {
            return Err(format!(
                "{text:?}: fractions add up to {}, not 1",
                train + val + test
            ));
        }
        Ok(SplitSpec::Random { train, val, test })
    }
}

/// One split's name and the (ascending) row indices it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitRows {
    /// `train`, `val` or `test`.
    pub name: String,
    /// Row indices, ascending.
    pub rows: Vec<usize>,
}

/// What a per-user split needs to know about every row.
#[derive(Debug, Clone, Copy)]
pub struct UserTimes<'a> {
    /// The user of each row (any id that is equal for the same user).
    pub users: &'a [i64],
    /// The time of each row.
    pub timestamps: &'a [i64],
}

impl SplitSpec {
    /// Assigns `rows` rows to splits. `user_times` is required by `leave-last`; its absence
    /// is an error naming what the format lacks.
    pub fn assign(
        &self,
        rows: usize,
        seed: u64,
        user_times: Option<UserTimes<'_>>,
    ) -> Result<Vec<SplitRows>> {
        match self {
            SplitSpec::None => Ok(vec![SplitRows {
                name: "train".into(),
                rows: (0..rows).collect(),
            }]),
            SplitSpec::Random { val, test, .. } => Ok(random(rows, seed, *val, *test)),
            SplitSpec::LeaveLast(n) => {
                let Some(ut) = user_times else {
                    return Err(ConvertError::Options(
                        "--split leave-last needs a user and a timestamp per row, and this input has none (for csv/parquet give --user and --timestamp)".into(),
                    ));
                };
                Ok(leave_last(rows, *n, ut))
            }
        }
    }

    /// The rule in words, for the manifest.
    pub fn describe(&self, seed: u64) -> String {
        match self {
            SplitSpec::None => "none: every row in train".into(),
            SplitSpec::Random { train, val, test } => {
                format!("random (seed {seed}): train {train}, val {val}, test {test}")
            }
            SplitSpec::LeaveLast(n) => {
                format!("leave-last-{n}: each user's {n} latest interactions in test")
            }
        }
    }
}

fn random(rows: usize, seed: u64, val: f64, test: f64) -> Vec<SplitRows> {
    let mut order: Vec<usize> = (0..rows).collect();
    order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
    let n_test = ((test * rows as f64).round() as usize).min(rows);
    let n_val = ((val * rows as f64).round() as usize).min(rows - n_test);
    let mut test_rows = order[..n_test].to_vec();
    let mut val_rows = order[n_test..n_test + n_val].to_vec();
    let mut train_rows = order[n_test + n_val..].to_vec();
    test_rows.sort_unstable();
    val_rows.sort_unstable();
    train_rows.sort_unstable();
    let mut splits = vec![SplitRows {
        name: "train".into(),
        rows: train_rows,
    }];
    if val > 0.0 {
        splits.push(SplitRows {
            name: "val".into(),
            rows: val_rows,
        });
    }
    if test > 0.0 {
        splits.push(SplitRows {
            name: "test".into(),
            rows: test_rows,
        });
    }
    splits
}

fn leave_last(rows: usize, n: usize, ut: UserTimes<'_>) -> Vec<SplitRows> {
    let mut by_user: HashMap<i64, Vec<usize>> = HashMap::new();
    for row in 0..rows {
        by_user.entry(ut.users[row]).or_default().push(row);
    }
    let mut in_test = vec![false; rows];
    for user_rows in by_user.values_mut() {
        user_rows.sort_by_key(|&row| (ut.timestamps[row], row));
        let held = n.min(user_rows.len() - 1);
        for &row in &user_rows[user_rows.len() - held..] {
            in_test[row] = true;
        }
    }
    let (test, train): (Vec<usize>, Vec<usize>) = (0..rows).partition(|&row| in_test[row]);
    vec![
        SplitRows {
            name: "train".into(),
            rows: train,
        },
        SplitRows {
            name: "test".into(),
            rows: test,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling_and_rejects_bad_ones() {
        assert_eq!(
            "random:0.2".parse::<SplitSpec>().unwrap(),
            SplitSpec::Random {
                train: 0.8,
                val: 0.0,
                test: 0.2
            }
        );
        assert_eq!(
            "random:0.7,0.2,0.1".parse::<SplitSpec>().unwrap(),
            SplitSpec::Random {
                train: 0.7,
                val: 0.2,
                test: 0.1
            }
        );
        assert_eq!(
            "leave-last:10".parse::<SplitSpec>().unwrap(),
            SplitSpec::LeaveLast(10)
        );
        assert!(
            "random:0.7,0.2"
                .parse::<SplitSpec>()
                .unwrap_err()
                .contains("add up to")
        );
        assert!("random:1.5".parse::<SplitSpec>().is_err());
        assert!("leave-last:0".parse::<SplitSpec>().is_err());
        assert!("temporal".parse::<SplitSpec>().is_err());
    }

    #[test]
    fn random_split_is_seeded_disjoint_and_complete() {
        let spec: SplitSpec = "random:0.7,0.2,0.1".parse().unwrap();
        let a = spec.assign(1000, 7, None).unwrap();
        assert_eq!(a, spec.assign(1000, 7, None).unwrap());
        assert_ne!(a, spec.assign(1000, 8, None).unwrap());
        let sizes: Vec<usize> = a.iter().map(|s| s.rows.len()).collect();
        assert_eq!(sizes, vec![700, 200, 100]);
        let mut all: Vec<usize> = a.iter().flat_map(|s| s.rows.iter().copied()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn leave_last_takes_each_users_latest_rows_with_ties_in_input_order() {
        // user 1: times 5, 1, 5, 3 → latest two are rows 0 and 2 (tie at 5: row 2 is later).
        // user 2: a single row stays in train.
        let users = [1, 1, 1, 1, 2];
        let timestamps = [5, 1, 5, 3, 9];
        let spec = SplitSpec::LeaveLast(2);
        let splits = spec
            .assign(
                5,
                0,
                Some(UserTimes {
                    users: &users,
                    timestamps: &timestamps,
                }),
            )
            .unwrap();
        assert_eq!(splits[0].rows, vec![1, 3, 4]);
        assert_eq!(splits[1].rows, vec![0, 2]);
        let one = SplitSpec::LeaveLast(1)
            .assign(
                5,
                0,
                Some(UserTimes {
                    users: &users,
                    timestamps: &timestamps,
                }),
            )
            .unwrap();
        assert_eq!(one[1].rows, vec![2]);
    }

    #[test]
    fn leave_last_without_users_is_an_error() {
        let err = SplitSpec::LeaveLast(1)
            .assign(3, 0, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs a user and a timestamp"), "{err}");
    }
}
