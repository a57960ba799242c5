//! Everything that can go wrong in the embedding layer, each error naming the table, feature,
//! id or file involved so that a user can act on it without reading the code.

use std::path::PathBuf;

/// Why an embedding operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A table or collection configuration is unusable.
    #[error("embedding table '{table}': {reason}")]
    Config {
        /// The table whose configuration is wrong.
        table: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The optimizer configuration is unusable.
    #[error("embedding optimizer: {0}")]
    Optimizer(String),
    /// A batch lacks a feature the collection serves.
    #[error("batch has no feature '{feature}', which embedding table '{table}' serves")]
    MissingFeature {
        /// The feature the batch lacks.
        feature: String,
        /// The table that serves it.
        table: String,
    },
    /// An id is not below the table's row count and the table's policy is to refuse it.
    #[error(
        "embedding table '{table}': feature '{feature}' has id {id}, but the table has only \
         {rows} rows (set out_of_range to \"modulo\" or \"hash\" to fold large ids)"
    )]
    IdOutOfRange {
        /// The table looked up.
        table: String,
        /// The feature that carried the id.
        feature: String,
        /// The offending id.
        id: u64,
        /// The table's row count.
        rows: u64,
    },
    /// A row index passed to a row accessor is not below the table's row count.
    #[error("embedding table '{table}': row {row} does not exist (the table has {rows} rows)")]
    RowOutOfRange {
        /// The table addressed.
        table: String,
        /// The offending row.
        row: u64,
        /// The table's row count.
        rows: u64,
    },
    /// A buffer passed in or out has the wrong length.
    #[error("{what}: expected {expected} values, found {found}")]
    Length {
        /// Which buffer, naming the table where there is one.
        what: String,
        /// The length required.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// A table name was not found in the collection.
    #[error("no embedding table named '{0}'")]
    UnknownTable(String),
    /// A checkpoint is not a valid embedding checkpoint or does not fit the collection.
    #[error("embedding checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing a checkpoint file failed.
    #[error("embedding checkpoint {path}: {source}")]
    Io {
        /// The checkpoint file.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, EmbedError>;
