//! `cascade data ...`: dataset conversion, generation, inspection and verification.

mod convert;
mod inspect;
mod synth;
mod verify;

use clap::Subcommand;

/// The `data` sub-commands.
#[derive(Subcommand)]
pub enum DataCommand {
    /// Convert MovieLens, Learning-from-Sets, Criteo, CSV/TSV or Parquet data into a dataset.
    Convert(convert::ConvertArgs),
    /// Generate a synthetic dataset with a planted signal.
    Synth(synth::SynthArgs),
    /// Describe a dataset: columns, encodings, samples, shards, bytes, splits.
    Inspect(inspect::InspectArgs),
    /// Check every shard's hashes and structure; exits non-zero naming the first bad shard.
    Verify(verify::VerifyArgs),
}

/// Runs one `data` sub-command.
pub fn run(command: DataCommand) -> anyhow::Result<()> {
    match command {
        DataCommand::Convert(args) => convert::run(args),
        DataCommand::Synth(args) => synth::run(args),
        DataCommand::Inspect(args) => inspect::run(args),
        DataCommand::Verify(args) => verify::run(args),
    }
}
