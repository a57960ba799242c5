//! Conversions of the real datasets: row, user, item and positive counts as published, the
//! leave-last split, values read back from the shards, and the vocabularies and item titles.

mod common;

use cascade_convert::{Format, SplitSpec};
use cascade_data::{DatasetManifest, Vocabulary};
use common::{convert, data, floats, int, ints, options, read_all};
use std::collections::HashSet;

#[test]
fn movielens_100k_counts_labels_and_side_features() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ml");
    let report = convert(&options(Format::MovieLens100k, &data("ml-100k"), &out));
    assert_eq!(report.rows, 100_000);
    assert_eq!(report.bad_rows.count(), 0);
    let m = DatasetManifest::load(&out).unwrap();
    assert_eq!(m.source, "movielens-100k");
    assert_eq!(m.splits["train"].samples, 100_000);
    assert_eq!(m.extra["positives"], 55_375);
    assert_eq!(m.extra["users"], 943);
    assert_eq!(
        (
            m.extra["unknown_index"].as_u64(),
            m.extra["unknown_token"].as_str()
        ),
        (Some(0), Some("<unk>"))
    );
    assert_eq!(m.extra["items_rated"], 1682);
    let card = |name: &str| {
        m.sparse
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .cardinality
    };
    assert_eq!(card("user_id"), 944, "943 users + the reserved index 0");
    assert_eq!(card("item_id"), 1683);
    assert_eq!(card("item_genres"), 20);
    assert_eq!(card("user_gender"), 3);
    assert!(
        m.sparse
            .iter()
            .find(|s| s.name == "item_genres")
            .unwrap()
            .multi_hot
    );

    let users = Vocabulary::load(&out.join("vocab/user.txt")).unwrap();
    assert_eq!(users.raw(0), Some("<unk>"));
    assert_eq!(
        users.get("1"),
        Some(1),
        "users are numbered in u.user order"
    );
    let items = Vocabulary::load(&out.join("vocab/item.txt")).unwrap();
    let titles = std::fs::read_to_string(out.join("items.tsv")).unwrap();
    assert_eq!(titles.lines().count(), 1 + 1682);
    assert!(
        titles
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("1\t1\tToy Story (1995)\t1995\tAnimation|Children's|Comedy")
    );
    assert!(
        titles.contains("Misérables"),
        "u.item is Latin-1 and must be decoded"
    );

    let samples = read_all(&out.join("train"));
    assert_eq!(samples.len(), 100_000);
    // u.data line 1: 196	242	3	881250949; Kolya (1996) is a comedy.
    let first = &samples[0];
    assert_eq!(users.raw(int(first, "user_id") as u64), Some("196"));
    assert_eq!(items.raw(int(first, "item_id") as u64), Some("242"));
    assert_eq!(first["rating"], cascade_mds::Value::Float(3.0));
    assert_eq!(int(first, "label"), 0, "3 is below the mean rating 3.53");
    assert_eq!(int(first, "timestamp"), 881_250_949);
    let genres = Vocabulary::load(&out.join("vocab/genre.txt")).unwrap();
    let names: Vec<&str> = ints(first, "item_genres")
        .iter()
        .map(|&g| genres.raw(g as u64).unwrap())
        .collect();
    assert_eq!(names, vec!["Comedy"]);
    let positives = samples.iter().filter(|s| int(s, "label") == 1).count();
    assert_eq!(positives, 55_375);
}

#[test]
fn movielens_100k_leave_last_10_holds_out_9430_latest_ratings() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ml");
    let mut opts = options(Format::MovieLens100k, &data("ml-100k/u.data"), &out);
    opts.output.split = SplitSpec::LeaveLast(10);
    let report = convert(&opts);
    assert_eq!(report.splits["test"], 9_430);
    assert_eq!(report.splits["train"], 90_570);
    let train = read_all(&out.join("train"));
    let test = read_all(&out.join("test"));
    let mut latest_train = std::collections::HashMap::new();
    for s in &train {
        let t = latest_train.entry(int(s, "user_id")).or_insert(i64::MIN);
        *t = (*t).max(int(s, "timestamp"));
    }
    for s in &test {
        assert!(
            int(s, "timestamp") >= latest_train[&int(s, "user_id")],
            "a test rating predates its user's training ratings"
        );
    }
    let test_users: HashSet<i64> = test.iter().map(|s| int(s, "user_id")).collect();
    assert_eq!(test_users.len(), 943);
}

