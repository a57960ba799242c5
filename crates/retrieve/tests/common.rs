//! Seeded random matrices shared by the integration tests.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// `rows × dim` values drawn uniformly from `[-1, 1)`.
pub fn uniform(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..rows * dim)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect()
}
