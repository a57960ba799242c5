//! The local run store without a server: the files a run leaves, reading runs back for
//! `runs list/show/compare`, and a tracking server that cannot be reached at start.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cascade_track::mlflow::Auth;
use cascade_track::{
    RunIdentity, RunStatus, TrackError, Tracker, TrackerOptions, compare_runs, list_runs,
    read_metrics, render_compare, render_run_details, render_runs_table, resolve_run, show_run,
};

fn identity(name: &str, kind: &str) -> RunIdentity {
    RunIdentity {
        name: name.to_string(),
        experiment: "local".to_string(),
        model_kind: kind.to_string(),
        git_commit: None,
        source_name: "cascade train".to_string(),
    }
}

fn options(root: &Path, uri: Option<String>) -> (TrackerOptions, Arc<Mutex<Vec<String>>>) {
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let sink = warnings.clone();
    let options = TrackerOptions {
        runs_root: root.to_path_buf(),
        out: None,
        tracking_uri: uri,
        auth: Auth::None,
        tracking_required: false,
        drain_timeout: Duration::from_secs(5),
        notify: Arc::new(move |m: &str| sink.lock().unwrap().push(m.to_string())),
    };
    (options, warnings)
}

fn run(root: &Path, name: &str, lr: &str, losses: &[f64], status: RunStatus) -> Tracker {
    let (opts, _) = options(root, None);
    let params = BTreeMap::from([
        ("lr".to_string(), lr.to_string()),
        ("batch".to_string(), "64".to_string()),
    ]);
    let tracker = Tracker::start(
        &opts,
        &identity(name, "dlrm"),
        "[loop]\nepochs = 1\n",
        &params,
    )
    .unwrap();
    for (step, &loss) in losses.iter().enumerate() {
        tracker
            .log_metrics(
                step as u64,
                0,
                &[("train/loss", loss), ("val/auc", 0.5 + step as f64 / 100.0)],
            )
            .unwrap();
    }
    tracker.finish(status).unwrap();
    tracker
}

#[test]
fn a_run_folder_holds_config_params_metrics_and_summary() {
    let root = tempfile::tempdir().unwrap();
    let tracker = run(
        root.path(),
        "first",
        "0.1",
        &[0.7, 0.6, f64::NAN],
        RunStatus::Finished,
    );
    let folder = tracker.run_folder();
    assert_eq!(folder.read_config().unwrap(), "[loop]\nepochs = 1\n");
    assert_eq!(folder.read_params().unwrap()["lr"], "0.1");
    let metrics = read_metrics(&folder.metrics_path()).unwrap();
    assert_eq!(metrics.len(), 6);
    assert_eq!(
        (metrics[2].name.as_str(), metrics[2].step, metrics[2].value),
        ("train/loss", 1, 0.6)
    );
    assert!(metrics[4].value.is_nan());
    let raw = fs::read_to_string(folder.metrics_path()).unwrap();
    let first: serde_json::Value = serde_json::from_str(raw.lines().next().unwrap()).unwrap();
    for field in ["step", "epoch", "name", "value", "wall_time"] {
        assert!(
            first.get(field).is_some(),
            "metrics.jsonl lacks {field}: {first}"
        );
    }
    let summary = folder.read_summary().unwrap();
    assert_eq!(summary.status, RunStatus::Finished);
    assert!(summary.end_time.unwrap() >= summary.start_time);
    assert!(summary.final_metrics["train/loss"].value.is_nan());
    assert_eq!(summary.final_metrics["val/auc"].step, 2);
    // A finished run takes no more values, and finishing again reports the first outcome.
    assert!(tracker.log_metric(3, 0, "train/loss", 0.5).is_err());
    assert_eq!(
        tracker.finish(RunStatus::Killed).unwrap().status,
        RunStatus::Finished
    );
    assert_eq!(folder.read_summary().unwrap().status, RunStatus::Finished);
}

