//! `cascade plan`: the sharding plan of the shipped DLRM configurations, with table sizes from
//! real datasets (the Criteo sample converted, synthetic Criteo-shaped data) and from the
//! flags; the text and JSON outputs agree; bad input exits non-zero with a clear message.

mod common;

use common::{fails, ok, path, shared_data};
use serde_json::Value;
use std::path::{Path, PathBuf};

const CRITEO_CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../configs/dlrm_criteo.toml"
);
const SYNTHETIC_CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../configs/dlrm_synthetic.toml"
);

/// The Criteo sample converted into `dir/criteo`.
fn criteo(dir: &Path) -> PathBuf {
    let out = dir.join("criteo");
    let input = shared_data("criteo-kaggle-sample/train.txt");
    ok(&[
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
        "--seed",
        "1",
    ]);
    out
}

/// Synthetic Criteo-shaped data (26 tables of 100 000 rows) in `dir/synth`.
fn synthetic(dir: &Path) -> PathBuf {
    let out = dir.join("synth");
    ok(&[
        "data",
        "synth",
        "--kind",
        "dlrm",
        "--rows",
        "500",
        "--out",
        path(&out),
    ]);
    out
}

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args)).expect("cascade plan --json prints one JSON object")
}

fn cardinalities(dataset: &Path) -> Vec<(String, u64)> {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dataset.join("cascade.json")).unwrap()).unwrap();
    manifest["sparse"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["cardinality"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn kinds(plan: &Value) -> Vec<String> {
    plan["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["placement"]["kind"].as_str().unwrap().to_string())
        .collect()
}

fn memory(plan: &Value) -> Vec<u64> {
    plan["memory_per_rank"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_u64().unwrap())
        .collect()
}

#[test]
fn criteo_config_on_the_criteo_sample() {
    let dir = tempfile::tempdir().unwrap();
    let data = criteo(dir.path());
    let sizes = cardinalities(&data);
    assert_eq!(sizes.len(), 26);

    // dlrm_criteo: 16-d f32 rows with row-wise Adagrad: 16 · 4 + 4 = 68 bytes a row. The
    // sample's vocabularies are tiny: every table is replicated, every rank holds them all.
    let plan = json(&[
        "plan",
        CRITEO_CONFIG,
        "--data",
        path(&data),
        "--world-size",
        "2",
        "--json",
    ]);
    assert_eq!(plan["world_size"], 2);
    assert_eq!(plan["memory_budget"], 4u64 << 30);
    let tables = plan["tables"].as_array().unwrap();
    for (table, (name, rows)) in tables.iter().zip(&sizes) {
        assert_eq!(table["name"], name.as_str());
        assert_eq!(table["rows"], *rows);
        assert_eq!(table["dim"], 16);
        assert_eq!(table["bytes"], rows * 68);
    }
    assert!(kinds(&plan).iter().all(|k| k == "replicated"), "{plan}");
    let total: u64 = sizes.iter().map(|(_, rows)| rows * 68).sum();
    assert_eq!(memory(&plan), [total, total]);

    // A lower replication threshold and a small budget: the larger tables go whole to one
    // rank each, balanced; the text output shows the same plan.
    let args = [
        "plan",
        CRITEO_CONFIG,
        "--data",
        path(&data),
        "--world-size",
        "3",
        "--memory-per-rank",
        "1MiB",
        "--replicate-max",
        "16KiB",
    ];
    let plan = json(&[&args[..], &["--json"]].concat());
    let kinds = kinds(&plan);
    assert!(kinds.iter().any(|k| k == "replicated"));
    assert!(kinds.iter().any(|k| k == "table_wise"));
    for table in plan["tables"].as_array().unwrap() {
        let bytes = table["bytes"].as_u64().unwrap();
        assert_eq!(
            table["placement"]["kind"] == "replicated",
            bytes <= 16 * 1024,
            "{table}"
        );
    }
    let memory = memory(&plan);
    let (max, min) = (memory.iter().max().unwrap(), memory.iter().min().unwrap());
    assert!(max - min < 50 * 1024, "greedy balance: {memory:?}");
    let text = ok(&args);
    let header = text.lines().next().unwrap();
    for column in ["table", "rows", "dim", "bytes", "placement", "ranks"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(
        text.contains("table-wise") && text.contains("replicated"),
        "{text}"
    );
    for (rank, bytes) in memory.iter().enumerate() {
        assert!(text.contains(&format!("rank {rank}: ")), "{text}");
        assert!(text.contains(&format!("({bytes} bytes")), "{text}");
    }

    // A budget no plan fits: the error names the rank and the shortfall.
    let err = fails(&[
        "plan",
        CRITEO_CONFIG,
        "--data",
        path(&data),
        "--world-size",
        "2",
        "--memory-per-rank",
        "10KiB",
    ]);
    assert!(err.contains("do not fit"), "{err}");
    assert!(err.contains("rank 0 needs"), "{err}");
    assert!(err.contains("more than its budget of 10240 bytes"), "{err}");
}

#[test]
fn synthetic_config_on_synthetic_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = synthetic(dir.path());
    // dlrm_synthetic: 64-d f32 rows, SGD: 256 bytes a row; 26 tables of 100 000 rows,
    // 25.6 MB each.
    let table_bytes = 100_000 * 256;
    let plan = json(&[
        "plan",
        SYNTHETIC_CONFIG,
        "--data",
        path(&data),
        "--world-size",
        "4",
        "--json",
    ]);
    assert!(kinds(&plan).iter().all(|k| k == "table_wise"), "{plan}");
    // Largest first, equal sizes in input order, to the least loaded rank: 7, 7, 6, 6 tables.
    let ranks: Vec<u64> = plan["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["placement"]["rank"].as_u64().unwrap())
        .collect();
    assert_eq!(&ranks[..5], [0, 1, 2, 3, 0]);
    assert_eq!(
        memory(&plan),
        [
            7 * table_bytes,
            7 * table_bytes,
            6 * table_bytes,
            6 * table_bytes
        ]
    );

    // Tables above a quarter of a 64 MiB budget (16 MiB) are split row-wise over all ranks;
    // 4 ranks hold a quarter of every table, 166.4 MB — more than 64 MiB.
    let err = fails(&[
        "plan",
        SYNTHETIC_CONFIG,
        "--data",
        path(&data),
        "--world-size",
        "4",
        "--memory-per-rank",
        "64MiB",
    ]);
    assert!(err.contains("rank 0 needs 166400000 bytes"), "{err}");
    // On 16 ranks, 41.6 MB each fits: every table row-wise, 6 250 rows per rank.
    let plan = json(&[
        "plan",
        SYNTHETIC_CONFIG,
        "--data",
        path(&data),
        "--world-size",
        "16",
        "--memory-per-rank",
        "64MiB",
        "--json",
    ]);
    assert!(kinds(&plan).iter().all(|k| k == "row_wise"), "{plan}");
    assert_eq!(memory(&plan), vec![26 * table_bytes / 16; 16]);
    let ranges = plan["tables"][0]["placement"]["ranges"].as_array().unwrap();
    assert_eq!(ranges.len(), 16);
    assert_eq!(ranges[1]["start"], 6_250);
    assert_eq!(ranges[15]["end"], 100_000);
    let text = ok(&[
        "plan",
        SYNTHETIC_CONFIG,
        "--data",
        path(&data),
        "--world-size",
        "16",
        "--memory-per-rank",
        "64MiB",
    ]);
    let c1 = text.lines().find(|l| l.starts_with("C1 ")).unwrap();
    assert_eq!(
        c1.split_whitespace().collect::<Vec<_>>(),
        ["C1", "100000", "64", "24.4", "MiB", "row-wise", "0-15"]
    );
}

#[test]
fn sizes_from_the_flags_plan_a_100m_row_model() {
    // 26 tables of 100 M rows, int8 rows (64 + 8 bytes) with row-wise Adagrad (4 bytes):
    // 7.6 GB a table, 197.6 GB in all, over 64 ranks: 3.09 GB each, within 4 GiB.
    let plan = json(&[
        "plan",
        SYNTHETIC_CONFIG,
        "--world-size",
        "64",
        "--tables",
        "26",
        "--rows",
        "100000000",
        "--set",
        "embeddings.storage=int8",
        "--set",
        "embeddings.optimizer=rowwise_adagrad",
        "--json",
    ]);
    assert_eq!(plan["tables"].as_array().unwrap().len(), 26);
    assert_eq!(plan["tables"][0]["name"], "sparse_0");
    assert_eq!(plan["tables"][0]["bytes"], 100_000_000u64 * 76);
    assert!(kinds(&plan).iter().all(|k| k == "row_wise"));
    let memory = memory(&plan);
    assert_eq!(memory.iter().sum::<u64>(), 26 * 100_000_000 * 76);
    assert!(memory.iter().all(|&m| m <= 4 << 30), "{memory:?}");
    // With f32 rows and SGD (256 bytes a row) the same tables need 10.4 GB a rank.
    let err = fails(&[
        "plan",
        SYNTHETIC_CONFIG,
        "--world-size",
        "64",
        "--tables",
        "26",
        "--rows",
        "100000000",
    ]);
    assert!(err.contains("rank 0 needs 10400000000 bytes"), "{err}");
}

#[test]
fn bad_input_is_refused_with_a_clear_message() {
    let sizes = ["--tables", "2", "--rows", "10"];
    let err = fails(&[&["plan", CRITEO_CONFIG, "--world-size", "0"][..], &sizes].concat());
    assert!(err.contains("--world-size must be at least 1"), "{err}");
    let err = fails(
        &[
            &[
                "plan",
                CRITEO_CONFIG,
                "--world-size",
                "2",
                "--memory-per-rank",
                "4 parsecs",
            ][..],
            &sizes,
        ]
        .concat(),
    );
    assert!(err.contains("cannot read memory size '4 parsecs'"), "{err}");
    let err = fails(&["plan", CRITEO_CONFIG, "--world-size", "2"]);
    assert!(err.contains("give --data DIR"), "{err}");
    let err = fails(&["plan", CRITEO_CONFIG, "--world-size", "2", "--rows", "10"]);
    assert!(err.contains("--tables N"), "{err}");
    let err = fails(&["plan", "/nonexistent/config.toml", "--world-size", "2"]);
    assert!(err.contains("/nonexistent/config.toml"), "{err}");
    let err = fails(&[
        "plan",
        CRITEO_CONFIG,
        "--world-size",
        "2",
        "--data",
        "/nonexistent/dataset",
    ]);
    assert!(err.contains("/nonexistent/dataset"), "{err}");
}
