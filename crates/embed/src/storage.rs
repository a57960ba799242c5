//! Row storage in f32, f16, or int8 with a per-row scale and bias.
//!
//! Lower precision halves or quarters a table's memory. Lookups dequantise on the fly; updates
//! dequantise a row to f32, change it, and quantise it back, so arithmetic is always f32. The
//! int8 scheme is FBGEMM's row-wise one: each row keeps `scale = (max - min) / 255` and
//! `bias = min`, and value `x` is stored as `round((x - min) / scale)`, so the rounding error of
//! any element is at most `scale / 2`. An f16 element has a relative rounding error of at most
//! 2^-11; an update smaller than half a unit in the last place of an f16 value is lost to
//! rounding (there is no stochastic rounding).

use std::io::{self, Read, Write};

use crate::pages;
use half::f16;
use half::slice::HalfFloatSliceExt;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// How a table's rows are held in memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    /// Four bytes per element, exact.
    #[default]
    F32,
    /// Two bytes per element, IEEE half precision.
    F16,
    /// One byte per element plus an f32 scale and an f32 bias per row.
    Int8,
}

impl Storage {
    /// Bytes that `rows` rows of `dim` elements occupy in this format.
    pub fn bytes(self, rows: u64, dim: usize) -> u64 {
        let dim = dim as u64;
        match self {
            Storage::F32 => rows * dim * 4,
            Storage::F16 => rows * dim * 2,
            Storage::Int8 => rows * (dim + 8),
        }
    }

    /// The tag that checkpoints record.
    pub(crate) fn tag(self) -> u8 {
        match self {
            Storage::F32 => 0,
            Storage::F16 => 1,
            Storage::Int8 => 2,
        }
    }

    /// The format a checkpoint tag names, if any.
    pub(crate) fn from_tag(tag: u8) -> Option<Self> {
        [Storage::F32, Storage::F16, Storage::Int8]
            .into_iter()
            .find(|s| s.tag() == tag)
    }
}

/// The rows of one table in one of the [`Storage`] formats.
#[derive(Debug, Clone)]
pub(crate) enum RowStore {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Int8 {
        codes: Vec<u8>,
        qparams: Vec<[f32; 2]>,
    },
}

/// Rows handed to one rayon task when filling a table.
const FILL_ROWS_PER_TASK: usize = 1024;

impl RowStore {
    /// Builds `rows` rows of `dim` elements, each filled by `fill(row, values)`, in parallel.
    pub(crate) fn build(
        storage: Storage,
        rows: usize,
        dim: usize,
        fill: impl Fn(usize, &mut [f32]) + Sync,
    ) -> Self {
        match storage {
            Storage::F32 => {
                let mut data = pages::filled(rows * dim, 0.0f32);
                data.par_chunks_mut(dim)
                    .with_min_len(FILL_ROWS_PER_TASK)
                    .enumerate()
                    .for_each(|(r, row)| fill(r, row));
                RowStore::F32(data)
            }
            Storage::F16 => {
                let mut data = pages::filled(rows * dim, f16::ZERO);
                data.par_chunks_mut(dim)
                    .with_min_len(FILL_ROWS_PER_TASK)
                    .enumerate()
                    .for_each_init(
                        || vec![0.0f32; dim],
                        |buf, (r, row)| {
                            fill(r, buf);
                            row.convert_from_f32_slice(buf);
                        },
                    );
                RowStore::F16(data)
            }
            Storage::Int8 => {
                let mut codes = pages::filled(rows * dim, 0u8);
                let mut qparams = vec![[0.0f32; 2]; rows];
                codes
                    .par_chunks_mut(dim)
                    .zip(qparams.par_iter_mut())
                    .with_min_len(FILL_ROWS_PER_TASK)
                    .enumerate()
                    .for_each_init(
                        || vec![0.0f32; dim],
                        |buf, (r, (row, q))| {
                            fill(r, buf);
                            *q = quantise(buf, row);
                        },
                    );
                RowStore::Int8 { codes, qparams }
            }
        }
    }

