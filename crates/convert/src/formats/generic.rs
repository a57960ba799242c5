//! Generic tables (CSV/TSV and Parquet) with a column mapping that says which source column
//! plays which part:
//!
//! | option | output column | kind |
//! |---|---|---|
//! | `label` | `label` | `int` 0/1 (accepts `0`/`1`, `0.0`/`1.0`, `true`/`false`) |
//! | `rating` | `rating` and `label` | `float32` kept raw; label by the rating rule |
//! | `user`, `item` | `user_id`, `item_id` | sparse ids (vocabularies `user`, `item`) |
//! | `timestamp` | `timestamp` | `int` unix seconds (or `YYYY-MM-DD HH:MM:SS`) |
//! | `dense` | `dense` | `ndarray:float32:N`, one value per listed column, empty = 0 |
//! | `sparse` | the source column's name | sparse id, one vocabulary per column |
//! | `multi_hot` | the source column's name | bag of ids split on the list separator |
//!
//! Empty sparse values mean "missing" (index 0); an empty multi-hot list is stored as `[0]`. A
//! `leave-last` split needs `user` and
//! `timestamp`. Parquet values are read as text, so the same parsing rules apply to both.

use crate::ConvertContext;
use crate::bad_rows::BadRows;
use crate::categorical::Categoricals;
use crate::dataset::{Parts, PendingSparse, label_columns};
use crate::error::{ConvertError, Result, RowError};
use crate::formats::csv_file::{CsvFile, Next};
use crate::formats::parquet_file::ParquetFile;
use crate::table::{Bags, ColumnValues, Table};
use crate::text::Row;
use cascade_data::DenseFeature;
use serde_json::{Map, json};
use std::collections::HashSet;
use std::path::Path;

/// Which source column plays which part; see the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMapping {
    /// A 0/1 label column.
    pub label: Option<String>,
    /// A numeric rating column, labelled by the rating rule.
    pub rating: Option<String>,
    /// The user id column.
    pub user: Option<String>,
    /// The item id column.
    pub item: Option<String>,
    /// The timestamp column.
    pub timestamp: Option<String>,
    /// Dense float columns, in dense-vector order.
    pub dense: Vec<String>,
    /// Single-id categorical columns.
    pub sparse: Vec<String>,
    /// List-of-ids columns.
    pub multi_hot: Vec<String>,
    /// Separator inside multi-hot values (default `|`).
    pub list_separator: Option<char>,
    /// CSV field delimiter (default `,`).
    pub delimiter: Option<u8>,
    /// The CSV file has no header line; columns are then named by 1-based number.
    pub no_header: bool,
}

/// Output columns whose names the mapping itself assigns.
const RESERVED: [&str; 6] = [
    "label",
    "rating",
    "user_id",
    "item_id",
    "timestamp",
    "dense",
];

impl ColumnMapping {
    /// True when no mapping option was given (the dataset-specific formats require that).
    pub fn is_empty(&self) -> bool {
        *self == ColumnMapping::default()
    }

    fn validate(&self) -> Result<()> {
        if self.label.is_some() && self.rating.is_some() {
            return Err(ConvertError::Options(
                "give either --label or --rating, not both".into(),
            ));
        }
        let mapped = self.label.is_some()
            || self.rating.is_some()
            || self.user.is_some()
            || self.item.is_some()
            || !self.dense.is_empty()
            || !self.sparse.is_empty()
            || !self.multi_hot.is_empty();
        if !mapped {
            return Err(ConvertError::Options(
                "csv and parquet need a column mapping: at least one of --label, --rating, --user, --item, --dense, --sparse, --multi-hot".into(),
            ));
        }
        let mut names = HashSet::new();
        for name in self.sparse.iter().chain(&self.multi_hot) {
            if RESERVED.contains(&name.as_str()) {
                return Err(ConvertError::Options(format!(
                    "sparse column {name:?} would clash with the output column of that name; rename it in the source or map it with --user/--item/--label"
                )));
            }
            if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\']) {
                return Err(ConvertError::Options(format!(
                    "sparse column {name:?} cannot name a vocabulary file (no '/', '\\' or leading '.')"
                )));
            }
            if !names.insert(name) {
                return Err(ConvertError::Options(format!(
                    "column {name:?} is mapped twice"
                )));
            }
        }
        Ok(())
    }
}

/// A table read row by row, with each value as text (empty for a null).
pub trait RowSource {
    /// The source file.
    fn path(&self) -> &Path;
    /// Resolves a mapped column name; the error lists the columns that exist.
    fn column(&mut self, name: &str) -> Result<usize>;
    /// Reads the next row.
    fn advance(&mut self) -> Result<Next>;
    /// Value `index` of the current row, named `name` in errors.
    fn get(&self, index: usize, name: &str) -> Result<&str, RowError>;
    /// Where the current row is.
    fn row(&self) -> Row<'_>;
}

impl RowSource for CsvFile {
    fn path(&self) -> &Path {
        CsvFile::path(self)
    }
    fn column(&mut self, name: &str) -> Result<usize> {
        CsvFile::column(self, name)
    }
    fn advance(&mut self) -> Result<Next> {
        CsvFile::advance(self)
    }
    fn get(&self, index: usize, name: &str) -> Result<&str, RowError> {
        CsvFile::get(self, index, name)
    }
    fn row(&self) -> Row<'_> {
        CsvFile::row(self)
    }
}

