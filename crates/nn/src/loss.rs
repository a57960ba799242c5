//! Losses that return their value and the gradient with respect to their logits.
//!
//! [`BceWithLogits`] is the ranking loss (click or no click). [`InBatchSoftmax`] is the
//! retrieval loss: each query's positive item is scored against the other items of the
//! batch, with an optional log-Q correction for popular items being over-represented as
//! negatives, and with accidental hits (the positive item appearing in another row) masked.

use crate::error::{NnError, check_dims};
use crate::par::{chunk_count, for_row_chunks_with_partials};
use crate::tensor::{MatRef, Matrix};

/// Binary cross-entropy on logits, averaged over every logit (PyTorch's
/// `BCEWithLogitsLoss` with mean reduction).
#[derive(Debug, Clone, Default)]
pub struct BceWithLogits {
    grad: Matrix,
}

impl BceWithLogits {
    /// A loss with an empty gradient buffer; it grows on the first batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// The mean loss of `logits` against `labels` (same number of values, targets in
    /// `[0, 1]`); also computes the gradient, read with [`BceWithLogits::grad`].
    pub fn forward(&mut self, logits: MatRef<'_>, labels: &[f32]) -> Result<f32, NnError> {
        let z = logits.as_slice();
        if z.len() != labels.len() || z.is_empty() {
            return Err(NnError::Shape(format!(
                "binary cross-entropy: {} logits for {} labels",
                z.len(),
                labels.len()
            )));
        }
        let (rows, cols) = logits.dims();
        self.grad.resize(rows, cols);
        let inv_n = 1.0 / z.len() as f32;
        let mut total = 0.0f64;
        for ((g, &x), &y) in self.grad.as_mut_slice().iter_mut().zip(z).zip(labels) {
            // max(x, 0) - x y + log(1 + e^-|x|): never exponentiates a positive number.
            let e = (-x.abs()).exp();
            total += (x.max(0.0) - x * y + e.ln_1p()) as f64;
            let sigmoid = if x >= 0.0 {
                1.0 / (1.0 + e)
            } else {
                e / (1.0 + e)
            };
            *g = (sigmoid - y) * inv_n;
        }
        Ok((total / z.len() as f64) as f32)
    }

    /// Gradient of the last loss with respect to its logits.
    pub fn grad(&self) -> MatRef<'_> {
        self.grad.view()
    }
}

/// Softmax cross-entropy over in-batch candidates: row `i` of a `B x N` score matrix
/// (`N >= B`) is query `i` scored against every candidate, and its positive is column `i`.
#[derive(Debug, Clone, Default)]
pub struct InBatchSoftmax {
    grad: Matrix,
    chunk_losses: Vec<f32>,
}

impl InBatchSoftmax {
    /// A loss with empty buffers; they grow on the first batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// The mean over rows of `-log softmax(row)[i]`, and its gradient.
    ///
    /// `log_q`, when given, holds for every column the log of that candidate's sampling
    /// probability; it is subtracted from the column's logits (the log-Q correction).
    /// `item_ids`, when given, holds every column's item id; a column holding the same item
    /// as row `i`'s positive is left out of row `i`'s softmax (an accidental hit).
    pub fn forward(
        &mut self,
        logits: MatRef<'_>,
        log_q: Option<&[f32]>,
        item_ids: Option<&[u64]>,
    ) -> Result<f32, NnError> {
        let (rows, cols) = logits.dims();
        if rows == 0 || cols < rows {
            return Err(NnError::Shape(format!(
                "in-batch softmax needs a B x N score matrix with N >= B > 0, got {rows}x{cols}"
            )));
        }
        if let Some(q) = log_q {
            check_dims("log-Q correction", (1, cols), (1, q.len()))?;
        }
        if let Some(ids) = item_ids {
            check_dims("item ids", (1, cols), (1, ids.len()))?;
        }
        self.grad.resize(rows, cols);
        self.chunk_losses.resize(chunk_count(rows, cols), 0.0);
        let scores = logits.as_slice();
        let inv_b = 1.0 / rows as f32;
        for_row_chunks_with_partials(
            self.grad.as_mut_slice(),
            cols,
            &mut self.chunk_losses,
            1,
            |first_row, chunk, loss| {
                let mut sum = 0.0f32;
                for (r, g) in chunk.chunks_exact_mut(cols).enumerate() {
                    let i = first_row + r;
                    let s = &scores[i * cols..(i + 1) * cols];
                    sum += row_loss(i, s, log_q, item_ids, g, inv_b);
                }
                loss[0] = sum;
            },
        );
        let total: f64 = self.chunk_losses.iter().map(|&l| l as f64).sum();
        Ok((total / rows as f64) as f32)
    }

