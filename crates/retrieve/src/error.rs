//! The one error type of the crate: every failure a caller, a file or a configuration can cause,
//! each naming the file, field or argument at fault so the message alone says what to fix.

use std::path::PathBuf;

/// Why a retrieval operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum RetrieveError {
    /// An argument or a file declared a shape that does not fit (wrong length, zero dimension).
    #[error("{what}: {reason}")]
    Shape {
        /// The argument or file field with the bad shape.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A vector holds NaN or an infinity, which has no place in a ranking.
    #[error("{what}: row {row}, column {col} is {value}, not a finite number")]
    NonFinite {
        /// Which matrix (item embeddings, queries).
        what: &'static str,
        /// The offending row.
        row: usize,
        /// The offending column.
        col: usize,
        /// The value found.
        value: f32,
    },
    /// Top-K with K = 0 asks for nothing; it is almost always a configuration mistake.
    #[error("K must be at least 1")]
    ZeroK,
    /// An index over zero items cannot answer anything.
    #[error("cannot build an index over an empty corpus (0 items)")]
    EmptyCorpus,
    /// An item index in a filter or a file is not below the number of items.
    #[error("{what}: item {item} is out of range for {count} items")]
    ItemOutOfRange {
        /// Where the index was found (global exclusion list, seen list of query N).
        what: String,
        /// The offending item index.
        item: u64,
        /// How many items the index holds.
        count: usize,
    },
    /// The embeddings an index was built from differ from the ones it is used with.
    #[error(
        "{source_name}: built from embeddings with fingerprint {found}, but the model's embeddings have fingerprint {expected}; rebuild the index"
    )]
    FingerprintMismatch {
        /// The index file, or "in-memory index".
        source_name: String,
        /// The fingerprint the caller expects (the model's).
        expected: String,
        /// The fingerprint recorded in the index.
        found: String,
    },
    /// Reading or writing a file failed at the operating-system level.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file was read but its content is not what it should be.
    #[error("{}: {reason}", path.display())]
    BadFile {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl RetrieveError {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// Describes a file whose content is wrong.
    pub(crate) fn bad_file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::BadFile {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// Describes an argument with the wrong shape.
    pub(crate) fn shape(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Shape {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, RetrieveError>;
