//! AVX-512 kernels of the narrow-layer products (see the parent module): the output row, or the
//! weight-gradient row, of at most 64 values lives in up to four registers, a block of
//! [`ROWS`] rows of them in sixteen, and the other operand is read straight from the caller's
//! row-major buffer: nothing is packed.

use super::Epilogue;
use std::arch::x86_64::{
    _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_max_ps, _mm512_set1_ps,
    _mm512_setzero_ps, _mm512_storeu_ps,
};

/// `f32` values in one register.
pub(super) const LANES: usize = 16;

/// Rows of a register block: with four registers per row, 16 accumulators, enough independent
/// chains to keep both FMA ports busy, and room left for the other operand.
const ROWS: usize = 4;

/// Rows of `x` and `dz` one weight-gradient pass walks per block of gradient rows: 64 rows
/// of each operand (32 KiB at width 64) stay in L1 while every block of rows reads them.
const TILE: usize = 64;

/// `out = epilogue(a · b)`: `a` is `[rows, k]`, `b` is `[k, n]`, `out` is `[rows, n]`, all
/// row-major, with `n` a multiple of 16 up to 64.
///
/// # Panics
/// When the buffers do not have those shapes.
#[target_feature(enable = "avx512f")]
pub(super) fn product(a: &[f32], k: usize, b: &[f32], n: usize, ep: Epilogue<'_>, out: &mut [f32]) {
    match n / LANES {
        1 => product_n::<1>(a, k, b, ep, out),
        2 => product_n::<2>(a, k, b, ep, out),
        3 => product_n::<3>(a, k, b, ep, out),
        4 => product_n::<4>(a, k, b, ep, out),
        _ => panic!("narrow product: output width {n} is not 16, 32, 48 or 64"),
    }
}

/// [`product`] for an output of `V` registers per row.
#[inline]
#[target_feature(enable = "avx512f")]
fn product_n<const V: usize>(a: &[f32], k: usize, b: &[f32], ep: Epilogue<'_>, out: &mut [f32]) {
    let n = V * LANES;
    let rows = out.len() / n;
    assert!(out.len() == rows * n && a.len() == rows * k && b.len() == k * n);
    assert!(ep.bias.is_none_or(|bias| bias.len() == n));
    let full = rows - rows % ROWS;
    for first in (0..full).step_by(ROWS) {
        // SAFETY: rows `first..first + ROWS` exist in `a` and `out` (asserted shapes above).
        unsafe { product_block::<ROWS, V>(a, k, b, ep, out, first) };
    }
    for first in full..rows {
        // SAFETY: as above, for one row.
        unsafe { product_block::<1, V>(a, k, b, ep, out, first) };
    }
}

/// Rows `first..first + R` of [`product`].
///
/// # Safety
/// `a` must hold `first + R` rows of `k` values, `out` as many of `V * 16`, `b` `k` rows of
/// `V * 16`, and the bias, if any, `V * 16` values.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn product_block<const R: usize, const V: usize>(
    a: &[f32],
    k: usize,
    b: &[f32],
    ep: Epilogue<'_>,
    out: &mut [f32],
    first: usize,
) {
    let n = V * LANES;
    let a = a[first * k..].as_ptr();
    let b = b.as_ptr();
    let mut acc = [[_mm512_setzero_ps(); V]; R];
    for p in 0..k {
        let mut bv = [_mm512_setzero_ps(); V];
        for (v, reg) in bv.iter_mut().enumerate() {
            // SAFETY: row `p < k` of `b` holds `V * 16` values.
            *reg = unsafe { _mm512_loadu_ps(b.add(p * n + v * LANES)) };
        }
        for (r, row) in acc.iter_mut().enumerate() {
            // SAFETY: row `first + r` of `a` holds `k` values.
            let x = _mm512_set1_ps(unsafe { *a.add(r * k + p) });
            for (reg, bv) in row.iter_mut().zip(&bv) {
                *reg = _mm512_fmadd_ps(x, *bv, *reg);
            }
        }
    }
    let dst = out[first * n..(first + R) * n].as_mut_ptr();
    for (r, row) in acc.iter().enumerate() {
        for (v, &sum) in row.iter().enumerate() {
            let mut y = sum;
            if let Some(bias) = ep.bias {
                // SAFETY: the bias holds `V * 16` values.
                y = _mm512_add_ps(y, unsafe { _mm512_loadu_ps(bias.as_ptr().add(v * LANES)) });
            }
            if ep.relu {
                y = _mm512_max_ps(y, _mm512_setzero_ps());
            }
            // SAFETY: `dst` spans rows `first..first + R` of `out`, `n` values each.
            unsafe { _mm512_storeu_ps(dst.add(r * n + v * LANES), y) };
        }
    }
}

