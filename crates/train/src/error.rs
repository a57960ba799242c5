//! The error type of training, evaluation and prediction.

use std::path::PathBuf;

/// Why a run could not start, continue or finish.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The model refused its specification, a batch or a checkpoint.
    #[error(transparent)]
    Model(#[from] cascade_model::ModelError),
    /// The dataset could not be opened or read.
    #[error(transparent)]
    Data(#[from] cascade_data::DataError),
    /// Retrieval (top-K search) refused its input.
    #[error(transparent)]
    Retrieve(#[from] cascade_retrieve::RetrieveError),
    /// A file of the run folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A collective or a sharded-table exchange between ranks failed.
    #[error(transparent)]
    Distributed(#[from] cascade_dist::ShardedError),
    /// The data, configuration and run folder do not fit together; the message says how.
    #[error("{0}")]
    Invalid(String),
    /// Tracking failed: the run store, a param changed on resume, or a required MLflow server.
    #[error(transparent)]
    Tracking(#[from] cascade_track::TrackError),
    /// Training was stopped (Ctrl-C) after a step; the run was checkpointed and marked KILLED.
    #[error(
        "training stopped after step {step}; the run is marked KILLED and its checkpoint {checkpoint} is kept (continue with `cascade train --resume {run}`)"
    )]
    Interrupted {
        /// The last step taken.
        step: u64,
        /// The checkpoint written at that step.
        checkpoint: String,
        /// The run folder.
        run: String,
    },
    /// The training loss became NaN or infinite; the last good checkpoint was kept.
    #[error(
        "training loss is {loss} at step {step}; stopped (the last good checkpoint is kept: {kept})"
    )]
    NonFiniteLoss {
        /// The step whose loss was not finite.
        step: u64,
        /// The loss value.
        loss: f32,
        /// The last checkpoint written, or "none".
        kept: String,
    },
}

impl From<cascade_dist::CommError> for TrainError {
    fn from(e: cascade_dist::CommError) -> Self {
        TrainError::Distributed(e.into())
    }
}

impl From<cascade_embed::EmbedError> for TrainError {
    fn from(e: cascade_embed::EmbedError) -> Self {
        TrainError::Model(e.into())
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, TrainError>;

/// A closure mapping an I/O error on `path` to [`TrainError::Io`].
pub(crate) fn io_at(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}
