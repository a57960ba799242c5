//! NumPy `.npy` files holding one 2-D little-endian matrix: the exchange format for embeddings
//! and benchmark data between Cascade and Python (`numpy.load` reads what this writes, and
//! `numpy.save` of a C-ordered float32 or int32 matrix reads back here).

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

use crate::atomic;
use crate::error::{Result, RetrieveError};

/// The `.npy` magic string.
const MAGIC: &[u8] = b"\x93NUMPY";

/// Headers are padded so the data starts on this alignment, as NumPy does.
const ALIGN: usize = 64;

/// A 4-byte element type that `.npy` files can hold.
pub trait NpyElement: Copy + Default {
    /// The NumPy type descriptor (`<f4`, `<i4`).
    const DESCR: &'static str;
    /// Encodes one value little-endian.
    fn to_le(self) -> [u8; 4];
    /// Decodes one little-endian value.
    fn from_le(bytes: [u8; 4]) -> Self;
}

impl NpyElement for f32 {
    const DESCR: &'static str = "<f4";
    fn to_le(self) -> [u8; 4] {
        self.to_le_bytes()
    }
    fn from_le(bytes: [u8; 4]) -> Self {
        f32::from_le_bytes(bytes)
    }
}

impl NpyElement for i32 {
    const DESCR: &'static str = "<i4";
    fn to_le(self) -> [u8; 4] {
        self.to_le_bytes()
    }
    fn from_le(bytes: [u8; 4]) -> Self {
        i32::from_le_bytes(bytes)
    }
}

/// Writes `values` as a `shape[0] × shape[1]` C-ordered matrix to `path`, atomically.
pub fn write<T: NpyElement>(path: &Path, shape: [usize; 2], values: &[T]) -> Result<()> {
    if shape[0].checked_mul(shape[1]) != Some(values.len()) {
        return Err(RetrieveError::shape(
            path.display().to_string(),
            format!(
                "shape ({}, {}) does not hold {} values",
                shape[0],
                shape[1],
                values.len()
            ),
        ));
    }
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': ({}, {}), }}",
        T::DESCR,
        shape[0],
        shape[1]
    );
    let unpadded = MAGIC.len() + 2 + 2 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(ALIGN) - unpadded));
    header.push('\n');
    let header_len = u16::try_from(header.len())
        .map_err(|_| RetrieveError::shape(path.display().to_string(), "npy header too long"))?;
    atomic::write_with(path, |out| {
        out.write_all(MAGIC)?;
        out.write_all(&[1, 0])?;
        out.write_all(&header_len.to_le_bytes())?;
        out.write_all(header.as_bytes())?;
        let mut bytes = Vec::with_capacity(64 * 1024);
        for chunk in values.chunks(16 * 1024) {
            bytes.clear();
            chunk
                .iter()
                .for_each(|v| bytes.extend_from_slice(&v.to_le()));
            out.write_all(&bytes)?;
        }
        Ok(())
    })
}

/// Reads a 2-D C-ordered matrix of `T` from `path`: `(rows, cols, values)`.
pub fn read<T: NpyElement>(path: &Path) -> Result<(usize, usize, Vec<T>)> {
    let file = File::open(path).map_err(|err| RetrieveError::io(path, err))?;
    let file_len = file
        .metadata()
        .map_err(|err| RetrieveError::io(path, err))?
        .len();
    let mut input = BufReader::new(file);
    let io = |err| RetrieveError::io(path, err);
    let mut preamble = [0u8; 8];
    input.read_exact(&mut preamble).map_err(io)?;
    if &preamble[..6] != MAGIC {
        return Err(RetrieveError::bad_file(
            path,
            "not an .npy file (bad magic)",
        ));
    }
    let header_len = match preamble[6] {
        1 => {
            let mut len = [0u8; 2];
            input.read_exact(&mut len).map_err(io)?;
            u16::from_le_bytes(len) as usize
        }
        2 | 3 => {
            let mut len = [0u8; 4];
            input.read_exact(&mut len).map_err(io)?;
            u32::from_le_bytes(len) as usize
        }
        major => {
            return Err(RetrieveError::bad_file(
                path,
                format!("unsupported .npy version {major}"),
            ));
        }
    };
    let prefix_len = if preamble[6] == 1 { 10 } else { 12 };
    if (prefix_len + header_len) as u64 > file_len {
        return Err(RetrieveError::bad_file(
            path,
            "header runs past the end of the file",
        ));
    }
    let mut header = vec![0u8; header_len];
    input.read_exact(&mut header).map_err(io)?;
    let header = String::from_utf8_lossy(&header);
    let (rows, cols) =
        parse_header::<T>(&header).map_err(|reason| RetrieveError::bad_file(path, reason))?;
    let count = rows
        .checked_mul(cols)
        .ok_or_else(|| RetrieveError::bad_file(path, "shape overflows"))?;
    let data_len = file_len - (prefix_len + header_len) as u64;
    if data_len != count as u64 * 4 {
        return Err(RetrieveError::bad_file(
            path,
            format!(
                "shape ({rows}, {cols}) needs {} data bytes but the file has {data_len}",
                count as u64 * 4
            ),
        ));
    }
    let mut values = Vec::with_capacity(count);
    let mut bytes = vec![0u8; 64 * 1024];
    while values.len() < count {
        let take = ((count - values.len()) * 4).min(bytes.len());
        input.read_exact(&mut bytes[..take]).map_err(io)?;
        values.extend(
            bytes[..take]
                .chunks_exact(4)
                .map(|b| T::from_le([b[0], b[1], b[2], b[3]])),
        );
    }
    Ok((rows, cols, values))
}