    /// Copies row `row` (dequantised) into `out`, which holds exactly `dim` values.
    #[inline]
    pub(crate) fn read(&self, row: usize, out: &mut [f32]) {
        let dim = out.len();
        let span = row * dim..(row + 1) * dim;
        match self {
            RowStore::F32(d) => out.copy_from_slice(&d[span]),
            RowStore::F16(d) => d[span].convert_to_f32_slice(out),
            RowStore::Int8 { codes, qparams } => {
                let [scale, bias] = qparams[row];
                for (o, &c) in out.iter_mut().zip(&codes[span]) {
                    *o = f32::from(c) * scale + bias;
                }
            }
        }
    }

    /// Overwrites row `row` with `values` (quantising them as the format requires).
    pub(crate) fn write(&mut self, row: usize, values: &[f32]) {
        let dim = values.len();
        let span = row * dim..(row + 1) * dim;
        match self {
            RowStore::F32(d) => d[span].copy_from_slice(values),
            RowStore::F16(d) => d[span].convert_from_f32_slice(values),
            RowStore::Int8 { codes, qparams } => {
                qparams[row] = quantise(values, &mut codes[span]);
            }
        }
    }

    /// Adds `weight` times row `row` to `acc` (`dim` values); `scratch` holds `dim` values for
    /// the formats that must dequantise first.
    #[inline]
    pub(crate) fn accumulate(&self, row: usize, weight: f32, acc: &mut [f32], scratch: &mut [f32]) {
        let dim = acc.len();
        let span = row * dim..(row + 1) * dim;
        match self {
            RowStore::F32(d) => axpy(weight, &d[span], acc),
            RowStore::F16(d) => {
                d[span].convert_to_f32_slice(scratch);
                axpy(weight, scratch, acc);
            }
            RowStore::Int8 { codes, qparams } => {
                let [scale, bias] = qparams[row];
                let (ws, wb) = (weight * scale, weight * bias);
                for (a, &c) in acc.iter_mut().zip(&codes[span]) {
                    *a += f32::from(c) * ws + wb;
                }
            }
        }
    }

    /// Runs `update` on row `row` as f32 values: in place for f32 storage, otherwise on a
    /// dequantised copy in `scratch` (`dim` values) that is quantised back afterwards.
    #[inline]
    pub(crate) fn update(
        &mut self,
        row: usize,
        scratch: &mut [f32],
        update: impl FnOnce(&mut [f32]),
    ) {
        let dim = scratch.len();
        if let RowStore::F32(d) = self {
            update(&mut d[row * dim..(row + 1) * dim]);
        } else {
            self.read(row, scratch);
            update(scratch);
            self.write(row, scratch);
        }
    }

    /// Asks the CPU to start fetching row `row` of a `dim`-wide table into cache, so that a
    /// later access finds it there; lookups and updates touch rows in an order no hardware
    /// prefetcher can predict. A hint only: it never faults and has no visible effect.
    #[inline]
    pub(crate) fn prefetch(&self, row: usize, dim: usize) {
        match self {
            RowStore::F32(d) => prefetch_span(&d[row * dim..(row + 1) * dim]),
            RowStore::F16(d) => prefetch_span(&d[row * dim..(row + 1) * dim]),
            RowStore::Int8 { codes, qparams } => {
                prefetch_span(&codes[row * dim..(row + 1) * dim]);
                prefetch_span(&qparams[row..row + 1]);
            }
        }
    }

    /// Copies `count` rows from row `from` of `source` (the same format and dim) to row `to`,
    /// exactly as encoded. A different format copies nothing; callers check formats first.
    pub(crate) fn copy_rows(
        &mut self,
        to: usize,
        source: &RowStore,
        from: usize,
        count: usize,
        dim: usize,
    ) {
        let (dst, src) = (
            to * dim..(to + count) * dim,
            from * dim..(from + count) * dim,
        );
        match (self, source) {
            (RowStore::F32(d), RowStore::F32(s)) => d[dst].copy_from_slice(&s[src]),
            (RowStore::F16(d), RowStore::F16(s)) => d[dst].copy_from_slice(&s[src]),
            (
                RowStore::Int8 { codes, qparams },
                RowStore::Int8 {
                    codes: source_codes,
                    qparams: source_qparams,
                },
            ) => {
                codes[dst].copy_from_slice(&source_codes[src]);
                qparams[to..to + count].copy_from_slice(&source_qparams[from..from + count]);
            }
            _ => {}
        }
    }

