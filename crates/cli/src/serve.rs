//! `cascade serve --retrieval RUN [--ranking RUN] [--index PATH|URL] [--bind 127.0.0.1:8080]`: the
//! funnel as an HTTP service (see the `cascade-service` crate for the routes). A run is a run
//! folder or a registered MLflow model, `models:/NAME@ALIAS`, resolved on `--tracking-uri` (or
//! `MLFLOW_TRACKING_URI`) at start and at every reload.

use crate::index::IndexFlags;
use cascade_service::api::Limits;
use cascade_service::{ModelSource, RegistrySettings, RunSource, ServiceConfig};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `cascade serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// The two-tower run that retrieves candidates: a run folder, or a registered MLflow model
    /// `models:/NAME@ALIAS` (or `models:/NAME/VERSION`).
    #[arg(long, value_name = "RUN|URI", value_parser = parse_run)]
    pub retrieval: RunSource,
    /// A ranking run (DLRM, DCN, DeepFM) on the same data that re-ranks the candidates: a run
    /// folder or a `models:/NAME@ALIAS` URI.
    #[arg(long, value_name = "RUN|URI", value_parser = parse_run)]
    pub ranking: Option<RunSource>,
    /// The MLflow server that resolves `models:/` URIs (default: MLFLOW_TRACKING_URI);
    /// credentials come from MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD.
    #[arg(long, value_name = "URL")]
    pub tracking_uri: Option<String>,
    /// Where registered models are downloaded, one folder per MLflow run
    /// [default: ~/.cache/cascade/mlflow].
    #[arg(long, value_name = "DIR")]
    pub model_cache: Option<PathBuf>,
    /// Dataset folder; default: the retrieval run's data.path.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The index searched instead of the exact one.
    #[command(flatten)]
    pub index: IndexFlags,
    /// Address to listen on; loopback unless you name another (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Requests computing at once; more are answered 503 with Retry-After.
    #[arg(long, default_value_t = 64)]
    pub max_concurrency: usize,
    /// Longest a request may compute, in milliseconds, before it is answered 504.
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,
    /// Largest request body in bytes (413 beyond).
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// Largest k a request may ask for.
    #[arg(long, default_value_t = 1000)]
    pub max_k: usize,
}

/// Runs `cascade serve` until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    if args.max_concurrency == 0 || args.timeout_ms == 0 || args.max_k == 0 {
        anyhow::bail!("--max-concurrency, --timeout-ms and --max-k must be at least 1");
    }
    let source = ModelSource {
        retrieval: args.retrieval,
        ranking: args.ranking,
        data: args.data,
        index: args.index.source(),
        registry: RegistrySettings {
            tracking_uri: cascade_track::resolve_tracking_uri(args.tracking_uri.as_deref()),
            cache_dir: args
                .model_cache
                .unwrap_or_else(cascade_track::default_model_cache),
        },
    };
    let config = ServiceConfig {
        bind: args.bind,
        max_concurrency: args.max_concurrency,
        request_timeout: Duration::from_millis(args.timeout_ms),
        max_body_bytes: args.max_body_bytes,
        limits: Limits {
            max_k: args.max_k,
            ..Limits::default()
        },
    };
    cascade_service::run(source, config)?;
    Ok(())
}

/// A `--retrieval`/`--ranking` value: a `models:/` URI or a run folder.
fn parse_run(text: &str) -> Result<RunSource, String> {
    RunSource::parse(text).map_err(|e| e.to_string())
}
