//! A run folder: everything one training run leaves on disk, readable without any server.
//!
//! ```text
//! RUN/
//!   config.toml           the resolved configuration, as the caller passed it
//!   params.json           flat key → string params
//!   metrics.jsonl         every logged metric value, one JSON object per line
//!   summary.json          identity, status, times, final metrics
//!   checkpoints/          model checkpoints
//!   mlflow.json           the MLflow run this folder is linked to, once there is one
//!   mlflow-queue.jsonl    what is (or was) to be sent to MLflow, in order
//!   mlflow-queue.cursor   how much of the queue the server has acknowledged
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::clock;
use crate::error::{Result, TrackError};
use crate::fsutil;
use crate::summary::{RunStatus, RunSummary};

/// The file names inside a run folder.
pub(crate) mod files {
    pub const CONFIG: &str = "config.toml";
    pub const PARAMS: &str = "params.json";
    pub const METRICS: &str = "metrics.jsonl";
    pub const SUMMARY: &str = "summary.json";
    pub const CHECKPOINTS: &str = "checkpoints";
    pub const MLFLOW_LINK: &str = "mlflow.json";
    pub const QUEUE: &str = "mlflow-queue.jsonl";
    pub const CURSOR: &str = "mlflow-queue.cursor";
}

/// Who and what a new run is: the identity written to its summary.
#[derive(Debug, Clone)]
pub struct RunIdentity {
    /// The run's name; the folder name is derived from it.
    pub name: String,
    /// The experiment (MLflow experiment name).
    pub experiment: String,
    /// The model architecture.
    pub model_kind: String,
    /// The git commit of the code, when known.
    pub git_commit: Option<String>,
    /// What started the run, e.g. `cascade train`.
    pub source_name: String,
}

/// A run folder on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFolder {
    path: PathBuf,
}

