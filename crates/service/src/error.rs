//! Every failure a client can see, as a status code and a JSON body `{"error": MESSAGE}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cascade_serve::ServeError;

/// A request that could not be answered: its status, message and, when the service is
/// saturated, how many seconds to wait before trying again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the client.
    pub message: String,
    /// Seconds for the `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A status with a message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The request is malformed or breaks a rule (400).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// Too many requests are in flight (503 with `Retry-After`).
    pub fn saturated(limit: usize) -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the service is saturated ({limit} requests in flight); retry shortly"),
            )
        }
    }

    /// The server failed (500).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<ServeError> for ApiError {
    fn from(error: ServeError) -> Self {
        let status = match &error {
            ServeError::UnknownItem(_) | ServeError::UnknownUser(_) => StatusCode::NOT_FOUND,
            ServeError::Invalid(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = axum::Json(serde_json::json!({ "error": self.message }));
        let mut response = (self.status, body).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Why the service could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The models could not be loaded.
    #[error(transparent)]
    Load(#[from] ServeError),
    /// A registered model could not be resolved or downloaded from the MLflow server.
    #[error(transparent)]
    Registry(#[from] cascade_track::TrackError),
    /// A run downloaded for a registered model could not be opened.
    #[error("{uri} (version {version}, downloaded to {dir}): {error}")]
    RegisteredRun {
        /// The model URI.
        uri: String,
        /// The version it resolved to.
        version: String,
        /// The local run folder.
        dir: std::path::PathBuf,
        /// Why it could not be opened (part of the message, so not repeated as a source).
        error: Box<ServeError>,
    },
    /// The vector database could not be opened.
    #[error(transparent)]
    VectorStore(#[from] cascade_pgvector::PgVectorError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The async runtime or the listener failed.
    #[error("the service failed: {0}")]
    Io(#[from] std::io::Error),
}
