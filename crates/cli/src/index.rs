//! `cascade index build RUN_DIR [--out PATH] [HNSW settings]`: an approximate (HNSW) index over
//! a two-tower run's item vectors, its recall against exact search reported when it is built.
//! `cascade index export RUN_DIR --to postgres://...`: the same vectors as a pgvector table,
//! HNSW-indexed by PostgreSQL, for `cascade serve --index postgres://...`.

use cascade_pgvector::PgVectorStore;
use cascade_retrieve::{HnswParams, ItemEmbeddings};
use cascade_serve::Recommender;
use cascade_service::IndexSource;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// The `index` sub-commands.
#[derive(Subcommand)]
pub enum IndexCommand {
    /// Build an HNSW index over a two-tower run's item vectors and report its recall.
    Build(BuildArgs),
    /// Write a two-tower run's item vectors into PostgreSQL (pgvector, HNSW-indexed).
    Export(ExportArgs),
}

/// The `--index PATH|URL` and `--index-table NAME` flags of `recommend` and `serve`.
#[derive(Args)]
pub struct IndexFlags {
    /// Search this index instead of the exact one: an HNSW file (from `cascade index build`)
    /// or a `postgres://` URL (a pgvector table from `cascade index export`).
    #[arg(long, value_name = "PATH|URL")]
    pub index: Option<String>,
    /// The pgvector table of a `postgres://` --index.
    #[arg(long, value_name = "NAME", default_value = "cascade_items")]
    pub index_table: String,
}

impl IndexFlags {
    /// The index the flags name, if any.
    pub fn source(&self) -> Option<IndexSource> {
        self.index
            .as_deref()
            .map(|text| IndexSource::parse(text, &self.index_table))
    }
}

/// Arguments of `cascade index export`.
#[derive(Args)]
pub struct ExportArgs {
    /// The two-tower run folder.
    pub run_dir: PathBuf,
    /// Dataset folder; default: the run's data.path.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The database: a `postgres://user:password@host:port/db` URL.
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// The table to (re)write; readers see the old or the new table, never a partial one.
    #[arg(long, value_name = "NAME", default_value = "cascade_items")]
    pub table: String,
}

/// Arguments of `cascade index build`.
#[derive(Args)]
pub struct BuildArgs {
    /// The two-tower run folder.
    pub run_dir: PathBuf,
    /// Dataset folder; default: the run's data.path.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Index file to write; default RUN_DIR/index/items.hnsw.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Links per node (HNSW's M).
    #[arg(long, default_value_t = 16)]
    pub connectivity: usize,
    /// Candidate list while inserting (efConstruction).
    #[arg(long, default_value_t = 128)]
    pub expansion_add: usize,
    /// Candidate list while searching (efSearch), saved with the index.
    #[arg(long, default_value_t = 64)]
    pub expansion_search: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs one `index` sub-command.
pub fn run(command: IndexCommand) -> anyhow::Result<()> {
    match command {
        IndexCommand::Build(args) => build(args),
        IndexCommand::Export(args) => export(args),
    }
}

fn build(args: BuildArgs) -> anyhow::Result<()> {
    let out = args
        .out
        .unwrap_or_else(|| args.run_dir.join("index").join("items.hnsw"));
    let params = HnswParams {
        connectivity: args.connectivity,
        expansion_add: args.expansion_add,
        expansion_search: args.expansion_search,
    };
    let recommender = Recommender::open(&args.run_dir, args.data.as_deref())?;
    let report = recommender.build_hnsw(params, &out)?;
    if args.json {
        let mut json = serde_json::to_value(&report)?;
        json["path"] = out.display().to_string().into();
        println!("{json}");
    } else {
        println!(
            "built an HNSW index of {} items in {:.2}s: recall@10 {:.4}, recall@100 {:.4} against \
             exact search ({} user queries); saved to {}",
            report.items,
            report.build_seconds,
            report.recall_at_10,
            report.recall_at_100,
            report.queries,
            out.display()
        );
    }
    Ok(())
}

fn export(args: ExportArgs) -> anyhow::Result<()> {
    cascade_pgvector::validate_table_name(&args.table)?;
    let recommender = Recommender::open(&args.run_dir, args.data.as_deref())?;
    let items = recommender.item_table();
    let embeddings = ItemEmbeddings::new(items.dim, items.values)?;
    let mut store = PgVectorStore::connect(&args.to)?;
    let started = std::time::Instant::now();
    let summary = store.export(&args.table, &embeddings, &items.ids)?;
    println!(
        "exported {} item vectors ({} wide, {}) into table {} of {} in {:.1} s; fingerprint {}",
        summary.items,
        summary.dim,
        summary.metric.name(),
        summary.table,
        store.server_name(),
        started.elapsed().as_secs_f64(),
        summary.fingerprint
    );
    Ok(())
}
