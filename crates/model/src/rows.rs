//! Row-wise concatenation and splitting of batch-major matrices.
//!
//! The interaction layers see one row per example holding several feature vectors side by
//! side (the dense MLP output, then every pooled embedding). These helpers build such rows
//! from separate matrices and split a gradient of them back, in parallel over fixed blocks
//! of rows, into buffers that are reused from step to step.

use cascade_nn::{MatRef, Matrix};
use rayon::prelude::*;

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 64;

/// Sets `out` to `[a | b]`, row by row; `a` and `b` must have the same number of rows.
pub(crate) fn concat(out: &mut Matrix, a: MatRef<'_>, b: MatRef<'_>) {
    let (rows, ca, cb) = (a.rows(), a.cols(), b.cols());
    let width = ca + cb;
    out.resize(rows, width);
    let (sa, sb) = (a.as_slice(), b.as_slice());
    out.as_mut_slice()
        .par_chunks_mut(width * ROWS_PER_TASK)
        .enumerate()
        .for_each(|(task, chunk)| {
            for (i, row) in chunk.chunks_exact_mut(width).enumerate() {
                let r = task * ROWS_PER_TASK + i;
                row[..ca].copy_from_slice(&sa[r * ca..(r + 1) * ca]);
                row[ca..].copy_from_slice(&sb[r * cb..(r + 1) * cb]);
            }
        });
}

/// Splits every row of `src` after `first` columns: the left parts into `left`, the rest
/// into `right`. Both parts must be at least one column wide.
pub(crate) fn split(src: MatRef<'_>, first: usize, left: &mut Matrix, right: &mut Matrix) {
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
            let first_row = task * ROWS_PER_TASK;
            let n = l.len() / first;
            for i in 0..n {
                let row = &s[(first_row + i) * width..(first_row + i + 1) * width];
                l[i * first..(i + 1) * first].copy_from_slice(&row[..first]);
                r[i * rest..(i + 1) * rest].copy_from_slice(&row[first..]);
            }
        });
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
        concat(&mut ab, a.view(), b.view());
        assert_eq!(ab.view().row(1), &[2.0, 3.0, -3.0, -4.0, -5.0]);
        let (mut l, mut r) = (Matrix::default(), Matrix::default());
        split(ab.view(), 2, &mut l, &mut r);
        assert_eq!((l, r), (a, b));
    }
}
