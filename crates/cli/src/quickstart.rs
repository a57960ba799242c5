//! `cascade quickstart`: the whole funnel on an embedded default, with no download and no
//! server: generate MovieLens-shaped data with a planted taste signal (or convert the MovieLens
//! 100K, MovieLens CSV or Learning-from-Sets folder given with `--data`), train the two-tower retrieval model and a DLRM ranking
//! model, evaluate both, and print a few users' recommendations, retrieved then re-ranked.

use crate::recommend::table;
use anyhow::Context;
use cascade_convert::{
    ColumnMapping, ConvertContext, ConvertOptions, Format, LabelRule, OutputOptions, SplitSpec,
};
use cascade_serve::Recommender;
use cascade_train::TrainConfig;
use clap::Args;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

/// The retrieval preset, as shipped in `configs/`.
const RETRIEVAL_CONFIG: &str = include_str!("../../../configs/two_tower_softmax.toml");
/// The ranking preset, as shipped in `configs/`.
const RANKING_CONFIG: &str = include_str!("../../../configs/dlrm_movielens.toml");

/// Arguments of `cascade quickstart`.
#[derive(Args)]
pub struct QuickstartArgs {
    /// Folder for the dataset and both runs (replaced when it exists).
    #[arg(long, default_value = "cascade-quickstart")]
    pub out: PathBuf,
    /// A ratings folder to use instead of synthetic data: MovieLens 100K (u.data), MovieLens
    /// CSV (ratings.csv) or Learning from Sets of Items (item_ratings.csv).
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Users whose recommendations are printed.
    #[arg(long, default_value_t = 3)]
    pub users: usize,
}

/// Runs `cascade quickstart`.
pub fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let data = args.out.join("data");
    match &args.data {
        Some(input) => convert(input, &data)?,
        None => {
            let config = cascade_synth::TwoTowerConfig::default();
            eprintln!("[1/4] generating {} synthetic interactions", config.rows);
            cascade_synth::two_tower::generate(&config, &data, true)?;
        }
    }
    eprintln!("[2/4] training the two-tower retrieval model");
    let retrieval = args.out.join("retrieval");
    let mut overrides = vec!["train.epochs=5".to_string()];
    overrides.extend(tower_features(&data)?);
    let overrides: Vec<&str> = overrides.iter().map(String::as_str).collect();
    let summary = train(
        RETRIEVAL_CONFIG,
        "two_tower_softmax.toml",
        &data,
        &retrieval,
        &overrides,
    )?;
    let eval = &summary["eval"];
    eprintln!("[3/4] training the DLRM ranking model");
    let ranking = args.out.join("ranking");
    let ranked = train(
        RANKING_CONFIG,
        "dlrm_movielens.toml",
        &data,
        &ranking,
        &["data.eval_split=\"test\""],
    )?;
    eprintln!("[4/4] retrieving and re-ranking");
    let recommender = Recommender::open(&retrieval, Some(&data))?.with_ranker(&ranking)?;
    let users = first_users(&data, args.users)?;
    println!(
        "retrieval (two-tower, {} users, whole corpus, seen items excluded):",
        eval["users"]
    );
    for k in [10, 50, 100] {
        println!(
            "  recall@{k:<3} {:.4}   most-popular baseline {:.4}",
            eval[format!("recall@{k}")].as_f64().unwrap_or(f64::NAN),
            eval[format!("popularity_recall@{k}")]
                .as_f64()
                .unwrap_or(f64::NAN)
        );
    }
    println!(
        "ranking (DLRM): test AUC {:.4}",
        ranked["eval"]["auc"].as_f64().unwrap_or(f64::NAN)
    );
    for user in &users {
        let items = recommender.recommend(user, 5, 100)?;
        print!("{}", table(user, &items));
    }
    println!(
        "runs: {} (retrieval), {} (ranking); data: {}; {:.0} s in all",
        retrieval.display(),
        ranking.display(),
        data.display(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "next: cascade recommend {} --user {} --rank {}",
        retrieval.display(),
        users.first().map_or("1", String::as_str),
        ranking.display()
    );
    println!(
        "      cascade serve --retrieval {} --ranking {}   # the funnel over HTTP",
        retrieval.display(),
        ranking.display()
    );
    Ok(())
}

