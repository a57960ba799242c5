//! Sparse optimizers applied row by row to the rows a batch touched.
//!
//! The semantics follow FBGEMM's table-batched embedding kernels, which TorchRec fuses into its
//! embedding backward:
//!
//! - **SGD**: `w -= lr * (g + weight_decay * w)`.
//! - **Row-wise Adagrad** (TorchRec's default for embeddings): one f32 accumulator per row.
//!   With `g' = g + weight_decay * w` (FBGEMM's L2 weight-decay mode), `state += mean(g'^2)` over
//!   the row's elements, then `w -= lr * g' / (sqrt(state) + eps)`.
//! - **Adam**: first and second moments per element, updated only for touched rows (lazy,
//!   sparse Adam). Bias correction uses the *global* step — the number of optimizer steps the
//!   collection has taken, whether or not a row was touched in each — exactly as FBGEMM does by
//!   default (its `iter` argument). Weight decay is decoupled, as in FBGEMM's Adam:
//!   `w -= lr * (m_hat / (sqrt(v_hat) + eps) + weight_decay * w)`.
//!
//! Optimizer state is always f32, whatever the storage format of the weights.

use serde::{Deserialize, Serialize};

use crate::error::{EmbedError, Result};

/// The sparse optimizer of an embedding collection, with its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Optimizer {
    /// Plain stochastic gradient descent; no state.
    Sgd {
        /// Learning rate.
        lr: f32,
        /// L2 penalty coefficient added to the gradient.
        #[serde(default)]
        weight_decay: f32,
    },
    /// Row-wise Adagrad; one f32 of state per row.
    RowwiseAdagrad {
        /// Learning rate.
        lr: f32,
        /// Added to the root of the accumulator; FBGEMM's default is 1e-8.
        #[serde(default = "default_eps")]
        eps: f32,
        /// L2 penalty coefficient added to the gradient (and hence to the accumulator).
        #[serde(default)]
        weight_decay: f32,
    },
    /// Lazy Adam; two f32 of state per element.
    Adam {
        /// Learning rate.
        lr: f32,
        /// Decay of the first moment.
        #[serde(default = "default_beta1")]
        beta1: f32,
        /// Decay of the second moment.
        #[serde(default = "default_beta2")]
        beta2: f32,
        /// Added to the root of the second moment.
        #[serde(default = "default_eps")]
        eps: f32,
        /// Decoupled weight decay coefficient.
        #[serde(default)]
        weight_decay: f32,
    },
}

fn default_eps() -> f32 {
    1e-8
}

fn default_beta1() -> f32 {
    0.9
}

fn default_beta2() -> f32 {
    0.999
}

impl Optimizer {
    /// Row-wise Adagrad with FBGEMM's default epsilon and no weight decay.
    pub fn rowwise_adagrad(lr: f32) -> Self {
        Optimizer::RowwiseAdagrad {
            lr,
            eps: default_eps(),
            weight_decay: 0.0,
        }
    }

    /// Adam with the usual betas (0.9, 0.999), epsilon 1e-8 and no weight decay.
    pub fn adam(lr: f32) -> Self {
        Optimizer::Adam {
            lr,
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_eps(),
            weight_decay: 0.0,
        }
    }

