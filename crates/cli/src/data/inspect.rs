//! `cascade data inspect`: describes a dataset folder, either a Cascade dataset (`cascade.json`
//! naming its splits) or a plain MDS folder (`index.json`, shown as one split named `all`):
//! per split its columns and encodings, samples, shards, raw and stored bytes, compression and
//! digests; `--json` prints the same as one JSON object.

use anyhow::Context;
use cascade_data::DatasetManifest;
use cascade_data::manifest::MANIFEST_FILE;
use cascade_mds::{INDEX_FILE, Index};
use clap::Args;
use serde_json::{Value as Json, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Arguments of `cascade data inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// Dataset folder: a Cascade dataset (with `cascade.json`) or an MDS folder (with
    /// `index.json`).
    pub dir: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One split of a dataset folder: its name, MDS folder, and the sample count the manifest
/// promises (none for a plain MDS folder).
pub(super) struct SplitDir {
    /// Split name (`train`, ...; `all` for a plain MDS folder).
    pub name: String,
    /// The split's MDS folder.
    pub dir: PathBuf,
    /// Samples according to `cascade.json`.
    pub manifest_samples: Option<u64>,
}

/// The splits of a dataset folder, and the manifest when it is a Cascade dataset.
pub(super) fn dataset_splits(
    dir: &Path,
) -> anyhow::Result<(Option<DatasetManifest>, Vec<SplitDir>)> {
    if dir.join(MANIFEST_FILE).is_file() {
        let manifest = DatasetManifest::load(dir)?;
        let splits = manifest
            .splits
            .iter()
            .map(|(name, split)| SplitDir {
                name: name.clone(),
                dir: dir.join(&split.path),
                manifest_samples: Some(split.samples),
            })
            .collect();
        Ok((Some(manifest), splits))
    } else if dir.join(INDEX_FILE).is_file() {
        let all = SplitDir {
            name: "all".into(),
            dir: dir.to_path_buf(),
            manifest_samples: None,
        };
        Ok((None, vec![all]))
    } else {
        anyhow::bail!(
            "{} is not a dataset: it has neither {MANIFEST_FILE} (a Cascade dataset) nor {INDEX_FILE} (an MDS folder)",
            dir.display()
        )
    }
}

/// Runs `cascade data inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let (manifest, splits) = dataset_splits(&args.dir)?;
    let mut total = 0u64;
    let mut described = serde_json::Map::new();
    for split in &splits {
        let index = Index::load(&split.dir)
            .with_context(|| format!("split {:?} ({})", split.name, split.dir.display()))?;
        let summary = describe(&index, split)
            .with_context(|| format!("split {:?} ({})", split.name, split.dir.display()))?;
        total += index.num_samples();
        described.insert(split.name.clone(), summary);
    }
    let report = json!({
        "path": args.dir.display().to_string(),
        "kind": if manifest.is_some() { "cascade" } else { "mds" },
        "source": manifest.as_ref().map(|m| m.source.clone()),
        "samples": total,
        "splits": described,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    Ok(())
}

/// The JSON description of one split.
fn describe(index: &Index, split: &SplitDir) -> anyhow::Result<Json> {
    let columns = index.columns()?;
    let sizes = index
        .shards
        .first()
        .map(|s| s.column_sizes.clone())
        .unwrap_or_default();
    let columns: Vec<Json> = columns
        .iter()
        .zip(sizes.iter().chain(std::iter::repeat(&None)))
        .map(|(c, size)| json!({"name": c.name, "encoding": c.encoding.to_string(), "size": size}))
        .collect();
    let compressions: BTreeSet<Option<&str>> = index
        .shards
        .iter()
        .map(|s| s.compression.as_deref())
        .collect();
    let compression = match compressions.len() {
        0 => Json::Null,
        1 => compressions
            .into_iter()
            .next()
            .flatten()
            .map_or(Json::Null, Json::from),
        _ => Json::from(format!(
            "mixed: {}",
            compressions
                .into_iter()
                .map(|c| c.unwrap_or("none"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    };
    let hashes: BTreeSet<&str> = index
        .shards
        .iter()
        .flat_map(|s| s.hashes.iter().map(String::as_str))
        .collect();
    Ok(json!({
        "path": split.dir.display().to_string(),
        "samples": index.num_samples(),
        "manifest_samples": split.manifest_samples,
        "shards": index.shards.len(),
        "raw_bytes": index.shards.iter().map(|s| s.raw_data.bytes).sum::<u64>(),
        "stored_bytes": index.shards.iter().map(|s| s.stored().bytes).sum::<u64>(),
        "compression": compression,
        "hashes": hashes,
        "size_limit": index.shards.first().and_then(|s| s.size_limit),
        "columns": columns,
    }))
}

/// Prints the report as text.
fn print_text(report: &Json) {
    let str_of = |v: &Json| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    println!("dataset {}", str_of(&report["path"]));
    match report["source"].as_str() {
        Some(source) => println!("  Cascade dataset from {source}"),
        None => println!("  MDS folder (shown as split \"all\")"),
    }
    println!("  {} samples in total", report["samples"]);
    let Some(splits) = report["splits"].as_object() else {
        return;
    };
    for (name, s) in splits {
        println!();
        println!("split {name} ({})", str_of(&s["path"]));
        let promised = match s["manifest_samples"].as_u64() {
            Some(m) if Some(m) != s["samples"].as_u64() => {
                format!(" (cascade.json says {m}: run `cascade data verify`)")
            }
            _ => String::new(),
        };
        println!("  samples:     {}{promised}", s["samples"]);
        println!("  shards:      {}", s["shards"]);
        println!(
            "  raw bytes:   {}",
            human_bytes(s["raw_bytes"].as_u64().unwrap_or(0))
        );
        println!(
            "  stored:      {}",
            human_bytes(s["stored_bytes"].as_u64().unwrap_or(0))
        );
        println!(
            "  compression: {}",
            s["compression"].as_str().unwrap_or("none")
        );
        let hashes: Vec<String> = s["hashes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(str_of)
            .collect();
        println!(
            "  hashes:      {}",
            if hashes.is_empty() {
                "none".into()
            } else {
                hashes.join(", ")
            }
        );
        println!("  columns:");
        let columns = s["columns"].as_array().cloned().unwrap_or_default();
        let width = columns
            .iter()
            .map(|c| str_of(&c["name"]).len())
            .max()
            .unwrap_or(0);
        for c in columns {
            let size = c["size"]
                .as_u64()
                .map_or("variable".into(), |b| format!("{b} bytes"));
            println!(
                "    {:width$}  {:24}  {size}",
                str_of(&c["name"]),
                str_of(&c["encoding"])
            );
        }
    }
}

/// A byte count with a binary-unit rendering, e.g. `1234567 (1.2 MiB)`.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{n} ({v:.1} {})", UNITS[unit])
    }
}
