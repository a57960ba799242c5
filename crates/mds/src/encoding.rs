//! Column encodings (`int`, `int8`..`uint64`, `float16/32/64`, `str`, `bytes`, `json`,
//! `ndarray[:dtype[:shape]]`) and the dynamically typed [`Value`] a column holds.
//!
//! `pkl` is refused: it would execute Python code on read. The other Python-only encodings
//! (`str_int`, `str_float`, `str_decimal`, `pil`, `jpeg`, `png`) are refused with a message
//! naming them.
//!
//! An `ndarray` column stores, per sample, whatever its encoding string leaves open: one dtype
//! byte when the dtype is not fixed, then (when the shape is not fixed) one byte
//! `ndim << 2 | shape_width` with `shape_width` 0..=3 meaning u8/u16/u32/u64 dimensions, followed
//! by the `ndim` dimensions; then the little-endian elements in row-major order.

use crate::{MdsError, Result};

/// Element type of an `ndarray` column (and of the fixed-width scalar encodings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// `int8`.
    I8,
    /// `int16`.
    I16,
    /// `int32`.
    I32,
    /// `int64`.
    I64,
    /// `uint8`.
    U8,
    /// `uint16`.
    U16,
    /// `uint32`.
    U32,
    /// `uint64`.
    U64,
    /// `float16` (IEEE half precision).
    F16,
    /// `float32`.
    F32,
    /// `float64`.
    F64,
}

impl DType {
    /// Every dtype, for parsing and exhaustive tests.
    pub const ALL: [DType; 11] = [
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::F16,
        DType::F32,
        DType::F64,
    ];

    /// The numpy name (`int8`, `float32`, ...), as encoding strings spell it.
    pub fn name(self) -> &'static str {
        match self {
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U8 => "uint8",
            DType::U16 => "uint16",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
            DType::F16 => "float16",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// Parses a numpy dtype name; `None` when it is not one of [`DType::ALL`].
    pub fn from_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::I8 | DType::U8 => 1,
            DType::I16 | DType::U16 | DType::F16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 => 8,
        }
    }

    /// True for the signed integer dtypes.
    pub fn is_signed_int(self) -> bool {
        matches!(self, DType::I8 | DType::I16 | DType::I32 | DType::I64)
    }

    /// True for the float dtypes.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::F32 | DType::F64)
    }

    /// The byte that names this dtype in a dynamic-dtype `ndarray` sample.
    pub fn ndarray_code(self) -> u8 {
        match self {
            DType::U8 => 8,
            DType::I8 => 9,
            DType::U16 => 16,
            DType::I16 => 17,
            DType::F16 => 18,
            DType::U32 => 32,
            DType::I32 => 33,
            DType::F32 => 34,
            DType::U64 => 64,
            DType::I64 => 65,
            DType::F64 => 66,
        }
    }

    /// The dtype a dynamic-dtype `ndarray` sample's first byte names, if any.
    pub fn from_ndarray_code(code: u8) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.ndarray_code() == code)
    }
}

impl std::fmt::Display for DType {
    /// The numpy name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
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
    NdArray {
        /// Element type, when fixed for the column.
        dtype: Option<DType>,
        /// Shape, when fixed for the column (only allowed together with a dtype).
        shape: Option<Vec<usize>>,
    },
}

/// Python-only encodings Cascade refuses, with the reason.
const REFUSED: [(&str, &str); 7] = [
    (
        "pkl",
        "pickle data runs arbitrary Python code when read; re-write the column as json, bytes or ndarray",
    ),
    (
        "str_int",
        "not supported by Cascade; re-write the column as int",
    ),
    (
        "str_float",
        "not supported by Cascade; re-write the column as float64",
    ),
    (
        "str_decimal",
        "not supported by Cascade; re-write the column as str",
    ),
    (
        "pil",
        "images are not supported by Cascade; re-write the column as bytes",
    ),
    (
        "jpeg",
        "images are not supported by Cascade; re-write the column as bytes",
    ),
    (
        "png",
        "images are not supported by Cascade; re-write the column as bytes",
    ),
];

