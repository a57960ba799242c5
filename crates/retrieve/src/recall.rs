//! Recall of an approximate index against the exact one: the fraction of the exact top-K items
//! that the approximate search also returns, averaged over sample queries. Run it after a build
//! to choose `expansion_search` and to report what the index delivers.

use crate::error::{Result, RetrieveError};
use crate::index::TopKIndex;

/// The outcome of a recall measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecallReport {
    /// The K measured.
    pub k: usize,
    /// How many queries were measured.
    pub queries: usize,
    /// Mean fraction of the exact top-K found by the approximate index, in `[0, 1]`.
    pub recall: f64,
}

/// Measures recall@`k` of `approximate` against `exact` on `queries` (row-major). Both indexes
/// must have been built from the same embeddings.
pub fn recall_at_k(
    approximate: &dyn TopKIndex,
    exact: &dyn TopKIndex,
    queries: &[f32],
    k: usize,
) -> Result<RecallReport> {
    exact.check_fingerprint(approximate.fingerprint())?;
    let truth = exact.search(queries, k, None)?;
    let found = approximate.search(queries, k, None)?;
    if truth.is_empty() {
        return Err(RetrieveError::shape("recall queries", "no queries given"));
    }
    let mut total = 0.0;
    for query in 0..truth.len() {
        let wanted = truth.items(query);
        let mut got = found.items(query);
        got.sort_unstable();
        let hits = wanted
            .iter()
            .filter(|item| got.binary_search(item).is_ok())
            .count();
        total += hits as f64 / wanted.len().max(1) as f64;
    }
    Ok(RecallReport {
        k,
        queries: truth.len(),
        recall: total / truth.len() as f64,
    })
}

/// Picks `count` evenly spaced rows of a row-major matrix: sample queries when no user vectors
/// are at hand (an item's own vector is a realistic query for "more like this"), and the group
/// centres of the HNSW build's insertion order.
pub fn sample_rows(values: &[f32], dim: usize, count: usize) -> Vec<f32> {
    let rows = values.len() / dim.max(1);
    let count = count.min(rows);
    (0..count)
        .flat_map(|i| {
            let row = i * rows / count;
            values[row * dim..(row + 1) * dim].iter().copied()
        })
        .collect()
}
