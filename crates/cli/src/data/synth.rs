//! `cascade data synth`.

use clap::Args;
use std::path::PathBuf;

/// Arguments of `cascade data synth`.
#[derive(Args)]
pub struct SynthArgs {
    /// Dataset folder.
    pub dir: PathBuf,
}

/// Runs `cascade data synth`.
pub fn run(args: SynthArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("not built yet")
}
