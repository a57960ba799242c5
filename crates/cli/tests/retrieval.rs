//! The retrieval funnel from the command line: `cascade quickstart` end to end, then
//! `cascade recommend` and `cascade eval` on its runs, their bad input, and the softmax preset
//! on the real MovieLens 100K against the popularity baseline.

mod common;

use common::{fails, ok, path, shared_data};
use serde_json::Value as Json;
use std::collections::HashSet;

#[test]
fn quickstart_runs_the_funnel_and_its_runs_answer() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("qs");
    let printed = ok(&["quickstart", "--out", path(&out)]);
    assert!(printed.contains("recall@100"), "{printed}");
    assert!(printed.contains("recommendations for user 1:"), "{printed}");
    assert!(printed.contains("p(click)"), "{printed}");
    let (retrieval, ranking) = (out.join("retrieval"), out.join("ranking"));

    // Evaluation of the retrieval run: the model above the popularity baseline.
    let eval: Json = serde_json::from_str(&ok(&["eval", path(&retrieval), "--json"])).unwrap();
    let model = eval["recall@100"].as_f64().unwrap();
    let popular = eval["popularity_recall@100"].as_f64().unwrap();
    assert!(
        model > 1.3 * popular,
        "recall@100 {model} vs popularity {popular}"
    );
    for key in ["ndcg@10", "hitrate@50", "popularity_ndcg@100", "recall@10"] {
        assert!(eval[key].is_number(), "{key} missing: {eval}");
    }

    // Recommendations: k items, re-ranked by click probability, never an item already seen.
    let answer: Json = serde_json::from_str(&ok(&[
        "recommend",
        path(&retrieval),
        "--user",
        "7",
        "--k",
        "20",
        "--rank",
        path(&ranking),
        "--json",
    ]))
    .unwrap();
    let items = answer["items"].as_array().unwrap();
    assert_eq!(items.len(), 20);
    let probabilities: Vec<f64> = items
        .iter()
        .map(|i| i["ranking_score"].as_f64().unwrap())
        .collect();
    assert!(
        probabilities.windows(2).all(|w| w[0] >= w[1]),
        "{probabilities:?}"
    );
    let seen = seen_items(&out.join("data"), "7");
    for item in items {
        let id = item["item_id"].as_str().unwrap();
        assert!(!seen.contains(id), "item {id} was already seen by user 7");
    }

    // More items than the corpus holds: all unseen items, with a note.
    let all: Json = serde_json::from_str(&ok(&[
        "recommend",
        path(&retrieval),
        "--user",
        "7",
        "--k",
        "100000",
        "--json",
    ]))
    .unwrap();
    assert!(
        all["note"]
            .as_str()
            .unwrap()
            .contains("asked for 100000 items")
    );

    // Exported vectors: the user's best unseen item by their dot product is the first answer.
    ok(&["export", path(&retrieval)]);
    let users = read_parquet(&retrieval.join("embeddings/users.parquet"));
    let items = read_parquet(&retrieval.join("embeddings/items.parquet"));
    assert_eq!(items.len(), 1667);
    let user = &users.iter().find(|(id, _)| id == "7").unwrap().1;
    let best = items
        .iter()
        .filter(|(id, _)| !seen.contains(id))
        .map(|(id, v)| (id, v.iter().zip(user).map(|(a, b)| a * b).sum::<f32>()))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    let plain: Json = serde_json::from_str(&ok(&[
        "recommend",
        path(&retrieval),
        "--user",
        "7",
        "--k",
        "1",
        "--json",
    ]))
    .unwrap();
    assert_eq!(plain["items"][0]["item_id"], best.0.as_str());

    // An HNSW index: its recall against exact search is reported, it answers, and another
    // model's index is refused.
    let built: Json =
        serde_json::from_str(&ok(&["index", "build", path(&retrieval), "--json"])).unwrap();
    assert!(built["recall_at_10"].as_f64().unwrap() > 0.95, "{built}");
    let index = built["path"].as_str().unwrap().to_string();
    let approx: Json = serde_json::from_str(&ok(&[
        "recommend",
        path(&retrieval),
        "--user",
        "7",
        "--k",
        "10",
        "--index",
        &index,
        "--json",
    ]))
    .unwrap();
    assert_eq!(approx["items"].as_array().unwrap().len(), 10);
    let err = fails(&[
        "recommend",
        path(&ranking),
        "--user",
        "7",
        "--index",
        &index,
    ]);
    assert!(err.contains("is not a retrieval run"), "{err}");

    // Every user at once, as CSV: k rows per user, and user 7's rows are the single answer.
    let csv = dir.path().join("all.csv");
    ok(&[
        "recommend",
        path(&retrieval),
        "--all-users",
        "--out",
        path(&csv),
        "--k",
        "1",
    ]);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(
        text.lines().count(),
        1 + 1000,
        "one header and one row per user"
    );
    assert!(text.contains(&format!("\n7,1,{},", best.0)), "user 7's row");

    // An unknown user: popular items on request, flagged.
    let cold: Json = serde_json::from_str(&ok(&[
        "recommend",
        path(&retrieval),
        "--user",
        "nobody",
        "--k",
        "3",
        "--cold-start",
        "popularity",
        "--json",
    ]))
    .unwrap();
    assert_eq!(cold["cold_start"], true);
    assert_eq!(cold["items"].as_array().unwrap().len(), 3);

    // Bad input.
    let err = fails(&["recommend", path(&retrieval), "--user", "no-such-user"]);
    assert!(err.contains("unknown user \"no-such-user\""), "{err}");
    let err = fails(&["recommend", path(&ranking), "--user", "7"]);
    assert!(err.contains("is not a retrieval run"), "{err}");
    let err = fails(&["recommend", path(&retrieval), "--user", "7", "--k", "0"]);
    assert!(err.contains("--k must be at least 1"), "{err}");
}

