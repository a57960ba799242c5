//! The exact top-K index: scores a block of queries against a tile of items with one matrix
//! product, then keeps each query's best K with a bounded heap. Work is split into (query block,
//! item shard) jobs run on the rayon pool, so a large batch parallelises over query blocks and a
//! small one over item shards; memory stays bounded by one score tile per running job.

use gemm::Parallelism;
use rayon::prelude::*;

use crate::embeddings::ItemEmbeddings;
use crate::error::{Result, RetrieveError};
use crate::filter::Exclusions;
use crate::fingerprint::Fingerprint;
use crate::index::{TopKIndex, plan_search};
use crate::metric::{Metric, normalize_rows};
use crate::topk::{Hit, Selector, TopK, merge};

/// Sizes of the blocks the exact search works on; each running job holds a
/// `query_block × item_tile` float score buffer (default 128 × 8192, 4 MiB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiling {
    /// Queries scored together by one matrix product.
    pub query_block: usize,
    /// Items scored together by one matrix product.
    pub item_tile: usize,
}

impl Default for Tiling {
    fn default() -> Self {
        Self {
            query_block: 128,
            item_tile: 8192,
        }
    }
}

/// Brute-force top-K over all items: exact results, cost linear in the corpus.
#[derive(Clone, Debug)]
pub struct ExactIndex {
    dim: usize,
    items: Vec<f32>,
    metric: Metric,
    fingerprint: Fingerprint,
    tiling: Tiling,
}

impl ExactIndex {
    /// Builds the index from `embeddings` (taken to avoid a copy; normalised for cosine).
    pub fn new(embeddings: ItemEmbeddings, metric: Metric) -> Result<Self> {
        if embeddings.is_empty() {
            return Err(RetrieveError::EmptyCorpus);
        }
        let dim = embeddings.dim();
        let fingerprint = embeddings.fingerprint();
        let mut items = embeddings.values().to_vec();
        drop(embeddings);
        if metric == Metric::Cosine {
            normalize_rows(&mut items, dim);
        }
        Ok(Self {
            dim,
            items,
            metric,
            fingerprint,
            tiling: Tiling::default(),
        })
    }

    /// Changes the block sizes (memory per running job, cache behaviour); both must be ≥ 1.
    pub fn with_tiling(mut self, tiling: Tiling) -> Result<Self> {
        if tiling.query_block == 0 || tiling.item_tile == 0 {
            return Err(RetrieveError::shape(
                "tiling",
                "query_block and item_tile must be at least 1",
            ));
        }
        self.tiling = tiling;
        Ok(self)
    }

    /// The indexed vectors, row `i` for item `i` (normalised when the metric is cosine), so a
    /// caller can search with an item's own vector ("similar items") or export them.
    pub fn values(&self) -> &[f32] {
        &self.items
    }

    /// The vector of item `index`, if it is indexed.
    pub fn item(&self, index: usize) -> Option<&[f32]> {
        self.items.get(index * self.dim..(index + 1) * self.dim)
    }

    /// The similarity the index ranks by.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Scores one job: queries `queries` (row-major) starting at query `first_query`, against
    /// the items of tiles `tiles`; returns each query's best `k`, best first.
    fn run_job(
        &self,
        queries: &[f32],
        first_query: usize,
        tiles: std::ops::Range<usize>,
        k: usize,
        exclusions: Option<&Exclusions>,
    ) -> Vec<Vec<Hit>> {
        let dim = self.dim;
        let rows = queries.len() / dim;
        let mut block = queries.to_vec();
        if self.metric == Metric::Cosine {
            normalize_rows(&mut block, dim);
        }
        let item_count = self.items.len() / dim;
        let tile = self.tiling.item_tile;
        let mut scores = vec![0f32; rows * tile.min(item_count)];
        let mut selectors: Vec<Selector> = (0..rows).map(|_| Selector::new(k)).collect();
        for t in tiles {
            let start = t * tile;
            let width = tile.min(item_count - start);
            let tile_items = &self.items[start * dim..(start + width) * dim];
            let out = &mut scores[..rows * width];
            // SAFETY: `out` is rows × width (row stride `width`), `block` is rows × dim (row
            // stride `dim`) and `tile_items` is width × dim, read as its transpose dim × width
            // (column stride `dim`); all three slices are exactly that long and do not overlap.
            unsafe {
                gemm::gemm(
                    rows,
                    width,
                    dim,
                    out.as_mut_ptr(),
                    1,
                    width as isize,
                    false,
                    block.as_ptr(),
                    1,
                    dim as isize,
                    tile_items.as_ptr(),
                    dim as isize,
                    1,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    Parallelism::None,
                );
            }
            let first_item = start as u32;
            for (row, selector) in selectors.iter_mut().enumerate() {
                let query = first_query + row;
                selector.offer_run(first_item, &out[row * width..(row + 1) * width], |item| {
                    exclusions.is_some_and(|ex| ex.excludes(query, item))
                });
            }
        }
        selectors.into_iter().map(Selector::into_sorted).collect()
    }
}

impl TopKIndex for ExactIndex {
    fn dim(&self) -> usize {
        self.dim
    }

    fn len(&self) -> usize {
        self.items.len() / self.dim
    }

    fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    fn source_name(&self) -> String {
        "in-memory exact index".into()
    }

    fn search(&self, queries: &[f32], k: usize, exclusions: Option<&Exclusions>) -> Result<TopK> {
        let plan = plan_search(self.dim, self.len(), queries, k, exclusions)?;
        let qb = self.tiling.query_block;
        let blocks = plan.queries.div_ceil(qb);
        let tiles = self.len().div_ceil(self.tiling.item_tile);
        let threads = rayon::current_num_threads();
        // Few query blocks cannot keep every thread busy: split the items into shards too.
        let shards = if blocks >= threads {
            1
        } else {
            threads.div_ceil(blocks.max(1)).min(tiles)
        };
        let jobs: Vec<Vec<Vec<Hit>>> = (0..blocks * shards)
            .into_par_iter()
            .map(|job| {
                let (block, shard) = (job / shards, job % shards);
                let first = block * qb;
                let last = (first + qb).min(plan.queries);
                let tile_range = shard * tiles / shards..(shard + 1) * tiles / shards;
                self.run_job(
                    &queries[first * self.dim..last * self.dim],
                    first,
                    tile_range,
                    plan.k,
                    exclusions,
                )
            })
            .collect();
        let mut rows = Vec::with_capacity(plan.queries);
        let mut jobs = jobs.into_iter();
        for _ in 0..blocks {
            // The jobs of one query block, one per shard, each holding one list per query.
            let mut per_shard: Vec<_> = jobs.by_ref().take(shards).map(Vec::into_iter).collect();
            if let [only] = per_shard.as_mut_slice() {
                rows.extend(only);
                continue;
            }
            while let Some(lists) = per_shard
                .iter_mut()
                .map(Iterator::next)
                .collect::<Option<Vec<_>>>()
            {
                rows.push(merge(lists, plan.k));
            }
        }
        Ok(TopK::from_rows(rows, plan.clamped))
    }
}
