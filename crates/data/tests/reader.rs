//! The reader end to end: golden datasets decode to their expected values; every sample is read
//! exactly once per epoch for any world size and thread count; epochs differ, seeds repeat;
//! resuming (also with another world size) continues exactly; bad data is an error, not a panic.

mod common;

use cascade_core::Batch;
use cascade_data::{
    BatchSpec, DataError, DatasetManifest, DenseFeature, OpenOptions, ReaderConfig, ResumeState,
    ShuffleConfig, SparseFeature, StreamingDataset,
};
use cascade_mds::Value;
use common::{expected, golden, manifest, write_dataset};
use std::path::Path;

fn open(dir: &Path) -> StreamingDataset {
    StreamingDataset::open(dir.to_str().unwrap(), &OpenOptions::default()).unwrap()
}

fn config(batch_size: usize, rank: usize, world_size: usize, workers: usize) -> ReaderConfig {
    ReaderConfig {
        batch_size,
        rank,
        world_size,
        workers,
        ..ReaderConfig::default()
    }
}

/// Every batch of one rank for the rest of `state`'s epoch.
fn read_rank(
    ds: &StreamingDataset,
    spec: &BatchSpec,
    config: &ReaderConfig,
    state: &ResumeState,
) -> Vec<Batch> {
    ds.batches(spec, config, state)
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// The global batches (ranks' `t`-th batches merged, sorted) of a run with `world` ranks.
fn global_batches(
    ds: &StreamingDataset,
    spec: &BatchSpec,
    batch: usize,
    world: usize,
    workers: usize,
    state: &ResumeState,
) -> Vec<Vec<u64>> {
    let ranks: Vec<Vec<Batch>> = (0..world)
        .map(|r| read_rank(ds, spec, &config(batch, r, world, workers), state))
        .collect();
    let steps = ranks[0].len();
    assert!(
        ranks.iter().all(|r| r.len() == steps),
        "ranks yield different numbers of batches"
    );
    (0..steps)
        .map(|t| {
            let mut ids: Vec<u64> = ranks.iter().flat_map(|r| r[t].indices.clone()).collect();
            ids.sort_unstable();
            ids
        })
        .collect()
}

fn shuffled(seed: u64, window: u64) -> ShuffleConfig {
    ShuffleConfig {
        shuffle: true,
        seed,
        window,
    }
}

#[test]
fn golden_dlrm_batches_match_expected_values() {
    let ds = open(&golden("dlrm_plain"));
    let mut m = manifest(500);
    m.dense = vec![DenseFeature {
        column: "dense".into(),
        width: 13,
    }];
    m.sparse = vec![SparseFeature {
        name: "sparse".into(),
        column: "sparse".into(),
        cardinality: u64::MAX,
        vocab: None,
        multi_hot: true,
    }];
    let spec = ds.batch_spec(&m).unwrap();
    let expected = expected("dlrm_plain");
    let state = ds.start_state(shuffled(5, 64), 0);
    let batches = read_rank(&ds, &spec, &config(32, 0, 1, 3), &state);
    let mut seen = 0;
    for b in &batches {
        for (i, &g) in b.indices.iter().enumerate() {
            let e = &expected[g as usize];
            let dense: Vec<f32> = e["dense"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            assert_eq!(b.dense_row(i), dense.as_slice(), "sample {g}");
            let ids: Vec<u64> = e["sparse"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            assert_eq!(b.sparse.bag(0, i), ids.as_slice(), "sample {g}");
            assert_eq!(b.labels[i], e["label"].as_f64().unwrap() as f32);
            seen += 1;
        }
    }
    assert_eq!(seen, 500);
}

#[test]
fn golden_raw_samples_match_expected_values() {
    let ds = open(&golden("two_tower_zstd"));
    let names: Vec<String> = ds.columns().iter().map(|c| c.name.clone()).collect();
    let expected = expected("two_tower_zstd");
    let state = ds.start_state(shuffled(1, 1000), 3);
    let mut count = 0;
    for batch in ds.samples(&config(100, 0, 1, 2), &state).unwrap() {
        for sample in batch.unwrap() {
            let e = &expected[sample.index as usize];
            for (name, value) in names.iter().zip(&sample.values) {
                let Value::Int(v) = value else {
                    panic!("{name}: {value:?}")
                };
                assert_eq!(
                    Some(*v),
                    e[name].as_i64(),
                    "sample {} column {name}",
                    sample.index
                );
            }
            count += 1;
        }
    }
    assert_eq!(count, 3000);
}

#[test]
fn every_sample_once_per_epoch_for_any_world_size_and_workers() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 1003, 2048, true);
    let ds = open(dir.path());
    assert!(ds.index().shards.len() > 5, "want several shards");
    let spec = ds.batch_spec(&manifest(1003)).unwrap();
    let state = ds.start_state(shuffled(11, 100), 0);
    let reference = global_batches(&ds, &spec, 24, 1, 1, &state);
    for (world, workers) in [(1, 3), (2, 1), (2, 2), (3, 2), (4, 3)] {
        // The same global batch size, so the same global batches.
        if 24 % world != 0 {
            continue;
        }
        let got = global_batches(&ds, &spec, 24 / world, world, workers, &state);
        assert_eq!(got, reference, "world {world} workers {workers}");
    }
    for (world, workers, batch) in [(3, 2, 7), (5, 1, 10), (2, 4, 1000)] {
        let mut all: Vec<u64> = global_batches(&ds, &spec, batch, world, workers, &state).concat();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..1003).collect::<Vec<_>>(),
            "world {world} workers {workers}"
        );
    }
}

