//! Experiment tracking against a real MLflow server, checked with MLflow's own Python client:
//! a complete run (params over several batches, metric series over more than one batch, NaN,
//! a file and a folder as artifacts, a registered model with an alias), an offline run synced
//! afterwards, a server restarted in the middle of logging, and a param changed on resume.
//! The server is installed by `scripts/mlflow-server.sh`; if that fails, these tests fail.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cascade_track::mlflow::Auth;
use cascade_track::{RunIdentity, RunStatus, TrackError, Tracker, TrackerOptions, sync};
use support::{Expected, Server};

fn identity(name: &str) -> RunIdentity {
    RunIdentity {
        name: name.to_string(),
        experiment: "cascade-tests".to_string(),
        model_kind: "dlrm".to_string(),
        git_commit: Some("0123456789abcdef".to_string()),
        source_name: "cascade train".to_string(),
    }
}

fn options(uri: Option<&str>, out: &std::path::Path) -> (TrackerOptions, Arc<Mutex<Vec<String>>>) {
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let sink = warnings.clone();
    let options = TrackerOptions {
        runs_root: out.to_path_buf(),
        out: Some(out.to_path_buf()),
        tracking_uri: uri.map(str::to_string),
        auth: Auth::None,
        tracking_required: false,
        drain_timeout: Duration::from_secs(180),
        notify: Arc::new(move |m: &str| sink.lock().unwrap().push(m.to_string())),
    };
    (options, warnings)
}

const CONFIG: &str = "[model]\nkind = \"dlrm\"\n";

/// Logs a full run: what it logs is recorded in `expected`.
fn log_full_run(tracker: &Tracker, expected: &mut Expected) {
    for step in 0..1200u64 {
        let loss = 1.0 / (1.0 + step as f64);
        tracker
            .log_metric(step, step / 400, "train/loss", loss)
            .unwrap();
        expected.metric("train/loss", step, loss);
        if step % 100 == 99 {
            let auc = 0.5 + step as f64 / 4000.0;
            tracker
                .log_metrics(
                    step,
                    step / 400,
                    &[("val/auc", auc), ("val/logloss", 0.7 - auc / 10.0)],
                )
                .unwrap();
            expected.metric("val/auc", step, auc);
            expected.metric("val/logloss", step, 0.7 - auc / 10.0);
        }
    }
    tracker
        .log_metric(1200, 3, "train/grad_norm", f64::NAN)
        .unwrap();
    expected.metric("train/grad_norm", 1200, f64::NAN);

    let model = tracker.checkpoints_dir().join("model");
    fs::create_dir_all(model.join("tables")).unwrap();
    let weights: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(model.join("weights.bin"), &weights).unwrap();
    fs::write(model.join("tables/user.bin"), b"user table").unwrap();
    tracker.log_artifact(&model, "model").unwrap();
    expected.artifact("model/weights.bin", &weights);
    expected.artifact("model/tables/user.bin", b"user table");
    let report = tracker.run_folder().path().join("report.txt");
    fs::write(&report, "AUC 0.8\n").unwrap();
    tracker.log_artifact(&report, "report.txt").unwrap();
    expected.artifact("report.txt", b"AUC 0.8\n");
    expected.artifact("config.toml", CONFIG.as_bytes());
}

fn params(n: usize) -> BTreeMap<String, String> {
    (0..n)
        .map(|i| (format!("p{i:03}"), format!("v{i}")))
        .collect()
}