impl Encoding {
    /// Parses an MDS encoding string; `pkl` and unknown names are errors naming the string.
    pub fn parse(text: &str) -> Result<Encoding> {
        let err = |message: &str| MdsError::Encoding {
            encoding: text.to_string(),
            message: message.to_string(),
        };
        let (name, rest) = match text.split_once(':') {
            Some((name, rest)) => (name, Some(rest)),
            None => (text, None),
        };
        if let Some((_, why)) = REFUSED.iter().find(|(n, _)| *n == name) {
            return Err(err(why));
        }
        if name == "ndarray" {
            return parse_ndarray(rest).map_err(|m| err(&m));
        }
        if rest.is_some() {
            return Err(err("this encoding takes no parameters"));
        }
        match name {
            "int" => Ok(Encoding::Int),
            "str" => Ok(Encoding::Str),
            "bytes" => Ok(Encoding::Bytes),
            "json" => Ok(Encoding::Json),
            _ => DType::from_name(name).map(Encoding::Scalar).ok_or_else(|| {
                err(
                    "unknown encoding; supported: int, int8..int64, uint8..uint64, float16, \
                     float32, float64, str, bytes, json, ndarray[:dtype[:shape]]",
                )
            }),
        }
    }

    /// Size in bytes of every value of this encoding, or `None` when it varies per sample
    /// (this is `column_sizes` in the index).
    pub fn fixed_size(&self) -> Option<usize> {
        match self {
            Encoding::Int => Some(8),
            Encoding::Scalar(d) => Some(d.size()),
            Encoding::NdArray {
                dtype: Some(d),
                shape: Some(shape),
            } => shape
                .iter()
                .try_fold(d.size(), |acc, &n| acc.checked_mul(n)),
            _ => None,
        }
    }

    /// Appends `value`'s bytes in this encoding to `out`; a value of the wrong kind or out of
    /// range is an error naming `column`.
    pub fn encode(&self, column: &str, value: &Value, out: &mut Vec<u8>) -> Result<()> {
        let err = |message: String| MdsError::Value {
            column: column.to_string(),
            message,
        };
        match (self, value) {
            (Encoding::Int, v) => encode_scalar(DType::I64, v, out).map_err(err),
            (Encoding::Scalar(d), v) => encode_scalar(*d, v, out).map_err(err),
            (Encoding::Str, Value::Str(s)) => {
                out.extend_from_slice(s.as_bytes());
                Ok(())
            }
            (Encoding::Bytes, Value::Bytes(b)) => {
                out.extend_from_slice(b);
                Ok(())
            }
            (Encoding::Json, Value::Json(j)) => {
                crate::pyjson::write_value(j, false, out);
                Ok(())
            }
            (Encoding::NdArray { dtype, shape }, Value::Array(a)) => {
                encode_ndarray(*dtype, shape.as_deref(), a, out).map_err(err)
            }
            (encoding, v) => Err(err(format!(
                "a {} value cannot be stored as {encoding}",
                v.kind()
            ))),
        }
    }

    /// Decodes one value of this encoding from exactly `bytes`.
    pub fn decode(&self, column: &str, bytes: &[u8]) -> Result<Value> {
        let err = |message: String| MdsError::Value {
            column: column.to_string(),
            message,
        };
        match self {
            Encoding::Int | Encoding::Scalar(_) => {
                let n = self.numeric(column, bytes)?;
                Ok(n.scalar_value())
            }
            Encoding::Str => match std::str::from_utf8(bytes) {
                Ok(s) => Ok(Value::Str(s.to_string())),
                Err(e) => Err(err(format!("str value is not UTF-8: {e}"))),
            },
            Encoding::Bytes => Ok(Value::Bytes(bytes.to_vec())),
            Encoding::Json => serde_json::from_slice(bytes)
                .map(Value::Json)
                .map_err(|e| err(format!("json value is not valid JSON: {e}"))),
            Encoding::NdArray { .. } => {
                let n = self.numeric(column, bytes)?;
                Ok(Value::Array(NdArray {
                    dtype: n.dtype,
                    shape: n.shape(),
                    data: n.data.to_vec(),
                }))
            }
        }
    }