#[test]
fn batches_hold_the_written_values() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 300, 4096, false);
    let ds = open(dir.path());
    let spec = ds.batch_spec(&manifest(300)).unwrap();
    assert_eq!(spec.num_dense(), 2);
    assert_eq!(spec.keys(), ["ids", "user"]);
    let state = ds.start_state(shuffled(2, 50), 1);
    for b in read_rank(&ds, &spec, &config(64, 0, 1, 2), &state) {
        for (i, &g) in b.indices.iter().enumerate() {
            assert_eq!(b.dense_row(i), [g as f32, -(g as f32)]);
            let bag: Vec<u64> = (0..1 + g % 3).map(|k| g % 100 + k).collect();
            assert_eq!(b.sparse.bag(0, i), bag.as_slice());
            assert_eq!(b.sparse.bag(1, i), [g % 50]);
            assert_eq!(b.labels[i], (g % 2) as f32);
        }
    }
}

#[test]
fn epochs_differ_and_seeds_repeat() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 500, 2048, true);
    let ds = open(dir.path());
    let spec = ds.batch_spec(&manifest(500)).unwrap();
    let order = |seed, epoch| -> Vec<u64> {
        let state = ds.start_state(shuffled(seed, 128), epoch);
        read_rank(&ds, &spec, &config(50, 0, 1, 2), &state).concat_indices()
    };
    let e0 = order(7, 0);
    assert_eq!(e0, order(7, 0));
    assert_ne!(e0, order(7, 1));
    assert_ne!(e0, order(8, 0));
    assert_ne!(e0, (0..500).collect::<Vec<_>>());
    let plain = ResumeState::start(
        ShuffleConfig {
            shuffle: false,
            seed: 0,
            window: 1,
        },
        500,
        0,
    );
    let unshuffled = read_rank(&ds, &spec, &config(50, 0, 1, 3), &plain).concat_indices();
    assert_eq!(unshuffled, (0..500).collect::<Vec<_>>());
}

trait ConcatIndices {
    fn concat_indices(&self) -> Vec<u64>;
}

impl ConcatIndices for Vec<Batch> {
    fn concat_indices(&self) -> Vec<u64> {
        self.iter()
            .flat_map(|b| b.indices.iter().copied())
            .collect()
    }
}

#[test]
fn resume_with_another_world_size_reads_exactly_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 777, 2048, true);
    let ds = open(dir.path());
    let spec = ds.batch_spec(&manifest(777)).unwrap();
    let start = ds.start_state(shuffled(3, 200), 4);
    // The whole epoch in one process, as reference order.
    let full = read_rank(&ds, &spec, &config(10, 0, 1, 1), &start).concat_indices();

    // Two ranks read 5 batches each, then the state is saved.
    let mut readers: Vec<_> = (0..2)
        .map(|r| ds.batches(&spec, &config(10, r, 2, 2), &start).unwrap())
        .collect();
    let mut done = Vec::new();
    for _ in 0..5 {
        for reader in &mut readers {
            done.extend(reader.next().unwrap().unwrap().indices);
        }
    }
    let states: Vec<ResumeState> = readers.iter().map(|r| r.state()).collect();
    assert_eq!(states[0], states[1], "ranks disagree on the state");
    assert_eq!(states[0].consumed, 100);
    drop(readers);
    let saved = dir.path().join("state.json");
    states[0].save(&saved).unwrap();

    // Three ranks resume from the saved state.
    let state = ResumeState::load(&saved).unwrap();
    let rest: Vec<Vec<u64>> = global_batches(&ds, &spec, 7, 3, 2, &state);
    let mut all = done.clone();
    all.extend(rest.concat());
    all.sort_unstable();
    assert_eq!(
        all,
        (0..777).collect::<Vec<_>>(),
        "duplicates or losses across the resume"
    );
    // The resumed run reads the same samples as the uninterrupted one, in the same global order.
    let mut expected_rest: Vec<u64> = full[100..].to_vec();
    let mut got_rest = rest.concat();
    expected_rest.sort_unstable();
    got_rest.sort_unstable();
    assert_eq!(got_rest, expected_rest);
    for (t, batch) in rest.iter().enumerate() {
        let mut want = full[100 + t * 21..(100 + (t + 1) * 21).min(777)].to_vec();
        want.sort_unstable();
        assert_eq!(batch, &want, "global batch {t} after resume");
    }

    // At the end of the epoch the state moves to the next one.
    let mut last = ds.batches(&spec, &config(1000, 0, 1, 2), &state).unwrap();
    assert!(last.next().unwrap().is_ok());
    assert!(last.next().is_none());
    assert_eq!(last.state(), ds.start_state(shuffled(3, 200), 5));
}