/// Converts a CSV/TSV file with the context's column mapping.
pub fn convert_csv(ctx: &ConvertContext) -> Result<Parts> {
    ctx.mapping.validate()?;
    let delimiter = ctx.mapping.delimiter.unwrap_or(b',');
    let mut source = CsvFile::open(&ctx.input, delimiter, !ctx.mapping.no_header)?;
    convert_rows(&mut source, "csv", ctx)
}

/// Converts a Parquet file with the context's column mapping.
pub fn convert_parquet(ctx: &ConvertContext) -> Result<Parts> {
    ctx.mapping.validate()?;
    let mut source = ParquetFile::open(&ctx.input)?;
    convert_rows(&mut source, "parquet", ctx)
}

/// Resolved column indices of the mapping.
struct Resolved {
    label: Option<(usize, String)>,
    rating: Option<(usize, String)>,
    user: Option<(usize, String)>,
    item: Option<(usize, String)>,
    timestamp: Option<(usize, String)>,
    dense: Vec<(usize, String)>,
    sparse: Vec<(usize, String)>,
    multi_hot: Vec<(usize, String)>,
}

fn resolve(source: &mut dyn RowSource, mapping: &ColumnMapping) -> Result<Resolved> {
    let mut one = |name: &Option<String>| -> Result<Option<(usize, String)>> {
        name.as_ref()
            .map(|n| Ok((source.column(n)?, n.clone())))
            .transpose()
    };
    let (label, rating, user, item, timestamp) = (
        one(&mapping.label)?,
        one(&mapping.rating)?,
        one(&mapping.user)?,
        one(&mapping.item)?,
        one(&mapping.timestamp)?,
    );
    let mut many = |names: &[String]| -> Result<Vec<(usize, String)>> {
        names
            .iter()
            .map(|n| Ok((source.column(n)?, n.clone())))
            .collect()
    };
    Ok(Resolved {
        label,
        rating,
        user,
        item,
        timestamp,
        dense: many(&mapping.dense)?,
        sparse: many(&mapping.sparse)?,
        multi_hot: many(&mapping.multi_hot)?,
    })
}

/// Parsed columns, one entry per kept row.
#[derive(Default)]
struct Columns {
    rows: usize,
    labels: Vec<i64>,
    ratings: Vec<f32>,
    users: Vec<i64>,
    items: Vec<i64>,
    timestamps: Vec<i64>,
    dense: Vec<f32>,
    sparse: Vec<Vec<i64>>,
    bags: Vec<Bags>,
}

/// One row's parsed values before ids are indexed.
struct Parsed<'a> {
    label: Option<i64>,
    rating: Option<f32>,
    timestamp: Option<i64>,
    user: Option<&'a str>,
    item: Option<&'a str>,
}

fn parse_label(row: &Row<'_>, field: &str, text: &str) -> Result<i64, RowError> {
    match text.trim() {
        "1" | "true" | "True" | "TRUE" => Ok(1),
        "0" | "false" | "False" | "FALSE" => Ok(0),
        other => match other.parse::<f64>() {
            Ok(v) if v == 0.0 || v == 1.0 => Ok(v as i64),
            _ => Err(row.error(field, format!("{other:?} is not a 0/1 label"))),
        },
    }
}

