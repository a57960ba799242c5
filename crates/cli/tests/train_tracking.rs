//! `cascade train` with experiment tracking, end to end on the Criteo sample and a tiny DLRM:
//! a run tracked on a real MLflow server checked with MLflow's own Python client (every param,
//! every metric value at every step, every artifact, the registered model); `cascade runs
//! list/show/compare --json` on run folders training wrote; an unreachable server (the run
//! goes on locally, or fails with `--tracking-required`); a param changed on resume; Ctrl-C
//! (checkpoint, exit status 130, KILLED locally and on the server).
//! The server is started by `scripts/mlflow-server.sh` (or named by `MLFLOW_TEST_URI`) as for
//! the `cascade-track` tests, whose support module this reuses.

// Shared with the cascade-track tests; this binary does not use all of it (stop and restart).
mod common;
#[allow(dead_code)]
#[path = "../../track/tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use cascade_track::{MlflowLink, RunFolder, read_metrics};
use common::{cascade, path, shared_data, text};
use serde_json::Value;
use support::{Expected, Server};

const TINY_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tiny_dlrm.toml");

/// Every metric a run of the tiny configuration logs.
const METRICS: [&str; 6] = [
    "eval/auc",
    "eval/calibration",
    "eval/logloss",
    "eval/ne",
    "train/logloss",
    "train/samples_per_sec",
];

