//! Binary labels from explicit ratings: positive when the rating reaches a threshold, by default
//! the dataset's mean rating (the reference two-tower notebook's rule). The raw rating is always
//! kept as its own column, so another rule can be applied at training time.

use crate::error::{ConvertError, Result};

/// How a rating becomes a 0/1 label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LabelRule {
    /// Positive when rating ≥ the mean of all ratings converted (before any split).
    MeanRating,
    /// Positive when rating ≥ this value.
    Threshold(f64),
}

/// Labels computed from ratings, with the facts the manifest records about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    /// 0 or 1 per rating.
    pub values: Vec<i64>,
    /// The threshold that was applied.
    pub threshold: f64,
    /// Mean of all ratings (`None` when there are none).
    pub mean_rating: Option<f64>,
    /// Number of positives.
    pub positives: u64,
}

impl LabelRule {
    /// Builds the rule from an optional `--positive-threshold`; a non-finite value is an error.
    pub fn from_threshold(threshold: Option<f64>) -> Result<LabelRule> {
        match threshold {
            None => Ok(LabelRule::MeanRating),
            Some(t) if t.is_finite() => Ok(LabelRule::Threshold(t)),
            Some(t) => Err(ConvertError::Options(format!(
                "--positive-threshold must be a finite number, got {t}"
            ))),
        }
    }

    /// Labels every rating.
    pub fn apply(&self, ratings: &[f32]) -> Labels {
        let mean_rating = if ratings.is_empty() {
            None
        } else {
            Some(ratings.iter().map(|&r| f64::from(r)).sum::<f64>() / ratings.len() as f64)
        };
        let threshold = match self {
            LabelRule::MeanRating => mean_rating.unwrap_or(0.0),
            LabelRule::Threshold(t) => *t,
        };
        let values: Vec<i64> = ratings
            .iter()
            .map(|&r| i64::from(f64::from(r) >= threshold))
            .collect();
        let positives = values.iter().filter(|&&v| v == 1).count() as u64;
        Labels {
            values,
            threshold,
            mean_rating,
            positives,
        }
    }

    /// The rule in words, for the manifest.
    pub fn describe(&self) -> String {
        match self {
            LabelRule::MeanRating => "label = 1 when rating >= mean rating, else 0".to_string(),
            LabelRule::Threshold(t) => format!("label = 1 when rating >= {t}, else 0"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_rule_counts_ratings_at_the_mean_as_positive() {
        let labels = LabelRule::MeanRating.apply(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(labels.threshold, 3.0);
        assert_eq!(labels.values, vec![0, 0, 1, 1, 1]);
        assert_eq!(labels.positives, 3);
    }

    #[test]
    fn threshold_rule_ignores_the_mean() {
        let labels = LabelRule::Threshold(4.5).apply(&[4.0, 4.5, 5.0]);
        assert_eq!(labels.values, vec![0, 1, 1]);
        assert_eq!(labels.mean_rating, Some(4.5));
    }

    #[test]
    fn non_finite_threshold_is_refused() {
        assert!(LabelRule::from_threshold(Some(f64::NAN)).is_err());
        assert_eq!(
            LabelRule::from_threshold(Some(4.0)).unwrap(),
            LabelRule::Threshold(4.0)
        );
    }
}
