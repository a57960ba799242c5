//! Column encodings (`int`, `int8`..`uint64`, `float16/32/64`, `str`, `bytes`, `json`,
//! `ndarray[:dtype[:shape]]`) and the dynamically typed [`Value`] a column holds.
//!
//! `pkl` is refused: it would execute Python code on read.

use crate::Result;

/// Element type of an `ndarray` column (and of the fixed-width scalar encodings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F16,
    F32,
    F64,
}

/// One column's encoding, as written in `index.json`'s `column_encodings`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `int`: a Python int stored as little-endian int64.
    Int,
    /// `int8`..`uint64`, `float16`/`float32`/`float64`: one little-endian scalar.
    Scalar(DType),
    /// `str`: UTF-8 text.
    Str,
    /// `bytes`: raw bytes.
    Bytes,
    /// `json`: UTF-8 JSON text.
    Json,
    /// `ndarray`, `ndarray:DTYPE` or `ndarray:DTYPE:D1,D2,...`; what the string omits is stored
    /// in each sample's bytes.
    NdArray { dtype: Option<DType>, shape: Option<Vec<usize>> },
}

impl Encoding {
    /// Parses an MDS encoding string; `pkl` and unknown names are errors naming the string.
    pub fn parse(text: &str) -> Result<Encoding> {
        let _ = text;
        todo!()
    }

    /// Size in bytes of every value of this encoding, or `None` when it varies per sample
    /// (this is `column_sizes` in the index).
    pub fn fixed_size(&self) -> Option<usize> {
        todo!()
    }

    /// Appends `value`'s bytes in this encoding to `out`; a value of the wrong kind or out of
    /// range is an error naming `column`.
    pub fn encode(&self, column: &str, value: &Value, out: &mut Vec<u8>) -> Result<()> {
        let _ = (column, value, out);
        todo!()
    }

    /// Decodes one value of this encoding from exactly `bytes`.
    pub fn decode(&self, column: &str, bytes: &[u8]) -> Result<Value> {
        let _ = (column, bytes);
        todo!()
    }
}

impl std::fmt::Display for Encoding {
    /// The MDS encoding string, as `index.json` spells it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let _ = f;
        todo!()
    }
}

/// A named, encoded column of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Column {
    /// Column name (a key of each sample).
    pub name: String,
    /// How its values are stored.
    pub encoding: Encoding,
}

/// An n-dimensional array value: element type, shape, and little-endian element bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct NdArray {
    /// Element type.
    pub dtype: DType,
    /// Shape (row-major).
    pub shape: Vec<usize>,
    /// `product(shape) * dtype size` little-endian bytes.
    pub data: Vec<u8>,
}

/// One value of one column of one sample.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Any signed integer encoding (`int`, `int8`..`int64`).
    Int(i64),
    /// Any unsigned integer encoding.
    UInt(u64),
    /// Any float encoding.
    Float(f64),
    /// `str`.
    Str(String),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `json`.
    Json(serde_json::Value),
    /// `ndarray`.
    Array(NdArray),
}
