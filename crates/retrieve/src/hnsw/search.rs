//! Searching an HNSW graph: a greedy walk down the upper layers to a good entry point, then a
//! best-first search of one layer that keeps the `ef` nearest nodes seen so far and stops when
//! the nearest unexpanded candidate is farther than all of them (Malkov and Yashunin, 2016,
//! algorithms 2 and 5). The same code serves insertions while the graph is built (through the
//! builder's [`Layers`]) and queries of a finished graph.
//!
//! Distances are negated inner products (smaller is nearer), so that both metrics, inner
//! product and cosine over unit vectors, share one ordering.
//!
//! The layer search reads a node's links, marks the unseen neighbours visited and asks the CPU
//! to prefetch all their vectors before scoring the first one, so the memory latency of a
//! neighbourhood is paid about once instead of once per neighbour; it also prefetches the links
//! of the next candidate while the current one is scored.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::kernel::{Choice, Kernel, Portable};

/// Read access to a graph's vectors and links, during the build and after it.
pub(super) trait Layers {
    /// Nodes in the graph.
    fn count(&self) -> usize;
    /// The stored vector of `node`.
    fn vector(&self, node: u32) -> &[f32];
    /// Replaces `out` with the links of `node` on `level` (which the node must have).
    fn links(&self, node: u32, level: usize, out: &mut Vec<u32>);
    /// Starts loading the links of `node` on `level` into the cache.
    fn prefetch_links(&self, node: u32, level: usize);
}

/// The list (count, then links) of `node` on `level`, for either element type of the two link
/// arrays (atomics while building, plain numbers after): `1 + 2M` values per node in `base`;
/// `1 + M` per node and upper layer in `upper`, from `upper_start[node]`, layer 1 first.
#[inline(always)]
pub(super) fn link_list<'a, T>(
    (base, upper, upper_start): (&'a [T], &'a [T], &[u32]),
    width: usize,
    node: u32,
    level: usize,
) -> &'a [T] {
    if level == 0 {
        let stride = 1 + 2 * width;
        &base[node as usize * stride..][..stride]
    } else {
        let stride = 1 + width;
        let start = upper_start[node as usize] as usize + (level - 1) * stride;
        &upper[start..][..stride]
    }
}

/// A node and its distance to the query, ordered by distance (then node, for a total order).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Scored {
    /// Negated inner product with the query.
    pub(super) distance: f32,
    /// The node.
    pub(super) node: u32,
}

impl Eq for Scored {}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.node.cmp(&other.node))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The distance between `query` and `vector`.
#[inline(always)]
pub(super) fn distance<K: Kernel>(kernel: K, query: &[f32], vector: &[f32]) -> f32 {
    -kernel.dot(query, vector)
}

/// Which nodes the current search has reached: a round number per node, so starting a new
/// search costs one increment instead of clearing a flag per node.
struct Visited {
    marks: Vec<u16>,
    round: u16,
}

impl Visited {
    /// Starts a search over a graph of `count` nodes.
    fn start(&mut self, count: usize) {
        if self.marks.len() < count {
            self.marks.resize(count, 0);
        }
        self.round = self.round.wrapping_add(1);
        if self.round == 0 {
            self.marks.fill(0);
            self.round = 1;
        }
    }

    /// Marks `node` visited; true when it was not visited before in this search.
    #[inline(always)]
    fn first_visit(&mut self, node: u32) -> bool {
        let mark = &mut self.marks[node as usize];
        let first = *mark != self.round;
        *mark = self.round;
        first
    }
}

/// The buffers one thread reuses from search to search.
pub(super) struct Scratch {
    visited: Visited,
    candidates: BinaryHeap<Reverse<Scored>>,
    results: BinaryHeap<Scored>,
    links: Vec<u32>,
    fresh: Vec<u32>,
}

impl Scratch {
    /// Buffers for searches over a graph of `count` nodes.
    pub(super) fn new(count: usize) -> Self {
        Self {
            visited: Visited {
                marks: vec![0; count],
                round: 0,
            },
            candidates: BinaryHeap::new(),
            results: BinaryHeap::new(),
            links: Vec::new(),
            fresh: Vec::new(),
        }
    }
}

/// Walks `level` from `from` to a node none of whose links is nearer to `query`.
#[inline(always)]
pub(super) fn greedy<K: Kernel, L: Layers>(
    kernel: K,
    layers: &L,
    query: &[f32],
    from: Scored,
    level: usize,
    scratch: &mut Scratch,
) -> Scored {
    let mut best = from;
    loop {
        layers.links(best.node, level, &mut scratch.links);
        let mut moved = false;
        for &node in &scratch.links {
            let d = distance(kernel, query, layers.vector(node));
            if d < best.distance {
                best = Scored { distance: d, node };
                moved = true;
            }
        }
        if !moved {
            return best;
        }
    }
}

