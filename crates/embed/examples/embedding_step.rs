//! Micro-benchmark of one training step of the embedding layer at Criteo/DLRM shape:
//! 26 tables of 100,000 rows x 64 dims, batch 2048, on 2 threads.
//!
//! It times the pooled lookup and the fused backward + optimizer update (row-wise Adagrad and
//! SGD), first with one id per table per sample, then with multi-hot bags of 1 to 10 ids.
//! Ids are drawn log-uniformly over the rows, a Zipf-like skew (row `r` is drawn with
//! probability roughly proportional to `1 / (r + 1)`), so popular rows repeat within a batch
//! as they do in real click logs.
//!
//! Run with `cargo run --release -p cascade-embed --example embedding_step`.

use std::time::Instant;

use cascade_core::KeyedJagged;
use cascade_embed::{EmbeddingCollection, Optimizer, Pooled, TableConfig};

const TABLES: usize = 26;
const ROWS: u64 = 100_000;
const DIM: usize = 64;
const BATCH: usize = 2048;
const THREADS: usize = 2;
/// Distinct batches cycled through, so that timings do not come from one hot set of rows.
const DISTINCT_BATCHES: usize = 4;
const WARMUP: usize = 3;
const TIMED: usize = 15;

/// A xorshift64* stream: enough randomness for synthetic ids and gradients.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A log-uniform (Zipf-like) row in `0..rows`.
    fn zipf_row(&mut self, rows: u64) -> u64 {
        let r = ((rows as f64 + 1.0).ln() * self.unit()).exp() as u64;
        r.saturating_sub(1).min(rows - 1)
    }
}

fn feature(t: usize) -> String {
    format!("cat_{t}")
}

/// A batch with bags of `min_ids..=max_ids` ids for every table.
fn batch(rng: &mut Rng, min_ids: u64, max_ids: u64) -> KeyedJagged {
    let mut ids = Vec::new();
    let mut offsets = vec![0];
    for _ in 0..TABLES {
        for _ in 0..BATCH {
            let n = min_ids + rng.next() % (max_ids - min_ids + 1);
            ids.extend((0..n).map(|_| rng.zipf_row(ROWS)));
            offsets.push(ids.len());
        }
    }
    let keys = (0..TABLES).map(feature).collect();
    KeyedJagged::new(keys, BATCH, ids, offsets, None).expect("offsets are built consistently")
}

/// Median of the timings, in milliseconds.
fn median_ms(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2] * 1e3
}

/// Times lookup and backward+update with `optimizer` over the given batches; returns the
/// median lookup and update times in milliseconds.
fn measure(optimizer: Optimizer, batches: &[KeyedJagged]) -> (f64, f64) {
    let configs = (0..TABLES)
        .map(|t| TableConfig::new(format!("t{t}"), ROWS, DIM, &[&feature(t)]))
        .collect();
    let mut collection = EmbeddingCollection::new(configs, optimizer).expect("valid configuration");
    let mut rng = Rng(0x5eed);
    let grad: Vec<f32> = (0..BATCH * collection.width())
        .map(|_| (rng.unit() as f32 - 0.5) * 1e-2)
        .collect();
    let mut out = Pooled::new();
    let (mut lookup, mut update) = (Vec::new(), Vec::new());
    for i in 0..WARMUP + TIMED {
        let kj = &batches[i % batches.len()];
        let start = Instant::now();
        collection.forward(kj, &mut out).expect("ids are in range");
        let looked_up = Instant::now();
        collection
            .backward_update(kj, &grad)
            .expect("gradient has the output's shape");
        let updated = Instant::now();
        if i >= WARMUP {
            lookup.push((looked_up - start).as_secs_f64());
            update.push((updated - looked_up).as_secs_f64());
        }
    }
    (median_ms(lookup), median_ms(update))
}

fn main() {
    rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .build_global()
        .expect("the global thread pool is configured once");
    println!(
        "{TABLES} tables x {ROWS} rows x {DIM} dims, batch {BATCH}, {THREADS} threads; \
         median of {TIMED} steps after {WARMUP} warm-up steps"
    );
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for (label, min_ids, max_ids) in [("one-hot", 1, 1), ("multi-hot 1-10", 1, 10)] {
        let batches: Vec<KeyedJagged> = (0..DISTINCT_BATCHES)
            .map(|_| batch(&mut rng, min_ids, max_ids))
            .collect();
        let ids_per_batch = batches[0].ids().len();
        for (name, optimizer) in [
            ("row-wise adagrad", Optimizer::rowwise_adagrad(0.01)),
            (
                "sgd",
                Optimizer::Sgd {
                    lr: 0.01,
                    weight_decay: 0.0,
                },
            ),
        ] {
            let (lookup, update) = measure(optimizer, &batches);
            println!(
                "{label:>15} ({ids_per_batch} ids/batch) | lookup {lookup:7.2} ms | \
                 backward + {name} update {update:7.2} ms"
            );
        }
    }
}