/// Extracts `(rows, cols)` from a header dictionary after checking type and order.
fn parse_header<T: NpyElement>(header: &str) -> std::result::Result<(usize, usize), String> {
    let descr = value_after(header, "'descr':").ok_or("header has no 'descr'")?;
    let descr = descr.trim_start().trim_start_matches('\'');
    if !descr.starts_with(T::DESCR) {
        return Err(format!(
            "element type is {}, expected '{}'",
            descr.split('\'').next().unwrap_or(descr),
            T::DESCR
        ));
    }
    let order = value_after(header, "'fortran_order':").ok_or("header has no 'fortran_order'")?;
    if !order.trim_start().starts_with("False") {
        return Err("Fortran-ordered arrays are not supported; save a C-ordered array".into());
    }
    let shape = value_after(header, "'shape':").ok_or("header has no 'shape'")?;
    let inside = shape
        .trim_start()
        .strip_prefix('(')
        .and_then(|rest| rest.split(')').next())
        .ok_or("malformed 'shape'")?;
    let dims: Vec<&str> = inside
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    match dims.as_slice() {
        [rows, cols] => {
            let parse = |s: &str| {
                s.parse::<usize>()
                    .map_err(|_| format!("malformed shape entry {s:?}"))
            };
            Ok((parse(rows)?, parse(cols)?))
        }
        _ => Err(format!("expected a 2-D array, found shape ({inside})")),
    }
}

/// The text following `key` in the header.
fn value_after<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    header.find(key).map(|at| &header[at + key.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_both_types_with_aligned_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.npy");
        write(&path, [2, 3], &[1i32, -2, 3, 4, 5, 6]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!((bytes.len() - 24) % ALIGN, 0);
        assert_eq!(read::<i32>(&path).unwrap(), (2, 3, vec![1, -2, 3, 4, 5, 6]));
        let err = read::<f32>(&path).unwrap_err().to_string();
        assert!(err.contains("m.npy") && err.contains("<i4"), "{err}");
        write(&path, [0, 4], &[] as &[f32]).unwrap();
        assert_eq!(read::<f32>(&path).unwrap(), (0, 4, vec![]));
    }

    #[test]
    fn refuses_truncated_and_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.npy");
        write(&path, [2, 2], &[1.0f32, 2.0, 3.0, 4.0]).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.pop();
        std::fs::write(&path, &bytes).unwrap();
        let err = read::<f32>(&path).unwrap_err().to_string();
        assert!(err.contains("t.npy") && err.contains("data bytes"), "{err}");
        std::fs::write(&path, b"hello world").unwrap();
        let err = read::<f32>(&path).unwrap_err().to_string();
        assert!(err.contains("bad magic"), "{err}");
        assert!(write(&path, [3, 3], &[1.0f32]).is_err());
    }

    #[test]
    fn header_parsing() {
        assert_eq!(
            parse_header::<f32>("{'descr': '<f4', 'fortran_order': False, 'shape': (7, 2), }"),
            Ok((7, 2))
        );
        assert!(
            parse_header::<f32>("{'descr': '<f4', 'fortran_order': True, 'shape': (7, 2), }")
                .is_err()
        );
        assert!(
            parse_header::<f32>("{'descr': '<f4', 'fortran_order': False, 'shape': (7,), }")
                .is_err()
        );
    }
}
