//! `cascade data inspect`.

use clap::Args;
use std::path::PathBuf;

/// Arguments of `cascade data inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// Dataset folder.
    pub dir: PathBuf,
}

/// Runs `cascade data inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("not built yet")
}
