//! `cascade data convert`.

use clap::Args;
use std::path::PathBuf;

/// Arguments of `cascade data convert`.
#[derive(Args)]
pub struct ConvertArgs {
    /// Dataset folder.
    pub dir: PathBuf,
}

/// Runs `cascade data convert`.
pub fn run(args: ConvertArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("not built yet")
}
