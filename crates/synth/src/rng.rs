//! Deterministic randomness: a small counter-based generator and stateless hashes.
//!
//! Every random quantity of a generated dataset is derived from the user's seed and the position
//! of the quantity (chunk index, table, id, user, ...), never from a shared generator, so the
//! output does not depend on how many threads produced it or in which order. The algorithms are
//! implemented here rather than taken from a general-purpose crate so that a dependency upgrade
//! can never silently change the bytes a seed produces.

/// The SplitMix64 increment (the golden ratio in 64-bit fixed point).
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 output function: a bijective, well-avalanching 64-bit mix.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes a key into a 64-bit value that depends on every element of `parts`, in order.
pub fn hash(parts: &[u64]) -> u64 {
    parts.iter().fold(GOLDEN, |h, &p| hash2(h, p))
}

/// Hashes a pair; the fast path for per-id lookups whose first part is precomputed.
#[inline]
pub fn hash2(key: u64, value: u64) -> u64 {
    mix64(key ^ mix64(value.wrapping_add(GOLDEN)))
}

/// An approximately standard normal value from 64 hash bits: the centred, rescaled sum of four
/// 16-bit uniforms (Irwin–Hall), bounded to ±3.46 and cheap enough to evaluate for every id.
#[inline]
pub fn hash_normal(h: u64) -> f64 {
    let sum = (h & 0xFFFF) + ((h >> 16) & 0xFFFF) + ((h >> 32) & 0xFFFF) + (h >> 48);
    // Each part is uniform on {0..65535}: mean 32767.5, variance (65536² - 1) / 12.
    let centred = sum as f64 - 4.0 * 32767.5;
    centred / ((65536.0f64 * 65536.0 - 1.0) / 3.0).sqrt()
}

/// Four independent uniform values of mean 0 and variance 1 from 64 hash bits (16 bits each).
#[inline]
pub fn hash_unit_vector4(h: u64) -> [f64; 4] {
    let scale = 12.0f64.sqrt() / 65536.0;
    std::array::from_fn(|i| (((h >> (16 * i)) & 0xFFFF) as f64 + 0.5 - 32768.0) * scale)
}

/// A SplitMix64 stream: fast, passes BigCrush, and fully determined by its starting state.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A stream for the quantity named by `key` (seed first, then domain and position).
    pub fn for_key(key: &[u64]) -> Rng {
        Rng { state: hash(key) }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix64(self.state)
    }

    /// Uniform on `[0, 1)` with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform on `(0, 1)`: never exactly zero, so its logarithm is finite.
    pub fn uniform_open(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` (`n > 0`), by multiply-high (bias below 2⁻⁶⁴·n, negligible).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Two independent standard normal values, by Marsaglia's polar method: a point uniform in
    /// the unit disc (by rejection from the square, accepted with probability π/4) is scaled
    /// to a normal pair with one logarithm and one square root, without Box–Muller's sine and
    /// cosine.
    #[inline]
    pub fn normal_pair(&mut self) -> (f64, f64) {
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s < 1.0 && s > 0.0 {
                let scale = (-2.0 * s.ln() / s).sqrt();
                return (u * scale, v * scale);
            }
        }
    }

    /// One standard normal value (half of a polar pair; use `normal_pair` in hot loops).
    pub fn normal(&mut self) -> f64 {
        self.normal_pair().0
    }

    /// A standard Gumbel value: adding it to log-weights and taking the top k samples k items
    /// without replacement in proportion to the weights.
    pub fn gumbel(&mut self) -> f64 {
        -(-self.uniform_open().ln()).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_var(values: &[f64]) -> (f64, f64) {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        (mean, var)
    }

    #[test]
    fn streams_are_reproducible_and_keyed() {
        let a: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(Rng::for_key(&[1, 2]), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(Rng::for_key(&[1, 2]), |r, _| Some(r.next_u64()))
            .collect();
        let c: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(Rng::for_key(&[2, 1]), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn normals_have_unit_variance() {
        let mut rng = Rng::for_key(&[7]);
        let values: Vec<f64> = (0..100_000).map(|_| rng.normal()).collect();
        let (mean, var) = mean_var(&values);
        assert!(
            mean.abs() < 0.02 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
        let hashed: Vec<f64> = (0..100_000u64)
            .map(|i| hash_normal(hash(&[3, i])))
            .collect();
        let (mean, var) = mean_var(&hashed);
        assert!(
            mean.abs() < 0.02 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
        let comps: Vec<f64> = (0..50_000u64)
            .flat_map(|i| hash_unit_vector4(hash(&[4, i])))
            .collect();
        let (mean, var) = mean_var(&comps);
        assert!(
            mean.abs() < 0.02 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = Rng::for_key(&[9]);
        let mut seen = [0u32; 7];
        for _ in 0..7_000 {
            seen[rng.below(7) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| (800..1200).contains(&c)), "{seen:?}");
    }
}
