//! `cascade export RUN_DIR [--data DIR] [--out DIR]`: a two-tower run's user and item
//! embeddings with their raw ids, as Parquet and MDS.

use cascade_serve::Recommender;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `cascade export`.
#[derive(Args)]
pub struct ExportArgs {
    /// The two-tower run folder.
    pub run_dir: PathBuf,
    /// Dataset folder; default: the run's data.path.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Folder to write (replaced when it exists); default RUN_DIR/embeddings.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs `cascade export`.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let out = args.out.unwrap_or_else(|| args.run_dir.join("embeddings"));
    let recommender = Recommender::open(&args.run_dir, args.data.as_deref())?;
    let summary = recommender.export(&out)?;
    println!(
        "exported {} users and {} items ({}-wide, fingerprint {}) to {}",
        summary.users,
        summary.items,
        summary.dim,
        summary.fingerprint,
        summary.out.display()
    );
    Ok(())
}