#[test]
fn a_run_reaches_mlflow_complete() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let (opts, warnings) = options(Some(&server.url), &dir.path().join("run"));
    let params = params(150);
    let tracker = Tracker::start(&opts, &identity("complete"), CONFIG, &params).unwrap();
    let mut expected = Expected {
        params: params.clone(),
        status: "FINISHED".to_string(),
        ..Default::default()
    };
    log_full_run(&tracker, &mut expected);
    tracker
        .register_model("cascade-test-dlrm", "model", Some("champion"))
        .unwrap();
    let report = tracker.finish(RunStatus::Finished).unwrap();
    assert_eq!(report.unsent, 0, "{report:?}");
    assert_eq!(report.sender_error, None);
    assert_eq!(report.registered.len(), 1);
    assert!(
        warnings.lock().unwrap().is_empty(),
        "{:?}",
        warnings.lock().unwrap()
    );

    expected.run_id = report.mlflow_run_id.clone().unwrap();
    expected.tags = BTreeMap::from([
        ("mlflow.runName".to_string(), "complete".to_string()),
        (
            "mlflow.source.name".to_string(),
            "cascade train".to_string(),
        ),
        (
            "mlflow.source.git.commit".to_string(),
            "0123456789abcdef".to_string(),
        ),
        ("cascade.model_kind".to_string(), "dlrm".to_string()),
        (
            "cascade.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ]);
    expected.model = Some(("cascade-test-dlrm".to_string(), "champion".to_string()));
    expected.check(&server);
}

#[test]
fn an_offline_run_is_synced_later() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let (opts, _) = options(None, &dir.path().join("run"));
    let tracker = Tracker::start(&opts, &identity("offline"), CONFIG, &params(3)).unwrap();
    let mut expected = Expected {
        params: params(3),
        status: "FINISHED".to_string(),
        ..Default::default()
    };
    log_full_run(&tracker, &mut expected);
    tracker.finish(RunStatus::Killed).unwrap();
    // Resumed offline with one more param, then finished.
    let mut more = params(3);
    more.insert("extra".to_string(), "1".to_string());
    let resumed = Tracker::resume(&opts, &dir.path().join("run"), &more).unwrap();
    resumed.log_metric(2000, 5, "train/loss", 0.25).unwrap();
    expected.metric("train/loss", 2000, 0.25);
    expected.params = more;
    let finished = resumed.finish(RunStatus::Finished).unwrap();
    assert_eq!(finished.mlflow_run_id, None);
    assert!(finished.unsent > 1200);

    let report = sync(&dir.path().join("run"), &server.url, Auth::None).unwrap();
    assert_eq!(report.sent, finished.unsent);
    expected.run_id = report.run_id.clone();
    expected.check(&server);
    // Syncing again sends nothing more.
    let again = sync(&dir.path().join("run"), &server.url, Auth::None).unwrap();
    assert_eq!((again.run_id, again.sent), (report.run_id.clone(), 0));
    // A batch whose answer was lost is sent again after a restart: replaying the whole queue
    // must leave the server as it was (no duplicated metric values).
    fs::write(
        dir.path().join("run/mlflow-queue.cursor"),
        r#"{"offset":0,"sent":0}"#,
    )
    .unwrap();
    let replayed = sync(&dir.path().join("run"), &server.url, Auth::None).unwrap();
    assert_eq!(
        (replayed.run_id, replayed.sent),
        (report.run_id, finished.unsent)
    );
    expected.check(&server);
}

#[test]
fn a_server_restart_loses_and_duplicates_nothing() {
    let server = Server::start_own();
    let dir = tempfile::tempdir().unwrap();
    let (opts, warnings) = options(Some(&server.url), &dir.path().join("run"));
    let tracker = Tracker::start(&opts, &identity("restart"), CONFIG, &params(2)).unwrap();
    let mut expected = Expected {
        params: params(2),
        status: "FINISHED".to_string(),
        ..Default::default()
    };
    expected.artifact("config.toml", CONFIG.as_bytes());
    let mut log = |from: u64, to: u64| {
        let mut slowest = Duration::ZERO;
        for step in from..to {
            let started = Instant::now();
            tracker
                .log_metrics(
                    step,
                    0,
                    &[("train/loss", 1.0 / (1.0 + step as f64)), ("lr", 0.01)],
                )
                .unwrap();
            slowest = slowest.max(started.elapsed());
            expected.metric("train/loss", step, 1.0 / (1.0 + step as f64));
            expected.metric("lr", step, 0.01);
            std::thread::sleep(Duration::from_millis(2));
        }
        slowest
    };
    log(0, 300);
    server.stop();
    // Training goes on while the server is down, without waiting on it.
    let slowest = log(300, 600);
    assert!(
        slowest < Duration::from_millis(500),
        "a log call waited {slowest:?} on the server"
    );
    server.restart();
    log(600, 900);
    let report = tracker.finish(RunStatus::Finished).unwrap();
    assert_eq!(report.unsent, 0, "{report:?}");
    assert_eq!(report.sender_error, None);
    let warnings = warnings.lock().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("cannot reach the MLflow server")),
        "{warnings:?}"
    );
    expected.run_id = report.mlflow_run_id.clone().unwrap();
    expected.check(&server);
}

#[test]
fn a_param_changed_on_resume_is_an_error_naming_it() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let (opts, _) = options(Some(&server.url), &run);
    let first = BTreeMap::from([
        ("lr".to_string(), "0.1".to_string()),
        ("batch".to_string(), "64".to_string()),
    ]);
    let tracker = Tracker::start(&opts, &identity("resume"), CONFIG, &first).unwrap();
    tracker.log_metric(0, 0, "train/loss", 0.7).unwrap();
    tracker.finish(RunStatus::Killed).unwrap();

    let mut changed = first.clone();
    changed.insert("lr".to_string(), "0.2".to_string());
    let err = Tracker::resume(&opts, &run, &changed)
        .err()
        .expect("a changed param must fail");
    assert!(
        matches!(&err, TrackError::ParamChanged { key, .. } if key == "lr"),
        "{err}"
    );
    assert!(
        err.to_string().contains("`lr`")
            && err.to_string().contains("0.1")
            && err.to_string().contains("0.2")
    );

    // The server's params are checked too, not only the local copy.
    fs::write(run.join("params.json"), "{}").unwrap();
    let err = Tracker::resume(&opts, &run, &changed)
        .err()
        .expect("the server still holds lr = 0.1");
    assert!(
        matches!(&err, TrackError::ParamChanged { key, existing, .. } if key == "lr" && existing == "0.1"),
        "{err}"
    );

    // Same values plus a new param resume fine and finish the same MLflow run.
    let mut more = first.clone();
    more.insert("epochs".to_string(), "3".to_string());
    let resumed = Tracker::resume(&opts, &run, &more).unwrap();
    resumed.log_metric(1, 0, "train/loss", 0.6).unwrap();
    let report = resumed.finish(RunStatus::Finished).unwrap();
    assert_eq!(report.unsent, 0, "{report:?}");
    let mut expected = Expected {
        params: more,
        status: "FINISHED".to_string(),
        ..Default::default()
    };
    expected.run_id = report.mlflow_run_id.unwrap();
    expected.metric("train/loss", 0, 0.7);
    expected.metric("train/loss", 1, 0.6);
    expected.artifact("config.toml", CONFIG.as_bytes());
    expected.check(&server);
}
