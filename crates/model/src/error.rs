//! The error type of the models: bad specifications, batches that do not fit the model,
//! failures of the layers below, and checkpoints that cannot be read or do not belong.

use std::path::PathBuf;

/// Why a model could not be built, run, saved or restored.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The specification cannot describe a working model; the message names the field.
    #[error("model specification: {0}")]
    Spec(String),
    /// A batch does not match what the model was built for.
    #[error("batch: {0}")]
    Batch(String),
    /// A dense layer refused its input.
    #[error(transparent)]
    Nn(#[from] cascade_nn::NnError),
    /// The embedding collection refused the batch or a checkpoint.
    #[error(transparent)]
    Embed(#[from] cascade_embed::EmbedError),
    /// A checkpoint file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A checkpoint is damaged, of another format version, or of another model.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint folder or file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, ModelError>;
