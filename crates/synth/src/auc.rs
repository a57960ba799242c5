//! The area under the ROC curve of a score against binary labels, accumulated in one pass.
//!
//! Generators know each row's true probability, so the AUC of that probability against the
//! drawn labels is the best any model can reach on the data: the ceiling a trained model is
//! judged against. Scores are logits, counted in a fine histogram (2²⁰ bins over ±16) so that
//! chunks can be merged in any order with identical results; pairs that share a bin count as
//! ties, and the largest error this can cause is reported alongside the AUC.

/// Number of histogram bins.
const BINS: usize = 1 << 20;
/// Logits outside `±LIMIT` fall into the end bins.
const LIMIT: f64 = 16.0;

/// Positive and negative counts per logit bin.
#[derive(Debug, Clone)]
pub struct AucHistogram {
    positives: Vec<u64>,
    negatives: Vec<u64>,
}

/// The AUC of a score, with the bound on its binning error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AucEstimate {
    /// Area under the ROC curve (pairs sharing a bin counted as ties, i.e. ½).
    pub auc: f64,
    /// The AUC is within this distance of the exact value.
    pub max_error: f64,
    /// Number of positive labels.
    pub positives: u64,
    /// Number of negative labels.
    pub negatives: u64,
}

impl AucEstimate {
    /// Fraction of labels that are positive (0 when there are none).
    pub fn positive_rate(&self) -> f64 {
        let total = self.positives + self.negatives;
        if total == 0 {
            0.0
        } else {
            self.positives as f64 / total as f64
        }
    }
}

impl Default for AucHistogram {
    fn default() -> Self {
        AucHistogram {
            positives: vec![0; BINS],
            negatives: vec![0; BINS],
        }
    }
}

impl AucHistogram {
    /// The bin of a logit: monotone, so ranking by bin is ranking by probability.
    pub fn bin(logit: f64) -> u32 {
        let scaled = (logit + LIMIT) / (2.0 * LIMIT) * BINS as f64;
        // NaN maps to bin 0 through the saturating cast; generators never produce it.
        (scaled as i64).clamp(0, BINS as i64 - 1) as u32
    }

    /// Counts one labelled score given by its [`bin`](Self::bin).
    pub fn add(&mut self, bin: u32, positive: bool) {
        let counts = if positive {
            &mut self.positives
        } else {
            &mut self.negatives
        };
        counts[bin as usize] += 1;
    }

    /// Adds another histogram's counts (order-independent, so merged results are identical).
    pub fn merge(&mut self, other: &AucHistogram) {
        self.positives
            .iter_mut()
            .zip(&other.positives)
            .for_each(|(a, b)| *a += b);
        self.negatives
            .iter_mut()
            .zip(&other.negatives)
            .for_each(|(a, b)| *a += b);
    }

    /// The AUC of everything counted so far; 0.5 when either class is empty (no ranking
    /// exists), with the error bound then 0.
    pub fn estimate(&self) -> AucEstimate {
        let positives: u64 = self.positives.iter().sum();
        let negatives: u64 = self.negatives.iter().sum();
        if positives == 0 || negatives == 0 {
            return AucEstimate {
                auc: 0.5,
                max_error: 0.0,
                positives,
                negatives,
            };
        }
        let mut negatives_below = 0u64;
        let mut wins = 0f64;
        let mut ties = 0f64;
        for (&pos, &neg) in self.positives.iter().zip(&self.negatives) {
            wins += pos as f64 * negatives_below as f64;
            ties += pos as f64 * neg as f64;
            negatives_below += neg;
        }
        let pairs = positives as f64 * negatives as f64;
        AucEstimate {
            auc: (wins + 0.5 * ties) / pairs,
            max_error: 0.5 * ties / pairs,
            positives,
            negatives,
        }
    }
}

/// Exact AUC of `scores` against `labels` by sorting (ties count ½); for small evaluations
/// such as the tests' baseline learners. 0.5 when either class is empty.
pub fn exact_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut wins, mut negatives_below, mut positives) = (0f64, 0u64, 0u64);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        let (mut pos, mut neg) = (0u64, 0u64);
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            if labels[order[j]] {
                pos += 1
            } else {
                neg += 1
            }
            j += 1;
        }
        wins += pos as f64 * (negatives_below as f64 + 0.5 * neg as f64);
        negatives_below += neg;
        positives += pos;
        i = j;
    }
    if positives == 0 || negatives_below == 0 {
        return 0.5;
    }
    wins / (positives as f64 * negatives_below as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn histogram_matches_exact_auc() {
        let mut rng = Rng::for_key(&[11]);
        let mut histogram = AucHistogram::default();
        let (mut scores, mut labels) = (Vec::new(), Vec::new());
        for _ in 0..50_000 {
            let logit = 1.5 * rng.normal() - 1.0;
            let positive = rng.uniform() < 1.0 / (1.0 + (-logit).exp());
            histogram.add(AucHistogram::bin(logit), positive);
            scores.push(logit);
            labels.push(positive);
        }
        let estimate = histogram.estimate();
        let exact = exact_auc(&scores, &labels);
        assert!(estimate.max_error < 1e-4, "{estimate:?}");
        assert!(
            (estimate.auc - exact).abs() <= estimate.max_error + 1e-12,
            "{estimate:?} {exact}"
        );
        assert!(exact > 0.7 && exact < 0.9, "{exact}");
    }

    #[test]
    fn perfect_reversed_and_degenerate_rankings() {
        assert_eq!(
            exact_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
            1.0
        );
        assert_eq!(
            exact_auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]),
            0.0
        );
        assert_eq!(exact_auc(&[0.5, 0.5], &[false, true]), 0.5);
        assert_eq!(exact_auc(&[0.5, 0.7], &[true, true]), 0.5);
        let mut histogram = AucHistogram::default();
        histogram.add(AucHistogram::bin(-3.0), false);
        histogram.add(AucHistogram::bin(3.0), true);
        histogram.add(AucHistogram::bin(100.0), true);
        let estimate = histogram.estimate();
        assert_eq!((estimate.auc, estimate.max_error), (1.0, 0.0));
        assert!((estimate.positive_rate() - 2.0 / 3.0).abs() < 1e-12);
    }
}
