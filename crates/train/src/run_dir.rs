//! The run folder: the resolved configuration, the metrics log, the final summary and the
//! checkpoints, all in one place.
//!
//! ```text
//! RUN_DIR/config.toml        the configuration as resolved (every default written out)
//! RUN_DIR/metrics.jsonl      one JSON object per line: step, epoch, name, value, wall_time
//! RUN_DIR/summary.json       the final metrics
//! RUN_DIR/checkpoints/       see the checkpoint module
//! ```
//!
//! Everything a run writes to its folder goes through this module, so that a different run
//! store can take its place.

use crate::error::{Result, TrainError, io_at};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Name of the resolved configuration in a run folder.
pub const CONFIG_FILE: &str = "config.toml";
/// Name of the metrics log.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// Name of the final summary.
pub const SUMMARY_FILE: &str = "summary.json";

/// An open run folder.
#[derive(Debug)]
pub struct RunDir {
    root: PathBuf,
    metrics: File,
}

impl RunDir {
    /// Creates the folder (it may exist but must not already hold a run) and writes the
    /// resolved configuration.
    pub fn create(root: &Path, config_toml: &str) -> Result<RunDir> {
        let config = root.join(CONFIG_FILE);
        if config.exists() {
            return Err(TrainError::Invalid(format!(
                "{} already holds a run; continue it with --resume or choose another --out",
                root.display()
            )));
        }
        std::fs::create_dir_all(root).map_err(io_at(root))?;
        write_atomic(&config, config_toml.as_bytes())?;
        Self::open(root)
    }

    /// Opens an existing run folder for appending metrics.
    pub fn open(root: &Path) -> Result<RunDir> {
        let path = root.join(METRICS_FILE);
        let metrics = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_at(&path))?;
        Ok(RunDir {
            root: root.to_path_buf(),
            metrics,
        })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Appends one metric value to the log.
    pub fn log(&mut self, step: u64, epoch: u64, name: &str, value: f64) -> Result<()> {
        let wall_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let line = serde_json::json!({
            "step": step, "epoch": epoch, "name": name, "value": finite_or_null(value),
            "wall_time": wall_time,
        });
        let path = self.root.join(METRICS_FILE);
        writeln!(self.metrics, "{line}").map_err(io_at(&path))
    }

    /// Writes the final summary atomically.
    pub fn write_summary(&self, summary: &serde_json::Value) -> Result<()> {
        let text = serde_json::to_vec_pretty(summary)
            .map_err(|e| TrainError::Invalid(format!("summary: {e}")))?;
        write_atomic(&self.root.join(SUMMARY_FILE), &text)
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
