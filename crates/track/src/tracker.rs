//! The tracker: the one object the training loop talks to. It writes the local run folder
//! (always), queues everything for MLflow when a tracking server is configured, and leaves the
//! sending to a background thread so that training never waits on the server.
//!
//! Lifecycle: [`Tracker::start`] (or [`Tracker::resume`]) before the first step — this is where
//! configuration problems surface, such as a param changed on resume; `log_*` during training;
//! [`Tracker::finish`] at the end with the outcome. A clone of the tracker can be handed to a
//! Ctrl-C handler, which calls `finish(RunStatus::Killed)`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::clock;
use crate::error::{Result, TrackError};
use crate::metrics_log::{MetricRecord, MetricsLog};
use crate::mlflow::{Auth, MlflowClient, MlflowMetric, ModelVersion};
use crate::notice::{Notifier, stderr_notifier};
use crate::queue::{QueueOp, QueueReader, QueueWriter};
use crate::remote::{MlflowLink, check_remote_params, ensure_run, reconcile_params};
use crate::report::{REPORT_FILE, ReportExtras, write_report};
use crate::run_folder::{RunFolder, RunIdentity, files};
use crate::sender::Sender;
use crate::summary::{FinalMetric, RunStatus, RunSummary};

/// The environment variable MLflow's clients read the tracking server from.
pub const TRACKING_URI_ENV: &str = "MLFLOW_TRACKING_URI";

/// The tracking URI to use: the command-line flag if given, else `MLFLOW_TRACKING_URI`.
pub fn resolve_tracking_uri(flag: Option<&str>) -> Option<String> {
    flag.map(str::to_string)
        .or_else(|| std::env::var(TRACKING_URI_ENV).ok())
        .filter(|uri| !uri.trim().is_empty())
}

/// How a run is tracked.
#[derive(Clone)]
pub struct TrackerOptions {
    /// Where run folders are created (`runs/` by default).
    pub runs_root: PathBuf,
    /// An exact run folder (`--out`), instead of a new one under `runs_root`.
    pub out: Option<PathBuf>,
    /// The MLflow server, if any (see [`resolve_tracking_uri`]).
    pub tracking_uri: Option<String>,
    /// Credentials for the server.
    pub auth: Auth,
    /// Fail instead of continuing locally when the server cannot be reached at start.
    pub tracking_required: bool,
    /// How long [`Tracker::finish`] waits for queued operations to reach the server.
    pub drain_timeout: Duration,
    /// Where warnings go.
    pub notify: Notifier,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        Self {
            runs_root: PathBuf::from("runs"),
            out: None,
            tracking_uri: resolve_tracking_uri(None),
            auth: Auth::from_env(),
            tracking_required: false,
            drain_timeout: Duration::from_secs(60),
            notify: stderr_notifier(),
        }
    }
}

/// How a run ended, as [`Tracker::finish`] reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinishReport {
    /// The status recorded.
    pub status: RunStatus,
    /// The run folder.
    pub run_folder: PathBuf,
    /// The MLflow run, when there is one.
    pub mlflow_run_id: Option<String>,
    /// Queued operations no MLflow server has acknowledged (send them with `runs sync`); for a
    /// run without a tracking server, everything it logged.
    pub unsent: u64,
    /// Why sending stopped early, when it did.
    pub sender_error: Option<String>,
    /// Model versions registered during the run.
    #[serde(skip)]
    pub registered: Vec<ModelVersion>,
}

/// Tracks one run. Cheap to clone; clones share the run.
#[derive(Clone)]
pub struct Tracker {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    folder: RunFolder,
    summary: RunSummary,
    metrics: MetricsLog,
    queue: QueueWriter,
    link: Option<MlflowLink>,
    sender: Option<Sender>,
    drain_timeout: Duration,
    notify: Notifier,
    finished: Option<FinishReport>,
}

