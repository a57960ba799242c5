//! Cascade's side of the ANN benchmark: builds an HNSW index over `items.npy` (from `ann_data`),
//! then for each search expansion (`ef_search`) times the batched search of `queries.npy` and
//! measures recall@K against `truth.npy`. Prints one JSON line for the build and one per
//! expansion. `--save` keeps the built graph; `--load` searches a saved graph instead of building
//! (so that repeated search sweeps need not rebuild).

use cascade_retrieve::{
    HnswIndex, HnswParams, ItemEmbeddings, LoadMode, Metric, TopK, TopKIndex, npy,
};
use clap::Parser;
use std::path::PathBuf;
use std::time::Instant;

/// Command-line options.
#[derive(Parser)]
struct Args {
    /// Folder written by `ann_data`.
    #[arg(long)]
    dir: PathBuf,
    /// Links per node (HNSW's `M`; twice as many on the base layer).
    #[arg(long, default_value_t = 32)]
    m: usize,
    /// Candidate list size while inserting (`efConstruction`).
    #[arg(long, default_value_t = 40)]
    ef_construction: usize,
    /// Search expansions (`efSearch`) to sweep, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "16,24,32,48,64,96,128,192,256"
    )]
    ef: Vec<usize>,
    /// Neighbours per query.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Threads for building and searching.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Timed searches per expansion; the median is reported.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Saves the built graph here (with its sidecar).
    #[arg(long, conflicts_with = "load")]
    save: Option<PathBuf>,
    /// Loads a graph saved with `--save` instead of building one.
    #[arg(long)]
    load: Option<PathBuf>,
}

/// Mean fraction of each query's true top-K (`truth`, `k` ids per query) found in `found`.
fn recall(truth: &[i32], k: usize, found: &TopK) -> f64 {
    let queries = truth.len() / k;
    let hits: usize = truth
        .chunks_exact(k)
        .enumerate()
        .map(|(query, wanted)| {
            let got = found.items(query);
            wanted
                .iter()
                .filter(|&&id| got.iter().take(k).any(|&item| item as i32 == id))
                .count()
        })
        .sum();
    hits as f64 / (queries * k) as f64
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.repeats > 0, "--repeats must be at least 1");
    rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build_global()?;
    let items = ItemEmbeddings::read_npy(&args.dir.join("items.npy"))?;
    let (queries, dim, query_values) = npy::read::<f32>(&args.dir.join("queries.npy"))?;
    let (truth_rows, truth_k, truth) = npy::read::<i32>(&args.dir.join("truth.npy"))?;
    anyhow::ensure!(
        dim == items.dim(),
        "queries have {dim} dims, items {}",
        items.dim()
    );
    anyhow::ensure!(
        truth_rows == queries && truth_k >= args.k,
        "truth.npy is {truth_rows} × {truth_k}, expected {queries} × at least {}",
        args.k
    );
    let truth: Vec<i32> = truth
        .chunks_exact(truth_k)
        .flat_map(|row| row[..args.k].iter().copied())
        .collect();
    let mut index = match &args.load {
        Some(path) => {
            let started = Instant::now();
            let index = HnswIndex::load(path, LoadMode::InMemory)?;
            anyhow::ensure!(
                index.len() == items.len(),
                "{} holds {} items, items.npy {}",
                path.display(),
                index.len(),
                items.len()
            );
            let params = index.params();
            cascade_bench::report(serde_json::json!({
                "tool": "cascade-hnsw",
                "phase": "load",
                "items": index.len(),
                "m": params.connectivity,
                "ef_construction": params.expansion_add,
                "threads": args.threads,
                "seconds": started.elapsed().as_secs_f64(),
            }));
            index
        }
        None => {
            let params = HnswParams {
                connectivity: args.m,
                expansion_add: args.ef_construction,
                expansion_search: args.ef[0],
            };
            let started = Instant::now();
            let index = HnswIndex::build(&items, Metric::InnerProduct, params)?;
            let build_seconds = started.elapsed().as_secs_f64();
            cascade_bench::report(serde_json::json!({
                "tool": "cascade-hnsw",
                "phase": "build",
                "items": index.len(),
                "m": args.m,
                "ef_construction": args.ef_construction,
                "threads": args.threads,
                "seconds": build_seconds,
            }));
            if let Some(path) = &args.save {
                index.save(path)?;
            }
            index
        }
    };
    for &ef in &args.ef {
        index.set_expansion_search(ef)?;
        let mut seconds = Vec::with_capacity(args.repeats);
        let mut found = None;
        for _ in 0..args.repeats {
            let started = Instant::now();
            let result = index.search(&query_values, args.k, None)?;
            seconds.push(started.elapsed().as_secs_f64());
            found = Some(result);
        }
        seconds.sort_by(f64::total_cmp);
        let median = seconds[seconds.len() / 2];
        let found = found.expect("at least one repeat");
        cascade_bench::report(serde_json::json!({
            "tool": "cascade-hnsw",
            "phase": "search",
            "ef": ef,
            "k": args.k,
            "queries": queries,
            "recall": recall(&truth, args.k, &found),
            "seconds": median,
            "queries_per_s": queries as f64 / median,
        }));
    }
    Ok(())
}
