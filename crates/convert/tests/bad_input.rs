//! Malformed input: errors name the file, the 1-based line (header counted) and the field;
//! `--skip-bad-rows` counts and quotes them instead; a failed conversion leaves no output.

mod common;

use cascade_convert::{ConvertError, Format, Position};
use common::{convert, options, read_all};
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn bad_rating_names_file_line_and_field_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "u.data", "1\t10\t4\t100\n2\t11\tfive\t200\n");
    let out = dir.path().join("out");
    let err = cascade_convert::convert(&options(Format::MovieLens100k, &input, &out)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: line 2, field rating: \"five\" is not a finite number",
            input.display()
        )
    );
    assert!(!out.exists());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "no staging folder is left behind: {left:?}");
}

#[test]
fn skip_bad_rows_counts_and_quotes_them() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "train.txt", &criteo_text());
    let out = dir.path().join("out");
    let mut opts = options(Format::Criteo, &input, &out);
    let err = cascade_convert::convert(&opts).unwrap_err();
    let ConvertError::Row(row) = err else {
        panic!("expected a row error, got {err}")
    };
    assert_eq!(
        (row.position, row.field.as_str()),
        (Position::Line(2), "label")
    );
    opts.context.skip_bad_rows = true;
    let report = convert(&opts);
    assert_eq!(report.rows, 2);
    assert_eq!(report.bad_rows.count(), 3);
    let quoted: Vec<(Position, &str)> = report
        .bad_rows
        .first()
        .iter()
        .map(|e| (e.position, e.field.as_str()))
        .collect();
    assert_eq!(
        quoted,
        vec![
            (Position::Line(2), "label"),
            (Position::Line(3), "(row)"),
            (Position::Line(4), "I2")
        ]
    );
    assert_eq!(read_all(&out.join("train")).len(), 2);
    assert_eq!(report.manifest.extra["bad_rows_skipped"], 3);
}

/// Five Criteo rows: good, bad label, too few fields, bad integer, good.
fn criteo_text() -> String {
    let good = |label: &str| {
        format!(
            "{label}\t{}\t{}",
            ["1"; 13].join("\t"),
            ["ab12"; 26].join("\t")
        )
    };
    let short = ["1"; 10].join("\t");
    let bad_int = good("0").replacen("\t1\t1\t", "\t1\tx\t", 1);
    format!(
        "{}\n{}\n{short}\n{bad_int}\n{}",
        good("1"),
        good("2"),
        good("0")
    )
}

#[test]
fn bad_csv_rows_count_the_header_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "ratings.csv",
        "userId,movieId,rating,timestamp\n1,2,4.0,10\n1,3,4.0,\n",
    );
    let err = cascade_convert::convert(&options(
        Format::MovieLensCsv,
        &input,
        &dir.path().join("o"),
    ))
    .unwrap_err();
    assert!(err.to_string().ends_with("ratings.csv: line 3, field timestamp: \"\" is neither unix seconds nor a YYYY-MM-DD HH:MM:SS date-time"), "{err}");
}

#[test]
fn latin1_user_file_and_missing_folder_files() {
    let dir = tempfile::tempdir().unwrap();
    let err = cascade_convert::convert(&options(
        Format::MovieLens100k,
        dir.path(),
        &dir.path().join("o"),
    ))
    .unwrap_err();
    assert!(
        err.to_string().contains("no u.data in this folder"),
        "{err}"
    );
    let err = cascade_convert::convert(&options(
        Format::LearningFromSets,
        dir.path(),
        &dir.path().join("o"),
    ))
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("neither item_ratings.csv nor set_ratings.csv"),
        "{err}"
    );
}

#[test]
fn existing_output_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "u.data", "1\t10\t4\t100\n");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let mut opts = options(Format::MovieLens100k, &input, &out);
    let err = cascade_convert::convert(&opts).unwrap_err();
    assert!(err.to_string().contains("not empty (pass --force"), "{err}");
    assert!(out.join("keep.txt").exists());
    opts.output.force = true;
    convert(&opts);
    assert!(!out.join("keep.txt").exists() && out.join("cascade.json").exists());
}