    /// Borrows the elements of a numeric value (`int`, a scalar or an `ndarray`) without
    /// copying, after checking its header and length: the fast path for batch assembly.
    pub fn numeric<'a>(&'a self, column: &str, bytes: &'a [u8]) -> Result<Numeric<'a>> {
        let err = |message: String| MdsError::Value {
            column: column.to_string(),
            message,
        };
        let (dtype, shape, data) = match self {
            Encoding::Int => (DType::I64, ShapeSpec::Scalar, bytes),
            Encoding::Scalar(d) => (*d, ShapeSpec::Scalar, bytes),
            Encoding::NdArray { dtype, shape } => {
                let mut rest = bytes;
                let dtype = match dtype {
                    Some(d) => *d,
                    None => {
                        let (&code, tail) = rest
                            .split_first()
                            .ok_or_else(|| err("ndarray value is empty (no dtype byte)".into()))?;
                        rest = tail;
                        DType::from_ndarray_code(code).ok_or_else(|| {
                            err(format!("ndarray dtype byte {code} names no dtype"))
                        })?
                    }
                };
                let shape = match shape {
                    Some(s) => ShapeSpec::Fixed(s),
                    None => {
                        let (&head, tail) = rest
                            .split_first()
                            .ok_or_else(|| err("ndarray value ends before its shape".into()))?;
                        let ndim = usize::from(head >> 2);
                        let width = 1usize << (head & 3);
                        let len = ndim * width;
                        if tail.len() < len {
                            return Err(err(format!(
                                "ndarray value ends inside its {ndim}-dimension shape"
                            )));
                        }
                        rest = &tail[len..];
                        ShapeSpec::Stored {
                            width,
                            bytes: &tail[..len],
                        }
                    }
                };
                (dtype, shape, rest)
            }
            other => {
                return Err(err(format!("{other} values are not numeric")));
            }
        };
        let count = shape
            .count()
            .ok_or_else(|| err("ndarray shape overflows".into()))?;
        let want = count.checked_mul(dtype.size());
        if want != Some(data.len()) {
            return Err(err(format!(
                "{self} value has {} element bytes, its shape needs {}",
                data.len(),
                want.map_or("more than fit in memory".to_string(), |w| w.to_string())
            )));
        }
        Ok(Numeric { dtype, shape, data })
    }
}

