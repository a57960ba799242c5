//! `cascade predict RUN_DIR --data DIR [--split NAME] --out FILE`: a run's click probability
//! for every sample of a split, as CSV (`index,probability,label`), written atomically.

use crate::eval::predictions;
use cascade_train::write_atomic;
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Arguments of `cascade predict`.
#[derive(Args)]
pub struct PredictArgs {
    /// Run folder (from `cascade train`).
    pub run_dir: PathBuf,
    /// Dataset folder (with cascade.json); default: the run's data.path.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Split to predict; default: the run's eval split, else val, else test.
    #[arg(long, value_name = "NAME")]
    pub split: Option<String>,
    /// CSV file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Runs `cascade predict`.
pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let (preds, split, _) = predictions(&args.run_dir, args.data, args.split)?;
    let mut csv = String::with_capacity(preds.indices.len() * 24 + 32);
    csv.push_str("index,probability,label\n");
    for ((i, p), y) in preds
        .indices
        .iter()
        .zip(&preds.probabilities)
        .zip(&preds.labels)
    {
        // Writing into a String cannot fail.
        let _ = writeln!(csv, "{i},{p},{y}");
    }
    write_atomic(&args.out, csv.as_bytes())?;
    eprintln!(
        "wrote {} predictions of split {split} to {}",
        preds.indices.len(),
        args.out.display()
    );
    Ok(())
}
