//! `cascade data convert` end to end: the built binary on the real datasets and on small
//! malformed inputs, checking exit status, messages and the dataset written.

mod common;

use cascade_data::DatasetManifest;
use common::{cascade, path, shared_data as data, text};

#[test]
fn movielens_100k_leave_last_10() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ml");
    let input = data("ml-100k");
    let run = cascade(&[
        "data",
        "convert",
        "--format",
        "movielens-100k",
        "--input",
        path(&input),
        "--out",
        path(&out),
        "--split",
        "leave-last:10",
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    assert!(
        stdout.contains("converted 100000 rows (movielens-100k)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("split test: 9430 samples")
            && stdout.contains("split train: 90570 samples"),
        "{stdout}"
    );
    assert!(stdout.contains("positives: 55375"), "{stdout}");
    let m = DatasetManifest::load(&out).unwrap();
    assert_eq!(m.splits["test"].samples, 9_430);
    assert!(out.join("items.tsv").is_file());
}

#[test]
fn criteo_random_split_with_hashing_and_threshold_rules() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("criteo");
    let input = data("criteo-kaggle-sample/train.txt");
    let args = [
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
        "3",
        "--hash-buckets",
        "5000",
        "--compression",
        "none",
        "--hashes",
        "sha1,xxh64",
    ];
    let run = cascade(&args);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let m = DatasetManifest::load(&out).unwrap();
    assert_eq!(
        (m.splits["train"].samples, m.splits["test"].samples),
        (720, 180)
    );
    assert!(m.sparse.iter().all(|s| s.cardinality == 5000));
    let index = std::fs::read_to_string(out.join("train/index.json")).unwrap();
    assert!(
        index.contains("\"sha1\"") && index.contains("\"compression\": null"),
        "{index}"
    );

    let again = cascade(&args);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("is not empty (pass --force to replace it)"),
        "{}",
        text(&again.stderr)
    );
    let mut forced = args.to_vec();
    forced.push("--force");
    assert!(cascade(&forced).status.success());

    let bad = cascade(&[
        "data",
        "convert",
        "--format",
        "criteo",
        "--input",
        path(&input),
        "--out",
        path(&dir.path().join("x")),
        "--split",
        "random:0.5,0.2",
    ]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("add up to"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn bad_rows_fail_or_are_skipped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ratings.tsv");
    std::fs::write(
        &input,
        "u\ti\tr\nu1\tmovie1\t4\nu2\tmovie2\tgreat\nu3\tmovie1\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let base = [
        "data",
        "convert",
        "--format",
        "csv",
        "--input",
        path(&input),
        "--out",
        path(&out),
        "--delimiter",
        "tab",
        "--user",
        "u",
        "--item",
        "i",
        "--rating",
        "r",
    ];
    let failed = cascade(&base);
    assert!(!failed.status.success());
    let stderr = text(&failed.stderr);
    assert!(
        stderr.contains(&format!(
            "{}: line 3, field r: \"great\" is not a finite number",
            input.display()
        )),
        "{stderr}"
    );
    assert!(!out.exists());

    let mut skipping = base.to_vec();
    skipping.push("--skip-bad-rows");
    let skipped = cascade(&skipping);
    assert!(skipped.status.success(), "{}", text(&skipped.stderr));
    let stderr = text(&skipped.stderr);
    assert!(stderr.contains("skipped 2 malformed rows"), "{stderr}");
    assert!(
        stderr.contains("line 4, field r: missing: the row has 2 fields"),
        "{stderr}"
    );
    assert!(text(&skipped.stdout).contains("converted 1 rows (csv)"));
}

#[test]
fn learning_from_sets_and_mapping_misuse() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sets");
    let input = data("learning-from-sets-2019/set_ratings.csv");
    let run = cascade(&[
        "data",
        "convert",
        "--format",
        "learning-from-sets",
        "--input",
        path(&input),
        "--out",
        path(&out),
        "--positive-threshold",
        "4",
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(
        text(&run.stdout).contains("multi-hot item_ids: 12550 indices"),
        "{}",
        text(&run.stdout)
    );
    let m = DatasetManifest::load(&out).unwrap();
    assert_eq!(m.extra["label_threshold"], 4.0);

    let misuse = cascade(&[
        "data",
        "convert",
        "--format",
        "criteo",
        "--input",
        path(&input),
        "--out",
        path(&dir.path().join("y")),
        "--dense",
        "a",
    ]);
    assert!(!misuse.status.success());
    assert!(
        text(&misuse.stderr).contains("apply only to --format csv and parquet"),
        "{}",
        text(&misuse.stderr)
    );
}

#[test]
fn help_documents_formats_and_mapping() {
    let help = cascade(&["data", "convert", "--help"]);
    assert!(help.status.success());
    let help = text(&help.stdout);
    for needle in [
        "learning-from-sets",
        "leave-last:N",
        "--multi-hot",
        "--no-header",
        "Column mapping (csv, parquet)",
        "items.tsv",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
}
