//! `cascade eval RUN_DIR --data DIR [--split NAME] [--json]`: the metrics of a run's latest
//! model on a dataset split: AUC, log loss, NE and calibration for ranking models; Recall, NDCG
//! and HitRate @K with the popularity baseline for two-tower models.

use anyhow::Context;
use cascade_data::DatasetManifest;
use cascade_dist::SingleProcess;
use cascade_train::{
    Catalog, EvalInput, TrainModel, eval_json, evaluate_retrieval, load_run, predict,
};
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
        predict(&mut run.model, &input, transform, policy, &SingleProcess)
    })??;
    Ok((preds, split, step))
}

/// Runs `cascade eval`.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let two_tower = {
        let config =
            cascade_train::TrainConfig::load(&args.run_dir.join(cascade_train::CONFIG_FILE), &[]);
        matches!(config, Ok(c) if c.model.kind == cascade_train::config::ModelKind::TwoTower)
    };
    if two_tower {
        return run_retrieval(args);
    }
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

/// `cascade eval` of a two-tower run: retrieval metrics against exact top-K over every item,
/// the user's training items excluded, beside the popularity baseline; plus AUC and log loss
/// when the model was trained with the BCE loss.
fn run_retrieval(args: EvalArgs) -> anyhow::Result<()> {
    let mut run = load_run(&args.run_dir)?;
    let (data, split) = data_and_split(&run.config, args.data, args.split)?;
    let step = run.step;
    let config = run.config.clone();
    let ks = config.two_tower.clone().unwrap_or_default().eval_k;
    let (retrieval, binary) = run.install(|run| -> anyhow::Result<_> {
        let d = &config.data;
        let binary = match run.model.logits_available() {
            true => {
                let input = EvalInput {
                    data: &data,
                    split: &split,
                    batch_size: d.batch_size,
                    workers: d.loader_threads,
                };
                Some(
                    predict(
                        &mut run.model,
                        &input,
                        d.dense_transform,
                        d.non_finite,
                        &SingleProcess,
                    )?
                    .metrics(),
                )
            }
            false => None,
        };
        let TrainModel::TwoTower(model) = &mut run.model else {
            anyhow::bail!("the run's checkpoint is not a two-tower model");
        };
        let catalog = Catalog::scan(&data, &d.train_split, Some(&split), model.spec())?;
        Ok((evaluate_retrieval(model, &catalog, &ks)?, binary))
    })??;
    let mut out = match &binary {
        Some(m) => eval_json(Some(&split), m),
        None => serde_json::json!({ "split": split }),
    };
    if let Some(map) = out.as_object_mut() {
        map.extend(retrieval.json());
        map.insert("step".into(), step.into());
    }
    if args.json {
        println!("{out}");
    } else {
        println!(
            "{split} ({} users, {} items, model at step {step}):",
            retrieval.users, retrieval.items
        );
        for (k, m) in &retrieval.model {
            let p = &retrieval.popularity[k];
            println!(
                "  @{k:<4} recall {:.4} (popularity {:.4})  ndcg {:.4} ({:.4})  hitrate {:.4} ({:.4})",
                m.recall, p.recall, m.ndcg, p.ndcg, m.hit_rate, p.hit_rate
            );
        }
        if let Some(m) = binary {
            println!("  auc {:.4}  logloss {:.4}", m.auc, m.logloss);
        }
    }
    Ok(())
}