impl RunFolder {
    /// Creates a new run folder under `root`, named after the run and its start time (with a
    /// numeric suffix should that name be taken), and writes its config and first summary.
    pub fn create_under(root: &Path, identity: &RunIdentity, config_toml: &str) -> Result<Self> {
        fs::create_dir_all(root).map_err(TrackError::io(format!("creating {}", root.display())))?;
        let start = clock::now_unix();
        let base = format!("{}-{}", sanitize(&identity.name), clock::compact_utc(start));
        for n in 1..1000u32 {
            let name = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            let path = root.join(name);
            match fs::create_dir(&path) {
                Ok(()) => return Self::initialise(path, identity, config_toml, start),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(TrackError::Io {
                        context: format!("creating {}", path.display()),
                        source: e,
                    });
                }
            }
        }
        Err(TrackError::Invalid(format!(
            "{} already holds 999 runs named {base}",
            root.display()
        )))
    }

    /// Creates a run folder at exactly `path` (the `--out` option); it must not already hold a
    /// run.
    pub fn create_at(path: &Path, identity: &RunIdentity, config_toml: &str) -> Result<Self> {
        if path.join(files::SUMMARY).exists() {
            return Err(TrackError::Invalid(format!(
                "{} already holds a run; resume it or choose another output folder",
                path.display()
            )));
        }
        fs::create_dir_all(path).map_err(TrackError::io(format!("creating {}", path.display())))?;
        Self::initialise(path.to_path_buf(), identity, config_toml, clock::now_unix())
    }

    fn initialise(
        path: PathBuf,
        identity: &RunIdentity,
        config_toml: &str,
        start: f64,
    ) -> Result<Self> {
        let folder = Self { path };
        fs::create_dir_all(folder.checkpoints_dir()).map_err(TrackError::io(format!(
            "creating {}",
            folder.checkpoints_dir().display()
        )))?;
        fsutil::write_atomic(&folder.file(files::CONFIG), config_toml.as_bytes())?;
        fsutil::write_json_atomic(
            &folder.file(files::PARAMS),
            &BTreeMap::<String, String>::new(),
        )?;
        let summary = RunSummary {
            name: identity.name.clone(),
            experiment: identity.experiment.clone(),
            status: RunStatus::Running,
            start_time: start,
            end_time: None,
            model_kind: identity.model_kind.clone(),
            cascade_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: identity.git_commit.clone(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            source_name: identity.source_name.clone(),
            final_metrics: BTreeMap::new(),
            result: None,
        };
        folder.write_summary(&summary)?;
        Ok(folder)
    }

    /// Opens an existing run folder (one holding a `summary.json`).
    pub fn open(path: &Path) -> Result<Self> {
        if !path.join(files::SUMMARY).is_file() {
            return Err(TrackError::Invalid(format!(
                "{} is not a run folder (no {})",
                path.display(),
                files::SUMMARY
            )));
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder's name, which is the run's local id.
    pub fn id(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Where checkpoints go.
    pub fn checkpoints_dir(&self) -> PathBuf {
        self.path.join(files::CHECKPOINTS)
    }

    /// The path of the metrics log.
    pub fn metrics_path(&self) -> PathBuf {
        self.file(files::METRICS)
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Reads `summary.json`.
    pub fn read_summary(&self) -> Result<RunSummary> {
        fsutil::read_json(&self.file(files::SUMMARY))
    }

    /// Rewrites `summary.json` atomically.
    pub fn write_summary(&self, summary: &RunSummary) -> Result<()> {
        fsutil::write_json_atomic(&self.file(files::SUMMARY), summary)
    }

    /// Reads the resolved configuration text.
    pub fn read_config(&self) -> Result<String> {
        let path = self.file(files::CONFIG);
        fs::read_to_string(&path).map_err(TrackError::io(format!("reading {}", path.display())))
    }

    /// Reads the params.
    pub fn read_params(&self) -> Result<BTreeMap<String, String>> {
        fsutil::read_json(&self.file(files::PARAMS))
    }

    /// Adds params. A key already present with a different value is a
    /// [`TrackError::ParamChanged`] and nothing is written; the same value again is fine.
    /// Returns the params that were new.
    pub fn add_params(
        &self,
        params: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        let mut all = self.read_params()?;
        check_params(&all, params)?;
        let new: BTreeMap<String, String> = params
            .iter()
            .filter(|(k, _)| !all.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !new.is_empty() {
            all.extend(new.clone());
            fsutil::write_json_atomic(&self.file(files::PARAMS), &all)?;
        }
        Ok(new)
    }
}

/// Fails on the first key of `new` that `existing` holds with another value.
pub(crate) fn check_params(
    existing: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Result<()> {
    for (key, value) in new {
        if let Some(old) = existing.get(key)
            && old != value
        {
            return Err(TrackError::ParamChanged {
                key: key.clone(),
                existing: old.clone(),
                new: value.clone(),
            });
        }
    }
    Ok(())
}

/// A run name made safe as a folder name.
fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches('.');
    if trimmed.is_empty() {
        "run".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> RunIdentity {
        RunIdentity {
            name: "dlrm small/1".into(),
            experiment: "exp".into(),
            model_kind: "dlrm".into(),
            git_commit: Some("abc".into()),
            source_name: "cascade train".into(),
        }
    }

    #[test]
    fn creates_unique_folders_with_config_and_summary() {
        let root = tempfile::tempdir().unwrap();
        let a = RunFolder::create_under(root.path(), &identity(), "x = 1\n").unwrap();
        let b = RunFolder::create_under(root.path(), &identity(), "x = 2\n").unwrap();
        assert_ne!(a.path(), b.path());
        assert!(a.id().starts_with("dlrm_small_1-"));
        assert_eq!(a.read_config().unwrap(), "x = 1\n");
        let summary = a.read_summary().unwrap();
        assert_eq!(summary.status, RunStatus::Running);
        assert_eq!(summary.git_commit.as_deref(), Some("abc"));
        assert!(a.checkpoints_dir().is_dir());
        assert!(RunFolder::create_at(a.path(), &identity(), "").is_err());
    }

    #[test]
    fn params_are_immutable() {
        let root = tempfile::tempdir().unwrap();
        let run = RunFolder::create_at(&root.path().join("r"), &identity(), "").unwrap();
        let first = BTreeMap::from([("lr".to_string(), "0.1".to_string())]);
        assert_eq!(run.add_params(&first).unwrap(), first);
        assert!(run.add_params(&first).unwrap().is_empty());
        let changed = BTreeMap::from([("lr".to_string(), "0.2".to_string())]);
        let err = run.add_params(&changed).unwrap_err();
        assert!(
            matches!(&err, TrackError::ParamChanged { key, .. } if key == "lr"),
            "{err}"
        );
        assert_eq!(run.read_params().unwrap(), first);
    }
}
