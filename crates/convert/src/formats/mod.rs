//! The input formats, one module each; every converter turns its input into
//! [`Parts`](crate::dataset::Parts).

pub mod criteo;
pub mod csv_file;
pub mod generic;
pub mod movielens100k;
pub mod movielens_csv;
pub mod parquet_file;
pub mod sets;

use crate::ConvertContext;
use crate::dataset::Parts;
use crate::error::Result;
use std::str::FromStr;

/// An input format, as `--format` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// MovieLens 100K (`u.data`, `u.item`, `u.user`).
    MovieLens100k,
    /// MovieLens CSV releases (`ratings.csv`, optional `movies.csv`).
    MovieLensCsv,
    /// GroupLens Learning from Sets of Items (`item_ratings.csv`, `set_ratings.csv`).
    LearningFromSets,
    /// Criteo display-advertising TSV.
    Criteo,
    /// Any CSV/TSV with a column mapping.
    Csv,
    /// Any Parquet file with a column mapping.
    Parquet,
}

/// Every `--format` name, in help order.
pub const FORMAT_NAMES: [&str; 6] = [
    "movielens-100k",
    "movielens-csv",
    "learning-from-sets",
    "criteo",
    "csv",
    "parquet",
];

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Format, String> {
        Ok(match text {
            "movielens-100k" => Format::MovieLens100k,
            "movielens-csv" => Format::MovieLensCsv,
            "learning-from-sets" => Format::LearningFromSets,
            "criteo" => Format::Criteo,
            "csv" => Format::Csv,
            "parquet" => Format::Parquet,
            _ => {
                return Err(format!(
                    "unknown format {text:?}; expected one of: {}",
                    FORMAT_NAMES.join(", ")
                ));
            }
        })
    }
}

/// Parses the input of `format`.
pub fn parse(format: Format, ctx: &ConvertContext) -> Result<Parts> {
    match format {
        Format::MovieLens100k => movielens100k::convert(ctx),
        Format::MovieLensCsv => movielens_csv::convert(ctx),
        Format::LearningFromSets => sets::convert(ctx),
        Format::Criteo => criteo::convert(ctx),
        Format::Csv => generic::convert_csv(ctx),
        Format::Parquet => generic::convert_parquet(ctx),
    }
}
