//! `cascade plan CONFIG --world-size N [--memory-per-rank 4GiB] [--data DIR] [--json]`: how a
//! training configuration's embedding tables would be sharded over N ranks (replicated,
//! table-wise or row-wise; see `cascade_dist::plan`) and the memory each rank would hold.
//!
//! Table sizes come from the dataset's `cascade.json` (`--data DIR`, else `data.path` of the
//! configuration), as in training; without a dataset, `--rows R` sizes every table (or
//! `embeddings.hash_rows` does) and `--tables N` says how many a ranking model has — enough
//! to plan a model larger than any dataset at hand.

use anyhow::Context;
use cascade_data::DatasetManifest;
use cascade_dist::plan::{human_bytes, parse_bytes};
use cascade_dist::{Placement, Plan, TableSpec, Thresholds};
use cascade_train::TrainConfig;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `cascade plan`.
#[derive(Args)]
pub struct PlanArgs {
    /// Training configuration (TOML).
    pub config: PathBuf,
    /// Ranks (processes) of the job.
    #[arg(long, value_name = "N")]
    pub world_size: usize,
    /// Memory each rank may spend on embedding rows and their optimizer state, e.g. 4GiB,
    /// 512MiB, 16G or a number of bytes (default: distributed.memory_per_rank of the
    /// configuration, as training plans it).
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes)]
    pub memory_per_rank: Option<u64>,
    /// Dataset folder (with cascade.json) whose feature cardinalities size the tables;
    /// overrides data.path of the configuration.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Without a dataset: rows of every table (default: embeddings.hash_rows).
    #[arg(long, value_name = "ROWS")]
    pub rows: Option<u64>,
    /// Without a dataset: how many sparse tables a ranking model has (named sparse_0, …).
    #[arg(long, value_name = "N")]
    pub tables: Option<usize>,
    /// Tables of at most this size are replicated on every rank (default:
    /// distributed.replicate_max of the configuration).
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes)]
    pub replicate_max: Option<u64>,
    /// Tables above this fraction of --memory-per-rank are split row-wise over all ranks;
    /// those in between live whole on one rank (default:
    /// distributed.table_wise_max_fraction of the configuration).
    #[arg(long, value_name = "FRACTION")]
    pub table_wise_max_fraction: Option<f64>,
    /// Override one configuration key, e.g. --set model.embedding_dim=128 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Print the plan as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `cascade plan`.
pub fn run(args: PlanArgs) -> anyhow::Result<()> {
    if args.world_size == 0 {
        anyhow::bail!("--world-size must be at least 1");
    }
    let config = TrainConfig::load(&args.config, &args.set)?;
    let tables = tables(&config, &args)?;
    let configured = config.distributed.thresholds();
    let thresholds = Thresholds {
        replicate_max_bytes: args.replicate_max.unwrap_or(configured.replicate_max_bytes),
        table_wise_max_budget_fraction: args
            .table_wise_max_fraction
            .unwrap_or(configured.table_wise_max_budget_fraction),
    };
    let memory_per_rank = args
        .memory_per_rank
        .unwrap_or_else(|| config.distributed.memory_budget());
    let plan = cascade_dist::plan(&tables, args.world_size, memory_per_rank, thresholds)
        .with_context(|| {
            format!(
                "planning {} tables over {} ranks with {} each",
                tables.len(),
                args.world_size,
                human_bytes(memory_per_rank)
            )
        })?;
    if args.json {
        println!("{}", serde_json::to_string(&plan).context("plan as JSON")?);
    } else {
        print!("{}", render(&plan));
    }
    Ok(())
}

/// The embedding tables `config` trains, sized from the dataset or from the flags.
fn tables(config: &TrainConfig, args: &PlanArgs) -> anyhow::Result<Vec<TableSpec>> {
    Ok(cascade_train::table_specs(
        config,
        &table_shapes(config, args)?,
    ))
}

