//! The `cascade` command: one binary over the library crates (data, embeddings, models,
//! training, tracking, retrieval, serving). Each sub-command lives in its own module and only
//! parses arguments, calls a library, and prints.

mod data;
mod eval;
mod export;
mod index;
mod plan;
mod predict;
mod quickstart;
mod recommend;
mod runs;
mod serve;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Train, evaluate and serve deep-learning recommendation models.
#[derive(Parser)]
#[command(name = "cascade", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole funnel on built-in synthetic data: generate, train retrieval and ranking,
    /// evaluate, recommend (no download, no server).
    Quickstart(quickstart::QuickstartArgs),
    /// Convert, generate, inspect and verify datasets (MDS shards).
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Train a ranking model from a TOML configuration, or resume an interrupted run.
    Train(train::TrainArgs),
    /// Evaluate a run's latest model on a dataset split (AUC, log loss, NE, calibration).
    Eval(eval::EvalArgs),
    /// Export a two-tower run's user and item embeddings with their raw ids (Parquet and MDS).
    Export(export::ExportArgs),
    /// Build approximate top-K indexes over a two-tower run's item vectors.
    #[command(subcommand)]
    Index(index::IndexCommand),
    /// Plan how a configuration's embedding tables shard over N ranks, and the memory per rank.
    Plan(plan::PlanArgs),
    /// Write a run's click probabilities for a dataset split to a CSV file.
    Predict(predict::PredictArgs),
    /// Recommend items to a user from a two-tower run, optionally re-ranked by a ranking run.
    Recommend(recommend::RecommendArgs),
    /// Serve the funnel over HTTP: recommend, similar items, health, Prometheus metrics.
    Serve(serve::ServeArgs),
    /// List, show, compare and sync the runs in the local run store.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
}

/// Restores the default action of SIGPIPE, which Rust programs ignore: `cascade ... | head`
/// then ends quietly when `head` closes the pipe, instead of failing on the next write.
fn die_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any thread exists; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    die_quietly_on_closed_pipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Quickstart(args) => quickstart::run(args),
        Command::Data(command) => data::run(command),
        Command::Recommend(args) => recommend::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Export(args) => export::run(args),
        Command::Index(command) => index::run(command),
        Command::Runs(command) => runs::run(command),
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            // A run stopped with Ctrl-C exits as a process killed by SIGINT would.
            match err.downcast_ref::<cascade_train::TrainError>() {
                Some(cascade_train::TrainError::Interrupted { .. }) => ExitCode::from(130),
                _ => ExitCode::FAILURE,
            }
        }
    }
}
