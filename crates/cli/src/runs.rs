//! `cascade runs ...`: list, show, compare and sync the runs in the local run store.

use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// The `runs` sub-commands.
#[derive(Subcommand)]
pub enum RunsCommand {
    /// List the runs under the runs root, newest first.
    List(ListArgs),
    /// Show one run: parameters, final metrics, metric series, status.
    Show(ShowArgs),
    /// Compare two runs: parameters that differ and final metrics side by side.
    Compare(CompareArgs),
    /// Upload a run logged offline (or whose upload was interrupted) to an MLflow server.
    Sync(SyncArgs),
}

/// Where runs live, shared by every `runs` sub-command.
#[derive(Args)]
pub struct RootArgs {
    /// Folder holding the run folders.
    #[arg(long, default_value = "runs")]
    root: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `cascade runs list`.
#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    root: RootArgs,
}

/// Arguments of `cascade runs show`.
#[derive(Args)]
pub struct ShowArgs {
    /// Run: a path, a folder name under the root, or a unique prefix of one.
    run: String,
    #[command(flatten)]
    root: RootArgs,
}

/// Arguments of `cascade runs compare`.
#[derive(Args)]
pub struct CompareArgs {
    /// First run (path, name or unique prefix).
    run_a: String,
    /// Second run (path, name or unique prefix).
    run_b: String,
    #[command(flatten)]
    root: RootArgs,
}

/// Arguments of `cascade runs sync`.
#[derive(Args)]
pub struct SyncArgs {
    /// Run (path, name or unique prefix).
    run: String,
    /// MLflow tracking server; defaults to the MLFLOW_TRACKING_URI environment variable.
    #[arg(long)]
    tracking_uri: Option<String>,
    #[command(flatten)]
    root: RootArgs,
}

/// Runs one `runs` sub-command.
pub fn run(command: RunsCommand) -> anyhow::Result<()> {
    match command {
        RunsCommand::List(args) => {
            let listing = cascade_track::list_runs(&args.root.root)?;
            for (path, why) in &listing.unreadable {
                eprintln!("warning: {}: {why}", path.display());
            }
            if args.root.json {
                println!("{}", serde_json::to_string_pretty(&listing.runs)?);
            } else {
                print!("{}", cascade_track::render_runs_table(&listing.runs));
            }
        }
        RunsCommand::Show(args) => {
            let folder = cascade_track::resolve_run(&args.root.root, &args.run)?;
            let details = cascade_track::show_run(&folder)?;
            if args.root.json {
                println!("{}", serde_json::to_string_pretty(&details)?);
            } else {
                print!("{}", cascade_track::render_run_details(&details));
            }
        }
        RunsCommand::Compare(args) => {
            let a = cascade_track::resolve_run(&args.root.root, &args.run_a)?;
            let b = cascade_track::resolve_run(&args.root.root, &args.run_b)?;
            let comparison = cascade_track::compare_runs(&a, &b)?;
            if args.root.json {
                println!("{}", serde_json::to_string_pretty(&comparison)?);
            } else {
                print!("{}", cascade_track::render_compare(&comparison));
            }
        }
        RunsCommand::Sync(args) => {
            let folder = cascade_track::resolve_run(&args.root.root, &args.run)?;
            let uri = cascade_track::resolve_tracking_uri(args.tracking_uri.as_deref())
                .context("no tracking server: pass --tracking-uri or set MLFLOW_TRACKING_URI")?;
            let report =
                cascade_track::sync(folder.path(), &uri, cascade_track::mlflow::Auth::from_env())?;
            for warning in &report.warnings {
                eprintln!("warning: {warning}");
            }
            if args.root.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "synced: {} operations sent to MLflow run {} (experiment {})",
                    report.sent, report.run_id, report.experiment_id
                );
            }
        }
    }
    Ok(())
}
