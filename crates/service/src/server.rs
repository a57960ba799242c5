//! Starting and stopping: load the models, bind, print the address, serve until Ctrl-C or
//! SIGTERM (letting requests in flight finish), and reload on SIGHUP.

use crate::api::Limits;
use crate::error::ServiceError;
use crate::gate::Gate;
use crate::routes::{reload_from, router};
use crate::source::ModelSource;
use crate::state::AppState;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How the service listens and how much it takes on.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The address to listen on (loopback unless the user asks otherwise).
    pub bind: SocketAddr,
    /// Requests doing model work at once; more are answered `503`.
    pub max_concurrency: usize,
    /// The longest a request may compute before it is answered `504`.
    pub request_timeout: Duration,
    /// The largest request body accepted (`413` beyond).
    pub max_body_bytes: usize,
    /// The bounds of one request.
    pub limits: Limits,
}

/// Loads `source` and serves it with `config` until Ctrl-C or SIGTERM.
pub fn run(source: ModelSource, config: ServiceConfig) -> Result<(), ServiceError> {
    let recommender = source.load()?;
    // Model work is CPU-bound: two threads per core keep the cores busy (and cover requests
    // waiting on a vector database); requests admitted past that wait for a thread, within
    // their timeout. Each thread holds at most one ranking-model replica, which bounds memory.
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads((2 * cores).min(config.max_concurrency.max(1)) + 1)
        .build()?;
    runtime.block_on(async move {
        let gate = Gate::new(config.max_concurrency, config.request_timeout);
        let state = Arc::new(AppState::new(recommender, source, gate, config.limits));
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|source| ServiceError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr()?;
        println!("cascade serve: listening on http://{addr}");
        std::io::stdout().flush()?;
        tokio::spawn(reload_on_hangup(Arc::clone(&state)));
        let app = router(state, config.max_body_bytes)
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        Ok(())
    })
}

/// Reloads the same runs on every SIGHUP, as daemons do.
async fn reload_on_hangup(state: Arc<AppState>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("SIGHUP cannot be watched; reload with POST /v1/admin/reload");
        return;
    };
    while hangups.recv().await.is_some() {
        if let Err(error) = reload_from(&state, Default::default()).await {
            eprintln!("cascade serve: reload on SIGHUP: {}", error.message);
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    eprintln!("cascade serve: shutting down after the requests in flight");
}
