//! A small seeded random generator for parameter initialisation.
//!
//! Initial weights must be reproducible from a seed across machines and releases, so the
//! generator is a fixed algorithm (SplitMix64) rather than whatever a general-purpose crate
//! defaults to in a given version.

/// A SplitMix64 generator: fast, statistically sound for initialisation, fully reproducible.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn seed(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `[0, 1)` with 24 random bits.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// A uniform value in `[low, high)`.
    pub fn uniform(&mut self, low: f32, high: f32) -> f32 {
        low + (high - low) * self.next_f32()
    }

    /// Fills `out` with uniform values in `[-bound, bound)`.
    pub fn fill_uniform(&mut self, out: &mut [f32], bound: f32) {
        for v in out {
            *v = self.uniform(-bound, bound);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_values_in_range() {
        let mut a = Rng::seed(7);
        let mut b = Rng::seed(7);
        let mut c = Rng::seed(8);
        let va: Vec<f32> = (0..1000).map(|_| a.uniform(-0.5, 0.5)).collect();
        let vb: Vec<f32> = (0..1000).map(|_| b.uniform(-0.5, 0.5)).collect();
        let vc: Vec<f32> = (0..1000).map(|_| c.uniform(-0.5, 0.5)).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);
        assert!(va.iter().all(|v| (-0.5..0.5).contains(v)));
        let mean = va.iter().sum::<f32>() / 1000.0;
        assert!(mean.abs() < 0.05, "mean {mean}");
    }
}