#[test]
fn movielens_100k_random_split_is_seeded() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, seed: u64| {
        let out = dir.path().join(name);
        let mut opts = options(Format::MovieLens100k, &data("ml-100k"), &out);
        opts.output.split = "random:0.7,0.2,0.1".parse().unwrap();
        opts.output.seed = seed;
        let report = convert(&opts);
        assert_eq!(
            report.splits.values().copied().collect::<Vec<_>>(),
            vec![10_000, 70_000, 20_000]
        );
        read_all(&out.join("test"))
            .iter()
            .map(|s| int(s, "timestamp"))
            .collect::<Vec<_>>()
    };
    assert_eq!(run("a", 1), run("b", 1));
    assert_ne!(run("c", 1), run("d", 2));
}

#[test]
fn criteo_sample_labels_dense_and_categoricals() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("criteo");
    let report = convert(&options(
        Format::Criteo,
        &data("criteo-kaggle-sample/train.txt"),
        &out,
    ));
    assert_eq!(report.rows, 900);
    let m = DatasetManifest::load(&out).unwrap();
    assert_eq!(m.extra["positives"], 176);
    assert_eq!(m.dense[0].width, 13);
    assert_eq!(m.sparse.len(), 26);
    let samples = read_all(&out.join("train"));
    assert_eq!(samples.iter().filter(|s| int(s, "label") == 1).count(), 176);
    // First row: 0 1 1 5 0 1382 4 15 2 181 1 2 (empty) 2 | 68fd1e64 80e26c9b ...
    let first = &samples[0];
    assert_eq!(int(first, "label"), 0);
    assert_eq!(
        floats(first, "dense"),
        vec![
            1.0, 1.0, 5.0, 0.0, 1382.0, 4.0, 15.0, 2.0, 181.0, 1.0, 2.0, 0.0, 2.0
        ]
    );
    let c1 = Vocabulary::load(&out.join("vocab/C1.txt")).unwrap();
    assert_eq!(c1.raw(int(first, "C1") as u64), Some("68fd1e64"));
    let c2 = Vocabulary::load(&out.join("vocab/C2.txt")).unwrap();
    assert_eq!(c2.raw(int(first, "C2") as u64), Some("80e26c9b"));
    let missing = samples.iter().filter(|s| int(s, "C3") == 0).count();
    assert!(missing < 900);
}

#[test]
fn criteo_hash_buckets_replace_vocabularies() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("criteo");
    let mut opts = options(Format::Criteo, &data("criteo-kaggle-sample"), &out);
    opts.context.hash_buckets = Some(1000);
    convert(&opts);
    let m = DatasetManifest::load(&out).unwrap();
    assert!(
        m.sparse
            .iter()
            .all(|s| s.cardinality == 1000 && s.vocab.is_none())
    );
    assert!(!out.join("vocab").exists());
    let samples = read_all(&out.join("train"));
    assert!(samples.iter().all(|s| (0..1000).contains(&int(s, "C5"))));
}

#[test]
fn learning_from_sets_set_ratings_are_five_item_bags() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sets");
    let report = convert(&options(
        Format::LearningFromSets,
        &data("learning-from-sets-2019"),
        &out,
    ));
    assert_eq!(report.rows, 29_516);
    let m = DatasetManifest::load(&out).unwrap();
    assert_eq!(m.extra["users"], 854);
    let card = |name: &str| {
        m.sparse
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .cardinality
    };
    assert_eq!(card("user_id"), 855);
    assert_eq!(
        card("item_ids"),
        12_550,
        "12,549 movies + the reserved index 0"
    );
    let samples = read_all(&out.join("train"));
    assert!(samples.iter().all(|s| ints(s, "item_ids").len() == 5));
    let users = Vocabulary::load(&out.join("vocab/user.txt")).unwrap();
    let first = users.raw(int(&samples[0], "user_id") as u64).unwrap();
    assert_eq!(first.len(), 10);
    assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
    let mean = m.extra["mean_rating"].as_f64().unwrap();
    assert!((mean - 3.449).abs() < 0.001, "{mean}");
}