/// The name, rows and dim of every embedding table `config` trains.
fn table_shapes(
    config: &TrainConfig,
    args: &PlanArgs,
) -> anyhow::Result<Vec<(String, u64, usize)>> {
    let table = |name: String, rows: u64, dim: usize| (name, rows, dim);
    let data = args.data.clone().or_else(|| config.data.path.clone());
    if let Some(dir) = data {
        let manifest = DatasetManifest::load(&dir)
            .with_context(|| format!("reading the dataset {}", dir.display()))?;
        return Ok(match &config.two_tower {
            Some(_) => {
                let spec = cascade_train::two_tower_spec(config, &manifest)?;
                spec.user_features
                    .into_iter()
                    .chain(spec.item_features)
                    .map(|f| table(f.name, f.rows, f.dim))
                    .collect()
            }
            None => {
                let spec = cascade_train::ranking_spec(config, &manifest)?;
                spec.sparse
                    .into_iter()
                    .map(|f| table(f.name, f.rows, spec.embedding_dim))
                    .collect()
            }
        });
    }
    let rows = args.rows.or(config.embeddings.hash_rows).context(
        "no table sizes: give --data DIR (sizes come from the dataset's cascade.json) or --rows ROWS",
    )?;
    Ok(match &config.two_tower {
        Some(t) => {
            let tower = |names: &[String]| -> Vec<(String, u64, usize)> {
                names
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let dim = if i == 0 { t.id_dim } else { t.feature_dim };
                        table(name.clone(), rows, dim)
                    })
                    .collect()
            };
            let mut all = tower(&t.user_features);
            all.extend(tower(&t.item_features));
            all
        }
        None => {
            let count = args.tables.context(
                "without a dataset, give --tables N: the number of sparse tables comes from the dataset",
            )?;
            (0..count)
                .map(|i| table(format!("sparse_{i}"), rows, config.model.embedding_dim))
                .collect()
        }
    })
}

/// The plan as an aligned text table, then the memory of each rank.
fn render(plan: &Plan) -> String {
    let header = ["table", "rows", "dim", "bytes", "placement", "ranks"];
    let rows: Vec<[String; 6]> = plan
        .tables
        .iter()
        .map(|t| {
            [
                t.name.clone(),
                t.rows.to_string(),
                t.dim.to_string(),
                human_bytes(t.bytes),
                placement_text(&t.placement),
                t.placement.ranks_label(plan.world_size),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let text: Vec<String> = cells
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| match i {
                // Numbers right-aligned, words left-aligned.
                1..=3 => format!("{cell:>w$}"),
                _ => format!("{cell:<w$}"),
            })
            .collect();
        out.push_str(text.join("  ").trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
    let count = |name: &str| {
        plan.tables
            .iter()
            .filter(|t| t.placement.name() == name)
            .count()
    };
    out.push_str(&format!(
        "\n{} tables: {} replicated, {} table-wise, {} row-wise; {} ranks, budget {} each\n",
        plan.tables.len(),
        count("replicated"),
        count("table_wise"),
        count("row_wise"),
        plan.world_size,
        human_bytes(plan.memory_budget)
    ));
    out.push_str("memory per rank (embedding rows and optimizer state):\n");
    for (rank, bytes) in plan.memory_per_rank.iter().enumerate() {
        let share = if plan.memory_budget == 0 {
            0.0
        } else {
            *bytes as f64 * 100.0 / plan.memory_budget as f64
        };
        out.push_str(&format!(
            "  rank {rank}: {} ({bytes} bytes, {share:.1}% of budget)\n",
            human_bytes(*bytes)
        ));
    }
    out
}

fn placement_text(placement: &Placement) -> String {
    match placement {
        Placement::Replicated => "replicated".into(),
        Placement::TableWise { .. } => "table-wise".into(),
        Placement::RowWise { .. } => "row-wise".into(),
    }
}
