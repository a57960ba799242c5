//! A run's identity and outcome, kept in its folder as `summary.json`: who ran what (name,
//! experiment, model kind, Cascade version, git commit, host), when, how it ended, and the last
//! value of every metric. Rewritten atomically whenever it changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How a run stands; the same four states MLflow records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Still training (or it crashed without a chance to say otherwise).
    Running,
    /// Ended normally.
    Finished,
    /// Ended on an error.
    Failed,
    /// Stopped by the user (Ctrl-C).
    Killed,
}

impl RunStatus {
    /// The name MLflow and the summary file use.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The contents of `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run's human name (also MLflow's `mlflow.runName`).
    pub name: String,
    /// The experiment the run belongs to (MLflow experiment name).
    pub experiment: String,
    /// How the run stands.
    pub status: RunStatus,
    /// Start, unix seconds.
    pub start_time: f64,
    /// End, unix seconds; absent while running.
    pub end_time: Option<f64>,
    /// The model architecture, e.g. `dlrm` or `two_tower`.
    pub model_kind: String,
    /// The Cascade version that ran it.
    pub cascade_version: String,
    /// The git commit of the code, when the caller knows it.
    pub git_commit: Option<String>,
    /// The machine it ran on.
    pub host: String,
    /// What started it, e.g. `cascade train` (MLflow's `mlflow.source.name`).
    pub source_name: String,
    /// The last value logged for every metric.
    #[serde(default)]
    pub final_metrics: BTreeMap<String, FinalMetric>,
    /// What the caller reports about the run's outcome beyond its metrics (for training: steps,
    /// samples, throughput, the final evaluation and checkpoint); absent until it is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
}

/// The last value of one metric and the step it was logged at.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FinalMetric {
    /// The step.
    pub step: u64,
    /// The value (NaN and infinities kept).
    #[serde(with = "crate::value")]
    pub value: f64,
}
