//! MovieLens 100K as GroupLens ships it: `u.data` (tab-separated `user item rating unix_time`,
//! no header), `u.user` (`id|age|gender|occupation|zip`) and `u.item` (`id|title|release
//! date|video release date|IMDb URL|` and 19 genre flags, ISO-8859-1 encoded).
//!
//! `--input` is the folder, or one ratings file (`u.data`, `u1.base`, ...), in which case the
//! `u.user` and `u.item` next to it are used when present. Output columns: `user_id`,
//! `item_id`, `rating`, `label`, `timestamp`, and side features `user_age` (bucket),
//! `user_gender`, `user_occupation`, `user_zip` (first 3 characters), `item_genres` (multi-hot)
//! and `item_year` (release decade). Titles go to `items.tsv`.

use crate::ConvertContext;
use crate::bad_rows::BadRows;
use crate::categorical::Categoricals;
use crate::dataset::{Interactions, Parts, PendingSparse, distinct, interaction_features};
use crate::error::{ConvertError, Result, RowError};
use crate::items::{ITEMS_FILE, ItemInfo, items_extra, items_tsv, year_bucket};
use crate::table::{Bags, ColumnValues};
use crate::text::{TextLines, split_fields};
use serde_json::{Map, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The 19 genre flags of `u.item`, in file order (as `u.genre` lists them).
pub const GENRES: [&str; 19] = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// The age bucket of a user, as MovieLens 1M defines its age groups.
pub fn age_bucket(age: i64) -> &'static str {
    match age {
        ..18 => "<18",
        18..=24 => "18-24",
        25..=34 => "25-34",
        35..=44 => "35-44",
        45..=49 => "45-49",
        50..=55 => "50-55",
        _ => "56+",
    }
}