/// The Criteo sample converted with a random 20 % test split into `dir/criteo`.
fn criteo(dir: &Path) -> PathBuf {
    let input = shared_data("criteo-kaggle-sample/train.txt");
    let out = dir.join("criteo");
    let run = cascade(&[
        "data",
        "convert",
        "--format",
        "criteo",
        "--input",
        path(&input),
        "--out",
        path(&out),
        "--split",
        "random:0.2",
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    out
}

/// Trains the tiny configuration into `out` with `extra` arguments; asserts success.
fn train(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "train",
        TINY_CONFIG,
        "--data",
        path(data),
        "--out",
        path(out),
    ];
    args.extend_from_slice(extra);
    let run = cascade(&args);
    assert!(
        run.status.success(),
        "cascade train failed:\n{}",
        text(&run.stderr)
    );
    run
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every metric of a run folder by name, as (step, value) in logging order.
fn local_metrics(run: &Path) -> BTreeMap<String, Vec<(u64, f64)>> {
    let mut series: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
    for m in read_metrics(&run.join("metrics.jsonl")).unwrap() {
        series.entry(m.name).or_default().push((m.step, m.value));
    }
    series
}

/// Checks what the tiny configuration's run folder holds: 2 epochs of 12 steps, the loss and
/// throughput every 2 steps, an evaluation every 5 steps and at the end.
fn check_run_folder(run: &Path, status: &str) {
    let metrics = local_metrics(run);
    assert_eq!(
        metrics.keys().map(String::as_str).collect::<Vec<_>>(),
        METRICS
    );
    let steps = |name: &str| metrics[name].iter().map(|p| p.0).collect::<Vec<_>>();
    assert_eq!(
        steps("train/logloss"),
        (1..=12).map(|i| 2 * i).collect::<Vec<_>>()
    );
    assert_eq!(steps("eval/auc"), vec![5, 10, 15, 20, 24]);
    let summary = read_json(&run.join("summary.json"));
    assert_eq!(summary["status"], status);
    assert_eq!(summary["model_kind"], "dlrm");
    assert_eq!(summary["result"]["steps"], 24);
    assert_eq!(summary["final_metrics"]["eval/auc"]["step"], 24);
    let params = read_json(&run.join("params.json"));
    assert_eq!(params["model.kind"], "dlrm");
    assert_eq!(params["model.bottom_mlp"], "[16, 8]");
    assert_eq!(params["optimizer.learning_rate"], "0.05");
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    for part in [
        "<svg",
        "ROC curve",
        "Calibration",
        "throughput",
        "logloss",
        "[model]",
    ] {
        assert!(report.contains(part), "report.html lacks {part}");
    }
    assert!(
        run.join("checkpoints/step-0000000024/trainer.json")
            .is_file()
    );
}

/// Every file under `dir`, by path relative to it with `/` separators.
fn files_under(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        let name = format!("{prefix}/{}", p.file_name().unwrap().to_string_lossy());
        if p.is_dir() {
            files_under(&p, &name, out);
        } else {
            out.push((name, p));
        }
    }
}

/// What the MLflow run of the run folder `run` must hold: its status, every param and metric
/// value of the folder, Cascade's tags, and the artifacts `config.toml`, `report.html` and the
/// files of `checkpoint_name` under `checkpoint/`.
struct OnServer {
    link: MlflowLink,
    run: Expected,
}

fn expected_on_server(run: &Path, status: &str, checkpoint_name: &str) -> OnServer {
    let folder = RunFolder::open(run).unwrap();
    let link = MlflowLink::read(&folder)
        .unwrap()
        .expect("linked to MLflow");
    let summary = folder.read_summary().unwrap();
    assert_eq!(summary.status.as_str(), status);
    let mut expected = Expected {
        run_id: link.run_id.clone(),
        status: status.to_string(),
        params: folder.read_params().unwrap(),
        metrics: local_metrics(run),
        ..Default::default()
    };
    expected.tags = BTreeMap::from([
        ("mlflow.runName".to_string(), folder.id()),
        (
            "mlflow.source.name".to_string(),
            "cascade train".to_string(),
        ),
        ("cascade.model_kind".to_string(), "dlrm".to_string()),
        (
            "cascade.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        ("cascade.host".to_string(), summary.host.clone()),
    ]);
    if let Some(commit) = &summary.git_commit {
        expected
            .tags
            .insert("mlflow.source.git.commit".to_string(), commit.clone());
    }
    let mut artifacts = vec![
        ("config.toml".to_string(), run.join("config.toml")),
        ("report.html".to_string(), run.join("report.html")),
    ];
    files_under(
        &run.join("checkpoints").join(checkpoint_name),
        "checkpoint",
        &mut artifacts,
    );
    assert!(artifacts.len() > 4, "{artifacts:?}");
    for (name, file) in artifacts {
        expected.artifact(&name, &std::fs::read(file).unwrap());
    }
    OnServer {
        link,
        run: expected,
    }
}

#[test]
fn a_training_run_reaches_mlflow_complete() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let data = criteo(dir.path());
    let run = dir.path().join("tracked");
    let out = train(
        &data,
        &run,
        &[
            "--tracking-uri",
            &server.url,
            "--experiment",
            "cascade-cli-tests",
            "--register-model",
            "cascade-cli-dlrm",
            "--model-alias",
            "champion",
            "--tracking-required",
        ],
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("MLflow run: "), "{stderr}");
    assert!(
        stderr.contains("registered model: cascade-cli-dlrm version "),
        "{stderr}"
    );
    assert!(!stderr.contains("warning"), "{stderr}");
    check_run_folder(&run, "FINISHED");

    let mut expected = expected_on_server(&run, "FINISHED", "step-0000000024");
    assert_eq!(expected.link.experiment_name, "cascade-cli-tests");
    assert!(expected.run.params.len() >= 25, "{:?}", expected.run.params);
    expected.run.model = Some(("cascade-cli-dlrm".to_string(), "champion".to_string()));
    expected.run.check(&server);
}

#[test]
fn runs_list_show_and_compare_read_training_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = criteo(dir.path());
    let root = dir.path().join("runs");
    train(&data, &root.join("lr-a"), &[]);
    train(
        &data,
        &root.join("lr-b"),
        &["--set", "optimizer.learning_rate=0.1"],
    );
    check_run_folder(&root.join("lr-a"), "FINISHED");

    let json = |args: &[&str]| -> Value {
        let mut all = vec!["runs"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--root", path(&root), "--json"]);
        let out = cascade(&all);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("JSON output")
    };
    let list = json(&["list"]);
    let runs = list.as_array().expect("a list of runs");
    assert_eq!(runs.len(), 2);
    // Newest first.
    assert_eq!(runs[0]["id"], "lr-b");
    assert_eq!(runs[1]["id"], "lr-a");
    for r in runs {
        assert_eq!(r["summary"]["status"], "FINISHED");
        assert_eq!(r["summary"]["model_kind"], "dlrm");
        assert_eq!(r["summary"]["source_name"], "cascade train");
    }

    let show = json(&["show", "lr-a"]);
    assert_eq!(show["params"]["optimizer.learning_rate"], "0.05");
    let series: BTreeMap<String, &Value> = show["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_string(), s))
        .collect();
    assert_eq!(
        series.keys().map(String::as_str).collect::<Vec<_>>(),
        METRICS
    );
    assert_eq!(series["eval/auc"]["count"], 5);
    assert_eq!(series["eval/auc"]["last_step"], 24);
    assert_eq!(series["train/logloss"]["count"], 12);
    assert!(show["config_toml"].as_str().unwrap().contains("[model]"));
    assert_eq!(show["mlflow"], Value::Null);

    let compare = json(&["compare", "lr-a", "lr-b"]);
    assert_eq!(compare["a"]["id"], "lr-a");
    let params = compare["params"].as_array().unwrap();
    assert_eq!(params.len(), 1, "{params:?}");
    assert_eq!(params[0]["key"], "optimizer.learning_rate");
    assert_eq!(
        (&params[0]["a"], &params[0]["b"]),
        (&"0.05".into(), &"0.1".into())
    );
    let auc = compare["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "eval/auc")
        .expect("eval/auc compared");
    let (a, b) = (auc["a"].as_f64().unwrap(), auc["b"].as_f64().unwrap());
    assert!((auc["delta"].as_f64().unwrap() - (b - a)).abs() < 1e-12);

    // The tables name the runs too.
    let table = cascade(&["runs", "list", "--root", path(&root)]);
    assert!(text(&table.stdout).contains("lr-a") && text(&table.stdout).contains("lr-b"));
}

#[test]
fn an_unreachable_server_leaves_a_local_run_unless_tracking_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let data = criteo(dir.path());
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");

    let run = dir.path().join("offline");
    let out = train(&data, &run, &["--tracking-uri", &url]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot reach the MLflow server at {url}"))
            && stderr.contains("the run continues with local tracking only"),
        "{stderr}"
    );
    check_run_folder(&run, "FINISHED");
    assert!(!run.join("mlflow.json").exists());

    let required = dir.path().join("required");
    let out = cascade(&[
        "train",
        TINY_CONFIG,
        "--data",
        path(&data),
        "--out",
        path(&required),
        "--tracking-uri",
        &url,
        "--tracking-required",
    ]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("error: cannot reach the MLflow server at {url}")),
        "{stderr}"
    );
    assert!(
        !required.join("metrics.jsonl").exists(),
        "training must not start"
    );
}

#[test]
fn a_param_changed_on_resume_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let data = criteo(dir.path());
    let run = dir.path().join("run");
    train(&data, &run, &[]);
    let before = std::fs::read(run.join("metrics.jsonl")).unwrap();
    let out = cascade(&[
        "train",
        "--resume",
        path(&run),
        "--set",
        "optimizer.learning_rate=0.5",
    ]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("param `optimizer.learning_rate` was logged as `0.05`")
            && stderr.contains("`0.5`"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(run.join("metrics.jsonl")).unwrap(), before);
    assert_eq!(read_json(&run.join("summary.json"))["status"], "FINISHED");
}

#[test]
fn ctrl_c_checkpoints_and_marks_the_run_killed() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let data = criteo(dir.path());
    let run = dir.path().join("long");
    let child = Command::new(env!("CARGO_BIN_EXE_cascade"))
        .args([
            "train",
            TINY_CONFIG,
            "--data",
            path(&data),
            "--out",
            path(&run),
            "--set",
            "train.epochs=100000",
            "--set",
            "train.eval_every=0",
            "--tracking-uri",
            &server.url,
        ])
        .env_remove("MLFLOW_TRACKING_URI")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once training has logged something.
    let started = Instant::now();
    while std::fs::metadata(run.join("metrics.jsonl")).map_or(true, |m| m.len() == 0) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "training logged nothing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("training stopped after step"), "{stderr}");
    let summary = read_json(&run.join("summary.json"));
    assert_eq!(summary["status"], "KILLED", "{summary}");
    let step = summary["result"]["steps"].as_u64().unwrap();
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).unwrap();
    assert_eq!(latest.trim(), format!("step-{step:010}"));
    assert!(run.join("report.html").is_file());
    // The server has the whole run too, marked KILLED, with the checkpoint of the last step.
    expected_on_server(&run, "KILLED", &format!("step-{step:010}"))
        .run
        .check(&server);
}
