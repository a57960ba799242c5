//! `cascade train CONFIG [--data DIR] [--out RUN_DIR] [--set key=value]...` and
//! `cascade train --resume RUN_DIR [--set key=value]...`: train a ranking model, or continue an
//! interrupted run, tracked in its run folder and — with `--tracking-uri` or
//! `MLFLOW_TRACKING_URI` — on an MLflow server. Ctrl-C stops after the current step with a
//! checkpoint and the run marked KILLED; a second Ctrl-C exits at once.

use anyhow::Context;
use cascade_train::{DEFAULT_EXPERIMENT, RunOptions, TrainConfig};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable MLflow's clients read the experiment name from.
const EXPERIMENT_ENV: &str = "MLFLOW_EXPERIMENT_NAME";

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
    /// Override one configuration key, e.g. --set train.epochs=3 (repeatable). With --resume,
    /// a value that differs from the run's is refused: a run's params cannot change.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Continue the run in this folder from its latest checkpoint.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["config", "data", "out", "experiment"])]
    pub resume: Option<PathBuf>,
    /// How the run is tracked.
    #[command(flatten)]
    pub tracking: TrackingArgs,
}

/// The tracking options of `cascade train`.
#[derive(Args)]
pub struct TrackingArgs {
    /// MLflow tracking server, e.g. http://127.0.0.1:5000; default: the MLFLOW_TRACKING_URI
    /// environment variable. Without one, the run is tracked in its run folder only.
    #[arg(long, value_name = "URL")]
    pub tracking_uri: Option<String>,
    /// MLflow experiment of a new run; default: the MLFLOW_EXPERIMENT_NAME environment
    /// variable, else `Default`.
    #[arg(long, value_name = "NAME")]
    pub experiment: Option<String>,
    /// Register the final checkpoint as a new version of this MLflow model.
    #[arg(long, value_name = "NAME")]
    pub register_model: Option<String>,
    /// Point this alias of the registered model (e.g. `champion`) at the new version.
    #[arg(long, value_name = "ALIAS", requires = "register_model")]
    pub model_alias: Option<String>,
    /// Fail when the tracking server cannot be reached at start, instead of continuing with
    /// local tracking only.
    #[arg(long)]
    pub tracking_required: bool,
}

/// Runs `cascade train`; prints the run's summary as JSON, and where its folder, report and
/// MLflow run are on standard error.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let options = run_options(args.tracking, args.config.as_deref())?;
    stop_on_ctrl_c(options.stop.clone())?;
    let (trained, run_dir) = match (args.resume, args.config) {
        (Some(run_dir), _) => (
            cascade_train::resume_with(&run_dir, &args.set, &options)?,
            run_dir,
        ),
        (None, Some(path)) => {
            let mut config = TrainConfig::load(&path, &args.set)?;
            if let Some(data) = args.data {
                config.data.path = Some(data);
            }
            let run_dir = match (args.out, cascade_dist::launcher_world_size()) {
                (Some(out), _) => out,
                (None, Some((ranks, _))) if ranks > 1 => anyhow::bail!(
                    "give --out RUN_DIR: all {ranks} ranks must write into the same run folder, \
                     on a filesystem they share"
                ),
                (None, _) => default_run_dir(&path),
            };
            (
                cascade_train::train_with(&config, &run_dir, &options)?,
                run_dir,
            )
        }
        (None, None) => anyhow::bail!("give a configuration file or --resume RUN_DIR"),
    };
    if trained.rank != 0 {
        // Rank 0 reports on the run.
        return Ok(());
    }
    let text = serde_json::to_string_pretty(&trained.summary).context("summary")?;
    println!("{text}");
    let tracking = &trained.tracking;
    eprintln!("run folder: {}", run_dir.display());
    eprintln!(
        "report: {}",
        run_dir.join(cascade_track::REPORT_FILE).display()
    );
    if let (Some(run_id), Some(uri)) = (&tracking.mlflow_run_id, &options.tracker.tracking_uri) {
        eprintln!("MLflow run: {run_id} on {uri}");
    }
    for version in &tracking.registered {
        eprintln!(
            "registered model: {} version {}",
            version.name, version.version
        );
    }
    // A retrieval run tracked in MLflow also carries its exported embeddings there.
    if tracking.mlflow_run_id.is_some()
        && tracking.unsent == 0
        && trained.summary["model"] == "two_tower"
    {
        crate::export::export_and_upload(&run_dir, None, &run_dir.join("embeddings"))?;
    }
    if tracking.unsent > 0 && options.tracker.tracking_uri.is_some() {
        eprintln!(
            "warning: {} tracking operations did not reach the MLflow server; send them with `cascade runs sync {}`",
            tracking.unsent,
            run_dir.display()
        );
    }
    Ok(())
}

/// The tracking options from the flags and the environment.
fn run_options(args: TrackingArgs, config: Option<&Path>) -> anyhow::Result<RunOptions> {
    let mut options = RunOptions::local();
    options.tracker.tracking_uri =
        cascade_track::resolve_tracking_uri(args.tracking_uri.as_deref());
    if args.tracking_required && options.tracker.tracking_uri.is_none() {
        anyhow::bail!(
            "--tracking-required needs a tracking server: pass --tracking-uri URL or set {}",
            cascade_track::TRACKING_URI_ENV
        );
    }
    options.tracker.auth = cascade_track::mlflow::Auth::from_env();
    options.tracker.tracking_required = args.tracking_required;
    options.experiment = args
        .experiment
        .or_else(|| std::env::var(EXPERIMENT_ENV).ok())
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_EXPERIMENT.to_string());
    options.git_commit = config.and_then(git_commit);
    options.register_model = args.register_model;
    options.model_alias = args.model_alias;
    Ok(options)
}

/// The commit checked out in the git repository holding `config`, if it is in one.
fn git_commit(config: &Path) -> Option<String> {
    let dir = config
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    let commit = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !commit.is_empty()).then_some(commit)
}

/// Ctrl-C sets `stop` (training ends after the current step); a second one exits at once.
fn stop_on_ctrl_c(stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    ctrlc::set_handler(move || {
        if stop.swap(true, Ordering::SeqCst) {
            eprintln!("interrupted again: exiting now, without a final checkpoint");
            std::process::exit(130);
        }
        eprintln!(
            "interrupted: stopping after this step with a checkpoint; the run will be marked KILLED (Ctrl-C again exits at once)"
        );
    })
    .context("cannot install the Ctrl-C handler")
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
