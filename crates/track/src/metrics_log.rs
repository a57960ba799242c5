//! The local metrics log, `metrics.jsonl`: one JSON object per logged value, appended and
//! flushed as it is logged, so a crash loses at most the line being written.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::fsutil;

/// One logged metric value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRecord {
    /// Training step (global batch count) the value belongs to.
    pub step: u64,
    /// Epoch the step falls in.
    pub epoch: u64,
    /// Metric name, e.g. `train/loss` or `val/auc`.
    pub name: String,
    /// The value (NaN and infinities kept).
    #[serde(with = "crate::value")]
    pub value: f64,
    /// When it was logged, unix seconds.
    pub wall_time: f64,
}

/// Appends records to a run's `metrics.jsonl`.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    file: File,
}

impl MetricsLog {
    /// Opens (or creates) the log for appending, dropping a line a crash cut short.
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Self {
            file: fsutil::open_jsonl_append(path)?,
            path: path.to_path_buf(),
        })
    }

    /// Appends one record and flushes it.
    pub fn append(&mut self, record: &MetricRecord) -> Result<()> {
        fsutil::append_jsonl(&mut self.file, &self.path, record)
    }
}

/// Reads every complete record of a metrics log.
pub fn read_metrics(path: &Path) -> Result<Vec<MetricRecord>> {
    fsutil::read_jsonl(path)
}
