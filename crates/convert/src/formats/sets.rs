//! GroupLens "Learning from Sets of Items" (2019): `item_ratings.csv` (`userId,movieId,rating,
//! timestamp`: a 10-hex-character user hash, a MovieLens movie id, a half-star rating and a
//! `YYYY-MM-DD HH:MM:SS` time) and `set_ratings.csv` (`userId,movieId_1..movieId_5,rating,
//! timestamp`: one rating for a set of five movies).
//!
//! `--input` is the folder (whichever of the two files exist are converted) or one of the files
//! (recognised by its header). When item ratings are present they are the main table (`user_id`,
//! `item_id`, `rating`, `label`, `timestamp`) that is split, and set ratings become the side
//! table `tables/set_ratings` (`user_id`, `item_ids` as a five-item multi-hot bag, `rating`,
//! `label`, `timestamp`), sharing the user and item vocabularies and described under the
//! manifest's `extra.tables`. With set ratings alone, they are the main table. Each table's label
//! rule uses its own ratings' mean.

use crate::ConvertContext;
use crate::bad_rows::BadRows;
use crate::categorical::Categoricals;
use crate::dataset::{
    Interactions, Parts, PendingSparse, SideTable, distinct, interaction_features, label_columns,
};
use crate::error::{ConvertError, Result, RowError};
use crate::formats::csv_file::{CsvFile, Next};
use crate::label::LabelRule;
use crate::table::{Bags, ColumnValues, Table};
use serde_json::{Map, json};
use std::path::{Path, PathBuf};

const ITEM_RATINGS: &str = "item_ratings.csv";
const SET_RATINGS: &str = "set_ratings.csv";

/// Set ratings, indexed.
#[derive(Debug, Default)]
struct Sets {
    users: Vec<i64>,
    items: Bags,
    ratings: Vec<f32>,
    timestamps: Vec<i64>,
}

/// Converts a Learning-from-Sets folder or file.
pub fn convert(ctx: &ConvertContext) -> Result<Parts> {
    let (item_path, set_path) = locate(&ctx.input)?;
    let mut cats = Categoricals::new(ctx.hash_buckets)?;
    let mut bad = BadRows::new(ctx.skip_bad_rows);
    let mut extra = Map::new();
    let inputs: Vec<String> = item_path
        .iter()
        .chain(&set_path)
        .map(|p| p.display().to_string())
        .collect();
    extra.insert("inputs".into(), json!(inputs));
    let interactions = match &item_path {
        Some(path) => Some(read_item_ratings(path, &mut cats, &mut bad)?),
        None => None,
    };
    let sets = match &set_path {
        Some(path) => Some(read_set_ratings(path, &mut cats, &mut bad)?),
        None => None,
    };
    let mut parts = Parts {
        source: "learning-from-sets".into(),
        table: Table::new(0),
        user_times: None,
        label: Some("label".into()),
        dense: Vec::new(),
        sparse: Vec::new(),
        side_tables: Vec::new(),
        files: Vec::new(),
        categoricals: cats,
        bad_rows: bad,
        extra,
    };
    match (interactions, sets) {
        (Some(interactions), sets) => {
            parts
                .extra
                .insert("users".into(), json!(distinct(&interactions.users)));
            let (table, user_times) = interactions.into_table(ctx.label, &mut parts.extra);
            parts.table = table;
            parts.user_times = Some(user_times);
            parts.sparse = interaction_features();
            if let Some(sets) = sets {
                let mut side_extra = Map::new();
                side_extra.insert("users".into(), json!(distinct(&sets.users)));
                let (table, _) = sets_table(sets, ctx.label, &mut side_extra);
                parts.side_tables.push(SideTable {
                    name: "set_ratings".into(),
                    table,
                    sparse: set_features(),
                    extra: side_extra,
                });
            }
        }
        (None, Some(sets)) => {
            parts
                .extra
                .insert("users".into(), json!(distinct(&sets.users)));
            let (table, user_times) = sets_table(sets, ctx.label, &mut parts.extra);
            parts.table = table;
            parts.user_times = Some(user_times);
            parts.sparse = set_features();
        }
        (None, None) => {
            return Err(ConvertError::input(
                &ctx.input,
                "no ratings file to convert",
            ));
        }
    }
    Ok(parts)
}

fn set_features() -> Vec<PendingSparse> {
    vec![
        PendingSparse::new("user_id", "user", false),
        PendingSparse::new("item_ids", "item", true),
    ]
}

