//! Cascade's side of `bench/two_tower_vs_pytorch.sh`: times the training step of
//! `cascade_model::TwoTowerModel` (both towers forward, the loss, backward with the fused
//! embedding updates, the dense Adam step) on random batches generated before timing, as the
//! PyTorch peer `bench/peers/two_tower_pytorch.py speed` does, and prints one JSON line.
//!
//! The shape is the issue's: ML-1M-sized id tables (6 040 users, 3 706 items), 64-wide id
//! embeddings, towers 64-64, batch 4096; row-wise Adagrad on the tables, Adam on the towers.

use cascade_bench::timing::{peak_rss, time_steps};
use cascade_core::{Batch, KeyedJagged};
use cascade_embed::{Optimizer, Pooling, Storage};
use cascade_model::{
    DenseOptimizerKind, DenseOptimizerSpec, TowerFeature, TwoTowerLoss, TwoTowerModel, TwoTowerSpec,
};
use clap::{Parser, ValueEnum};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Random batches cycled through while timing (the peer keeps as many).
const BATCHES: usize = 8;

/// The training objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Loss {
    /// Pointwise binary cross-entropy on a random label.
    Bce,
    /// In-batch sampled softmax with the log-Q correction.
    Softmax,
}

/// Command-line options; the defaults are the shape.
#[derive(Parser)]
struct Args {
    /// Rows of the user id table.
    #[arg(long, default_value_t = 6040)]
    users: u64,
    /// Rows of the item id table.
    #[arg(long, default_value_t = 3706)]
    items: u64,
    /// Width of the id embeddings.
    #[arg(long, default_value_t = 64)]
    dim: usize,
    /// Tower MLP widths, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "64,64")]
    tower: Vec<usize>,
    /// Samples per step.
    #[arg(long, default_value_t = 4096)]
    batch: usize,
    /// Objective.
    #[arg(long, value_enum, default_value_t = Loss::Bce)]
    loss: Loss,
    /// Learning rate of both optimizers.
    #[arg(long, default_value_t = 0.01)]
    lr: f32,
    /// Score by cosine (both embeddings normalised) instead of the dot product.
    #[arg(long)]
    cosine: bool,
    /// Scores are divided by this.
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// Compute threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 30)]
    steps: usize,
}

fn spec(args: &Args) -> TwoTowerSpec {
    let feature = |name: &str, rows| TowerFeature {
        name: name.into(),
        rows,
        dim: args.dim,
        pooling: Pooling::Sum,
    };
    TwoTowerSpec {
        user_features: vec![feature("user", args.users)],
        item_features: vec![feature("item", args.items)],
        tower_mlp: args.tower.clone(),
        cosine: args.cosine,
        temperature: args.temperature,
        loss: match args.loss {
            Loss::Bce => TwoTowerLoss::Bce,
            Loss::Softmax => TwoTowerLoss::Softmax,
        },
        log_q_correction: args.loss == Loss::Softmax,
        remove_accidental_hits: args.loss == Loss::Softmax,
        storage: Storage::F32,
        embedding_optimizer: Optimizer::rowwise_adagrad(args.lr),
        dense_optimizer: DenseOptimizerSpec {
            kind: DenseOptimizerKind::Adam,
            learning_rate: args.lr,
            momentum: 0.0,
            clip_norm: 0.0,
        },
        seed: 0,
    }
}

/// A batch of uniform random user and item ids (never 0, the unknown row) and labels.
fn random_batch(args: &Args, rng: &mut Xoshiro256PlusPlus) -> anyhow::Result<Batch> {
    let n = args.batch;
    let mut ids: Vec<u64> = (0..n).map(|_| rng.random_range(1..args.users)).collect();
    ids.extend((0..n).map(|_| rng.random_range(1..args.items)));
    let sparse = KeyedJagged::new(
        vec!["user".into(), "item".into()],
        n,
        ids,
        (0..=2 * n).collect(),
        None,
    )?;
    Ok(Batch {
        len: n,
        sparse,
        labels: (0..n).map(|_| f32::from(rng.random::<bool>())).collect(),
        ..Batch::default()
    })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()?;
    let mut model = TwoTowerModel::new(spec(&args))?;
    let uniform = 1.0 / (args.items - 1) as f64;
    let mut frequencies = vec![uniform; args.items as usize];
    frequencies[0] = 0.0;
    model.set_item_frequencies(&frequencies)?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let batches = (0..BATCHES)
        .map(|_| random_batch(&args, &mut rng))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let t = pool.install(|| {
        time_steps(&batches, args.warmup, args.steps, |b| {
            Ok(model.train_step(b)?)
        })
    })?;
    let (seconds, min_seconds, loss) = (t.median, t.min, t.loss);
    cascade_bench::report(serde_json::json!({
        "tool": "cascade",
        "loss_kind": format!("{:?}", args.loss).to_lowercase(),
        "samples_per_s": args.batch as f64 / seconds,
        "ms_per_step": seconds * 1e3,
        "min_ms_per_step": min_seconds * 1e3,
        "loss": loss,
        "peak_rss_bytes": peak_rss()?,
    }));
    Ok(())
}
