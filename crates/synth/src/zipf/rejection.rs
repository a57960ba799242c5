//! Zipf sampling without a table, by Hörmann and Derflinger's rejection-inversion method
//! ("Rejection-inversion to generate variates from monotone discrete distributions", 1996):
//! constant expected time and memory for any cardinality, so it serves the tables too large
//! for an [alias table](super::alias::AliasTable).

use crate::rng::Rng;

/// Rejection-inversion for ranks `1..=n` with `P(k) ∝ k^-s`, `s > 0`.
#[derive(Debug, Clone)]
pub struct RejectionInversion {
    n: u64,
    exponent: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    squeeze: f64,
}

impl RejectionInversion {
    /// The sampler of ranks `1..=n` (`n >= 1`) with exponent `exponent > 0`.
    pub fn new(n: u64, exponent: f64) -> RejectionInversion {
        let mut sampler = RejectionInversion {
            n,
            exponent,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            squeeze: 0.0,
        };
        sampler.h_integral_x1 = sampler.h_integral(1.5) - 1.0;
        sampler.h_integral_n = sampler.h_integral(n as f64 + 0.5);
        sampler.squeeze =
            2.0 - sampler.h_integral_inverse(sampler.h_integral(2.5) - sampler.h(2.0));
        sampler
    }

    /// Draws one id (rank minus one).
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let u = self.h_integral_n + rng.uniform() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n as f64);
            if k - x <= self.squeeze || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64 - 1;
            }
        }
    }

    /// `h(x) = x^-s`.
    fn h(&self, x: f64) -> f64 {
        (-self.exponent * x.ln()).exp()
    }

    /// `H(x) = ∫₁ˣ t^-s dt = (x^(1-s) - 1) / (1 - s)`, continuous through `s = 1` (`ln x`).
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        exp_m1_over_x((1.0 - self.exponent) * log_x) * log_x
    }

    /// The inverse of `h_integral`.
    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.exponent)).max(-1.0);
        (ln_1p_over_x(t) * x).exp()
    }
}

/// `ln(1 + x) / x`, accurate near zero.
fn ln_1p_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// `(eˣ - 1) / x`, accurate near zero.
fn exp_m1_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}
