//! Zipf-distributed ranks: `P(k) ∝ k^-s` for `k` in `1..=n`, sampled in constant time.
//!
//! Real id features (ads, users, items) are heavy-tailed: a few ids account for most traffic.
//! Up to [`ALIAS_LIMIT`] ids the distribution is tabulated once as [alias
//! tables](alias::AliasTable) (one random number and one lookup per draw, shared by every clone);
//! larger cardinalities use [rejection-inversion](rejection::RejectionInversion), which needs no
//! table. `s = 0` is the uniform distribution.
//!
//! An alias table reads a uniformly random entry, so a table of 100 000 ids misses the cache on
//! most draws. The tabulated distribution is therefore split in two: a small table over the
//! [`HEAD`] most frequent ids plus one "tail" outcome (most of the mass: about 80 % for
//! 100 000 ids at `s = 1.05`, in a table that stays in cache), and a table over the remaining
//! ids, read only when the tail outcome comes up. The mixture is exactly the Zipf distribution.

mod alias;
mod rejection;

use crate::rng::Rng;
use alias::AliasTable;
use rejection::RejectionInversion;
use std::sync::Arc;

/// Largest cardinality sampled from alias tables (8 bytes per id: 32 MiB at the limit).
pub const ALIAS_LIMIT: u64 = 1 << 22;

/// Ids in the small, cache-resident head table (32 KiB).
pub const HEAD: u64 = 1 << 12;

/// Draws scanned together for tail outcomes by [`Zipf::fill`] (positions fit a `u16`).
const TAIL_BLOCK: usize = 4096;

/// How draws are made.
#[derive(Debug, Clone)]
enum Sampler {
    /// `s = 0`.
    Uniform,
    /// `n <= ALIAS_LIMIT`: the head table (ids `0..HEAD`, then the tail outcome if `n > HEAD`)
    /// and the tail table (ids `HEAD..n`; absent when `n <= HEAD`).
    Table(Arc<(AliasTable, Option<AliasTable>)>),
    /// Larger `n`.
    Rejection(RejectionInversion),
}

/// A Zipf distribution over `0..n` (rank `k` is returned as id `k - 1`, so id 0 is the most
/// frequent). Cloning is cheap: clones share the table.
#[derive(Debug, Clone)]
pub struct Zipf {
    n: u64,
    exponent: f64,
    sampler: Sampler,
}

impl Zipf {
    /// The distribution over `0..n` with exponent `exponent`; `n >= 1` and a finite
    /// `exponent >= 0` are the caller's to check (the configurations validate them). Builds the
    /// alias table (O(n)) when `n <= ALIAS_LIMIT`.
    pub fn new(n: u64, exponent: f64) -> Zipf {
        let sampler = if exponent == 0.0 {
            Sampler::Uniform
        } else if n <= ALIAS_LIMIT {
            let head: Vec<f64> = (1..=n.min(HEAD))
                .map(|k| rank_weight(k, exponent))
                .collect();
            let tail: Vec<f64> = (HEAD + 1..=n).map(|k| rank_weight(k, exponent)).collect();
            let tables = if tail.is_empty() {
                (AliasTable::new(&head), None)
            } else {
                let with_tail: Vec<f64> = head.iter().copied().chain([tail.iter().sum()]).collect();
                (AliasTable::new(&with_tail), Some(AliasTable::new(&tail)))
            };
            Sampler::Table(Arc::new(tables))
        } else {
            Sampler::Rejection(RejectionInversion::new(n, exponent))
        };
        Zipf {
            n,
            exponent,
            sampler,
        }
    }

    /// Number of ids, `n`.
    pub fn cardinality(&self) -> u64 {
        self.n
    }

    /// The probability of id `id` (`P(rank id + 1)`), by direct summation; for tests and
    /// reports, not for hot loops.
    pub fn probability(&self, id: u64) -> f64 {
        let norm: f64 = (1..=self.n).map(|k| rank_weight(k, self.exponent)).sum();
        rank_weight(id + 1, self.exponent) / norm
    }

    /// Draws one id.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        match &self.sampler {
            Sampler::Uniform => rng.below(self.n),
            Sampler::Table(tables) => match (tables.0.sample(rng), &tables.1) {
                (HEAD, Some(tail)) => HEAD + tail.sample(rng),
                (id, _) => id,
            },
            Sampler::Rejection(sampler) => sampler.sample(rng),
        }
    }

    /// Fills `out` with independent draws: the batch form for generators' hot loops. The ids
    /// follow the same distribution as [`sample`](Self::sample)'s but consume the stream in
    /// another order (with a head and a tail table, all head draws first, then one tail draw
    /// for each that fell into the tail, in order), which replaces an unpredictable branch per
    /// draw with two straight loops whose table lookups overlap.
    pub fn fill(&self, rng: &mut Rng, out: &mut [u64]) {
        match &self.sampler {
            Sampler::Uniform => out.iter_mut().for_each(|id| *id = rng.below(self.n)),
            Sampler::Table(tables) => {
                let (head, tail) = (&tables.0, &tables.1);
                out.iter_mut().for_each(|id| *id = head.sample(rng));
                if let Some(tail) = tail {
                    // The positions of the tail outcomes first, without a branch (each position
                    // is written, and kept only if it is one), then one tail draw for each.
                    // A block at a time, in order, so the draws keep their order.
                    let mut tails = [0u16; TAIL_BLOCK];
                    for block in out.chunks_mut(TAIL_BLOCK) {
                        let mut count = 0;
                        for (i, &id) in block.iter().enumerate() {
                            tails[count] = i as u16;
                            count += usize::from(id == HEAD);
                        }
                        for &i in &tails[..count] {
                            block[usize::from(i)] = HEAD + tail.sample(rng);
                        }
                    }
                }
            }
            Sampler::Rejection(sampler) => out.iter_mut().for_each(|id| *id = sampler.sample(rng)),
        }
    }
}

