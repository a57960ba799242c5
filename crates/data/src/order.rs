//! The global sample order of one epoch: a pure function of the shard sizes, the shuffle settings
//! and the epoch number, so every rank of every run (whatever its world size) agrees on it.
//!
//! Shuffling is shard-block shuffling, in the spirit of Mosaic's `py1b`: the shards are put in a
//! random order, their samples are laid end to end in that order (the *stream*), and the stream is
//! cut into windows of `window` samples whose contents are shuffled. A window touches only the few
//! shards that overlap it, so a reader holds a handful of shards at a time and decompresses each
//! shard once per epoch, while samples still mix across shard boundaries. Both the shard order and
//! every window's permutation are seeded by `(seed, epoch)`, so each epoch has a new order and the
//! same seed replays it.
//!
//! Samples are named by their *global index*: position in the dataset's index order (shard 0's
//! samples first). The order maps a *position* in the epoch (0..total) to a global index.

use rand_core::RngCore;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// How an epoch's order is derived: no shuffle (index order), or a seeded shard-block shuffle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShuffleConfig {
    /// Shuffle at all; when false every epoch reads the samples in index order.
    pub shuffle: bool,
    /// Seed of every epoch's shuffle.
    pub seed: u64,
    /// Samples per shuffle window; larger mixes more but keeps more shards resident.
    pub window: u64,
}

impl Default for ShuffleConfig {
    /// Shuffled with seed 0 and Mosaic's default block of 2^18 samples.
    fn default() -> Self {
        Self {
            shuffle: true,
            seed: 0,
            window: 1 << 18,
        }
    }
}

/// One epoch's order over a dataset's shards.
#[derive(Debug, Clone)]
pub(crate) struct EpochOrder {
    /// Shard ids (index order numbers) in stream order.
    shard_order: Vec<usize>,
    /// `stream_start[k]` is the stream position where `shard_order[k]` begins; one extra entry
    /// holds the total.
    stream_start: Vec<u64>,
    /// Global index of each shard's first sample, by shard id.
    global_base: Vec<u64>,
    window: u64,
    shuffle: bool,
    seed: u64,
    epoch: u64,
}

/// Mixes `(seed, epoch, stream)` into one 64-bit RNG seed (SplitMix64 finalizer over each word),
/// so that nearby inputs give unrelated streams.
fn mix(seed: u64, epoch: u64, stream: u64) -> u64 {
    let mut h = 0x243F_6A88_85A3_08D3u64;
    for word in [seed, epoch, stream] {
        h ^= word;
        h = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
        h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h ^= h >> 31;
    }
    h
}

/// A uniform integer in `0..bound` (`bound > 0`) without modulo bias (Lemire's rejection method).
fn below(rng: &mut Xoshiro256PlusPlus, bound: u64) -> u64 {
    let threshold = bound.wrapping_neg() % bound;
    loop {
        let product = u128::from(rng.next_u64()) * u128::from(bound);
        if (product as u64) >= threshold {
            return (product >> 64) as u64;
        }
    }
}

/// Fisher–Yates shuffle driven by [`below`], so the permutation depends only on the seed.
fn shuffle<T>(items: &mut [T], rng: &mut Xoshiro256PlusPlus) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

