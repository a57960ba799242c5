//! How a training run is tracked and stopped: the options `cascade train` passes beyond the
//! configuration (tracking server, experiment, model registration, the Ctrl-C flag), and the
//! run's params — its resolved configuration flattened to `section.key` strings, which MLflow
//! keeps immutable, so a resumed run that changes one is refused before it trains.

use cascade_track::{FinishReport, TrackerOptions, stderr_notifier};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::config::TrainConfig;

/// The artifact path the final checkpoint is uploaded to (and registered from).
pub const CHECKPOINT_ARTIFACT: &str = "checkpoint";
/// The experiment of a run when none is named: MLflow's own default experiment.
pub const DEFAULT_EXPERIMENT: &str = "Default";

/// How a training run is tracked and stopped.
#[derive(Clone)]
pub struct RunOptions {
    /// The tracking server (none: local run store only), its credentials, whether it is
    /// required, and where warnings go. Its `runs_root` and `out` are not used: the run folder
    /// is the one given to [`crate::train_with`] or [`crate::resume_with`].
    pub tracker: TrackerOptions,
    /// The MLflow experiment of a new run.
    pub experiment: String,
    /// The git commit to tag a new run with, when known.
    pub git_commit: Option<String>,
    /// Register the final checkpoint of a finished run as a new version of this model.
    pub register_model: Option<String>,
    /// Point this alias of the registered model at the new version.
    pub model_alias: Option<String>,
    /// Set it (from a Ctrl-C handler, say) to stop after the current step: the run writes a
    /// checkpoint, ends with status KILLED, and training returns [`crate::TrainError::Interrupted`].
    pub stop: Arc<AtomicBool>,
}

impl RunOptions {
    /// Local tracking only: no server (whatever `MLFLOW_TRACKING_URI` says), warnings on
    /// standard error, no registration, never stopped.
    pub fn local() -> Self {
        Self {
            tracker: TrackerOptions {
                runs_root: PathBuf::from("runs"),
                out: None,
                tracking_uri: None,
                auth: cascade_track::mlflow::Auth::None,
                tracking_required: false,
                drain_timeout: std::time::Duration::from_secs(60),
                notify: stderr_notifier(),
            },
            experiment: DEFAULT_EXPERIMENT.to_string(),
            git_commit: None,
            register_model: None,
            model_alias: None,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// What a completed training run returns.
#[derive(Debug, Clone)]
pub struct TrainedRun {
    /// The training summary (model, steps, samples, throughput, final evaluation, checkpoint),
    /// also kept as `result` in the run's `summary.json`.
    pub summary: serde_json::Value,
    /// How tracking ended: status, run folder, MLflow run, operations left unsent.
    pub tracking: FinishReport,
    /// This process's rank in a run across ranks (0 for a single process); only rank 0
    /// tracks the run and reports on it.
    pub rank: usize,
}

/// The params of a run: every key of its resolved configuration as `section.key`, each value
/// as TOML writes it (strings without quotes). Keys left unset (no default) are absent.
pub fn config_params(config: &TrainConfig) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    // Read back from the text saved beside the run, so that a value reads as it is written
    // there (`0.01`, not the f32's exact expansion).
    if let Ok(table) = toml::from_str::<toml::Table>(&config.to_toml()) {
        flatten("", &table, &mut params);
    }
    params
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
    for (key, value) in table {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&name, inner, out),
            toml::Value::String(s) => {
                out.insert(name, s.clone());
            }
            other => {
                out.insert(name, other.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_the_flattened_configuration() {
        let config = TrainConfig::parse(
            "t.toml",
            "[model]\nkind = \"dcn\"\n",
            &["data.path=/tmp/ds".into()],
        )
        .unwrap();
        let params = config_params(&config);
        assert_eq!(params["model.kind"], "dcn");
        assert_eq!(params["data.path"], "/tmp/ds");
        assert_eq!(params["model.bottom_mlp"], "[512, 256, 64]");
        assert_eq!(params["data.batch_size"], "2048");
        assert_eq!(params["optimizer.learning_rate"], "0.01");
        assert!(!params.contains_key("data.eval_split"));
    }
}