fn sets_table(
    sets: Sets,
    rule: LabelRule,
    extra: &mut Map<String, serde_json::Value>,
) -> (Table, (Vec<i64>, Vec<i64>)) {
    let mut table = Table::new(sets.users.len());
    label_columns(&mut table, &sets.ratings, rule, extra);
    table.add("user_id", ColumnValues::Int(sets.users.clone()));
    table.add("item_ids", ColumnValues::Bag(sets.items));
    table.add("timestamp", ColumnValues::Int(sets.timestamps.clone()));
    (table, (sets.users, sets.timestamps))
}

/// The item-ratings and set-ratings files to read (at least one).
fn locate(input: &Path) -> Result<(Option<PathBuf>, Option<PathBuf>)> {
    if input.is_dir() {
        let items = input.join(ITEM_RATINGS);
        let sets = input.join(SET_RATINGS);
        let found = (
            items.is_file().then_some(items),
            sets.is_file().then_some(sets),
        );
        if found.0.is_none() && found.1.is_none() {
            return Err(ConvertError::input(
                input,
                format!("neither {ITEM_RATINGS} nor {SET_RATINGS} is in this folder"),
            ));
        }
        return Ok(found);
    }
    let csv = CsvFile::open(input, b',', true)?;
    if csv.column("movieId").is_ok() {
        Ok((Some(input.to_path_buf()), None))
    } else if csv.column("movieId_1").is_ok() {
        Ok((None, Some(input.to_path_buf())))
    } else {
        Err(ConvertError::input(
            input,
            "header has neither movieId (item ratings) nor movieId_1 (set ratings)",
        ))
    }
}

fn read_item_ratings(
    path: &Path,
    cats: &mut Categoricals,
    bad: &mut BadRows,
) -> Result<Interactions> {
    let mut csv = CsvFile::open(path, b',', true)?;
    let cols = [
        csv.column("userId")?,
        csv.column("movieId")?,
        csv.column("rating")?,
        csv.column("timestamp")?,
    ];
    let mut out = Interactions::default();
    let (mut users, mut items) = (cats.take("user"), cats.take("item"));
    loop {
        match csv.advance()? {
            Next::End => break,
            Next::Bad(e) => bad.record(e)?,
            Next::Record => {
                let parsed = (|| {
                    let row = csv.row();
                    let user = row.required("userId", csv.get(cols[0], "userId")?)?;
                    let item = row.required("movieId", csv.get(cols[1], "movieId")?)?;
                    let rating = row.float("rating", csv.get(cols[2], "rating")?)?;
                    let ts = row.timestamp("timestamp", csv.get(cols[3], "timestamp")?)?;
                    Ok::<_, RowError>((user, item, rating, ts))
                })();
                match parsed {
                    Ok((user, item, rating, ts)) => {
                        out.push(users.index(user), items.index(item), rating, ts)
                    }
                    Err(e) => bad.record(e)?,
                }
            }
        }
    }
    cats.put("user", users);
    cats.put("item", items);
    Ok(out)
}

fn read_set_ratings(path: &Path, cats: &mut Categoricals, bad: &mut BadRows) -> Result<Sets> {
    let mut csv = CsvFile::open(path, b',', true)?;
    let (user_col, rating_col, ts_col) = (
        csv.column("userId")?,
        csv.column("rating")?,
        csv.column("timestamp")?,
    );
    let mut movie_cols = Vec::new();
    while let Ok(col) = csv.column(&format!("movieId_{}", movie_cols.len() + 1)) {
        movie_cols.push((col, format!("movieId_{}", movie_cols.len() + 1)));
    }
    if movie_cols.is_empty() {
        csv.column("movieId_1")?;
    }
    let mut out = Sets::default();
    let mut bag = Vec::with_capacity(movie_cols.len());
    loop {
        match csv.advance()? {
            Next::End => return Ok(out),
            Next::Bad(e) => bad.record(e)?,
            Next::Record => {
                let mut movies: Vec<&str> = Vec::with_capacity(movie_cols.len());
                let parsed = (|| {
                    let row = csv.row();
                    let user = row.required("userId", csv.get(user_col, "userId")?)?;
                    for (col, name) in &movie_cols {
                        movies.push(row.required(name, csv.get(*col, name)?)?);
                    }
                    let rating = row.float("rating", csv.get(rating_col, "rating")?)?;
                    let ts = row.timestamp("timestamp", csv.get(ts_col, "timestamp")?)?;
                    Ok::<_, RowError>((user, rating, ts))
                })();
                match parsed {
                    Ok((user, rating, ts)) => {
                        out.users.push(cats.space("user").index(user));
                        bag.clear();
                        bag.extend(movies.iter().map(|m| cats.space("item").index(m)));
                        out.items.push(&bag);
                        out.ratings.push(rating);
                        out.timestamps.push(ts);
                    }
                    Err(e) => bad.record(e)?,
                }
            }
        }
    }
}
