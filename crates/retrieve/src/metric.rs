//! The similarity a retrieval ranks by. Two-tower models score with a dot product; cosine is the
//! dot product of unit vectors, so it is implemented by normalising items once and each query
//! before scoring.

use serde::{Deserialize, Serialize};

/// How a query and an item are scored; higher scores rank first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Plain dot product, the score a two-tower model is trained with.
    #[default]
    InnerProduct,
    /// Cosine similarity: the dot product after scaling both vectors to unit length.
    /// A zero vector stays zero and scores 0 against everything.
    Cosine,
}

impl Metric {
    /// The name used in files and messages.
    pub fn name(self) -> &'static str {
        match self {
            Metric::InnerProduct => "inner_product",
            Metric::Cosine => "cosine",
        }
    }
}

/// Scales each `dim`-wide row of `rows` to unit Euclidean length in place; zero rows stay zero.
pub(crate) fn normalize_rows(rows: &mut [f32], dim: usize) {
    for row in rows.chunks_exact_mut(dim) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            let inv = 1.0 / norm;
            row.iter_mut().for_each(|v| *v *= inv);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_makes_unit_rows_and_keeps_zero_rows() {
        let mut rows = vec![3.0, 4.0, 0.0, 0.0];
        normalize_rows(&mut rows, 2);
        assert_eq!(rows, vec![0.6, 0.8, 0.0, 0.0]);
    }
}
