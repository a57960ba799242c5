//! A columnar training batch: what the streaming reader yields and models consume.

use crate::KeyedJagged;

/// One batch of samples, columnar: a dense feature matrix, multi-hot sparse features and labels.
///
/// `dense` is row-major with `num_dense` columns (`dense.len() == len * num_dense`); `labels` has
/// one entry per sample (0.0/1.0 for click-style targets, or the raw value for regression).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Number of samples.
    pub len: usize,
    /// Dense features, row-major `[len, num_dense]`.
    pub dense: Vec<f32>,
    /// Number of dense features per sample.
    pub num_dense: usize,
    /// Sparse (id) features.
    pub sparse: KeyedJagged,
    /// One label per sample.
    pub labels: Vec<f32>,
    /// Global index of each sample in its dataset (for exactly-once checks and prediction files).
    pub indices: Vec<u64>,
}

impl Batch {
    /// The dense features of sample `i`.
    pub fn dense_row(&self, i: usize) -> &[f32] {
        &self.dense[i * self.num_dense..(i + 1) * self.num_dense]
    }
}