    /// Gradient of the last loss with respect to its logits.
    pub fn grad(&self) -> MatRef<'_> {
        self.grad.view()
    }
}

/// Loss of row `i`, writing `(softmax - onehot(i)) * inv_b` into `grad` (zero where masked).
fn row_loss(
    i: usize,
    scores: &[f32],
    log_q: Option<&[f32]>,
    item_ids: Option<&[u64]>,
    grad: &mut [f32],
    inv_b: f32,
) -> f32 {
    let masked = |j: usize| j != i && item_ids.is_some_and(|ids| ids[j] == ids[i]);
    // First pass: corrected logits into `grad`, masked ones as -inf, and their maximum.
    let mut max = f32::NEG_INFINITY;
    for (j, (g, &s)) in grad.iter_mut().zip(scores).enumerate() {
        *g = if masked(j) {
            f32::NEG_INFINITY
        } else {
            s - log_q.map_or(0.0, |q| q[j])
        };
        max = max.max(*g);
    }
    let positive = grad[i];
    let mut denom = 0.0f32;
    for g in grad.iter_mut() {
        *g = (*g - max).exp();
        denom += *g;
    }
    let scale = inv_b / denom;
    for g in grad.iter_mut() {
        *g *= scale;
    }
    grad[i] -= inv_b;
    max + denom.ln() - positive
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{assert_close, numeric_grad, random_matrix};

    #[test]
    fn bce_matches_hand_computed_values() {
        let logits = Matrix::from_vec(3, 1, vec![0.0, 2.0, -1.0]).unwrap();
        let labels = [1.0, 0.0, 0.0];
        let mut bce = BceWithLogits::new();
        let loss = bce.forward(logits.view(), &labels).unwrap();
        // ln 2, ln(1 + e^2), ln(1 + e^-1), averaged.
        let want = (2f64.ln() + (1.0 + 2f64.exp()).ln() + (1.0 + (-1f64).exp()).ln()) / 3.0;
        assert!((loss as f64 - want).abs() < 1e-6, "{loss} vs {want}");
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        let want_grad = [(0.5 - 1.0) / 3.0, sig(2.0) / 3.0, sig(-1.0) / 3.0];
        for (g, w) in bce.grad().as_slice().iter().zip(want_grad) {
            assert!((*g as f64 - w).abs() < 1e-6);
        }
    }

    #[test]
    fn bce_is_stable_for_extreme_logits() {
        let logits = Matrix::from_vec(2, 1, vec![100.0, -100.0]).unwrap();
        let mut bce = BceWithLogits::new();
        let loss = bce.forward(logits.view(), &[0.0, 1.0]).unwrap();
        assert!((loss - 100.0).abs() < 1e-4, "{loss}");
        assert_eq!(bce.grad().as_slice(), &[0.5, -0.5]);
        assert!(bce.forward(logits.view(), &[0.0]).is_err());
    }

    #[test]
    fn in_batch_softmax_hand_computed() {
        // Row 0: logits [1, 0] -> -log(e / (e + 1)); row 1: [0, 0] -> ln 2.
        let s = Matrix::from_vec(2, 2, vec![1.0, 0.0, 0.0, 0.0]).unwrap();
        let mut ce = InBatchSoftmax::new();
        let loss = ce.forward(s.view(), None, None).unwrap();
        let e = std::f64::consts::E;
        let want = (-(e / (e + 1.0)).ln() + 2f64.ln()) / 2.0;
        assert!((loss as f64 - want).abs() < 1e-6);
        // With log-Q [ln 0.5, ln 0.25]: row 0 becomes [1 - ln .5, -ln .25].
        let q = [0.5f32.ln(), 0.25f32.ln()];
        let loss_q = ce.forward(s.view(), Some(&q), None).unwrap();
        let (a, b) = (1.0 - 0.5f64.ln(), -(0.25f64.ln()));
        let r0 = -(a - (a.exp() + b.exp()).ln());
        let (c, d) = (-(0.5f64.ln()), -(0.25f64.ln()));
        let r1 = -(d - (c.exp() + d.exp()).ln());
        assert!((loss_q as f64 - (r0 + r1) / 2.0).abs() < 1e-6);
    }

    #[test]
    fn accidental_hits_are_masked() {
        // Rows 0 and 2 share item 7: each is left out of the other's softmax.
        let s = random_matrix(3, 3, 21, 2.0);
        let mut ce = InBatchSoftmax::new();
        ce.forward(s.view(), None, Some(&[7, 8, 7])).unwrap();
        let g = ce.grad();
        assert_eq!(g.row(0)[2], 0.0);
        assert_eq!(g.row(2)[0], 0.0);
        assert_ne!(g.row(1)[0], 0.0);
        // Row 0 alone: softmax over columns 0 and 1 only.
        let r = s.view().row(0);
        let want = -(r[0] - (r[0].exp() + r[1].exp()).ln());
        let mut single = InBatchSoftmax::new();
        let masked = Matrix::from_vec(1, 3, vec![r[0], r[1], f32::NEG_INFINITY]).unwrap();
        let got = single.forward(masked.view(), None, None).unwrap();
        assert!((got - want).abs() < 1e-5);
        assert!(ce.forward(s.view(), None, Some(&[1, 2])).is_err());
        assert!(ce.forward(s.view(), Some(&[0.0; 4]), None).is_err());
    }

    #[test]
    fn in_batch_softmax_gradient_matches_finite_differences() {
        // A batch large enough to span several chunks, with every option on.
        let (rows, cols) = (6, 9);
        let s = random_matrix(rows, cols, 22, 3.0);
        let q: Vec<f32> = (0..cols).map(|j| -1.0 - j as f32 * 0.3).collect();
        let ids: Vec<u64> = (0..cols as u64).map(|j| j % 5).collect();
        let mut ce = InBatchSoftmax::new();
        ce.forward(s.view(), Some(&q), Some(&ids)).unwrap();
        let analytic = ce.grad().as_slice().to_vec();
        let numeric = numeric_grad(s.as_slice(), 1e-2, |x| {
            let m = MatRef::new(x, rows, cols).unwrap();
            InBatchSoftmax::new()
                .forward(m, Some(&q), Some(&ids))
                .unwrap() as f64
        });
        assert_close("in-batch softmax", &analytic, &numeric, 2e-3);
    }

    #[test]
    fn bce_gradient_matches_finite_differences() {
        let z = random_matrix(7, 1, 23, 4.0);
        let labels = [1.0, 0.0, 0.3, 1.0, 0.0, 1.0, 0.0];
        let mut bce = BceWithLogits::new();
        bce.forward(z.view(), &labels).unwrap();
        let analytic = bce.grad().as_slice().to_vec();
        let numeric = numeric_grad(z.as_slice(), 1e-2, |x| {
            let m = MatRef::new(x, 7, 1).unwrap();
            BceWithLogits::new().forward(m, &labels).unwrap() as f64
        });
        assert_close("bce", &analytic, &numeric, 2e-3);
    }
}