    /// Writes the rows in the checkpoint encoding (little-endian, row-major; int8 codes first,
    /// then the per-row scale and bias pairs).
    pub(crate) fn save(&self, w: &mut impl Write) -> io::Result<()> {
        match self {
            RowStore::F32(d) => write_f32s(w, d),
            RowStore::F16(d) => write_chunked(w, d, |x| x.to_bits().to_le_bytes()),
            RowStore::Int8 { codes, qparams } => {
                w.write_all(codes)?;
                write_f32s(w, qparams.as_flattened())
            }
        }
    }

    /// Replaces the rows with ones read in the encoding [`save`](Self::save) writes.
    pub(crate) fn load(&mut self, r: &mut impl Read) -> io::Result<()> {
        match self {
            RowStore::F32(d) => read_f32s(r, d),
            RowStore::F16(d) => {
                read_chunked(r, d, |b: [u8; 2]| f16::from_bits(u16::from_le_bytes(b)))
            }
            RowStore::Int8 { codes, qparams } => {
                r.read_exact(codes)?;
                read_f32s(r, qparams.as_flattened_mut())
            }
        }
    }
}

/// `acc += weight * x`, written so the compiler vectorises it.
#[inline]
pub(crate) fn axpy(weight: f32, x: &[f32], acc: &mut [f32]) {
    for (a, &v) in acc.iter_mut().zip(x) {
        *a += weight * v;
    }
}

/// Prefetches every cache line of `span` (see [`RowStore::prefetch`]).
#[inline]
pub(crate) fn prefetch_span<T>(span: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        /// Bytes per cache line on x86_64 CPUs.
        const CACHE_LINE: usize = 64;
        let start = span.as_ptr().cast::<i8>();
        for offset in (0..std::mem::size_of_val(span)).step_by(CACHE_LINE) {
            // SAFETY: SSE is part of the x86_64 baseline, so the instruction exists, and a
            // prefetch never faults or changes memory; the address lies inside `span` anyway.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    start.wrapping_add(offset),
                );
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = span;
}

/// Quantises `values` into `codes` and returns the row's `[scale, bias]`.
fn quantise(values: &[f32], codes: &mut [u8]) -> [f32; 2] {
    let (min, max) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let range = max - min;
    if !(range > 0.0 && range.is_finite()) {
        // A constant row (or one with non-finite values): every element decodes to `min`.
        codes.fill(0);
        return [0.0, if min.is_finite() { min } else { 0.0 }];
    }
    let scale = range / 255.0;
    for (c, &v) in codes.iter_mut().zip(values) {
        *c = ((v - min) / scale).round().clamp(0.0, 255.0) as u8;
    }
    [scale, min]
}

/// Values encoded per buffered write or read in the checkpoint helpers.
const IO_CHUNK: usize = 16 * 1024;

/// Writes f32 values little-endian.
pub(crate) fn write_f32s(w: &mut impl Write, values: &[f32]) -> io::Result<()> {
    write_chunked(w, values, |x| x.to_le_bytes())
}

/// Fills `values` from little-endian f32s.
pub(crate) fn read_f32s(r: &mut impl Read, values: &mut [f32]) -> io::Result<()> {
    read_chunked(r, values, f32::from_le_bytes)
}

fn write_chunked<T: Copy, const N: usize>(
    w: &mut impl Write,
    values: &[T],
    encode: impl Fn(T) -> [u8; N],
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(IO_CHUNK * N);
    for chunk in values.chunks(IO_CHUNK) {
        buf.clear();
        buf.extend(chunk.iter().flat_map(|&v| encode(v)));
        w.write_all(&buf)?;
    }
    Ok(())
}

