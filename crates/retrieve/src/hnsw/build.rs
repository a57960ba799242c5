//! Building an HNSW graph in parallel (Malkov and Yashunin, 2016, algorithms 1 and 4): each node
//! draws a top layer from a geometric distribution, walks greedily down to it, then on each of
//! its layers searches `efConstruction` candidates, keeps up to M of them chosen by the
//! diversity heuristic (a candidate is dropped when a kept one is nearer to it than the new node
//! is), and links both ways; a neighbour whose list is full re-chooses among its links plus the
//! new node. Links hold up to M nodes on the upper layers and 2M on the base layer.
//!
//! Every thread of the rayon pool takes the next node in insertion order as soon as it is free,
//! so the graph grows in the order [`super::order::insertion_order`] chose. Link lists are
//! atomics: a list is written under a lock (one of [`LOCK_STRIPES`], chosen by node), read
//! without one, and a reader racing a writer sees old or new node numbers, all valid. Because
//! insertions interleave, two builds over the same vectors may differ slightly.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::Relaxed};

use super::kernel::{Choice, Kernel, Portable};
use super::search::{Layers, Scored, Scratch, distance, greedy, link_list, search_layer};
use crate::error::{Result, RetrieveError};

/// Locks guarding link lists; node `n` uses lock `n % LOCK_STRIPES`.
const LOCK_STRIPES: usize = 4096;

/// No node's top layer goes above this (a million nodes at M = 16 reach about 5).
const MAX_LEVEL: usize = 15;

/// Fixed seed of the layer draws, so the same items get the same layers in every build.
const LEVEL_SEED: u64 = 0x5eed_1e7e_15ca_de00;

/// The finished graph, in the arrays the saved file holds.
pub(super) struct Built {
    /// Top layer of each node.
    pub(super) levels: Vec<u8>,
    /// Where each node's upper-layer lists start in `upper` (`u32::MAX` for base-only nodes).
    pub(super) upper_start: Vec<u32>,
    /// Base-layer lists, `1 + 2M` values per node: the count, then the links.
    pub(super) base: Vec<u32>,
    /// Upper-layer lists, `1 + M` values per node and layer above 0, layer 1 first.
    pub(super) upper: Vec<u32>,
    /// The node searches start from, and its top layer.
    pub(super) entry: (u32, usize),
}

/// A graph being built over `vectors`, rows in node order.
pub(super) struct Builder<'a> {
    vectors: &'a [f32],
    dim: usize,
    width: usize,
    ef: usize,
    levels: Vec<u8>,
    upper_start: Vec<u32>,
    base: Vec<AtomicU32>,
    upper: Vec<AtomicU32>,
    locks: Vec<Mutex<()>>,
    entry: Mutex<(u32, usize)>,
}

