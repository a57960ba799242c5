//! MovieLens-shaped user–item interactions for retrieval (two-tower) models, with the hidden
//! model's and the popularity baseline's recall on the test split in the manifest.
//!
//! The output is exactly what `cascade data convert --format movielens-100k --split
//! leave-last:N` writes for MovieLens 100K, because it is made that way: the generator writes
//! the hidden world's users, items and ratings as `u.user`, `u.item` and `u.data` into a
//! temporary folder and runs the MovieLens 100K converter on them. So the columns (`user_id`,
//! `item_id`, `rating`, `label`, `timestamp`, `user_age`, `user_gender`, `user_occupation`,
//! `user_zip`, `item_genres`, `item_year`), their encodings, the vocabularies, the label rule
//! (rating ≥ mean rating), `items.tsv` and the split are the converter's own, and a training
//! configuration written for MovieLens works unchanged. Raw ids are `1..=users` and
//! `1..=items`; titles are `Synthetic Movie N (YEAR)`.

mod config;
mod recall;
#[cfg(test)]
mod tests;
mod world;

pub use config::{FACTORS, TwoTowerConfig};
pub use recall::{CUTOFFS, Recalls, RetrievalReport, evaluate, held_out};
pub use world::{Item, OCCUPATIONS, Pick, User, World};

use crate::error::{Result, SynthError};
use cascade_convert::formats::movielens100k::GENRES;
use cascade_convert::formats::{Format, parse};
use cascade_convert::{ColumnMapping, ConvertContext, LabelRule, OutputOptions, SplitSpec};
use cascade_data::DatasetManifest;
use cascade_mds::WriterOptions;
use rayon::prelude::*;
use serde_json::{Map, Value as Json, json};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Draws every user's interactions (in time order), in parallel and independently per user.
pub fn interactions(config: &TwoTowerConfig, world: &World) -> Vec<Vec<Pick>> {
    let counts = world.interaction_counts(config);
    counts
        .par_iter()
        .enumerate()
        .map(|(u, &count)| world.picks(config.seed, u, count as usize))
        .collect()
}

/// Generates the dataset described by `config` into the folder `out` (which must not exist or
/// be empty, unless `replace` is set) and returns its manifest, whose `extra` holds the hidden
/// model's and the popularity baseline's recall on the test split.
pub fn generate(config: &TwoTowerConfig, out: &Path, replace: bool) -> Result<DatasetManifest> {
    config.validate()?;
    let world = World::new(config);
    let picks = interactions(config, &world);
    let report = evaluate(&world, &picks, config.leave_last);

    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SynthError::Io { path, source }
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let raw = tempfile::Builder::new()
        .prefix(&format!(".{name}.synth-raw-"))
        .tempdir_in(&parent)
        .map_err(io(&parent))?;
    write_raw(raw.path(), &world, &picks)?;

    let context = ConvertContext {
        input: raw.path().to_path_buf(),
        label: LabelRule::MeanRating,
        skip_bad_rows: false,
        hash_buckets: None,
        mapping: ColumnMapping::default(),
    };
    let mut parts = parse(Format::MovieLens100k, &context)?;
    parts.source = "synth:two-tower".into();
    parts.extra.remove("inputs");
    parts.extra.extend(extra(config, &report));
    let options = OutputOptions {
        out: out.to_path_buf(),
        force: replace,
        split: SplitSpec::LeaveLast(config.leave_last),
        seed: config.seed,
        writer: WriterOptions {
            compression: config.compression,
            hashes: config.hashes.clone(),
            ..WriterOptions::default()
        },
    };
    let written = cascade_convert::output::write(parts, &options)?;
    Ok(written.manifest)
}

/// The generator's facts for the manifest: settings and the retrieval ceiling and floor.
fn extra(config: &TwoTowerConfig, report: &RetrievalReport) -> Map<String, Json> {
    let by_cutoff = |recalls: &Recalls| {
        CUTOFFS
            .iter()
            .zip(recalls)
            .map(|(k, r)| (format!("recall@{k}"), json!(r)))
            .collect::<Map<String, Json>>()
    };
    let mut extra = Map::new();
    extra.insert("generator".into(), json!("two-tower"));
    extra.insert("hidden_recall@100".into(), json!(report.hidden[2]));
    extra.insert("popularity_recall@100".into(), json!(report.popularity[2]));
    extra.insert(
        "retrieval".into(),
        json!({
            "split": "test",
            "users": report.users,
            "hidden_model": by_cutoff(&report.hidden),
            "popularity": by_cutoff(&report.popularity),
            "note": "top K of all items outside the user's training interactions; the hidden model ranks by its own pick logit (the ceiling), popularity by training counts (the floor)",
        }),
    );
    extra.insert(
        "parameters".into(),
        json!({
            "seed": config.seed,
            "rows": config.rows,
            "users": config.user_count(),
            "items": config.item_count(),
            "leave_last": config.leave_last,
            "popularity": config.popularity,
            "preference": config.preference,
            "factors": FACTORS,
        }),
    );
    extra.insert(
        "hidden_model".into(),
        json!("pick logit = -popularity·ln(popularity rank) + preference·⟨p_u, q_i⟩/sqrt(factors); p_u half from age group, gender and occupation, q_i half from genres; rating = round(3.0 + user bias + item quality + 0.7·affinity + noise) in 1..5"),
    );
    extra
}

/// Writes the world as MovieLens 100K's `u.user`, `u.item` and `u.data` into `dir`.
fn write_raw(dir: &Path, world: &World, picks: &[Vec<Pick>]) -> Result<()> {
    let mut users = String::new();
    for (u, user) in world.users.iter().enumerate() {
        users.push_str(&format!(
            "{}|{}|{}|{}|{}\n",
            u + 1,
            user.age,
            user.gender,
            user.occupation,
            user.zip
        ));
    }
    write_file(&dir.join("u.user"), users.as_bytes())?;

    let mut items = String::new();
    for (i, item) in world.items.iter().enumerate() {
        let flags: Vec<&str> = (0..GENRES.len())
            .map(|g| if item.genres.contains(&g) { "1" } else { "0" })
            .collect();
        items.push_str(&format!(
            "{id}|Synthetic Movie {id} ({year})|01-Jan-{year}||http://example.invalid/{id}|{}\n",
            flags.join("|"),
            id = i + 1,
            year = item.year,
        ));
    }
    write_file(&dir.join("u.item"), items.as_bytes())?;

    let path = dir.join("u.data");
    let file = std::fs::File::create(&path).map_err(|source| SynthError::Io {
        path: path.clone(),
        source,
    })?;
    let mut data = std::io::BufWriter::new(file);
    for (u, user_picks) in picks.iter().enumerate() {
        for pick in user_picks {
            writeln!(
                data,
                "{}\t{}\t{}\t{}",
                u + 1,
                pick.item + 1,
                pick.rating,
                pick.time
            )
            .map_err(|source| SynthError::Io {
                path: path.clone(),
                source,
            })?;
        }
    }
    data.flush()
        .map_err(|source| SynthError::Io { path, source })?;
    Ok(())
}

/// Writes a whole file, naming it in errors.
fn write_file(path: &Path, contents: &[u8]) -> Result<()> {
    std::fs::write(path, contents).map_err(|source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    })
}