fn read_chunked<T, const N: usize>(
    r: &mut impl Read,
    values: &mut [T],
    decode: impl Fn([u8; N]) -> T,
) -> io::Result<()> {
    let mut buf = vec![0u8; IO_CHUNK * N];
    for chunk in values.chunks_mut(IO_CHUNK) {
        let bytes = &mut buf[..chunk.len() * N];
        r.read_exact(bytes)?;
        for (v, b) in chunk.iter_mut().zip(bytes.chunks_exact(N)) {
            let mut a = [0u8; N];
            a.copy_from_slice(b);
            *v = decode(a);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_row(r: usize, out: &mut [f32]) {
        for (d, o) in out.iter_mut().enumerate() {
            *o = ((r * 31 + d * 17) % 97) as f32 / 97.0 - 0.5 + (d as f32) * 1e-3;
        }
    }

    #[test]
    fn f16_round_trip_is_within_half_an_ulp() {
        let (rows, dim) = (50, 13);
        let store = RowStore::build(Storage::F16, rows, dim, sample_row);
        let (mut want, mut got) = (vec![0.0; dim], vec![0.0; dim]);
        for r in 0..rows {
            sample_row(r, &mut want);
            store.read(r, &mut got);
            for (w, g) in want.iter().zip(&got) {
                assert!(
                    (w - g).abs() <= w.abs() * 2f32.powi(-11) + 1e-7,
                    "{w} vs {g}"
                );
            }
        }
    }

    #[test]
    fn int8_round_trip_is_within_half_a_step() {
        let (rows, dim) = (50, 13);
        let store = RowStore::build(Storage::Int8, rows, dim, sample_row);
        let RowStore::Int8 { qparams, .. } = &store else {
            unreachable!()
        };
        let (mut want, mut got) = (vec![0.0; dim], vec![0.0; dim]);
        for (r, &[scale, _]) in qparams.iter().enumerate() {
            sample_row(r, &mut want);
            store.read(r, &mut got);
            let range = want.iter().cloned().fold(f32::MIN, f32::max)
                - want.iter().cloned().fold(f32::MAX, f32::min);
            assert!((scale - range / 255.0).abs() < 1e-6);
            for (w, g) in want.iter().zip(&got) {
                assert!(
                    (w - g).abs() <= scale * 0.5 + 1e-6,
                    "{w} vs {g}, scale {scale}"
                );
            }
        }
        // A constant row decodes exactly.
        let mut store = store;
        store.write(3, &[0.25; 13]);
        store.read(3, &mut got);
        assert_eq!(got, vec![0.25; 13]);
    }

    #[test]
    fn accumulate_matches_read_then_axpy() {
        for storage in [Storage::F32, Storage::F16, Storage::Int8] {
            let store = RowStore::build(storage, 4, 5, sample_row);
            let (mut row, mut acc, mut scratch) = (vec![0.0; 5], vec![1.0; 5], vec![0.0; 5]);
            store.read(2, &mut row);
            store.accumulate(2, 0.5, &mut acc, &mut scratch);
            for (a, r) in acc.iter().zip(&row) {
                assert!((a - (1.0 + 0.5 * r)).abs() < 1e-6, "{storage:?}");
            }
        }
    }

    #[test]
    fn save_load_round_trips_every_format() {
        for storage in [Storage::F32, Storage::F16, Storage::Int8] {
            let store = RowStore::build(storage, 7, 3, sample_row);
            let mut bytes = Vec::new();
            store.save(&mut bytes).unwrap();
            assert_eq!(bytes.len() as u64, storage.bytes(7, 3));
            let mut other = RowStore::build(storage, 7, 3, |_, o| o.fill(0.0));
            other.load(&mut bytes.as_slice()).unwrap();
            let (mut a, mut b) = (vec![0.0; 3], vec![0.0; 3]);
            for r in 0..7 {
                store.read(r, &mut a);
                other.read(r, &mut b);
                assert_eq!(a, b, "{storage:?}");
            }
            assert!(other.load(&mut &bytes[..bytes.len() - 1]).is_err());
        }
    }
}
