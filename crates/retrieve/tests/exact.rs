//! The exact index against a naive oracle: plain and filtered searches, ties, tiling and
//! sharding, K larger than the corpus, and refused arguments.

mod common;

use cascade_retrieve::{
    ExactIndex, Exclusions, ItemEmbeddings, Metric, RetrieveError, Tiling, TopKIndex,
};
use common::uniform;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// `rows × dim` small integers in `[-2, 2]`: every dot product is exact in f32 whatever the
/// summation order, and ties are frequent.
pub fn small_integers(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..rows * dim)
        .map(|_| rng.random_range(-2i32..=2) as f32)
        .collect()
}

/// Top-`k` by naive loops: score every item, drop excluded ones, sort by score then index.
pub fn naive_topk(
    items: &[f32],
    query: &[f32],
    k: usize,
    excluded: impl Fn(u32) -> bool,
) -> Vec<(u32, f32)> {
    let dim = query.len();
    let mut scored: Vec<(u32, f32)> = items
        .chunks_exact(dim)
        .enumerate()
        .filter(|(i, _)| !excluded(*i as u32))
        .map(|(i, item)| {
            let mut score = 0.0f32;
            for d in 0..dim {
                score += item[d] * query[d];
            }
            (i as u32, score)
        })
        .collect();
    scored.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
    scored.truncate(k);
    scored
}

fn pairs(result: &cascade_retrieve::TopK, query: usize) -> Vec<(u32, f32)> {
    result
        .hits(query)
        .iter()
        .map(|h| (h.item, h.score))
        .collect()
}

fn small_tiles(index: ExactIndex) -> ExactIndex {
    index
        .with_tiling(Tiling {
            query_block: 7,
            item_tile: 13,
        })
        .unwrap()
}

#[test]
fn integer_data_matches_oracle_exactly_including_ties() {
    let (n, d, nq) = (200, 5, 40);
    let items = small_integers(n, d, 1);
    let queries = small_integers(nq, d, 2);
    let emb = ItemEmbeddings::new(d, items.clone()).unwrap();
    for index in [
        ExactIndex::new(emb.clone(), Metric::InnerProduct).unwrap(),
        small_tiles(ExactIndex::new(emb.clone(), Metric::InnerProduct).unwrap()),
    ] {
        for k in [1, 10, 57] {
            let result = index.search(&queries, k, None).unwrap();
            assert_eq!(result.len(), nq);
            assert!(result.clamped().is_none());
            for q in 0..nq {
                let want = naive_topk(&items, &queries[q * d..(q + 1) * d], k, |_| false);
                assert_eq!(pairs(&result, q), want, "query {q}, k {k}");
            }
        }
    }
}

