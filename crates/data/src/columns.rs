//! Typed access to a column's encoded bytes without building a [`Value`](cascade_mds::Value):
//! the element type and the element bytes of numeric scalars and `ndarray`s, as the batch builder
//! needs them (floats for dense features, integers for ids and labels).
//!
//! `ndarray` bytes follow Mosaic's layout: when the encoding string omits the dtype, one byte of
//! dtype code comes first; when it omits the shape, one byte `ndim << 2 | shape-dtype code` and
//! `ndim` unsigned shape entries follow; then the little-endian values.

use cascade_mds::{DType, Encoding};

/// Size in bytes of one element of `dtype`.
pub(crate) fn dtype_size(dtype: DType) -> usize {
    match dtype {
        DType::I8 | DType::U8 => 1,
        DType::I16 | DType::U16 | DType::F16 => 2,
        DType::I32 | DType::U32 | DType::F32 => 4,
        DType::I64 | DType::U64 | DType::F64 => 8,
    }
}

/// True for the floating-point element types.
pub(crate) fn is_float(dtype: DType) -> bool {
    matches!(dtype, DType::F16 | DType::F32 | DType::F64)
}

/// The dtype of Mosaic's one-byte `ndarray` dtype code.
fn dtype_of_code(code: u8) -> Option<DType> {
    Some(match code {
        8 => DType::U8,
        9 => DType::I8,
        16 => DType::U16,
        17 => DType::I16,
        18 => DType::F16,
        32 => DType::U32,
        33 => DType::I32,
        34 => DType::F32,
        64 => DType::U64,
        65 => DType::I64,
        66 => DType::F64,
        _ => return None,
    })
}

/// How a numeric column's values are laid out, decided once per column from its encoding.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Numeric {
    /// One scalar of this type per sample (`int` is an `I64` scalar).
    Scalar(DType),
    /// An `ndarray`; the parts the encoding string leaves out are read from each sample.
    Array {
        dtype: Option<DType>,
        fixed_len: Option<usize>,
    },
}

impl Numeric {
    /// The numeric layout of `encoding`, or `None` for text, bytes and JSON columns.
    pub(crate) fn of(encoding: &Encoding) -> Option<Numeric> {
        match encoding {
            Encoding::Int => Some(Numeric::Scalar(DType::I64)),
            Encoding::Scalar(d) => Some(Numeric::Scalar(*d)),
            Encoding::NdArray { dtype, shape } => Some(Numeric::Array {
                dtype: *dtype,
                fixed_len: shape.as_ref().map(|s| s.iter().product()),
            }),
            Encoding::Str | Encoding::Bytes | Encoding::Json => None,
        }
    }

    /// The element type when the encoding fixes it.
    pub(crate) fn static_dtype(&self) -> Option<DType> {
        match self {
            Numeric::Scalar(d) => Some(*d),
            Numeric::Array { dtype, .. } => *dtype,
        }
    }

    /// The number of elements per sample when the encoding fixes it.
    pub(crate) fn static_len(&self) -> Option<usize> {
        match self {
            Numeric::Scalar(_) => Some(1),
            Numeric::Array { fixed_len, .. } => *fixed_len,
        }
    }

    /// Splits one sample's bytes into the element type and the element bytes.
    pub(crate) fn elements<'a>(&self, bytes: &'a [u8]) -> Result<(DType, &'a [u8]), String> {
        let (dtype, fixed_len, mut rest) = match self {
            Numeric::Scalar(d) => (*d, Some(1), bytes),
            Numeric::Array {
                dtype: Some(d),
                fixed_len,
            } => (*d, *fixed_len, bytes),
            Numeric::Array {
                dtype: None,
                fixed_len,
            } => {
                let (&code, rest) = bytes.split_first().ok_or("empty ndarray value")?;
                let d = dtype_of_code(code)
                    .ok_or_else(|| format!("unknown ndarray dtype code {code}"))?;
                (d, *fixed_len, rest)
            }
        };
        let size = dtype_size(dtype);
        let count = match fixed_len {
            Some(n) => n,
            None => {
                let (&byte, tail) = rest.split_first().ok_or("ndarray value has no shape")?;
                let ndim = usize::from(byte >> 2);
                let dim_size = 1usize << (byte & 3);
                let shape_bytes = ndim * dim_size;
                if tail.len() < shape_bytes {
                    return Err(format!(
                        "ndarray shape needs {shape_bytes} bytes, {} left",
                        tail.len()
                    ));
                }
                let mut count = 1usize;
                for dim in tail[..shape_bytes].chunks_exact(dim_size) {
                    let mut le = [0u8; 8];
                    le[..dim_size].copy_from_slice(dim);
                    let dim = usize::try_from(u64::from_le_bytes(le))
                        .map_err(|_| "ndarray dimension too large".to_string())?;
                    count = count.checked_mul(dim).ok_or("ndarray shape overflows")?;
                }
                rest = &tail[shape_bytes..];
                count
            }
        };
        match count.checked_mul(size) {
            Some(n) if n == rest.len() => Ok((dtype, rest)),
            _ => Err(format!(
                "{} value bytes do not hold {count} elements of {size} bytes",
                rest.len()
            )),
        }
    }
}

