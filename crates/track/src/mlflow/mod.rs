//! A small typed client for MLflow's tracking server over its REST API: the transport with
//! MLflow's authentication and error format, the endpoints Cascade uses, and artifact upload
//! and download through the server's artifact proxy.

mod api;
mod artifacts;
mod client;

pub use api::{
    Experiment, MAX_BATCH_METRICS, MAX_BATCH_PARAMS, MAX_BATCH_TAGS, MlflowMetric, ModelVersion,
    RunInfo, RunRecord, mlflow_metric_key,
};
pub use artifacts::ArtifactEntry;
pub use client::{Auth, MlflowClient};
