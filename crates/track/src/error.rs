//! The errors of experiment tracking: local run-folder I/O, unreadable run files, and MLflow
//! answers, each carrying what a user needs to act on it.

use std::path::PathBuf;

/// Everything that can go wrong while tracking a run.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// A file or folder of the run store could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A run file exists but does not hold what Cascade wrote there.
    #[error("{path}: {message}")]
    Corrupt {
        /// The unreadable file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The MLflow server answered with an error.
    #[error("MLflow {endpoint} failed with HTTP {status}: {error_code}: {message}")]
    Api {
        /// The REST endpoint, e.g. `runs/log-batch`.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// MLflow's `error_code`, e.g. `RESOURCE_DOES_NOT_EXIST`.
        error_code: String,
        /// MLflow's message.
        message: String,
    },
    /// The MLflow server could not be reached (connection refused, timeout, TLS failure).
    #[error("cannot reach the MLflow server at {uri}: {message}")]
    Unreachable {
        /// The tracking URI.
        uri: String,
        /// What the transport reported.
        message: String,
    },
    /// A resumed run tried to change a param; MLflow params are immutable.
    #[error(
        "param `{key}` was logged as `{existing}` and this run now sets it to `{new}`; params of a run cannot change: keep the value or start a new run"
    )]
    ParamChanged {
        /// The param's key.
        key: String,
        /// The value already logged.
        existing: String,
        /// The value this run tried to log.
        new: String,
    },
    /// A registered model could not be resolved or downloaded.
    #[error("cannot load {model} from the MLflow server at {server}: {cause}")]
    Registry {
        /// The model URI, e.g. `models:/NAME@ALIAS`.
        model: String,
        /// The tracking URI.
        server: String,
        /// What went wrong (part of the message, so not repeated as a source).
        cause: Box<TrackError>,
    },
    /// The caller asked for something that cannot be done with what it gave.
    #[error("{0}")]
    Invalid(String),
    /// No run matches a name or path.
    #[error("no run `{name}` under {root}")]
    RunNotFound {
        /// The name or path asked for.
        name: String,
        /// The runs root searched.
        root: PathBuf,
    },
}

impl TrackError {
    /// Builds a closure turning an I/O error into [`TrackError::Io`] with its context, for
    /// `map_err`.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> TrackError {
        let context = context.into();
        move |source| TrackError::Io { context, source }
    }

    /// Whether retrying the same request later may succeed: the server was unreachable, busy
    /// or failing internally, rather than rejecting the request itself.
    pub fn is_transient(&self) -> bool {
        match self {
            TrackError::Unreachable { .. } => true,
            TrackError::Api { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            TrackError::Registry { cause, .. } => cause.is_transient(),
            _ => false,
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = TrackError> = std::result::Result<T, E>;
