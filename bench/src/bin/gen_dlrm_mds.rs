//! Writes a DLRM-shaped Cascade dataset (split `train`, zstd-compressed MDS shards, plus
//! `cascade.json`) for the reader benchmark, so that Cascade and mosaicml-streaming read the
//! same files.

use cascade_bench::dlrm;
use cascade_mds::{Compression, MdsWriter, WriterOptions};
use clap::Parser;
use std::path::PathBuf;
use std::time::Instant;

/// Command-line options.
#[derive(Parser)]
struct Args {
    /// Dataset folder to create (must not hold a dataset yet).
    #[arg(long)]
    out: PathBuf,
    /// Samples to write.
    #[arg(long, default_value_t = 1_000_000)]
    samples: u64,
    /// Most uncompressed bytes per shard (Mosaic's default is 64 MiB).
    #[arg(long, default_value_t = 1 << 26)]
    size_limit: u64,
    /// Seed of the synthetic values.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let options = WriterOptions {
        compression: Some(Compression::Zstd(None)),
        hashes: Vec::new(),
        size_limit: args.size_limit,
    };
    let mut writer = MdsWriter::create(&args.out.join(dlrm::SPLIT), dlrm::columns()?, options)?;
    let mut generator = dlrm::Generator::new(args.seed);
    for _ in 0..args.samples {
        let s = generator.next_sample();
        writer.write_encoded(&[&s.dense, &s.label, &s.sparse])?;
    }
    let index = writer.finish()?;
    dlrm::manifest(args.samples).save(&args.out)?;
    cascade_bench::report(serde_json::json!({
        "tool": "gen_dlrm_mds",
        "samples": args.samples,
        "shards": index.shards.len(),
        "seconds": started.elapsed().as_secs_f64(),
    }));
    Ok(())
}
