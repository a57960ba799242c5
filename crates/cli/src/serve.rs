//! `cascade serve --retrieval RUN [--ranking RUN] [--index PATH|URL] [--bind 127.0.0.1:8080]`: the
//! funnel as an HTTP service (see the `cascade-service` crate for the routes).

use cascade_service::api::Limits;
use cascade_service::{IndexSource, ModelSource, ServiceConfig};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `cascade serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// The two-tower run that retrieves candidates.
    #[arg(long, value_name = "RUN")]
    pub retrieval: PathBuf,
    /// A ranking run (DLRM, DCN, DeepFM) on the same data that re-ranks the candidates.
    #[arg(long, value_name = "RUN")]
    pub ranking: Option<PathBuf>,
    /// Dataset folder; default: the retrieval run's data.path.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Search this index instead of the exact one: an HNSW file (from `cascade index build`)
    /// or a `postgres://` URL (a pgvector table from `cascade index export`).
    #[arg(long, value_name = "PATH|URL")]
    pub index: Option<String>,
    /// The pgvector table of a `postgres://` --index.
    #[arg(long, value_name = "NAME", default_value = "cascade_items")]
    pub index_table: String,
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
        index: args
            .index
            .map(|text| IndexSource::parse(&text, &args.index_table)),
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