/// Parses the part of an `ndarray` encoding after `ndarray:` (if any).
fn parse_ndarray(rest: Option<&str>) -> std::result::Result<Encoding, String> {
    let Some(rest) = rest else {
        return Ok(Encoding::NdArray {
            dtype: None,
            shape: None,
        });
    };
    let (dtype, shape) = match rest.split_once(':') {
        Some((d, s)) => (d, Some(s)),
        None => (rest, None),
    };
    let dtype = DType::from_name(dtype).ok_or_else(|| {
        format!("ndarray dtype {dtype:?} is not one of int8..uint64, float16..float64")
    })?;
    let shape = match shape {
        None => None,
        Some(s) => {
            let dims = s
                .split(',')
                .map(|d| match d.trim().parse::<usize>() {
                    Ok(n) if n >= 1 => Ok(n),
                    _ => Err(format!(
                        "ndarray dimension {d:?} is not a whole number >= 1"
                    )),
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            if dims.len() >= 64 {
                return Err(format!(
                    "ndarray shape has {} dimensions; at most 63",
                    dims.len()
                ));
            }
            if dims
                .iter()
                .try_fold(dtype.size(), |a, &n| a.checked_mul(n))
                .is_none()
            {
                return Err("ndarray shape is too large".into());
            }
            Some(dims)
        }
    };
    Ok(Encoding::NdArray {
        dtype: Some(dtype),
        shape,
    })
}

/// Writes one scalar of `dtype` from `value`, checking kind and range.
fn encode_scalar(
    dtype: DType,
    value: &Value,
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    let range = |v: &dyn std::fmt::Display| format!("{v} is out of range for {dtype}");
    macro_rules! int {
        ($t:ty) => {{
            let x: $t = match *value {
                Value::Int(i) => <$t>::try_from(i).map_err(|_| range(&i))?,
                Value::UInt(u) => <$t>::try_from(u).map_err(|_| range(&u))?,
                _ => {
                    return Err(format!(
                        "a {} value cannot be stored as {dtype}",
                        value.kind()
                    ));
                }
            };
            out.extend_from_slice(&x.to_le_bytes());
        }};
    }
    match dtype {
        DType::I8 => int!(i8),
        DType::I16 => int!(i16),
        DType::I32 => int!(i32),
        DType::I64 => int!(i64),
        DType::U8 => int!(u8),
        DType::U16 => int!(u16),
        DType::U32 => int!(u32),
        DType::U64 => int!(u64),
        DType::F16 | DType::F32 | DType::F64 => {
            let x = match *value {
                Value::Float(f) => f,
                Value::Int(i) => i as f64,
                Value::UInt(u) => u as f64,
                _ => {
                    return Err(format!(
                        "a {} value cannot be stored as {dtype}",
                        value.kind()
                    ));
                }
            };
            match dtype {
                DType::F16 => out.extend_from_slice(&half::f16::from_f64(x).to_le_bytes()),
                DType::F32 => out.extend_from_slice(&(x as f32).to_le_bytes()),
                _ => out.extend_from_slice(&x.to_le_bytes()),
            }
        }
    }
    Ok(())
}

/// Writes an array under an `ndarray` encoding: the header bytes the encoding leaves open, then
/// the elements.
fn encode_ndarray(
    dtype: Option<DType>,
    shape: Option<&[usize]>,
    a: &NdArray,
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    let count = a
        .shape
        .iter()
        .try_fold(1usize, |acc, &n| acc.checked_mul(n));
    if count.and_then(|c| c.checked_mul(a.dtype.size())) != Some(a.data.len()) {
        return Err(format!(
            "array of shape {:?} and dtype {} holds {} bytes; it needs shape product x {}",
            a.shape,
            a.dtype,
            a.data.len(),
            a.dtype.size()
        ));
    }
    if a.shape.is_empty() {
        return Err(
            "a 0-dimensional array cannot be stored as ndarray; use a scalar encoding".into(),
        );
    }
    if a.data.is_empty() {
        return Err(format!(
            "an array with no elements (shape {:?}) cannot be stored",
            a.shape
        ));
    }
    match dtype {
        Some(d) if d != a.dtype => {
            return Err(format!("array dtype is {}, the column's is {d}", a.dtype));
        }
        Some(_) => {}
        None => out.push(a.dtype.ndarray_code()),
    }
    match shape {
        Some(s) if s != a.shape.as_slice() => {
            return Err(format!(
                "array shape is {:?}, the column's is {s:?}",
                a.shape
            ));
        }
        Some(_) => {}
        None => {
            if a.shape.len() >= 64 {
                return Err(format!(
                    "array has {} dimensions; at most 63",
                    a.shape.len()
                ));
            }
            let max = a.shape.iter().copied().max().unwrap_or(0) as u64;
            let code: u8 = match max {
                0..0x100 => 0,
                0x100..0x1_0000 => 1,
                0x1_0000..0x1_0000_0000 => 2,
                _ => 3,
            };
            out.push(((a.shape.len() as u8) << 2) | code);
            for &d in &a.shape {
                let d = d as u64;
                out.extend_from_slice(&d.to_le_bytes()[..1 << code]);
            }
        }
    }
    out.extend_from_slice(&a.data);
    Ok(())
}

impl std::fmt::Display for Encoding {
    /// The MDS encoding string, as `index.json` spells it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Encoding::Int => f.write_str("int"),
            Encoding::Scalar(d) => f.write_str(d.name()),
            Encoding::Str => f.write_str("str"),
            Encoding::Bytes => f.write_str("bytes"),
            Encoding::Json => f.write_str("json"),
            Encoding::NdArray { dtype, shape } => {
                f.write_str("ndarray")?;
                if let Some(d) = dtype {
                    write!(f, ":{d}")?;
                }
                if let Some(s) = shape {
                    let dims: Vec<String> = s.iter().map(usize::to_string).collect();
                    write!(f, ":{}", dims.join(","))?;
                }
                Ok(())
            }
        }
    }
}

