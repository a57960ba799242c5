//! What the binary-level tests share: running the built `cascade`, reading its output, and
//! finding the real datasets beside the project.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod service;

/// Runs the built binary with `args`, without any MLflow server from the environment, so a
/// test only talks to a server it names.
pub fn cascade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cascade"))
        .args(args)
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MLFLOW_EXPERIMENT_NAME")
        .output()
        .expect("the cascade binary runs")
}

/// Standard output of `cascade ARGS`, which must succeed.
pub fn ok(args: &[&str]) -> String {
    let out = cascade(args);
    assert!(
        out.status.success(),
        "cascade {args:?} failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Standard error of `cascade ARGS`, which must fail.
pub fn fails(args: &[&str]) -> String {
    let out = cascade(args);
    assert!(
        !out.status.success(),
        "cascade {args:?} succeeded: {}",
        text(&out.stdout)
    );
    text(&out.stderr)
}

/// Captured output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A temporary path as the `&str` a command line takes.
pub fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// `relative` inside the shared data folder beside the project; fails loudly when it is missing.
pub fn shared_data(relative: &str) -> PathBuf {
    let path =
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(relative);
    assert!(
        path.exists(),
        "real test data {} is missing: these tests need the shared data folder",
        path.display()
    );
    path
}
