//! `cascade recommend RUN_DIR --user RAW_ID [--k 100] [--rank RANKING_RUN] [--json]`: one
//! user's recommendations from a two-tower run, optionally re-ranked by a ranking run;
//! `--all-users --out FILE` writes every known user's as CSV or Parquet.

use crate::index::IndexFlags;
use cascade_serve::{Recommendation, Recommender, ServeError};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Arguments of `cascade recommend`.
#[derive(Args)]
pub struct RecommendArgs {
    /// The two-tower run folder (from `cascade train`).
    pub run_dir: PathBuf,
    /// The user's raw id, as the dataset wrote it.
    #[arg(
        long,
        required_unless_present = "all_users",
        conflicts_with = "all_users"
    )]
    pub user: Option<String>,
    /// Recommend for every known user into --out instead.
    #[arg(long, requires = "out")]
    pub all_users: bool,
    /// File of --all-users: `.parquet` for Parquet, anything else for CSV; one row per user and
    /// rank (user_id, rank, item_id, title, retrieval_score, ranking_score).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// What an unknown user gets: `error` (the default) or `popularity` (the most popular
    /// items, flagged `cold_start`).
    #[arg(long, value_enum, default_value_t = ColdStart::Error)]
    pub cold_start: ColdStart,
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
    /// The index searched instead of the exact one.
    #[command(flatten)]
    pub index: IndexFlags,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What an unknown user gets.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColdStart {
    /// A clear error naming the user.
    Error,
    /// The most popular items, flagged as such.
    Popularity,
}

/// Runs `cascade recommend`.
pub fn run(args: RecommendArgs) -> anyhow::Result<()> {
    if args.k == 0 {
        anyhow::bail!("--k must be at least 1");
    }
    let mut recommender = Recommender::open(&args.run_dir, args.data.as_deref())?;
    if let Some(index) = args.index.source() {
        recommender = index.attach(recommender)?;
    }
    if let Some(ranking) = &args.rank {
        recommender = recommender.with_ranker(ranking)?;
    }
    let corpus = recommender.corpus_len();
    let user = match (&args.user, &args.out) {
        (Some(user), _) => user.clone(),
        (None, Some(out)) => {
            let all = recommender.recommend_all(args.k, args.candidates)?;
            write_all(out, &all)?;
            eprintln!(
                "wrote the recommendations of {} users to {}",
                all.len(),
                out.display()
            );
            return Ok(());
        }
        (None, None) => anyhow::bail!("pass --user ID, or --all-users --out FILE"),
    };
    let (items, cold_start) = match recommender.recommend(&user, args.k, args.candidates) {
        Err(ServeError::UnknownUser(_)) if args.cold_start == ColdStart::Popularity => {
            (recommender.popular(args.k), true)
        }
        other => (other?, false),
    };
    let note = (args.k > items.len()).then(|| {
        format!(
            "asked for {} items; the corpus has {corpus}, of which {} are not already seen",
            args.k,
            items.len()
        )
    });
    if args.json {
        let out = serde_json::json!({
            "user_id": user, "cold_start": cold_start, "items": items, "note": note
        });
        println!("{out}");
    } else {
        if cold_start {
            eprintln!("user {user} is unknown: the most popular items (cold start)");
        }
        print!("{}", table(&user, &items));
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

/// Writes every user's recommendations to `out` (Parquet by extension, else CSV), atomically.
fn write_all(out: &std::path::Path, all: &[(String, Vec<Recommendation>)]) -> anyhow::Result<()> {
    let parquet = out.extension().is_some_and(|e| e == "parquet");
    if parquet {
        cascade_serve::export::write_recommendations_parquet(out, all)?;
    } else {
        let mut csv = String::from("user_id,rank,item_id,title,retrieval_score,ranking_score\n");
        for (user, items) in all {
            for r in items {
                let title = r.title.as_deref().unwrap_or("").replace('"', "\"\"");
                let ranking = r.ranking_score.map_or(String::new(), |p| p.to_string());
                csv += &format!(
                    "{user},{},{},\"{title}\",{},{ranking}\n",
                    r.rank, r.item_id, r.retrieval_score
                );
            }
        }
        cascade_train::write_atomic(out, csv.as_bytes())?;
    }
    Ok(())
}
