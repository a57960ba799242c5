//! Reading a CSV/TSV file with the `csv` crate (quoted fields, embedded delimiters and line
//! breaks), resolving columns by header name (or 1-based number when there is no header) and
//! reporting each record's 1-based starting line, the header counted.

use crate::error::{ConvertError, Position, Result, RowError};
use crate::text::Row;
use std::fs::File;
use std::path::{Path, PathBuf};

/// A delimited text file being read record by record.
#[derive(Debug)]
pub struct CsvFile {
    path: PathBuf,
    reader: csv::Reader<File>,
    headers: Option<Vec<String>>,
    record: csv::StringRecord,
    line: u64,
}

/// The result of reading one record.
#[derive(Debug)]
pub enum Next {
    /// A record was read (see [`CsvFile::record`]).
    Record,
    /// A malformed record (e.g. not UTF-8).
    Bad(RowError),
    /// End of file.
    End,
}

impl CsvFile {
    /// Opens `path`; with `has_header` the first record names the columns.
    pub fn open(path: &Path, delimiter: u8, has_header: bool) -> Result<CsvFile> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(has_header)
            .flexible(true)
            .from_path(path)
            .map_err(|e| csv_fatal(path, e))?;
        let headers = if has_header {
            let names = reader.headers().map_err(|e| csv_fatal(path, e))?;
            Some(
                names
                    .iter()
                    .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
                    .collect(),
            )
        } else {
            None
        };
        Ok(CsvFile {
            path: path.to_path_buf(),
            reader,
            headers,
            record: csv::StringRecord::new(),
            line: 0,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The 0-based index of column `name`: a header name, or a 1-based column number when the
    /// file has no header. An error lists the columns that exist.
    pub fn column(&self, name: &str) -> Result<usize> {
        match &self.headers {
            Some(headers) => headers.iter().position(|h| h == name).ok_or_else(|| {
                ConvertError::input(
                    &self.path,
                    format!("no column {name:?}; the header has: {}", headers.join(", ")),
                )
            }),
            None => match name.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(n - 1),
                _ => Err(ConvertError::input(
                    &self.path,
                    format!(
                        "column {name:?}: without a header, columns are named by 1-based number"
                    ),
                )),
            },
        }
    }

    /// Reads the next record; I/O failures are errors, malformed records are [`Next::Bad`].
    pub fn advance(&mut self) -> Result<Next> {
        match self.reader.read_record(&mut self.record) {
            Ok(false) => Ok(Next::End),
            Ok(true) => {
                self.line = self.record.position().map_or(self.line + 1, |p| p.line());
                Ok(Next::Record)
            }
            Err(err) => {
                let line = err.position().map(|p| p.line());
                match err.into_kind() {
                    csv::ErrorKind::Io(e) => Err(ConvertError::io(&self.path, e)),
                    kind => {
                        self.line = line.unwrap_or(self.line + 1);
                        Ok(Next::Bad(self.row().error("(row)", describe(&kind))))
                    }
                }
            }
        }
    }

    /// The current record.
    pub fn record(&self) -> &csv::StringRecord {
        &self.record
    }

    /// Where the current record starts, for errors.
    pub fn row(&self) -> Row<'_> {
        Row {
            path: &self.path,
            position: Position::Line(self.line),
        }
    }

    /// Field `index` of the current record, named `name` in errors.
    pub fn get(&self, index: usize, name: &str) -> Result<&str, RowError> {
        self.record.get(index).ok_or_else(|| {
            self.row().error(
                name,
                format!("missing: the row has {} fields", self.record.len()),
            )
        })
    }
}

fn describe(kind: &csv::ErrorKind) -> String {
    match kind {
        csv::ErrorKind::Utf8 { err, .. } => format!("not UTF-8 text (field {})", err.field() + 1),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("has {len} fields, expected {expected_len}")
        }
        other => format!("{other:?}"),
    }
}

fn csv_fatal(path: &Path, err: csv::Error) -> ConvertError {
    match err.into_kind() {
        csv::ErrorKind::Io(e) => ConvertError::io(path, e),
        kind => ConvertError::input(path, describe(&kind)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_and_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        std::fs::write(
            &path,
            "movieId,title,genres\n1,\"Toy Story, The\n(1995)\",A|B\n2,Heat (1995),Action\n",
        )
        .unwrap();
        let mut csv = CsvFile::open(&path, b',', true).unwrap();
        assert_eq!(csv.column("title").unwrap(), 1);
        assert!(
            csv.column("year")
                .unwrap_err()
                .to_string()
                .contains("the header has: movieId, title, genres")
        );
        assert!(matches!(csv.advance().unwrap(), Next::Record));
        assert_eq!(csv.get(1, "title").unwrap(), "Toy Story, The\n(1995)");
        assert!(matches!(csv.advance().unwrap(), Next::Record));
        assert_eq!(csv.row().position, Position::Line(4));
        assert!(
            csv.get(5, "x")
                .unwrap_err()
                .to_string()
                .contains("m.csv: line 4, field x: missing")
        );
        assert!(matches!(csv.advance().unwrap(), Next::End));
    }

    #[test]
    fn invalid_utf8_is_a_bad_row_and_reading_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.csv");
        std::fs::write(&path, b"a,b\n1,\xff\n2,3\n").unwrap();
        let mut csv = CsvFile::open(&path, b',', true).unwrap();
        let Next::Bad(err) = csv.advance().unwrap() else {
            panic!("expected a bad row")
        };
        assert!(
            err.to_string()
                .starts_with(&format!("{}: line 2", path.display())),
            "{err}"
        );
        assert!(matches!(csv.advance().unwrap(), Next::Record));
        assert_eq!(csv.get(0, "a").unwrap(), "2");
    }

    #[test]
    fn headerless_columns_are_numbered_from_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.tsv");
        std::fs::write(&path, "x\ty\n").unwrap();
        let csv = CsvFile::open(&path, b'\t', false).unwrap();
        assert_eq!(csv.column("2").unwrap(), 1);
        assert!(csv.column("0").is_err());
        assert!(csv.column("y").is_err());
    }
}
