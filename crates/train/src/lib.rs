//! Training and evaluation: what `cascade train`, `cascade eval` and `cascade predict` run.
//!
//! A run is described by a TOML [`config::TrainConfig`] (every key documented, every default
//! stated, unknown keys refused), optionally overridden key by key from the command line.
//! [`train`] builds the ranking model the configuration and the dataset's manifest describe
//! and trains it on the streaming reader, writing its run folder (resolved configuration,
//! metrics log, summary, checkpoints); [`resume`] continues an interrupted run with exactly
//! the next batch. [`train_with`] and [`resume_with`] do the same with tracking options
//! ([`RunOptions`]): the run folder is a `cascade-track` run (params, metrics log, summary,
//! checkpoints, `report.html`), mirrored to an MLflow server when one is configured.
//! [`load_run`] reopens a run's latest model for [`predict`] and evaluation.

mod catalog;
mod checkpoint;
pub mod config;
mod error;
mod evaluate;
mod features;
mod model;
mod model_spec;
mod negatives;
mod progress;
mod retrieval;
mod run;
mod run_dir;
mod sharded;
mod tracking;
mod trainer;

pub use catalog::{Catalog, Entities};
pub use checkpoint::TrainerState;
pub use config::{ConfigError, TrainConfig};
pub use error::{Result, TrainError};
pub use evaluate::{EvalInput, Predictions, predict};
pub use features::DensePrep;
pub use model::TrainModel;
pub use model_spec::{ranking_spec, two_tower_spec};
pub use retrieval::{RetrievalEval, corpus_embeddings, evaluate_retrieval, user_embeddings};
pub use run::{LoadedRun, load_run};
pub use run_dir::{CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, write_atomic};
pub use sharded::{ShardedRanking, table_specs};
pub use tracking::{
    CHECKPOINT_ARTIFACT, DEFAULT_EXPERIMENT, RunOptions, TrainedRun, config_params,
};
pub use trainer::{eval_json, eval_split, resume, resume_with, train, train_with};
