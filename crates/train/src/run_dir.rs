//! The run folder: a `cascade-track` run holding the resolved configuration, the params, the
//! metrics log, the summary, the checkpoints and the report, all in one place, and mirrored to
//! an MLflow server when one is configured.
//!
//! ```text
//! RUN_DIR/config.toml        the configuration as resolved (every default written out)
//! RUN_DIR/params.json        the configuration flattened to `section.key` params
//! RUN_DIR/metrics.jsonl      one JSON object per line: step, epoch, name, value, wall_time
//! RUN_DIR/summary.json       status, times, final metrics, and the training summary (`result`)
//! RUN_DIR/checkpoints/       see the checkpoint module
//! RUN_DIR/report.html        written when the run ends
//! ```
//!
//! Everything a run writes to its folder, other than checkpoints, goes through this module.

use crate::config::TrainConfig;
use crate::error::{Result, TrainError, io_at};
use crate::tracking::{RunOptions, config_params};
use cascade_track::{RunIdentity, Tracker};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the resolved configuration in a run folder.
pub const CONFIG_FILE: &str = "config.toml";
/// Name of the metrics log.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// Name of the final summary.
pub const SUMMARY_FILE: &str = "summary.json";

/// An open run folder.
pub struct RunDir {
    root: PathBuf,
    /// The run's tracker; none on ranks other than 0 of a distributed run, which write only
    /// their checkpoint shards.
    tracker: Option<Tracker>,
}

impl RunDir {
    /// Creates the run (the folder may exist but must not already hold one): writes the
    /// resolved configuration and the params, and starts tracking it.
    pub fn create(root: &Path, config: &TrainConfig, options: &RunOptions) -> Result<RunDir> {
        if root.join(CONFIG_FILE).exists() {
            return Err(TrainError::Invalid(format!(
                "{} already holds a run; continue it with --resume or choose another --out",
                root.display()
            )));
        }
        let identity = RunIdentity {
            name: root
                .file_name()
                .map_or("run".into(), |n| n.to_string_lossy().into_owned()),
            experiment: options.experiment.clone(),
            model_kind: config.model.kind.name().to_string(),
            git_commit: options.git_commit.clone(),
            source_name: "cascade train".to_string(),
        };
        let tracker = Tracker::start(
            &Self::tracker_options(root, options),
            &identity,
            &config.to_toml(),
            &config_params(config),
        )?;
        Ok(RunDir {
            root: root.to_path_buf(),
            tracker: Some(tracker),
        })
    }

    /// The run folder `root` as a rank other than 0 of a distributed run sees it: metrics,
    /// summary and tracking are rank 0's; this rank only writes its checkpoint shards there.
    pub fn follower(root: &Path) -> RunDir {
        RunDir {
            root: root.to_path_buf(),
            tracker: None,
        }
    }

    /// Reopens the run in `root` to continue it with `config`, whose params must be the ones
    /// the run was started with (a changed one is an error naming it, before anything is
    /// written).
    pub fn open(root: &Path, config: &TrainConfig, options: &RunOptions) -> Result<RunDir> {
        let tracker = Tracker::resume(
            &Self::tracker_options(root, options),
            root,
            &config_params(config),
        )?;
        Ok(RunDir {
            root: root.to_path_buf(),
            tracker: Some(tracker),
        })
    }

    fn tracker_options(root: &Path, options: &RunOptions) -> cascade_track::TrackerOptions {
        cascade_track::TrackerOptions {
            out: Some(root.to_path_buf()),
            ..options.tracker.clone()
        }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The run's tracker (none on a follower rank).
    pub fn tracker(&self) -> Option<&Tracker> {
        self.tracker.as_ref()
    }

    /// Logs one metric value (to the metrics log, and to MLflow when linked); nothing on a
    /// follower rank.
    pub fn log(&mut self, step: u64, epoch: u64, name: &str, value: f64) -> Result<()> {
        match &self.tracker {
            Some(tracker) => Ok(tracker.log_metric(step, epoch, name, value)?),
            None => Ok(()),
        }
    }

    /// Records the training summary in `summary.json` (nothing on a follower rank).
    pub fn write_summary(&self, summary: &serde_json::Value) -> Result<()> {
        match &self.tracker {
            Some(tracker) => Ok(tracker.set_result(summary.clone())?),
            None => Ok(()),
        }
    }
}

/// JSON has no NaN: a non-finite value is written as `null`.
pub(crate) fn finite_or_null(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else {
        serde_json::Value::Null
    }
}

/// Writes `bytes` to `path` through a synced temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.to_path_buf();
    tmp.as_mut_os_string().push(".tmp");
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        // The temporary file is garbage after a failure; the error that matters is `e`.
        let _ = std::fs::remove_file(&tmp);
        io_at(path)(e)
    })
}