    /// Checks that the hyper-parameters are finite and in range.
    pub fn validate(&self) -> Result<()> {
        let (lr, eps, weight_decay, betas) = match *self {
            Optimizer::Sgd { lr, weight_decay } => (lr, None, weight_decay, None),
            Optimizer::RowwiseAdagrad {
                lr,
                eps,
                weight_decay,
            } => (lr, Some(eps), weight_decay, None),
            Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
            } => (lr, Some(eps), weight_decay, Some((beta1, beta2))),
        };
        let bad = |what: &str, v: f32| Err(EmbedError::Optimizer(format!("{what} is {v}")));
        if !(lr.is_finite() && lr >= 0.0) {
            return bad(
                "the learning rate must be finite and non-negative, but it",
                lr,
            );
        }
        if !(weight_decay.is_finite() && weight_decay >= 0.0) {
            return bad(
                "weight_decay must be finite and non-negative, but it",
                weight_decay,
            );
        }
        if let Some(eps) = eps
            && !(eps.is_finite() && eps > 0.0)
        {
            return bad("eps must be finite and positive, but it", eps);
        }
        if let Some((beta1, beta2)) = betas {
            for (name, b) in [("beta1", beta1), ("beta2", beta2)] {
                if !(0.0..1.0).contains(&b) {
                    return bad(&format!("{name} must be in [0, 1), but it"), b);
                }
            }
        }
        Ok(())
    }

    /// The current learning rate.
    pub fn learning_rate(&self) -> f32 {
        match *self {
            Optimizer::Sgd { lr, .. }
            | Optimizer::RowwiseAdagrad { lr, .. }
            | Optimizer::Adam { lr, .. } => lr,
        }
    }

    /// Changes the learning rate, for schedules that decay or warm it up.
    pub fn set_learning_rate(&mut self, new: f32) {
        match self {
            Optimizer::Sgd { lr, .. }
            | Optimizer::RowwiseAdagrad { lr, .. }
            | Optimizer::Adam { lr, .. } => *lr = new,
        }
    }

    /// Number of f32 state values each row of a `dim`-wide table carries.
    pub fn state_per_row(&self, dim: usize) -> usize {
        match self {
            Optimizer::Sgd { .. } => 0,
            Optimizer::RowwiseAdagrad { .. } => 1,
            Optimizer::Adam { .. } => 2 * dim,
        }
    }

    /// Bytes of optimizer state a `rows` x `dim` table needs, known before it is built.
    pub fn state_bytes(&self, rows: u64, dim: usize) -> u64 {
        rows * self.state_per_row(dim) as u64 * 4
    }

    /// The tag that checkpoints record.
    pub(crate) fn tag(&self) -> u8 {
        match self {
            Optimizer::Sgd { .. } => 0,
            Optimizer::RowwiseAdagrad { .. } => 1,
            Optimizer::Adam { .. } => 2,
        }
    }

    /// The name of the optimizer a checkpoint tag stands for, for error messages.
    pub(crate) fn tag_name(tag: u8) -> &'static str {
        match tag {
            0 => "sgd",
            1 => "rowwise_adagrad",
            2 => "adam",
            _ => "an unknown optimizer",
        }
    }

    /// The per-row update for optimizer step `step` (counted from 1).
    pub(crate) fn prepare(&self, step: u64) -> RowUpdate {
        match *self {
            Optimizer::Sgd { lr, weight_decay } => RowUpdate::Sgd { lr, weight_decay },
            Optimizer::RowwiseAdagrad {
                lr,
                eps,
                weight_decay,
            } => RowUpdate::RowwiseAdagrad {
                lr,
                eps,
                weight_decay,
            },
            Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
            } => {
                let t = i32::try_from(step).unwrap_or(i32::MAX);
                RowUpdate::Adam {
                    lr,
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                    correction1: 1.0 - beta1.powi(t),
                    correction2: 1.0 - beta2.powi(t),
                }
            }
        }
    }
}

/// An optimizer with everything that depends only on the step precomputed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RowUpdate {
    Sgd {
        lr: f32,
        weight_decay: f32,
    },
    RowwiseAdagrad {
        lr: f32,
        eps: f32,
        weight_decay: f32,
    },
    Adam {
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        correction1: f32,
        correction2: f32,
    },
}

impl RowUpdate {
    /// Updates one row `w` given its summed gradient `g` and its state (as many values as
    /// [`Optimizer::state_per_row`] says).
    #[inline]
    pub(crate) fn apply(&self, w: &mut [f32], g: &[f32], state: &mut [f32]) {
        match *self {
            RowUpdate::Sgd { lr, weight_decay } => {
                for (w, &g) in w.iter_mut().zip(g) {
                    *w -= lr * (g + weight_decay * *w);
                }
            }
            RowUpdate::RowwiseAdagrad {
                lr,
                eps,
                weight_decay,
            } => {
                state[0] += sum_of_squares(w, g, weight_decay) / w.len() as f32;
                let multiplier = lr / (state[0].sqrt() + eps);
                for (w, &g) in w.iter_mut().zip(g) {
                    *w -= multiplier * (g + weight_decay * *w);
                }
            }
            RowUpdate::Adam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                correction1,
                correction2,
            } => {
                let (m, v) = state.split_at_mut(w.len());
                for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
                    *m = beta1 * *m + (1.0 - beta1) * g;
                    *v = beta2 * *v + (1.0 - beta2) * g * g;
                    let step = (*m / correction1) / ((*v / correction2).sqrt() + eps);
                    *w -= lr * (step + weight_decay * *w);
                }
            }
        }
    }
}

/// Lanes of the partial sums in [`sum_of_squares`]: enough for the compiler to use full-width
/// vector registers, and a fixed summation order whatever the hardware.
const LANES: usize = 8;

