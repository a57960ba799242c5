//! The HNSW index: recall against the exact index, filters, saving and loading (in memory and
//! memory-mapped), and refusal of corrupted or mismatched files with messages naming the file.

mod common;

use std::path::Path;

use cascade_retrieve::{
    ExactIndex, Exclusions, HnswIndex, HnswParams, ItemEmbeddings, LoadMode, Metric, RetrieveError,
    TopKIndex, recall_at_k, sample_rows,
};
use common::uniform;

const DIM: usize = 16;

fn corpus(n: usize, seed: u64) -> ItemEmbeddings {
    ItemEmbeddings::new(DIM, uniform(n, DIM, seed)).unwrap()
}

#[test]
fn recall_against_exact_is_high() {
    let emb = corpus(3000, 11);
    let queries = uniform(200, DIM, 12);
    for metric in [Metric::InnerProduct, Metric::Cosine] {
        let ann = HnswIndex::build(&emb, metric, HnswParams::default()).unwrap();
        let exact = ExactIndex::new(emb.clone(), metric).unwrap();
        let report = recall_at_k(&ann, &exact, &queries, 10).unwrap();
        assert_eq!((report.k, report.queries), (10, 200));
        assert!(
            report.recall >= 0.95,
            "{metric:?}: recall {}",
            report.recall
        );
        let items_as_queries = sample_rows(emb.values(), DIM, 50);
        assert_eq!(items_as_queries.len(), 50 * DIM);
        let report = recall_at_k(&ann, &exact, &items_as_queries, 10).unwrap();
        assert!(
            report.recall >= 0.95,
            "{metric:?}: recall {}",
            report.recall
        );
    }
}

#[test]
fn expansion_search_trades_recall() {
    let emb = corpus(3000, 13);
    let queries = uniform(200, DIM, 14);
    let exact = ExactIndex::new(emb.clone(), Metric::InnerProduct).unwrap();
    let mut ann = HnswIndex::build(&emb, Metric::InnerProduct, HnswParams::default()).unwrap();
    ann.set_expansion_search(1).unwrap();
    let low = recall_at_k(&ann, &exact, &queries, 50).unwrap().recall;
    ann.set_expansion_search(400).unwrap();
    let high = recall_at_k(&ann, &exact, &queries, 50).unwrap().recall;
    assert!(high > low && high >= 0.99, "low {low}, high {high}");
    assert!(ann.set_expansion_search(0).is_err());
}

#[test]
fn filtered_search_skips_excluded_and_fills_k() {
    let n = 2000;
    let emb = corpus(n, 15);
    let queries = uniform(20, DIM, 16);
    let ann = HnswIndex::build(&emb, Metric::InnerProduct, HnswParams::default()).unwrap();
    let exact = ExactIndex::new(emb.clone(), Metric::InnerProduct).unwrap();
    // Exclude each query's exact top 5 as "seen", and every multiple of 7 globally.
    let top = exact.search(&queries, 5, None).unwrap();
    let mut offsets = vec![0];
    let mut seen = Vec::new();
    for q in 0..20 {
        seen.extend(top.items(q));
        offsets.push(seen.len());
    }
    let global: Vec<u32> = (0..n as u32).step_by(7).collect();
    let exclusions = Exclusions::new(n)
        .exclude_everywhere(&global)
        .unwrap()
        .with_seen(offsets, seen)
        .unwrap();
    let result = ann.search(&queries, 10, Some(&exclusions)).unwrap();
    for q in 0..20 {
        let items = result.items(q);
        assert_eq!(items.len(), 10, "query {q}");
        for item in items {
            assert!(
                !exclusions.excludes(q, item),
                "query {q} got excluded {item}"
            );
        }
    }
}

#[test]
fn k_beyond_corpus_and_bad_arguments() {
    let emb = corpus(30, 17);
    let ann = HnswIndex::build(&emb, Metric::InnerProduct, HnswParams::default()).unwrap();
    let result = ann.search(&uniform(2, DIM, 18), 100, None).unwrap();
    assert_eq!(result.clamped().map(|c| c.available), Some(30));
    assert_eq!(result.hits(0).len(), 30);
    assert!(matches!(
        ann.search(&[0.0; DIM], 0, None),
        Err(RetrieveError::ZeroK)
    ));
    assert!(ann.search(&[0.0; 3], 1, None).is_err());
    assert!(ann.search(&[], 5, None).unwrap().is_empty());
    let empty = ItemEmbeddings::new(DIM, Vec::new()).unwrap();
    assert!(matches!(
        HnswIndex::build(&empty, Metric::InnerProduct, HnswParams::default()),
        Err(RetrieveError::EmptyCorpus)
    ));
    let bad = HnswParams {
        connectivity: 1,
        ..HnswParams::default()
    };
    assert!(HnswIndex::build(&emb, Metric::InnerProduct, bad).is_err());
}

