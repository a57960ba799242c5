//! `cascade export RUN_DIR [--data DIR] [--out DIR]`: a two-tower run's user and item
//! embeddings with their raw ids, as Parquet and MDS; uploaded as the MLflow run's `embeddings`
//! artifact when the run is tracked there.

use cascade_serve::Recommender;
use clap::Args;
use std::path::{Path, PathBuf};

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
    export_and_upload(&args.run_dir, args.data.as_deref(), &out)
}

/// Exports the two-tower run `run_dir`'s embeddings into `out` and, when the run is linked to
/// an MLflow run, uploads them as its `embeddings` artifact (queued in the run folder first, so
/// an unreachable server loses nothing: `cascade runs sync` sends them later).
pub fn export_and_upload(run_dir: &Path, data: Option<&Path>, out: &Path) -> anyhow::Result<()> {
    let recommender = Recommender::open(run_dir, data)?;
    let summary = recommender.export(out)?;
    println!(
        "exported {} users and {} items ({}-wide, fingerprint {}) to {}",
        summary.users,
        summary.items,
        summary.dim,
        summary.fingerprint,
        summary.out.display()
    );
    let auth = cascade_track::mlflow::Auth::from_env();
    match cascade_track::upload_artifact(run_dir, out, "embeddings", auth) {
        Ok(Some(sync)) => eprintln!(
            "uploaded as the artifact embeddings/ of MLflow run {}",
            sync.run_id
        ),
        Ok(None) => {}
        Err(error) => anyhow::bail!(
            "the embeddings are written, but not uploaded to MLflow: {error}; send them with \
             `cascade runs sync {}`",
            run_dir.display()
        ),
    }
    Ok(())
}