#[test]
fn a_line_cut_by_a_crash_is_dropped_and_logging_resumes() {
    let root = tempfile::tempdir().unwrap();
    let tracker = run(root.path(), "crash", "0.1", &[0.7], RunStatus::Failed);
    let folder = tracker.run_folder();
    let mut text = fs::read_to_string(folder.metrics_path()).unwrap();
    text.push_str("{\"step\":1,\"ep");
    fs::write(folder.metrics_path(), &text).unwrap();
    assert_eq!(read_metrics(&folder.metrics_path()).unwrap().len(), 2);
    let (opts, _) = options(root.path(), None);
    let params = BTreeMap::from([("lr".to_string(), "0.1".to_string())]);
    let resumed = Tracker::resume(&opts, folder.path(), &params).unwrap();
    assert_eq!(folder.read_summary().unwrap().status, RunStatus::Running);
    resumed.log_metric(1, 0, "train/loss", 0.5).unwrap();
    resumed.finish(RunStatus::Finished).unwrap();
    let metrics = read_metrics(&folder.metrics_path()).unwrap();
    assert_eq!(
        metrics.iter().map(|m| m.step).collect::<Vec<_>>(),
        vec![0, 0, 1]
    );
}

#[test]
fn runs_are_listed_shown_and_compared() {
    let root = tempfile::tempdir().unwrap();
    let a = run(
        root.path(),
        "baseline",
        "0.1",
        &[0.7, 0.6],
        RunStatus::Finished,
    )
    .run_folder();
    std::thread::sleep(Duration::from_millis(20));
    let b = run(
        root.path(),
        "faster",
        "0.3",
        &[0.7, 0.5, 0.4],
        RunStatus::Killed,
    )
    .run_folder();

    let listing = list_runs(root.path()).unwrap();
    assert_eq!(
        listing
            .runs
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>(),
        vec![b.id(), a.id()]
    );
    let table = render_runs_table(&listing.runs);
    assert!(table.starts_with("RUN"), "{table}");
    assert!(
        table.contains("KILLED") && table.contains("FINISHED"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 3);
    assert_eq!(
        list_runs(&root.path().join("missing")).unwrap().runs.len(),
        0
    );

    assert_eq!(resolve_run(root.path(), "base").unwrap(), a);
    assert_eq!(resolve_run(root.path(), &b.id()).unwrap(), b);
    assert!(matches!(
        resolve_run(root.path(), "nothing"),
        Err(TrackError::RunNotFound { .. })
    ));

    let details = show_run(&a).unwrap();
    let loss = details
        .metrics
        .iter()
        .find(|m| m.name == "train/loss")
        .unwrap();
    assert_eq!(
        (loss.count, loss.last_step, loss.last, loss.min, loss.max),
        (2, 1, 0.6, 0.6, 0.7)
    );
    assert!(
        details.unsent > 0,
        "an offline run keeps everything queued for a later sync"
    );
    let text = render_run_details(&details);
    assert!(
        text.contains("train/loss") && text.contains("lr") && text.contains("baseline"),
        "{text}"
    );

    let cmp = compare_runs(&a, &b).unwrap();
    assert_eq!(cmp.params.len(), 1);
    assert_eq!(
        (
            cmp.params[0].key.as_str(),
            cmp.params[0].a.as_deref(),
            cmp.params[0].b.as_deref()
        ),
        ("lr", Some("0.1"), Some("0.3"))
    );
    let loss = cmp.metrics.iter().find(|m| m.name == "train/loss").unwrap();
    assert!((loss.delta.unwrap() - (0.4 - 0.6)).abs() < 1e-12);
    let text = render_compare(&cmp);
    assert!(text.contains("0.3") && text.contains("-0.2"), "{text}");
    let json = serde_json::to_value(&cmp).unwrap();
    assert_eq!(json["params"][0]["key"], "lr");
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn an_unreachable_server_warns_and_the_run_continues_locally() {
    let root = tempfile::tempdir().unwrap();
    let uri = format!("http://127.0.0.1:{}", closed_port());
    let (opts, warnings) = options(root.path(), Some(uri.clone()));
    let tracker = Tracker::start(&opts, &identity("offline", "dcn"), "", &BTreeMap::new()).unwrap();
    tracker.log_metric(0, 0, "train/loss", 0.7).unwrap();
    let report = tracker.finish(RunStatus::Finished).unwrap();
    assert_eq!(report.mlflow_run_id, None);
    let warnings = warnings.lock().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("cannot reach the MLflow server") && warnings[0].contains(&uri),
        "{warnings:?}"
    );

    let required = TrackerOptions {
        tracking_required: true,
        ..options(root.path(), Some(uri)).0
    };
    let err = Tracker::start(
        &required,
        &identity("required", "dcn"),
        "",
        &BTreeMap::new(),
    )
    .err()
    .unwrap();
    assert!(matches!(err, TrackError::Unreachable { .. }), "{err}");
    assert_eq!(
        list_runs(root.path()).unwrap().runs.len(),
        1,
        "no folder for a run that did not start"
    );
}
