//! Times Cascade's exact index ranking the whole item corpus for every user: top-K by inner
//! product over Gaussian user and item vectors. With `--timed-users` below `--users`, only that
//! many users are searched and the time for all users is extrapolated linearly (each block of
//! users is independent work over the same corpus), and reported as such.

use cascade_retrieve::{ExactIndex, ItemEmbeddings, Metric, TopKIndex};
use clap::Parser;
use std::time::Instant;

/// Command-line options.
#[derive(Parser)]
struct Args {
    /// Users (queries) to rank items for.
    #[arg(long)]
    users: usize,
    /// Items in the corpus.
    #[arg(long)]
    items: usize,
    /// Embedding width.
    #[arg(long, default_value_t = 64)]
    dim: usize,
    /// Items kept per user.
    #[arg(long, default_value_t = 100)]
    k: usize,
    /// Users actually searched (default: all); the rest is extrapolated.
    #[arg(long)]
    timed_users: Option<usize>,
    /// Threads.
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
    let timed = args.timed_users.unwrap_or(args.users).min(args.users);
    anyhow::ensure!(timed > 0, "no users to time");
    let items = cascade_bench::vectors::gaussian(args.items, args.dim, args.seed);
    let users = cascade_bench::vectors::gaussian(timed, args.dim, args.seed + 1);
    let index = ExactIndex::new(ItemEmbeddings::new(args.dim, items)?, Metric::InnerProduct)?;
    let started = Instant::now();
    let top = index.search(&users, args.k, None)?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(top.len() == timed, "got {} result rows", top.len());
    let all_seconds = seconds * args.users as f64 / timed as f64;
    cascade_bench::report(serde_json::json!({
        "tool": "cascade-exact",
        "users": args.users,
        "items": args.items,
        "dim": args.dim,
        "k": args.k,
        "threads": args.threads,
        "timed_users": timed,
        "timed_seconds": seconds,
        "all_users_seconds": all_seconds,
        "extrapolated": timed < args.users,
        "users_per_s": timed as f64 / seconds,
    }));
    Ok(())
}
