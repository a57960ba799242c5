//! `cascade data synth`: writes a synthetic dataset with a planted signal, and prints the
//! quality ceiling a trained model can be judged against.

use super::convert::writer_options;
use anyhow::Context;
use cascade_synth::{DlrmConfig, TwoTowerConfig};
use clap::{Args, ValueEnum};
use serde_json::Value as Json;
use std::io::Write;
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Kinds:
  dlrm       Criteo-shaped click rows: `dense` (float32 x --dense), one id column per table
             (C1, C2, ...; a bag per row with --multi-hot), `label` drawn from a hidden logistic
             model over the dense values and the ids. cascade.json's extra.ceiling_auc is the
             hidden model's own AUC: the best any model can reach.
  two-tower  MovieLens-100K-shaped interactions (u.user, u.item and u.data written and
             converted as `--format movielens-100k --split leave-last:N`): users with age,
             gender, occupation and zip; items with genres and year; picks driven by popularity
             and a hidden user-item affinity. extra.hidden_recall@100 is the ceiling,
             extra.popularity_recall@100 the most-popular floor.

The same --seed always writes the same bytes, whatever the number of threads.

Examples:
  cascade data synth --kind dlrm --rows 1000000 --out synth-dlrm
  cascade data synth --kind dlrm --rows 200000 --tables 8 --cardinality 50000 --multi-hot 1-5 --out bags
  cascade data synth --kind two-tower --rows 100000 --out synth-ml";

/// The two dataset shapes `cascade data synth` writes.
#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    /// Criteo-shaped click rows for ranking models.
    Dlrm,
    /// MovieLens-shaped interactions for retrieval models.
    TwoTower,
}

/// Arguments of `cascade data synth`.
#[derive(Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct SynthArgs {
    /// Dataset shape: dlrm or two-tower.
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// Rows (interactions for two-tower), all splits together.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// The dataset folder to create (written elsewhere first, renamed when complete).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of everything random.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Replace --out if it exists and is not empty.
    #[arg(long)]
    pub force: bool,
    /// Shard compression: none (the default, as Mosaic's MDSWriter), zstd, zstd:LEVEL, gz, bz2,
    /// snappy or br. Compressing costs more than generating (zstd cuts the rows/s about
    /// fourfold); pick zstd for datasets stored or sent over a network.
    #[arg(long, default_value = "none")]
    pub compression: String,
    /// Digests recorded for every shard, comma-separated (sha1, xxh64, xxh3_64, ...), or none.
    #[arg(long, default_value = "xxh64")]
    pub hashes: String,
    /// The settings of the dlrm kind (boxed: they are most of the arguments).
    #[command(flatten)]
    pub dlrm: Box<DlrmArgs>,
    /// The settings of the two-tower kind.
    #[command(flatten)]
    pub two_tower: TwoTowerArgs,
}

/// Settings of `--kind dlrm`; the defaults are the reference shape (13 dense, 26 × 100 000).
#[derive(Args)]
pub struct DlrmArgs {
    /// Dense features per row.
    #[arg(long, default_value_t = 13, help_heading = "dlrm")]
    pub dense: usize,
    /// Number of sparse tables.
    #[arg(long, default_value_t = 26, help_heading = "dlrm")]
    pub tables: usize,
    /// Ids per table: one value for every table, or one per table, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "100000",
        help_heading = "dlrm"
    )]
    pub cardinality: Vec<u64>,
    /// Ids per row and table as MIN-MAX (a bag of uniform length); 1-1 is one id per table.
    #[arg(long, default_value = "1-1", help_heading = "dlrm")]
    pub multi_hot: String,
    /// Zipf exponent of the ids (0 is uniform).
    #[arg(long, default_value_t = 1.05, help_heading = "dlrm")]
    pub zipf: f64,
    /// Fraction of rows in the `val` split.
    #[arg(long, default_value_t = 0.1, help_heading = "dlrm")]
    pub val_fraction: f64,
    /// Fraction of rows in the `test` split.
    #[arg(long, default_value_t = 0.1, help_heading = "dlrm")]
    pub test_fraction: f64,
    /// Target fraction of positive labels.
    #[arg(long, default_value_t = 0.25, help_heading = "dlrm")]
    pub positive_rate: f64,
    /// Standard deviation of the hidden logit: larger makes labels easier to predict.
    #[arg(long, default_value_t = 1.5, help_heading = "dlrm")]
    pub signal: f64,
}

