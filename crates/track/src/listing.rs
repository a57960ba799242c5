//! Reading runs back for `runs list`, `runs show` and `runs compare`: typed data that the CLI
//! renders as a table (see the render module) or prints as JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Result, TrackError};
use crate::metrics_log::read_metrics;
use crate::queue::QueueReader;
use crate::remote::MlflowLink;
use crate::run_folder::{RunFolder, files};
use crate::summary::RunSummary;

/// One run in a listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunEntry {
    /// The run's local id (its folder name).
    pub id: String,
    /// Its folder.
    pub path: PathBuf,
    /// Its summary.
    pub summary: RunSummary,
}

/// The runs under a root, newest first, and the folders that looked like runs but could not be
/// read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunListing {
    /// Readable runs, newest first.
    pub runs: Vec<RunEntry>,
    /// Folders with an unreadable summary, and why.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Lists the runs under `root` (a missing root lists nothing).
pub fn list_runs(root: &Path) -> Result<RunListing> {
    let mut listing = RunListing {
        runs: Vec::new(),
        unreadable: Vec::new(),
    };
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(listing),
        Err(e) => {
            return Err(TrackError::Io {
                context: format!("listing {}", root.display()),
                source: e,
            });
        }
    };
    for entry in entries {
        let path = entry
            .map_err(TrackError::io(format!("listing {}", root.display())))?
            .path();
        if !path.join(files::SUMMARY).is_file() {
            continue;
        }
        let folder = RunFolder::open(&path)?;
        match folder.read_summary() {
            Ok(summary) => listing.runs.push(RunEntry {
                id: folder.id(),
                path,
                summary,
            }),
            Err(e) => listing.unreadable.push((path, e.to_string())),
        }
    }
    listing.runs.sort_by(|a, b| {
        b.summary
            .start_time
            .total_cmp(&a.summary.start_time)
            .then(a.id.cmp(&b.id))
    });
    Ok(listing)
}

/// Finds a run by path, by folder name under `root`, or by a prefix of a folder name that only
/// one run has.
pub fn resolve_run(root: &Path, name: &str) -> Result<RunFolder> {
    let direct = Path::new(name);
    if direct.join(files::SUMMARY).is_file() {
        return RunFolder::open(direct);
    }
    let under = root.join(name);
    if under.join(files::SUMMARY).is_file() {
        return RunFolder::open(&under);
    }
    let matches: Vec<RunEntry> = list_runs(root)?
        .runs
        .into_iter()
        .filter(|r| r.id.starts_with(name))
        .collect();
    match matches.as_slice() {
        [one] => RunFolder::open(&one.path),
        [] => Err(TrackError::RunNotFound {
            name: name.to_string(),
            root: root.to_path_buf(),
        }),
        many => Err(TrackError::Invalid(format!(
            "`{name}` matches {} runs: {}",
            many.len(),
            many.iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// One metric's series, summarised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesSummary {
    /// The metric name.
    pub name: String,
    /// How many values were logged.
    pub count: usize,
    /// The last step logged.
    pub last_step: u64,
    /// The last value logged.
    pub last: f64,
    /// The smallest value (NaN ignored; NaN if all were NaN).
    pub min: f64,
    /// The largest value (NaN ignored; NaN if all were NaN).
    pub max: f64,
}

/// Everything `runs show` prints about a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDetails {
    /// The run's local id.
    pub id: String,
    /// Its folder.
    pub path: PathBuf,
    /// Its summary.
    pub summary: RunSummary,
    /// Its params.
    pub params: BTreeMap<String, String>,
    /// Its resolved configuration.
    pub config_toml: String,
    /// Every metric series, by name.
    pub metrics: Vec<SeriesSummary>,
    /// The MLflow run it is linked to.
    pub mlflow: Option<MlflowLink>,
    /// Queued operations no MLflow server has acknowledged.
    pub unsent: u64,
}

/// Reads everything about one run.
pub fn show_run(folder: &RunFolder) -> Result<RunDetails> {
    let mut series: BTreeMap<String, SeriesSummary> = BTreeMap::new();
    for record in read_metrics(&folder.metrics_path())? {
        let entry = series.entry(record.name.clone()).or_insert(SeriesSummary {
            name: record.name.clone(),
            count: 0,
            last_step: record.step,
            last: record.value,
            min: f64::NAN,
            max: f64::NAN,
        });
        entry.count += 1;
        entry.last_step = record.step;
        entry.last = record.value;
        // f64::min/max ignore a NaN operand.
        entry.min = entry.min.min(record.value);
        entry.max = entry.max.max(record.value);
    }
    let reader = QueueReader::open(&folder.file(files::QUEUE), &folder.file(files::CURSOR))?;
    Ok(RunDetails {
        id: folder.id(),
        path: folder.path().to_path_buf(),
        summary: folder.read_summary()?,
        params: folder.read_params()?,
        config_toml: folder.read_config()?,
        metrics: series.into_values().collect(),
        mlflow: MlflowLink::read(folder)?,
        unsent: reader.pending()?,
    })
}

/// A param as two runs have it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamDiff {
    /// The key.
    pub key: String,
    /// Run A's value.
    pub a: Option<String>,
    /// Run B's value.
    pub b: Option<String>,
}

/// A final metric as two runs have it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricDiff {
    /// The metric name.
    pub name: String,
    /// Run A's last value.
    pub a: Option<f64>,
    /// Run B's last value.
    pub b: Option<f64>,
    /// B minus A, when both have it.
    pub delta: Option<f64>,
}

/// Two runs side by side: what differs in their params and how their final metrics compare.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunComparison {
    /// Run A.
    pub a: RunEntry,
    /// Run B.
    pub b: RunEntry,
    /// Params that differ (present in one only, or with different values).
    pub params: Vec<ParamDiff>,
    /// Every final metric of either run.
    pub metrics: Vec<MetricDiff>,
}

/// Compares two runs. Final metrics are the last logged values (from the metrics log, so a
/// run that crashed compares too).
pub fn compare_runs(a: &RunFolder, b: &RunFolder) -> Result<RunComparison> {
    let (da, db) = (show_run(a)?, show_run(b)?);
    let keys: BTreeSet<&String> = da.params.keys().chain(db.params.keys()).collect();
    let params = keys
        .into_iter()
        .filter(|k| da.params.get(*k) != db.params.get(*k))
        .map(|k| ParamDiff {
            key: k.clone(),
            a: da.params.get(k).cloned(),
            b: db.params.get(k).cloned(),
        })
        .collect();
    let last = |d: &RunDetails| -> BTreeMap<String, f64> {
        d.metrics.iter().map(|s| (s.name.clone(), s.last)).collect()
    };
    let (la, lb) = (last(&da), last(&db));
    let names: BTreeSet<&String> = la.keys().chain(lb.keys()).collect();
    let metrics = names
        .into_iter()
        .map(|n| {
            let (a, b) = (la.get(n).copied(), lb.get(n).copied());
            MetricDiff {
                name: n.clone(),
                a,
                b,
                delta: a.zip(b).map(|(a, b)| b - a),
            }
        })
        .collect();
    Ok(RunComparison {
        a: RunEntry {
            id: da.id,
            path: da.path,
            summary: da.summary,
        },
        b: RunEntry {
            id: db.id,
            path: db.path,
            summary: db.summary,
        },
        params,
        metrics,
    })
}
