//! `cascade data convert`: turns a public dataset or any CSV/TSV/Parquet table into a Cascade
//! dataset (MDS shards per split, vocabularies, `cascade.json`).

use anyhow::Context;
use cascade_convert::{
    ColumnMapping, ConvertContext, ConvertOptions, Format, LabelRule, OutputOptions, SplitSpec,
};
use cascade_mds::{Compression, HashAlgo, WriterOptions};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Formats and what --input is:
  movielens-100k      the ml-100k folder (u.data, u.item, u.user), or one ratings file such as
                      u.data or u1.base (u.item/u.user beside it are used when present)
  movielens-csv       a MovieLens CSV folder (ratings.csv, optional movies.csv), or ratings.csv
  learning-from-sets  the folder (item_ratings.csv and/or set_ratings.csv) or one of the files;
                      with both, item ratings are split and set ratings are written whole to
                      tables/set_ratings
  criteo              a Criteo TSV (label, I1..I13, C1..C26), or the folder holding train.txt
  csv, parquet        any table, with the column mapping below

Output (--out): cascade.json, one MDS folder per split (train, val, test), vocab/*.txt (line 0
is <unk>: index 0 of every sparse feature means missing or unknown), and for MovieLens items.tsv
(titles). Ratings are kept raw in `rating`; `label` is 1 when rating >= --positive-threshold,
by default when rating >= the mean rating. Criteo dense values are stored raw (missing = 0);
apply log(1 + max(x, 0)) at training time.

Column mapping (csv and parquet): name columns by header name, or by 1-based number with
--no-header. Lists take commas or repeated flags.
  --label COL        0/1 label (also true/false)        -> label
  --rating COL       numeric rating, labelled as above  -> rating, label
  --user COL         user id                            -> user_id (vocab/user.txt)
  --item COL         item id                            -> item_id (vocab/item.txt)
  --timestamp COL    unix seconds or YYYY-MM-DD HH:MM:SS -> timestamp
  --dense A,B,...    floats, empty = 0                  -> dense (float32 x N)
  --sparse A,B,...   categorical ids                    -> one column each (vocab/A.txt)
  --multi-hot A,...  lists split on --list-separator    -> one bag column each

Examples:
  cascade data convert --format movielens-100k --input ml-100k --out ml --split leave-last:10
  cascade data convert --format criteo --input train.txt --out criteo --split random:0.1
  cascade data convert --format csv --input clicks.tsv --delimiter tab --out clicks \\
      --label clicked --dense age,price --sparse country --multi-hot tags";

/// Arguments of `cascade data convert`.
#[derive(Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct ConvertArgs {
    /// Input format: movielens-100k, movielens-csv, learning-from-sets, criteo, csv or parquet.
    #[arg(long)]
    pub format: Format,
    /// The input file, or the folder as the publisher ships it.
    #[arg(long)]
    pub input: PathBuf,
    /// The dataset folder to create (written elsewhere first, renamed when complete).
    #[arg(long)]
    pub out: PathBuf,
    /// random:F (hold out F as test), random:TRAIN,TEST, random:TRAIN,VAL,TEST, or
    /// leave-last:N (each user's N latest interactions as test). Default: everything in train.
    #[arg(long)]
    pub split: Option<SplitSpec>,
    /// Seed of random splits.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Label = 1 when rating >= this value (default: the mean rating).
    #[arg(long)]
    pub positive_threshold: Option<f64>,
    /// Count, report and leave out malformed rows instead of failing on the first.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Hash ids into N indices (0 reserved for missing) instead of building vocabularies.
    #[arg(long, value_name = "N")]
    pub hash_buckets: Option<u64>,
    /// Replace --out if it exists and is not empty.
    #[arg(long)]
    pub force: bool,
    /// Shard compression: zstd, zstd:LEVEL, gz, bz2, snappy, br, or none.
    #[arg(long, default_value = "zstd")]
    pub compression: String,
    /// Digests recorded for every shard, comma-separated (sha1, xxh64, xxh3_64, ...), or none.
    #[arg(long, default_value = "xxh64")]
    pub hashes: String,
    /// Column mapping of the csv and parquet formats (boxed: it is most of the arguments).
    #[command(flatten)]
    pub mapping: Box<MappingArgs>,
}

/// The column mapping options of `cascade data convert` (csv and parquet only).
#[derive(Args)]
pub struct MappingArgs {
    /// The 0/1 label column (also true/false).
    #[arg(long, help_heading = "Column mapping (csv, parquet)")]
    pub label: Option<String>,
    /// The numeric rating column (labelled by the rating rule).
    #[arg(long, help_heading = "Column mapping (csv, parquet)")]
    pub rating: Option<String>,
    /// The user id column.
    #[arg(long, help_heading = "Column mapping (csv, parquet)")]
    pub user: Option<String>,
    /// The item id column.
    #[arg(long, help_heading = "Column mapping (csv, parquet)")]
    pub item: Option<String>,
    /// The timestamp column (unix seconds or YYYY-MM-DD HH:MM:SS).
    #[arg(long, help_heading = "Column mapping (csv, parquet)")]
    pub timestamp: Option<String>,
    /// Dense float columns, in order.
    #[arg(
        long,
        value_delimiter = ',',
        help_heading = "Column mapping (csv, parquet)"
    )]
    pub dense: Vec<String>,
    /// Categorical id columns.
    #[arg(
        long,
        value_delimiter = ',',
        help_heading = "Column mapping (csv, parquet)"
    )]
    pub sparse: Vec<String>,
    /// List-of-ids columns.
    #[arg(
        long,
        value_delimiter = ',',
        help_heading = "Column mapping (csv, parquet)"
    )]
    pub multi_hot: Vec<String>,
    /// Separator inside --multi-hot values [default: |].
    #[arg(long, help_heading = "Column mapping (csv, parquet)")]
    pub list_separator: Option<char>,
    /// CSV field delimiter: one character, or `tab` [default: ,].
    #[arg(long, help_heading = "Column mapping (csv, parquet)")]
    pub delimiter: Option<String>,
    /// The CSV file has no header line (name columns by 1-based number).
    #[arg(long, help_heading = "Column mapping (csv, parquet)")]
    pub no_header: bool,
}

/// The delimiter byte of `--delimiter`.
fn delimiter(text: &str) -> anyhow::Result<u8> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if text.len() == 1 && text.is_ascii() => Ok(text.as_bytes()[0]),
        _ => anyhow::bail!("--delimiter {text:?}: expected one ASCII character or `tab`"),
    }
}

/// The writer options of `--compression` and `--hashes` (shared with `data synth`).
pub(super) fn writer_options(compression: &str, hashes: &str) -> anyhow::Result<WriterOptions> {
    let compression = match compression {
        "none" => None,
        name => Some(Compression::parse(name).with_context(|| format!("--compression {name:?}"))?),
    };
    let hashes = match hashes {
        "none" | "" => Vec::new(),
        list => list
            .split(',')
            .map(|h| HashAlgo::parse(h.trim()).with_context(|| format!("--hashes {h:?}")))
            .collect::<anyhow::Result<_>>()?,
    };
    Ok(WriterOptions {
        compression,
        hashes,
        ..WriterOptions::default()
    })
}

/// Runs `cascade data convert`.
pub fn run(args: ConvertArgs) -> anyhow::Result<()> {
    let m = *args.mapping;
    let mapping = ColumnMapping {
        label: m.label,
        rating: m.rating,
        user: m.user,
        item: m.item,
        timestamp: m.timestamp,
        dense: m.dense,
        sparse: m.sparse,
        multi_hot: m.multi_hot,
        list_separator: m.list_separator,
        delimiter: m.delimiter.as_deref().map(delimiter).transpose()?,
        no_header: m.no_header,
    };
    let options = ConvertOptions {
        format: args.format,
        context: ConvertContext {
            input: args.input,
            label: LabelRule::from_threshold(args.positive_threshold)?,
            skip_bad_rows: args.skip_bad_rows,
            hash_buckets: args.hash_buckets,
            mapping,
        },
        output: OutputOptions {
            out: args.out,
            force: args.force,
            split: args.split.unwrap_or(SplitSpec::None),
            seed: args.seed,
            writer: writer_options(&args.compression, &args.hashes)?,
        },
    };
    let started = std::time::Instant::now();
    let report = cascade_convert::convert(&options)?;
    let seconds = started.elapsed().as_secs_f64();
    let bad = &report.bad_rows;
    if bad.count() > 0 {
        eprintln!(
            "warning: skipped {} malformed rows; the first:",
            bad.count()
        );
        for row in bad.first() {
            eprintln!("  {row}");
        }
    }
    let m = &report.manifest;
    let mut summary = format!(
        "converted {} rows ({}) into {} in {seconds:.2}s\n",
        report.rows,
        m.source,
        report.out.display()
    );
    for (name, samples) in &report.splits {
        summary += &format!("  split {name}: {samples} samples\n");
    }
    if let Some(positives) = m.extra.get("positives") {
        let rule = m
            .extra
            .get("label_rule")
            .and_then(|r| r.as_str())
            .unwrap_or("label column");
        summary += &format!("  positives: {positives} ({rule})\n");
    }
    for feature in &m.sparse {
        let kind = if feature.multi_hot {
            "multi-hot"
        } else {
            "sparse"
        };
        summary += &format!(
            "  {kind} {}: {} indices\n",
            feature.name, feature.cardinality
        );
    }
    for feature in &m.dense {
        summary += &format!("  dense {}: width {}\n", feature.column, feature.width);
    }
    std::io::stdout()
        .write_all(summary.as_bytes())
        .context("writing the summary to standard output")?;
    Ok(())
}