fn meta(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap().to_os_string();
    name.push(".meta.json");
    path.with_file_name(name)
}

#[test]
fn save_and_load_round_trip_in_both_modes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("items.graph");
    let emb = corpus(1500, 19);
    let queries = uniform(30, DIM, 20);
    let params = HnswParams {
        connectivity: 12,
        expansion_add: 64,
        expansion_search: 80,
    };
    let ann = HnswIndex::build(&emb, Metric::Cosine, params).unwrap();
    ann.save(&path).unwrap();
    let before = ann.search(&queries, 10, None).unwrap();
    for mode in [LoadMode::InMemory, LoadMode::MemoryMapped] {
        let loaded = HnswIndex::load(&path, mode).unwrap();
        assert_eq!(loaded.params(), params);
        assert_eq!(loaded.metric(), Metric::Cosine);
        assert_eq!((loaded.len(), loaded.dim()), (1500, DIM));
        loaded.check_fingerprint(emb.fingerprint()).unwrap();
        assert_eq!(loaded.search(&queries, 10, None).unwrap(), before);
    }
    let other = corpus(1500, 21);
    let loaded = HnswIndex::load(&path, LoadMode::MemoryMapped).unwrap();
    let err = loaded.check_fingerprint(other.fingerprint()).unwrap_err();
    assert!(err.to_string().contains("items.graph"), "{err}");
}

#[test]
fn corrupted_or_mismatched_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.graph");
    let other_path = dir.path().join("b.graph");
    let ann = HnswIndex::build(
        &corpus(500, 22),
        Metric::InnerProduct,
        HnswParams::default(),
    )
    .unwrap();
    ann.save(&path).unwrap();
    HnswIndex::build(
        &corpus(400, 23),
        Metric::InnerProduct,
        HnswParams::default(),
    )
    .unwrap()
    .save(&other_path)
    .unwrap();
    let sidecar = std::fs::read_to_string(meta(&path)).unwrap();

    // Missing sidecar.
    std::fs::rename(meta(&path), dir.path().join("moved")).unwrap();
    let err = HnswIndex::load(&path, LoadMode::InMemory)
        .unwrap_err()
        .to_string();
    assert!(err.contains("a.graph.meta.json"), "{err}");

    // Unparsable and tampered sidecars.
    std::fs::write(meta(&path), "{ \"format\": ").unwrap();
    let err = HnswIndex::load(&path, LoadMode::InMemory)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("a.graph.meta.json") && err.contains("not a valid"),
        "{err}"
    );
    std::fs::write(
        meta(&path),
        sidecar.replace("\"format_version\": 2", "\"format_version\": 3"),
    )
    .unwrap();
    let err = HnswIndex::load(&path, LoadMode::MemoryMapped)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("a.graph.meta.json") && err.contains("version 3"),
        "{err}"
    );

    // Graph of another index under this sidecar.
    std::fs::write(meta(&path), &sidecar).unwrap();
    std::fs::copy(&other_path, &path).unwrap();
    let err = HnswIndex::load(&path, LoadMode::MemoryMapped)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("a.graph:") && err.contains("another index"),
        "{err}"
    );

    // Flipped bytes in the graph.
    ann.save(&path).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let err = HnswIndex::load(&path, LoadMode::InMemory)
        .unwrap_err()
        .to_string();
    assert!(err.contains("a.graph:") && err.contains("corrupt"), "{err}");

    // A sidecar whose shape disagrees with a genuine graph (checksum updated to match).
    ann.save(&path).unwrap();
    let sidecar = std::fs::read_to_string(meta(&path)).unwrap();
    std::fs::write(
        meta(&path),
        sidecar.replace("\"count\": 500", "\"count\": 501"),
    )
    .unwrap();
    let err = HnswIndex::load(&path, LoadMode::InMemory)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("a.graph:") && err.contains("does not match sidecar"),
        "{err}"
    );

    // The untouched index still loads.
    std::fs::write(meta(&path), &sidecar).unwrap();
    assert!(HnswIndex::load(&path, LoadMode::MemoryMapped).is_ok());
}
