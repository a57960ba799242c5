//! Batch rows made of two matrices side by side, and split back.
//!
//! Interaction and cross layers see one row per example holding several feature vectors side
//! by side (the dense MLP output, then every pooled embedding), while the model keeps the
//! parts in matrices of their own. [`concat_rows`] and [`split_rows`] build such rows and split
//! a gradient of them back for a whole batch, in parallel over fixed blocks of rows, into
//! buffers reused from step to step; [`join`] and [`part`] are the per-block loops, which the
//! DLRM interaction also runs on the blocks it keeps in cache.

use crate::tensor::{MatRef, Matrix};
use rayon::prelude::*;

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 64;

/// Sets `out` to `[a | b]`, row by row; `a` and `b` must have the same number of rows.
pub fn concat_rows(out: &mut Matrix, a: MatRef<'_>, b: MatRef<'_>) {
    let (rows, ca, cb) = (a.rows(), a.cols(), b.cols());
    let width = ca + cb;
    out.resize(rows, width);
    let (sa, sb) = (a.as_slice(), b.as_slice());
    out.as_mut_slice()
        .par_chunks_mut(width * ROWS_PER_TASK)
        .enumerate()
        .for_each(|(task, chunk)| {
            let first = task * ROWS_PER_TASK;
            join(chunk, width, &sa[first * ca..], ca, &sb[first * cb..]);
        });
}

/// Splits every row of `src` after `first` columns: the left parts into `left`, the rest
/// into `right`. Both parts must be at least one column wide.
pub fn split_rows(src: MatRef<'_>, first: usize, left: &mut Matrix, right: &mut Matrix) {
    let (rows, width) = src.dims();
    let rest = width - first;
    left.resize(rows, first);
    right.resize(rows, rest);
    let s = src.as_slice();
    left.as_mut_slice()
        .par_chunks_mut(first * ROWS_PER_TASK)
        .zip(right.as_mut_slice().par_chunks_mut(rest * ROWS_PER_TASK))
        .enumerate()
        .for_each(|(task, (l, r))| {
            part(&s[task * ROWS_PER_TASK * width..], width, l, first, r);
        });
}

/// Writes the rows `[left_i | right_i]` of `width` values into `out`, as many as it holds:
/// `left` holds rows of `left_cols` values from its start, `right` the matching rows of the
/// remaining `width - left_cols`.
pub(crate) fn join(out: &mut [f32], width: usize, left: &[f32], left_cols: usize, right: &[f32]) {
    let right_cols = width - left_cols;
    for (i, row) in out.chunks_exact_mut(width).enumerate() {
        row[..left_cols].copy_from_slice(&left[i * left_cols..(i + 1) * left_cols]);
        row[left_cols..].copy_from_slice(&right[i * right_cols..(i + 1) * right_cols]);
    }
}

/// Splits rows of `width` values of `rows` after `left_cols` values into the matching rows of
/// `left` and `right` (the remaining `width - left_cols`), as many rows as `left` holds.
pub(crate) fn part(
    rows: &[f32],
    width: usize,
    left: &mut [f32],
    left_cols: usize,
    right: &mut [f32],
) {
    let right_cols = width - left_cols;
    let pieces = left
        .chunks_exact_mut(left_cols)
        .zip(right.chunks_exact_mut(right_cols));
    for (row, (l, r)) in rows.chunks_exact(width).zip(pieces) {
        l.copy_from_slice(&row[..left_cols]);
        r.copy_from_slice(&row[left_cols..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_then_split_round_trips() {
        let rows = 150;
        let a = Matrix::from_vec(rows, 2, (0..rows * 2).map(|v| v as f32).collect()).unwrap();
        let b = Matrix::from_vec(rows, 3, (0..rows * 3).map(|v| -(v as f32)).collect()).unwrap();
        let mut ab = Matrix::default();
        concat_rows(&mut ab, a.view(), b.view());
        assert_eq!(ab.view().row(1), &[2.0, 3.0, -3.0, -4.0, -5.0]);
        let (mut l, mut r) = (Matrix::default(), Matrix::default());
        split_rows(ab.view(), 2, &mut l, &mut r);
        assert_eq!((l, r), (a, b));
    }
}
