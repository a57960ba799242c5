//! Writes the shared data of the ANN benchmark: item and query vectors as float32 `.npy` files
//! and the exact top-K of every query (Cascade's exact index) as an int32 `.npy` file, so that
//! Cascade's HNSW and the peer measure recall against the same ground truth.

use cascade_retrieve::{ExactIndex, ItemEmbeddings, Metric, TopKIndex, npy};
use clap::Parser;
use std::path::PathBuf;
use std::time::Instant;

/// Command-line options.
#[derive(Parser)]
struct Args {
    /// Folder to write `items.npy`, `queries.npy` and `truth.npy` into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Items in the corpus.
    #[arg(long, default_value_t = 1_000_000)]
    items: usize,
    /// Query vectors.
    #[arg(long, default_value_t = 10_000)]
    queries: usize,
    /// Vector width.
    #[arg(long, default_value_t = 64)]
    dim: usize,
    /// Cluster centres the vectors are drawn around; 0 for vectors uniform on the sphere.
    #[arg(long, default_value_t = 1024)]
    clusters: usize,
    /// Per-coordinate standard deviation of the noise around a centre.
    #[arg(long, default_value_t = 0.1)]
    spread: f32,
    /// Neighbours per query in the ground truth.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Threads for the exact search.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seed of the synthetic vectors.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build_global()?;
    std::fs::create_dir_all(&args.out)?;
    let started = Instant::now();
    let centres = cascade_bench::vectors::centres(args.clusters, args.dim, args.seed);
    let items = cascade_bench::vectors::clustered(
        args.items,
        args.dim,
        &centres,
        args.spread,
        args.seed + 1,
    );
    let queries = cascade_bench::vectors::clustered(
        args.queries,
        args.dim,
        &centres,
        args.spread,
        args.seed + 2,
    );
    let items = ItemEmbeddings::new(args.dim, items)?;
    items.write_npy(&args.out.join("items.npy"))?;
    npy::write(
        &args.out.join("queries.npy"),
        [args.queries, args.dim],
        &queries,
    )?;
    let generated = started.elapsed().as_secs_f64();
    // Unit vectors: inner product ranks like cosine and like L2 distance.
    let exact = ExactIndex::new(items, Metric::InnerProduct)?;
    let started = Instant::now();
    let truth = exact.search(&queries, args.k, None)?;
    let exact_seconds = started.elapsed().as_secs_f64();
    let mut ids = Vec::with_capacity(args.queries * args.k);
    for query in 0..truth.len() {
        let items = truth.items(query);
        anyhow::ensure!(
            items.len() == args.k,
            "query {query} has {} hits",
            items.len()
        );
        ids.extend(items.iter().map(|&item| item as i32));
    }
    npy::write(&args.out.join("truth.npy"), [args.queries, args.k], &ids)?;
    cascade_bench::report(serde_json::json!({
        "tool": "ann_data",
        "items": args.items,
        "queries": args.queries,
        "dim": args.dim,
        "clusters": args.clusters,
        "generate_seconds": generated,
        "exact_search_seconds": exact_seconds,
        "exact_queries_per_s": args.queries as f64 / exact_seconds,
    }));
    Ok(())
}
