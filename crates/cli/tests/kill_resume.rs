//! A training process killed outright (SIGKILL, no chance to clean up) and relaunched with
//! `--resume` ends with exactly the model of a run that was never interrupted: checkpoints are
//! complete or absent, and the reader resumes at the next sample.

mod common;

use common::{ok, path};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TINY_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tiny_dlrm.toml");

/// The settings both runs share: three epochs, a checkpoint every 20 steps, all kept.
const SETTINGS: [&str; 8] = [
    "--set",
    "train.epochs=3",
    "--set",
    "train.checkpoint_every=20",
    "--set",
    "train.keep_checkpoints=1000",
    "--set",
    "train.eval_every=0",
];

/// The files of the model in `run`'s latest checkpoint, by name.
fn final_model(run: &Path) -> BTreeMap<String, Vec<u8>> {
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).unwrap();
    let model = run.join("checkpoints").join(latest.trim()).join("model");
    std::fs::read_dir(&model)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_killed_run_resumed_ends_with_the_uninterrupted_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&[
        "data",
        "synth",
        "--kind",
        "dlrm",
        "--rows",
        "60000",
        "--dense",
        "4",
        "--tables",
        "4",
        "--cardinality",
        "1000",
        "--out",
        path(&data),
    ]);

    let whole = dir.path().join("whole");
    let mut args = vec![
        "train",
        TINY_CONFIG,
        "--data",
        path(&data),
        "--out",
        path(&whole),
    ];
    args.extend(SETTINGS);
    ok(&args);

    // The same run, killed with SIGKILL once it has written a checkpoint past the first.
    let killed = dir.path().join("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cascade"))
        .args([
            "train",
            TINY_CONFIG,
            "--data",
            path(&data),
            "--out",
            path(&killed),
        ])
        .args(SETTINGS)
        .env_remove("MLFLOW_TRACKING_URI")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let latest = std::fs::read_to_string(killed.join("checkpoints/latest")).unwrap_or_default();
        if latest.trim() > "step-0000000020" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint written"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the run ended before it could be killed; make it longer"
    );
    let summary = std::fs::read_to_string(killed.join("summary.json")).unwrap_or_default();
    assert!(
        !summary.contains("FINISHED"),
        "the run was killed, not finished"
    );

    ok(&["train", "--resume", path(&killed)]);
    assert_eq!(final_model(&whole), final_model(&killed));
}
