//! Reopening a finished or interrupted run: its configuration and the model of its latest
//! checkpoint, for evaluation and prediction.

use crate::checkpoint;
use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::model::TrainModel;
use crate::run_dir::CONFIG_FILE;
use std::path::{Path, PathBuf};

/// A run's configuration and latest model.
#[derive(Debug)]
pub struct LoadedRun {
    /// The run's resolved configuration.
    pub config: TrainConfig,
    /// The model of the latest checkpoint.
    pub model: TrainModel,
    /// The checkpoint folder it came from.
    pub checkpoint: PathBuf,
    /// Training steps the model had taken.
    pub step: u64,
}

impl LoadedRun {
    /// Runs `f` on a thread pool with the run's configured thread count.
    pub fn install<T: Send>(&mut self, f: impl FnOnce(&mut Self) -> T + Send) -> Result<T> {
        let pool = crate::trainer::pool(self.config.train.threads)?;
        Ok(pool.install(|| f(self)))
    }
}

/// Opens the run folder `run_dir`: its `config.toml` and latest checkpoint, which must hold
/// a model of the kind the configuration names.
pub fn load_run(run_dir: &Path) -> Result<LoadedRun> {
    if !run_dir.is_dir() {
        return Err(TrainError::Invalid(format!(
            "run folder {} does not exist",
            run_dir.display()
        )));
    }
    if !run_dir.join(CONFIG_FILE).is_file() {
        return Err(TrainError::Invalid(format!(
            "{} is not a run folder: it has no {CONFIG_FILE} (runs are made by `cascade train`)",
            run_dir.display()
        )));
    }
    let config = TrainConfig::load(&run_dir.join(CONFIG_FILE), &[])?;
    let dir = checkpoint::latest(run_dir)?.ok_or_else(|| {
        TrainError::Invalid(format!("{} has no checkpoint yet", run_dir.display()))
    })?;
    let want = config.model.kind;
    let model = TrainModel::load(&checkpoint::model_dir(&dir), want)?;
    if model.kind_name() != want.name() {
        return Err(TrainError::Invalid(format!(
            "checkpoint {} holds a {} model, but the run's {CONFIG_FILE} says model.kind = \"{}\"",
            dir.display(),
            model.kind_name(),
            want.name()
        )));
    }
    let step = checkpoint::load_state(&dir)?.step;
    Ok(LoadedRun {
        config,
        model,
        checkpoint: dir,
        step,
    })
}
