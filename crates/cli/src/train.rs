//! `cascade train CONFIG [--data DIR] [--out RUN_DIR] [--set key=value]...` and
//! `cascade train --resume RUN_DIR`: train a ranking model, or continue an interrupted run.

use anyhow::Context;
use cascade_train::TrainConfig;
use clap::Args;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// Arguments of `cascade train`.
#[derive(Args)]
pub struct TrainArgs {
    /// Training configuration (TOML).
    #[arg(required_unless_present = "resume")]
    pub config: Option<PathBuf>,
    /// Dataset folder (with cascade.json); overrides data.path of the configuration.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Run folder to create; default runs/<config name>-<unix time>.
    #[arg(long, value_name = "RUN_DIR")]
    pub out: Option<PathBuf>,
    /// Override one configuration key, e.g. --set train.epochs=3 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Continue the run in this folder from its latest checkpoint.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["config", "data", "out", "set"])]
    pub resume: Option<PathBuf>,
}

/// Runs `cascade train`; prints the run's summary as JSON.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let (summary, run_dir) = match (args.resume, args.config) {
        (Some(run_dir), _) => (cascade_train::resume(&run_dir)?, run_dir),
        (None, Some(path)) => {
            let mut config = TrainConfig::load(&path, &args.set)?;
            if let Some(data) = args.data {
                config.data.path = Some(data);
            }
            let run_dir = match args.out {
                Some(out) => out,
                None => default_run_dir(&path),
            };
            (cascade_train::train(&config, &run_dir)?, run_dir)
        }
        (None, None) => anyhow::bail!("give a configuration file or --resume RUN_DIR"),
    };
    let text = serde_json::to_string_pretty(&summary).context("summary")?;
    println!("{text}");
    eprintln!("run folder: {}", run_dir.display());
    Ok(())
}

/// `runs/<config file stem>-<unix seconds>`.
fn default_run_dir(config: &std::path::Path) -> PathBuf {
    let stem = config
        .file_stem()
        .map_or("run".into(), |s| s.to_string_lossy().into_owned());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    PathBuf::from("runs").join(format!("{stem}-{now}"))
}