/// Contacts the server named in `options`: a client that answered, `None` for a run without
/// tracking, or — when the server cannot be reached — a warning and `None`, or an error when
/// tracking is required.
fn connect(options: &TrackerOptions, experiment: &str) -> Result<Option<MlflowClient>> {
    let Some(uri) = &options.tracking_uri else {
        return Ok(None);
    };
    let client = MlflowClient::new(uri, options.auth.clone())?;
    match client.get_or_create_experiment(experiment) {
        Ok(_) => Ok(Some(client)),
        Err(e) if e.is_transient() && !options.tracking_required => {
            (options.notify)(&format!(
                "{e}; the run continues with local tracking only (send it later with `cascade runs sync`)"
            ));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

impl Tracker {
    /// Starts a new run: contacts the tracking server (if any), creates the run folder with
    /// the resolved configuration and the params, creates the MLflow run, and queues the
    /// configuration as an artifact.
    pub fn start(
        options: &TrackerOptions,
        identity: &RunIdentity,
        config_toml: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<Self> {
        let client = connect(options, &identity.experiment)?;
        let folder = match &options.out {
            Some(out) => RunFolder::create_at(out, identity, config_toml)?,
            None => RunFolder::create_under(&options.runs_root, identity, config_toml)?,
        };
        folder.add_params(params)?;
        let tracker = Self::open(folder, client, options)?;
        tracker.log_artifact(Path::new(files::CONFIG), files::CONFIG)?;
        Ok(tracker)
    }

    /// Resumes the run in `run_dir` (after a crash or from a checkpoint): checks `params`
    /// against the run's — locally and, when linked, on the server — before anything is
    /// written, so a changed param fails before training starts; then marks the run running
    /// again and resends whatever the queue still holds.
    pub fn resume(
        options: &TrackerOptions,
        run_dir: &Path,
        params: &BTreeMap<String, String>,
    ) -> Result<Self> {
        let folder = RunFolder::open(run_dir)?;
        let summary = folder.read_summary()?;
        let client = connect(options, &summary.experiment)?;
        if let (Some(client), Some(link)) = (&client, MlflowLink::read(&folder)?) {
            if link.tracking_uri != client.uri() {
                return Err(TrackError::Invalid(format!(
                    "run {} is linked to MLflow run {} on {}, not {}",
                    folder.id(),
                    link.run_id,
                    link.tracking_uri,
                    client.uri()
                )));
            }
            match check_remote_params(client, &link, params) {
                Err(e) if e.is_transient() && !options.tracking_required => {
                    (options.notify)(&format!(
                        "cannot check the params on the MLflow server: {e}"
                    ));
                }
                other => other?,
            }
        }
        folder.add_params(params)?;
        let mut summary = summary;
        summary.status = RunStatus::Running;
        summary.end_time = None;
        folder.write_summary(&summary)?;
        let had_link = MlflowLink::read(&folder)?.is_some();
        let tracker = Self::open(folder, client, options)?;
        {
            let mut inner = tracker.lock();
            if let (true, Some(link)) = (had_link, inner.link.clone()) {
                // The MLflow run exists from before: give it the params added now (few, sent
                // directly) and mark it running again (through the queue, after what it holds).
                let client = MlflowClient::new(&link.tracking_uri, options.auth.clone())?;
                match reconcile_params(&client, &link, &inner.folder) {
                    Err(e) if e.is_transient() && !options.tracking_required => {
                        (options.notify)(&format!(
                            "cannot log the new params to MLflow now ({e}); `cascade runs sync` will"
                        ))
                    }
                    other => other?,
                }
                inner.push(&QueueOp::Status {
                    status: RunStatus::Running,
                    end_time: None,
                })?;
            }
        }
        Ok(tracker)
    }

    /// Opens the logs of `folder` and, with a client, links it to an MLflow run and starts the
    /// sender.
    fn open(
        folder: RunFolder,
        client: Option<MlflowClient>,
        options: &TrackerOptions,
    ) -> Result<Self> {
        let metrics = MetricsLog::open(&folder.metrics_path())?;
        let queue = QueueWriter::open(&folder.file(files::QUEUE))?;
        let summary = folder.read_summary()?;
        let mut link = None;
        let mut sender = None;
        if let Some(client) = client {
            match ensure_run(&client, &folder) {
                Ok(l) => {
                    let reader =
                        QueueReader::open(&folder.file(files::QUEUE), &folder.file(files::CURSOR))?;
                    sender = Some(Sender::start(
                        client,
                        l.clone(),
                        folder.path().to_path_buf(),
                        reader,
                        options.notify.clone(),
                    )?);
                    link = Some(l);
                }
                Err(e) if e.is_transient() && !options.tracking_required => {
                    (options.notify)(&format!("{e}; the run continues with local tracking only"));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Self {
            inner: Arc::new(Mutex::new(Inner {
                folder,
                summary,
                metrics,
                queue,
                link,
                sender,
                drain_timeout: options.drain_timeout,
                notify: options.notify.clone(),
                finished: None,
            })),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The run folder.
    pub fn run_folder(&self) -> RunFolder {
        self.lock().folder.clone()
    }

    /// The folder checkpoints should be written to.
    pub fn checkpoints_dir(&self) -> PathBuf {
        self.lock().folder.checkpoints_dir()
    }

    /// The MLflow run this run is linked to, if any.
    pub fn mlflow_link(&self) -> Option<MlflowLink> {
        self.lock().link.clone()
    }

    /// Logs one metric value at a step.
    pub fn log_metric(&self, step: u64, epoch: u64, name: &str, value: f64) -> Result<()> {
        self.log_metrics(step, epoch, &[(name, value)])
    }

    /// Logs several metric values at one step.
    pub fn log_metrics(&self, step: u64, epoch: u64, values: &[(&str, f64)]) -> Result<()> {
        let mut inner = self.lock();
        inner.ensure_running()?;
        let wall_time = clock::now_unix();
        for &(name, value) in values {
            if name.is_empty() {
                return Err(TrackError::Invalid("a metric needs a name".to_string()));
            }
            let record = MetricRecord {
                step,
                epoch,
                name: name.to_string(),
                value,
                wall_time,
            };
            inner.metrics.append(&record)?;
            inner
                .summary
                .final_metrics
                .insert(name.to_string(), FinalMetric { step, value });
            let metric = MlflowMetric {
                key: name.to_string(),
                value,
                timestamp: clock::to_millis(wall_time),
                step,
            };
            inner.queue.push(&QueueOp::Metric(metric))?;
        }
        inner.wake_sender();
        Ok(())
    }

    /// Queues a file or folder for upload as the artifact `artifact_path` (e.g. `checkpoints`,
    /// `report.html`, `embeddings`). A relative `local` is taken inside the run folder. Files
    /// are read when sent, so log a checkpoint once it is complete.
    pub fn log_artifact(&self, local: &Path, artifact_path: &str) -> Result<()> {
        let mut inner = self.lock();
        inner.ensure_running()?;
        let local = match local.strip_prefix(inner.folder.path()) {
            Ok(inside) => inside.to_path_buf(),
            Err(_) => local.to_path_buf(),
        };
        if !inner.folder.path().join(&local).exists() {
            return Err(TrackError::Invalid(format!(
                "artifact {} does not exist",
                local.display()
            )));
        }
        inner.push(&QueueOp::Artifact {
            local,
            path: artifact_path.to_string(),
        })
    }

    /// Queues registering the artifacts at `artifact_path` as a new version of the registered
    /// model `name` (created if missing), optionally pointing `alias` at it. Queue it after the
    /// model's artifacts.
    pub fn register_model(
        &self,
        name: &str,
        artifact_path: &str,
        alias: Option<&str>,
    ) -> Result<()> {
        if name.trim().is_empty() {
            return Err(TrackError::Invalid(
                "a registered model needs a name".to_string(),
            ));
        }
        let mut inner = self.lock();
        inner.ensure_running()?;
        inner.push(&QueueOp::RegisterModel {
            name: name.to_string(),
            path: artifact_path.to_string(),
            alias: alias.map(str::to_string),
        })
    }

    /// Records what the caller reports about the run's outcome (see [`RunSummary::result`]) in
    /// `summary.json`, replacing what was recorded before.
    pub fn set_result(&self, result: serde_json::Value) -> Result<()> {
        let mut inner = self.lock();
        inner.summary.result = Some(result);
        inner.folder.write_summary(&inner.summary)
    }

    /// Ends the run with `status`: writes the summary (final metrics, end time), queues the
    /// status for MLflow and waits — at most the drain timeout — for the queue to reach the
    /// server. Calling it again returns the first report; a Ctrl-C handler can call it with
    /// [`RunStatus::Killed`] on a clone.
    pub fn finish(&self, status: RunStatus) -> Result<FinishReport> {
        self.end(status, None)
    }

    /// Like [`Tracker::finish`], and in between writes the run's `report.html` (so that it shows
    /// the final status) and queues it as the artifact `report.html`. A report that cannot be
    /// written is a warning: the run still ends with `status`.
    pub fn finish_with_report(
        &self,
        status: RunStatus,
        extras: &ReportExtras<'_>,
    ) -> Result<FinishReport> {
        self.end(status, Some(extras))
    }

    fn end(&self, status: RunStatus, extras: Option<&ReportExtras<'_>>) -> Result<FinishReport> {
        let mut inner = self.lock();
        if let Some(report) = &inner.finished {
            return Ok(report.clone());
        }
        let end = clock::now_unix();
        inner.summary.status = status;
        inner.summary.end_time = Some(end);
        inner.folder.write_summary(&inner.summary)?;
        if let Some(extras) = extras {
            let written = write_report(&inner.folder, extras).and_then(|_| {
                inner.push(&QueueOp::Artifact {
                    local: PathBuf::from(REPORT_FILE),
                    path: REPORT_FILE.to_string(),
                })
            });
            if let Err(e) = written {
                (inner.notify)(&format!("cannot write the run's report: {e}"));
            }
        }
        inner.push(&QueueOp::Status {
            status,
            end_time: Some(clock::to_millis(end)),
        })?;
        let outcome = match inner.sender.take() {
            Some(sender) => sender.stop(Instant::now() + inner.drain_timeout),
            None => Default::default(),
        };
        let reader = QueueReader::open(
            &inner.folder.file(files::QUEUE),
            &inner.folder.file(files::CURSOR),
        )?;
        let unsent = reader.pending()?;
        let report = FinishReport {
            status,
            run_folder: inner.folder.path().to_path_buf(),
            mlflow_run_id: inner.link.as_ref().map(|l| l.run_id.clone()),
            unsent,
            sender_error: outcome.stalled,
            registered: outcome.registered,
        };
        inner.finished = Some(report.clone());
        Ok(report)
    }
}

impl Inner {
    fn ensure_running(&self) -> Result<()> {
        if self.finished.is_some() {
            return Err(TrackError::Invalid(format!(
                "run {} has already finished",
                self.folder.id()
            )));
        }
        Ok(())
    }

    fn push(&mut self, op: &QueueOp) -> Result<()> {
        self.queue.push(op)?;
        self.wake_sender();
        Ok(())
    }

    fn wake_sender(&self) {
        if let Some(sender) = &self.sender {
            sender.notify();
        }
    }
}
