//! `cascade recommend RUN_DIR --user RAW_ID [--k 100] [--rank RANKING_RUN] [--json]`: one
//! user's recommendations from a two-tower run, optionally re-ranked by a ranking run.

use cascade_serve::{Recommendation, Recommender};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `cascade recommend`.
#[derive(Args)]
pub struct RecommendArgs {
    /// The two-tower run folder (from `cascade train`).
    pub run_dir: PathBuf,
    /// The user's raw id, as the dataset wrote it.
    #[arg(long)]
    pub user: String,
    /// How many items to return.
    #[arg(long, default_value_t = 100)]
    pub k: usize,
    /// A ranking run (DLRM, DCN, DeepFM) on the same data that re-ranks the candidates.
    #[arg(long, value_name = "RANKING_RUN")]
    pub rank: Option<PathBuf>,
    /// Candidates retrieved before re-ranking (at least --k).
    #[arg(long, default_value_t = 200)]
    pub candidates: usize,
    /// Dataset folder; default: the run's data.path.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Search this HNSW index (from `cascade index build`) instead of the exact index.
    #[arg(long, value_name = "PATH")]
    pub index: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `cascade recommend`.
pub fn run(args: RecommendArgs) -> anyhow::Result<()> {
    if args.k == 0 {
        anyhow::bail!("--k must be at least 1");
    }
    let mut recommender = Recommender::open(&args.run_dir, args.data.as_deref())?;
    if let Some(index) = &args.index {
        recommender = recommender.with_hnsw(index)?;
    }
    if let Some(ranking) = &args.rank {
        recommender = recommender.with_ranker(ranking)?;
    }
    let corpus = recommender.corpus_len();
    let items = recommender.recommend(&args.user, args.k, args.candidates)?;
    let note = (args.k > items.len()).then(|| {
        format!(
            "asked for {} items; the corpus has {corpus}, of which {} are not already seen",
            args.k,
            items.len()
        )
    });
    if args.json {
        let out = serde_json::json!({ "user_id": args.user, "items": items, "note": note });
        println!("{out}");
    } else {
        print!("{}", table(&args.user, &items));
        if let Some(note) = note {
            eprintln!("note: {note}");
        }
    }
    Ok(())
}

/// The recommendations as a text table.
pub fn table(user: &str, items: &[Recommendation]) -> String {
    let mut out = format!("recommendations for user {user}:\n");
    for r in items {
        let ranking = r
            .ranking_score
            .map_or(String::new(), |p| format!("  p(click) {p:.3}"));
        out += &format!(
            "  {:>3}. {:<10} {:<50} score {:.3}{ranking}\n",
            r.rank,
            r.item_id,
            r.title.as_deref().unwrap_or(""),
            r.retrieval_score
        );
    }
    out
}