/// Trains the embedded configuration `text` on `data` into `run` (replacing an old run).
fn train(
    text: &str,
    name: &str,
    data: &Path,
    run: &Path,
    overrides: &[&str],
) -> anyhow::Result<Json> {
    if run.exists() {
        std::fs::remove_dir_all(run)
            .with_context(|| format!("removing the old run {}", run.display()))?;
    }
    let mut all = vec![format!("data.path={}", data.display())];
    all.extend(overrides.iter().map(|s| s.to_string()));
    let config = TrainConfig::parse(name, text, &all)?;
    Ok(cascade_train::train(&config, run)?)
}

/// The format of a ratings folder, from the files it holds.
fn format_of(input: &Path) -> anyhow::Result<Format> {
    let has = |name: &str| input.join(name).is_file();
    if has("u.data") {
        Ok(Format::MovieLens100k)
    } else if has("ratings.csv") {
        Ok(Format::MovieLensCsv)
    } else if has("item_ratings.csv") {
        Ok(Format::LearningFromSets)
    } else {
        anyhow::bail!(
            "{}: expected a MovieLens 100K folder (u.data), a MovieLens CSV folder (ratings.csv) \
             or a Learning-from-Sets folder with item_ratings.csv",
            input.display()
        )
    }
}

/// Converts a ratings folder with the temporal leave-last-10 split.
fn convert(input: &Path, out: &Path) -> anyhow::Result<()> {
    eprintln!("[1/4] converting {}", input.display());
    let options = ConvertOptions {
        format: format_of(input)?,
        context: ConvertContext {
            input: input.to_path_buf(),
            label: LabelRule::from_threshold(None)?,
            skip_bad_rows: false,
            hash_buckets: None,
            mapping: ColumnMapping::default(),
        },
        output: OutputOptions {
            out: out.to_path_buf(),
            force: true,
            split: "leave-last:10"
                .parse::<SplitSpec>()
                .map_err(anyhow::Error::msg)?,
            seed: 0,
            writer: Default::default(),
        },
    };
    cascade_convert::convert(&options)?;
    Ok(())
}

/// Overrides that keep, of the preset's tower features, those the dataset has (datasets
/// without MovieLens 100K's user attributes train on ids and what item features they have).
fn tower_features(data: &Path) -> anyhow::Result<Vec<String>> {
    let manifest = cascade_data::DatasetManifest::load(data)?;
    let preset = TrainConfig::parse("two_tower_softmax.toml", RETRIEVAL_CONFIG, &[])?;
    let towers = preset.two_tower.unwrap_or_default();
    let mut overrides = Vec::new();
    for (key, names) in [
        ("user_features", towers.user_features),
        ("item_features", towers.item_features),
    ] {
        let kept: Vec<String> = names
            .iter()
            .filter(|n| manifest.sparse.iter().any(|f| &f.name == *n))
            .map(|n| format!("{n:?}"))
            .collect();
        if kept.first() != names.first().map(|n| format!("{n:?}")).as_ref() {
            anyhow::bail!(
                "{}: the dataset has no '{}' feature to train the two towers on",
                data.display(),
                names.first().map_or("", String::as_str)
            );
        }
        overrides.push(format!("two_tower.{key}=[{}]", kept.join(", ")));
    }
    Ok(overrides)
}

/// The raw ids of the first `n` users of the dataset's user vocabulary.
fn first_users(data: &Path, n: usize) -> anyhow::Result<Vec<String>> {
    let path = data.join("vocab/user.txt");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.lines().skip(1).take(n).map(str::to_string).collect())
}
