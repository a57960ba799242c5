//! Times Cascade's streaming reader over a dataset from `gen_dlrm_mds`: shuffled batches on one
//! rank, for whole epochs, and prints samples per second as one JSON line.

use cascade_data::{OpenOptions, ReaderConfig, ShuffleConfig, StreamingDataset};
use clap::Parser;
use std::time::Instant;

/// Command-line options.
#[derive(Parser)]
struct Args {
    /// Dataset folder (holding `cascade.json`) or URL.
    #[arg(long)]
    root: String,
    /// Split to read.
    #[arg(long, default_value = "train")]
    split: String,
    /// Samples per batch.
    #[arg(long, default_value_t = 4096)]
    batch_size: usize,
    /// Loader threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Shuffle seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Epochs to read (timed together).
    #[arg(long, default_value_t = 1)]
    epochs: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (manifest, ds) =
        StreamingDataset::open_split(&args.root, &args.split, &OpenOptions::default())?;
    let spec = ds.batch_spec(&manifest)?;
    let config = ReaderConfig {
        batch_size: args.batch_size,
        workers: args.workers,
        ..ReaderConfig::default()
    };
    let shuffle = ShuffleConfig {
        seed: args.seed,
        ..ShuffleConfig::default()
    };
    let started = Instant::now();
    let mut samples = 0u64;
    let mut checksum = 0f64;
    for epoch in 0..args.epochs {
        for batch in ds.batches(&spec, &config, &ds.start_state(shuffle, epoch))? {
            let batch = batch?;
            samples += batch.len as u64;
            // Touch every column so that no work can be skipped.
            checksum += f64::from(batch.labels.iter().sum::<f32>())
                + f64::from(batch.dense.iter().sum::<f32>())
                + batch.sparse.ids().iter().map(|&id| id as f64).sum::<f64>();
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    cascade_bench::report(serde_json::json!({
        "tool": "cascade",
        "samples": samples,
        "seconds": seconds,
        "samples_per_s": samples as f64 / seconds,
        "batch_size": args.batch_size,
        "workers": args.workers,
        "checksum": checksum,
    }));
    Ok(())
}
