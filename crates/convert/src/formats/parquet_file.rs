//! Reading a Parquet file row by row for the generic converter: record batches are decoded with
//! the Arrow reader and each mapped column is turned into text (timestamps as unix seconds,
//! list columns joined with `|`), so Parquet and CSV share one set of parsing rules.

use crate::error::{ConvertError, Position, Result, RowError};
use crate::formats::csv_file::Next;
use crate::formats::generic::RowSource;
use crate::text::Row;
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Rows decoded per batch.
const BATCH_ROWS: usize = 8192;

/// A Parquet file being read row by row.
pub struct ParquetFile {
    path: PathBuf,
    schema: SchemaRef,
    reader: ParquetRecordBatchReader,
    wanted: Vec<usize>,
    text: Vec<Option<StringArray>>,
    batch_rows: usize,
    in_batch: usize,
    row: u64,
}

impl std::fmt::Debug for ParquetFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetFile")
            .field("path", &self.path)
            .field("row", &self.row)
            .finish()
    }
}

impl ParquetFile {
    /// Opens `path`; an unreadable or non-Parquet file is an error naming it.
    pub fn open(path: &Path) -> Result<ParquetFile> {
        let file = File::open(path).map_err(|e| ConvertError::io(path, e))?;
        let bad = |e: parquet::errors::ParquetError| {
            ConvertError::input(path, format!("not a readable Parquet file: {e}"))
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(bad)?;
        let schema = builder.schema().clone();
        let reader = builder.with_batch_size(BATCH_ROWS).build().map_err(bad)?;
        Ok(ParquetFile {
            path: path.to_path_buf(),
            schema,
            reader,
            wanted: Vec::new(),
            text: Vec::new(),
            batch_rows: 0,
            in_batch: 0,
            row: 0,
        })
    }

    fn load(&mut self, batch: &RecordBatch) -> Result<()> {
        self.text = vec![None; batch.num_columns()];
        for &i in &self.wanted {
            let name = self.schema.field(i).name().clone();
            let text = as_text(batch.column(i)).map_err(|message| {
                ConvertError::input(&self.path, format!("column {name:?}: {message}"))
            })?;
            self.text[i] = Some(text);
        }
        self.batch_rows = batch.num_rows();
        self.in_batch = 0;
        Ok(())
    }
}

/// A column's values as text: nulls are empty, timestamps unix seconds, lists joined with `|`.
fn as_text(column: &ArrayRef) -> Result<StringArray, String> {
    let err = |e: arrow::error::ArrowError| e.to_string();
    match column.data_type() {
        DataType::Timestamp(_, _) => {
            let seconds =
                cast(column, &DataType::Timestamp(TimeUnit::Second, None)).map_err(err)?;
            let ints = cast(&seconds, &DataType::Int64).map_err(err)?;
            Ok(cast(&ints, &DataType::Utf8)
                .map_err(err)?
                .as_string::<i32>()
                .clone())
        }
        DataType::List(_) | DataType::LargeList(_) => {
            let (offsets, values): (Vec<usize>, ArrayRef) = match column.data_type() {
                DataType::List(_) => {
                    let list = column.as_list::<i32>();
                    (
                        list.value_offsets().iter().map(|&o| o as usize).collect(),
                        list.values().clone(),
                    )
                }
                _ => {
                    let list = column.as_list::<i64>();
                    (
                        list.value_offsets().iter().map(|&o| o as usize).collect(),
                        list.values().clone(),
                    )
                }
            };
            let values = as_text(&values)?;
            let mut builder = StringBuilder::new();
            let mut joined = String::new();
            for row in 0..column.len() {
                if column.is_null(row) {
                    builder.append_null();
                    continue;
                }
                joined.clear();
                for (n, v) in (offsets[row]..offsets[row + 1]).enumerate() {
                    if n > 0 {
                        joined.push('|');
                    }
                    joined.push_str(if values.is_null(v) {
                        ""
                    } else {
                        values.value(v)
                    });
                }
                builder.append_value(&joined);
            }
            Ok(builder.finish())
        }
        _ => Ok(cast(column, &DataType::Utf8)
            .map_err(err)?
            .as_string::<i32>()
            .clone()),
    }
}

impl RowSource for ParquetFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn column(&mut self, name: &str) -> Result<usize> {
        let index = self.schema.index_of(name).map_err(|_| {
            let names: Vec<&str> = self
                .schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            ConvertError::input(
                &self.path,
                format!("no column {name:?}; the file has: {}", names.join(", ")),
            )
        })?;
        if !self.wanted.contains(&index) {
            self.wanted.push(index);
        }
        Ok(index)
    }

    fn advance(&mut self) -> Result<Next> {
        while self.in_batch >= self.batch_rows {
            match self.reader.next() {
                None => return Ok(Next::End),
                Some(Err(e)) => {
                    return Err(ConvertError::input(
                        &self.path,
                        format!("reading row {}: {e}", self.row + 1),
                    ));
                }
                Some(Ok(batch)) => self.load(&batch)?,
            }
        }
        self.in_batch += 1;
        self.row += 1;
        Ok(Next::Record)
    }

    fn get(&self, index: usize, name: &str) -> Result<&str, RowError> {
        let column = self
            .text
            .get(index)
            .and_then(Option::as_ref)
            .ok_or_else(|| {
                self.row()
                    .error(name, "column was not resolved before reading")
            })?;
        let i = self.in_batch - 1;
        Ok(if column.is_null(i) {
            ""
        } else {
            column.value(i)
        })
    }

    fn row(&self) -> Row<'_> {
        Row {
            path: &self.path,
            position: Position::Row(self.row),
        }
    }
}
