//! Experiment tracking for Cascade.
//!
//! Every run writes a local run folder (configuration, params, a metrics log, checkpoints and
//! a summary) that needs no server. When an MLflow tracking server is configured, the same run
//! is mirrored there over MLflow's REST API: params and tags at start, metrics and artifacts
//! through an on-disk queue drained by a background thread (so training never waits on the
//! server and nothing is lost while it is down), the final status at the end, and optionally a
//! registered model version. `runs sync` sends a run later; `runs list/show/compare` read the
//! run folders back.
//!
//! The training loop uses [`Tracker`]; the CLI uses [`list_runs`], [`resolve_run`],
//! [`show_run`], [`compare_runs`], the `render_*` functions, [`sync`] and [`write_report`];
//! `cascade serve` resolves registered models (`models:/NAME@ALIAS`) with
//! [`fetch_registered_run`].

#![warn(missing_docs)]

mod charts;
mod clock;
mod error;
mod fsutil;
mod listing;
mod metrics_log;
pub mod mlflow;
mod notice;
mod queue;
mod registry;
mod remote;
mod render;
mod replay;
mod report;
mod run_folder;
mod sender;
mod summary;
mod sync;
mod tracker;
mod value;

pub use error::{Result, TrackError};
pub use listing::{
    MetricDiff, ParamDiff, RunComparison, RunDetails, RunEntry, RunListing, SeriesSummary,
    compare_runs, list_runs, resolve_run, show_run,
};
pub use metrics_log::{MetricRecord, read_metrics};
pub use notice::{Notifier, stderr_notifier};
pub use registry::{
    MODEL_URI_SCHEME, ModelRef, ModelUri, RegisteredRun, default_model_cache, fetch_registered_run,
};
pub use remote::MlflowLink;
pub use render::{render_compare, render_run_details, render_runs_table};
pub use report::{
    Predictions, REPORT_FILE, ReportExtras, RetrievalComparison, render_report, write_report,
};
pub use run_folder::{RunFolder, RunIdentity};
pub use summary::{FinalMetric, RunStatus, RunSummary};
pub use sync::{SyncReport, sync, upload_artifact};
pub use tracker::{FinishReport, TRACKING_URI_ENV, Tracker, TrackerOptions, resolve_tracking_uri};
