//! `cascade serve` from the MLflow model registry, against a real MLflow server: the retrieval
//! and ranking models named `models:/NAME@live` are resolved and downloaded at start, and moving
//! the aliases to new versions and reloading swaps the new versions in; an unknown alias, an
//! unknown model or a missing server stops start-up with a message naming them.
//! The server is started by `scripts/mlflow-server.sh` (or named by `MLFLOW_TEST_URI`) as for
//! the `cascade-track` tests, whose support module this reuses.

mod common;
#[allow(dead_code)]
#[path = "../../track/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use cascade_track::mlflow::{Auth, MlflowClient, ModelVersion};
use common::service::{Service, http};
use common::{cascade, fails, ok, path, text};
use serde_json::{Value, json};
use support::Server;

const RETRIEVAL_CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../configs/two_tower_softmax.toml"
);
const RANKING_CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../configs/dlrm_movielens.toml"
);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// A model name no other test run on the same server uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), now_ms())
}

/// Trains `config` for one epoch on `data` into `out` with `extra` arguments; returns what it
/// printed.
fn train(config: &str, data: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "train",
        config,
        "--data",
        path(data),
        "--out",
        path(out),
        "--set",
        "train.epochs=1",
    ];
    args.extend_from_slice(extra);
    let run = cascade(&args);
    assert!(
        run.status.success(),
        "cascade train failed:\n{}",
        text(&run.stderr)
    );
    text(&run.stdout) + &text(&run.stderr)
}

impl Service {
    /// One HTTP/1.1 exchange with a JSON answer: the status and the body.
    fn call(&self, method: &str, target: &str, body: &Value) -> (u16, Value) {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let (status, _, answer) = http(&self.address, method, target, body.as_bytes());
        let value = serde_json::from_str(&answer).unwrap_or_else(|_| panic!("JSON body: {answer}"));
        (status, value)
    }

    fn health(&self) -> Value {
        let (status, health) = self.call("GET", "/healthz", &Value::Null);
        assert_eq!(status, 200, "{health}");
        health
    }

    fn metrics(&self) -> String {
        http(&self.address, "GET", "/metrics", b"").2
    }

    /// Item ids and retrieval scores of user 1's top 10.
    fn recommend(&self) -> Vec<(String, f64)> {
        let (status, answer) =
            self.call("POST", "/v1/recommend", &json!({"user_id": "1", "k": 10}));
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["cold_start"], false, "{answer}");
        answer["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| {
                assert!(i["ranking_score"].is_f64(), "{i}");
                (
                    i["item_id"].as_str().expect("id").to_string(),
                    i["retrieval_score"].as_f64().expect("score"),
                )
            })
            .collect()
    }
}

/// Checks which registered version answers: `model` in `/healthz` names the URI, the version
/// and its run for both stages.
fn assert_serves(health: &Value, retrieval: (&str, &ModelVersion), ranking: (&str, &ModelVersion)) {
    for (key, (uri, version)) in [("retrieval_model", retrieval), ("ranking_model", ranking)] {
        let model = &health["model"][key];
        assert_eq!(model["uri"], uri, "{health}");
        assert_eq!(model["version"], version.version.as_str(), "{health}");
        assert_eq!(model["run_id"], version.run_id.as_str(), "{health}");
    }
}