#[test]
fn sharded_single_query_matches_oracle() {
    let (n, d) = (500, 4);
    let items = small_integers(n, d, 3);
    let query = small_integers(1, d, 4);
    let index = small_tiles(
        ExactIndex::new(
            ItemEmbeddings::new(d, items.clone()).unwrap(),
            Metric::InnerProduct,
        )
        .unwrap(),
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let result = pool.install(|| index.search(&query, 25, None)).unwrap();
    assert_eq!(pairs(&result, 0), naive_topk(&items, &query, 25, |_| false));
}

#[test]
fn continuous_data_matches_oracle_scores() {
    let (n, d, nq, k) = (1000, 16, 33, 20);
    let items = uniform(n, d, 5);
    let queries = uniform(nq, d, 6);
    let index = ExactIndex::new(
        ItemEmbeddings::new(d, items.clone()).unwrap(),
        Metric::InnerProduct,
    )
    .unwrap();
    let result = index.search(&queries, k, None).unwrap();
    for q in 0..nq {
        let want = naive_topk(&items, &queries[q * d..(q + 1) * d], k, |_| false);
        let got = pairs(&result, q);
        assert_eq!(got.len(), k);
        for (g, w) in got.iter().zip(&want) {
            assert!((g.1 - w.1).abs() < 1e-4, "query {q}: {g:?} vs {w:?}");
        }
    }
}

#[test]
fn filters_never_return_excluded_items_and_still_fill_k() {
    let (n, d, nq, k) = (150, 3, 9, 30);
    let items = small_integers(n, d, 7);
    let queries = small_integers(nq, d, 8);
    let global = vec![0u32, 5, 149, 77];
    // Query q has seen items q, q+10, ..., and query 4 has seen almost everything.
    let mut offsets = vec![0];
    let mut seen = Vec::new();
    for q in 0..nq {
        if q == 4 {
            seen.extend((0..n as u32).filter(|i| i % 50 != 1));
        } else {
            seen.extend((q as u32..n as u32).step_by(10));
        }
        offsets.push(seen.len());
    }
    let seen_of = |q: usize| seen[offsets[q]..offsets[q + 1]].to_vec();
    let exclusions = Exclusions::new(n)
        .exclude_everywhere(&global)
        .unwrap()
        .with_seen(offsets.clone(), seen.clone())
        .unwrap();
    let index = small_tiles(
        ExactIndex::new(
            ItemEmbeddings::new(d, items.clone()).unwrap(),
            Metric::InnerProduct,
        )
        .unwrap(),
    );
    let result = index.search(&queries, k, Some(&exclusions)).unwrap();
    for q in 0..nq {
        let mine = seen_of(q);
        let want = naive_topk(&items, &queries[q * d..(q + 1) * d], k, |i| {
            global.contains(&i) || mine.contains(&i)
        });
        assert_eq!(pairs(&result, q), want, "query {q}");
        let expected_len = if q == 4 { 3 } else { k };
        assert_eq!(result.hits(q).len(), expected_len, "query {q}");
    }
}

#[test]
fn k_beyond_corpus_returns_everything_with_a_note() {
    let items = small_integers(6, 2, 9);
    let index = ExactIndex::new(
        ItemEmbeddings::new(2, items.clone()).unwrap(),
        Metric::InnerProduct,
    )
    .unwrap();
    let query = [1.0, -1.0];
    let result = index.search(&query, 50, None).unwrap();
    let note = result.clamped().unwrap();
    assert_eq!((note.requested, note.available), (50, 6));
    assert_eq!(pairs(&result, 0), naive_topk(&items, &query, 6, |_| false));
}

#[test]
fn cosine_ranks_by_angle() {
    let items = vec![10.0, 0.0, 1.0, 1.0, 0.0, 0.5];
    let index = ExactIndex::new(ItemEmbeddings::new(2, items).unwrap(), Metric::Cosine).unwrap();
    let result = index.search(&[0.0, 3.0], 3, None).unwrap();
    assert_eq!(result.items(0), vec![2, 1, 0]);
    assert!((result.hits(0)[0].score - 1.0).abs() < 1e-6);
    let inner = ExactIndex::new(
        ItemEmbeddings::new(2, vec![10.0, 0.0, 1.0, 1.0, 0.0, 0.5]).unwrap(),
        Metric::InnerProduct,
    )
    .unwrap();
    assert_eq!(
        inner.search(&[1.0, 0.1], 1, None).unwrap().items(0),
        vec![0]
    );
}

#[test]
fn refuses_bad_arguments_without_panicking() {
    let empty = ItemEmbeddings::new(4, Vec::new()).unwrap();
    assert!(matches!(
        ExactIndex::new(empty, Metric::InnerProduct),
        Err(RetrieveError::EmptyCorpus)
    ));
    let index = ExactIndex::new(
        ItemEmbeddings::new(2, vec![1.0; 8]).unwrap(),
        Metric::InnerProduct,
    )
    .unwrap();
    assert!(matches!(
        index.search(&[1.0, 1.0], 0, None),
        Err(RetrieveError::ZeroK)
    ));
    let err = index.search(&[1.0, 1.0, 1.0], 1, None).unwrap_err();
    assert!(err.to_string().contains("queries"), "{err}");
    let err = index.search(&[1.0, f32::INFINITY], 1, None).unwrap_err();
    assert!(
        err.to_string().contains("queries: row 0, column 1"),
        "{err}"
    );
    let wrong_size = Exclusions::new(5);
    assert!(index.search(&[1.0, 1.0], 1, Some(&wrong_size)).is_err());
    let wrong_lists = Exclusions::new(4).with_seen(vec![0, 0, 0], vec![]).unwrap();
    let err = index
        .search(&[1.0, 1.0], 1, Some(&wrong_lists))
        .unwrap_err();
    assert!(err.to_string().contains("2 lists for 1 queries"), "{err}");
    assert!(index.search(&[], 3, None).unwrap().is_empty());
    assert!(
        index
            .clone()
            .with_tiling(Tiling {
                query_block: 0,
                item_tile: 1
            })
            .is_err()
    );
}

#[test]
fn fingerprint_check_refuses_other_embeddings() {
    let emb = ItemEmbeddings::new(2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    let other = ItemEmbeddings::new(2, vec![1.0, 2.0, 3.0, 5.0]).unwrap();
    let index = ExactIndex::new(emb.clone(), Metric::InnerProduct).unwrap();
    assert!(index.check_fingerprint(emb.fingerprint()).is_ok());
    let err = index.check_fingerprint(other.fingerprint()).unwrap_err();
    assert!(err.to_string().contains("rebuild the index"), "{err}");
}