/// The `ef` nodes nearest to `query` that the best-first search of `level` from `entries`
/// reaches, nearest first, into `found`. Every reached node is expanded, but only nodes that
/// `accept` allows enter the result (and the stopping bound), so excluded items are walked
/// through, never returned.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn search_layer<K: Kernel, L: Layers>(
    kernel: K,
    layers: &L,
    query: &[f32],
    entries: &[Scored],
    ef: usize,
    level: usize,
    accept: impl Fn(u32) -> bool,
    scratch: &mut Scratch,
    found: &mut Vec<Scored>,
) {
    let Scratch {
        visited,
        candidates,
        results,
        links,
        fresh,
    } = scratch;
    visited.start(layers.count());
    candidates.clear();
    results.clear();
    for &entry in entries {
        if visited.first_visit(entry.node) {
            candidates.push(Reverse(entry));
            if accept(entry.node) {
                results.push(entry);
                if results.len() > ef {
                    results.pop();
                }
            }
        }
    }
    while let Some(Reverse(current)) = candidates.pop() {
        let bound = results.peek().map_or(f32::INFINITY, |worst| worst.distance);
        if results.len() >= ef && current.distance > bound {
            break;
        }
        if let Some(Reverse(next)) = candidates.peek() {
            layers.prefetch_links(next.node, level);
        }
        layers.links(current.node, level, links);
        fresh.clear();
        for &node in links.iter() {
            if visited.first_visit(node) {
                super::kernel::prefetch(layers.vector(node));
                fresh.push(node);
            }
        }
        for &node in fresh.iter() {
            let d = distance(kernel, query, layers.vector(node));
            let bound = results.peek().map_or(f32::INFINITY, |worst| worst.distance);
            if results.len() < ef || d < bound {
                let scored = Scored { distance: d, node };
                candidates.push(Reverse(scored));
                if accept(node) {
                    results.push(scored);
                    if results.len() > ef {
                        results.pop();
                    }
                }
            }
        }
    }
    found.clear();
    found.extend(results.drain());
    found.sort_unstable();
}

/// One query of a search: its vector, how many results, the candidate list size and which nodes
/// may be returned.
pub(super) struct Request<'q, A> {
    /// The query vector (unit length for cosine).
    pub(super) vector: &'q [f32],
    /// Results wanted.
    pub(super) k: usize,
    /// Candidate list size on the base layer (raised to `k` when smaller).
    pub(super) ef: usize,
    /// Whether a node may enter the results.
    pub(super) accept: A,
}

/// One query's search of a whole graph: the greedy walk from `entry` (which lives on layer
/// `top`) down to layer 1, then the layer-0 search; the nearest `k` accepted nodes end up in
/// `found`, nearest first.
#[inline(always)]
fn nearest<K: Kernel, L: Layers, A: Fn(u32) -> bool>(
    kernel: K,
    layers: &L,
    (entry, top): (u32, usize),
    request: Request<'_, A>,
    scratch: &mut Scratch,
    found: &mut Vec<Scored>,
) {
    let query = request.vector;
    let mut best = Scored {
        distance: distance(kernel, query, layers.vector(entry)),
        node: entry,
    };
    for level in (1..=top).rev() {
        best = greedy(kernel, layers, query, best, level, scratch);
    }
    let ef = request.ef.max(request.k);
    search_layer(
        kernel,
        layers,
        query,
        &[best],
        ef,
        0,
        request.accept,
        scratch,
        found,
    );
    found.truncate(request.k);
}

/// [`nearest`] compiled with AVX-512 enabled, so its kernel calls inline.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn nearest_avx512<L: Layers, A: Fn(u32) -> bool>(
    kernel: super::kernel::Avx512,
    layers: &L,
    entry: (u32, usize),
    request: Request<'_, A>,
    scratch: &mut Scratch,
    found: &mut Vec<Scored>,
) {
    nearest(kernel, layers, entry, request, scratch, found);
}

/// [`nearest`] with the kernel `choice` names.
pub(super) fn nearest_with<L: Layers, A: Fn(u32) -> bool>(
    choice: Choice,
    layers: &L,
    entry: (u32, usize),
    request: Request<'_, A>,
    scratch: &mut Scratch,
    found: &mut Vec<Scored>,
) {
    match choice {
        Choice::Portable => nearest(Portable, layers, entry, request, scratch, found),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Choice::Avx512` is only made where the CPU has AVX-512F.
        Choice::Avx512(kernel) => unsafe {
            nearest_avx512(kernel, layers, entry, request, scratch, found)
        },
    }
}
