//! The formats on small hand-written inputs: MovieLens CSV with quoted titles, Learning-from-Sets
//! item and set ratings together, generic CSV/TSV with a column mapping, and Parquet.

mod common;

use arrow::array::{
    ArrayRef, Float64Array, Int64Array, ListArray, StringArray, TimestampSecondArray,
};
use arrow::datatypes::Int64Type;
use arrow::record_batch::RecordBatch;
use cascade_convert::{ColumnMapping, Format, LabelRule, SplitSpec};
use cascade_data::{DatasetManifest, Vocabulary};
use common::{convert, floats, int, ints, options, read_all};
use std::path::Path;
use std::sync::Arc;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn movielens_csv_reads_quoted_titles_and_genre_lists() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "ratings.csv",
        "userId,movieId,rating,timestamp\n1,2,3.5,100\n1,1,5.0,200\n7,2,1.0,50\n",
    );
    write(
        dir.path(),
        "movies.csv",
        "movieId,title,genres\n1,\"American President, The (1995)\",Comedy|Drama|Romance\n2,Jumanji (1995),(no genres listed)\n",
    );
    let out = dir.path().join("out");
    let mut opts = options(Format::MovieLensCsv, dir.path(), &out);
    opts.context.label = LabelRule::Threshold(3.5);
    let report = convert(&opts);
    assert_eq!(report.rows, 3);
    let titles = std::fs::read_to_string(out.join("items.tsv")).unwrap();
    assert!(
        titles.contains("\t1\tAmerican President, The (1995)\t1995\tComedy|Drama|Romance\n"),
        "{titles}"
    );
    let samples = read_all(&out.join("train"));
    assert_eq!(
        samples.iter().map(|s| int(s, "label")).collect::<Vec<_>>(),
        vec![1, 1, 0]
    );
    assert_eq!(ints(&samples[1], "item_genres").len(), 3);
    assert_eq!(
        ints(&samples[0], "item_genres"),
        vec![0],
        "no genres: the missing index"
    );
    let years = Vocabulary::load(&out.join("vocab/year.txt")).unwrap();
    assert_eq!(
        years.raw(int(&samples[0], "item_year") as u64),
        Some("1990s")
    );
}

#[test]
fn learning_from_sets_item_ratings_are_main_and_sets_a_side_table() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "item_ratings.csv",
        "userId,movieId,rating,timestamp\n7fdcecb392,1,4.5,2016-02-25 13:05:09\n7fdcecb392,2,2.0,2016-03-01 00:00:00\na0b1c2d3e4,3,3.0,2016-02-26 10:00:00\n",
    );
    write(
        dir.path(),
        "set_ratings.csv",
        "userId,movieId_1,movieId_2,movieId_3,movieId_4,movieId_5,rating,timestamp\n7fdcecb392,1,2,3,4,5,3.5,2016-02-25 13:10:00\n",
    );
    let out = dir.path().join("out");
    let mut opts = options(Format::LearningFromSets, dir.path(), &out);
    opts.output.split = SplitSpec::LeaveLast(1);
    let report = convert(&opts);
    assert_eq!((report.splits["train"], report.splits["test"]), (2, 1));
    let test = read_all(&out.join("test"));
    assert_eq!(
        int(&test[0], "timestamp"),
        1_456_790_400,
        "user 7fdcecb392's latest rating"
    );
    let m = DatasetManifest::load(&out).unwrap();
    let sets = &m.extra["tables"]["set_ratings"];
    assert_eq!(sets["path"], "tables/set_ratings");
    assert_eq!(sets["samples"], 1);
    let set_rows = read_all(&out.join("tables/set_ratings"));
    let items = Vocabulary::load(&out.join("vocab/item.txt")).unwrap();
    let raw: Vec<&str> = ints(&set_rows[0], "item_ids")
        .iter()
        .map(|&i| items.raw(i as u64).unwrap())
        .collect();
    assert_eq!(raw, vec!["1", "2", "3", "4", "5"]);
    assert_eq!(
        int(&set_rows[0], "user_id"),
        int(&test[0], "user_id"),
        "tables share the user vocabulary"
    );
}

#[test]
fn learning_from_sets_single_item_ratings_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "ir.csv",
        "userId,movieId,rating,timestamp\n7fdcecb392,1,0.5,2016-02-25 13:05:09\n",
    );
    let report = convert(&options(
        Format::LearningFromSets,
        &input,
        &dir.path().join("out"),
    ));
    assert_eq!(report.rows, 1);
    assert!(report.manifest.sparse.iter().any(|s| s.name == "item_id"));
}

