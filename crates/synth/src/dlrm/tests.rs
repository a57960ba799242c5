//! Statistical tests of the DLRM generator: the planted signal is real, in the intended range,
//! and learnable from the ids alone.

use super::*;
use crate::auc::exact_auc;
use crate::rng::Rng;
use std::collections::HashMap;

/// The rows of the first `rows` of a dataset, decoded: per row its ids and label, plus the
/// pooled ceiling histogram.
fn rows(config: &DlrmConfig) -> (Vec<Vec<u64>>, Vec<bool>, AucHistogram) {
    let model = HiddenModel::new(config);
    let zipfs = table_zipfs(config);
    let mut ids = Vec::new();
    let mut labels = Vec::new();
    let mut histogram = AucHistogram::default();
    for k in 0..config.rows.div_ceil(CHUNK_ROWS) {
        let chunk = generate_chunk(config, &model, &zipfs, k).unwrap();
        for r in 0..chunk.rows {
            let row = chunk
                .tables
                .iter()
                .map(|t| u64::from_le_bytes(t.row(r).try_into().unwrap()))
                .collect();
            ids.push(row);
            labels.push(chunk.label(r));
            histogram.add(chunk.bins[r], chunk.label(r));
        }
    }
    (ids, labels, histogram)
}

/// AUC on the second half of a learner that scores a row by the summed smoothed log-odds of its
/// ids, counted on the first half.
fn counting_learner_auc(ids: &[Vec<u64>], labels: &[bool]) -> f64 {
    let half = ids.len() / 2;
    let base = labels[..half].iter().filter(|&&l| l).count() as f64 / half as f64;
    let tables = ids[0].len();
    let mut counts: Vec<HashMap<u64, (f64, f64)>> = vec![HashMap::new(); tables];
    for (row, &label) in ids[..half].iter().zip(&labels[..half]) {
        for (t, &id) in row.iter().enumerate() {
            let entry = counts[t].entry(id).or_default();
            entry.0 += f64::from(u8::from(label));
            entry.1 += 1.0;
        }
    }
    let prior = 20.0;
    let logit = |p: f64| (p / (1.0 - p)).ln();
    let scores: Vec<f64> = ids[half..]
        .iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(t, id)| {
                    let (pos, n) = counts[t].get(id).copied().unwrap_or_default();
                    logit((pos + prior * base) / (n + prior)) - logit(base)
                })
                .sum()
        })
        .collect();
    exact_auc(&scores, &labels[half..])
}

#[test]
fn ceiling_and_positive_rate_are_in_the_target_range() {
    for seed in [0, 1, 2] {
        let config = DlrmConfig {
            rows: 150_000,
            seed,
            ..DlrmConfig::default()
        };
        let (_, _, histogram) = rows(&config);
        let estimate = histogram.estimate();
        eprintln!("seed {seed}: {estimate:?}");
        assert!(
            estimate.auc > 0.75 && estimate.auc < 0.85,
            "seed {seed}: {estimate:?}"
        );
        assert!(estimate.max_error < 1e-3, "{estimate:?}");
        let rate = estimate.positive_rate();
        assert!(
            (rate - 0.25).abs() < 0.05,
            "seed {seed}: positive rate {rate}"
        );
    }
}

#[test]
fn ids_alone_predict_the_labels_and_shuffled_labels_do_not() {
    let config = DlrmConfig {
        rows: 150_000,
        seed: 3,
        ..DlrmConfig::default()
    };
    let (ids, labels, _) = rows(&config);
    let learned = counting_learner_auc(&ids, &labels);
    assert!(learned > 0.62, "counting learner AUC {learned}");

    // Control: the same learner on labels shuffled against the features finds nothing, so the
    // check above measures a real dependence of labels on ids.
    let mut shuffled = labels.clone();
    let mut rng = Rng::for_key(&[99]);
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let control = counting_learner_auc(&ids, &shuffled);
    assert!((control - 0.5).abs() < 0.02, "shuffled-label AUC {control}");
}

#[test]
fn zero_signal_gives_a_coin_flip_ceiling() {
    let config = DlrmConfig {
        rows: 50_000,
        signal: 0.0,
        positive_rate: 0.5,
        ..DlrmConfig::default()
    };
    let (_, _, histogram) = rows(&config);
    let estimate = histogram.estimate();
    assert!((estimate.auc - 0.5).abs() < 1e-9, "{estimate:?}");
    assert!(
        (estimate.positive_rate() - 0.5).abs() < 0.01,
        "{estimate:?}"
    );
}

#[test]
fn ids_follow_each_tables_zipf_and_cardinality() {
    let config = DlrmConfig {
        rows: 100_000,
        dense: 2,
        cardinalities: vec![10, 1000],
        zipf: 1.2,
        ..DlrmConfig::default()
    };
    let (ids, _, _) = rows(&config);
    for (t, &n) in config.cardinalities.iter().enumerate() {
        let zipf = Zipf::new(n, 1.2);
        assert!(ids.iter().all(|row| row[t] < n));
        let top = ids.iter().filter(|row| row[t] == 0).count() as f64 / ids.len() as f64;
        assert!((top - zipf.probability(0)).abs() < 0.01, "table {t}: {top}");
    }
}

#[test]
fn chunks_do_not_depend_on_generation_order() {
    let config = DlrmConfig {
        rows: 3 * CHUNK_ROWS + 5,
        ..DlrmConfig::default()
    };
    let model = HiddenModel::new(&config);
    let zipfs = table_zipfs(&config);
    let last = generate_chunk(&config, &model, &zipfs, 3).unwrap();
    let first = generate_chunk(&config, &model, &zipfs, 0).unwrap();
    let last_again = generate_chunk(&config, &model, &zipfs, 3).unwrap();
    assert_eq!(last.rows, 5);
    assert_eq!(last.dense, last_again.dense);
    assert_eq!(last.labels, last_again.labels);
    assert_ne!(first.dense[..20], last.dense[..20]);
}

