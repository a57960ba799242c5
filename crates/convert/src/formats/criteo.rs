//! Criteo display-advertising logs (the Kaggle challenge's `train.txt`, and the Terabyte days):
//! tab-separated, no header, 40 fields per line: a 0/1 label, 13 integer features `I1..I13`
//! and 26 categorical features `C1..C26` (hashed hex tokens); any feature may be empty.
//!
//! `--input` is the file, or the folder holding `train.txt`. Output columns: `label` (`int`),
//! `dense` (`ndarray:float32:13`: the raw integer values, a missing one stored as 0; the usual
//! `log(1 + max(x, 0))` transform is left to training, so the stored values stay exact) and
//! `C1..C26` (`int` indices: a vocabulary per column, or `--hash-buckets`; 0 = missing).

use crate::ConvertContext;
use crate::bad_rows::BadRows;
use crate::categorical::Categoricals;
use crate::dataset::{Parts, PendingSparse};
use crate::error::{ConvertError, Result, RowError};
use crate::table::{ColumnValues, Table};
use crate::text::{TextLines, split_fields};
use cascade_data::DenseFeature;
use serde_json::{Map, json};
use std::path::Path;

/// Integer (dense) features per row.
pub const DENSE: usize = 13;
/// Categorical features per row.
pub const CATEGORICAL: usize = 26;
const FIELDS: usize = 1 + DENSE + CATEGORICAL;

/// Converts a Criteo TSV file (or a folder with `train.txt`).
pub fn convert(ctx: &ConvertContext) -> Result<Parts> {
    let path = if ctx.input.is_dir() {
        ctx.input.join("train.txt")
    } else {
        ctx.input.clone()
    };
    if !path.is_file() {
        return Err(ConvertError::input(
            &path,
            "not found (expected a Criteo TSV such as train.txt)",
        ));
    }
    let names: Vec<String> = (1..=CATEGORICAL).map(|i| format!("C{i}")).collect();
    let mut cats = Categoricals::new(ctx.hash_buckets)?;
    let mut bad = BadRows::new(ctx.skip_bad_rows);
    let (labels, dense, sparse) = read(&path, &names, &mut cats, &mut bad)?;

    let positives = labels.iter().filter(|&&l| l == 1).count();
    let mut table = Table::new(labels.len());
    table.add("label", ColumnValues::Int(labels));
    table.add(
        "dense",
        ColumnValues::FloatArray {
            width: DENSE,
            values: dense,
        },
    );
    for (name, values) in names.iter().zip(sparse) {
        table.add(name, ColumnValues::Int(values));
    }
    let mut extra = Map::new();
    extra.insert("inputs".into(), json!([path.display().to_string()]));
    extra.insert("positives".into(), json!(positives));
    extra.insert(
        "dense_columns".into(),
        json!((1..=DENSE).map(|i| format!("I{i}")).collect::<Vec<_>>()),
    );
    extra.insert(
        "dense_transform".into(),
        json!("stored raw (missing = 0); apply log(1 + max(x, 0)) at training time"),
    );
    Ok(Parts {
        source: "criteo".into(),
        table,
        user_times: None,
        label: Some("label".into()),
        dense: vec![DenseFeature {
            column: "dense".into(),
            width: DENSE,
        }],
        sparse: names
            .iter()
            .map(|n| PendingSparse::new(n, n, false))
            .collect(),
        side_tables: Vec::new(),
        files: Vec::new(),
        categoricals: cats,
        bad_rows: bad,
        extra,
    })
}

type Columns = (Vec<i64>, Vec<f32>, Vec<Vec<i64>>);

fn read(
    path: &Path,
    names: &[String],
    cats: &mut Categoricals,
    bad: &mut BadRows,
) -> Result<Columns> {
    let mut lines = TextLines::open(path)?;
    let mut labels = Vec::new();
    let mut dense = Vec::new();
    let mut sparse: Vec<Vec<i64>> = vec![Vec::new(); CATEGORICAL];
    let mut spaces: Vec<_> = names.iter().map(|_| cats.fresh()).collect();
    let mut row_dense = [0f32; DENSE];
    while lines.advance()? {
        if lines.bytes().is_empty() {
            continue;
        }
        let parsed = (|| {
            let row = lines.row();
            let (fields, n) = split_fields::<FIELDS>(lines.utf8()?, '\t');
            row.expect_fields(n, FIELDS)?;
            let label = match fields[0] {
                "0" => 0,
                "1" => 1,
                other => return Err(row.error("label", format!("{other:?} is not 0 or 1"))),
            };
            for (i, slot) in row_dense.iter_mut().enumerate() {
                let text = fields[1 + i];
                *slot = if text.is_empty() {
                    0.0
                } else {
                    row.float(&format!("I{}", i + 1), text)?
                };
            }
            Ok::<_, RowError>((label, fields))
        })();
        match parsed {
            Ok((label, fields)) => {
                labels.push(label);
                dense.extend_from_slice(&row_dense);
                for ((column, raw), space) in
                    sparse.iter_mut().zip(&fields[1 + DENSE..]).zip(&mut spaces)
                {
                    column.push(space.index(raw));
                }
            }
            Err(e) => bad.record(e)?,
        }
    }
    for (name, space) in names.iter().zip(spaces) {
        cats.put(name, space);
    }
    Ok((labels, dense, sparse))
}
