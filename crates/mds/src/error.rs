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
        path: PathBuf,
        source: std::io::Error,
    },
    /// `index.json` (or a shard's embedded config) is not what the format requires.
    #[error("{path}: {message}")]
    Index { path: PathBuf, message: String },
    /// A stored file's digest does not match the one in the index.
    #[error(
        "{path}: {algo} hash mismatch (index says {expected}, file has {actual}); the shard is corrupt or truncated"
    )]
    Hash {
        path: PathBuf,
        algo: String,
        expected: String,
        actual: String,
    },
    /// A shard's bytes are structurally invalid (offsets past the end, sizes that do not add up).
    #[error("{path}: corrupt shard: {message}")]
    Corrupt { path: PathBuf, message: String },
    /// An encoding string that this reader does not support (e.g. `pkl`).
    #[error("unsupported column encoding {encoding:?}: {message}")]
    Encoding { encoding: String, message: String },
    /// A value that does not fit its column's encoding.
    #[error("column {column:?}: {message}")]
    Value { column: String, message: String },
    /// A sample index past the end of a shard (a caller's mistake, not a corrupt file).
    #[error("{path}: sample {index} is out of range (the shard holds {len} samples)")]
    SampleOutOfRange {
        path: PathBuf,
        index: usize,
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