#[test]
fn generic_csv_with_mapping_quotes_and_multi_hot() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "clicks.csv",
        "clicked,age,price,country,tags,uid,ts\n1,31,9.5,\"FR\",a|b,u1,10\n0,,2,DE,,u1,20\ntrue,40,1e3,FR,\"b|c\",u2,15\n",
    );
    let out = dir.path().join("out");
    let mut opts = options(Format::Csv, &input, &out);
    opts.context.mapping = ColumnMapping {
        label: Some("clicked".into()),
        user: Some("uid".into()),
        timestamp: Some("ts".into()),
        dense: vec!["age".into(), "price".into()],
        sparse: vec!["country".into()],
        multi_hot: vec!["tags".into()],
        ..ColumnMapping::default()
    };
    opts.output.split = SplitSpec::LeaveLast(1);
    let report = convert(&opts);
    assert_eq!((report.splits["train"], report.splits["test"]), (2, 1));
    let m = DatasetManifest::load(&out).unwrap();
    assert_eq!(m.dense[0].width, 2);
    assert_eq!(
        m.extra["dense_columns"],
        serde_json::json!(["age", "price"])
    );
    let train = read_all(&out.join("train"));
    assert_eq!(floats(&train[0], "dense"), vec![31.0, 9.5]);
    assert_eq!(floats(&train[1], "dense"), vec![40.0, 1000.0]);
    assert_eq!(int(&train[1], "label"), 1);
    let tags = Vocabulary::load(&out.join("vocab/tags.txt")).unwrap();
    let raw: Vec<&str> = ints(&train[1], "tags")
        .iter()
        .map(|&i| tags.raw(i as u64).unwrap())
        .collect();
    assert_eq!(raw, vec!["b", "c"]);
    let test = read_all(&out.join("test"));
    assert_eq!(ints(&test[0], "tags"), vec![0]);
    assert_eq!(int(&test[0], "country"), 2);
}

#[test]
fn generic_tsv_without_header_names_columns_by_number() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "r.tsv", "u1\ti1\t4\nu2\ti1\t2\n");
    let mut opts = options(Format::Csv, &input, &dir.path().join("out"));
    opts.context.mapping = ColumnMapping {
        user: Some("1".into()),
        item: Some("2".into()),
        rating: Some("3".into()),
        delimiter: Some(b'\t'),
        no_header: true,
        ..ColumnMapping::default()
    };
    let report = convert(&opts);
    assert_eq!(report.manifest.extra["positives"], 1);
    assert_eq!(report.manifest.extra["mean_rating"], 3.0);
}

#[test]
fn generic_mapping_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "x.csv", "a,b\n1,2\n");
    let mut opts = options(Format::Csv, &input, &dir.path().join("out"));
    let err = cascade_convert::convert(&opts).unwrap_err().to_string();
    assert!(err.contains("need a column mapping"), "{err}");
    opts.context.mapping.sparse = vec!["c".into()];
    let err = cascade_convert::convert(&opts).unwrap_err().to_string();
    assert!(
        err.contains("no column \"c\"; the header has: a, b"),
        "{err}"
    );
    opts.context.mapping.sparse = vec!["label".into()];
    let err = cascade_convert::convert(&opts).unwrap_err().to_string();
    assert!(err.contains("would clash"), "{err}");
}

#[test]
fn parquet_with_lists_timestamps_and_nulls() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("t.parquet");
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "user",
            Arc::new(StringArray::from(vec![Some("u1"), Some("u2"), None])),
        ),
        ("stars", Arc::new(Float64Array::from(vec![5.0, 1.0, 3.0]))),
        (
            "when",
            Arc::new(TimestampSecondArray::from(vec![100, 200, 300])),
        ),
        (
            "views",
            Arc::new(Int64Array::from(vec![Some(3), None, Some(7)])),
        ),
        (
            "genres",
            Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
                Some(vec![Some(10), Some(20)]),
                Some(vec![]),
                None,
            ])),
        ),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let file = std::fs::File::create(&input).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let out = dir.path().join("out");
    let mut opts = options(Format::Parquet, &input, &out);
    opts.context.mapping = ColumnMapping {
        user: Some("user".into()),
        rating: Some("stars".into()),
        timestamp: Some("when".into()),
        dense: vec!["views".into()],
        multi_hot: vec!["genres".into()],
        ..ColumnMapping::default()
    };
    convert(&opts);
    let rows = read_all(&out.join("train"));
    assert_eq!(
        rows.iter().map(|r| int(r, "timestamp")).collect::<Vec<_>>(),
        vec![100, 200, 300]
    );
    assert_eq!(
        rows.iter().map(|r| int(r, "label")).collect::<Vec<_>>(),
        vec![1, 0, 1]
    );
    assert_eq!(
        int(&rows[2], "user_id"),
        0,
        "a null id is the reserved missing index"
    );
    assert_eq!(floats(&rows[1], "dense"), vec![0.0]);
    let genres = Vocabulary::load(&out.join("vocab/genres.txt")).unwrap();
    let raw: Vec<&str> = ints(&rows[0], "genres")
        .iter()
        .map(|&i| genres.raw(i as u64).unwrap())
        .collect();
    assert_eq!(raw, vec!["10", "20"]);

    opts.context.mapping.rating = Some("missing".into());
    opts.output.force = true;
    let err = cascade_convert::convert(&opts).unwrap_err().to_string();
    assert!(
        err.contains("no column \"missing\"; the file has: user, stars, when, views, genres"),
        "{err}"
    );
}
