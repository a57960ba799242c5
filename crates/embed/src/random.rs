//! Deterministic bit mixing and random numbers for row initialisation and id hashing.
//!
//! Every row draws its initial values from its own generator, seeded from the table seed and
//! the row index, so a table's initial contents do not depend on how many threads built it.

/// The SplitMix64 finaliser: a bijective 64-bit avalanche mix (every input bit flips about
/// half the output bits), used to hash ids and to derive per-row seeds.
pub(crate) fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// FNV-1a over a string, to fold a table's name into its seed.
pub(crate) fn hash_name(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A SplitMix64 stream: small, fast and good enough for initial weights.
pub(crate) struct SplitMix(u64);

impl SplitMix {
    /// The stream for one row of a table.
    pub(crate) fn for_row(table_seed: u64, row: u64) -> Self {
        SplitMix(mix64(
            table_seed ^ mix64(row.wrapping_add(0x9e37_79b9_7f4a_7c15)),
        ))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[-bound, bound)`.
    pub(crate) fn uniform(&mut self, bound: f32) -> f32 {
        ((self.next_f64() * 2.0 - 1.0) * f64::from(bound)) as f32
    }

    /// Standard normal, by the Box–Muller transform.
    pub(crate) fn normal(&mut self) -> f32 {
        let u1 = 1.0 - self.next_f64(); // in (0, 1], so the log is finite
        let u2 = self.next_f64();
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let draw = |seed, row| {
            let mut r = SplitMix::for_row(seed, row);
            (0..4).map(|_| r.uniform(1.0)).collect::<Vec<f32>>()
        };
        let (a, b, c, d) = (draw(1, 7), draw(1, 7), draw(1, 8), draw(2, 7));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_ne!(hash_name("a"), hash_name("b"));
    }

    #[test]
    fn distributions_have_the_right_moments() {
        let mut r = SplitMix::for_row(42, 0);
        let n = 100_000;
        let (mut s, mut s2, mut max) = (0.0f64, 0.0f64, 0.0f32);
        for _ in 0..n {
            let u = r.uniform(0.5);
            max = max.max(u.abs());
            s += f64::from(u);
            s2 += f64::from(u) * f64::from(u);
        }
        assert!(max <= 0.5);
        assert!((s / n as f64).abs() < 0.01);
        assert!((s2 / n as f64 - 0.25 / 3.0).abs() < 0.005); // variance of U(-a, a) is a^2/3
        let (mut s, mut s2) = (0.0f64, 0.0f64);
        for _ in 0..n {
            let z = f64::from(r.normal());
            s += z;
            s2 += z * z;
        }
        assert!((s / n as f64).abs() < 0.02);
        assert!((s2 / n as f64 - 1.0).abs() < 0.02);
    }
}
