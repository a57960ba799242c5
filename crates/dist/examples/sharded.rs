//! Trains embedding tables sharded over the ranks of an MPI job — one row-wise, one
//! table-wise and one replicated, with mean and sum pooling, weights, hashed ids and ids
//! repeated across ranks — and checks, on every rank and every step, that the pooled
//! embeddings and the updated rows and optimizer state equal those of one whole collection
//! trained on the global batch. Exits non-zero on the first mismatch. Run it under an MPI
//! launcher (see scripts/test-mpi.sh):
//!
//! ```sh
//! cargo build -p cascade-dist --features mpi --example sharded --profile ci
//! mpirun -n 4 target/ci/examples/sharded
//! ```

use cascade_core::KeyedJagged;
use cascade_dist::{Placement, ProcessGroup, ShardedEmbeddings, TableSpec, Thresholds, plan};
use cascade_embed::{EmbeddingCollection, Optimizer, OutOfRange, Pooling, TableConfig};
use std::process::ExitCode;

/// Samples in the global batch (divisible by 1, 2, 3 and 4 ranks).
const GLOBAL_BATCH: usize = 24;
/// Largest difference allowed between the sharded and the whole result: only the order of
/// floating-point additions differs.
const TOLERANCE: f32 = 1e-5;

fn tables() -> Vec<TableConfig> {
    let mut big = TableConfig::new("big", 1000, 8, &["user", "history"]);
    big.pooling = Pooling::Mean;
    let mut mid = TableConfig::new("mid", 300, 4, &["item"]);
    mid.out_of_range = OutOfRange::Hash;
    let tiny = TableConfig::new("tiny", 10, 2, &["genre"]);
    vec![big, mid, tiny]
}

/// A deterministic global batch for `step`: ids drawn from small ranges so that ranks
/// share rows, bags of 0 to 3 ids, and weights.
fn global_batch(step: u64) -> KeyedJagged {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ step;
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let keys = ["user", "history", "item", "genre"];
    let (mut ids, mut offsets, mut weights) = (Vec::new(), vec![0], Vec::new());
    for key in keys {
        for _ in 0..GLOBAL_BATCH {
            let len = if key == "user" { 1 } else { next(4) };
            for _ in 0..len {
                ids.push(match key {
                    "item" => next(1 << 40),
                    "genre" => next(10),
                    _ => next(60) * 13 % 1000,
                });
                weights.push(0.5 + next(100) as f32 / 100.0);
            }
            offsets.push(ids.len());
        }
    }
    let keys = keys.iter().map(|k| k.to_string()).collect();
    KeyedJagged::new(keys, GLOBAL_BATCH, ids, offsets, Some(weights)).expect("a valid batch")
}

/// Samples `range` of `kj`.
fn slice(kj: &KeyedJagged, range: std::ops::Range<usize>) -> KeyedJagged {
    let batch = kj.batch_size();
    let (mut ids, mut offsets, mut weights) = (Vec::new(), vec![0], Vec::new());
    for f in 0..kj.keys().len() {
        for s in range.clone() {
            let span = kj.offsets()[f * batch + s]..kj.offsets()[f * batch + s + 1];
            ids.extend_from_slice(&kj.ids()[span.clone()]);
            weights.extend_from_slice(&kj.weights().expect("weights")[span]);
            offsets.push(ids.len());
        }
    }
    KeyedJagged::new(kj.keys().to_vec(), range.len(), ids, offsets, Some(weights))
        .expect("a valid slice")
}

mod support;

fn main() -> ExitCode {
    support::run_checks(
        "sharded embeddings",
        "forward and updates match one whole collection",
        |group| match run(group) {
            Ok(failures) => failures,
            Err(err) => vec![format!("error: {err}")],
        },
    )
}

fn run(group: &dyn ProcessGroup) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let (rank, world) = (group.rank(), group.world_size());
    let specs: Vec<TableSpec> = tables()
        .iter()
        .map(|t| TableSpec {
            name: t.name.clone(),
            rows: t.rows,
            dim: t.dim,
            storage: t.storage,
            optimizer: Optimizer::rowwise_adagrad(0.05),
        })
        .collect();
    let thresholds = Thresholds {
        replicate_max_bytes: 200,
        table_wise_max_budget_fraction: 0.25,
    };
    let plan = plan(&specs, world, 100_000, thresholds)?;
    let expected = ["row_wise", "table_wise", "replicated"];
    let mut failures = Vec::new();
    for (table, want) in plan.tables.iter().zip(expected) {
        if table.placement.name() != want {
            failures.push(format!(
                "{} is {:?}, expected {want}",
                table.name, table.placement
            ));
        }
    }
    let optimizer = Optimizer::rowwise_adagrad(0.05);
    let mut whole = EmbeddingCollection::new(tables(), optimizer)?;
    let mut sharded = ShardedEmbeddings::new(tables(), &plan, rank, world)?;
    let shards = sharded.local_shards();
    let mut local = if shards.is_empty() {
        None
    } else {
        Some(EmbeddingCollection::from_shards(shards, optimizer)?)
    };
    let per_rank = GLOBAL_BATCH / world;
    let mine = rank * per_rank..(rank + 1) * per_rank;
    let mut out = Vec::new();
    let mut expected_pooled = cascade_embed::Pooled::new();
    for step in 0..3u64 {
        let global = global_batch(step);
        whole.forward(&global, &mut expected_pooled)?;
        sharded.forward(
            group,
            local.as_ref(),
            &slice(&global, mine.clone()),
            &mut out,
        )?;
        let width = whole.width();
        let want = &expected_pooled.values()[mine.start * width..mine.end * width];
        compare(&mut failures, &format!("step {step} pooled"), &out, want);
        let grad: Vec<f32> = (0..GLOBAL_BATCH * width)
            .map(|i| ((i * 7 + step as usize) % 11) as f32 * 0.1 - 0.5)
            .collect();
        whole.backward_update(&global, &grad)?;
        sharded.backward(
            group,
            local.as_mut(),
            &grad[mine.start * width..mine.end * width],
        )?;
        if let Some(local) = &local {
            for table in local.tables() {
                let full = whole.table(table.name())?;
                let range = table.row_range();
                let mut got = vec![0.0; table.dim()];
                let mut want = vec![0.0; table.dim()];
                for row in range.clone() {
                    table.read_row(row - range.start, &mut got)?;
                    full.read_row(row, &mut want)?;
                    let what = format!("step {step} table {} row {row}", table.name());
                    compare(&mut failures, &what, &got, &want);
                    let state = table.row_state(row - range.start)?;
                    compare(
                        &mut failures,
                        &format!("{what} state"),
                        state,
                        full.row_state(row)?,
                    );
                }
            }
        }
    }
    if world > 1
        && sharded
            .placements()
            .iter()
            .all(|p| *p == Placement::Replicated)
    {
        failures.push("nothing was sharded".into());
    }
    Ok(failures)
}

fn compare(failures: &mut Vec<String>, what: &str, got: &[f32], want: &[f32]) {
    if got.len() != want.len() {
        failures.push(format!(
            "{what}: {} values, expected {}",
            got.len(),
            want.len()
        ));
        return;
    }
    if let Some((i, (g, w))) = got
        .iter()
        .zip(want)
        .enumerate()
        .find(|(_, (g, w))| (*g - *w).abs() > TOLERANCE)
    {
        failures.push(format!("{what}: value {i} is {g}, expected {w}"));
    }
}