/// Converts a MovieLens 100K folder or ratings file.
pub fn convert(ctx: &ConvertContext) -> Result<Parts> {
    let (ratings_path, folder) = locate(&ctx.input)?;
    let mut cats = Categoricals::new(ctx.hash_buckets)?;
    let mut bad = BadRows::new(ctx.skip_bad_rows);
    let mut extra = Map::new();
    let mut inputs = vec![ratings_path.display().to_string()];

    let user_path = folder.join("u.user");
    let users = if user_path.is_file() {
        inputs.push(user_path.display().to_string());
        read_users(&user_path, &mut cats, &mut bad)?
    } else {
        HashMap::new()
    };
    let item_path = folder.join("u.item");
    let items = if item_path.is_file() {
        inputs.push(item_path.display().to_string());
        read_items(&item_path, &mut cats, &mut bad)?
    } else {
        Vec::new()
    };
    let interactions = read_ratings(&ratings_path, &mut cats, &mut bad)?;

    let item_features: HashMap<i64, &ItemRow> = items.iter().map(|i| (i.info.index, i)).collect();
    let rows = interactions.len();
    let mut user_cols: [Vec<i64>; 4] = std::array::from_fn(|_| Vec::with_capacity(rows));
    let mut genres = Bags::default();
    let mut years = Vec::with_capacity(rows);
    for row in 0..rows {
        let user = users
            .get(&interactions.users[row])
            .copied()
            .unwrap_or([0; 4]);
        for (col, value) in user_cols.iter_mut().zip(user) {
            col.push(value);
        }
        match item_features.get(&interactions.items[row]) {
            Some(item) => {
                genres.push(&item.genres);
                years.push(item.year);
            }
            None => {
                genres.push(&[]);
                years.push(0);
            }
        }
    }

    extra.insert("users".into(), json!(distinct(&interactions.users)));
    extra.insert("items_rated".into(), json!(distinct(&interactions.items)));
    let (mut table, user_times) = interactions.into_table(ctx.label, &mut extra);
    let mut sparse = interaction_features();
    let [age, gender, occupation, zip] = user_cols;
    if !users.is_empty() {
        for (column, values, space) in [
            ("user_age", age, "age"),
            ("user_gender", gender, "gender"),
            ("user_occupation", occupation, "occupation"),
            ("user_zip", zip, "zip"),
        ] {
            table.add(column, ColumnValues::Int(values));
            sparse.push(PendingSparse::new(column, space, false));
        }
    }
    let mut files = Vec::new();
    if !items.is_empty() {
        table.add("item_genres", ColumnValues::Bag(genres));
        table.add("item_year", ColumnValues::Int(years));
        sparse.push(PendingSparse::new("item_genres", "genre", true));
        sparse.push(PendingSparse::new("item_year", "year", false));
        let infos: Vec<ItemInfo> = items.into_iter().map(|i| i.info).collect();
        files.push((ITEMS_FILE.to_string(), items_tsv(&infos)));
        extra.insert("items".into(), items_extra(infos.len()));
    }
    extra.insert("inputs".into(), json!(inputs));
    Ok(Parts {
        source: "movielens-100k".into(),
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

/// The ratings file and the folder holding `u.user` / `u.item`.
fn locate(input: &Path) -> Result<(PathBuf, PathBuf)> {
    if input.is_dir() {
        let data = input.join("u.data");
        if !data.is_file() {
            return Err(ConvertError::input(
                input,
                "no u.data in this folder (is it the ml-100k folder?)",
            ));
        }
        return Ok((data, input.to_path_buf()));
    }
    if !input.is_file() {
        return Err(ConvertError::input(input, "no such file or folder"));
    }
    let folder = input.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((input.to_path_buf(), folder))
}

fn read_ratings(path: &Path, cats: &mut Categoricals, bad: &mut BadRows) -> Result<Interactions> {
    let mut lines = TextLines::open(path)?;
    let mut out = Interactions::default();
    let (mut users, mut items) = (cats.take("user"), cats.take("item"));
    while lines.advance()? {
        if lines.bytes().is_empty() {
            continue;
        }
        match parse_rating(&lines) {
            Ok((user, item, rating, ts)) => {
                out.push(users.index(user), items.index(item), rating, ts)
            }
            Err(e) => bad.record(e)?,
        }
    }
    cats.put("user", users);
    cats.put("item", items);
    Ok(out)
}

fn parse_rating(lines: &TextLines) -> Result<(&str, &str, f32, i64), RowError> {
    let row = lines.row();
    let (fields, count) = split_fields::<4>(lines.utf8()?, '\t');
    row.expect_fields(count, 4)?;
    let user = row.required("user_id", fields[0])?;
    let item = row.required("item_id", fields[1])?;
    let rating = row.float("rating", fields[2])?;
    let ts = row.int("timestamp", fields[3])?;
    Ok((user, item, rating, ts))
}

fn read_users(
    path: &Path,
    cats: &mut Categoricals,
    bad: &mut BadRows,
) -> Result<HashMap<i64, [i64; 4]>> {
    let mut lines = TextLines::open(path)?;
    let mut users = HashMap::new();
    while lines.advance()? {
        if lines.bytes().is_empty() {
            continue;
        }
        let text = lines.latin1();
        let row = lines.row();
        let parsed = (|| {
            let f: Vec<&str> = text.split('|').collect();
            row.expect_fields(f.len(), 5)?;
            let id = row.required("user_id", f[0])?;
            let age = row.int("age", f[1])?;
            let gender = row.required("gender", f[2])?;
            let zip: String = f[4]
                .trim()
                .chars()
                .take(3)
                .collect::<String>()
                .to_uppercase();
            Ok::<_, RowError>((id, age, gender, f[3].trim(), zip))
        })();
        match parsed {
            Ok((id, age, gender, occupation, zip)) => {
                let user = cats.space("user").index(id);
                let features = [
                    cats.space("age").index(age_bucket(age)),
                    cats.space("gender").index(gender),
                    cats.space("occupation").index(occupation),
                    cats.space("zip").index(&zip),
                ];
                users.insert(user, features);
            }
            Err(e) => bad.record(e)?,
        }
    }
    Ok(users)
}

/// One `u.item` row: metadata and its side-feature indices.
struct ItemRow {
    info: ItemInfo,
    genres: Vec<i64>,
    year: i64,
}

fn read_items(path: &Path, cats: &mut Categoricals, bad: &mut BadRows) -> Result<Vec<ItemRow>> {
    let mut lines = TextLines::open(path)?;
    let mut items = Vec::new();
    while lines.advance()? {
        if lines.bytes().is_empty() {
            continue;
        }
        let text = lines.latin1();
        let row = lines.row();
        let parsed = (|| {
            let f: Vec<&str> = text.split('|').collect();
            row.expect_fields(f.len(), 5 + GENRES.len())?;
            let id = row.required("movie_id", f[0])?;
            let date = f[2].trim();
            let year = if date.is_empty() {
                None
            } else {
                let tail = date.rsplit('-').next().unwrap_or(date);
                Some(row.int("release_date", tail)?)
            };
            let mut genres = Vec::new();
            for (flag, name) in f[5..].iter().zip(GENRES) {
                match flag.trim() {
                    "1" => genres.push(name),
                    "0" => {}
                    other => {
                        return Err(row.error(name, format!("genre flag {other:?} is not 0 or 1")));
                    }
                }
            }
            Ok::<_, RowError>((id, f[1].trim(), year, genres))
        })();
        match parsed {
            Ok((id, title, year, genres)) => {
                let index = cats.space("item").index(id);
                let year_index = year
                    .map(|y| cats.space("year").index(&year_bucket(y)))
                    .unwrap_or(0);
                let genre_ids = genres
                    .iter()
                    .map(|g| cats.space("genre").index(g))
                    .collect();
                items.push(ItemRow {
                    info: ItemInfo {
                        index,
                        raw_id: id.to_string(),
                        title: title.to_string(),
                        year,
                        genres: genres.iter().map(|g| g.to_string()).collect(),
                    },
                    genres: genre_ids,
                    year: year_index,
                });
            }
            Err(e) => bad.record(e)?,
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_fall_into_the_movielens_1m_groups() {
        let buckets: Vec<&str> = [7, 18, 24, 25, 44, 45, 55, 56, 73]
            .into_iter()
            .map(age_bucket)
            .collect();
        assert_eq!(
            buckets,
            [
                "<18", "18-24", "18-24", "25-34", "35-44", "45-49", "50-55", "56+", "56+"
            ]
        );
    }

    #[test]
    fn a_bad_genre_flag_names_the_genre() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.item");
        let flags = ["0"; 18].join("|");
        std::fs::write(&path, format!("1|Heat (1995)|01-Jan-1995||http://x|{flags}|0\n2|Kolya (1996)|24-Jan-1997||http://y|{flags}|2\n")).unwrap();
        let mut cats = Categoricals::new(None).unwrap();
        let err = read_items(&path, &mut cats, &mut BadRows::new(false))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.ends_with("u.item: line 2, field Western: genre flag \"2\" is not 0 or 1"),
            "{err}"
        );
        let mut skipping = BadRows::new(true);
        let items = read_items(&path, &mut cats, &mut skipping).unwrap();
        assert_eq!((items.len(), skipping.count()), (1, 1));
        assert_eq!(items[0].info.year, Some(1995));
    }
}
