//! Binding a run folder to an MLflow run: finding or creating the experiment, creating the run
//! with Cascade's tags and the run's params, and remembering the link in `mlflow.json` so that
//! a resumed run, the background sender and `runs sync` all talk to the same MLflow run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::error::{Result, TrackError};
use crate::fsutil;
use crate::mlflow::MlflowClient;
use crate::run_folder::{RunFolder, check_params, files};
use crate::summary::RunSummary;

/// The MLflow run a run folder is linked to (`mlflow.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MlflowLink {
    /// The tracking server.
    pub tracking_uri: String,
    /// The experiment's id.
    pub experiment_id: String,
    /// The experiment's name.
    pub experiment_name: String,
    /// The MLflow run id.
    pub run_id: String,
    /// Where the run's artifacts live.
    pub artifact_uri: String,
}

impl MlflowLink {
    /// Reads a run folder's link, if it has one.
    pub fn read(folder: &RunFolder) -> Result<Option<Self>> {
        let path = folder.file(files::MLFLOW_LINK);
        if path.exists() {
            fsutil::read_json(&path).map(Some)
        } else {
            Ok(None)
        }
    }

    fn write(&self, folder: &RunFolder) -> Result<()> {
        fsutil::write_json_atomic(&folder.file(files::MLFLOW_LINK), self)
    }
}

/// The tags Cascade sets on every MLflow run.
fn run_tags(summary: &RunSummary, folder: &RunFolder) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::from([
        ("mlflow.runName".to_string(), summary.name.clone()),
        (
            "mlflow.source.name".to_string(),
            summary.source_name.clone(),
        ),
        ("mlflow.source.type".to_string(), "LOCAL".to_string()),
        (
            "cascade.version".to_string(),
            summary.cascade_version.clone(),
        ),
        ("cascade.model_kind".to_string(), summary.model_kind.clone()),
        ("cascade.host".to_string(), summary.host.clone()),
        ("cascade.run_folder".to_string(), folder.id()),
    ]);
    if let Some(commit) = &summary.git_commit {
        tags.insert("mlflow.source.git.commit".to_string(), commit.clone());
    }
    if let Ok(user) = std::env::var("USER") {
        tags.insert("mlflow.user".to_string(), user);
    }
    tags
}

/// Returns the folder's MLflow run on `client`'s server, creating it (experiment, run, tags,
/// every local param) when the folder has none yet. A folder linked to another server is an
/// error rather than a second, partial copy of the run.
pub fn ensure_run(client: &MlflowClient, folder: &RunFolder) -> Result<MlflowLink> {
    if let Some(link) = MlflowLink::read(folder)? {
        if link.tracking_uri != client.uri() {
            return Err(TrackError::Invalid(format!(
                "run {} is linked to MLflow run {} on {}, not {}",
                folder.id(),
                link.run_id,
                link.tracking_uri,
                client.uri()
            )));
        }
        return Ok(link);
    }
    let summary = folder.read_summary()?;
    let experiment = client.get_or_create_experiment(&summary.experiment)?;
    let info = client.create_run(
        &experiment.experiment_id,
        &summary.name,
        clock::to_millis(summary.start_time),
        &run_tags(&summary, folder),
    )?;
    client.log_params(&info.run_id, &folder.read_params()?)?;
    let link = MlflowLink {
        tracking_uri: client.uri().to_string(),
        experiment_id: experiment.experiment_id,
        experiment_name: experiment.name,
        run_id: info.run_id,
        artifact_uri: info.artifact_uri,
    };
    link.write(folder)?;
    Ok(link)
}

/// Brings the MLflow run's params up to the folder's: logs the local params the server lacks
/// (added by a resume while the server was away), failing if any differs from the server's.
pub fn reconcile_params(
    client: &MlflowClient,
    link: &MlflowLink,
    folder: &RunFolder,
) -> Result<()> {
    let remote = client.get_run(&link.run_id)?.params;
    let local = folder.read_params()?;
    check_params(&remote, &local)?;
    let missing: BTreeMap<String, String> = local
        .into_iter()
        .filter(|(k, _)| !remote.contains_key(k))
        .collect();
    client.log_params(&link.run_id, &missing)
}

/// Checks `params` against those the linked MLflow run already holds, failing on the first
/// key whose value would change; logs nothing.
pub fn check_remote_params(
    client: &MlflowClient,
    link: &MlflowLink,
    params: &BTreeMap<String, String>,
) -> Result<()> {
    let run = client.get_run(&link.run_id)?;
    check_params(&run.params, params)
}