/// Appends `bytes` (elements of float `dtype`) to `out` as f32.
pub(crate) fn push_floats(dtype: DType, bytes: &[u8], out: &mut Vec<f32>) {
    match dtype {
        DType::F32 => out.extend(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        ),
        DType::F64 => {
            out.extend(bytes.chunks_exact(8).map(|c| {
                f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
            }))
        }
        DType::F16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()),
        ),
        _ => out.extend(IntElements::new(dtype, bytes).map(|v| v as f32)),
    }
}

/// Iterates integer elements of `dtype` as i128 (wide enough for every signed and unsigned type).
pub(crate) struct IntElements<'a> {
    dtype: DType,
    chunks: std::slice::ChunksExact<'a, u8>,
}

impl<'a> IntElements<'a> {
    /// Elements of integer `dtype` in `bytes`.
    pub(crate) fn new(dtype: DType, bytes: &'a [u8]) -> Self {
        IntElements {
            dtype,
            chunks: bytes.chunks_exact(dtype_size(dtype)),
        }
    }
}

impl Iterator for IntElements<'_> {
    type Item = i128;

    fn next(&mut self) -> Option<i128> {
        let c = self.chunks.next()?;
        let mut le = [0u8; 8];
        le[..c.len()].copy_from_slice(c);
        let raw = u64::from_le_bytes(le);
        let bits = 8 * c.len() as u32;
        Some(match self.dtype {
            DType::U8 | DType::U16 | DType::U32 | DType::U64 => i128::from(raw),
            // Sign-extend from the element's width.
            _ => i128::from(((raw << (64 - bits)) as i64) >> (64 - bits)),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_shape_ndarray_as_mosaic_writes_it() {
        // ndim 1, uint8 shape [3], then three int64 values.
        let mut bytes = vec![0x04, 3];
        for v in [25798i64, -1, 7] {
            bytes.extend(v.to_le_bytes());
        }
        let n = Numeric::Array {
            dtype: Some(DType::I64),
            fixed_len: None,
        };
        let (d, values) = n.elements(&bytes).unwrap();
        assert_eq!(
            IntElements::new(d, values).collect::<Vec<_>>(),
            vec![25798, -1, 7]
        );
        let err = n.elements(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(err.contains("do not hold 3 elements"), "{err}");
    }

    #[test]
    fn dynamic_dtype_and_float_widths() {
        let mut bytes = vec![18u8]; // float16 code, fixed shape of 2
        bytes.extend(half::f16::from_f32(1.5).to_le_bytes());
        bytes.extend(half::f16::from_f32(-2.0).to_le_bytes());
        let n = Numeric::Array {
            dtype: None,
            fixed_len: Some(2),
        };
        let (d, values) = n.elements(&bytes).unwrap();
        let mut out = Vec::new();
        push_floats(d, values, &mut out);
        assert_eq!(out, vec![1.5, -2.0]);
        assert!(
            n.elements(&[200, 0, 0])
                .unwrap_err()
                .contains("dtype code 200")
        );
    }

    #[test]
    fn sign_extends_narrow_ints() {
        let v: Vec<i128> = IntElements::new(DType::I8, &[0xff, 0x01]).collect();
        assert_eq!(v, vec![-1, 1]);
        let v: Vec<i128> = IntElements::new(DType::U16, &[0xff, 0xff]).collect();
        assert_eq!(v, vec![65535]);
    }
}