/// The unnormalised probability `k^-s` of rank `k`.
fn rank_weight(k: u64, exponent: f64) -> f64 {
    (k as f64).powf(-exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Draws `draws` ids with `sample` and checks each of the first `head` ids' frequency
    /// against its Zipf probability (within 5 standard errors) and that nothing falls outside
    /// `0..n`.
    fn check_shape(
        n: u64,
        exponent: f64,
        draws: usize,
        head: u64,
        sample: impl Fn(&mut Rng) -> u64,
    ) {
        let norm: f64 = (1..=n).map(|k| rank_weight(k, exponent)).sum();
        let mut rng = Rng::for_key(&[n, exponent.to_bits()]);
        let mut counts = vec![0u64; head.min(n) as usize];
        for _ in 0..draws {
            let id = sample(&mut rng);
            assert!(id < n, "id {id} outside 0..{n}");
            if let Some(c) = counts.get_mut(id as usize) {
                *c += 1;
            }
        }
        for id in 0..head.min(n) {
            let p = rank_weight(id + 1, exponent) / norm;
            let expected = p * draws as f64;
            let sd = (draws as f64 * p * (1.0 - p)).sqrt();
            let got = counts[id as usize] as f64;
            assert!(
                (got - expected).abs() < 5.0 * sd + 1.0,
                "n={n} s={exponent} id={id}: {got} draws, expected {expected:.1} ± {sd:.1}"
            );
        }
    }

    const SHAPES: [(u64, f64, usize, u64); 7] = [
        (1000, 1.05, 400_000, 50),
        (100_000, 1.05, 400_000, 20),
        (HEAD + 1, 0.3, 400_000, HEAD + 1),
        (50, 1.0, 200_000, 50),
        (200, 0.5, 200_000, 200),
        (10, 2.5, 100_000, 10),
        (1, 1.2, 1_000, 1),
    ];

    #[test]
    fn frequencies_follow_the_power_law() {
        for (n, s, draws, head) in SHAPES {
            let zipf = Zipf::new(n, s);
            assert!(matches!(zipf.sampler, Sampler::Table(_)));
            check_shape(n, s, draws, head, |rng| zipf.sample(rng));
        }
        let uniform = Zipf::new(17, 0.0);
        check_shape(17, 0.0, 170_000, 17, |rng| uniform.sample(rng));
    }

    #[test]
    fn rejection_inversion_follows_the_power_law_too() {
        for (n, s, draws, head) in SHAPES {
            let sampler = RejectionInversion::new(n, s);
            check_shape(n, s, draws, head, |rng| sampler.sample(rng));
        }
        // Beyond the alias limit `Zipf` switches to rejection-inversion.
        let n = ALIAS_LIMIT * 4;
        let zipf = Zipf::new(n, 1.05);
        assert!(matches!(zipf.sampler, Sampler::Rejection(_)));
        check_shape(n, 1.05, 400_000, 20, |rng| zipf.sample(rng));
    }

    #[test]
    fn head_and_tail_tables_meet_without_a_seam() {
        // The ids on either side of the head/tail boundary are drawn as often as Zipf says.
        let (n, s, draws) = (3 * HEAD, 0.4, 3_000_000);
        let zipf = Zipf::new(n, s);
        let mut rng = Rng::for_key(&[6]);
        let (mut before, mut after) = (0u64, 0u64);
        for _ in 0..draws {
            match zipf.sample(&mut rng) {
                id if (HEAD - 64..HEAD).contains(&id) => before += 1,
                id if (HEAD..HEAD + 64).contains(&id) => after += 1,
                _ => {}
            }
        }
        let mass = |ids: std::ops::Range<u64>| ids.map(|id| zipf.probability(id)).sum::<f64>();
        for (got, p) in [
            (before, mass(HEAD - 64..HEAD)),
            (after, mass(HEAD..HEAD + 64)),
        ] {
            let expected = p * draws as f64;
            let sd = (draws as f64 * p * (1.0 - p)).sqrt();
            assert!(
                (got as f64 - expected).abs() < 5.0 * sd,
                "{got} draws, expected {expected:.0} ± {sd:.0}"
            );
        }
    }

    #[test]
    fn batch_draws_follow_the_power_law_too() {
        for (n, s, draws, head) in SHAPES {
            let zipf = Zipf::new(n, s);
            let mut batch = vec![0u64; draws];
            zipf.fill(&mut Rng::for_key(&[n, 1]), &mut batch);
            let next = std::cell::Cell::new(0);
            check_shape(n, s, draws, head, |_| {
                next.set(next.get() + 1);
                batch[next.get() - 1]
            });
        }
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

    #[test]
    fn clones_share_the_table_and_draw_alike() {
        let a = Zipf::new(1000, 1.05);
        let b = a.clone();
        if let (Sampler::Table(x), Sampler::Table(y)) = (&a.sampler, &b.sampler) {
            assert!(Arc::ptr_eq(x, y));
        } else {
            panic!("expected alias tables");
        }
        let (mut r1, mut r2) = (Rng::for_key(&[1]), Rng::for_key(&[1]));
        assert!((0..100).all(|_| a.sample(&mut r1) == b.sample(&mut r2)));
    }
}
