//! `cascade data inspect` and `cascade data verify` run as the built binary on the golden MDS
//! datasets, on a Cascade dataset root assembled from them, and on damaged copies.

use cascade_data::{DatasetManifest, SplitInfo};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A golden MDS dataset written by the Python reference writer; fails loudly when missing.
fn golden(name: &str) -> PathBuf {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/mds-golden"
    ))
    .join(name);
    assert!(
        dir.join("index.json").is_file(),
        "golden MDS data missing at {}; these tests need the shared data folder",
        dir.display()
    );
    dir
}

/// Runs `cascade data ARGS...`.
fn cascade(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cascade"))
        .arg("data")
        .args(args)
        .arg(dir)
        .output()
        .expect("the cascade binary runs")
}

/// Stdout of a run that must succeed.
fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "cascade failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Stderr of a run that must fail.
fn fails(out: Output) -> String {
    assert!(
        !out.status.success(),
        "cascade succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

/// Copies the files of an MDS folder (not recursive: golden folders are flat).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// A Cascade dataset root with splits `train` (two_tower_zstd) and `test` (dlrm_plain).
fn cascade_root(root: &Path, train_samples: u64) {
    copy_dir(&golden("two_tower_zstd"), &root.join("train"));
    copy_dir(&golden("dlrm_plain"), &root.join("test"));
    let mut splits = BTreeMap::new();
    splits.insert(
        "train".into(),
        SplitInfo {
            path: "train".into(),
            samples: train_samples,
        },
    );
    splits.insert(
        "test".into(),
        SplitInfo {
            path: "test".into(),
            samples: 500,
        },
    );
    let manifest = DatasetManifest {
        version: cascade_data::manifest::MANIFEST_VERSION,
        source: "golden".into(),
        splits,
        label: None,
        dense: vec![],
        sparse: vec![],
        extra: Default::default(),
    };
    manifest.save(root).unwrap();
}

#[test]
fn inspect_json_describes_a_plain_mds_folder_as_split_all() {
    let out = ok(cascade(&["inspect", "--json"], &golden("two_tower_zstd")));
    let report: Json = serde_json::from_str(&out).expect("--json prints one JSON object");
    assert_eq!(report["kind"], "mds");
    assert_eq!(report["samples"], 3000);
    let all = &report["splits"]["all"];
    assert_eq!(all["samples"], 3000);
    assert_eq!(all["shards"], 6);
    assert_eq!(all["compression"], "zstd:7");
    assert_eq!(all["hashes"], serde_json::json!(["sha1", "xxh64"]));
    let names: Vec<&str> = all["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["label", "movieId", "userId"]);
    assert!(all["stored_bytes"].as_u64().unwrap() < all["raw_bytes"].as_u64().unwrap());
}

#[test]
fn inspect_text_lists_columns_and_sizes() {
    let out = ok(cascade(&["inspect"], &golden("dlrm_plain")));
    for want in [
        "split all",
        "500",
        "ndarray:float32:13",
        "52 bytes",
        "variable",
        "xxh3_64",
        "none",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

#[test]
fn inspect_and_verify_a_cascade_dataset_root() {
    let root = tempfile::tempdir().unwrap();
    cascade_root(root.path(), 3000);
    let report: Json =
        serde_json::from_str(&ok(cascade(&["inspect", "--json"], root.path()))).unwrap();
    assert_eq!(report["kind"], "cascade");
    assert_eq!(report["source"], "golden");
    assert_eq!(report["samples"], 3500);
    assert_eq!(report["splits"]["train"]["samples"], 3000);
    assert_eq!(report["splits"]["test"]["samples"], 500);
    assert_eq!(report["splits"]["test"]["compression"], Json::Null);
    let out = ok(cascade(&["verify"], root.path()));
    assert!(
        out.contains("split train: 6 shards, 3000 samples") && out.contains("OK"),
        "{out}"
    );
    assert!(out.contains("13 shards, 3500 samples"), "{out}");
}

#[test]
fn verify_passes_every_golden_dataset() {
    for name in ["two_tower_zstd", "dlrm_plain", "scalars_zstd"] {
        let out = ok(cascade(&["verify"], &golden(name)));
        assert!(out.contains("OK"), "{name}: {out}");
    }
}

#[test]
fn verify_names_a_corrupted_shard() {
    let root = tempfile::tempdir().unwrap();
    cascade_root(root.path(), 3000);
    let shard = root.path().join("train/shard.00002.mds.zstd");
    let mut bytes = std::fs::read(&shard).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x10;
    std::fs::write(&shard, &bytes).unwrap();
    let err = fails(cascade(&["verify"], root.path()));
    assert!(
        err.contains("shard.00002.mds.zstd") && err.contains("hash mismatch"),
        "{err}"
    );
    assert!(err.contains("\"train\""), "{err}");

    // An uncompressed shard cut short.
    let plain = tempfile::tempdir().unwrap();
    copy_dir(&golden("dlrm_plain"), plain.path());
    let shard = plain.path().join("shard.00004.mds");
    let bytes = std::fs::read(&shard).unwrap();
    std::fs::write(&shard, &bytes[..bytes.len() - 10]).unwrap();
    let err = fails(cascade(&["verify"], plain.path()));
    assert!(err.contains("shard.00004.mds"), "{err}");
}

#[test]
fn verify_checks_manifest_sample_counts() {
    let root = tempfile::tempdir().unwrap();
    cascade_root(root.path(), 2999);
    let err = fails(cascade(&["verify"], root.path()));
    assert!(
        err.contains("2999") && err.contains("3000") && err.contains("train"),
        "{err}"
    );
}

#[test]
fn not_a_dataset_is_a_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    for cmd in ["inspect", "verify"] {
        let err = fails(cascade(&[cmd], empty.path()));
        assert!(
            err.contains("cascade.json") && err.contains("index.json"),
            "{err}"
        );
    }
}
