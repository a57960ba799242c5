//! Top-K results and the bounded selection that produces them. Ranking is by score, highest
//! first, with ties broken deterministically by the lower item index.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;

/// One ranked item.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    /// Dense item index.
    pub item: u32,
    /// Similarity score; higher is better.
    pub score: f32,
}

impl Hit {
    /// Orders hits best first: higher score, then lower item index.
    pub fn rank_order(&self, other: &Self) -> Ordering {
        other
            .score
            .partial_cmp(&self.score)
            .unwrap_or(Ordering::Equal)
            .then(self.item.cmp(&other.item))
    }
}

/// A max-heap entry whose greatest element is the *worst* kept hit.
#[derive(Clone, Copy, Debug)]
struct Worst(Hit);

impl PartialEq for Worst {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.rank_order(&other.0)
    }
}

/// Keeps the best `k` hits seen so far for one query.
#[derive(Debug)]
pub(crate) struct Selector {
    k: usize,
    heap: BinaryHeap<Worst>,
}

impl Selector {
    /// An empty selection of at most `k` hits.
    pub(crate) fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 16)),
        }
    }

    /// Offers the scores of items `first_item..first_item + scores.len()`, in increasing item
    /// order after every item offered before; `excluded` is asked only about items good enough
    /// to enter the selection. NaN scores are never selected.
    #[inline]
    pub(crate) fn offer_run(
        &mut self,
        first_item: u32,
        scores: &[f32],
        mut excluded: impl FnMut(u32) -> bool,
    ) {
        let mut items = first_item..;
        let mut iter = scores.iter().zip(&mut items);
        if self.heap.len() < self.k {
            for (&score, item) in iter.by_ref() {
                if !score.is_nan() && !excluded(item) {
                    self.heap.push(Worst(Hit { item, score }));
                    if self.heap.len() == self.k {
                        break;
                    }
                }
            }
        }
        let Some(mut worst) = self.heap.peek_mut().map(|top| top.0.score) else {
            return;
        };
        for (&score, item) in iter {
            // Items arrive in increasing order, so an equal score never beats a kept hit.
            if score > worst && !excluded(item) {
                if let Some(mut top) = self.heap.peek_mut() {
                    *top = Worst(Hit { item, score });
                }
                worst = self.heap.peek().map_or(worst, |top| top.0.score);
            }
        }
    }

    /// The kept hits, best first.
    pub(crate) fn into_sorted(self) -> Vec<Hit> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|w| w.0)
            .collect()
    }
}

/// Merges per-shard best-first lists into the best `k` overall, best first.
pub(crate) fn merge(lists: Vec<Vec<Hit>>, k: usize) -> Vec<Hit> {
    let mut all: Vec<Hit> = lists.into_iter().flatten().collect();
    all.sort_unstable_by(Hit::rank_order);
    all.truncate(k);
    all
}

/// Reported when K exceeds the number of indexed items: every item is returned instead, and the
/// caller may print this note.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KClamped {
    /// The K asked for.
    pub requested: usize,
    /// The number of indexed items, the K actually used.
    pub available: usize,
}

impl fmt::Display for KClamped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "K = {} exceeds the {} indexed items; ranking all of them",
            self.requested, self.available
        )
    }
}

/// Top-K results for a batch of queries, stored flat: query `q`'s hits, best first, are
/// `hits(q)`. A query has fewer than K hits only when exclusions left fewer eligible items
/// (or, for an approximate index, when its graph search found fewer).
#[derive(Clone, Debug, PartialEq)]
pub struct TopK {
    offsets: Vec<usize>,
    hits: Vec<Hit>,
    clamped: Option<KClamped>,
}

impl TopK {
    /// Assembles results from one best-first list per query; indexes kept outside this crate
    /// (a vector database) answer in this form too.
    pub fn from_rows(rows: Vec<Vec<Hit>>, clamped: Option<KClamped>) -> Self {
        let mut offsets = Vec::with_capacity(rows.len() + 1);
        offsets.push(0);
        let mut hits = Vec::with_capacity(rows.iter().map(Vec::len).sum());
        for row in rows {
            hits.extend(row);
            offsets.push(hits.len());
        }
        Self {
            offsets,
            hits,
            clamped,
        }
    }

    /// The number of queries.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether the batch had no queries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The hits of query `query`, best first; empty for a query index out of range.
    pub fn hits(&self, query: usize) -> &[Hit] {
        match self.offsets.get(query..query + 2) {
            Some(&[start, end]) => &self.hits[start..end],
            _ => &[],
        }
    }

    /// The item indices of query `query`, best first.
    pub fn items(&self, query: usize) -> Vec<u32> {
        self.hits(query).iter().map(|hit| hit.item).collect()
    }

    /// Set when K was larger than the corpus and was reduced to it.
    pub fn clamped(&self) -> Option<KClamped> {
        self.clamped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select(k: usize, scores: &[f32], excluded: &[u32]) -> Vec<u32> {
        let mut sel = Selector::new(k);
        let (a, b) = scores.split_at(scores.len() / 2);
        sel.offer_run(0, a, |i| excluded.contains(&i));
        sel.offer_run(a.len() as u32, b, |i| excluded.contains(&i));
        sel.into_sorted().iter().map(|h| h.item).collect()
    }

    #[test]
    fn keeps_best_with_lower_index_winning_ties() {
        let scores = [1.0, 3.0, 3.0, 2.0, 3.0, f32::NAN, 0.5, 2.0];
        assert_eq!(select(3, &scores, &[]), vec![1, 2, 4]);
        assert_eq!(select(4, &scores, &[]), vec![1, 2, 4, 3]);
        assert_eq!(select(4, &scores, &[2]), vec![1, 4, 3, 7]);
        assert_eq!(select(20, &scores, &[0]), vec![1, 2, 4, 3, 7, 6]);
    }

    #[test]
    fn merge_orders_across_shards() {
        let hit = |item, score| Hit { item, score };
        let merged = merge(
            vec![
                vec![hit(5, 2.0), hit(6, 1.0)],
                vec![hit(1, 2.0), hit(2, 0.0)],
            ],
            3,
        );
        assert_eq!(merged, vec![hit(1, 2.0), hit(5, 2.0), hit(6, 1.0)]);
    }

    #[test]
    fn results_by_query() {
        let hit = |item, score| Hit { item, score };
        let topk = TopK::from_rows(vec![vec![hit(1, 1.0)], vec![], vec![hit(2, 0.5)]], None);
        assert_eq!(topk.len(), 3);
        assert_eq!(topk.items(0), vec![1]);
        assert!(topk.hits(1).is_empty());
        assert_eq!(topk.items(2), vec![2]);
        assert!(topk.hits(3).is_empty());
        let note = KClamped {
            requested: 10,
            available: 4,
        };
        assert!(note.to_string().contains("K = 10 exceeds the 4"));
    }
}
