//! `cascade data synth` run as the built binary: both kinds produce readable datasets with the
//! announced shape and ceiling, the same seed gives the same bytes, and bad settings are named.

mod common;

use common::{fails, ok, path};
use serde_json::Value as Json;
use std::path::Path;

/// `cascade data inspect DIR --json`.
fn inspect(dir: &Path) -> Json {
    serde_json::from_str(&ok(&["data", "inspect", path(dir), "--json"])).unwrap()
}

/// The names of a split's columns in an inspect report.
fn column_names(report: &Json, split: &str) -> Vec<String> {
    report["splits"][split]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

/// The arguments of a small three-table DLRM dataset written to `out`, plus `extra`.
fn small_dlrm<'a>(out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "data",
        "synth",
        "--kind",
        "dlrm",
        "--rows",
        "20000",
        "--tables",
        "3",
        "--cardinality",
        "50,60,70",
        "--dense",
        "4",
        "--out",
        path(out),
    ];
    args.extend(extra);
    args
}

#[test]
fn dlrm_kind_writes_criteo_shaped_splits_with_a_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dlrm");
    let summary = ok(&[
        "data",
        "synth",
        "--kind",
        "dlrm",
        "--rows",
        "20000",
        "--tables",
        "3",
        "--cardinality",
        "50,60,70",
        "--dense",
        "4",
        "--out",
        path(&out),
    ]);
    assert!(summary.contains("ceiling AUC"), "{summary}");
    let report = inspect(&out);
    assert_eq!(report["samples"], 20000);
    let mut names = column_names(&report, "train");
    names.sort();
    assert_eq!(names, ["C1", "C2", "C3", "dense", "label"]);
    let manifest: Json =
        serde_json::from_slice(&std::fs::read(out.join("cascade.json")).unwrap()).unwrap();
    let ceiling = manifest["extra"]["ceiling_auc"].as_f64().unwrap();
    assert!(ceiling > 0.6 && ceiling < 1.0, "ceiling AUC {ceiling}");
    ok(&["data", "verify", path(&out)]);

    // The same seed writes the same shards; a folder in the way needs --force.
    let again = dir.path().join("again");
    ok(&small_dlrm(&again, &[]));
    // Uncompressed shards by default, as Mosaic's MDSWriter writes them.
    let shard = "train/shard.00000.mds";
    assert_eq!(
        std::fs::read(out.join(shard)).unwrap(),
        std::fs::read(again.join(shard)).unwrap()
    );
    let refused = fails(&small_dlrm(&again, &[]));
    assert!(refused.contains(path(&again)), "{refused}");
    ok(&small_dlrm(&again, &["--force"]));
}

#[test]
fn two_tower_kind_writes_a_movielens_shaped_dataset_with_its_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tt");
    let summary = ok(&[
        "data",
        "synth",
        "--kind",
        "two-tower",
        "--rows",
        "20000",
        "--out",
        path(&out),
    ]);
    assert!(summary.contains("most-popular recall@100"), "{summary}");
    let report = inspect(&out);
    assert_eq!(report["samples"], 20000);
    for column in [
        "user_id",
        "item_id",
        "label",
        "rating",
        "timestamp",
        "item_genres",
    ] {
        assert!(
            column_names(&report, "train").iter().any(|c| c == column),
            "{column}"
        );
    }
    let manifest: Json =
        serde_json::from_slice(&std::fs::read(out.join("cascade.json")).unwrap()).unwrap();
    let hidden = manifest["extra"]["hidden_recall@100"].as_f64().unwrap();
    let popular = manifest["extra"]["popularity_recall@100"].as_f64().unwrap();
    assert!(hidden > popular, "ceiling {hidden} vs popularity {popular}");
}

#[test]
fn bad_settings_are_named_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bad");
    let o = path(&out);
    for (args, expected) in [
        (vec!["--kind", "dlrm", "--multi-hot", "5-1"], "--multi-hot"),
        (vec!["--kind", "dlrm", "--multi-hot", "five"], "--multi-hot"),
        (
            vec!["--kind", "dlrm", "--tables", "3", "--cardinality", "1,2"],
            "--cardinality",
        ),
        (vec!["--kind", "dlrm", "--rows", "0"], "--rows"),
        (
            vec!["--kind", "dlrm", "--val-fraction", "1.5"],
            "--val-fraction",
        ),
        (
            vec!["--kind", "two-tower", "--leave-last", "0"],
            "--leave-last",
        ),
        (
            vec!["--kind", "dlrm", "--compression", "lz9"],
            "--compression",
        ),
        (vec!["--kind", "graph"], "--kind"),
    ] {
        let mut full = vec!["data", "synth", "--rows", "1000", "--out", o];
        full.extend(args);
        let message = fails(&full);
        assert!(message.contains(expected), "{full:?}: {message}");
        assert!(!out.exists(), "{full:?} left {o} behind");
    }
}
