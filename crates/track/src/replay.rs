//! Sending one batch of the queue to the linked MLflow run. Used by the background sender during
//! training and by `runs sync` afterwards; every operation is safe to replay (see the queue's
//! notes on idempotence).

use std::path::Path;

use crate::error::Result;
use crate::mlflow::{MlflowClient, ModelVersion};
use crate::queue::{Batch, QueueOp};
use crate::remote::MlflowLink;

/// What sending a batch produced beyond acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    /// Nothing of note.
    Done,
    /// A model version was registered (or found already registered by this run).
    Registered(ModelVersion),
    /// A queued artifact no longer exists locally; it was skipped.
    MissingArtifact(String),
}

/// Sends `batch` to the run `link` names; `run_dir` resolves relative artifact paths.
pub fn send_batch(
    client: &MlflowClient,
    link: &MlflowLink,
    run_dir: &Path,
    batch: &Batch,
) -> Result<Sent> {
    match batch {
        Batch::Metrics(metrics) => client
            .log_metrics(&link.run_id, metrics)
            .map(|()| Sent::Done),
        Batch::Single(QueueOp::Metric(metric)) => client
            .log_metrics(&link.run_id, std::slice::from_ref(metric))
            .map(|()| Sent::Done),
        Batch::Single(QueueOp::Artifact { local, path }) => {
            let local = run_dir.join(local);
            if !local.exists() {
                return Ok(Sent::MissingArtifact(format!(
                    "artifact {} no longer exists; it was not uploaded as `{path}`",
                    local.display()
                )));
            }
            client
                .upload_artifacts(&link.artifact_uri, &local, path)
                .map(|_| Sent::Done)
        }
        Batch::Single(QueueOp::RegisterModel { name, path, alias }) => {
            client.ensure_registered_model(name)?;
            let source = format!(
                "{}/{}",
                link.artifact_uri.trim_end_matches('/'),
                path.trim_matches('/')
            );
            let existing = client
                .model_versions_of_run(name, &link.run_id)?
                .into_iter()
                .find(|v| v.source == source);
            let version = match existing {
                Some(v) => v,
                None => client.create_model_version(name, &source, &link.run_id)?,
            };
            if let Some(alias) = alias {
                client.set_model_alias(name, alias, &version.version)?;
            }
            Ok(Sent::Registered(version))
        }
        Batch::Single(QueueOp::Status { status, end_time }) => client
            .update_run(&link.run_id, status.as_str(), *end_time)
            .map(|()| Sent::Done),
    }
}