/// How a [`Numeric`] knows its shape.
#[derive(Debug, Clone, Copy)]
enum ShapeSpec<'a> {
    /// A scalar encoding: no dimensions.
    Scalar,
    /// The column's fixed shape.
    Fixed(&'a [usize]),
    /// Dimensions stored in the sample, each `width` bytes little-endian.
    Stored { width: usize, bytes: &'a [u8] },
}

impl ShapeSpec<'_> {
    /// The dimensions.
    fn dims(&self) -> Vec<usize> {
        match *self {
            ShapeSpec::Scalar => Vec::new(),
            ShapeSpec::Fixed(s) => s.to_vec(),
            ShapeSpec::Stored { width, bytes } => bytes
                .chunks_exact(width)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b[..width].copy_from_slice(c);
                    u64::from_le_bytes(b) as usize
                })
                .collect(),
        }
    }

    /// Number of elements, or `None` on overflow.
    fn count(&self) -> Option<usize> {
        match self {
            ShapeSpec::Scalar => Some(1),
            ShapeSpec::Fixed(s) => s.iter().try_fold(1usize, |a, &n| a.checked_mul(n)),
            ShapeSpec::Stored { .. } => self
                .dims()
                .iter()
                .try_fold(1usize, |a, &n| a.checked_mul(n)),
        }
    }
}

/// The elements of one numeric value, borrowed from shard bytes: what batch assembly reads
/// without building a [`Value`].
#[derive(Debug, Clone, Copy)]
pub struct Numeric<'a> {
    /// Element type.
    pub dtype: DType,
    shape: ShapeSpec<'a>,
    /// Little-endian element bytes (`len() * dtype.size()` of them).
    pub data: &'a [u8],
}

/// Reads element `i` of little-endian `data` as type `$t`.
macro_rules! le {
    ($t:ty, $data:expr, $i:expr) => {{
        const N: usize = std::mem::size_of::<$t>();
        let mut b = [0u8; N];
        b.copy_from_slice(&$data[$i * N..($i + 1) * N]);
        <$t>::from_le_bytes(b)
    }};
}

impl<'a> Numeric<'a> {
    /// Number of elements (1 for a scalar).
    pub fn len(&self) -> usize {
        self.data.len() / self.dtype.size()
    }

    /// True when there are no elements (never for values this crate validated).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The shape (empty for a scalar).
    pub fn shape(&self) -> Vec<usize> {
        self.shape.dims()
    }

    /// Element `i` as f64 (exact for every dtype except 64-bit integers beyond 2^53).
    /// Panics when `i >= len()` (an index the caller chose, not file data).
    pub fn get_f64(&self, i: usize) -> f64 {
        let d = self.data;
        match self.dtype {
            DType::I8 => d[i] as i8 as f64,
            DType::U8 => d[i] as f64,
            DType::I16 => le!(i16, d, i) as f64,
            DType::U16 => le!(u16, d, i) as f64,
            DType::I32 => le!(i32, d, i) as f64,
            DType::U32 => le!(u32, d, i) as f64,
            DType::I64 => le!(i64, d, i) as f64,
            DType::U64 => le!(u64, d, i) as f64,
            DType::F16 => half::f16::from_bits(le!(u16, d, i)).to_f64(),
            DType::F32 => le!(f32, d, i) as f64,
            DType::F64 => le!(f64, d, i),
        }
    }

