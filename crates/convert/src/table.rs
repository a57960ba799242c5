//! The converted rows, held column by column until every label, vocabulary and split is known,
//! then written split by split as MDS datasets.
//!
//! Column kinds and their MDS encodings: ids, labels and timestamps are `int`; ratings are
//! `float32`; dense features are one fixed-width `ndarray:float32:W`; multi-hot bags are a
//! variable-length `ndarray:int64`. MDS cannot store an array with no elements, so an empty bag
//! is stored as `[0]`, the reserved "missing" index.

use crate::error::Result;
use cascade_mds::{Column, DType, Encoding, MdsWriter, NdArray, Value, WriterOptions};
use std::path::Path;

/// Variable-length lists of indices (one bag per row), stored flat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bags {
    offsets: Vec<usize>,
    values: Vec<i64>,
}

impl Default for Bags {
    fn default() -> Self {
        Bags {
            offsets: vec![0],
            values: Vec::new(),
        }
    }
}

impl Bags {
    /// Appends one row's bag; an empty bag becomes `[0]` (missing).
    pub fn push(&mut self, bag: &[i64]) {
        if bag.is_empty() {
            self.values.push(0);
        }
        self.values.extend_from_slice(bag);
        self.offsets.push(self.values.len());
    }

    /// Number of bags.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// True when no bag was pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`'s bag.
    pub fn get(&self, i: usize) -> &[i64] {
        &self.values[self.offsets[i]..self.offsets[i + 1]]
    }
}

/// One column's values for every row.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    /// Integers (`int`).
    Int(Vec<i64>),
    /// Floats (`float32`).
    Float(Vec<f32>),
    /// `width` floats per row, row-major (`ndarray:float32:width`).
    FloatArray {
        /// Values per row.
        width: usize,
        /// `rows * width` values.
        values: Vec<f32>,
    },
    /// A bag of indices per row (`ndarray:int64`, variable length).
    Bag(Bags),
}

impl ColumnValues {
    fn len(&self) -> usize {
        match self {
            ColumnValues::Int(v) => v.len(),
            ColumnValues::Float(v) => v.len(),
            ColumnValues::FloatArray { width, values } => values.len() / (*width).max(1),
            ColumnValues::Bag(bags) => bags.len(),
        }
    }

    fn encoding(&self) -> Encoding {
        match self {
            ColumnValues::Int(_) => Encoding::Int,
            ColumnValues::Float(_) => Encoding::Scalar(DType::F32),
            ColumnValues::FloatArray { width, .. } => Encoding::NdArray {
                dtype: Some(DType::F32),
                shape: Some(vec![*width]),
            },
            ColumnValues::Bag(_) => Encoding::NdArray {
                dtype: Some(DType::I64),
                shape: None,
            },
        }
    }

    fn value(&self, row: usize) -> Value {
        match self {
            ColumnValues::Int(v) => Value::Int(v[row]),
            ColumnValues::Float(v) => Value::Float(f64::from(v[row])),
            ColumnValues::FloatArray { width, values } => {
                Value::Array(NdArray::from_f32(&values[row * width..(row + 1) * width]))
            }
            ColumnValues::Bag(bags) => Value::Array(NdArray::from_i64(bags.get(row))),
        }
    }
}

/// Named columns of equal length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    rows: usize,
    columns: Vec<(String, ColumnValues)>,
}

impl Table {
    /// A table of `rows` rows and no columns yet.
    pub fn new(rows: usize) -> Table {
        Table {
            rows,
            columns: Vec::new(),
        }
    }

    /// Adds a column; its length must be the table's row count (a converter bug otherwise).
    pub fn add(&mut self, name: &str, values: ColumnValues) {
        assert_eq!(
            values.len(),
            self.rows,
            "column {name} has the wrong number of rows"
        );
        self.columns.push((name.to_string(), values));
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnValues> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Writes rows `rows` (in that order) as an MDS dataset in `dir`; returns the sample count.
    pub fn write(&self, dir: &Path, rows: &[usize], options: &WriterOptions) -> Result<u64> {
        let columns: Vec<Column> = self
            .columns
            .iter()
            .map(|(name, values)| Column {
                name: name.clone(),
                encoding: values.encoding(),
            })
            .collect();
        let mut writer = MdsWriter::create(dir, columns, options.clone())?;
        let order: Vec<&ColumnValues> = writer
            .columns()
            .iter()
            .filter_map(|c| self.column(&c.name))
            .collect();
        let mut sample = Vec::with_capacity(order.len());
        for &row in rows {
            sample.clear();
            sample.extend(order.iter().map(|values| values.value(row)));
            writer.write(&sample)?;
        }
        writer.finish()?;
        Ok(rows.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_carry_their_encodings() {
        let mut bags = Bags::default();
        bags.push(&[3, 4]);
        bags.push(&[]);
        let mut table = Table::new(2);
        table.add("label", ColumnValues::Int(vec![1, 0]));
        table.add("rating", ColumnValues::Float(vec![4.5, 1.0]));
        table.add(
            "dense",
            ColumnValues::FloatArray {
                width: 2,
                values: vec![1.0, 2.0, 3.0, 4.0],
            },
        );
        table.add("genres", ColumnValues::Bag(bags));
        let dense = table.column("dense").unwrap().value(1);
        let Value::Array(array) = dense else {
            panic!("dense is an array")
        };
        assert_eq!(array.shape, vec![2]);
        assert_eq!(
            array.data,
            [3.0f32.to_le_bytes(), 4.0f32.to_le_bytes()].concat()
        );
        let Value::Array(empty) = table.column("genres").unwrap().value(1) else {
            panic!("genres is an array")
        };
        assert_eq!(
            empty,
            NdArray::from_i64(&[0]),
            "an empty bag is stored as the missing index"
        );
        assert_eq!(table.column("rating").unwrap().value(0), Value::Float(4.5));
        assert_eq!(
            table.column("genres").unwrap().encoding(),
            Encoding::NdArray {
                dtype: Some(DType::I64),
                shape: None
            }
        );
    }
}