/// The top layer of the node of item `item`: `floor(-ln(u) / ln(M))` for a uniform `u` drawn
/// from a hash of the item, the distribution HNSW prescribes.
fn level_of(item: u32, width: usize) -> u8 {
    let mut bits = LEVEL_SEED ^ u64::from(item);
    // SplitMix64's finaliser.
    bits = (bits ^ (bits >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    bits = (bits ^ (bits >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    bits ^= bits >> 31;
    let uniform = ((bits >> 11) + 1) as f64 / (1u64 << 53) as f64;
    let level = (-uniform.ln() / (width as f64).ln()).floor();
    level.min(MAX_LEVEL as f64) as u8
}

impl<'a> Builder<'a> {
    /// An empty graph over `vectors` (`dim` wide, in node order; node `n` holds item
    /// `labels[n]`), with M = `width` and efConstruction = `ef`.
    pub(super) fn new(
        vectors: &'a [f32],
        dim: usize,
        labels: &[u32],
        width: usize,
        ef: usize,
    ) -> Result<Self> {
        let levels: Vec<u8> = labels.iter().map(|&item| level_of(item, width)).collect();
        let mut upper_start = Vec::with_capacity(levels.len());
        let mut upper_len = 0usize;
        for &level in &levels {
            if level == 0 {
                upper_start.push(u32::MAX);
            } else {
                let start = u32::try_from(upper_len).ok().filter(|&s| s != u32::MAX);
                upper_start.push(start.ok_or_else(|| {
                    RetrieveError::shape("HNSW graph", "upper layers exceed 2^32 links")
                })?);
                upper_len += usize::from(level) * (1 + width);
            }
        }
        let entry_level = levels.first().map_or(0, |&l| usize::from(l));
        Ok(Self {
            vectors,
            dim,
            width,
            ef,
            base: (0..levels.len() * (1 + 2 * width))
                .map(|_| AtomicU32::new(0))
                .collect(),
            upper: (0..upper_len).map(|_| AtomicU32::new(0)).collect(),
            levels,
            upper_start,
            locks: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            entry: Mutex::new((0, entry_level)),
        })
    }

    /// Inserts every node but the first (the initial entry point) on all threads of the rayon
    /// pool, then returns the graph.
    pub(super) fn build(self, choice: Choice) -> Built {
        let next = AtomicUsize::new(1);
        let count = self.levels.len();
        rayon::broadcast(|_| {
            let mut scratch = Scratch::new(count);
            loop {
                let node = next.fetch_add(1, Relaxed);
                if node >= count {
                    break;
                }
                let node = node as u32;
                match choice {
                    Choice::Portable => self.insert(Portable, node, &mut scratch),
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: `Choice::Avx512` is only made where the CPU has AVX-512F.
                    Choice::Avx512(kernel) => unsafe {
                        self.insert_avx512(kernel, node, &mut scratch)
                    },
                }
            }
        });
        let entry = *lock(&self.entry);
        Built {
            levels: self.levels,
            upper_start: self.upper_start,
            base: self.base.into_iter().map(AtomicU32::into_inner).collect(),
            upper: self.upper.into_iter().map(AtomicU32::into_inner).collect(),
            entry,
        }
    }

    /// [`Self::insert`] compiled with AVX-512 enabled, so its kernel calls inline.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn insert_avx512(&self, kernel: super::kernel::Avx512, node: u32, scratch: &mut Scratch) {
        self.insert(kernel, node, scratch);
    }

    /// Links `node` into the graph.
    #[inline(always)]
    fn insert<K: Kernel>(&self, kernel: K, node: u32, scratch: &mut Scratch) {
        let query = self.vector(node);
        let level = usize::from(self.levels[node as usize]);
        let (entry, top) = *lock(&self.entry);
        let mut best = Scored {
            distance: distance(kernel, query, self.vector(entry)),
            node: entry,
        };
        for layer in (level + 1..=top).rev() {
            best = greedy(kernel, self, query, best, layer, scratch);
        }
        let mut entries = vec![best];
        let mut found = Vec::with_capacity(self.ef);
        let mut chosen = Vec::with_capacity(self.width);
        for layer in (0..=level.min(top)).rev() {
            search_layer(
                kernel,
                self,
                query,
                &entries,
                self.ef,
                layer,
                |_| true,
                scratch,
                &mut found,
            );
            found.retain(|s| s.node != node);
            self.select(kernel, &found, self.width, &mut chosen);
            {
                let _guard = lock(&self.locks[node as usize % LOCK_STRIPES]);
                let list = self.list(node, layer);
                for (slot, s) in list[1..].iter().zip(&chosen) {
                    slot.store(s.node, Relaxed);
                }
                list[0].store(chosen.len() as u32, Relaxed);
            }
            for s in &chosen {
                self.connect(kernel, s.node, Scored { node, ..*s }, layer);
            }
            std::mem::swap(&mut entries, &mut found);
        }
        if level > top {
            let mut entry = lock(&self.entry);
            if level > entry.1 {
                *entry = (node, level);
            }
        }
    }

    /// The diversity heuristic: from `candidates` (nearest first, distances to the node being
    /// linked), keeps up to `keep`, skipping any candidate nearer to an already kept one than to
    /// that node.
    #[inline(always)]
    fn select<K: Kernel>(
        &self,
        kernel: K,
        candidates: &[Scored],
        keep: usize,
        out: &mut Vec<Scored>,
    ) {
        out.clear();
        for &candidate in candidates {
            if out.len() >= keep {
                break;
            }
            let vector = self.vector(candidate.node);
            if out
                .iter()
                .all(|kept| distance(kernel, vector, self.vector(kept.node)) >= candidate.distance)
            {
                out.push(candidate);
            }
        }
    }

    /// Adds `new` (scored against `node`) to the links of `node` on `layer`, re-choosing them
    /// with the heuristic when the list is full.
    #[inline(always)]
    fn connect<K: Kernel>(&self, kernel: K, node: u32, new: Scored, layer: usize) {
        let _guard = lock(&self.locks[node as usize % LOCK_STRIPES]);
        let list = self.list(node, layer);
        let capacity = list.len() - 1;
        let count = (list[0].load(Relaxed) as usize).min(capacity);
        if count < capacity {
            list[1 + count].store(new.node, Relaxed);
            list[0].store(count as u32 + 1, Relaxed);
            return;
        }
        let base = self.vector(node);
        let mut pool: Vec<Scored> = list[1..=count]
            .iter()
            .map(|slot| {
                let other = slot.load(Relaxed);
                Scored {
                    distance: distance(kernel, base, self.vector(other)),
                    node: other,
                }
            })
            .collect();
        pool.push(new);
        pool.sort_unstable();
        let mut kept = Vec::with_capacity(capacity);
        self.select(kernel, &pool, capacity, &mut kept);
        for (slot, s) in list[1..].iter().zip(&kept) {
            slot.store(s.node, Relaxed);
        }
        list[0].store(kept.len() as u32, Relaxed);
    }

    /// The list (count, then links) of `node` on `layer`.
    fn list(&self, node: u32, layer: usize) -> &[AtomicU32] {
        let arrays = (&self.base[..], &self.upper[..], &self.upper_start[..]);
        link_list(arrays, self.width, node, layer)
    }
}

impl Layers for Builder<'_> {
    fn count(&self) -> usize {
        self.levels.len()
    }

    #[inline(always)]
    fn vector(&self, node: u32) -> &[f32] {
        &self.vectors[node as usize * self.dim..][..self.dim]
    }

    #[inline(always)]
    fn links(&self, node: u32, level: usize, out: &mut Vec<u32>) {
        let list = self.list(node, level);
        let count = (list[0].load(Relaxed) as usize).min(list.len() - 1);
        out.clear();
        out.extend(list[1..=count].iter().map(|slot| slot.load(Relaxed)));
    }

    #[inline(always)]
    fn prefetch_links(&self, node: u32, level: usize) {
        super::kernel::prefetch(self.list(node, level));
    }
}

/// Takes a lock; a panic elsewhere while holding it leaves plain numbers that are still valid.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_follow_the_geometric_distribution() {
        let width = 16;
        let levels: Vec<u8> = (0..100_000).map(|item| level_of(item, width)).collect();
        let above = |l: u8| levels.iter().filter(|&&x| x >= l).count() as f64 / 1e5;
        // P(level >= l) = M^-l.
        assert!((above(1) - 1.0 / 16.0).abs() < 0.005, "{}", above(1));
        assert!((above(2) - 1.0 / 256.0).abs() < 0.001, "{}", above(2));
        assert_eq!(
            levels,
            (0..100_000)
                .map(|item| level_of(item, width))
                .collect::<Vec<_>>()
        );
    }
}
