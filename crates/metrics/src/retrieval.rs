//! Top-K retrieval metrics against a user's held-out items.
//!
//! For one user with relevant set `R` and a ranked list `L` (the exact top-K over the whole
//! corpus, seen items excluded):
//! - Recall@K = |L[..K] ∩ R| / |R|, the full-ranking definition behind the published MovieLens
//!   anchors (so a user with more held-out items than K cannot reach 1).
//! - NDCG@K = DCG@K / IDCG@K with binary gains, DCG = Σ 1/log2(rank + 1) over hits, IDCG the
//!   DCG of min(|R|, K) hits at the top.
//! - HitRate@K = 1 if any of L[..K] is relevant.
//!
//! Users without relevant items are skipped. Figures are averaged over users.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// Averages of the retrieval metrics at one cut-off K.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RetrievalMetrics {
    /// Mean Recall@K.
    pub recall: f64,
    /// Mean NDCG@K.
    pub ndcg: f64,
    /// Mean HitRate@K.
    pub hit_rate: f64,
    /// Users averaged over.
    pub users: u64,
}

/// Accumulates per-user metrics at several cut-offs.
#[derive(Debug, Clone)]
pub struct RetrievalAccumulator {
    ks: Vec<usize>,
    sums: Vec<[f64; 3]>,
    users: u64,
}

impl RetrievalAccumulator {
    /// Tracks the cut-offs `ks` (e.g. 10, 50, 100).
    pub fn new(ks: &[usize]) -> Self {
        Self {
            ks: ks.to_vec(),
            sums: vec![[0.0; 3]; ks.len()],
            users: 0,
        }
    }

    /// Adds one user: `ranked` is the retrieved list, best first (at least max K long when the
    /// corpus allows), `relevant` the held-out items.
    pub fn add(&mut self, ranked: &[u64], relevant: &HashSet<u64>) {
        if relevant.is_empty() {
            return;
        }
        self.users += 1;
        for (slot, &k) in self.ks.iter().enumerate() {
            let mut hits = 0usize;
            let mut dcg = 0.0f64;
            for (rank, item) in ranked.iter().take(k).enumerate() {
                if relevant.contains(item) {
                    hits += 1;
                    dcg += 1.0 / ((rank + 2) as f64).log2();
                }
            }
            let ideal_hits = relevant.len().min(k);
            let idcg: f64 = (0..ideal_hits).map(|r| 1.0 / ((r + 2) as f64).log2()).sum();
            let sums = &mut self.sums[slot];
            sums[0] += hits as f64 / relevant.len() as f64;
            sums[1] += dcg / idcg;
            sums[2] += if hits > 0 { 1.0 } else { 0.0 };
        }
    }

    /// Mean metrics per K.
    pub fn finish(&self) -> BTreeMap<usize, RetrievalMetrics> {
        let n = self.users.max(1) as f64;
        self.ks
            .iter()
            .zip(&self.sums)
            .map(|(&k, s)| {
                let m = RetrievalMetrics {
                    recall: s[0] / n,
                    ndcg: s[1] / n,
                    hit_rate: s[2] / n,
                    users: self.users,
                };
                (k, m)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_user() {
        let relevant: HashSet<u64> = [3, 9].into_iter().collect();
        let mut acc = RetrievalAccumulator::new(&[1, 3]);
        acc.add(&[5, 3, 7, 9], &relevant);
        let m = acc.finish();
        // K=1: no hit.
        assert_eq!(m[&1].recall, 0.0);
        assert_eq!(m[&1].hit_rate, 0.0);
        assert_eq!(m[&1].ndcg, 0.0);
        // K=3: item 3 at rank 2 -> recall 1/2, dcg 1/log2(3), idcg 1 + 1/log2(3).
        assert!((m[&3].recall - 0.5).abs() < 1e-12);
        assert_eq!(m[&3].hit_rate, 1.0);
        let dcg = 1.0 / 3f64.log2();
        assert!((m[&3].ndcg - dcg / (1.0 + dcg)).abs() < 1e-12);
    }

    #[test]
    fn users_without_relevant_items_are_skipped_and_perfect_lists_score_one() {
        let mut acc = RetrievalAccumulator::new(&[2]);
        acc.add(&[1, 2], &HashSet::new());
        acc.add(&[1, 2], &[1, 2].into_iter().collect());
        let m = acc.finish()[&2];
        assert_eq!(m.users, 1);
        assert_eq!((m.recall, m.ndcg, m.hit_rate), (1.0, 1.0, 1.0));
    }
}