#[test]
fn drop_last_skips_the_short_tail() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 100, 4096, false);
    let ds = open(dir.path());
    let spec = ds.batch_spec(&manifest(100)).unwrap();
    let state = ds.start_state(shuffled(1, 30), 0);
    let cfg = ReaderConfig {
        drop_last: true,
        ..config(16, 1, 3, 2)
    };
    let batches = read_rank(&ds, &spec, &cfg, &state);
    assert_eq!(batches.len(), 2);
    assert!(batches.iter().all(|b| b.len == 16));
    // Without drop_last: 3 batches; the last global batch (4 samples) is split 2/1/1.
    let batches = read_rank(&ds, &spec, &config(16, 1, 3, 2), &state);
    assert_eq!(
        batches.iter().map(|b| b.len).collect::<Vec<_>>(),
        vec![16, 16, 1]
    );
}

#[test]
fn corrupt_shard_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 400, 2048, true);
    let ds = open(dir.path());
    let victim = ds.index().shards[2].zip_data.clone().unwrap().basename;
    let path = dir.path().join(&victim);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let spec = ds.batch_spec(&manifest(400)).unwrap();
    let state = ds.start_state(shuffled(1, 50), 0);
    let results: Vec<_> = ds
        .batches(&spec, &config(20, 0, 1, 3), &state)
        .unwrap()
        .collect();
    let err = results
        .iter()
        .find_map(|r| r.as_ref().err())
        .expect("no error for a corrupt shard");
    assert!(err.to_string().contains(&victim), "{err}");
    assert!(
        results.last().unwrap().is_err(),
        "the reader went on after the error"
    );
}

#[test]
fn bad_ids_and_schemas_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 60, 4096, false);
    let ds = open(dir.path());
    let mut m = manifest(60);
    m.sparse[1].cardinality = 10; // user ids go up to 49
    let spec = ds.batch_spec(&m).unwrap();
    let state = ds.start_state(shuffled(1, 30), 0);
    let err = ds
        .batches(&spec, &config(60, 0, 1, 1), &state)
        .unwrap()
        .find_map(|r| r.err())
        .expect("out-of-range id accepted");
    let text = err.to_string();
    assert!(
        text.contains("column \"user\"") && text.contains("cardinality 10"),
        "{text}"
    );

    let mut m: DatasetManifest = manifest(60);
    m.dense[0].width = 3;
    let err = ds.batch_spec(&m).unwrap_err().to_string();
    assert!(
        err.contains("dense column \"dense\" holds 2 values"),
        "{err}"
    );
    m.dense[0].column = "missing".into();
    let err = ds.batch_spec(&m).unwrap_err().to_string();
    assert!(err.contains("no column \"missing\""), "{err}");

    let bad = ReaderConfig {
        rank: 2,
        ..config(4, 0, 2, 1)
    };
    let err = ds.batches(&spec, &bad, &state).err().unwrap();
    assert!(
        matches!(err, DataError::Config { option: "rank", .. }),
        "{err}"
    );
    let other = ResumeState {
        total_samples: 61,
        ..state
    };
    assert!(matches!(
        ds.batches(&spec, &config(4, 0, 1, 1), &other),
        Err(DataError::Resume { .. })
    ));
}

#[test]
fn negative_ids_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let columns = vec![cascade_mds::Column {
        name: "item".into(),
        encoding: cascade_mds::Encoding::parse("int32").unwrap(),
    }];
    let mut writer =
        cascade_mds::MdsWriter::create(dir.path(), columns, Default::default()).unwrap();
    for v in [3i64, -4] {
        writer.write(&[Value::Int(v)]).unwrap();
    }
    writer.finish().unwrap();
    let ds = open(dir.path());
    let mut m = manifest(2);
    m.label = None;
    m.dense.clear();
    m.sparse = vec![SparseFeature {
        name: "item".into(),
        column: "item".into(),
        cardinality: 10,
        vocab: None,
        multi_hot: false,
    }];
    let spec = ds.batch_spec(&m).unwrap();
    let state = ds.start_state(ShuffleConfig::default(), 0);
    let err = ds
        .batches(&spec, &config(2, 0, 1, 1), &state)
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("sample 1")
            && text.contains("column \"item\"")
            && text.contains("negative id -4"),
        "{text}"
    );
}

#[test]
fn splits_are_chosen_by_name() {
    let root = tempfile::tempdir().unwrap();
    write_dataset(&root.path().join("train"), 40, 4096, false);
    let m = manifest(40);
    m.save(root.path()).unwrap();
    let root_str = root.path().to_str().unwrap();
    let (loaded, ds) =
        StreamingDataset::open_split(root_str, "train", &OpenOptions::default()).unwrap();
    assert_eq!(loaded, m);
    assert_eq!(ds.len(), 40);
    let err = StreamingDataset::open_split(root_str, "val", &OpenOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no split named \"val\""), "{err}");
}
