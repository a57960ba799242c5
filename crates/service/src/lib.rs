//! The recommendation funnel as an HTTP service (`cascade serve`): the models of a retrieval
//! run (and optionally a ranking run) answer `POST /v1/recommend` and
//! `GET /v1/similar-items/{item_id}`, report `GET /healthz` and `GET /metrics` (Prometheus), and
//! are replaced by a newer version without failing a request in flight.
//!
//! - [`ModelSource`] names what is loaded (runs, dataset, index) and loads it; a run is a
//!   local folder or a registered MLflow model ([`RunSource`]), resolved again at every load.
//! - [`api`] holds the request and response bodies and the rules a request must follow.
//! - [`Gate`] bounds the work in flight: a request past the bound is turned away at once with
//!   `503` and `Retry-After` rather than queued, and one slower than the per-request timeout is
//!   answered `504`; model work runs on blocking threads so it never stalls the listener.
//! - [`Metrics`] counts requests by route and status, times them, and names the model version.
//! - [`router`] puts the routes, limits and metrics together; [`run`] serves them until
//!   Ctrl-C or SIGTERM, reloading on SIGHUP or `POST /v1/admin/reload`.
//!
//! Reloading builds the new models beside the current ones and then swaps one pointer: a
//! request holds the version it started with until it ends, so none is dropped or mixed.

pub mod api;
mod error;
mod gate;
mod metrics;
mod routes;
mod server;
mod source;
mod state;

pub use error::{ApiError, ServiceError};
pub use gate::Gate;
pub use metrics::Metrics;
pub use routes::router;
pub use server::{ServiceConfig, run};
pub use source::{IndexSource, ModelSource, RegistrySettings, RunSource};
pub use state::{AppState, Loaded};
