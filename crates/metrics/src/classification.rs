//! Metrics of binary predictions: exact AUC, log loss, normalised entropy, calibration.
//!
//! AUC is computed exactly by sorting predictions (O(n log n)); tied predictions contribute half
//! a correctly ordered pair, which makes the AUC of a constant predictor exactly 0.5.

use serde::{Deserialize, Serialize};

/// Probabilities are clamped to `[EPS, 1 - EPS]` before taking logarithms, as PyTorch's BCE does
/// implicitly through its log clamp, so a confident wrong prediction costs a large finite loss.
const EPS: f64 = 1e-7;

/// Exact ROC AUC of `scores` (any monotone score: logits or probabilities) against 0/1 `labels`
/// (a label counts as positive when > 0.5). `None` when only one class is present.
pub fn auc(scores: &[f32], labels: &[f32]) -> Option<f64> {
    debug_assert_eq!(scores.len(), labels.len());
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_unstable_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let positives = labels.iter().filter(|&&l| l > 0.5).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    // Sum of positive ranks (1-based, ties get the average rank): Mann-Whitney U.
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        let tied_positives = order[i..=j].iter().filter(|&&k| labels[k] > 0.5).count();
        rank_sum += average_rank * tied_positives as f64;
        i = j + 1;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// Mean binary cross-entropy of probabilities `probs` against 0/1 `labels`.
pub fn log_loss(probs: &[f32], labels: &[f32]) -> f64 {
    if probs.is_empty() {
        return 0.0;
    }
    let total: f64 = probs
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = (p as f64).clamp(EPS, 1.0 - EPS);
            let y = y as f64;
            -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
        })
        .sum();
    total / probs.len() as f64
}

/// The usual ranking-model report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BinaryMetrics {
    /// Exact ROC AUC (`NaN` when only one class is present).
    pub auc: f64,
    /// Mean binary cross-entropy.
    pub logloss: f64,
    /// Normalised entropy: log loss divided by the entropy of the positive rate (< 1 means the
    /// model beats always predicting the base rate).
    pub ne: f64,
    /// Mean prediction divided by the positive rate (1 is perfectly calibrated on average).
    pub calibration: f64,
    /// Fraction of positive labels.
    pub positive_rate: f64,
    /// Number of samples.
    pub samples: u64,
}

/// Computes [`BinaryMetrics`] from probabilities and 0/1 labels.
pub fn binary_metrics(probs: &[f32], labels: &[f32]) -> BinaryMetrics {
    let n = probs.len() as f64;
    let positive_rate = labels.iter().filter(|&&l| l > 0.5).count() as f64 / n.max(1.0);
    let mean_prediction = probs.iter().map(|&p| p as f64).sum::<f64>() / n.max(1.0);
    let logloss = log_loss(probs, labels);
    let p = positive_rate.clamp(EPS, 1.0 - EPS);
    let base_entropy = -(p * p.ln() + (1.0 - p) * (1.0 - p).ln());
    BinaryMetrics {
        auc: auc(probs, labels).unwrap_or(f64::NAN),
        logloss,
        ne: logloss / base_entropy,
        calibration: mean_prediction / positive_rate,
        positive_rate,
        samples: probs.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_matches_pair_counting() {
        // Pairs (pos, neg): (0.8 > 0.3) yes, (0.8 > 0.6) yes, (0.4 > 0.3) yes, (0.4 < 0.6) no,
        // (0.6 == 0.6) tie counts half with the third positive.
        let scores = [0.8, 0.3, 0.4, 0.6, 0.6];
        let labels = [1.0, 0.0, 1.0, 0.0, 1.0];
        // positives: 0.8, 0.4, 0.6; negatives: 0.3, 0.6
        // 0.8: 2 wins; 0.4: 1 win; 0.6: 1 win (vs 0.3) + 0.5 (tie) => 4.5 / 6
        assert!((auc(&scores, &labels).unwrap() - 4.5 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn auc_of_constant_is_half_and_single_class_is_none() {
        assert_eq!(auc(&[0.2; 4], &[1.0, 0.0, 1.0, 0.0]), Some(0.5));
        assert_eq!(auc(&[0.2, 0.3], &[1.0, 1.0]), None);
        assert_eq!(auc(&[0.9, 0.1], &[1.0, 0.0]), Some(1.0));
        assert_eq!(auc(&[0.1, 0.9], &[1.0, 0.0]), Some(0.0));
    }

    #[test]
    fn log_loss_and_ne_by_hand() {
        let probs = [0.9, 0.2];
        let labels = [1.0, 0.0];
        let expected = -((0.9f64).ln() + (0.8f64).ln()) / 2.0;
        assert!((log_loss(&probs, &labels) - expected).abs() < 1e-6);
        let m = binary_metrics(&probs, &labels);
        // base rate 0.5 -> entropy ln 2
        assert!((m.ne - expected / std::f64::consts::LN_2).abs() < 1e-6);
        assert!((m.calibration - 0.55 / 0.5).abs() < 1e-6);
        assert_eq!(m.samples, 2);
    }

    #[test]
    fn predicting_the_base_rate_has_ne_one() {
        let labels = [1.0, 0.0, 0.0, 0.0];
        let probs = [0.25; 4];
        let m = binary_metrics(&probs, &labels);
        assert!((m.ne - 1.0).abs() < 1e-6, "{}", m.ne);
        assert!((m.calibration - 1.0).abs() < 1e-6);
    }
}
