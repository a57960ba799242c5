//! The `cascade` command: one binary over the library crates (data, embeddings, models,
//! training, tracking, retrieval, serving). Each sub-command lives in its own module and only
//! parses arguments, calls a library, and prints.

mod data;

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
    /// Convert, generate, inspect and verify datasets (MDS shards).
    #[command(subcommand)]
    Data(data::DataCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Data(command) => data::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
