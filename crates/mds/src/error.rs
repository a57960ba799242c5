//! Errors of the MDS layer. Every variant names the file (and where useful the sample or column).

use std::path::PathBuf;

/// Result alias for the MDS layer.
pub type Result<T, E = MdsError> = std::result::Result<T, E>;

/// Everything that can go wrong reading or writing MDS data.
#[derive(Debug, thiserror::Error)]
pub enum MdsError {
    /// An I/O failure on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// `index.json` (or a shard's embedded config) is not what the format requires.
    #[error("{path}: {message}")]
    Index {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A stored file's digest does not match the one in the index.
    #[error(
        "{path}: {algo} hash mismatch (index says {expected}, file has {actual}); the shard is corrupt or truncated"
    )]
    Hash {
        /// The file.
        path: PathBuf,
        /// The hash algorithm.
        algo: String,
        /// What was expected.
        expected: String,
        /// What was found.
        actual: String,
    },
    /// A shard's bytes are structurally invalid (offsets past the end, sizes that do not add up).
    #[error("{path}: corrupt shard: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An encoding string that this reader does not support (e.g. `pkl`).
    #[error("unsupported column encoding {encoding:?}: {message}")]
    Encoding {
        /// The encoding.
        encoding: String,
        /// What is wrong.
        message: String,
    },
    /// A value that does not fit its column's encoding.
    #[error("column {column:?}: {message}")]
    Value {
        /// The column.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// A sample index past the end of a shard (a caller's mistake, not a corrupt file).
    #[error("{path}: sample {index} is out of range (the shard holds {len} samples)")]
    SampleOutOfRange {
        /// The file.
        path: PathBuf,
        /// The index asked for.
        index: usize,
        /// How many there are.
        len: usize,
    },
}

impl MdsError {
    /// Shorthand for [`MdsError::Io`] as a closure over the file's path.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> MdsError + '_ {
        move |source| MdsError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Shorthand for [`MdsError::Corrupt`].
    pub(crate) fn corrupt(path: &std::path::Path, message: impl Into<String>) -> MdsError {
        MdsError::Corrupt {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}