#[test]
fn serve_follows_an_mlflow_alias_across_reloads() {
    let server = Server::start();
    let client = MlflowClient::new(&server.url, Auth::None).expect("client");
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    ok(&[
        "data",
        "synth",
        "--kind",
        "two-tower",
        "--rows",
        "20000",
        "--out",
        path(&data),
    ]);

    // Retrieval: two two-tower runs (different seeds) registered by `cascade train` as
    // versions 1 and 2; the alias points at the first. (Registration is queued after every
    // metric, so it proves MLflow took the retrieval metrics too: `eval/recall@10` is sent as
    // `eval/recall_at_10`.)
    let tt_name = unique("serve-tt");
    for seed in 0..2 {
        let mut extra = vec!["--tracking-uri", &server.url, "--register-model", &tt_name];
        let seed_set = format!("train.seed={seed}");
        extra.extend(["--set", &seed_set]);
        if seed == 0 {
            extra.extend(["--model-alias", "live"]);
        }
        let out = train(
            RETRIEVAL_CONFIG,
            &data,
            &dir.path().join(format!("tt{seed}")),
            &extra,
        );
        assert!(
            out.contains(&format!("registered model: {tt_name} version {}", seed + 1)),
            "{out}"
        );
        assert!(!out.contains("warning"), "{out}");
    }
    let tt: Vec<ModelVersion> = ["1", "2"]
        .iter()
        .map(|v| client.get_model_version(&tt_name, v).expect("version"))
        .collect();
    // A tracked retrieval run also carries its exported embeddings, byte for byte.
    let run = client.get_run(&tt[0].run_id).expect("the retrieval run");
    let exported = client
        .list_artifact_files(&run.info.artifact_uri, "embeddings")
        .expect("the embeddings artifact");
    let local = dir.path().join("tt0/embeddings");
    for file in ["users.parquet", "items.parquet", "embeddings.json"] {
        let entry = exported
            .iter()
            .find(|e| e.path == format!("embeddings/{file}"))
            .unwrap_or_else(|| panic!("embeddings/{file} missing from {exported:?}"));
        let size = std::fs::metadata(local.join(file))
            .expect("exported locally")
            .len();
        assert_eq!(entry.size, Some(size), "{file}");
    }

    // Ranking: two DLRM runs registered by `cascade train` itself; only the first one moves
    // the alias.
    let rank_name = unique("serve-rank");
    for seed in 0..2 {
        let mut extra = vec![
            "--set",
            "data.eval_split=\"test\"",
            "--tracking-uri",
            &server.url,
            "--register-model",
            &rank_name,
        ];
        let seed_set = format!("train.seed={}", seed + 1);
        extra.extend(["--set", &seed_set]);
        if seed == 0 {
            extra.extend(["--model-alias", "live"]);
        }
        let out = train(
            RANKING_CONFIG,
            &data,
            &dir.path().join(format!("rank{seed}")),
            &extra,
        );
        assert!(
            out.contains(&format!(
                "registered model: {rank_name} version {}",
                seed + 1
            )),
            "{out}"
        );
    }
    let rank: Vec<ModelVersion> = ["1", "2"]
        .iter()
        .map(|v| client.get_model_version(&rank_name, v).expect("version"))
        .collect();

    let cache = dir.path().join("cache");
    let tt_uri = format!("models:/{tt_name}@live");
    let rank_uri = format!("models:/{rank_name}@live");
    let service = Service::start(&[
        "--retrieval",
        &tt_uri,
        "--ranking",
        &rank_uri,
        "--tracking-uri",
        &server.url,
        "--model-cache",
        path(&cache),
    ]);
    let health = service.health();
    assert_eq!(health["model_version"], 1, "{health}");
    assert_serves(&health, (&tt_uri, &tt[0]), (&rank_uri, &rank[0]));
    let first = service.recommend();
    assert_eq!(first.len(), 10);
    assert!(
        service
            .metrics()
            .contains(&format!("retrieval_model=\"{tt_uri} version 1\"")),
        "{}",
        service.metrics()
    );
    // The downloaded runs are complete run folders in the cache, one per MLflow run.
    for version in [&tt[0], &rank[0]] {
        let run = cache.join(&version.run_id);
        assert!(run.join("config.toml").is_file(), "{}", run.display());
        let latest = std::fs::read_to_string(run.join("checkpoints/latest")).expect("latest");
        assert!(
            run.join("checkpoints")
                .join(latest.trim())
                .join("trainer.json")
                .is_file()
        );
    }

    // A reload with the aliases unchanged reuses the cached copies and serves the same answers.
    let (status, answer) = service.call("POST", "/v1/admin/reload", &Value::Null);
    assert_eq!(status, 200, "{answer}");
    assert_serves(&service.health(), (&tt_uri, &tt[0]), (&rank_uri, &rank[0]));
    assert_eq!(service.recommend(), first);

    // Move both aliases to version 2 with MLflow's REST API
    // (`POST /api/2.0/mlflow/registered-models/alias`), and reload.
    for (name, version) in [(&tt_name, &tt[1]), (&rank_name, &rank[1])] {
        client
            .set_model_alias(name, "live", &version.version)
            .expect("alias moved");
    }
    let (status, answer) = service.call("POST", "/v1/admin/reload", &Value::Null);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["model_version"], 3, "{answer}");
    let health = service.health();
    assert_serves(&health, (&tt_uri, &tt[1]), (&rank_uri, &rank[1]));
    let second = service.recommend();
    assert_eq!(second.len(), 10);
    assert_ne!(first, second, "a model trained with another seed answers");
    assert!(
        service
            .metrics()
            .contains(&format!("retrieval_model=\"{tt_uri} version 2\"")),
        "{}",
        service.metrics()
    );

    // A reload body may name another registered model; an unknown alias fails the reload and
    // the current version keeps answering.
    let bad = format!("models:/{tt_name}@nope");
    let (status, answer) = service.call("POST", "/v1/admin/reload", &json!({"retrieval": bad}));
    assert_eq!(status, 422, "{answer}");
    let message = answer["error"].as_str().expect("error");
    assert!(
        message.contains(&bad) && message.contains("nope"),
        "{message}"
    );
    let pinned = format!("models:/{tt_name}/1");
    let (status, answer) = service.call("POST", "/v1/admin/reload", &json!({"retrieval": pinned}));
    assert_eq!(status, 200, "{answer}");
    assert_serves(&service.health(), (&pinned, &tt[0]), (&rank_uri, &rank[1]));
    assert_eq!(service.recommend().len(), 10);
    let (status, answer) = service.call(
        "POST",
        "/v1/admin/reload",
        &json!({"retrieval": "models:/x"}),
    );
    assert_eq!(status, 400, "{answer}");

    // Start-up errors name the alias, the model and the server.
    let stderr = fails(&[
        "serve",
        "--retrieval",
        &bad,
        "--tracking-uri",
        &server.url,
        "--model-cache",
        path(&cache),
    ]);
    for part in [bad.as_str(), server.url.as_str(), "alias nope not found"] {
        assert!(stderr.contains(part), "{part} missing from: {stderr}");
    }
    let unknown = unique("no-such-model");
    let stderr = fails(&[
        "serve",
        "--retrieval",
        &format!("models:/{unknown}@live"),
        "--tracking-uri",
        &server.url,
    ]);
    assert!(
        stderr.contains(&unknown) && stderr.contains("RESOURCE_DOES_NOT_EXIST"),
        "{stderr}"
    );
    let stderr = fails(&["serve", "--retrieval", &tt_uri]);
    assert!(
        stderr.contains(&tt_uri) && stderr.contains("--tracking-uri"),
        "{stderr}"
    );
    let stderr = fails(&[
        "serve",
        "--retrieval",
        &tt_uri,
        "--tracking-uri",
        "http://127.0.0.1:9",
    ]);
    assert!(
        stderr.contains("cannot reach the MLflow server at http://127.0.0.1:9"),
        "{stderr}"
    );
    let stderr = fails(&["serve", "--retrieval", "models:/tt"]);
    assert!(stderr.contains("models:/NAME@ALIAS"), "{stderr}");
}