/// The rows of an exported Parquet file: raw id and vector.
fn read_parquet(file: &std::path::Path) -> Vec<(String, Vec<f32>)> {
    use arrow::array::AsArray;
    use arrow::datatypes::Float32Type;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(file).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let ids = batch
            .column_by_name("id")
            .unwrap()
            .as_string::<i32>()
            .clone();
        let vectors = batch
            .column_by_name("embedding")
            .unwrap()
            .as_fixed_size_list()
            .clone();
        for r in 0..batch.num_rows() {
            let v = vectors.value(r);
            let v = v.as_primitive::<Float32Type>();
            rows.push((
                ids.value(r).to_string(),
                (0..v.len()).map(|i| v.value(i)).collect(),
            ));
        }
    }
    rows
}

/// The raw item ids user `user` interacted with in the training split of the dataset `data`.
fn seen_items(data: &std::path::Path, user: &str) -> HashSet<String> {
    let vocab = |name: &str| -> Vec<String> {
        let text = std::fs::read_to_string(data.join("vocab").join(name)).unwrap();
        text.lines().map(str::to_string).collect()
    };
    let (users, items) = (vocab("user.txt"), vocab("item.txt"));
    let index = users.iter().position(|u| u == user).unwrap() as u64;
    let catalog = cascade_train::Catalog::scan_features(
        data,
        "train",
        None,
        vec!["user_id".into()],
        vec!["item_id".into()],
    )
    .unwrap();
    let seen = &catalog.seen[&index];
    assert!(!seen.is_empty());
    seen.iter().map(|&i| items[i as usize].clone()).collect()
}

#[test]
fn softmax_preset_on_movielens_100k_beats_popularity_by_half() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ml");
    ok(&[
        "data",
        "convert",
        "--format",
        "movielens-100k",
        "--input",
        path(&shared_data("ml-100k")),
        "--out",
        path(&data),
        "--split",
        "leave-last:10",
    ]);
    let run = dir.path().join("run");
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../configs/two_tower_softmax.toml"
    );
    ok(&["train", config, "--data", path(&data), "--out", path(&run)]);
    let eval: Json = serde_json::from_str(&ok(&["eval", path(&run), "--json"])).unwrap();
    let model = eval["recall@100"].as_f64().unwrap();
    let popular = eval["popularity_recall@100"].as_f64().unwrap();
    assert_eq!(eval["users"], 943);
    // The bar: at least 1.5 times the most-popular baseline.
    assert!(
        model >= 1.5 * popular,
        "recall@100 {model} vs popularity {popular}"
    );
}

#[test]
fn quickstart_takes_a_movielens_folder_and_names_one_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("qs");
    let printed = ok(&[
        "quickstart",
        "--out",
        path(&out),
        "--data",
        path(&shared_data("ml-100k")),
        "--users",
        "1",
    ]);
    assert!(
        printed.contains("retrieval (two-tower, 943 users"),
        "{printed}"
    );
    let err = fails(&[
        "quickstart",
        "--out",
        path(&out),
        "--data",
        path(&shared_data("criteo-kaggle-sample")),
    ]);
    assert!(
        err.contains("expected a MovieLens 100K folder (u.data)"),
        "{err}"
    );
}
