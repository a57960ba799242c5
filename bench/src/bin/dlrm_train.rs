//! Cascade's side of `bench/dlrm_vs_pytorch.sh`: times the DLRM training step of
//! `cascade_model::RankingModel` (forward, binary cross-entropy, backward with the fused
//! embedding update, dense step) and prints one JSON line.
//!
//! Two modes. By default the batches are random and generated before timing (uniform ids, one
//! to `--max-ids` ids per bag, random dense values and labels), exactly as the PyTorch peer
//! `bench/peers/dlrm_pytorch.py` does, so the figure is the training step alone. With `--data`
//! the batches come from a `gen_dlrm_mds` dataset through the streaming reader (shuffled,
//! decompressed in the background) and the figure is end to end: reading, turning the one
//! 26-id `sparse` column into 26 one-id features, and training.
//!
//! The report also gives the peak resident memory (`VmHWM`) next to what the model must hold:
//! embedding rows, their optimizer state, the dense parameters with their gradients and
//! optimizer state, and the input batches.

use anyhow::{Context, bail};
use cascade_bench::timing::{peak_rss, time_steps};
use cascade_core::{Batch, KeyedJagged};
use cascade_data::{OpenOptions, ReaderConfig, ShuffleConfig, StreamingDataset};
use cascade_embed::{Optimizer, Pooling, Storage};
use cascade_model::{
    DenseOptimizerKind, DenseOptimizerSpec, ModelKind, RankingModel, RankingSpec, SparseInput,
};
use cascade_nn::Precision;
use clap::{Parser, ValueEnum};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::time::Instant;

/// Random batches cycled through while timing (the peer keeps as many).
const BATCHES: usize = 8;

/// The sparse optimizer of the embedding tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EmbeddingOptimizer {
    /// Plain SGD, the reference DLRM's optimizer.
    Sgd,
    /// Row-wise Adagrad (one accumulator per row), TorchRec's default.
    #[value(name = "rowwise_adagrad")]
    RowwiseAdagrad,
}

/// Command-line options; the defaults are the reference configuration.
#[derive(Parser)]
struct Args {
    /// Dense features per sample.
    #[arg(long, default_value_t = 13)]
    dense: usize,
    /// Embedding tables, one sparse feature each.
    #[arg(long, default_value_t = 26)]
    tables: usize,
    /// Rows per table.
    #[arg(long, default_value_t = 100_000)]
    rows: u64,
    /// Embedding width.
    #[arg(long, default_value_t = 64)]
    dim: usize,
    /// Fewest ids per bag (random data).
    #[arg(long, default_value_t = 1)]
    min_ids: usize,
    /// Most ids per bag (random data).
    #[arg(long, default_value_t = 1)]
    max_ids: usize,
    /// Samples per step.
    #[arg(long, default_value_t = 2048)]
    batch: usize,
    /// Learning rate of both optimizers.
    #[arg(long, default_value_t = 0.01)]
    lr: f32,
    /// Sparse optimizer of the tables (the dense layers always use SGD).
    #[arg(long, value_enum, default_value_t = EmbeddingOptimizer::Sgd)]
    optimizer: EmbeddingOptimizer,
    /// Precision of the MLPs' matrix products: `f32` or `bf16`.
    #[arg(long, default_value = "f32", value_parser = cascade_bench::parse_precision)]
    precision: Precision,
    /// Compute threads (the Rayon pool the step runs on).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 30)]
    steps: usize,
    /// Read batches from this `gen_dlrm_mds` dataset instead of random in-memory batches.
    #[arg(long)]
    data: Option<String>,
    /// Loader threads of the streaming reader (with `--data`).
    #[arg(long, default_value_t = 1)]
    workers: usize,
}

/// The reference DLRM for `args`: bottom MLP to `dim`, dot interaction without self pairs,
/// top MLP 512-256-1, SGD on the dense layers.
fn spec(args: &Args) -> RankingSpec {
    let embedding_optimizer = match args.optimizer {
        EmbeddingOptimizer::Sgd => Optimizer::Sgd {
            lr: args.lr,
            weight_decay: 0.0,
        },
        EmbeddingOptimizer::RowwiseAdagrad => Optimizer::rowwise_adagrad(args.lr),
    };
    RankingSpec {
        kind: ModelKind::Dlrm,
        num_dense: args.dense,
        sparse: (0..args.tables)
            .map(|t| SparseInput {
                name: format!("t{t}"),
                rows: args.rows,
            })
            .collect(),
        embedding_dim: args.dim,
        bottom_mlp: vec![512, 256, args.dim],
        top_mlp: vec![512, 256, 1],
        interaction_self_pairs: false,
        cross_layers: 0,
        cross_rank: 0,
        pooling: Pooling::Sum,
        storage: Storage::F32,
        embedding_optimizer,
        dense_optimizer: DenseOptimizerSpec {
            kind: DenseOptimizerKind::Sgd,
            learning_rate: args.lr,
            momentum: 0.0,
            clip_norm: 0.0,
        },
        mlp_precision: args.precision,
        seed: 0,
    }
}

fn keys(tables: usize) -> Vec<String> {
    (0..tables).map(|t| format!("t{t}")).collect()
}

