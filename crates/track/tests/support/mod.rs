//! Shared pieces of the MLflow integration tests: a real MLflow server started through
//! `scripts/mlflow-server.sh` (or the one `MLFLOW_TEST_URI` names), and the check of a run
//! with MLflow's own Python client.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn script() -> PathBuf {
    repo_root().join("scripts/mlflow-server.sh")
}

/// Runs the server script, failing the test (never skipping it) when it fails.
fn run_script(args: &[&str]) -> String {
    let out = Command::new(script())
        .args(args)
        .output()
        .expect("run scripts/mlflow-server.sh");
    assert!(
        out.status.success(),
        "scripts/mlflow-server.sh {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 output")
        .trim()
        .to_string()
}

/// The Python of the MLflow venv (installed on first use).
pub fn python() -> String {
    run_script(&["python"])
}

/// A running MLflow server; stopped on drop unless it came from `MLFLOW_TEST_URI`.
pub struct Server {
    /// Its tracking URI.
    pub url: String,
    store: Option<tempfile::TempDir>,
    port: String,
}

impl Server {
    /// Starts a fresh server with its own store, or uses `MLFLOW_TEST_URI`.
    pub fn start() -> Self {
        if let Ok(url) = std::env::var("MLFLOW_TEST_URI") {
            return Self {
                url,
                store: None,
                port: String::new(),
            };
        }
        let store = tempfile::tempdir().expect("server store");
        let dir = store.path().to_str().expect("utf-8 temp path").to_string();
        let url = run_script(&["start", &dir]);
        let port = url.rsplit(':').next().expect("port in URL").to_string();
        Self {
            url,
            store: Some(store),
            port,
        }
    }

    /// Starts a fresh server even when `MLFLOW_TEST_URI` is set (for tests that stop it).
    pub fn start_own() -> Self {
        let store = tempfile::tempdir().expect("server store");
        let dir = store.path().to_str().expect("utf-8 temp path").to_string();
        let url = run_script(&["start", &dir]);
        let port = url.rsplit(':').next().expect("port in URL").to_string();
        Self {
            url,
            store: Some(store),
            port,
        }
    }

    fn dir(&self) -> String {
        self.store
            .as_ref()
            .expect("own server")
            .path()
            .to_str()
            .expect("utf-8")
            .to_string()
    }

    /// Stops the server, keeping its store.
    pub fn stop(&self) {
        run_script(&["stop", &self.dir()]);
    }

    /// Starts it again on the same port and store.
    pub fn restart(&self) {
        let url = run_script(&["start", &self.dir(), &self.port]);
        assert_eq!(url, self.url);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(store) = &self.store {
            let _ = Command::new(script())
                .args(["stop", store.path().to_str().unwrap_or_default()])
                .output();
        }
    }
}

/// What a run should hold on the server.
#[derive(Default)]
pub struct Expected {
    /// The MLflow run id.
    pub run_id: String,
    /// The final status, e.g. `FINISHED`.
    pub status: String,
    /// Every param, exactly.
    pub params: BTreeMap<String, String>,
    /// Tags that must be present with these values.
    pub tags: BTreeMap<String, String>,
    /// Every metric's full history as (step, value), in step order.
    pub metrics: BTreeMap<String, Vec<(u64, f64)>>,
    /// Every artifact file by path, with the SHA-256 of its content.
    pub artifacts: BTreeMap<String, String>,
    /// A registered model name and alias that must point at a version of this run.
    pub model: Option<(String, String)>,
}

impl Expected {
    /// Records a metric value logged at a step.
    pub fn metric(&mut self, name: &str, step: u64, value: f64) {
        self.metrics
            .entry(name.to_string())
            .or_default()
            .push((step, value));
    }

    /// Records an artifact file by its content.
    pub fn artifact(&mut self, path: &str, content: &[u8]) {
        use sha2::Digest;
        self.artifacts.insert(
            path.to_string(),
            format!("{:x}", sha2::Sha256::digest(content)),
        );
    }

    fn to_json(&self) -> Value {
        let value = |v: f64| if v.is_nan() { json!("NaN") } else { json!(v) };
        let metrics: BTreeMap<&String, Vec<Value>> = self
            .metrics
            .iter()
            .map(|(k, s)| {
                (
                    k,
                    s.iter().map(|&(step, v)| json!([step, value(v)])).collect(),
                )
            })
            .collect();
        json!({
            "run_id": self.run_id,
            "status": self.status,
            "params": self.params,
            "tags": self.tags,
            "metrics": metrics,
            "artifacts": self.artifacts,
            "model": self.model.as_ref().map(|(name, alias)| json!({"name": name, "alias": alias})),
        })
    }

    /// Checks the run with MLflow's Python client; panics with every difference found.
    pub fn check(&self, server: &Server) {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), self.to_json().to_string()).expect("write expectations");
        let checker = repo_root().join("crates/track/tests/check_mlflow_run.py");
        let out = Command::new(python())
            .arg(checker)
            .arg(&server.url)
            .arg(file.path())
            .output()
            .expect("run the MLflow check");
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
