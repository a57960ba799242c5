//! Errors of the streaming reader. Every variant names what the user can act on: the file, the
//! shard, the column, the option or the remote location.

use std::path::PathBuf;

/// Everything that can go wrong opening or reading a streaming dataset.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The MDS layer refused a file (bad index, corrupt or truncated shard, hash mismatch).
    #[error(transparent)]
    Mds(#[from] cascade_mds::MdsError),
    /// The dataset manifest could not be read or is invalid.
    #[error(transparent)]
    Manifest(#[from] crate::ManifestError),
    /// A local file (cache entry, resume state) could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A remote object could not be listed or downloaded.
    #[error("{location}: {message}")]
    Remote {
        /// The remote location (URL or object path).
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The shard cache cannot do what was asked (e.g. its size limit is below what is in use).
    #[error("shard cache {dir}: {message}")]
    Cache {
        /// The cache folder.
        dir: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A column cannot become part of a batch (wrong type, wrong width, negative id, ...).
    #[error("{shard}: sample {sample}: column {column:?}: {message}")]
    Column {
        /// The shard file.
        shard: String,
        /// The sample's index in its shard.
        sample: usize,
        /// The column.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// The manifest's feature description does not fit the dataset's columns.
    #[error("{dataset}: {message}")]
    Schema {
        /// The dataset folder.
        dataset: String,
        /// What is wrong.
        message: String,
    },
    /// A reader option is out of range.
    #[error("reader option {option}: {message}")]
    Config {
        /// The option.
        option: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A resume state that does not belong to this dataset or reader configuration.
    #[error("resume state: {message}")]
    Resume {
        /// What is wrong.
        message: String,
    },
    /// A loader thread stopped without reporting a result (it panicked).
    #[error("loader thread {worker} stopped unexpectedly: {message}")]
    Worker {
        /// The loader thread.
        worker: usize,
        /// What is wrong.
        message: String,
    },
}

/// Result alias for the streaming reader.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
