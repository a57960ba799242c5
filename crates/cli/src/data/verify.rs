//! `cascade data verify`: checks every digest and the structure of every shard of every split
//! (and, for a Cascade dataset, that each split holds the samples `cascade.json` says); exits
//! non-zero with a message naming the first bad shard file.

use super::inspect::dataset_splits;
use anyhow::Context;
use cascade_mds::verify_dataset;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `cascade data verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// Dataset folder: a Cascade dataset (with `cascade.json`) or an MDS folder (with
    /// `index.json`).
    pub dir: PathBuf,
}

/// Runs `cascade data verify`.
pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let (_, splits) = dataset_splits(&args.dir)?;
    let (mut shards, mut samples, mut digests) = (0, 0, 0);
    for split in &splits {
        let report = verify_dataset(&split.dir)
            .with_context(|| format!("split {:?} failed verification", split.name))?;
        if let Some(promised) = split.manifest_samples {
            anyhow::ensure!(
                promised == report.samples,
                "split {:?}: cascade.json says {promised} samples, its shards hold {}",
                split.name,
                report.samples
            );
        }
        for algo in &report.unchecked_hashes {
            eprintln!(
                "warning: split {:?}: the index lists {algo} digests, which this build cannot check",
                split.name
            );
        }
        println!(
            "split {}: {} shards, {} samples, {} digests checked: OK",
            split.name, report.shards, report.samples, report.hashes_checked
        );
        shards += report.shards;
        samples += report.samples;
        digests += report.hashes_checked;
    }
    println!(
        "{}: {shards} shards, {samples} samples, {digests} digests checked: OK",
        args.dir.display()
    );
    Ok(())
}
