//! Zipf-distributed ranks: `P(k) ∝ k^-s` for `k` in `1..=n`, sampled in constant expected time.
//!
//! Real id features (ads, users, items) are heavy-tailed: a few ids account for most traffic.
//! Sampling uses Hörmann and Derflinger's rejection-inversion method ("Rejection-inversion to
//! generate variates from monotone discrete distributions", 1996), which needs no table, so it
//! works for any cardinality; `s = 0` is the uniform distribution.

use crate::rng::Rng;

/// A Zipf distribution over `0..n` (rank `k` is returned as id `k - 1`, so id 0 is the most
/// frequent).
#[derive(Debug, Clone)]
pub struct Zipf {
    n: u64,
    exponent: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    squeeze: f64,
}

impl Zipf {
    /// The distribution over `0..n` with exponent `exponent`; `n >= 1` and a finite
    /// `exponent >= 0` are the caller's to check (the configurations validate them).
    pub fn new(n: u64, exponent: f64) -> Zipf {
        let mut zipf = Zipf {
            n,
            exponent,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            squeeze: 0.0,
        };
        zipf.h_integral_x1 = zipf.h_integral(1.5) - 1.0;
        zipf.h_integral_n = zipf.h_integral(n as f64 + 0.5);
        zipf.squeeze = 2.0 - zipf.h_integral_inverse(zipf.h_integral(2.5) - zipf.h(2.0));
        zipf
    }

    /// The probability of id `id` (`P(rank id + 1)`), by direct summation; for tests and
    /// reports, not for hot loops.
    pub fn probability(&self, id: u64) -> f64 {
        let norm: f64 = (1..=self.n).map(|k| (k as f64).powf(-self.exponent)).sum();
        ((id + 1) as f64).powf(-self.exponent) / norm
    }

    /// Draws one id.
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        if self.exponent == 0.0 {
            return rng.below(self.n);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Draws `draws` ids and checks each of the first `head` ids' frequency against its
    /// probability (within 5 standard errors) and that nothing falls outside `0..n`.
    fn check_shape(n: u64, exponent: f64, draws: usize, head: u64) {
        let zipf = Zipf::new(n, exponent);
        let mut rng = Rng::for_key(&[n, exponent.to_bits()]);
        let mut counts = vec![0u64; n as usize];
        for _ in 0..draws {
            let id = zipf.sample(&mut rng);
            assert!(id < n, "id {id} outside 0..{n}");
            counts[id as usize] += 1;
        }
        for id in 0..head.min(n) {
            let p = zipf.probability(id);
            let expected = p * draws as f64;
            let sd = (draws as f64 * p * (1.0 - p)).sqrt();
            let got = counts[id as usize] as f64;
            assert!(
                (got - expected).abs() < 5.0 * sd + 1.0,
                "n={n} s={exponent} id={id}: {got} draws, expected {expected:.1} ± {sd:.1}"
            );
        }
    }

    #[test]
    fn frequencies_follow_the_power_law() {
        check_shape(1000, 1.05, 400_000, 50);
        check_shape(100_000, 1.05, 400_000, 20);
        check_shape(50, 1.0, 200_000, 50);
        check_shape(200, 0.5, 200_000, 200);
        check_shape(10, 2.5, 100_000, 10);
        check_shape(1, 1.2, 1_000, 1);
        check_shape(17, 0.0, 170_000, 17);
    }

    #[test]
    fn log_log_slope_is_minus_the_exponent() {
        let zipf = Zipf::new(10_000, 1.1);
        let mut rng = Rng::for_key(&[5]);
        let mut counts = vec![0f64; 10_000];
        for _ in 0..1_000_000 {
            counts[zipf.sample(&mut rng) as usize] += 1.0;
        }
        // Least-squares slope of log count against log rank over ranks 1..=100.
        let points: Vec<(f64, f64)> = (0..100)
            .map(|i| (((i + 1) as f64).ln(), counts[i].ln()))
            .collect();
        let mx = points.iter().map(|p| p.0).sum::<f64>() / 100.0;
        let my = points.iter().map(|p| p.1).sum::<f64>() / 100.0;
        let slope = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
            / points.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
        assert!((slope + 1.1).abs() < 0.05, "slope {slope}");
    }
}
