//! The error type of the funnel.

/// Why a recommendation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A run could not be opened or a model refused its input.
    #[error(transparent)]
    Train(#[from] cascade_train::TrainError),
    /// A model refused its input.
    #[error(transparent)]
    Model(#[from] cascade_model::ModelError),
    /// The top-K search refused its input.
    #[error(transparent)]
    Retrieve(#[from] cascade_retrieve::RetrieveError),
    /// A file of the dataset could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The user is not in the data the model was trained on.
    #[error("unknown user {0:?}: not in the dataset's user vocabulary")]
    UnknownUser(String),
    /// The item is not in the corpus the model indexed.
    #[error("unknown item {0:?}: not in the indexed corpus")]
    UnknownItem(String),
    /// The runs, data and request do not fit together; the message says how.
    #[error("{0}")]
    Invalid(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, ServeError>;