    /// Element `i` as i64 when it is an integer that fits; `None` for floats and for
    /// `uint64` values above `i64::MAX`. Panics when `i >= len()`.
    pub fn get_i64(&self, i: usize) -> Option<i64> {
        let d = self.data;
        Some(match self.dtype {
            DType::I8 => d[i] as i8 as i64,
            DType::U8 => d[i] as i64,
            DType::I16 => le!(i16, d, i) as i64,
            DType::U16 => le!(u16, d, i) as i64,
            DType::I32 => le!(i32, d, i) as i64,
            DType::U32 => le!(u32, d, i) as i64,
            DType::I64 => le!(i64, d, i),
            DType::U64 => i64::try_from(le!(u64, d, i)).ok()?,
            DType::F16 | DType::F32 | DType::F64 => return None,
        })
    }

    /// Appends every element to `out` as f32 (the dense-feature path); `float32` data is copied
    /// without conversion.
    pub fn extend_f32(&self, out: &mut Vec<f32>) {
        if self.dtype == DType::F32 {
            out.extend(
                self.data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            );
        } else {
            out.extend((0..self.len()).map(|i| self.get_f64(i) as f32));
        }
    }

    /// Appends every element to `out` as i64 (the sparse-id path); an error naming `column`
    /// for float elements or `uint64` values above `i64::MAX`.
    pub fn extend_i64(&self, column: &str, out: &mut Vec<i64>) -> Result<()> {
        if self.dtype == DType::I64 {
            out.extend(
                self.data
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])),
            );
            return Ok(());
        }
        out.reserve(self.len());
        for i in 0..self.len() {
            let v = self.get_i64(i).ok_or_else(|| MdsError::Value {
                column: column.to_string(),
                message: format!(
                    "{} element {} is not an integer id",
                    self.dtype,
                    self.get_f64(i)
                ),
            })?;
            out.push(v);
        }
        Ok(())
    }

    /// The value as a [`Value`] scalar: `Int`, `UInt` or `Float` by dtype (element 0).
    fn scalar_value(&self) -> Value {
        match self.dtype {
            d if d.is_float() => Value::Float(self.get_f64(0)),
            DType::U64 => Value::UInt(le!(u64, self.data, 0)),
            d if d.is_signed_int() => Value::Int(self.get_i64(0).unwrap_or_default()),
            _ => Value::UInt(self.get_i64(0).unwrap_or_default() as u64),
        }
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

impl Column {
    /// A column from a name and an encoding string (errors name the string).
    pub fn new(name: impl Into<String>, encoding: &str) -> Result<Column> {
        Ok(Column {
            name: name.into(),
            encoding: Encoding::parse(encoding)?,
        })
    }
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

impl NdArray {
    /// A 1-D `float32` array.
    pub fn from_f32(values: &[f32]) -> NdArray {
        NdArray {
            dtype: DType::F32,
            shape: vec![values.len()],
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    /// A 1-D `int64` array.
    pub fn from_i64(values: &[i64]) -> NdArray {
        NdArray {
            dtype: DType::I64,
            shape: vec![values.len()],
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    /// Borrows the elements for typed access.
    pub fn numeric(&self) -> Numeric<'_> {
        Numeric {
            dtype: self.dtype,
            shape: ShapeSpec::Fixed(&self.shape),
            data: &self.data,
        }
    }
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

impl Value {
    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Int(_) => "signed integer",
            Value::UInt(_) => "unsigned integer",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Json(_) => "json",
            Value::Array(_) => "ndarray",
        }
    }
}

impl From<NdArray> for Value {
    /// An array as an `ndarray` column value.
    fn from(a: NdArray) -> Value {
        Value::Array(a)
    }
}