fn convert_rows(source: &mut dyn RowSource, format: &str, ctx: &ConvertContext) -> Result<Parts> {
    let mapping = &ctx.mapping;
    let r = resolve(source, mapping)?;
    let separator = mapping.list_separator.unwrap_or('|');
    let mut cats = Categoricals::new(ctx.hash_buckets)?;
    let mut bad = BadRows::new(ctx.skip_bad_rows);
    let mut sparse_spaces: Vec<_> = r.sparse.iter().map(|_| cats.fresh()).collect();
    let mut bag_spaces: Vec<_> = r.multi_hot.iter().map(|_| cats.fresh()).collect();
    let mut cols = Columns {
        sparse: vec![Vec::new(); r.sparse.len()],
        bags: vec![Bags::default(); r.multi_hot.len()],
        ..Columns::default()
    };
    let mut dense_row = vec![0f32; r.dense.len()];
    let mut bag = Vec::new();
    loop {
        match source.advance()? {
            Next::End => break,
            Next::Bad(e) => bad.record(e)?,
            Next::Record => {
                let parsed = (|| {
                    let row = source.row();
                    let opt = |col: &Option<(usize, String)>| -> Result<Option<&str>, RowError> {
                        col.as_ref().map(|(i, n)| source.get(*i, n)).transpose()
                    };
                    let label = match &r.label {
                        Some((i, n)) => Some(parse_label(&row, n, source.get(*i, n)?)?),
                        None => None,
                    };
                    let rating = match &r.rating {
                        Some((i, n)) => Some(row.float(n, source.get(*i, n)?)?),
                        None => None,
                    };
                    let timestamp = match &r.timestamp {
                        Some((i, n)) => Some(row.timestamp(n, source.get(*i, n)?)?),
                        None => None,
                    };
                    for ((i, n), slot) in r.dense.iter().zip(dense_row.iter_mut()) {
                        let text = source.get(*i, n)?.trim();
                        *slot = if text.is_empty() {
                            0.0
                        } else {
                            row.float(n, text)?
                        };
                    }
                    for (i, n) in r.sparse.iter().chain(&r.multi_hot) {
                        source.get(*i, n)?;
                    }
                    Ok::<_, RowError>(Parsed {
                        label,
                        rating,
                        timestamp,
                        user: opt(&r.user)?,
                        item: opt(&r.item)?,
                    })
                })();
                let p = match parsed {
                    Ok(p) => p,
                    Err(e) => {
                        bad.record(e)?;
                        continue;
                    }
                };
                cols.rows += 1;
                cols.labels.extend(p.label);
                cols.ratings.extend(p.rating);
                cols.timestamps.extend(p.timestamp);
                if let Some(user) = p.user {
                    cols.users.push(cats.space("user").index(user.trim()));
                }
                if let Some(item) = p.item {
                    cols.items.push(cats.space("item").index(item.trim()));
                }
                cols.dense.extend_from_slice(&dense_row);
                for (((i, n), space), column) in r
                    .sparse
                    .iter()
                    .zip(&mut sparse_spaces)
                    .zip(&mut cols.sparse)
                {
                    column.push(space.index(source.get(*i, n).unwrap_or_default().trim()));
                }
                for (((i, n), space), column) in
                    r.multi_hot.iter().zip(&mut bag_spaces).zip(&mut cols.bags)
                {
                    bag.clear();
                    let text = source.get(*i, n).unwrap_or_default();
                    bag.extend(
                        text.split(separator)
                            .map(str::trim)
                            .filter(|t| !t.is_empty())
                            .map(|t| space.index(t)),
                    );
                    column.push(&bag);
                }
            }
        }
    }
    for ((_, name), space) in r
        .sparse
        .iter()
        .zip(sparse_spaces)
        .chain(r.multi_hot.iter().zip(bag_spaces))
    {
        cats.put(name, space);
    }
    build(format, source.path(), r, cols, cats, bad, ctx)
}

fn build(
    format: &str,
    path: &Path,
    r: Resolved,
    cols: Columns,
    cats: Categoricals,
    bad: BadRows,
    ctx: &ConvertContext,
) -> Result<Parts> {
    let mut table = Table::new(cols.rows);
    let mut extra = Map::new();
    extra.insert("inputs".into(), json!([path.display().to_string()]));
    let mut label = None;
    if let Some((_, name)) = &r.label {
        extra.insert("label_column".into(), json!(name));
        extra.insert(
            "positives".into(),
            json!(cols.labels.iter().filter(|&&l| l == 1).count()),
        );
        table.add("label", ColumnValues::Int(cols.labels));
        label = Some("label".to_string());
    }
    if let Some((_, name)) = &r.rating {
        extra.insert("rating_column".into(), json!(name));
        label_columns(&mut table, &cols.ratings, ctx.label, &mut extra);
        label = Some("label".to_string());
    }
    let mut sparse = Vec::new();
    if let Some((_, name)) = &r.user {
        extra.insert("user_column".into(), json!(name));
        table.add("user_id", ColumnValues::Int(cols.users.clone()));
        sparse.push(PendingSparse::new("user_id", "user", false));
    }
    if let Some((_, name)) = &r.item {
        extra.insert("item_column".into(), json!(name));
        table.add("item_id", ColumnValues::Int(cols.items));
        sparse.push(PendingSparse::new("item_id", "item", false));
    }
    if let Some((_, name)) = &r.timestamp {
        extra.insert("timestamp_column".into(), json!(name));
        table.add("timestamp", ColumnValues::Int(cols.timestamps.clone()));
    }
    let mut dense = Vec::new();
    if !r.dense.is_empty() {
        let names: Vec<&String> = r.dense.iter().map(|(_, n)| n).collect();
        extra.insert("dense_columns".into(), json!(names));
        table.add(
            "dense",
            ColumnValues::FloatArray {
                width: r.dense.len(),
                values: cols.dense,
            },
        );
        dense.push(DenseFeature {
            column: "dense".into(),
            width: r.dense.len(),
        });
    }
    for ((_, name), values) in r.sparse.iter().zip(cols.sparse) {
        table.add(name, ColumnValues::Int(values));
        sparse.push(PendingSparse::new(name, name, false));
    }
    for ((_, name), values) in r.multi_hot.iter().zip(cols.bags) {
        table.add(name, ColumnValues::Bag(values));
        sparse.push(PendingSparse::new(name, name, true));
    }
    let user_times =
        (r.user.is_some() && r.timestamp.is_some()).then_some((cols.users, cols.timestamps));
    Ok(Parts {
        source: format.to_string(),
        table,
        user_times,
        label,
        dense,
        sparse,
        side_tables: Vec::new(),
        files: Vec::new(),
        categoricals: cats,
        bad_rows: bad,
        extra,
    })
}
