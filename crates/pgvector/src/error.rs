//! The one error type of the crate: each failure names the server (its URL without the password)
//! and the table concerned, so the message alone says where to look.

use cascade_retrieve::RetrieveError;

/// Why exporting to or searching a pgvector table failed.
#[derive(Debug, thiserror::Error)]
pub enum PgVectorError {
    /// The connection URL could not be parsed.
    #[error("{url}: not a valid PostgreSQL URL: {reason}")]
    BadUrl {
        /// The URL with any password replaced by `***`.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server could not be reached or refused the login.
    #[error("{server}: cannot connect: {source}")]
    Connect {
        /// The server, as `postgres://host:port/db`.
        server: String,
        /// The client's error.
        source: postgres::Error,
    },
    /// A table name that is not a plain SQL identifier, or one this crate reserves.
    #[error("table name {name:?}: {reason}")]
    BadTableName {
        /// The name as given.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// A statement failed on the server (or the connection broke while it ran).
    #[error("{server} table {table}: {action}: {source}")]
    Query {
        /// The server, as `postgres://host:port/db`.
        server: String,
        /// The table being worked on.
        table: String,
        /// What was being done.
        action: &'static str,
        /// The client's error, which carries the server's message.
        source: postgres::Error,
    },
    /// No export of that name is recorded in the metadata table.
    #[error(
        "{server} table {table}: no such exported index (no row in {metadata}); export the embeddings first"
    )]
    UnknownTable {
        /// The server, as `postgres://host:port/db`.
        server: String,
        /// The table asked for.
        table: String,
        /// The metadata table consulted.
        metadata: &'static str,
    },
    /// The server holds something other than what an export writes.
    #[error("{server} table {table}: {reason}")]
    BadContent {
        /// The server, as `postgres://host:port/db`.
        server: String,
        /// The table concerned.
        table: String,
        /// What is wrong.
        reason: String,
    },
    /// The arguments do not fit (ids and embeddings of different lengths, too many items).
    #[error("{what}: {reason}")]
    Shape {
        /// The argument at fault.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A check shared with the in-memory indexes refused the arguments.
    #[error(transparent)]
    Retrieve(#[from] RetrieveError),
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, PgVectorError>;
