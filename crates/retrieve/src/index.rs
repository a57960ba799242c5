//! What every top-K index offers, so serving code can hold either the exact or the approximate
//! index, plus the argument checks both apply before searching.

use crate::embeddings::check_matrix;
use crate::error::{Result, RetrieveError};
use crate::filter::Exclusions;
use crate::fingerprint::Fingerprint;
use crate::topk::{KClamped, TopK};

/// A searchable top-K index over item embeddings.
pub trait TopKIndex {
    /// The vector width queries must have.
    fn dim(&self) -> usize;

    /// The number of indexed items.
    fn len(&self) -> usize;

    /// Whether the index holds no items (never true for a built index).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The fingerprint of the embeddings the index was built from.
    fn fingerprint(&self) -> Fingerprint;

    /// Names the index in messages: its file when it was loaded from one.
    fn source_name(&self) -> String;

    /// The best `k` items for each `dim`-wide row of `queries`, never returning an item that
    /// `exclusions` excludes for that query.
    fn search(&self, queries: &[f32], k: usize, exclusions: Option<&Exclusions>) -> Result<TopK>;

    /// Refuses the index unless it was built from embeddings with fingerprint `expected`
    /// (those of the model about to use it).
    fn check_fingerprint(&self, expected: Fingerprint) -> Result<()> {
        let found = self.fingerprint();
        if found == expected {
            Ok(())
        } else {
            Err(RetrieveError::FingerprintMismatch {
                source_name: self.source_name(),
                expected: expected.to_string(),
                found: found.to_string(),
            })
        }
    }
}

/// A validated search request: the number of queries and the K actually used. Every
/// [`TopKIndex`], in this crate or outside it, checks its arguments the same way.
#[derive(Debug)]
pub struct SearchPlan {
    /// Queries in the batch.
    pub queries: usize,
    /// The K searched: the one asked for, at most the corpus size.
    pub k: usize,
    /// Set when K was reduced to the corpus size.
    pub clamped: Option<KClamped>,
}

/// Checks the arguments of a search over `items` items of width `dim` and clamps K to the corpus.
pub fn plan_search(
    dim: usize,
    items: usize,
    queries: &[f32],
    k: usize,
    exclusions: Option<&Exclusions>,
) -> Result<SearchPlan> {
    if k == 0 {
        return Err(RetrieveError::ZeroK);
    }
    check_matrix("queries", dim, queries)?;
    let count = queries.len() / dim;
    if let Some(exclusions) = exclusions {
        exclusions.check_fits(count, items)?;
    }
    let clamped = (k > items).then_some(KClamped {
        requested: k,
        available: items,
    });
    Ok(SearchPlan {
        queries: count,
        k: k.min(items),
        clamped,
    })
}
