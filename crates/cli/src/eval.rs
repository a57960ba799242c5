//! `cascade eval RUN_DIR --data DIR [--split NAME] [--json]`: the metrics of a run's latest
//! model on a dataset split.

use anyhow::Context;
use cascade_data::DatasetManifest;
use cascade_train::{EvalInput, eval_json, load_run, predict};
use clap::Args;
use std::path::{Path, PathBuf};

/// Arguments of `cascade eval`.
#[derive(Args)]
pub struct EvalArgs {
    /// Run folder (from `cascade train`).
    pub run_dir: PathBuf,
    /// Dataset folder (with cascade.json); default: the run's data.path.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Split to evaluate; default: the run's eval split, else val, else test.
    #[arg(long, value_name = "NAME")]
    pub split: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The dataset folder and split to read, from the arguments and the run's configuration.
pub fn data_and_split(
    config: &cascade_train::TrainConfig,
    data: Option<PathBuf>,
    split: Option<String>,
) -> anyhow::Result<(PathBuf, String)> {
    let data = data
        .or_else(|| config.data.path.clone())
        .context("no dataset: pass --data DIR (the run's configuration names none)")?;
    let split = match split {
        Some(s) => s,
        None => {
            let manifest = DatasetManifest::load(&data)?;
            cascade_train::eval_split(config, &manifest).with_context(|| {
                format!("{} has no val or test split; pass --split", data.display())
            })?
        }
    };
    Ok((data, split))
}

/// Reads the run and the split, and returns the predictions with the step they came from.
pub fn predictions(
    run_dir: &Path,
    data: Option<PathBuf>,
    split: Option<String>,
) -> anyhow::Result<(cascade_train::Predictions, String, u64)> {
    let mut run = load_run(run_dir)?;
    let (data, split) = data_and_split(&run.config, data, split)?;
    let step = run.step;
    let preds = run.install(|run| {
        let d = &run.config.data;
        let input = EvalInput {
            data: &data,
            split: &split,
            batch_size: d.batch_size,
            workers: d.loader_threads,
        };
        let (transform, policy) = (d.dense_transform, d.non_finite);
        predict(&mut run.model, &input, transform, policy)
    })??;
    Ok((preds, split, step))
}

/// Runs `cascade eval`.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let (preds, split, step) = predictions(&args.run_dir, args.data, args.split)?;
    let m = preds.metrics();
    if args.json {
        let mut out = eval_json(Some(&split), &m);
        out["step"] = step.into();
        println!("{out}");
    } else {
        println!(
            "{split} ({} samples, model at step {step}): auc {:.4}  logloss {:.4}  ne {:.4}  \
             calibration {:.3}",
            m.samples, m.auc, m.logloss, m.ne, m.calibration
        );
    }
    Ok(())
}
