//! Reading delimited text files line by line, with the line number every error names, and
//! parsing one field with an error naming that field.

use crate::error::{ConvertError, Position, Result, RowError};
use crate::timeparse::parse_timestamp;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// A text file read line by line into one reused buffer (line endings `\n` or `\r\n`; a last
/// line without a newline is read too).
#[derive(Debug)]
pub struct TextLines {
    path: PathBuf,
    reader: BufReader<File>,
    buf: Vec<u8>,
    line: u64,
}

impl TextLines {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<TextLines> {
        let file = File::open(path).map_err(|e| ConvertError::io(path, e))?;
        Ok(TextLines {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 20, file),
            buf: Vec::new(),
            line: 0,
        })
    }

    /// Reads the next line; false at the end of the file.
    pub fn advance(&mut self) -> Result<bool> {
        self.buf.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| ConvertError::io(&self.path, e))?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(true)
    }

    /// The current line's bytes, without its line ending.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Where the current line is, for errors.
    pub fn row(&self) -> Row<'_> {
        Row {
            path: &self.path,
            position: Position::Line(self.line),
        }
    }

    /// The current line as UTF-8 text; invalid bytes are an error naming the line.
    pub fn utf8(&self) -> Result<&str, RowError> {
        std::str::from_utf8(&self.buf)
            .map_err(|e| self.row().error("(line)", format!("not UTF-8 text: {e}")))
    }

    /// The current line decoded as ISO-8859-1 (Latin-1), where every byte is one character.
    pub fn latin1(&self) -> String {
        self.buf.iter().map(|&b| char::from(b)).collect()
    }
}

/// Splits `text` on `separator` into the first `N` fields without allocating; also returns the
/// total number of fields, so a caller can reject rows with too many or too few.
pub fn split_fields<const N: usize>(text: &str, separator: char) -> ([&str; N], usize) {
    let mut fields = [""; N];
    let mut count = 0;
    for field in text.split(separator) {
        if let Some(slot) = fields.get_mut(count) {
            *slot = field;
        }
        count += 1;
    }
    (fields, count)
}

/// The position of one row, for building errors about its fields.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// The input file.
    pub path: &'a Path,
    /// The row's line or row number.
    pub position: Position,
}

impl Row<'_> {
    /// An error about `field` of this row.
    pub fn error(&self, field: &str, message: impl Into<String>) -> RowError {
        RowError {
            path: self.path.to_path_buf(),
            position: self.position,
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// Checks that the row has exactly `expected` fields.
    pub fn expect_fields(&self, found: usize, expected: usize) -> Result<(), RowError> {
        if found == expected {
            Ok(())
        } else {
            Err(self.error("(row)", format!("has {found} fields, expected {expected}")))
        }
    }

    /// Parses `text` as an integer.
    pub fn int(&self, field: &str, text: &str) -> Result<i64, RowError> {
        text.trim()
            .parse()
            .map_err(|_| self.error(field, format!("{text:?} is not an integer")))
    }

    /// Parses `text` as a finite number.
    pub fn float(&self, field: &str, text: &str) -> Result<f32, RowError> {
        match text.trim().parse::<f32>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.error(field, format!("{text:?} is not a finite number"))),
        }
    }

    /// Parses `text` as a timestamp (unix seconds or `YYYY-MM-DD HH:MM:SS`).
    pub fn timestamp(&self, field: &str, text: &str) -> Result<i64, RowError> {
        parse_timestamp(text).map_err(|message| self.error(field, message))
    }

    /// `text` itself, or an error when it is empty.
    pub fn required<'t>(&self, field: &str, text: &'t str) -> Result<&'t str, RowError> {
        let text = text.trim();
        if text.is_empty() {
            Err(self.error(field, "is empty"))
        } else {
            Ok(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_crlf_lf_and_an_unterminated_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        std::fs::write(&path, b"a\r\nb\n\xe9t\xe9").unwrap();
        let mut lines = TextLines::open(&path).unwrap();
        let mut seen = Vec::new();
        let mut utf8 = Vec::new();
        while lines.advance().unwrap() {
            seen.push(lines.latin1());
            utf8.push(lines.utf8().map(str::to_string));
        }
        assert_eq!(seen, vec!["a", "b", "été"]);
        assert_eq!(utf8[1], Ok("b".to_string()));
        let err = utf8[2].clone().unwrap_err().to_string();
        assert!(
            err.contains("t.txt: line 3, field (line): not UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn split_fields_counts_every_field() {
        assert_eq!(split_fields::<3>("a\tb", '\t'), (["a", "b", ""], 2));
        assert_eq!(split_fields::<2>("a|b|c", '|'), (["a", "b"], 3));
    }

    #[test]
    fn field_errors_name_the_field_and_position() {
        let row = Row {
            path: Path::new("u.data"),
            position: Position::Line(7),
        };
        assert_eq!(
            row.int("rating", "x").unwrap_err().to_string(),
            "u.data: line 7, field rating: \"x\" is not an integer"
        );
        assert!(row.float("rating", "nan").is_err());
        assert_eq!(
            row.expect_fields(3, 4).unwrap_err().message,
            "has 3 fields, expected 4"
        );
        assert!(row.required("user_id", " ").is_err());
        assert_eq!(
            row.timestamp("ts", "2016-02-25 13:05:09"),
            Ok(1_456_405_509)
        );
    }
}
