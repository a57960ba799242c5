//! MovieLens CSV releases (ml-latest, ml-25m, ...): `ratings.csv` (`userId,movieId,rating,
//! timestamp` with a header, unix seconds) and optionally `movies.csv` (`movieId,title,genres`,
//! titles quoted when they hold commas, genres joined with `|`, `(no genres listed)` for none).
//!
//! `--input` is the folder, or `ratings.csv` itself (a `movies.csv` beside it is used when
//! present). Output columns: `user_id`, `item_id`, `rating`, `label`, `timestamp`, and with
//! movies `item_genres` (multi-hot) and `item_year` (release decade, from the title); titles go
//! to `items.tsv`.

use crate::ConvertContext;
use crate::bad_rows::BadRows;
use crate::categorical::Categoricals;
use crate::dataset::{Interactions, Parts, PendingSparse, distinct, interaction_features};
use crate::error::{ConvertError, Result, RowError};
use crate::formats::csv_file::{CsvFile, Next};
use crate::items::{ITEMS_FILE, ItemInfo, items_extra, items_tsv, year_bucket, year_from_title};
use crate::table::{Bags, ColumnValues};
use serde_json::{Map, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Genres value meaning "none".
const NO_GENRES: &str = "(no genres listed)";

/// Converts a MovieLens CSV folder or `ratings.csv`.
pub fn convert(ctx: &ConvertContext) -> Result<Parts> {
    let (ratings_path, movies_path) = locate(&ctx.input)?;
    let mut cats = Categoricals::new(ctx.hash_buckets)?;
    let mut bad = BadRows::new(ctx.skip_bad_rows);
    let mut extra = Map::new();
    let mut inputs = vec![ratings_path.display().to_string()];
    let movies = match &movies_path {
        Some(path) => {
            inputs.push(path.display().to_string());
            read_movies(path, &mut cats, &mut bad)?
        }
        None => Vec::new(),
    };
    let interactions = read_ratings(&ratings_path, &mut cats, &mut bad)?;
    extra.insert("users".into(), json!(distinct(&interactions.users)));
    extra.insert("items_rated".into(), json!(distinct(&interactions.items)));
    let by_index: HashMap<i64, &Movie> = movies.iter().map(|m| (m.info.index, m)).collect();
    let mut genres = Bags::default();
    let mut years = Vec::with_capacity(interactions.len());
    for item in &interactions.items {
        let movie = by_index.get(item);
        genres.push(movie.map_or(&[][..], |m| &m.genres));
        years.push(movie.map_or(0, |m| m.year));
    }
    let (mut table, user_times) = interactions.into_table(ctx.label, &mut extra);
    let mut sparse = interaction_features();
    let mut files = Vec::new();
    if movies_path.is_some() {
        table.add("item_genres", ColumnValues::Bag(genres));
        table.add("item_year", ColumnValues::Int(years));
        sparse.push(PendingSparse::new("item_genres", "genre", true));
        sparse.push(PendingSparse::new("item_year", "year", false));
        let infos: Vec<ItemInfo> = movies.into_iter().map(|m| m.info).collect();
        files.push((ITEMS_FILE.to_string(), items_tsv(&infos)));
        extra.insert("items".into(), items_extra(infos.len()));
    }
    extra.insert("inputs".into(), json!(inputs));
    Ok(Parts {
        source: "movielens-csv".into(),
        table,
        user_times: Some(user_times),
        label: Some("label".into()),
        dense: Vec::new(),
        sparse,
        side_tables: Vec::new(),
        files,
        categoricals: cats,
        bad_rows: bad,
        extra,
    })
}

fn locate(input: &Path) -> Result<(PathBuf, Option<PathBuf>)> {
    let (ratings, folder) = if input.is_dir() {
        (input.join("ratings.csv"), input.to_path_buf())
    } else {
        (
            input.to_path_buf(),
            input.parent().map(Path::to_path_buf).unwrap_or_default(),
        )
    };
    if !ratings.is_file() {
        return Err(ConvertError::input(
            &ratings,
            "not found (expected a MovieLens ratings.csv)",
        ));
    }
    let movies = folder.join("movies.csv");
    Ok((ratings, movies.is_file().then_some(movies)))
}

fn read_ratings(path: &Path, cats: &mut Categoricals, bad: &mut BadRows) -> Result<Interactions> {
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

/// One `movies.csv` row: metadata and side-feature indices.
struct Movie {
    info: ItemInfo,
    genres: Vec<i64>,
    year: i64,
}

fn read_movies(path: &Path, cats: &mut Categoricals, bad: &mut BadRows) -> Result<Vec<Movie>> {
    let mut csv = CsvFile::open(path, b',', true)?;
    let cols = [
        csv.column("movieId")?,
        csv.column("title")?,
        csv.column("genres")?,
    ];
    let mut movies = Vec::new();
    loop {
        match csv.advance()? {
            Next::End => return Ok(movies),
            Next::Bad(e) => bad.record(e)?,
            Next::Record => {
                let parsed = (|| {
                    let id = csv
                        .row()
                        .required("movieId", csv.get(cols[0], "movieId")?)?;
                    Ok::<_, RowError>((
                        id,
                        csv.get(cols[1], "title")?.trim(),
                        csv.get(cols[2], "genres")?.trim(),
                    ))
                })();
                match parsed {
                    Ok((id, title, genre_text)) => {
                        let names: Vec<&str> = genre_text
                            .split('|')
                            .map(str::trim)
                            .filter(|g| !g.is_empty() && *g != NO_GENRES)
                            .collect();
                        let year = year_from_title(title);
                        let index = cats.space("item").index(id);
                        movies.push(Movie {
                            genres: names.iter().map(|g| cats.space("genre").index(g)).collect(),
                            year: year.map_or(0, |y| cats.space("year").index(&year_bucket(y))),
                            info: ItemInfo {
                                index,
                                raw_id: id.to_string(),
                                title: title.to_string(),
                                year,
                                genres: names.iter().map(|g| g.to_string()).collect(),
                            },
                        });
                    }
                    Err(e) => bad.record(e)?,
                }
            }
        }
    }
}