impl EpochOrder {
    /// The order of `epoch` over shards of `shard_sizes` samples (index order).
    pub(crate) fn new(shard_sizes: &[u64], config: &ShuffleConfig, epoch: u64) -> EpochOrder {
        let mut global_base = Vec::with_capacity(shard_sizes.len());
        let mut total = 0u64;
        for &n in shard_sizes {
            global_base.push(total);
            total += n;
        }
        let mut shard_order: Vec<usize> = (0..shard_sizes.len()).collect();
        if config.shuffle {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(config.seed, epoch, u64::MAX));
            shuffle(&mut shard_order, &mut rng);
        }
        let mut stream_start = Vec::with_capacity(shard_order.len() + 1);
        let mut at = 0u64;
        for &s in &shard_order {
            stream_start.push(at);
            at += shard_sizes[s];
        }
        stream_start.push(at);
        EpochOrder {
            shard_order,
            stream_start,
            global_base,
            window: config.window.max(1),
            shuffle: config.shuffle,
            seed: config.seed,
            epoch,
        }
    }

    /// Samples in the epoch.
    pub(crate) fn total(&self) -> u64 {
        *self.stream_start.last().unwrap_or(&0)
    }

    /// Number of shuffle windows.
    #[cfg(test)]
    pub(crate) fn num_windows(&self) -> u64 {
        self.total().div_ceil(self.window)
    }

    /// The window holding epoch position `pos`.
    pub(crate) fn window_of(&self, pos: u64) -> u64 {
        pos / self.window
    }

    /// Epoch positions covered by window `w`.
    pub(crate) fn window_range(&self, w: u64) -> Range<u64> {
        let start = (w * self.window).min(self.total());
        start..(start + self.window).min(self.total())
    }

    /// Shard ids whose samples fall in stream positions `range` (the shards window positions map
    /// into), in stream order.
    pub(crate) fn shards_in(&self, range: Range<u64>) -> impl Iterator<Item = usize> + '_ {
        // Index of the stream slot holding `pos`: the last start <= pos (empty shards skipped).
        let slot = |pos: u64| self.stream_start.partition_point(|&s| s <= pos) - 1;
        let slots = if range.is_empty() {
            0..0
        } else {
            slot(range.start)..slot(range.end - 1) + 1
        };
        slots
            .filter(|&k| self.stream_start[k] < self.stream_start[k + 1])
            .map(|k| self.shard_order[k])
    }

    /// Global indices of window `w`'s samples, in the epoch's order.
    pub(crate) fn window_samples(&self, w: u64) -> Vec<u64> {
        let range = self.window_range(w);
        let mut out = Vec::with_capacity((range.end - range.start) as usize);
        let mut k = self
            .stream_start
            .partition_point(|&s| s <= range.start)
            .saturating_sub(1);
        let mut pos = range.start;
        while pos < range.end {
            let shard_end = self.stream_start[k + 1];
            let take_end = shard_end.min(range.end);
            let shard = self.shard_order[k];
            let base = self.global_base[shard] + (pos - self.stream_start[k]);
            out.extend(base..base + (take_end - pos));
            pos = take_end;
            k += 1;
        }
        if self.shuffle {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(self.seed, self.epoch, w));
            shuffle(&mut out, &mut rng);
        }
        out
    }

    /// The shard holding global index `g` and the sample's position within it.
    pub(crate) fn locate(&self, g: u64) -> (usize, usize) {
        // The last shard starting at or before `g`: empty shards share their successor's base
        // and come before it, so they are never chosen.
        let s = self.global_base.partition_point(|&b| b <= g) - 1;
        (s, (g - self.global_base[s]) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(sizes: &[u64], shuffle: bool, seed: u64, window: u64, epoch: u64) -> Vec<u64> {
        let o = EpochOrder::new(
            sizes,
            &ShuffleConfig {
                shuffle,
                seed,
                window,
            },
            epoch,
        );
        (0..o.num_windows())
            .flat_map(|w| o.window_samples(w))
            .collect()
    }

    #[test]
    fn unshuffled_is_index_order() {
        assert_eq!(order(&[3, 0, 2], false, 1, 2, 0), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn shuffled_is_a_permutation_that_changes_per_epoch_and_repeats_per_seed() {
        let sizes = [100, 37, 0, 250, 13];
        let a = order(&sizes, true, 7, 64, 0);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..400).collect::<Vec<_>>());
        assert_eq!(a, order(&sizes, true, 7, 64, 0));
        assert_ne!(a, order(&sizes, true, 7, 64, 1));
        assert_ne!(a, order(&sizes, true, 8, 64, 0));
    }

    #[test]
    fn windows_touch_only_overlapping_shards() {
        let sizes = [10, 10, 10, 10];
        let o = EpochOrder::new(
            &sizes,
            &ShuffleConfig {
                shuffle: true,
                seed: 3,
                window: 15,
            },
            2,
        );
        for w in 0..o.num_windows() {
            let shards: Vec<usize> = o.shards_in(o.window_range(w)).collect();
            for g in o.window_samples(w) {
                assert!(
                    shards.contains(&o.locate(g).0),
                    "window {w} sample {g} outside {shards:?}"
                );
            }
            assert!(shards.len() <= 3);
        }
    }

    #[test]
    fn locate_skips_empty_shards() {
        let o = EpochOrder::new(&[2, 0, 0, 3], &ShuffleConfig::default(), 0);
        assert_eq!(o.locate(1), (0, 1));
        assert_eq!(o.locate(2), (3, 0));
        assert_eq!(o.locate(4), (3, 2));
    }
}