/// `out = dzᵀ · x`: `dz` is `[rows, m]`, `x` is `[rows, n]`, `out` is `[m, n]`, all
/// row-major, with `m` a multiple of 4 and `n` a multiple of 16 up to 64. Rows are summed in
/// order.
///
/// # Panics
/// When the buffers do not have those shapes.
#[target_feature(enable = "avx512f")]
pub(super) fn weight_grad(dz: &[f32], m: usize, x: &[f32], n: usize, out: &mut [f32]) {
    match n / LANES {
        1 => weight_grad_n::<1>(dz, m, x, out),
        2 => weight_grad_n::<2>(dz, m, x, out),
        3 => weight_grad_n::<3>(dz, m, x, out),
        4 => weight_grad_n::<4>(dz, m, x, out),
        _ => panic!("narrow weight gradient: input width {n} is not 16, 32, 48 or 64"),
    }
}

/// [`weight_grad`] for rows of `V` registers.
#[inline]
#[target_feature(enable = "avx512f")]
fn weight_grad_n<const V: usize>(dz: &[f32], m: usize, x: &[f32], out: &mut [f32]) {
    let n = V * LANES;
    let rows = x.len() / n;
    assert!(x.len() == rows * n && dz.len() == rows * m && out.len() == m * n);
    assert!(m.is_multiple_of(ROWS));
    out.fill(0.0);
    for start in (0..rows).step_by(TILE) {
        let end = (start + TILE).min(rows);
        for o in (0..m).step_by(ROWS) {
            // SAFETY: rows `start..end` exist in `dz` and `x`, columns `o..o + ROWS` in `dz`
            // and rows `o..o + ROWS` in `out` (asserted shapes above).
            unsafe { weight_grad_block::<V>(dz, m, x, out, o, start..end) };
        }
    }
}

/// Adds the rows `rows` of `dzᵀ · x` to gradient rows `o..o + 4` of [`weight_grad`].
///
/// # Safety
/// `dz` must hold `rows.end` rows of `m` values with `o + 4 <= m`, `x` as many rows of
/// `V * 16`, and `out` `m` rows of `V * 16`.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn weight_grad_block<const V: usize>(
    dz: &[f32],
    m: usize,
    x: &[f32],
    out: &mut [f32],
    o: usize,
    rows: std::ops::Range<usize>,
) {
    let n = V * LANES;
    let dst = out[o * n..(o + ROWS) * n].as_mut_ptr();
    let mut acc = [[_mm512_setzero_ps(); V]; ROWS];
    for (r, row) in acc.iter_mut().enumerate() {
        for (v, reg) in row.iter_mut().enumerate() {
            // SAFETY: `dst` spans gradient rows `o..o + ROWS`.
            *reg = unsafe { _mm512_loadu_ps(dst.add(r * n + v * LANES)) };
        }
    }
    let (dz, x) = (dz.as_ptr(), x.as_ptr());
    for i in rows {
        let mut xv = [_mm512_setzero_ps(); V];
        for (v, reg) in xv.iter_mut().enumerate() {
            // SAFETY: row `i` of `x` holds `V * 16` values.
            *reg = unsafe { _mm512_loadu_ps(x.add(i * n + v * LANES)) };
        }
        for (r, row) in acc.iter_mut().enumerate() {
            // SAFETY: row `i` of `dz` holds `m > o + r` values.
            let g = _mm512_set1_ps(unsafe { *dz.add(i * m + o + r) });
            for (reg, xv) in row.iter_mut().zip(&xv) {
                *reg = _mm512_fmadd_ps(g, *xv, *reg);
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (v, &sum) in row.iter().enumerate() {
            // SAFETY: as for the loads above.
            unsafe { _mm512_storeu_ps(dst.add(r * n + v * LANES), sum) };
        }
    }
}