/// Settings of `--kind two-tower`; by default MovieLens 100K's density.
#[derive(Args)]
pub struct TwoTowerArgs {
    /// Users [default: one per 100 interactions].
    #[arg(long, help_heading = "two-tower")]
    pub users: Option<u64>,
    /// Items [default: one per 60 interactions, 200 to 50 000].
    #[arg(long, help_heading = "two-tower")]
    pub items: Option<u64>,
    /// Each user's latest interactions held out as `test`.
    #[arg(long, default_value_t = 10, help_heading = "two-tower")]
    pub leave_last: usize,
    /// Zipf exponent of item popularity (0 = none).
    #[arg(long, default_value_t = 0.9, help_heading = "two-tower")]
    pub popularity: f64,
    /// Strength of personal taste, in logits (0 = everyone follows popularity).
    #[arg(long, default_value_t = 2.5, help_heading = "two-tower")]
    pub preference: f64,
}

/// `--multi-hot MIN-MAX` as a range.
fn bag_range(text: &str) -> anyhow::Result<(u32, u32)> {
    let parse = |part: &str| part.trim().parse::<u32>().ok();
    match text.split_once('-').map(|(a, b)| (parse(a), parse(b))) {
        Some((Some(min), Some(max))) => Ok((min, max)),
        _ => anyhow::bail!("--multi-hot {text:?}: expected MIN-MAX, such as 1-1 or 2-8"),
    }
}

/// The per-table cardinalities of `--tables` and `--cardinality`.
fn cardinalities(args: &DlrmArgs) -> anyhow::Result<Vec<u64>> {
    match args.cardinality.as_slice() {
        [one] => Ok(vec![*one; args.tables]),
        list if list.len() == args.tables => Ok(list.to_vec()),
        list => anyhow::bail!(
            "--cardinality lists {} values but --tables is {}; give one value for every table or one per table",
            list.len(),
            args.tables
        ),
    }
}

/// Runs `cascade data synth`.
pub fn run(args: SynthArgs) -> anyhow::Result<()> {
    let writer = writer_options(&args.compression, &args.hashes)?;
    let started = std::time::Instant::now();
    let manifest = match args.kind {
        Kind::Dlrm => {
            let d = &args.dlrm;
            let config = DlrmConfig {
                rows: args.rows,
                dense: d.dense,
                cardinalities: cardinalities(d)?,
                bag: bag_range(&d.multi_hot)?,
                zipf: d.zipf,
                val_fraction: d.val_fraction,
                test_fraction: d.test_fraction,
                positive_rate: d.positive_rate,
                signal: d.signal,
                seed: args.seed,
                compression: writer.compression,
                hashes: writer.hashes,
            };
            cascade_synth::dlrm::generate(&config, &args.out, args.force)?
        }
        Kind::TwoTower => {
            let t = &args.two_tower;
            let config = TwoTowerConfig {
                rows: args.rows,
                users: t.users,
                items: t.items,
                leave_last: t.leave_last,
                popularity: t.popularity,
                preference: t.preference,
                seed: args.seed,
                compression: writer.compression,
                hashes: writer.hashes,
            };
            cascade_synth::two_tower::generate(&config, &args.out, args.force)?
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let extra = &manifest.extra;
    let figure = |key: &str| extra.get(key).and_then(Json::as_f64);
    let mut summary = format!(
        "generated {} rows into {} in {seconds:.2}s ({:.0} rows/s)\n",
        args.rows,
        args.out.display(),
        args.rows as f64 / seconds.max(1e-9)
    );
    for (name, split) in &manifest.splits {
        summary += &format!("  split {name}: {} samples\n", split.samples);
    }
    if let Some(auc) = figure("ceiling_auc") {
        summary += &format!("  ceiling AUC (the hidden model's): {auc:.4}\n");
    }
    if let Some(rate) = figure("positive_rate") {
        summary += &format!("  positive rate: {rate:.4}\n");
    }
    if let Some(recall) = figure("hidden_recall@100") {
        summary += &format!("  ceiling recall@100 (the hidden model's): {recall:.4}\n");
    }
    if let Some(recall) = figure("popularity_recall@100") {
        summary += &format!("  most-popular recall@100: {recall:.4}\n");
    }
    std::io::stdout()
        .write_all(summary.as_bytes())
        .context("writing the summary to standard output")?;
    Ok(())
}
