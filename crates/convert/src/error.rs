//! Errors of the converters. Every error about input names the file, and for a malformed row the
//! position (1-based line, counting any header, or row for columnar files) and the field.

use std::fmt;
use std::path::PathBuf;

/// Where in an input file a bad value sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// 1-based line of a text file, counting the header line if there is one.
    Line(u64),
    /// 1-based row of a columnar file (Parquet), not counting any header.
    Row(u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Row(n) => write!(f, "row {n}"),
        }
    }
}

/// A malformed row: which file, where, which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The input file.
    pub path: PathBuf,
    /// Line or row of the bad value.
    pub position: Position,
    /// The field (column name, or the format's name for it).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}, field {}: {}",
            self.path.display(),
            self.position,
            self.field,
            self.message
        )
    }
}

/// Everything that can stop a conversion.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// An I/O failure on a named file or folder.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// A malformed row (and `--skip-bad-rows` was not given).
    #[error("{0}")]
    Row(RowError),
    /// An input file or folder that is not what the format requires (missing file, wrong header).
    #[error("{path}: {message}")]
    Input {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Options that contradict each other or the format.
    #[error("{0}")]
    Options(String),
    /// Writing the MDS shards failed.
    #[error(transparent)]
    Mds(#[from] cascade_mds::MdsError),
    /// Writing the manifest failed.
    #[error(transparent)]
    Manifest(#[from] cascade_data::ManifestError),
    /// Writing a vocabulary failed.
    #[error(transparent)]
    Vocab(#[from] cascade_data::VocabError),
}

impl ConvertError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ConvertError {
        ConvertError::Io {
            path: path.into(),
            source,
        }
    }

    /// An input error on `path`.
    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> ConvertError {
        ConvertError::Input {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Result alias for the converters.
pub type Result<T, E = ConvertError> = std::result::Result<T, E>;