/// `sum((g + weight_decay * w)^2)`, summed in [`LANES`] interleaved partial sums so that it
/// vectorises (a single running f32 sum cannot be reordered by the compiler).
#[inline]
fn sum_of_squares(w: &[f32], g: &[f32], weight_decay: f32) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let (wc, gc) = (w.chunks_exact(LANES), g.chunks_exact(LANES));
    let tail = wc.remainder().iter().zip(gc.remainder());
    for (w, g) in wc.zip(gc) {
        for ((lane, &w), &g) in lanes.iter_mut().zip(w).zip(g) {
            let g = g + weight_decay * w;
            *lane += g * g;
        }
    }
    for (lane, (&w, &g)) in lanes.iter_mut().zip(tail) {
        let g = g + weight_decay * w;
        *lane += g * g;
    }
    lanes.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f32]) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-6 * (1.0 + y.abs()), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn sgd_by_hand() {
        let mut w = [1.0, -2.0];
        let opt = Optimizer::Sgd {
            lr: 0.1,
            weight_decay: 0.5,
        };
        opt.prepare(1).apply(&mut w, &[2.0, 4.0], &mut []);
        // 1 - 0.1 * (2 + 0.5), -2 - 0.1 * (4 - 1)
        close(&w, &[0.75, -2.3]);
    }

    #[test]
    fn rowwise_adagrad_by_hand() {
        let mut w = [1.0, 1.0];
        let mut state = [0.5];
        let opt = Optimizer::RowwiseAdagrad {
            lr: 0.1,
            eps: 1e-8,
            weight_decay: 0.0,
        };
        opt.prepare(1).apply(&mut w, &[3.0, 4.0], &mut state);
        // state = 0.5 + (9 + 16) / 2 = 13; w -= 0.1 * g / sqrt(13)
        close(&state, &[13.0]);
        let m = 0.1 / 13f32.sqrt();
        close(&w, &[1.0 - 3.0 * m, 1.0 - 4.0 * m]);
        // With L2 weight decay the penalty enters both the accumulator and the step.
        let mut w = [2.0];
        let mut state = [0.0];
        let opt = Optimizer::RowwiseAdagrad {
            lr: 0.5,
            eps: 1e-8,
            weight_decay: 0.5,
        };
        opt.prepare(1).apply(&mut w, &[1.0], &mut state); // g' = 2
        close(&state, &[4.0]);
        close(&w, &[2.0 - 0.5 * 2.0 / 2.0]);
    }

    #[test]
    fn lane_sums_match_a_plain_sum() {
        let w: Vec<f32> = (0..21).map(|i| i as f32 * 0.5).collect();
        let g: Vec<f32> = (0..21).map(|i| 1.0 - i as f32 * 0.25).collect();
        let plain: f32 = w
            .iter()
            .zip(&g)
            .map(|(w, g)| (g + 0.1 * w) * (g + 0.1 * w))
            .sum();
        assert!((sum_of_squares(&w, &g, 0.1) - plain).abs() < 1e-4 * plain);
    }

    #[test]
    fn adam_by_hand_with_global_step_bias_correction() {
        let opt = Optimizer::Adam {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            weight_decay: 0.1,
        };
        let mut w = [1.0];
        let mut state = [0.0, 0.0];
        opt.prepare(1).apply(&mut w, &[0.5], &mut state);
        // m = 0.05, v = 0.0025, m_hat = 0.5, v_hat = 0.25: step = 1, plus decay 0.1 * 1.
        close(&state, &[0.05, 0.0025]);
        close(&w, &[1.0 - 0.01 * 1.1]);
        // A row first touched at global step 3 is corrected with t = 3, not 1.
        let mut w = [0.0];
        let mut state = [0.0, 0.0];
        let opt = Optimizer::Adam {
            lr: 1.0,
            beta1: 0.5,
            beta2: 0.5,
            eps: 1e-8,
            weight_decay: 0.0,
        };
        opt.prepare(3).apply(&mut w, &[2.0], &mut state);
        // m = 1, v = 2; m_hat = 1 / 0.875, v_hat = 2 / 0.875.
        let want = -(1.0 / 0.875) / ((2.0f32 / 0.875).sqrt() + 1e-8);
        close(&w, &[want]);
    }

    #[test]
    fn validation_and_accounting() {
        assert!(
            Optimizer::Sgd {
                lr: -1.0,
                weight_decay: 0.0
            }
            .validate()
            .is_err()
        );
        assert!(
            Optimizer::Adam {
                lr: 1.0,
                beta1: 1.0,
                beta2: 0.9,
                eps: 1e-8,
                weight_decay: 0.0
            }
            .validate()
            .unwrap_err()
            .to_string()
            .contains("beta1")
        );
        assert!(
            Optimizer::RowwiseAdagrad {
                lr: 1.0,
                eps: 0.0,
                weight_decay: 0.0
            }
            .validate()
            .is_err()
        );
        assert!(Optimizer::adam(0.1).validate().is_ok());
        assert_eq!(Optimizer::rowwise_adagrad(0.1).state_bytes(10, 8), 40);
        assert_eq!(Optimizer::adam(0.1).state_bytes(10, 8), 640);
        assert_eq!(
            Optimizer::Sgd {
                lr: 0.1,
                weight_decay: 0.0
            }
            .state_bytes(10, 8),
            0
        );
        let mut opt: Optimizer =
            serde_json::from_str(r#"{"kind": "rowwise_adagrad", "lr": 0.05}"#).unwrap();
        assert_eq!(opt, Optimizer::rowwise_adagrad(0.05));
        opt.set_learning_rate(0.5);
        assert_eq!(opt.learning_rate(), 0.5);
    }
}
