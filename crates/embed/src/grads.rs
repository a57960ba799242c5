//! Turning the gradient of pooled outputs into one gradient per touched row.
//!
//! Pooling is linear, so the gradient of row `r` is the sum, over every occurrence of `r` in
//! the batch, of the occurrence's coefficient (its weight, divided by the bag length under mean
//! pooling) times the gradient of the pooled output it went into. Occurrences are sorted by
//! (row, position in the batch) to find the distinct rows, and each row sums its occurrences
//! in batch order, so duplicates are combined into one gradient, the result never depends on
//! the thread count, and only a `[touched rows, dim]` buffer is ever built — never one the
//! size of the table.

use cascade_core::KeyedJagged;
use std::cell::Cell;

use crate::collection::PREFETCH_AHEAD;
use crate::config::Pooling;
use crate::storage::{axpy, prefetch_span};
use crate::table::EmbeddingTable;

/// The combined gradient of every row a batch touched in one table.
#[derive(Debug, Clone, PartialEq)]
pub struct RowGradients {
    /// The table's name.
    pub table: String,
    /// Touched row indices, ascending and distinct.
    pub rows: Vec<u64>,
    /// `rows.len() * dim` values: the gradient of each touched row, in the order of `rows`.
    pub values: Vec<f32>,
}

/// Where one feature of a batch feeds a table: its position among the batch's keys and its
/// first column in the pooled output.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FeatureFeed {
    pub(crate) key: usize,
    pub(crate) column: usize,
}

/// Reusable buffers for one table's gradient accumulation.
#[derive(Debug, Clone, Default)]
pub(crate) struct GradWorkspace {
    /// `(row, occurrence)` pairs, sorted before summing.
    keys: Vec<(usize, usize)>,
    /// Per occurrence: offset of its pooled gradient in the output gradient, and coefficient.
    sources: Vec<(usize, f32)>,
    /// Per occurrence: the index of its row in `rows`, and whether it is the row's first
    /// occurrence in batch order (which sets the row's gradient rather than adding to it).
    target: Vec<(usize, bool)>,
    /// Touched rows, ascending.
    pub(crate) rows: Vec<usize>,
    /// Their gradients, `rows.len() * dim`.
    pub(crate) values: Vec<f32>,
    /// One row of scratch for the optimizer's dequantised copy.
    pub(crate) scratch: Vec<f32>,
}

thread_local! {
    /// The calling thread's workspace, reused from table to table and step to step: one per
    /// thread rather than one per table, whose buffers held the touched rows of every table
    /// at once (a tenth of the peak memory of a DLRM with small tables and multi-hot bags).
    static WORKSPACE: Cell<GradWorkspace> = Cell::new(GradWorkspace::default());
}

impl GradWorkspace {
    /// Runs `f` on this thread's workspace. The workspace is taken out for the call, so a
    /// nested call on the same thread (Rayon runs other tasks while it waits) gets a fresh one
    /// instead of sharing it.
    pub(crate) fn with_thread_local<R>(f: impl FnOnce(&mut GradWorkspace) -> R) -> R {
        let mut ws = WORKSPACE.take();
        let result = f(&mut ws);
        WORKSPACE.set(ws);
        result
    }

    /// Fills `rows` and `values` with the combined row gradients of `table` given the batch
    /// `kj`, the features that feed it, and `grad`, the `[batch, width]` gradient of the
    /// pooled output. The batch's ids must already have been checked against the table.
    #[inline]
    pub(crate) fn accumulate(
        &mut self,
        table: &EmbeddingTable,
        feeds: &[FeatureFeed],
        kj: &KeyedJagged,
        grad: &[f32],
        width: usize,
    ) {
        let (batch, ids, offsets, weights) =
            (kj.batch_size(), kj.ids(), kj.offsets(), kj.weights());
        let mean = table.config().pooling == Pooling::Mean;
        self.keys.clear();
        self.sources.clear();
        for feed in feeds {
            for sample in 0..batch {
                let bag = feed.key * batch + sample;
                let (start, end) = (offsets[bag], offsets[bag + 1]);
                let scale = if mean && end > start {
                    1.0 / (end - start) as f32
                } else {
                    1.0
                };
                let source = sample * width + feed.column;
                for i in start..end {
                    let coefficient = weights.map_or(scale, |w| w[i] * scale);
                    self.keys
                        .push((table.row_of_checked(ids[i]), self.sources.len()));
                    self.sources.push((source, coefficient));
                }
            }
        }
        // Sorting finds the distinct rows; the gradients are then read in batch order (one
        // forward walk through the output gradient) and scattered into the small per-row
        // buffer, which stays in cache. Each row still sums its occurrences in batch order.
        self.keys.sort_unstable();
        let dim = table.dim();
        self.rows.clear();
        self.target.resize(self.sources.len(), (0, false));
        for &(row, occurrence) in &self.keys {
            // Keys are sorted by occurrence within a row, so a row's first key is its first
            // occurrence in batch order.
            let first = self.rows.last() != Some(&row);
            if first {
                self.rows.push(row);
            }
            self.target[occurrence] = (self.rows.len() - 1, first);
        }
        // Every row's values are set by its first occurrence before any other adds to them,
        // so the buffer is not cleared (at 1-10 ids per bag, clearing it was 4 % of a DLRM
        // step).
        self.values.resize(self.rows.len() * dim, 0.0);
        for (k, (&(source, coefficient), &(target, first))) in
            self.sources.iter().zip(&self.target).enumerate()
        {
            // Consecutive occurrences are a whole output row apart, too far for the hardware
            // prefetcher to follow.
            if let Some(&(ahead, _)) = self.sources.get(k + PREFETCH_AHEAD) {
                prefetch_span(&grad[ahead..ahead + dim]);
            }
            let (src, dst) = (
                &grad[source..source + dim],
                &mut self.values[target * dim..(target + 1) * dim],
            );
            if first {
                for (d, &g) in dst.iter_mut().zip(src) {
                    *d = coefficient * g;
                }
            } else {
                axpy(coefficient, src, dst);
            }
        }
        self.scratch.resize(dim, 0.0);
    }
}