/// A batch of uniform random ids (bag lengths uniform in `min_ids..=max_ids`), dense values
/// and labels.
fn random_batch(args: &Args, rng: &mut Xoshiro256PlusPlus) -> anyhow::Result<Batch> {
    let n = args.batch;
    let dense = (0..n * args.dense)
        .map(|_| rng.random::<f32>() * 2.0 - 1.0)
        .collect();
    let mut ids = Vec::new();
    let mut offsets = vec![0];
    for _ in 0..args.tables * n {
        let len = rng.random_range(args.min_ids..=args.max_ids);
        ids.extend((0..len).map(|_| rng.random_range(0..args.rows)));
        offsets.push(ids.len());
    }
    let labels = (0..n).map(|_| f32::from(rng.random::<bool>())).collect();
    Ok(Batch {
        len: n,
        dense,
        num_dense: args.dense,
        sparse: KeyedJagged::new(keys(args.tables), n, ids, offsets, None)?,
        labels,
        indices: Vec::new(),
    })
}

/// Bytes an input batch holds.
fn batch_bytes(b: &Batch) -> usize {
    4 * (b.dense.len() + b.labels.len())
        + 8 * (b.sparse.ids().len() + b.sparse.offsets().len() + b.indices.len())
}

/// Turns a `gen_dlrm_mds` batch, whose one `sparse` feature holds each sample's `tables` ids
/// side by side, into `tables` one-id features, as the model's tables expect.
fn split_sparse(mut batch: Batch, tables: usize) -> anyhow::Result<Batch> {
    let n = batch.len;
    let packed = batch.sparse.ids();
    if packed.len() != n * tables {
        bail!(
            "expected {tables} ids per sample in the `sparse` column, found {} for {n} samples",
            packed.len()
        );
    }
    let mut ids = Vec::with_capacity(packed.len());
    for t in 0..tables {
        ids.extend((0..n).map(|s| packed[s * tables + t]));
    }
    let offsets = (0..=n * tables).collect();
    batch.sparse = KeyedJagged::new(keys(tables), n, ids, offsets, None)?;
    Ok(batch)
}

/// What a timed run measured.
struct Timing {
    /// Seconds per step: the median step in memory, the mean step from shards.
    seconds: f64,
    /// The fastest step (in memory; the mean from shards).
    min_seconds: f64,
    /// Bytes of the input batches held in memory.
    input_bytes: usize,
    /// Loss of the last step.
    loss: f32,
}

/// Timed steps on random batches in memory, one at a time.
fn in_memory(args: &Args, model: &mut RankingModel) -> anyhow::Result<Timing> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let batches = (0..BATCHES)
        .map(|_| random_batch(args, &mut rng))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bytes = batches.iter().map(batch_bytes).sum();
    let t = time_steps(&batches, args.warmup, args.steps, |b| {
        Ok(model.train_step(b)?)
    })?;
    Ok(Timing {
        seconds: t.median,
        min_seconds: t.min,
        input_bytes: bytes,
        loss: t.loss,
    })
}

/// Steps on batches streamed from `root` (one epoch at most, `warmup + steps` batches), timed
/// together from the first batch after the warm-up.
fn from_shards(args: &Args, root: &str, model: &mut RankingModel) -> anyhow::Result<Timing> {
    let (manifest, ds) = StreamingDataset::open_split(root, "train", &OpenOptions::default())?;
    let spec = ds.batch_spec(&manifest)?;
    let config = ReaderConfig {
        batch_size: args.batch,
        workers: args.workers,
        drop_last: true,
        ..ReaderConfig::default()
    };
    let state = ds.start_state(ShuffleConfig::default(), 0);
    let mut batches = ds.batches(&spec, &config, &state)?;
    let mut loss = 0.0;
    for _ in 0..args.warmup {
        let batch = batches
            .next()
            .context("the dataset ran out during warm-up")??;
        loss = model.train_step(&split_sparse(batch, args.tables)?)?;
    }
    let start = Instant::now();
    let mut steps = 0;
    for batch in batches.take(args.steps) {
        loss = model.train_step(&split_sparse(batch?, args.tables)?)?;
        steps += 1;
    }
    if steps == 0 {
        bail!("the dataset has no batches left after the warm-up");
    }
    let seconds = start.elapsed().as_secs_f64() / steps as f64;
    Ok(Timing {
        seconds,
        min_seconds: seconds,
        input_bytes: 0,
        loss,
    })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.min_ids == 0 || args.max_ids < args.min_ids || args.steps == 0 {
        bail!("need 1 <= --min-ids <= --max-ids and --steps >= 1");
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()?;
    let mut model = pool.install(|| RankingModel::new(spec(&args)))?;
    let timing = match &args.data {
        None => pool.install(|| in_memory(&args, &mut model))?,
        Some(root) => pool.install(|| from_shards(&args, root, &mut model))?,
    };
    let dense = model.dense_len();
    let dense_bytes = 4 * (2 * dense + model.optimizer().state().len());
    let model_bytes =
        model.embeddings().param_bytes() + model.embeddings().state_bytes() + dense_bytes as u64;
    let needed = model_bytes + timing.input_bytes as u64;
    let rss = peak_rss()?;
    cascade_bench::report(serde_json::json!({
        "tool": "cascade",
        "mode": if args.data.is_some() { "shards" } else { "in_memory" },
        "ms_per_step": timing.seconds * 1e3,
        "min_ms_per_step": timing.min_seconds * 1e3,
        "samples_per_s": args.batch as f64 / timing.seconds,
        "batch": args.batch,
        "tables": args.tables,
        "ids_per_bag": [args.min_ids, args.max_ids],
        "optimizer": format!("{:?}", args.optimizer),
        "precision": args.precision,
        "threads": args.threads,
        "final_loss": timing.loss,
        "peak_rss_bytes": rss,
        "model_and_batch_bytes": needed,
        "rss_over_needed": rss as f64 / needed as f64,
    }));
    Ok(())
}