#[test]
fn a_refilled_chunk_equals_a_fresh_one() {
    let single = DlrmConfig {
        rows: 2 * CHUNK_ROWS + 7,
        seed: 3,
        ..DlrmConfig::default()
    };
    let bags = DlrmConfig {
        bag: (1, 4),
        ..single.clone()
    };
    let contents = |chunk: &DlrmChunk| {
        let tables: Vec<Vec<u8>> = (0..chunk.rows)
            .map(|r| {
                chunk
                    .tables
                    .iter()
                    .flat_map(|t| t.row(r).to_vec())
                    .collect()
            })
            .collect();
        (
            chunk.first_row,
            chunk.rows,
            chunk.dense.clone(),
            tables,
            chunk.labels.clone(),
            chunk.bins.clone(),
            chunk.samples.clone(),
        )
    };
    // One buffer goes through a full chunk, a bags chunk, a short last chunk and a full one.
    let mut reused = DlrmChunk::default();
    for (config, k) in [(&single, 0), (&bags, 1), (&single, 2), (&single, 1)] {
        let model = HiddenModel::new(config);
        let zipfs = table_zipfs(config);
        let positions: Vec<usize> = (0..config.tables() + 2).collect();
        reused.fill(config, &model, &zipfs, k).unwrap();
        reused.interleave(&positions);
        let mut fresh = generate_chunk(config, &model, &zipfs, k).unwrap();
        fresh.interleave(&positions);
        assert_eq!(contents(&reused), contents(&fresh), "chunk {k}");
    }
}

#[test]
fn identical_bytes_whatever_the_thread_count() {
    let config = DlrmConfig {
        rows: 5 * CHUNK_ROWS + 100,
        cardinalities: vec![1_000, 50, 100_000],
        bag: (1, 4),
        seed: 8,
        ..DlrmConfig::default()
    };
    let trees = crate::testutil::with_thread_counts(|out| {
        generate(&config, out, false).unwrap();
    });
    assert_eq!(trees[0], trees[1]);
    assert!(trees[0].keys().any(|p| p.ends_with("cascade.json")));
}

#[test]
fn writes_a_criteo_shaped_dataset_with_its_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dlrm");
    let config = DlrmConfig {
        rows: 10_000,
        compression: Some(cascade_mds::Compression::Zstd(None)),
        ..DlrmConfig::default()
    };
    let manifest = generate(&config, &out, false).unwrap();
    assert_eq!(manifest, cascade_data::DatasetManifest::load(&out).unwrap());
    let samples: Vec<(&str, u64)> = manifest
        .splits
        .iter()
        .map(|(name, split)| (name.as_str(), split.samples))
        .collect();
    assert_eq!(samples, [("test", 1_000), ("train", 8_000), ("val", 1_000)]);
    assert_eq!(manifest.dense[0].column, "dense");
    assert_eq!(manifest.dense[0].width, 13);
    assert_eq!(manifest.sparse.len(), 26);
    assert_eq!(
        (
            manifest.sparse[0].name.as_str(),
            manifest.sparse[25].name.as_str()
        ),
        ("C1", "C26")
    );
    let ceiling = manifest.extra["ceiling_auc"].as_f64().unwrap();
    assert!(ceiling > 0.7 && ceiling < 0.9, "{ceiling}");
    let index = std::fs::read_to_string(out.join("train/index.json")).unwrap();
    assert!(
        index.contains("\"zstd\"") && index.contains("ndarray:float32:13"),
        "{index}"
    );
    // Nothing but the dataset is left in the parent folder; a second run needs `replace`.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let again = generate(&config, &out, false).unwrap_err().to_string();
    assert!(again.contains("pass --force to replace it"), "{again}");
    generate(&config, &out, true).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn written_samples_are_the_generated_rows() {
    // The bulk path lays the columns out in stored (name-sorted) order: read the dataset back
    // and compare every column of every row with the generated chunks.
    let config = DlrmConfig {
        rows: CHUNK_ROWS + 300,
        cardinalities: vec![1_000, 50, 100_000, 7, 9, 11, 13, 15, 17, 19, 21, 23],
        ..DlrmConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    generate(&config, &out, false).unwrap();
    let model = HiddenModel::new(&config);
    let zipfs = table_zipfs(&config);
    let chunks: Vec<DlrmChunk> = (0..config.rows.div_ceil(CHUNK_ROWS))
        .map(|k| generate_chunk(&config, &model, &zipfs, k).unwrap())
        .collect();
    let mut row = 0usize;
    for split in ["train", "val", "test"] {
        let path = out.join(split);
        let index = cascade_mds::Index::load(&path).unwrap();
        for meta in &index.shards {
            let shard = cascade_mds::Shard::open(&path, meta).unwrap();
            let names: Vec<String> = shard.columns().iter().map(|c| c.name.clone()).collect();
            let mut parts = Vec::new();
            for i in 0..shard.len() {
                shard.sample_into(i, &mut parts).unwrap();
                let chunk = &chunks[row / CHUNK_ROWS as usize];
                let r = row % CHUNK_ROWS as usize;
                for (name, bytes) in names.iter().zip(&parts) {
                    let want: &[u8] = match name.as_str() {
                        "label" => chunk.label_bytes(r),
                        "dense" => &chunk.dense[r * 52..(r + 1) * 52],
                        table => chunk.tables[table[1..].parse::<usize>().unwrap() - 1].row(r),
                    };
                    assert_eq!(*bytes, want, "row {row} column {name}");
                }
                row += 1;
            }
        }
    }
    assert_eq!(row as u64, config.rows);
}
