//! `cascade data verify`.

use clap::Args;
use std::path::PathBuf;

/// Arguments of `cascade data verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// Dataset folder.
    pub dir: PathBuf,
}

/// Runs `cascade data verify`.
pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("not built yet")
}
