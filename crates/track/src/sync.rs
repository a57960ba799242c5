//! `runs sync`: sending a run to MLflow after the fact — a run logged without a server, or one
//! whose queue was left unsent when the server was down at the end. Creates the MLflow run if
//! the folder has none (or logs the params a resume added while the server was away), then
//! replays the queue from the cursor, retrying a bounded number of
//! times while the server is unavailable.

use std::path::Path;

use serde::Serialize;

use crate::error::Result;
use crate::mlflow::{Auth, MlflowClient, ModelVersion};
use crate::queue::{QueueOp, QueueReader, QueueWriter};
use crate::remote::MlflowLink;
use crate::remote::{ensure_run, reconcile_params};
use crate::replay::{Sent, send_batch};
use crate::run_folder::{RunFolder, files};
use crate::sender::backoff;

/// How many times in a row one batch is retried before `sync` gives up.
const MAX_ATTEMPTS: u32 = 8;

/// What [`sync`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncReport {
    /// The MLflow run.
    pub run_id: String,
    /// The MLflow experiment.
    pub experiment_id: String,
    /// Operations sent now.
    pub sent: u64,
    /// Warnings, e.g. queued artifacts that no longer exist.
    pub warnings: Vec<String>,
    /// Model versions registered now.
    #[serde(skip)]
    pub registered: Vec<ModelVersion>,
}

/// Sends everything the run in `run_dir` has queued and the server has not acknowledged.
pub fn sync(run_dir: &Path, tracking_uri: &str, auth: Auth) -> Result<SyncReport> {
    let folder = RunFolder::open(run_dir)?;
    let client = MlflowClient::new(tracking_uri, auth)?;
    let link = ensure_run(&client, &folder)?;
    reconcile_params(&client, &link, &folder)?;
    let mut reader = QueueReader::open(&folder.file(files::QUEUE), &folder.file(files::CURSOR))?;
    let mut report = SyncReport {
        run_id: link.run_id.clone(),
        experiment_id: link.experiment_id.clone(),
        sent: 0,
        warnings: Vec::new(),
        registered: Vec::new(),
    };
    let mut failures = 0u32;
    while let Some((batch, offset, ops)) = reader.next_batch()? {
        match send_batch(&client, &link, folder.path(), &batch) {
            Ok(sent) => {
                failures = 0;
                match sent {
                    Sent::Done => {}
                    Sent::Registered(version) => report.registered.push(version),
                    Sent::MissingArtifact(message) => report.warnings.push(message),
                }
                reader.advance(offset, ops)?;
                report.sent += ops;
            }
            Err(e) if e.is_transient() && failures + 1 < MAX_ATTEMPTS => {
                failures += 1;
                std::thread::sleep(backoff(failures));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

/// Uploads `local` (a file or folder, inside the run folder or anywhere) as the artifact
/// `artifact_path` of the run in `run_dir` once training is over — exported embeddings, for
/// one. The upload is queued in the run folder first and then sent with [`sync`], so a server
/// that cannot be reached loses nothing: `cascade runs sync` sends it later (the error says
/// so). `Ok(None)` when the run is not linked to an MLflow run.
pub fn upload_artifact(
    run_dir: &Path,
    local: &Path,
    artifact_path: &str,
    auth: Auth,
) -> Result<Option<SyncReport>> {
    let folder = RunFolder::open(run_dir)?;
    let Some(link) = MlflowLink::read(&folder)? else {
        return Ok(None);
    };
    let local = match local.strip_prefix(folder.path()) {
        Ok(inside) => inside.to_path_buf(),
        Err(_) => local.to_path_buf(),
    };
    QueueWriter::open(&folder.file(files::QUEUE))?.push(&QueueOp::Artifact {
        local,
        path: artifact_path.to_string(),
    })?;
    sync(run_dir, &link.tracking_uri, auth).map(Some)
}
