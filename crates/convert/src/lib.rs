//! Converters from public recommendation datasets and generic tables into Cascade datasets.
//!
//! A converted dataset is a folder holding `cascade.json` (the manifest: splits, label, dense and
//! sparse features, and source facts under `extra`), one MDS dataset per split (`train/`,
//! optionally `val/` and `test/`), the vocabularies under `vocab/`, and for MovieLens the item
//! metadata `items.tsv`. Every format goes through the same steps: parse the input into columns
//! (ids through vocabularies or hashing, labels from ratings), assign rows to splits, then write
//! everything into a staging folder that is renamed to the output when complete.
//!
//! Index 0 of every sparse feature means a missing or unknown id (line 0 of each vocabulary is
//! `<unk>`; the manifest records this as `extra.unknown_index` and `extra.unknown_token`).
//! Rows are held in memory column by column until written (8 bytes per id, 4 per dense value,
//! about 270 bytes per Criteo row), because mean-rating labels and per-user splits need every
//! row before the first is written.
//!
//! Modules: [`formats`] (one per input format), [`table`] (columns and their MDS encodings),
//! [`categorical`] (vocabularies and hashing), [`label`], [`split`], [`output`] (staging and
//! manifest), [`bad_rows`], [`text`] and [`timeparse`] (parsing), [`items`] (item metadata).

pub mod bad_rows;
pub mod categorical;
pub mod dataset;
pub mod error;
pub mod formats;
pub mod items;
pub mod label;
pub mod output;
pub mod split;
pub mod table;
pub mod text;
pub mod timeparse;

pub use bad_rows::BadRows;
pub use error::{ConvertError, Position, Result, RowError};
pub use formats::Format;
pub use formats::generic::ColumnMapping;
pub use label::LabelRule;
pub use output::{ConvertReport, OutputOptions};
pub use split::SplitSpec;

use std::path::PathBuf;

/// What every format's converter reads: the input and the options that shape the rows.
#[derive(Debug, Clone)]
pub struct ConvertContext {
    /// The input file or folder.
    pub input: PathBuf,
    /// How ratings become labels.
    pub label: LabelRule,
    /// Count and skip malformed rows instead of failing.
    pub skip_bad_rows: bool,
    /// Hash ids into this many indices instead of building vocabularies.
    pub hash_buckets: Option<u64>,
    /// Column mapping of the generic `csv` and `parquet` formats.
    pub mapping: ColumnMapping,
}

/// A whole conversion: format, input options and output options.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// Input format.
    pub format: Format,
    /// Input and row options.
    pub context: ConvertContext,
    /// Output folder, split and writer options.
    pub output: OutputOptions,
}

/// Converts `options.context.input` into a dataset at `options.output.out`.
pub fn convert(options: &ConvertOptions) -> Result<ConvertReport> {
    let generic = matches!(options.format, Format::Csv | Format::Parquet);
    if !generic && !options.context.mapping.is_empty() {
        return Err(ConvertError::Options(
            "column mapping options (--label, --rating, --user, --item, --timestamp, --dense, --sparse, --multi-hot, --list-separator, --delimiter, --no-header) apply only to --format csv and parquet".into(),
        ));
    }
    output::check_out(&options.output.out, options.output.force)?;
    let parts = formats::parse(options.format, &options.context)?;
    output::write(parts, &options.output)
}
